"""Batch data plane: compute nodes, pool node counts and node extensions (pools: `batch_pools`).

Served under `/batch/<account>`; the account's `accountEndpoint` points here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from azbatch_emulator import batch_pools
from azbatch_emulator.errors import BATCH_JSON_TYPE, ServiceError, dumps
from azbatch_emulator.nodes import extension_views, node_json, node_state
from azbatch_emulator.pools import Pool
from azbatch_emulator.store import Account

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator

PREFIX = "/batch/{account}"
NODE_STATES = (
    "creating",
    "deallocated",
    "deallocating",
    "idle",
    "leavingpool",
    "offline",
    "preempted",
    "rebooting",
    "reimaging",
    "running",
    "starting",
    "starttaskfailed",
    "unknown",
    "unusable",
    "waitingforstarttask",
    "upgradingos",
)
COUNT_KEYS = {
    "leavingpool": "leavingPool",
    "starttaskfailed": "startTaskFailed",
    "waitingforstarttask": "waitingForStartTask",
    "upgradingos": "upgradingOS",
}
_CLAUSE = re.compile(r"^\(?\s*(state|poolId)\s+(eq|ne)\s+'([^']*)'\s*\)?$", re.IGNORECASE)


def register(router: web.UrlDispatcher, emu: Emulator) -> None:
    api = DataPlaneApi(emu)
    batch_pools.register(router, emu)
    router.add_resource(PREFIX + "/nodecounts", name="batch.nodeCounts").add_route("GET", api.node_counts)
    router.add_resource(PREFIX + "/pools/{pool}/nodes", name="batch.nodes").add_route("GET", api.list_nodes)
    router.add_resource(PREFIX + "/pools/{pool}/nodes/{node}", name="batch.node").add_route(
        "GET", api.get_node
    )
    router.add_resource(
        PREFIX + "/pools/{pool}/nodes/{node}/extensions", name="batch.nodeExtensions"
    ).add_route("GET", api.list_extensions)
    router.add_resource(
        PREFIX + "/pools/{pool}/nodes/{node}/extensions/{extension}", name="batch.nodeExtension"
    ).add_route("GET", api.get_extension)


def batch_response(body: Any) -> web.Response:
    return web.Response(
        text=dumps(body), headers={"Content-Type": BATCH_JSON_TYPE, "DataServiceVersion": "3.0"}
    )


def parse_filter(text: str | None, field: str) -> list[tuple[bool, str]] | None:
    """`state eq 'idle' or state eq 'starting'` -> [(True, 'idle'), (True, 'starting')]; None when absent."""
    if not text:
        return None
    clauses = []
    for part in re.split(r"\s+or\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part.strip())
        if not match or match.group(1).lower() != field.lower():
            raise ServiceError(
                400,
                "InvalidQueryParameterValue",
                "Value for one of the query parameters specified in the request URI is invalid.",
                details=[
                    ("QueryParameterName", "$filter"),
                    ("QueryParameterValue", text),
                    ("Reason", f"supported: {field} eq '<value>' clauses joined by 'or' (also 'ne')."),
                ],
            )
        clauses.append((match.group(2).lower() == "eq", match.group(3)))
    return clauses


def passes(value: str, clauses: list[tuple[bool, str]] | None) -> bool:
    if clauses is None:
        return True
    return any((value.lower() == wanted.lower()) == equal for equal, wanted in clauses)


def page_size(request: web.Request, default: int) -> int:
    return batch_pools.page_size(request.query.get("maxresults"), default)


def select(body: dict[str, Any], request: web.Request) -> dict[str, Any]:
    fields = request.query.get("$select")
    if not fields:
        return body
    wanted = {f.strip() for f in fields.split(",")}
    return {k: v for k, v in body.items() if k in wanted}


class DataPlaneApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.store = emu.store

    def _account(self, request: web.Request) -> Account:
        return batch_pools.account_of(self.store, request)

    def _pool(self, request: web.Request, now: float) -> tuple[Account, Pool]:
        account = self._account(request)
        return account, self.store.pool(account, request.match_info["pool"], now)

    def _endpoint(self, account: Account) -> str:
        return f"https://{self.emu.account_endpoint(account.name)}"

    def _next_link(self, request: web.Request, token: str) -> str:
        query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
        query["$skiptoken"] = token
        encoded = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in query.items())
        return f"{self.emu.base_url}{request.path}?{encoded}"

    async def list_nodes(self, request: web.Request) -> web.Response:
        now = self.emu.clock.now()
        account, pool = self._pool(request, now)
        pool.prune(now)
        clauses = parse_filter(request.query.get("$filter"), "state")
        size = page_size(request, 1000)
        start = int(request.query.get("$skiptoken", "0") or 0)
        ctx = pool.node_context(self._endpoint(account))
        nodes = pool.present_nodes(now)
        if clauses is not None:
            nodes = [n for n in nodes if passes(node_state(n, ctx, now)[0], clauses)]
        page = nodes[start : start + size]
        body: dict[str, Any] = {
            "odata.metadata": f"{ctx.endpoint}/$metadata#nodes",
            "value": [select(node_json(n, ctx, now), request) for n in page],
        }
        if start + size < len(nodes):
            body["odata.nextLink"] = self._next_link(request, str(start + size))
        return batch_response(body)

    def _node(self, request: web.Request, now: float) -> tuple[Account, Pool, Any]:
        account, pool = self._pool(request, now)
        node_id = request.match_info["node"]
        for node in pool.present_nodes(now):
            if node.id == node_id:
                return account, pool, node
        raise ServiceError(404, "NodeNotFound", "The specified node does not exist.")

    async def get_node(self, request: web.Request) -> web.Response:
        now = self.emu.clock.now()
        account, pool, node = self._node(request, now)
        ctx = pool.node_context(self._endpoint(account))
        body = {"odata.metadata": f"{ctx.endpoint}/$metadata#nodes/@Element", **node_json(node, ctx, now)}
        return batch_response(select(body, request))

    async def list_extensions(self, request: web.Request) -> web.Response:
        now = self.emu.clock.now()
        account, pool, node = self._node(request, now)
        ctx = pool.node_context(self._endpoint(account))
        size = page_size(request, 1000)
        start = int(request.query.get("$skiptoken", "0") or 0)
        views = extension_views(node, ctx, now)
        body: dict[str, Any] = {
            "odata.metadata": f"{ctx.endpoint}/$metadata#extensions",
            "value": [select(v, request) for v in views[start : start + size]],
        }
        if start + size < len(views):
            body["odata.nextLink"] = self._next_link(request, str(start + size))
        return batch_response(body)

    async def get_extension(self, request: web.Request) -> web.Response:
        now = self.emu.clock.now()
        account, pool, node = self._node(request, now)
        ctx = pool.node_context(self._endpoint(account))
        wanted = request.match_info["extension"].lower()
        for view in extension_views(node, ctx, now):
            if str(view["vmExtension"].get("name", "")).lower() == wanted:
                body = {"odata.metadata": f"{ctx.endpoint}/$metadata#extensions/@Element", **view}
                return batch_response(select(body, request))
        raise ServiceError(
            404, "NodeExtensionNotFound", "The specified extension does not exist on the node."
        )

    async def node_counts(self, request: web.Request) -> web.Response:
        now = self.emu.clock.now()
        account = self._account(request)
        clauses = parse_filter(request.query.get("$filter"), "poolId")
        size = page_size(request, 10)
        pools = sorted(
            (p for p in self.store.list_pools(account, now) if passes(p.name, clauses)),
            key=lambda p: p.name.lower(),
        )
        start = int(request.query.get("$skiptoken", "0") or 0)
        endpoint = self._endpoint(account)
        body: dict[str, Any] = {
            "odata.metadata": f"{endpoint}/$metadata#poolnodecounts",
            "value": [self._counts(p, endpoint, now) for p in pools[start : start + size]],
        }
        if start + size < len(pools):
            body["odata.nextLink"] = self._next_link(request, str(start + size))
        return batch_response(body)

    @staticmethod
    def _counts(pool: Pool, endpoint: str, now: float) -> dict[str, Any]:
        ctx = pool.node_context(endpoint)
        buckets = {True: dict.fromkeys(NODE_STATES, 0), False: dict.fromkeys(NODE_STATES, 0)}
        for node in pool.present_nodes(now):
            buckets[node.dedicated][node_state(node, ctx, now)[0]] += 1

        def shaped(counts: dict[str, int]) -> dict[str, int]:
            out = {COUNT_KEYS.get(k, k): v for k, v in counts.items()}
            out["total"] = sum(counts.values())
            return out

        return {
            "poolId": pool.name,
            "dedicated": shaped(buckets[True]),
            "lowPriority": shaped(buckets[False]),
        }
