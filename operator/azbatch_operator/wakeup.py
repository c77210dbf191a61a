"""A flag a pool's loop sleeps on between passes: woken early by a set(), or after its delay.

Ten thousand pools sleep at once, each for a resync interval, so a sleep must cost close to
nothing. Waiting with `asyncio.wait({event.wait(), stopped.wait()}, timeout=...)` makes two tasks,
their coroutines, futures and contexts, a timer, and cancelling them afterwards a CancelledError
with its traceback: some thirty objects a sleep, which live as long as the sleep. Objects that
live that long outlast the collector's young generations, so at ten thousand pools they were most
of what its full collections scanned (the spec-change latency's tail). A `Wakeup` sleep is one
future and one timer.
"""

from __future__ import annotations

import asyncio


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Wakeup:
    """Like `asyncio.Event` for `set()`, `clear()` and `is_set()`, with `sleep(delay)` in place
    of `wait()`: return at a `set()`, or once `delay` seconds have passed."""

    __slots__ = ("_flag", "_waiter")

    def __init__(self) -> None:
        self._flag = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True
        waiter = self._waiter
        if waiter is not None:
            _expire(waiter)

    def clear(self) -> None:
        self._flag = False

    async def sleep(self, delay: float) -> bool:
        """Sleep until set or for `delay` seconds; whether it was set."""
        if self._flag:
            return True
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(delay, _expire, waiter)
        self._waiter = waiter
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        return self._flag
