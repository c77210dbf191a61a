"""A pool's loop sleeps until it is woken or its delay is up, and a sleep makes no task."""

from __future__ import annotations

import asyncio
import gc

from azbatch_operator.wakeup import Wakeup


async def test_a_sleep_lasts_its_delay_when_nobody_wakes_it() -> None:
    wakeup = Wakeup()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await wakeup.sleep(0.05) is False
    assert loop.time() - started >= 0.04


async def test_a_set_ends_the_sleep_at_once_and_stays_set_until_cleared() -> None:
    wakeup = Wakeup()
    sleeping = asyncio.create_task(wakeup.sleep(60))
    await asyncio.sleep(0)
    wakeup.set()
    assert await asyncio.wait_for(sleeping, timeout=1) is True
    assert await wakeup.sleep(60) is True, "set before the sleep: no sleep at all"
    wakeup.clear()
    assert not wakeup.is_set()
    assert await wakeup.sleep(0.01) is False


async def test_a_cancelled_sleep_leaves_nothing_armed() -> None:
    wakeup = Wakeup()
    sleeping = asyncio.create_task(wakeup.sleep(60))
    await asyncio.sleep(0)
    sleeping.cancel()
    await asyncio.gather(sleeping, return_exceptions=True)
    wakeup.set()  # no waiter left to resolve; nothing raises
    assert wakeup.is_set()


async def _pool_loop(wakeup: Wakeup, passes: list[int]) -> None:
    while True:
        wakeup.clear()
        passes.append(1)
        await wakeup.sleep(60)


async def test_a_sleeping_loop_holds_next_to_nothing_and_makes_no_task() -> None:
    """Ten thousand pools sleep at once, and what a sleep holds lives as long as the sleep: one
    future and one timer, not the tasks, contexts and cancelled-error tracebacks of waiting on
    several awaitables with a timeout (thirty-two objects a loop, measured)."""
    wakeups = [Wakeup() for _ in range(200)]
    passes: list[int] = []
    gc.collect()
    before = len(gc.get_objects())
    loops = [asyncio.create_task(_pool_loop(w, passes)) for w in wakeups]
    await asyncio.sleep(0)
    tasks = len(asyncio.all_tasks())
    for _ in range(3):  # every loop is woken and sleeps again
        for wakeup in wakeups:
            wakeup.set()
        await asyncio.sleep(0)
    assert len(passes) == 4 * len(wakeups)
    assert len(asyncio.all_tasks()) == tasks
    gc.collect()
    per_loop = (len(gc.get_objects()) - before) / len(loops)
    assert per_loop < 16, f"{per_loop:.0f} objects held by each sleeping loop, its own task included"
    for running in loops:
        running.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
