"""Async Azure clients, built once per subscription / account and shared by every pool.

A platform with a thousand pools in three accounts holds three data-plane clients and one
management client per subscription, all on one credential (one token cache).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from azure.batch.aio import BatchClient
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AioHttpTransport
from azure.mgmt.batch.aio import BatchManagementClient

from azbatch_operator.cloud.budget_policy import RequestBudgetPolicy
from azbatch_operator.cloud.errors import translate
from azbatch_operator.cloud.telemetry import CallCounter
from azbatch_operator.request_budget import BudgetLimits

DEFAULT_RESOURCE_MANAGER = "https://management.azure.com"
# The REST API versions the operator speaks (and the emulator serves), named to every client rather
# than taken from whichever SDK release is installed: an SDK upgrade does not change the wire, and
# the calls the operator sends as JSON (pools, node counts) use the same versions as the SDK's own.
MANAGEMENT_API_VERSION = "2025-06-01"
BATCH_API_VERSION = "2025-06-01"
DEFAULT_BATCH_AUDIENCE = "https://batch.core.windows.net/"


@dataclass(frozen=True)
class AccountRef:
    subscription_id: str
    resource_group: str
    account_name: str

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Batch/batchAccounts/{self.account_name}"
        )

    def __str__(self) -> str:
        return f"{self.subscription_id}/{self.resource_group}/{self.account_name}"


@dataclass(frozen=True)
class CloudEndpoints:
    """Where Azure is: the public cloud by default, or what the environment names."""

    resource_manager: str = DEFAULT_RESOURCE_MANAGER
    resource_manager_audience: str = DEFAULT_RESOURCE_MANAGER + "/"
    batch_audience: str = DEFAULT_BATCH_AUDIENCE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CloudEndpoints:
        env = os.environ if env is None else env
        manager = (env.get("AZURE_RESOURCE_MANAGER_ENDPOINT") or DEFAULT_RESOURCE_MANAGER).rstrip("/")
        audience = env.get("AZURE_RESOURCE_MANAGER_AUDIENCE") or manager + "/"
        batch = env.get("AZURE_BATCH_AUDIENCE") or DEFAULT_BATCH_AUDIENCE
        return cls(manager, audience, batch)


def transport_options(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A private CA named by SSL_CERT_FILE, passed explicitly: aiohttp builds its default TLS
    context when first imported, so an environment variable set later would go unseen."""
    env = os.environ if env is None else env
    bundle = env.get("SSL_CERT_FILE")
    return {"connection_verify": bundle} if bundle else {}


def _scope(audience: str) -> str:
    # The Batch data plane's documented scope keeps the audience's trailing slash:
    # "https://batch.core.windows.net//.default".
    return audience + "/.default"


@dataclass
class AzureClients:
    credential: AsyncTokenCredential
    endpoints: CloudEndpoints = field(default_factory=CloudEndpoints.from_env)
    retry_total: int = 3
    budget: BudgetLimits = field(default_factory=BudgetLimits)  # per subscription: ARM's throttle
    _management: dict[str, BatchManagementClient] = field(default_factory=dict)
    _data: dict[AccountRef, BatchClient] = field(default_factory=dict)
    _account_endpoints: dict[AccountRef, str] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _session: aiohttp.ClientSession | None = None

    def _options(self, plane: str) -> dict[str, Any]:
        # Management clients are one per subscription, as ARM's buckets are: each gets its own budget.
        paced = [RequestBudgetPolicy(self.budget)] if plane == "management" else []
        return {
            "per_retry_policies": [CallCounter(plane), *paced],
            "retry_total": self.retry_total,
            **self._transport(),
        }

    def _transport(self) -> dict[str, Any]:
        """With a private CA, one TLS context and one connection pool for every client (called from
        coroutines only). Given the bundle's path instead, azure-core builds a TLS context per request
        (loading the whole bundle) and aiohttp reuses no connection (see docs/benchmarks.md)."""
        bundle = transport_options().get("connection_verify")
        if not bundle:
            return {}
        if self._session is None:
            tls = ssl.create_default_context(cafile=bundle)
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls))
        return {"transport": AioHttpTransport(session=self._session, session_owner=False)}

    def management(self, subscription_id: str) -> BatchManagementClient:
        client = self._management.get(subscription_id)
        if client is None:
            audience = self.endpoints.resource_manager_audience.rstrip("/")
            client = BatchManagementClient(
                self.credential,
                subscription_id,
                base_url=self.endpoints.resource_manager,
                credential_scopes=[audience + "/.default"],
                api_version=MANAGEMENT_API_VERSION,
                **self._options("management"),
            )
            self._management[subscription_id] = client
        return client

    async def data(self, account: AccountRef) -> BatchClient:
        """The account's data-plane client; its endpoint comes from the account (read once)."""
        client = self._data.get(account)
        if client is not None:
            return client
        async with self._lock:
            client = self._data.get(account)
            if client is None:
                endpoint = await self._account_endpoint(account)
                client = BatchClient(
                    endpoint,
                    self.credential,
                    credential_scopes=[_scope(self.endpoints.batch_audience)],
                    api_version=BATCH_API_VERSION,
                    **self._options("data"),
                )
                self._data[account] = client
        return client

    async def _account_endpoint(self, account: AccountRef) -> str:
        known = self._account_endpoints.get(account)
        if known:
            return known
        try:
            found = await self.management(account.subscription_id).batch_account.get(
                account.resource_group, account.account_name
            )
        except Exception as error:
            raise translate("GET account", error) from error
        endpoint = str(found.properties.account_endpoint if found.properties else "")
        if not endpoint.startswith("https://"):
            endpoint = "https://" + endpoint
        self._account_endpoints[account] = endpoint
        return endpoint

    async def close(self) -> None:
        for management in self._management.values():
            await management.close()
        for data in self._data.values():
            await data.close()
        self._management.clear()
        self._data.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
        close = getattr(self.credential, "close", None)
        if close is not None:
            await close()
