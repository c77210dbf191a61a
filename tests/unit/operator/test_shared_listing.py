"""One list per account per interval, and the pools it shows changed are woken at once."""

from __future__ import annotations

import asyncio
from typing import Any

from azbatch_operator.cloud.clients import AccountRef
from azbatch_operator.cloud.observer import AccountObserver

ACCOUNT = AccountRef("sub", "rg", "acct")
INTERVAL = 60.0


class FakePools:
    """The account's pools as Azure would list them, and how many lists were taken."""

    def __init__(self, **pools: dict[str, Any]) -> None:
        self.pools = pools
        self.lists = 0

    async def list(self, account: AccountRef) -> dict[str, dict[str, Any]]:
        self.lists += 1
        return {name: dict(pool) for name, pool in self.pools.items()}

    async def get(self, account: AccountRef, name: str) -> dict[str, Any] | None:
        pool = self.pools.get(name)
        return None if pool is None else dict(pool)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class NoNodes:
    async def node_counts(self, account: AccountRef) -> dict[str, Any]:
        return {}


def observer_of(pools: FakePools, clock: Clock) -> AccountObserver:
    return AccountObserver(pools, NoNodes(), resync=INTERVAL, health=INTERVAL, clock=clock)  # type: ignore[arg-type]


async def test_a_new_list_wakes_exactly_the_pools_it_shows_changed() -> None:
    pools = FakePools(a={"target": 1}, b={"target": 1}, c={"target": 1})
    clock = Clock()
    observer = observer_of(pools, clock)
    woken = {name: asyncio.Event() for name in "abc"}
    for name, event in woken.items():
        observer.watch(ACCOUNT, name, event)

    assert (await observer.pool(ACCOUNT, "a", fresh=False)) == {"target": 1}
    assert not any(event.is_set() for event in woken.values()), "the first list has nothing to compare"

    pools.pools["b"] = {"target": 5}  # scaled behind the operator's back
    del pools.pools["c"]  # deleted in the portal
    clock.now = INTERVAL - 1
    await observer.pool(ACCOUNT, "a", fresh=False)
    assert pools.lists == 1 and not woken["b"].is_set(), "the list is not taken again within the interval"

    clock.now = INTERVAL
    await observer.pool(ACCOUNT, "a", fresh=False)
    assert pools.lists == 2
    assert {name for name, event in woken.items() if event.is_set()} == {"b", "c"}


async def test_a_pools_own_read_and_a_stopped_loop_wake_nobody() -> None:
    pools = FakePools(a={"target": 1})
    clock = Clock()
    observer = observer_of(pools, clock)
    woken = asyncio.Event()
    observer.watch(ACCOUNT, "a", woken)
    await observer.pool(ACCOUNT, "a", fresh=False)

    pools.pools["a"] = {"target": 2}
    assert await observer.pool(ACCOUNT, "a", fresh=True) == {"target": 2}  # its own GET, folded in
    clock.now = INTERVAL
    await observer.pool(ACCOUNT, "a", fresh=False)
    assert not woken.is_set(), "the list only repeats what the pool already read for itself"

    observer.unwatch(ACCOUNT, "a", woken)
    pools.pools["a"] = {"target": 3}
    clock.now = 2 * INTERVAL
    await observer.pool(ACCOUNT, "a", fresh=False)
    assert not woken.is_set()
