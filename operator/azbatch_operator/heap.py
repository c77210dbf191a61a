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
"""

from __future__ import annotations

import asyncio
import gc

FULL_EVERY = 60  # settlings between full collections of everything (an hour at one a minute)


def settle() -> None:
    """Freeze what is alive now: the next collections scan only what is made after it."""
    gc.freeze()


def collect_everything() -> None:
    """Let the collector see every object again, collect, and freeze what survived."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


async def keep_settled(ready: asyncio.Event, every: float) -> None:
    """Once start-up is done, and then every `every` seconds, freeze what is alive."""
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
