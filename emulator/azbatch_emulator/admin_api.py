"""The admin API (`/_admin/...`) for tests and benchmarks: faults, scripts, clock, counters, drift and
ARM's request throttle.

It needs no token (loopback only) and answers JSON; errors use the ARM error envelope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from azbatch_emulator.defaults import parse_echoed_default
from azbatch_emulator.errors import ServiceError
from azbatch_emulator.faults import management_writes, parse_fault
from azbatch_emulator.identity import DEFAULT_TOKEN_LIFETIME, MANAGEMENT_AUDIENCE
from azbatch_emulator.mgmt_api import json_response, read_json
from azbatch_emulator.nodes import node_state
from azbatch_emulator.pools import Pool, identity_json
from azbatch_emulator.scripts import parse_script
from azbatch_emulator.store import Account
from azbatch_emulator.throttle import KINDS, Limit

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator


def register(router: web.UrlDispatcher, emu: Emulator) -> None:
    api = AdminApi(emu)
    routes: list[tuple[str, str, str, Any]] = [
        ("/_admin/info", "admin.info", "GET", api.info),
        ("/_admin/reset", "admin.reset", "POST", api.reset),
        ("/_admin/faults", "admin.faults", "GET", api.list_faults),
        ("/_admin/faults", "admin.faults", "POST", api.add_fault),
        ("/_admin/faults", "admin.faults", "DELETE", api.clear_faults),
        ("/_admin/scripts", "admin.scripts", "GET", api.list_scripts),
        ("/_admin/scripts", "admin.scripts", "POST", api.add_script),
        ("/_admin/scripts", "admin.scripts", "DELETE", api.clear_scripts),
        ("/_admin/clock", "admin.clock", "GET", api.clock),
        ("/_admin/clock/advance", "admin.clock.advance", "POST", api.advance),
        ("/_admin/clock/pause", "admin.clock.pause", "POST", api.pause),
        ("/_admin/clock/resume", "admin.clock.resume", "POST", api.resume),
        ("/_admin/counters", "admin.counters", "GET", api.counters),
        ("/_admin/counters", "admin.counters", "DELETE", api.reset_counters),
        ("/_admin/arm-throttle", "admin.armThrottle", "GET", api.arm_throttle),
        ("/_admin/arm-throttle", "admin.armThrottle", "POST", api.set_arm_throttle),
        ("/_admin/accounts", "admin.accounts", "POST", api.add_account),
        ("/_admin/accounts/{account}", "admin.account", "PATCH", api.update_account),
        ("/_admin/pools/drift", "admin.pools.drift", "POST", api.drift),
        ("/_admin/pools/remove", "admin.pools.remove", "POST", api.remove),
        ("/_admin/pools/busy", "admin.pools.busy", "POST", api.busy),
        ("/_admin/pools/preempt", "admin.pools.preempt", "POST", api.preempt),
        ("/_admin/pools/nodes", "admin.pools.nodes", "GET", api.nodes),
        ("/_admin/tasks", "admin.tasks", "GET", api.tasks),
        ("/_admin/defaults", "admin.defaults", "GET", api.list_defaults),
        ("/_admin/defaults", "admin.defaults", "POST", api.add_default),
        ("/_admin/defaults", "admin.defaults", "DELETE", api.clear_defaults),
        ("/_admin/tokens", "admin.tokens", "POST", api.token),
        ("/_admin/federated-tokens", "admin.federatedTokens", "POST", api.federated_token),
    ]
    resources: dict[str, web.Resource] = {}
    for path, name, method, handler in routes:
        if path not in resources:
            resources[path] = router.add_resource(path, name=name)
        resources[path].add_route(method, handler)


async def _object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request) if request.can_read_body else {}
    if not isinstance(body, dict):
        raise ServiceError(400, "InvalidRequestBody", "The admin API takes JSON objects.")
    return body


class AdminApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    async def info(self, request: web.Request) -> web.Response:
        return json_response(self.emu.info)

    async def reset(self, request: web.Request) -> web.Response:
        self.emu.reset()
        return json_response({"reset": True})

    async def list_faults(self, request: web.Request) -> web.Response:
        return json_response({"faults": [f.to_json() for f in self.emu.faults.faults]})

    async def add_fault(self, request: web.Request) -> web.Response:
        fault = self.emu.faults.add(parse_fault(await _object(request)))
        return json_response(fault.to_json(), status=201)

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.emu.faults.clear()
        return json_response({"faults": []})

    async def list_scripts(self, request: web.Request) -> web.Response:
        return json_response({"scripts": [s.to_json() for s in self.emu.store.scripts]})

    async def add_script(self, request: web.Request) -> web.Response:
        script = parse_script(await _object(request))
        self.emu.store.scripts.append(script)
        return json_response(script.to_json(), status=201)

    async def clear_scripts(self, request: web.Request) -> web.Response:
        self.emu.store.scripts.clear()
        return json_response({"scripts": []})

    async def list_defaults(self, request: web.Request) -> web.Response:
        return json_response({"defaults": [d.to_json() for d in self.emu.store.echoed_defaults]})

    async def add_default(self, request: web.Request) -> web.Response:
        default = parse_echoed_default(await _object(request))
        self.emu.store.echoed_defaults.append(default)
        return json_response(default.to_json(), status=201)

    async def clear_defaults(self, request: web.Request) -> web.Response:
        self.emu.store.echoed_defaults.clear()
        return json_response({"defaults": []})

    async def clock(self, request: web.Request) -> web.Response:
        clock = self.emu.clock
        return json_response({"now": clock.now(), "time_scale": clock.time_scale, "paused": clock.paused})

    async def pause(self, request: web.Request) -> web.Response:
        return json_response({"now": self.emu.clock.pause(), "paused": True})

    async def resume(self, request: web.Request) -> web.Response:
        return json_response({"now": self.emu.clock.resume(), "paused": False})

    async def advance(self, request: web.Request) -> web.Response:
        seconds = (await _object(request)).get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            raise ServiceError(
                400, "InvalidRequestBody", "Give {'seconds': <non-negative number>} of simulated time."
            )
        return json_response({"now": self.emu.clock.advance(float(seconds))})

    async def counters(self, request: web.Request) -> web.Response:
        counts = self.emu.counters.snapshot()
        return json_response(
            {"counts": counts, "management_writes": management_writes(counts), "tasks": self._task_counts()}
        )

    async def reset_counters(self, request: web.Request) -> web.Response:
        self.emu.counters.reset()
        self.emu.store.reset_task_counters()
        self.emu.throttle.reset_stats()
        return json_response({"counts": {}, "management_writes": 0, "tasks": {}})

    async def arm_throttle(self, request: web.Request) -> web.Response:
        return json_response(self.emu.throttle.snapshot(self.emu.clock.now()))

    async def set_arm_throttle(self, request: web.Request) -> web.Response:
        """`{"enabled": bool, "reads"|"writes"|"deletes": [bucket, refill per second] | null}`: a
        kind left out or null keeps its limit; every bucket starts full again."""
        data = await _object(request)
        unknown = set(data) - {"enabled", *KINDS}
        enabled = data.get("enabled", True)
        if unknown or not isinstance(enabled, bool):
            raise ServiceError(
                400,
                "InvalidRequestBody",
                "Give {'enabled': true|false, 'reads'|'writes'|'deletes': [bucket, refill per second] or "
                f"null}}{f'; unknown fields {sorted(unknown)}' if unknown else ''}.",
            )
        limits: dict[str, Limit | None] = {}
        for kind in KINDS:
            value = data.get(kind)
            if value is None:
                continue
            if not isinstance(value, list) or len(value) != 2:
                raise ServiceError(
                    400, "InvalidRequestBody", f"'{kind}' is [bucket size, refill per second], not {value!r}."
                )
            try:
                limits[kind] = Limit(value[0], value[1])
            except ValueError as exc:
                raise ServiceError(400, "InvalidRequestBody", f"'{kind}': {exc}.") from None
        throttle = self.emu.throttle
        throttle.configure(throttle.settings.with_limits(enabled=enabled, limits=limits))
        return json_response(throttle.snapshot(self.emu.clock.now()))

    def _task_counts(self) -> dict[str, dict[str, int]]:
        """Per pool ARM id: tasks requeued/terminated by node removal and pool deletion."""
        return {
            pool_id: {
                "tasks_requeued": c.get("tasks_requeued", 0),
                "tasks_terminated": c.get("tasks_terminated", 0),
            }
            for pool_id, c in self.emu.store.task_counters.items()
            if c
        }

    async def tasks(self, request: web.Request) -> web.Response:
        return json_response({"pools": self._task_counts()})

    async def add_account(self, request: web.Request) -> web.Response:
        data = await _object(request)
        ident = self.emu.identity
        if not isinstance(data.get("name"), str):
            raise ServiceError(
                400, "InvalidRequestBody", "Give the account 'name' (3-24 lowercase letters and digits)."
            )
        try:
            account = Account(
                subscription_id=str(data.get("subscription_id", ident.subscription_id)),
                resource_group=str(data.get("resource_group", ident.resource_group)),
                **{k: data[k] for k in _ACCOUNT_FIELDS if k in data},
            )
        except TypeError as exc:
            raise ServiceError(400, "InvalidRequestBody", str(exc)) from exc
        self.emu.store.add_account(account)
        return json_response(self._account_json(account), status=201)

    async def update_account(self, request: web.Request) -> web.Response:
        account = self.emu.store.account_by_name(request.match_info["account"])
        if account is None:
            raise ServiceError(
                404, "ResourceNotFound", f"No account named '{request.match_info['account']}'."
            )
        self.emu.store.update_account(account, await _object(request))
        return json_response(self._account_json(account))

    def _account_json(self, account: Account) -> dict[str, Any]:
        return {
            **account.to_state(),
            "id": account.arm_id,
            "account_endpoint": self.emu.account_endpoint(account.name),
        }

    def _pool_target(self, data: dict[str, Any]) -> tuple[Account, str]:
        pool_id = data.get("id")
        parts = str(pool_id).split("/") if isinstance(pool_id, str) else []
        if len(parts) != 11 or parts[1].lower() != "subscriptions" or parts[9].lower() != "pools":
            raise ServiceError(
                400,
                "InvalidRequestBody",
                "Give the pool's ARM 'id': /subscriptions/{sub}/resourceGroups/{rg}/providers/"
                "Microsoft.Batch/batchAccounts/{account}/pools/{pool}.",
            )
        return self.emu.store.account(parts[2], parts[4], parts[8]), parts[10]

    async def drift(self, request: web.Request) -> web.Response:
        data = await _object(request)
        account, name = self._pool_target(data)
        changes = data.get("changes")
        if not isinstance(changes, dict):
            raise ServiceError(
                400, "InvalidRequestBody", "Give 'changes': a JSON merge patch of the pool body."
            )
        pool: Pool = self.emu.store.drift(account, name, changes)
        return json_response(pool.arm_json(self.emu.clock.now()))

    async def busy(self, request: web.Request) -> web.Response:
        data = await _object(request)
        account, name = self._pool_target(data)
        seconds, count, node_ids = data.get("seconds"), data.get("count"), data.get("node_ids")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            raise ServiceError(
                400, "InvalidRequestBody", "Give 'seconds': how long (simulated) the tasks run."
            )
        if count is not None and (not isinstance(count, int) or count < 0):
            raise ServiceError(400, "InvalidRequestBody", "'count' is a non-negative integer.")
        if node_ids is not None and not (
            isinstance(node_ids, list) and all(isinstance(i, str) for i in node_ids)
        ):
            raise ServiceError(400, "InvalidRequestBody", "'node_ids' is a list of node ids.")
        if count is not None and node_ids is not None:
            raise ServiceError(400, "InvalidRequestBody", "Give 'count' or 'node_ids', not both.")
        started = self.emu.store.busy_nodes(account, name, float(seconds), count=count, node_ids=node_ids)
        return json_response({"nodes": started})

    async def preempt(self, request: web.Request) -> web.Response:
        data = await _object(request)
        account, name = self._pool_target(data)
        count, node_ids = data.get("count"), data.get("node_ids")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise ServiceError(400, "InvalidRequestBody", "'count' is a non-negative integer.")
        if node_ids is not None and not (
            isinstance(node_ids, list) and all(isinstance(i, str) for i in node_ids)
        ):
            raise ServiceError(400, "InvalidRequestBody", "'node_ids' is a list of node ids.")
        preempted = self.emu.store.preempt_nodes(account, name, count=count, node_ids=node_ids)
        return json_response({"nodes": preempted})

    async def nodes(self, request: web.Request) -> web.Response:
        account, name = self._pool_target(dict(request.query))
        now = self.emu.clock.now()
        pool = self.emu.store.pool(account, name, now)
        return json_response({"nodes": node_details(pool, now)})

    async def remove(self, request: web.Request) -> web.Response:
        account, name = self._pool_target(await _object(request))
        self.emu.store.remove_pool(account, name)
        return json_response({"removed": account.pool_id(name)})

    async def token(self, request: web.Request) -> web.Response:
        data = await _object(request)
        token = self.emu.issuer.issue(
            audience=str(data.get("audience", MANAGEMENT_AUDIENCE)),
            client_id=str(data.get("client_id", self.emu.identity.client_id)),
            lifetime=float(data.get("lifetime_seconds", DEFAULT_TOKEN_LIFETIME)),
        )
        return json_response({"access_token": token})

    async def federated_token(self, request: web.Request) -> web.Response:
        data = await _object(request)
        token = self.emu.federation.mint(
            subject=str(data.get("subject", "system:serviceaccount:default:default")),
            lifetime=float(data.get("lifetime_seconds", 3600)),
        )
        return json_response({"token": token})


def node_details(pool: Pool, now: float) -> list[dict[str, Any]]:
    """What the emulator knows of each present node, beyond the data plane's view."""
    ctx = pool.node_context("")
    details = []
    for node in pool.present_nodes(now):
        state, since = node_state(node, ctx, now)
        details.append(
            {
                "id": node.id,
                "ordinal": node.ordinal,
                "state": state,
                "state_since": since,
                "dedicated": node.dedicated,
                "allocated_at": node.appear_at,
                "leave_at": node.leave_at,
                "running_tasks": node.running_tasks(now),
                "tasks": [{"start": start, "end": end} for start, end in node.tasks],
                "identity": identity_json(node.identity) if node.identity is not None else None,
            }
        )
    return details


_ACCOUNT_FIELDS = ("name", "location", "dedicated_core_quota", "low_priority_core_quota", "pool_quota")
