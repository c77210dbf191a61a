"""A BatchPool's loop: started by its first watch event, reading the latest body at each pass,
stopped by its deletion before the finalizer acts, and never lost to a pass that raised."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from azbatch_operator.loops import PoolLoops
from azbatch_operator.reconciler import PoolMemory


def _body(generation: int = 1, *, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "uid": "u", "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T07:00:00Z"
    return {"metadata": meta}


class Passes:
    """A pass that records the generation it read, sleeping `takes` seconds on the way."""

    def __init__(self, *, takes: float = 0.0, delay: float = 60.0) -> None:
        self.read: list[int] = []
        self.takes = takes
        self.delay = delay
        self.ended = 0

    async def __call__(self, memory: PoolMemory, body: Mapping[str, Any]) -> float:
        self.read.append(body["metadata"]["generation"])
        await asyncio.sleep(self.takes)
        self.ended += 1
        return self.delay


def test_the_first_event_starts_one_loop_and_later_passes_read_the_latest_body() -> None:
    passes = Passes()

    async def story() -> None:
        loops = PoolLoops(passes)
        memory = loops.follow("u", _body(1))
        assert memory is not None and loops.follow("u", _body(1)) is memory and len(loops) == 1
        await asyncio.sleep(0.05)
        loops.follow("u", _body(2))
        memory.wakeup.set()  # what `handlers.changed` does for a new generation
        await asyncio.sleep(0.05)
        await loops.stop_all()

    asyncio.run(story())
    assert passes.read == [1, 2]


def test_an_object_first_seen_being_deleted_gets_no_loop() -> None:
    passes = Passes()

    async def story() -> None:
        loops = PoolLoops(passes)
        assert loops.follow("u", _body(deleting=True)) is None
        await asyncio.sleep(0.05)
        assert len(loops) == 0

    asyncio.run(story())
    assert passes.read == []


def test_the_finalizer_starts_once_the_pass_under_way_has_ended() -> None:
    passes = Passes(takes=0.2)
    order: list[str] = []

    async def story() -> None:
        loops = PoolLoops(passes, ended=lambda _: order.append("loop ended"))
        loops.follow("u", _body())
        await asyncio.sleep(0.05)  # the first pass is under way
        loops.follow("u", _body(deleting=True))
        await loops.stop("u")  # what `handlers.release` does before it acts
        order.append("finalizer")

    asyncio.run(story())
    assert passes.ended == 1, "the pass under way was let finish, and no other began"
    assert order == ["loop ended", "finalizer"]


def test_a_pass_that_never_ends_holds_the_finalizer_only_for_the_cancellation_time() -> None:
    passes = Passes(takes=3600.0)

    async def story() -> float:
        loops = PoolLoops(passes, cancel_after=0.1)
        loops.follow("u", _body())
        await asyncio.sleep(0.01)
        clock = asyncio.get_running_loop().time
        begun = clock()
        await loops.stop("u")
        return clock() - begun

    assert 0.1 <= asyncio.run(story()) < 1.0
    assert passes.ended == 0, "cancelled"


def test_a_pass_that_raises_is_run_again_after_the_backoff() -> None:
    calls: list[float] = []

    async def failing_once(memory: PoolMemory, body: Mapping[str, Any]) -> float:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 1:
            raise RuntimeError("status write cut off")
        return 60.0

    async def story() -> None:
        loops = PoolLoops(failing_once, backoff=0.1)
        loops.follow("u", _body())
        await asyncio.sleep(0.3)
        await loops.stop_all()

    asyncio.run(story())
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.1


def test_the_object_gone_lets_its_loop_go() -> None:
    passes = Passes()

    async def story() -> int:
        loops = PoolLoops(passes)
        loops.follow("u", _body())
        await asyncio.sleep(0.01)
        loops.follow("u", _body(), gone=True)  # DELETED without our finalizer (removed by hand)
        await asyncio.sleep(0.01)
        return len(loops)

    assert asyncio.run(story()) == 0
    assert passes.read == [1]
