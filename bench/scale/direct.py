"""What a client without the operator does, with the same unmodified async SDK and real tokens.

- `provision_floor`: PUT N pools as fast as one process can and watch them until all are Steady.
  That is the emulator's own provisioning floor: no operator can bring N pools to Ready sooner.
- `CrossplanePoller`: the baseline the issue names, one GET per pool per interval, each pool on
  its own (how a Crossplane-style provider observes managed resources), spread over the interval.

Both take pools as `(account, pool name)`: the fleet's pools, in the same Batch accounts.
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
Placed = tuple[str, str]  # (Batch account name, pool name)
LIST_PAGE = 1000  # the largest page ARM serves: the floor's polls cost one read per account


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
    bodies: Mapping[Placed, Mapping[str, Any]],
    *,
    concurrency: int = 16,
    poll: float = 0.25,
    give_up_after: float = 900.0,
) -> tuple[float, Curve]:
    """Seconds from the first PUT until every pool is Steady, and the curve of Steady pools.

    Polls each account's pool list (1,000 a page) until all its pools are Steady, then stops
    listing it: at ten thousand pools a full round of lists would cost the emulator more than the
    pools it counts."""
    group = info["resource_group"]
    wanted: dict[str, set[str]] = {}
    for account, name in bodies:
        wanted.setdefault(account, set()).add(name)
    async with management_client(info) as client:
        started = time.monotonic()
        limit = asyncio.Semaphore(concurrency)

        async def create(placed: Placed, body: Mapping[str, Any]) -> None:
            async with limit:
                await client.pool.create(group, placed[0], placed[1], dict(body))

        async def steady_in(account: str) -> int:
            steady = 0
            async for pool in client.pool.list_by_batch_account(group, account, maxresults=LIST_PAGE):
                state = getattr(pool.allocation_state, "value", pool.allocation_state)
                if pool.name in wanted[account] and str(state or "").lower() == "steady":
                    steady += 1
            return steady

        creating = asyncio.gather(*(create(placed, body) for placed, body in bodies.items()))
        curve: Curve = [(0.0, 0)]
        done: dict[str, int] = {}  # accounts whose pools are all Steady
        try:
            while True:
                pending = [a for a in wanted if a not in done]
                counts = dict(zip(pending, await asyncio.gather(*map(steady_in, pending)), strict=True))
                done.update((a, n) for a, n in counts.items() if n == len(wanted[a]))
                total = sum(done.values()) + sum(n for a, n in counts.items() if a not in done)
                elapsed = time.monotonic() - started
                curve.append((elapsed, total))
                if total == len(bodies):
                    break
                if elapsed > give_up_after:
                    raise TimeoutError(f"floor: {total}/{len(bodies)} pools Steady after {elapsed:.0f} s")
                await asyncio.sleep(poll)
        finally:
            await creating
        return curve[-1][0], curve


class CrossplanePoller:
    """One GET per pool per interval, each pool on its own schedule, spread over the interval."""

    def __init__(self, info: Mapping[str, Any], pools: Sequence[Placed], *, interval: float) -> None:
        self.info = info
        self.pools = list(pools)
        self.interval = interval
        self.reads = 0
        self.missing = 0
        self.seconds = 0.0  # how long the intervals took (longer than asked: the GETs did not keep up)

    async def run(self, intervals: int) -> None:
        group = self.info["resource_group"]
        async with management_client(self.info) as client:
            spacing = self.interval / max(len(self.pools), 1)
            started = time.monotonic()

            async def watch(offset: float, account: str, name: str) -> None:
                await asyncio.sleep(offset)
                for _ in range(intervals):
                    tick = time.monotonic()
                    try:
                        await client.pool.get(group, account, name)
                    except ResourceNotFoundError:
                        self.missing += 1
                    self.reads += 1
                    await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - tick)))

            await asyncio.gather(*(watch(i * spacing, a, n) for i, (a, n) in enumerate(self.pools)))
            self.seconds = time.monotonic() - started
