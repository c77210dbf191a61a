"""Observation that costs O(accounts), not O(pools).

Azure Resource Manager throttles reads per subscription. Polling each pool on its own spends the
budget as pools grow; instead every steady pool reads from one paged list of its account, taken
at most once per resync interval however many pools ask (single-flight). Pools with work in
progress ask for a fresh read of themselves: their own GET while they are few, and while more of
an account's pools are in progress than its list has pages and than a thirtieth of its pools (ten
thousand pools created at once), a list of the account at most `active` seconds old, shared by all
of them (`list_is_cheaper`: fewer ARM reads and less CPU), as long as it was sent after their last
write (else their own GET). What a fresh GET or a write returns refreshes the shared list. A
pool a new list shows changed is woken at once (`watch`), so drift is seen within one interval.
Data-plane node counts are shared per account the same way.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from azbatch_operator.cloud.clients import AccountRef
from azbatch_operator.cloud.nodes import NodeCounts, NodeGateway, counted_nodes
from azbatch_operator.cloud.pools import LIST_PAGE, ArmPool, PoolGateway
from azbatch_operator.logs import get_logger

_log = get_logger()

T = TypeVar("T")


class Wakeable(Protocol):
    """What a watcher hands over to be woken (a pool loop's `Wakeup`, or an `asyncio.Event`)."""

    def set(self) -> None: ...


@dataclass
class _Snapshot(Generic[T]):
    items: dict[str, T]
    taken: float
    started: float = 0.0  # when the fetch was sent: what it shows is at least this recent


# What reading a pool in the account's list costs the operator against reading it by its own GET,
# in CPU: a GET through the SDK's pipeline took 0.6 ms, a 1,000-pool page 21 ms (and the page's
# objects outlive the collector's young generations as the GET's don't). So a list is the cheaper
# read only for more pools in progress than a thirtieth of the account, whatever its ARM reads.
LISTED_POOLS_PER_GET = 30


def list_is_cheaper(in_progress: int, pools: int, page: int = LIST_PAGE) -> bool:
    """Whether one list of the account costs fewer ARM reads, and less of the operator's CPU, than
    a GET per pool in progress: many pools of the account at once (a cold start), not a few."""
    return in_progress > max(1, math.ceil(pools / page), pools / LISTED_POOLS_PER_GET)


@dataclass
class SharedListing(Generic[T]):
    """A per-account listing, refreshed at most every `max_age` seconds, one refresh at a time."""

    fetch: Callable[[AccountRef], Awaitable[dict[str, T]]]
    max_age: float
    clock: Callable[[], float] = time.monotonic
    on_change: Callable[[AccountRef, str], None] | None = None  # an item differs from the last list
    _snapshots: dict[AccountRef, _Snapshot[T]] = field(default_factory=dict)
    _locks: dict[AccountRef, asyncio.Lock] = field(default_factory=dict)

    async def items(self, account: AccountRef, *, max_age: float | None = None) -> dict[str, T]:
        """The account's listing, taken again when older than `max_age` (default: the listing's)."""
        limit = self.max_age if max_age is None else max_age
        snapshot = self._snapshots.get(account)
        if snapshot is not None and self.clock() - snapshot.taken < limit:
            return snapshot.items
        lock = self._locks.setdefault(account, asyncio.Lock())
        async with lock:
            snapshot = self._snapshots.get(account)
            if snapshot is None or self.clock() - snapshot.taken >= limit:
                previous = snapshot
                started = self.clock()
                snapshot = _Snapshot(await self.fetch(account), self.clock(), started)
                self._snapshots[account] = snapshot
                if previous is not None:
                    self._keep_unchanged(account, previous.items, snapshot.items)
        return snapshot.items

    def sent_after(self, account: AccountRef, moment: float | None) -> bool:
        """Whether the account's current listing was asked for after `moment` (None: any time)."""
        snapshot = self._snapshots.get(account)
        return snapshot is not None and (moment is None or snapshot.started > moment)

    def forget(self, account: AccountRef) -> None:
        """Drop the account's listing (nobody reads it any more: its pools are not held in memory)."""
        self._snapshots.pop(account, None)

    def size(self, account: AccountRef) -> int:
        snapshot = self._snapshots.get(account)
        return 0 if snapshot is None else len(snapshot.items)

    def _keep_unchanged(self, account: AccountRef, before: dict[str, T], after: dict[str, T]) -> None:
        """Keep the last list's object for an item the new list shows unchanged, so a reader holding
        it sees the very same object (one copy per item, and `is` answers "unchanged?"); tell the
        items that changed or went."""
        for name, item in after.items():
            kept = before.get(name)
            if kept is None or kept != item:
                self._changed(account, name)
            else:
                after[name] = kept
        for name in before.keys() - after.keys():
            self._changed(account, name)

    def _changed(self, account: AccountRef, name: str) -> None:
        if self.on_change is not None:
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
        active: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._pools = pools
        self._listing: SharedListing[ArmPool] = SharedListing(pools.list, resync, clock, on_change=self._wake)
        # Fresh reads of many pools in progress at once: the account's list, at most `active` old.
        self._active_listing: SharedListing[ArmPool] = SharedListing(pools.list, active, clock)
        self._in_progress: dict[AccountRef, dict[str, float]] = {}  # pool -> last fresh read asked
        self._written: dict[tuple[AccountRef, str], float] = {}  # pool -> when we last wrote it
        self._pruned: dict[AccountRef, float] = {}  # when pools no longer in progress were last dropped
        self._active, self._clock = active, clock
        self._watchers: dict[tuple[AccountRef, str], set[Wakeable]] = {}
        self._refreshers: dict[AccountRef, asyncio.Task[None]] = {}
        self._counts: SharedListing[NodeCounts] = SharedListing(nodes.node_counts, health, clock)
        self._resync, self._sleep = resync, sleep

    async def pool(self, account: AccountRef, name: str, *, fresh: bool) -> ArmPool | None:
        """The pool from the account's shared list, or (fresh) as it is now: from its own GET, or
        from a list sent after our last write of it when that costs fewer reads (many in progress)."""
        if not fresh:
            asking = self._in_progress.get(account, {})
            if asking.pop(name, None) is not None and not asking:
                self._active_listing.forget(account)  # the last pool in progress settled
            return (await self._listing.items(account)).get(name)
        if list_is_cheaper(self._count_in_progress(account, name), self._listing.size(account)):
            listed = await self._active_listing.items(account)  # taken again once `active` old
            if self._active_listing.sent_after(account, self._written.get((account, name))):
                pool = listed.get(name)
                # The freshest view of the pool, kept where its next steady pass reads it, as a GET's
                # is: a pass that decides whether to drain must not see the pool as it was before.
                self._listing.put(account, name, pool)
                return pool
            # That list was sent before our last write of this pool (read again sooner than
            # `active` after it): it may not show the write, so the pool reads itself.
        else:
            self._active_listing.forget(account)  # the cold start is over: a copy of every pool less
        return await self.read_now(account, name)

    async def read_now(self, account: AccountRef, name: str) -> ArmPool | None:
        """The pool by its own GET, whatever else is in progress (a decision to take nodes away is
        made on nothing older), folded into the shared list as a fresh read always is."""
        pool = await self._pools.get(account, name)
        self._listing.put(account, name, pool)
        return pool

    def _count_in_progress(self, account: AccountRef, name: str) -> int:
        """Pools of the account that asked for a fresh read within the last two active intervals."""
        now = self._clock()
        asking = self._in_progress.setdefault(account, {})
        asking[name] = now
        if now >= self._pruned.get(account, 0.0) + self._active:  # once an interval, not every read
            self._pruned[account] = now
            for other, since in list(asking.items()):
                if now - since > 2 * self._active:
                    del asking[other]
        return len(asking)

    def remember(self, account: AccountRef, name: str, pool: ArmPool | None) -> None:
        """What a write returned is the freshest view there is."""
        self.wrote(account, name)
        self._listing.put(account, name, pool)

    def wrote(self, account: AccountRef, name: str) -> None:
        """We just changed this pool: a list sent before now no longer shows it as it is."""
        self._written[(account, name)] = self._clock()

    def watch(self, account: AccountRef, name: str, wakeup: Wakeable) -> None:
        """Set `wakeup` whenever a new list shows this pool changed (or gone) since the last one.

        While any pool of the account is watched, the account's list is taken once per interval on
        its own schedule, and every pool it shows changed (drift, someone's edit in the portal) is
        woken at once; the others sleep on in their own phase. So drift is seen within one interval
        at one read per interval, however many pools there are and however their passes line up."""
        self._watchers.setdefault((account, name), set()).add(wakeup)
        if account not in self._refreshers:
            self._refreshers[account] = asyncio.get_running_loop().create_task(self._refresh(account))

    def unwatch(self, account: AccountRef, name: str, wakeup: Wakeable) -> None:
        waiting = self._watchers.get((account, name))
        if waiting is not None:
            waiting.discard(wakeup)
            if not waiting:
                del self._watchers[(account, name)]
                self._written.pop((account, name), None)
                self._in_progress.get(account, {}).pop(name, None)

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

    async def node_counts(self, account: AccountRef, name: str, *, nodes: int = 0) -> NodeCounts | None:
        """The pool's node counts from the account's shared call. A pool missing from it, or shown
        there without any of the `nodes` Azure Resource Manager says it has (its nodes came after
        the call was taken: a cold start), asks for it again once it is an active interval old,
        shared by every such pool of the account, not a node list per pool."""
        counts = (await self._counts.items(account)).get(name)
        if counts is None or (nodes > 0 and counted_nodes(counts) == 0):
            counts = (await self._counts.items(account, max_age=self._active)).get(name)
        return counts
