"""Observation that costs O(accounts), not O(pools).

Azure Resource Manager throttles reads per subscription. Polling each pool on its own spends the
budget as pools grow; instead every steady pool reads from one paged list of its account, taken
at most once per resync interval however many pools ask (single-flight). Pools with work in
progress ask for a fresh GET of themselves, and what that GET returns refreshes the shared list.
Data-plane node counts are shared per account the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from azbatch_operator.cloud.clients import AccountRef
from azbatch_operator.cloud.nodes import NodeCounts, NodeGateway
from azbatch_operator.cloud.pools import ArmPool, PoolGateway

T = TypeVar("T")


@dataclass
class _Snapshot(Generic[T]):
    items: dict[str, T]
    taken: float


@dataclass
class SharedListing(Generic[T]):
    """A per-account listing, refreshed at most every `max_age` seconds, one refresh at a time."""

    fetch: Callable[[AccountRef], Awaitable[dict[str, T]]]
    max_age: float
    clock: Callable[[], float] = time.monotonic
    _snapshots: dict[AccountRef, _Snapshot[T]] = field(default_factory=dict)
    _locks: dict[AccountRef, asyncio.Lock] = field(default_factory=dict)

    async def items(self, account: AccountRef) -> dict[str, T]:
        snapshot = self._snapshots.get(account)
        if snapshot is not None and self.clock() - snapshot.taken < self.max_age:
            return snapshot.items
        lock = self._locks.setdefault(account, asyncio.Lock())
        async with lock:
            snapshot = self._snapshots.get(account)
            if snapshot is None or self.clock() - snapshot.taken >= self.max_age:
                snapshot = _Snapshot(await self.fetch(account), self.clock())
                self._snapshots[account] = snapshot
        return snapshot.items

    def put(self, account: AccountRef, name: str, item: T | None) -> None:
        """Fold a fresher single read into the listing (None: it is gone)."""
        snapshot = self._snapshots.get(account)
        if snapshot is None:
            return
        if item is None:
            snapshot.items.pop(name, None)
        else:
            snapshot.items[name] = item

    def expires_in(self, account: AccountRef) -> float:
        """Seconds until the account's listing is due for a refresh (0: due now, or never taken)."""
        snapshot = self._snapshots.get(account)
        return 0.0 if snapshot is None else max(0.0, snapshot.taken + self.max_age - self.clock())


class AccountObserver:
    def __init__(self, pools: PoolGateway, nodes: NodeGateway, *, resync: float, health: float) -> None:
        self._pools = pools
        self._listing: SharedListing[ArmPool] = SharedListing(pools.list, resync)
        self._counts: SharedListing[NodeCounts] = SharedListing(nodes.node_counts, health)

    async def pool(self, account: AccountRef, name: str, *, fresh: bool) -> ArmPool | None:
        """The pool from the account's shared list, or (fresh) from its own GET."""
        if not fresh:
            return (await self._listing.items(account)).get(name)
        pool = await self._pools.get(account, name)
        self._listing.put(account, name, pool)
        return pool

    def remember(self, account: AccountRef, name: str, pool: ArmPool | None) -> None:
        """What a write returned is the freshest view there is."""
        self._listing.put(account, name, pool)

    def next_list_in(self, account: AccountRef) -> float:
        """Steady pools wake just after this, so each reads the next list as soon as it is taken:
        drift is seen within one interval (a fixed period would read a list up to one interval old)."""
        return self._listing.expires_in(account)

    async def node_counts(self, account: AccountRef, name: str) -> NodeCounts | None:
        return (await self._counts.items(account)).get(name)
