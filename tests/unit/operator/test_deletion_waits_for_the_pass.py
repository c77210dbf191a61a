"""The finalizer does not act on a pool while its loop's last pass still may (kopf runs deletion
handlers while it stops the loop): it starts once that pass has ended, or kopf has cancelled it."""

from __future__ import annotations

import asyncio

from azbatch_operator.handlers import after_the_last_pass
from azbatch_operator.reconciler import PoolMemory


def test_the_finalizer_starts_after_the_pass_under_way() -> None:
    memory = PoolMemory(in_pass=True)
    order: list[str] = []

    async def last_pass() -> None:
        await asyncio.sleep(0.2)
        order.append("pass ended")
        memory.in_pass = False

    async def both() -> None:
        passing = asyncio.create_task(last_pass())
        await after_the_last_pass(memory, limit=5.0)
        order.append("finalizer")
        await passing

    asyncio.run(both())
    assert order == ["pass ended", "finalizer"]


def test_a_pass_that_never_ends_holds_the_finalizer_only_as_long_as_kopf_would() -> None:
    memory = PoolMemory(in_pass=True)
    started = asyncio.run(_timed(memory))
    assert 0.1 <= started < 1.0


async def _timed(memory: PoolMemory) -> float:
    loop = asyncio.get_running_loop()
    begun = loop.time()
    await after_the_last_pass(memory, limit=0.1)
    return loop.time() - begun
