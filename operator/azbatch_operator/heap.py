"""The garbage collector, set for the operator's heap: many long-lived objects, a little churn.

Ten thousand BatchPools are millions of objects that live as long as their BatchPool (kopf's copy
of each object, its daemon, the account lists, the validated specs). CPython's collector scans
every one of them in each full collection: at that size a pause of seconds for the event loop, and
with the default thresholds a full collection came every few seconds during a cold start (a third
of the CPU) and every few resyncs afterwards (the seconds-long tail of the spec-change latency).

So what has lived through a settling interval is frozen (`gc.freeze`): moved out of the
collector's sight, as long-lived services do after warming up. Memory is still freed by reference
counting the moment an object is no longer used; only garbage held in a reference cycle among
frozen objects waits, for the full collection made every `FULL_EVERY` settlings (everything
unfrozen, collected, frozen again): one pause an hour, where the defaults made one a minute.

A cold start leaves freed memory scattered among the objects that stay (the watch events, lists
and Event bodies of ten thousand pools in creation). The C allocator keeps the free pages it cannot
give back from the top of its heap; each settling hands them back to the system (`malloc_trim`,
glibc only): 76 MiB of 857 after a 10,000-pool cold start, in 7 ms.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
from collections.abc import Callable

FULL_EVERY = 60  # settlings between full collections of everything (an hour at one a minute)
# Objects made between two collections of the youngest generation (CPython's default is 700). A
# list of an account's thousand pools is some 25,000 objects, most of them garbage as soon as it
# is compared with the last list: collected every 700, they outlive two collections, move to the
# oldest generation, and bring on its full collections. Collected every YOUNG, they die young.
YOUNG = 20_000


def young_generation() -> None:
    """Collect the youngest generation every YOUNG objects made, not every 700."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, oldest)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, where the C library is glibc (not musl, not macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the C allocator's free pages to the system."""
    if _TRIM is not None:
        _TRIM(0)


def settle() -> None:
    """Freeze what is alive now: the next collections scan only what is made after it."""
    gc.freeze()
    give_back()


def collect_everything() -> None:
    """Let the collector see every object again, collect, and freeze what survived."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    give_back()


async def keep_settled(ready: asyncio.Event, every: float) -> None:
    """Once start-up is done, and then every `every` seconds, freeze what is alive."""
    young_generation()
    await ready.wait()
    collect_everything()  # start-up's garbage goes; modules, classes and models are frozen
    settlings = 0
    while True:
        await asyncio.sleep(every)
        settlings += 1
        if settlings % FULL_EVERY == 0:
            collect_everything()
        else:
            settle()
