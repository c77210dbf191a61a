"""The operator's heap is frozen out of the collector's scans once it has settled, and garbage held
in a cycle is still collected, at the next full collection."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from azbatch_operator import heap


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()  # the test process's heap and collector as they were
    gc.set_threshold(*thresholds)


def _cycle() -> weakref.ref[Node]:
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


def test_a_cycle_frozen_while_alive_waits_for_the_full_collection() -> None:
    gone = _cycle()
    gc.collect()
    assert gone() is None, "an unfrozen cycle is collected as always"

    frozen = _cycle()
    heap.settle()
    gc.collect()
    assert frozen() is not None, "frozen: out of the collector's sight"
    heap.collect_everything()
    assert frozen() is None
    assert gc.get_freeze_count() > 0, "what survived is frozen again"


async def test_nothing_is_frozen_before_start_up_is_done_then_every_interval() -> None:
    ready = asyncio.Event()
    settling = asyncio.create_task(heap.keep_settled(ready, every=0.01))
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold()[0] == heap.YOUNG, "the young generation is set from the start"
    ready.set()
    await asyncio.sleep(0.05)
    assert gc.get_freeze_count() > 0
    settling.cancel()


def test_the_young_generation_is_collected_after_many_objects_not_every_700() -> None:
    """A thousand pools' list is garbage as soon as it is compared with the last one: collected
    every 700 objects made, it would outlive two young collections and reach the oldest."""
    before = gc.get_threshold()
    heap.young_generation()
    young, middle, oldest = gc.get_threshold()
    assert young == heap.YOUNG >= 20 * before[0]
    assert (middle, oldest) == before[1:]


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(heap._TRIM is None, reason="malloc_trim is glibc's")
def test_settling_gives_freed_pages_back_to_the_system() -> None:
    """Memory freed among blocks that stay (a cold start's transient bodies between the pools'
    records) is kept by the C allocator until trimmed."""
    blocks = [bytearray(4096) for _ in range(25_000)]  # about 100 MiB, beyond pymalloc's small objects
    kept = blocks[::50]
    del blocks
    before = _rss_mib()
    heap.settle()
    after = _rss_mib()
    assert before - after > 40, f"RSS {before:.0f} MiB -> {after:.0f} MiB"
    assert len(kept) == 500
