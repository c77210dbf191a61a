"""Observation that costs O(accounts), not O(pools).

Azure Resource Manager throttles reads per subscription. Polling each pool on its own spends the
budget as pools grow; instead every steady pool reads from one paged list of its account, taken
at most once per resync interval however many pools ask (single-flight). Pools with work in
progress ask for a fresh GET of themselves, and what that GET returns refreshes the shared list.
A pool a new list shows changed is woken at once (`watch`), so drift is seen within one interval.
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
from azbatch_operator.logs import get_logger

_log = get_logger()

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
    on_change: Callable[[AccountRef, str], None] | None = None  # an item differs from the last list
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
                previous = snapshot
                snapshot = _Snapshot(await self.fetch(account), self.clock())
                self._snapshots[account] = snapshot
                if previous is not None:
                    self._tell_changes(account, previous.items, snapshot.items)
        return snapshot.items

    def _tell_changes(self, account: AccountRef, before: dict[str, T], after: dict[str, T]) -> None:
        if self.on_change is None:
            return
        for name in before.keys() | after.keys():
            if before.get(name) != after.get(name):
                self.on_change(account, name)

    def expires_in(self, account: AccountRef) -> float:
        """Seconds until the account's listing is due for a refresh (0: due now, or never taken)."""
        snapshot = self._snapshots.get(account)
        return 0.0 if snapshot is None else max(0.0, snapshot.taken + self.max_age - self.clock())

    def put(self, account: AccountRef, name: str, item: T | None) -> None:
        """Fold a fresher single read into the listing (None: it is gone)."""
        snapshot = self._snapshots.get(account)
        if snapshot is None:
            return
        if item is None:
            snapshot.items.pop(name, None)
        else:
            snapshot.items[name] = item


class AccountObserver:
    def __init__(
        self,
        pools: PoolGateway,
        nodes: NodeGateway,
        *,
        resync: float,
        health: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._pools = pools
        self._listing: SharedListing[ArmPool] = SharedListing(pools.list, resync, clock, on_change=self._wake)
        self._watchers: dict[tuple[AccountRef, str], set[asyncio.Event]] = {}
        self._refreshers: dict[AccountRef, asyncio.Task[None]] = {}
        self._counts: SharedListing[NodeCounts] = SharedListing(nodes.node_counts, health, clock)
        self._resync, self._sleep = resync, sleep

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

    def watch(self, account: AccountRef, name: str, wakeup: asyncio.Event) -> None:
        """Set `wakeup` whenever a new list shows this pool changed (or gone) since the last one.

        While any pool of the account is watched, the account's list is taken once per interval on
        its own schedule, and every pool it shows changed (drift, someone's edit in the portal) is
        woken at once; the others sleep on in their own phase. So drift is seen within one interval
        at one read per interval, however many pools there are and however their passes line up."""
        self._watchers.setdefault((account, name), set()).add(wakeup)
        if account not in self._refreshers:
            self._refreshers[account] = asyncio.get_running_loop().create_task(self._refresh(account))

    def unwatch(self, account: AccountRef, name: str, wakeup: asyncio.Event) -> None:
        waiting = self._watchers.get((account, name))
        if waiting is not None:
            waiting.discard(wakeup)
            if not waiting:
                del self._watchers[(account, name)]

    def _wake(self, account: AccountRef, name: str) -> None:
        for wakeup in self._watchers.get((account, name), ()):
            wakeup.set()

    def _watched(self, account: AccountRef) -> bool:
        return any(watched == account for watched, _ in self._watchers)

    async def _refresh(self, account: AccountRef) -> None:
        """Take the account's list whenever it expires, for as long as a pool of it is watched."""
        try:
            while True:
                await self._sleep(self._listing.expires_in(account))
                if not self._watched(account):
                    return
                try:
                    await self._listing.items(account)
                except Exception as error:  # the pools' own passes report Azure errors to users
                    _log.warning("account list failed", account=account.arm_id, error=str(error))
                    await self._sleep(self._resync)
        finally:
            self._refreshers.pop(account, None)

    async def close(self) -> None:
        """Stop the list refreshers (the operator is shutting down)."""
        tasks = list(self._refreshers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def node_counts(self, account: AccountRef, name: str) -> NodeCounts | None:
        return (await self._counts.items(account)).get(name)
