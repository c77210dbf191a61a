"""What a client without the operator does, with the same unmodified async SDK and real tokens.

- `provision_floor`: PUT N pools as fast as one process can and watch them until all are Steady.
  That is the emulator's own provisioning floor: no operator can bring N pools to Ready sooner.
- `CrossplanePoller`: the baseline the issue names, one GET per pool per interval, each pool on
  its own (how a Crossplane-style provider observes managed resources), spread over the interval.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from azure.core.exceptions import ResourceNotFoundError
from azure.core.pipeline.transport import AioHttpTransport
from azure.mgmt.batch.aio import BatchManagementClient

from azbatch_emulator.sdk import async_secret_credential

Curve = list[tuple[float, int]]  # (seconds since start, pools done)


@asynccontextmanager
async def management_client(info: Mapping[str, Any]) -> AsyncIterator[BatchManagementClient]:
    """The SDK client as a careful user builds it against a private CA: one TLS context and one
    connection pool (`connection_verify=<path>` would build a context per request, reuse no
    connection, and make the floor and the baseline slower than they need to be)."""
    context = ssl.create_default_context(cafile=info["ca_bundle"])
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=64))
    credential = async_secret_credential(info)
    client = BatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        credential_scopes=[info["management_scope"]],
        transport=AioHttpTransport(session=session, session_owner=False),
    )
    try:
        yield client
    finally:
        await client.close()
        await credential.close()
        await session.close()


async def provision_floor(
    info: Mapping[str, Any],
    bodies: Mapping[str, Mapping[str, Any]],
    *,
    concurrency: int = 16,
    poll: float = 0.25,
    give_up_after: float = 900.0,
) -> tuple[float, Curve]:
    """Seconds from the first PUT until every pool is Steady, and the curve of Steady pools."""
    group, account = info["resource_group"], info["account_name"]
    async with management_client(info) as client:
        started = time.monotonic()
        limit = asyncio.Semaphore(concurrency)

        async def create(name: str, body: Mapping[str, Any]) -> None:
            async with limit:
                await client.pool.create(group, account, name, dict(body))

        creating = asyncio.gather(*(create(name, body) for name, body in bodies.items()))
        curve: Curve = [(0.0, 0)]
        try:
            while True:
                steady = 0
                async for pool in client.pool.list_by_batch_account(group, account):
                    state = getattr(pool.allocation_state, "value", pool.allocation_state)
                    if pool.name in bodies and str(state or "").lower() == "steady":
                        steady += 1
                elapsed = time.monotonic() - started
                curve.append((elapsed, steady))
                if steady == len(bodies):
                    break
                if elapsed > give_up_after:
                    raise TimeoutError(f"floor: {steady}/{len(bodies)} pools Steady after {elapsed:.0f} s")
                await asyncio.sleep(poll)
        finally:
            await creating
        return curve[-1][0], curve


class CrossplanePoller:
    """One GET per pool per interval, each pool on its own schedule, spread over the interval."""

    def __init__(self, info: Mapping[str, Any], pool_names: Sequence[str], *, interval: float) -> None:
        self.info = info
        self.pool_names = list(pool_names)
        self.interval = interval
        self.reads = 0
        self.missing = 0

    async def run(self, intervals: int) -> None:
        group, account = self.info["resource_group"], self.info["account_name"]
        async with management_client(self.info) as client:
            spacing = self.interval / max(len(self.pool_names), 1)

            async def watch(offset: float, name: str) -> None:
                await asyncio.sleep(offset)
                for _ in range(intervals):
                    tick = time.monotonic()
                    try:
                        await client.pool.get(group, account, name)
                    except ResourceNotFoundError:
                        self.missing += 1
                    self.reads += 1
                    await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - tick)))

            await asyncio.gather(*(watch(i * spacing, n) for i, n in enumerate(self.pool_names)))
