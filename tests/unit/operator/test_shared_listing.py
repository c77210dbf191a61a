"""One list per account per interval, on its own schedule, and the pools it shows changed are
woken at once; the others sleep on."""

from __future__ import annotations

import asyncio
from typing import Any

from azbatch_operator.cloud.clients import AccountRef
from azbatch_operator.cloud.observer import AccountObserver, list_is_cheaper

ACCOUNT = AccountRef("sub", "rg", "acct")
INTERVAL = 60.0
ACTIVE = 5.0


class FakePools:
    """The account's pools as Azure would list them, and how many lists were taken."""

    def __init__(self, **pools: dict[str, Any]) -> None:
        self.pools = pools
        self.lists = 0
        self.gets = 0

    async def list(self, account: AccountRef) -> dict[str, dict[str, Any]]:
        self.lists += 1
        return {name: dict(pool) for name, pool in self.pools.items()}

    async def get(self, account: AccountRef, name: str) -> dict[str, Any] | None:
        self.gets += 1
        pool = self.pools.get(name)
        return None if pool is None else dict(pool)


class NoNodes:
    async def node_counts(self, account: AccountRef) -> dict[str, Any]:
        return {}


class Time:
    """A clock that moves only when the refresher's sleep is let go, by what it asked to sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.asked: list[float] = []
        self._gate: asyncio.Queue[None] = asyncio.Queue()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self._gate.get()
        self.now += seconds

    async def tick(self) -> None:
        """Let the sleeping refresher wake, and run until it sleeps again."""
        self._gate.put_nowait(None)
        for _ in range(10):
            await asyncio.sleep(0)


def observer_of(pools: FakePools, time: Time) -> AccountObserver:
    return AccountObserver(
        pools,  # type: ignore[arg-type]
        NoNodes(),  # type: ignore[arg-type]
        resync=INTERVAL,
        health=INTERVAL,
        active=ACTIVE,
        clock=time.clock,
        sleep=time.sleep,
    )


async def test_the_list_is_taken_every_interval_and_wakes_exactly_the_pools_it_shows_changed() -> None:
    pools = FakePools(a={"target": 1}, b={"target": 1}, c={"target": 1})
    time = Time()
    observer = observer_of(pools, time)
    woken = {name: asyncio.Event() for name in "abc"}
    for name, event in woken.items():
        observer.watch(ACCOUNT, name, event)

    await time.tick()
    assert pools.lists == 1, "one list for the account, not one read per pool"
    assert not any(event.is_set() for event in woken.values()), "the first list has nothing to compare"
    assert await observer.pool(ACCOUNT, "a", fresh=False) == {"target": 1}
    assert pools.lists == 1 and time.asked[-1] == INTERVAL

    pools.pools["b"] = {"target": 5}  # scaled behind the operator's back
    del pools.pools["c"]  # deleted in the portal
    await time.tick()
    assert pools.lists == 2
    assert {name for name, event in woken.items() if event.is_set()} == {"b", "c"}
    await observer.close()


async def test_an_item_a_new_list_shows_unchanged_is_the_object_the_last_list_gave() -> None:
    pools = FakePools(a={"target": 1}, b={"target": 1})
    time = Time()
    observer = observer_of(pools, time)
    observer.watch(ACCOUNT, "a", asyncio.Event())
    await time.tick()
    first = {name: await observer.pool(ACCOUNT, name, fresh=False) for name in "ab"}
    pools.pools["b"] = {"target": 2}
    await time.tick()
    assert pools.lists == 2
    assert await observer.pool(ACCOUNT, "a", fresh=False) is first["a"], (
        "one copy per pool, and a steady pool's pass asks `is`, not a deep comparison"
    )
    assert await observer.pool(ACCOUNT, "b", fresh=False) == {"target": 2}
    await observer.close()


async def test_a_pools_own_read_wakes_nobody_and_an_unwatched_account_is_not_listed() -> None:
    pools = FakePools(a={"target": 1})
    time = Time()
    observer = observer_of(pools, time)
    woken = asyncio.Event()
    observer.watch(ACCOUNT, "a", woken)
    await time.tick()

    pools.pools["a"] = {"target": 2}
    assert await observer.pool(ACCOUNT, "a", fresh=True) == {"target": 2}  # its own GET, folded in
    await time.tick()
    assert pools.lists == 2 and not woken.is_set(), "the list only repeats what the pool read itself"

    observer.unwatch(ACCOUNT, "a", woken)
    await time.tick()
    assert pools.lists == 2, "nobody watches the account any more: no list"
    await observer.close()


async def test_a_few_pools_in_progress_read_themselves() -> None:
    pools = FakePools(a={"target": 1}, b={"target": 1})
    observer = observer_of(pools, Time())
    assert await observer.pool(ACCOUNT, "a", fresh=True) == {"target": 1}
    assert (pools.gets, pools.lists) == (1, 0), "one pool in progress: its GET is the cheapest read"


async def test_many_pools_in_progress_share_one_list_sent_after_their_last_write() -> None:
    names = [f"p{i}" for i in range(20)]
    pools = FakePools(**{name: {"state": "resizing"} for name in names})
    time = Time()
    observer = observer_of(pools, time)
    for name in names:  # twenty creates
        observer.remember(ACCOUNT, name, {"state": "created"})
    time.now += ACTIVE  # their next passes, an active interval later
    for name in names:
        assert await observer.pool(ACCOUNT, name, fresh=True) == {"state": "resizing"}
    assert pools.lists == 1, "more pools in progress than the list has pages: one list serves them"
    assert pools.gets == 1, "only the first, still alone in progress, read itself"

    time.now += 1.0
    pools.pools["p3"] = {"state": "patched"}
    observer.remember(ACCOUNT, "p3", {"state": "patched"})  # our write, after that list was sent
    assert await observer.pool(ACCOUNT, "p3", fresh=True) == {"state": "patched"}
    assert (pools.lists, pools.gets) == (1, 2), "a list sent before our write is not read as the pool's state"

    time.now += ACTIVE
    assert await observer.pool(ACCOUNT, "p3", fresh=True) == {"state": "patched"}
    assert pools.lists == 2, "an active interval later the list is taken again, and shows the write"

    assert await observer.pool(ACCOUNT, "p5", fresh=False) == {"state": "resizing"}  # the steady list
    pools.pools["p5"] = {"state": "steady", "nodes": 3}
    time.now += ACTIVE
    assert await observer.pool(ACCOUNT, "p5", fresh=True) == {"state": "steady", "nodes": 3}
    assert await observer.pool(ACCOUNT, "p5", fresh=False) == {"state": "steady", "nodes": 3}, (
        "the pool's next steady pass sees what its last fresh read saw, never the older list"
    )


def test_a_list_is_cheaper_when_more_pools_are_in_progress_than_it_has_pages() -> None:
    assert not list_is_cheaper(1, 0)
    assert list_is_cheaper(2, 10)
    assert not list_is_cheaper(3, 90)  # one page, but a list of 90 pools costs more CPU than 3 GETs
    assert list_is_cheaper(4, 90)


def test_a_few_pools_in_progress_among_many_read_themselves_not_the_whole_account() -> None:
    """A handful of spec changes in an account of a thousand pools: parsing the whole list for
    each round of their reads would cost the operator more than their GETs (one page or not)."""
    assert not list_is_cheaper(2, 1000)
    assert not list_is_cheaper(33, 1000)
    assert list_is_cheaper(34, 1000)  # a cold start
    assert not list_is_cheaper(300, 10_000)
    assert list_is_cheaper(334, 10_000)


async def test_a_read_for_taking_nodes_away_is_the_pools_own_get_even_in_a_cold_start() -> None:
    names = [f"p{i}" for i in range(20)]
    pools = FakePools(**{name: {"nodes": 0} for name in names})
    time = Time()
    observer = observer_of(pools, time)
    for name in names:
        await observer.pool(ACCOUNT, name, fresh=True)  # many in progress: they share a list
    assert await observer.pool(ACCOUNT, "p7", fresh=False) == {"nodes": 0}  # the steady list
    lists, gets = pools.lists, pools.gets
    pools.pools["p7"] = {"nodes": 2}  # resized by someone else since those lists
    assert await observer.read_now(ACCOUNT, "p7") == {"nodes": 2}
    assert (pools.lists, pools.gets) == (lists, gets + 1)
    assert await observer.pool(ACCOUNT, "p7", fresh=False) == {"nodes": 2}, "folded into the steady list"
    assert pools.lists == lists


class Counts:
    """The account's node counts as Batch reports them: only pools that had nodes when asked."""

    def __init__(self) -> None:
        self.pools: dict[str, Any] = {}
        self.calls = 0

    async def node_counts(self, account: AccountRef) -> dict[str, Any]:
        self.calls += 1
        return dict(self.pools)


def _counting_observer(counts: Counts, time: Time) -> AccountObserver:
    return AccountObserver(
        FakePools(),  # type: ignore[arg-type]
        counts,  # type: ignore[arg-type]
        resync=INTERVAL,
        health=INTERVAL,
        active=ACTIVE,
        clock=time.clock,
        sleep=time.sleep,
    )


async def test_pools_missing_from_the_node_counts_share_one_new_call_an_active_interval_later() -> None:
    """A cold start: pools get their nodes after the account's counts were taken. They ask for
    the counts again, one call for all of them, not a node list each."""
    counts, time = Counts(), Time()
    observer = _counting_observer(counts, time)
    assert await observer.node_counts(ACCOUNT, "p0") is None
    assert counts.calls == 1, "taken just now: not taken again at once"

    counts.pools = {f"p{i}": {"dedicated": {"idle": 1}} for i in range(50)}
    time.now += ACTIVE
    for i in range(50):
        assert await observer.node_counts(ACCOUNT, f"p{i}") == {"dedicated": {"idle": 1}}
    assert counts.calls == 2, "one call serves every pool that was missing"
    assert await observer.node_counts(ACCOUNT, "gone") is None
    assert counts.calls == 2, "a pool still missing waits an active interval, whatever it asks"


async def test_pools_shown_without_the_nodes_arm_shows_ask_again_an_active_interval_later() -> None:
    """A service that lists every pool, those without nodes too: a pool whose nodes came after the
    counts were taken is shown with none. It asks again like a missing pool, once, for all of them."""
    counts, time = Counts(), Time()
    empty = {"dedicated": {"total": 0}, "lowPriority": {"total": 0}}
    counts.pools = {f"p{i}": empty for i in range(20)}
    observer = _counting_observer(counts, time)
    assert await observer.node_counts(ACCOUNT, "p0", nodes=1) == empty
    assert counts.calls == 1, "taken just now: not taken again at once"

    counts.pools = {f"p{i}": {"dedicated": {"total": 1}} for i in range(20)}
    time.now += ACTIVE
    for i in range(20):
        assert await observer.node_counts(ACCOUNT, f"p{i}", nodes=1) == {"dedicated": {"total": 1}}
    assert counts.calls == 2, "one call serves every pool shown without its nodes"
    counts.pools = {"p0": empty}
    time.now += ACTIVE
    assert await observer.node_counts(ACCOUNT, "p0") == {"dedicated": {"total": 1}}, (
        "a pool without nodes waits"
    )
    assert counts.calls == 2
