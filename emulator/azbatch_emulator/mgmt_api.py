"""Management plane (ARM, Microsoft.Batch): batch accounts and pools."""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from azbatch_emulator import directory
from azbatch_emulator.errors import JSON_TYPE, ServiceError, dumps
from azbatch_emulator.pools import Pool
from azbatch_emulator.rules import mgmt_api_version
from azbatch_emulator.store import Account

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator

ACCOUNT_PATH = (
    "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{account}"
)
DEFAULT_PAGE = 100
MAX_PAGE = 1000
REMOVED_IN_2025_06_01 = (
    "certificates",
    "targetNodeCommunicationMode",
    "currentNodeCommunicationMode",
    "resourceTags",
)
"""Pool properties the 2025-06-01 API no longer has (2024-02-01 and 2024-07-01 still return them)."""
AUTHENTICATION_MODES = ["SharedKey", "AAD", "TaskAuthenticationToken"]
ACCOUNT_QUOTA = 50
"""Batch accounts per subscription and region: Azure's default quota."""


def register(router: web.UrlDispatcher, emu: Emulator) -> None:
    api = ManagementApi(emu)
    router.add_resource(
        "/subscriptions/{subscription}/providers/Microsoft.Batch/batchAccounts", name="mgmt.accounts"
    ).add_route("GET", api.list_accounts)
    router.add_resource(
        "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts",
        name="mgmt.groupAccounts",
    ).add_route("GET", api.list_group_accounts)
    router.add_resource(
        "/subscriptions/{subscription}/providers/Microsoft.Batch/locations/{location}/quotas",
        name="mgmt.locationQuotas",
    ).add_route("GET", api.location_quotas)
    router.add_resource(ACCOUNT_PATH, name="mgmt.account").add_route("GET", api.get_account)
    router.add_resource(ACCOUNT_PATH + "/listKeys", name="mgmt.account.listKeys").add_route(
        "POST", api.list_keys
    )
    router.add_resource(ACCOUNT_PATH + "/pools", name="mgmt.pools").add_route("GET", api.list_pools)
    pool = router.add_resource(ACCOUNT_PATH + "/pools/{pool}", name="mgmt.pool")
    pool.add_route("GET", api.get_pool)
    pool.add_route("PUT", api.put_pool)
    pool.add_route("PATCH", api.patch_pool)
    pool.add_route("DELETE", api.delete_pool)
    router.add_resource(ACCOUNT_PATH + "/pools/{pool}/stopResize", name="mgmt.pool.stopResize").add_route(
        "POST", api.stop_resize
    )
    router.add_resource(
        ACCOUNT_PATH + "/pools/{pool}/disableAutoScale", name="mgmt.pool.disableAutoScale"
    ).add_route("POST", api.disable_autoscale)
    router.add_resource(
        ACCOUNT_PATH + "/poolOperationResults/{operation}", name="mgmt.poolOperationResults"
    ).add_route("GET", api.pool_operation_result)


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=dumps(body), content_type=JSON_TYPE, headers=headers)


async def read_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise ServiceError(
            400,
            "InvalidRequestContent",
            f"The request content was invalid and could not be deserialized: {exc}.",
        ) from exc


def account_keys(emu: Emulator, account: Account) -> dict[str, str]:
    """The account's shared keys: stable per state dir (derived from its client secret) and account."""
    secret = emu.identity.client_secret.encode()

    def key(which: str) -> str:
        digest = hmac.new(secret, f"{account.name.lower()}:{which}".encode(), hashlib.sha512).digest()
        return base64.b64encode(digest).decode()

    return {"accountName": account.name, "primary": key("primary"), "secondary": key("secondary")}


def account_json(emu: Emulator, account: Account) -> dict[str, Any]:
    return {
        "id": account.arm_id,
        "name": account.name,
        "type": "Microsoft.Batch/batchAccounts",
        "location": account.location,
        "identity": {"type": "None"},
        "tags": {},
        "properties": {
            "accountEndpoint": emu.account_endpoint(account.name),
            "nodeManagementEndpoint": f"{emu.account_endpoint(account.name)}/nodemanagement",
            "provisioningState": "Succeeded",
            "poolAllocationMode": "BatchService",
            "dedicatedCoreQuota": account.dedicated_core_quota,
            "lowPriorityCoreQuota": account.low_priority_core_quota,
            "dedicatedCoreQuotaPerVMFamilyEnforced": False,
            "dedicatedCoreQuotaPerVMFamily": [],
            "poolQuota": account.pool_quota,
            "activeJobAndJobScheduleQuota": 300,
            "publicNetworkAccess": "Enabled",
            "networkProfile": {"accountAccess": {"defaultAction": "Allow"}},
            "privateEndpointConnections": [],
            "encryption": {"keySource": "Microsoft.Batch"},
            "allowedAuthenticationModes": list(AUTHENTICATION_MODES),
        },
    }


def shaped_pool(body: dict[str, Any], api_version: str | None) -> dict[str, Any]:
    """A pool's ARM JSON in the shape of the request's api-version."""
    if mgmt_api_version(api_version) >= "2025-06-01":
        props = body.get("properties")
        if isinstance(props, dict):
            for key in REMOVED_IN_2025_06_01:
                props.pop(key, None)
    return body


class ManagementApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.store = emu.store

    def _account(self, request: web.Request) -> Account:
        info = request.match_info
        return self.store.account(info["subscription"], info["group"], info["account"])

    def _pool_response(self, pool: Pool, request: web.Request, *, status: int = 200) -> web.Response:
        body = shaped_pool(pool.arm_json(self.emu.clock.now()), request.query.get("api-version"))
        return json_response(body, status=status, headers={"ETag": pool.etag})

    async def get_account(self, request: web.Request) -> web.Response:
        return json_response(account_json(self.emu, self._account(request)))

    def _accounts_page(self, request: web.Request, group: str | None) -> web.Response:
        subscription = directory.subscription(self.emu, request.match_info["subscription"])
        if group is not None:
            group, _ = directory.resource_group(self.emu, subscription, group)
        accounts = sorted(
            (
                a
                for a in self.store.accounts.values()
                if a.subscription_id.lower() == subscription.lower()
                and (group is None or a.resource_group.lower() == group.lower())
            ),
            key=lambda a: a.name,
        )
        return json_response({"value": [account_json(self.emu, a) for a in accounts]})

    async def list_accounts(self, request: web.Request) -> web.Response:
        return self._accounts_page(request, None)

    async def list_group_accounts(self, request: web.Request) -> web.Response:
        return self._accounts_page(request, request.match_info["group"])

    async def location_quotas(self, request: web.Request) -> web.Response:
        """Batch accounts a subscription may create in a region (`az batch location quotas show`)."""
        directory.subscription(self.emu, request.match_info["subscription"])
        return json_response({"accountQuota": ACCOUNT_QUOTA})

    async def list_keys(self, request: web.Request) -> web.Response:
        return json_response(account_keys(self.emu, self._account(request)))

    async def list_pools(self, request: web.Request) -> web.Response:
        account = self._account(request)
        now = self.emu.clock.now()
        size = _page_size(request.query.get("maxresults"), DEFAULT_PAGE)
        keep = pool_filter(request.query.get("$filter"), now)
        pools = [p for p in self.store.list_pools(account, now) if keep(p)]
        names = sorted(p.name.lower() for p in pools)
        start = (
            bisect.bisect_right(names, request.query["$skiptoken"]) if "$skiptoken" in request.query else 0
        )
        page = names[start : start + size]
        version = request.query.get("api-version")
        body: dict[str, Any] = {
            "value": [shaped_pool(account.pools[name].arm_json(now), version) for name in page]
        }
        if start + size < len(names):
            extra = f"&$filter={quote(request.query['$filter'])}" if "$filter" in request.query else ""
            body["nextLink"] = (
                f"{self.emu.base_url}{account.arm_id}/pools?api-version={request.query['api-version']}"
                f"&maxresults={size}&$skiptoken={quote(page[-1])}{extra}"
            )
        return json_response(body)

    async def get_pool(self, request: web.Request) -> web.Response:
        account = self._account(request)
        pool = self.store.pool(account, request.match_info["pool"], self.emu.clock.now())
        return self._pool_response(pool, request)

    async def put_pool(self, request: web.Request) -> web.Response:
        account = self._account(request)
        body = await read_json(request)
        pool, _ = self.store.put_pool(
            account,
            request.match_info["pool"],
            body,
            if_match=request.headers.get("If-Match"),
            if_none_match=request.headers.get("If-None-Match"),
        )
        return self._pool_response(pool, request)

    async def patch_pool(self, request: web.Request) -> web.Response:
        account = self._account(request)
        body = await read_json(request)
        pool = self.store.patch_pool(
            account, request.match_info["pool"], body, if_match=request.headers.get("If-Match")
        )
        return self._pool_response(pool, request)

    async def delete_pool(self, request: web.Request) -> web.Response:
        account = self._account(request)
        pool = self.store.delete_pool(account, request.match_info["pool"])
        if pool is None:
            return web.Response(status=204)
        return web.Response(status=202, headers=self._operation_headers(account, pool, request))

    def _operation_headers(self, account: Account, pool: Pool, request: web.Request) -> dict[str, str]:
        assert pool.delete_started is not None and pool.delete_done is not None
        operation = f"delete-{pool.name}-{int(pool.delete_started * 1000):X}"
        remaining = max(pool.delete_done - self.emu.clock.now(), 0.0)
        retry_after = self.emu.clock.real_seconds(min(remaining, self.emu.timings.delete_retry_after))
        return {
            "Location": f"{self.emu.base_url}{account.arm_id}/poolOperationResults/{operation}"
            f"?api-version={request.query['api-version']}",
            "Retry-After": str(max(1, math.ceil(retry_after))),
        }

    async def pool_operation_result(self, request: web.Request) -> web.Response:
        account = self._account(request)
        operation = request.match_info["operation"]
        kind, _, rest = operation.partition("-")
        name, _, token = rest.rpartition("-")
        if kind != "delete" or not name:
            raise ServiceError(404, "OperationNotFound", f"The operation '{operation}' does not exist.")
        pool = self.store.find_pool(account, name, self.emu.clock.now())
        if (
            pool is not None
            and pool.delete_started is not None
            and f"{int(pool.delete_started * 1000):X}" == token
        ):
            return web.Response(status=202, headers=self._operation_headers(account, pool, request))
        return web.Response(status=204)

    async def stop_resize(self, request: web.Request) -> web.Response:
        account = self._account(request)
        return self._pool_response(self.store.stop_resize(account, request.match_info["pool"]), request)

    async def disable_autoscale(self, request: web.Request) -> web.Response:
        account = self._account(request)
        pool = self.store.disable_autoscale(account, request.match_info["pool"])
        return self._pool_response(pool, request)


_FILTER = re.compile(
    r"^(?:(?P<field>name|properties/(?:allocationState|provisioningState|vmSize))\s+eq\s+'(?P<value>[^']*)'"
    r"|startswith\(\s*name\s*,\s*'(?P<prefix>[^']*)'\s*\))$",
    re.IGNORECASE,
)


def _unwrap(clause: str) -> str:
    clause = clause.strip()
    return clause[1:-1].strip() if clause.startswith("(") and clause.endswith(")") else clause


def pool_filter(text: str | None, now: float) -> Callable[[Pool], bool]:
    """The subset of ARM's pool list `$filter` the emulator understands; anything else is refused."""
    if not text:
        return lambda pool: True
    clauses = [
        _FILTER.match(_unwrap(part)) for part in re.split(r"\s+or\s+", text.strip(), flags=re.IGNORECASE)
    ]
    if not all(clauses):
        raise ServiceError(
            400,
            "InvalidQueryParameterValue",
            f"The emulator does not understand the $filter '{text}'. Supported: name eq '...', "
            "startswith(name, '...'), properties/allocationState|provisioningState|vmSize eq '...', "
            "joined by 'or'.",
        )

    def value_of(pool: Pool, field: str) -> str:
        readers: dict[str, Callable[[], str]] = {
            "name": lambda: pool.name,
            "properties/allocationstate": lambda: pool.allocation_state(now),
            "properties/provisioningstate": lambda: "Deleting" if pool.deleting else "Succeeded",
            "properties/vmsize": lambda: str(pool.properties.get("vmSize", "")),
        }
        return readers[field.lower()]()

    def keep(pool: Pool) -> bool:
        for match in clauses:
            assert match is not None
            if match.group("prefix") is not None:
                if pool.name.lower().startswith(match.group("prefix").lower()):
                    return True
            elif value_of(pool, match.group("field")).lower() == match.group("value").lower():
                return True
        return False

    return keep


def _page_size(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        size = int(value)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE:
        raise ServiceError(
            400,
            "InvalidQueryParameterValue",
            f"maxresults must be an integer from 1 to {MAX_PAGE}, not '{value}'.",
        )
    return size
