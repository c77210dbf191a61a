"""Management-plane pool operations as plain JSON in, plain JSON out (the core never sees SDK models)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat

from azbatch_operator.cloud.clients import MANAGEMENT_API_VERSION, AccountRef, AzureClients
from azbatch_operator.cloud.errors import AzureCallError, missing_parent, translate

ArmPool = dict[str, Any]
# Pools per list page. Every page is one read of the subscription's ARM budget: at the service's
# default page size a list of 1,000 pools costs ten reads; asked for 1,000 a page, it costs one.
LIST_PAGE = 1000


class PoolGateway:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def _pools(self, account: AccountRef) -> Any:
        return self._clients.management(account.subscription_id).pool

    async def _send(
        self,
        account: AccountRef,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Any:
        """One call as JSON through the management client's own pipeline (its credential, retry,
        request budget and throttling policies), on the API version its every other call uses.

        The hot calls (a pool's GET, its create, the account's list) skip the SDK's models: turning
        each pool into a model only to turn it back into JSON was most of the operator's CPU per
        created pool. The service's errors are raised as the SDK raises them."""
        client = self._clients.management(account.subscription_id)
        params = urlencode({"api-version": MANAGEMENT_API_VERSION, **(query or {})})
        request = HttpRequest(method, f"{path}?{params}", json=body, headers=dict(headers or {}))
        response = await self._read(client, request)
        if response.status_code == 404:
            raise ResourceNotFoundError(response=response, error_format=ARMErrorFormat)
        if response.status_code >= 300:
            raise HttpResponseError(response=response, error_format=ARMErrorFormat)
        return response.json()

    @staticmethod
    async def _read(client: Any, request: HttpRequest) -> Any:
        """The response, its body read once: sent as a stream so that the pipeline's own decoding
        step leaves it alone (it would parse a 1,000-pool page once more, for nobody)."""
        response = await client.send_request(request, stream=True)
        await response.read()
        return response

    async def get(self, account: AccountRef, name: str) -> ArmPool | None:
        """The pool as `GET pool` returns it, or None when it does not exist.

        A 404 that says the account, its resource group or its subscription does not exist is an
        error (its `missing` names which), not "no pool": creating the pool could never succeed."""
        try:
            pool = await self._send(account, "GET", f"{account.arm_id}/pools/{name}")
        except ResourceNotFoundError as error:
            parent = _missing_parent(translate("GET pool", error), account, parent_only=False)
            if parent is None:
                return None
            raise parent from error
        except Exception as error:
            raise translate("GET pool", error) from error
        return dict(pool)

    async def list(self, account: AccountRef) -> dict[str, ArmPool]:
        """Every pool of the account by name: one paged list, whatever the number of pools.

        Read as JSON through the management client's own pipeline (its credential, retry and
        throttling policies) with `send_request`: turning 1,000 pools into SDK models, only to turn
        them back into JSON, cost the operator about a second of CPU at every list."""
        client = self._clients.management(account.subscription_id)
        pools: dict[str, ArmPool] = {}
        try:
            page = await self._send(
                account, "GET", f"{account.arm_id}/pools", query={"maxresults": LIST_PAGE}
            )
            while True:
                for pool in page.get("value") or ():
                    pools[str(pool.get("name", ""))] = pool
                if not page.get("nextLink"):
                    break
                response = await self._read(client, HttpRequest("GET", page["nextLink"]))
                if response.status_code != 200:
                    raise HttpResponseError(response=response, error_format=ARMErrorFormat)
                page = response.json()
        except Exception as error:
            failure = translate("GET pools", error)
            raise (_missing_parent(failure, account, parent_only=True) or failure) from error
        return pools

    async def create(self, account: AccountRef, name: str, body: Mapping[str, Any]) -> ArmPool:
        """PUT with If-None-Match: * — creates, never replaces a pool someone else made meanwhile."""
        try:
            pool = await self._send(
                account, "PUT", f"{account.arm_id}/pools/{name}", body=body, headers={"If-None-Match": "*"}
            )
        except Exception as error:
            failure = translate("PUT pool", error)  # a 404 to a create: the pool's parent is missing
            raise (_missing_parent(failure, account, parent_only=True) or failure) from error
        return dict(pool)

    async def update(
        self, account: AccountRef, name: str, body: Mapping[str, Any], *, etag: str | None = None
    ) -> ArmPool:
        """PATCH only the given properties; with an ETag, only if nobody changed the pool meanwhile."""
        try:
            pool = await self._pools(account).update(
                account.resource_group,
                account.account_name,
                name,
                dict(body),
                etag=etag,
                match_condition=MatchConditions.IfNotModified if etag else None,
            )
        except Exception as error:
            failure = translate("PATCH pool", error)
            raise (_missing_parent(failure, account, parent_only=False) or failure) from error
        return _json(pool)

    async def begin_delete(self, account: AccountRef, name: str) -> None:
        """Start the delete and return: reconciles watch `provisioningState: Deleting` until 404."""
        try:
            await self._pools(account).begin_delete(
                account.resource_group, account.account_name, name, polling=False
            )
        except ResourceNotFoundError:
            return
        except Exception as error:
            raise translate("DELETE pool", error) from error

    async def stop_resize(self, account: AccountRef, name: str) -> ArmPool:
        """POST stopResize: the running resize ends where it is (Stopping, then Steady)."""
        try:
            pool = await self._pools(account).stop_resize(account.resource_group, account.account_name, name)
        except Exception as error:
            raise translate("POST stopResize", error) from error
        return _json(pool)


def _missing_parent(
    error: AzureCallError, account: AccountRef, *, parent_only: bool
) -> AzureCallError | None:
    where = (account.subscription_id, account.resource_group, account.account_name)
    return missing_parent(error, *where, parent_only=parent_only)


def _json(model: Any) -> ArmPool:
    data = model.as_dict() if hasattr(model, "as_dict") else dict(model)
    return dict(data)
