"""What ARM itself serves, beyond Microsoft.Batch: the cloud metadata that `az cloud register` and
the SDKs' cloud settings read, and the Microsoft.Resources reads clients make on their way to a
Batch account (tenants, subscriptions, resource groups, resource providers, generic resources).

The subscriptions and resource groups are those that hold an account (the pre-created one always).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from azbatch_emulator import directory
from azbatch_emulator.errors import ServiceError
from azbatch_emulator.identity import BATCH_AUDIENCE, CLASSIC_MANAGEMENT_AUDIENCE, MANAGEMENT_AUDIENCE
from azbatch_emulator.mgmt_api import account_json, json_response
from azbatch_emulator.rules import MGMT_API_VERSIONS
from azbatch_emulator.store import Account

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator

CLOUD_NAME = "AzureBatchEmulator"
ACCOUNT_TYPES = ("batchAccounts", "batchAccounts/pools", "operations", "locations")


def register(router: web.UrlDispatcher, emu: Emulator) -> None:
    api = ArmApi(emu)
    router.add_resource("/metadata/endpoints", name="metadata.endpoints").add_route("GET", api.metadata)
    router.add_resource("/tenants", name="arm.tenants").add_route("GET", api.tenants)
    router.add_resource("/subscriptions", name="arm.subscriptions").add_route("GET", api.subscriptions)
    router.add_resource("/subscriptions/{subscription}", name="arm.subscription").add_route(
        "GET", api.subscription
    )
    router.add_resource("/subscriptions/{subscription}/resourceGroups", name="arm.resourceGroups").add_route(
        "GET", api.resource_groups
    )
    group = router.add_resource(
        "/subscriptions/{subscription}/resourceGroups/{group}", name="arm.resourceGroup"
    )
    group.add_route("GET", api.resource_group)
    group.add_route("HEAD", api.resource_group_exists)
    router.add_resource(
        "/subscriptions/{subscription}/resourceGroups/{group}/resources", name="arm.groupResources"
    ).add_route("GET", api.group_resources)
    router.add_resource("/subscriptions/{subscription}/resources", name="arm.resources").add_route(
        "GET", api.subscription_resources
    )
    router.add_resource("/subscriptions/{subscription}/providers", name="arm.providers").add_route(
        "GET", api.providers
    )
    router.add_resource("/subscriptions/{subscription}/providers/{namespace}", name="arm.provider").add_route(
        "GET", api.provider
    )
    router.add_resource("/providers/{namespace}", name="arm.tenantProvider").add_route(
        "GET", api.tenant_provider
    )


_RESOURCE_CLAUSE = re.compile(r"^\s*(resourceGroup|resourceType|name)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


def resource_filter(text: str | None) -> Callable[[Account], bool]:
    """Generic resource lists' `$filter`: `resourceGroup|resourceType|name eq '...'` joined by `and`."""
    if not text:
        return lambda account: True
    clauses = [_RESOURCE_CLAUSE.match(c) for c in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)]
    if not all(clauses):
        raise ServiceError(
            400,
            "InvalidFilterInQueryString",
            f"The $filter '{text}' is not supported here: use resourceGroup, resourceType or name eq '...', "
            "joined by 'and'.",
        )

    def value(account: Account, field: str) -> str:
        return {"resourcegroup": account.resource_group, "resourcetype": "Microsoft.Batch/batchAccounts"}.get(
            field.lower(), account.name
        )

    return lambda account: all(
        value(account, m.group(1)).lower() == m.group(2).lower() for m in clauses if m is not None
    )


class ArmApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.store = emu.store

    # --- cloud metadata ---------------------------------------------------------------------
    def cloud(self) -> dict[str, Any]:
        """This cloud as ARM's `/metadata/endpoints` (2022-09-01 shape) describes one."""
        base = self.emu.base_url
        return {
            "name": CLOUD_NAME,
            "resourceManager": f"{base}/",
            "authentication": {
                "loginEndpoint": base,
                "audiences": [CLASSIC_MANAGEMENT_AUDIENCE, MANAGEMENT_AUDIENCE],
                "tenant": self.emu.identity.tenant_id,
                "identityProvider": "AAD",
            },
            "batch": BATCH_AUDIENCE,
            "suffixes": {},
        }

    async def metadata(self, request: web.Request) -> web.Response:
        version = request.query.get("api-version", "")
        cloud = self.cloud()
        if version >= "2022-09-01":
            return json_response(cloud)
        if version >= "2019-05-01":
            return json_response([cloud])
        return json_response(
            {
                "galleryEndpoint": "",
                "graphEndpoint": "",
                "portalEndpoint": "",
                "authentication": {
                    "loginEndpoint": cloud["authentication"]["loginEndpoint"],
                    "audiences": cloud["authentication"]["audiences"],
                },
            }
        )

    # --- tenants and subscriptions --------------------------------------------------------------
    def _subscription(self, request: web.Request) -> str:
        return directory.subscription(self.emu, request.match_info["subscription"])

    def _subscription_json(self, sub: str) -> dict[str, Any]:
        name = "azbatch-emulator" if sub == self.emu.identity.subscription_id else f"azbatch-emulator {sub}"
        return {
            "id": f"/subscriptions/{sub}",
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": sub,
            "tenantId": self.emu.identity.tenant_id,
            "displayName": name,
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
        }

    async def tenants(self, request: web.Request) -> web.Response:
        tenant = self.emu.identity.tenant_id
        body = {
            "value": [
                {
                    "id": f"/tenants/{tenant}",
                    "tenantId": tenant,
                    "tenantCategory": "Home",
                    "countryCode": "US",
                    "displayName": "azbatch-emulator",
                    "domains": ["azbatch-emulator.invalid"],
                    "defaultDomain": "azbatch-emulator.invalid",
                    "tenantType": "AAD",
                }
            ]
        }
        return json_response(body)

    async def subscriptions(self, request: web.Request) -> web.Response:
        values = [self._subscription_json(sub) for sub in directory.subscription_ids(self.emu)]
        return json_response({"value": values, "count": {"type": "Total", "value": len(values)}})

    async def subscription(self, request: web.Request) -> web.Response:
        return json_response(self._subscription_json(self._subscription(request)))

    # --- resource groups --------------------------------------------------------------------------
    def _group_json(self, sub: str, name: str, location: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{sub}/resourceGroups/{name}",
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "properties": {"provisioningState": "Succeeded"},
        }

    def _group(self, request: web.Request) -> tuple[str, str, str]:
        sub = self._subscription(request)
        name, location = directory.resource_group(self.emu, sub, request.match_info["group"])
        return sub, name, location

    async def resource_groups(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        groups = directory.resource_groups(self.emu, sub)
        return json_response({"value": [self._group_json(sub, n, loc) for n, loc in groups]})

    async def resource_group(self, request: web.Request) -> web.Response:
        return json_response(self._group_json(*self._group(request)))

    async def resource_group_exists(self, request: web.Request) -> web.Response:
        try:
            self._group(request)
        except ServiceError:
            return web.Response(status=404)
        return web.Response(status=204)

    # --- generic resources --------------------------------------------------------------------------
    def _generic(self, account: Account) -> dict[str, Any]:
        body = account_json(self.emu, account)
        return {k: body[k] for k in ("id", "name", "type", "location", "identity") if k in body} | {
            "tags": {}
        }

    def _accounts(self, sub: str, group: str | None = None) -> list[Account]:
        return sorted(
            (
                a
                for a in self.store.accounts.values()
                if a.subscription_id.lower() == sub.lower()
                and (group is None or a.resource_group.lower() == group.lower())
            ),
            key=lambda a: a.name,
        )

    async def group_resources(self, request: web.Request) -> web.Response:
        sub, group, _ = self._group(request)
        keep = resource_filter(request.query.get("$filter"))
        return json_response({"value": [self._generic(a) for a in self._accounts(sub, group) if keep(a)]})

    async def subscription_resources(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        keep = resource_filter(request.query.get("$filter"))
        return json_response({"value": [self._generic(a) for a in self._accounts(sub) if keep(a)]})

    # --- resource providers -------------------------------------------------------------------------
    def _provider_json(self, namespace: str, sub: str | None) -> dict[str, Any]:
        if namespace.lower() != "microsoft.batch":
            raise ServiceError(
                404,
                "InvalidResourceNamespace",
                f"The resource namespace '{namespace}' is invalid: the emulator serves only Microsoft.Batch.",
            )
        versions = sorted(MGMT_API_VERSIONS, reverse=True)
        locations = sorted({a.location for a in self.store.accounts.values()} | {"eastus"})
        body: dict[str, Any] = {
            "id": f"/subscriptions/{sub}/providers/Microsoft.Batch" if sub else "/providers/Microsoft.Batch",
            "namespace": "Microsoft.Batch",
            "resourceTypes": [
                {"resourceType": kind, "locations": locations, "apiVersions": versions}
                for kind in ACCOUNT_TYPES
            ],
        }
        if sub:
            body |= {"registrationState": "Registered", "registrationPolicy": "RegistrationRequired"}
        return body

    async def providers(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        return json_response({"value": [self._provider_json("Microsoft.Batch", sub)]})

    async def provider(self, request: web.Request) -> web.Response:
        sub = self._subscription(request)
        return json_response(self._provider_json(request.match_info["namespace"], sub))

    async def tenant_provider(self, request: web.Request) -> web.Response:
        return json_response(self._provider_json(request.match_info["namespace"], None))
