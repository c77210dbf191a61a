"""Each BatchPool's reconcile loop, as one task of the operator's own (not a kopf daemon).

A loop runs a pass, sleeps until the next is due or it is woken (a new spec, an approval, a change
Azure's list shows), and runs the next on the object as the watch last showed it. Ten thousand of
them live at once, so a loop holds only its task, its `PoolMemory` and the latest body: a kopf
daemon held some 13 KB more a pool (eleven coroutines, three tasks, a stopper with a threading and
an asyncio event, loggers, patches and the records around them), about 130 MB at 10,000 pools.

What kopf's daemons gave, kept here:
- A loop starts at an object's first watch event, unless the object is already being deleted.
- Deletion stops it: the finalizer (`handlers.release`) acts only once the loop's last pass has
  ended, or was cancelled after `cancel_after` seconds, so no pass writes to a pool the finalizer
  has let go or takes a budget place after it was given up.
- A pass that raises is logged and the loop runs again after `backoff` seconds (passes are
  level-based: running one again is always safe).
- The operator's exit stops every loop the same way (`stop_all`, from kopf's cleanup); a lost
  leader Lease cancels every pass at once (`cancel_all`, from `runner`), as client-go's leader
  election ends a process that stopped leading.

kopf's peering ("freeze" while another operator leads) paused only kopf's own daemons, so the
operator no longer offers it: replicas take turns through the leader Lease (`runner`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from azbatch_operator.logs import get_logger
from azbatch_operator.reconciler import PoolMemory

# One pass: the pool's memory and its latest body in, seconds until the next pass out.
Pass = Callable[[PoolMemory, Mapping[str, Any]], Awaitable[float]]


class PoolLoop:
    """One BatchPool's loop: what it remembers, the body it will read next, its task."""

    __slots__ = ("body", "memory", "stopping", "task")

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.memory = PoolMemory()
        self.stopping = False
        self.task: asyncio.Task[None] | None = None


class PoolLoops:
    """Every BatchPool's loop, by uid: started, fed and stopped from the watch events."""

    def __init__(
        self,
        run_pass: Pass,
        *,
        ended: Callable[[PoolMemory], None] = lambda _: None,
        backoff: float = 5.0,
        cancel_after: float = 10.0,
    ) -> None:
        self._run_pass = run_pass
        self._ended = ended  # after a loop's last pass (the edges let go of what it watched)
        self.backoff = backoff
        self.cancel_after = cancel_after
        self._loops: dict[str, PoolLoop] = {}

    def __len__(self) -> int:
        return len(self._loops)

    def memory(self, uid: str) -> PoolMemory | None:
        loop = self._loops.get(uid)
        return None if loop is None else loop.memory

    def follow(self, uid: str, body: Mapping[str, Any], *, gone: bool = False) -> PoolMemory | None:
        """A watch event of the object: its loop reads `body` at its next pass; the first event
        starts the loop, one being deleted stops it, one gone (DELETED) lets it go as well.
        Returns the loop's memory (None: no loop runs for the object)."""
        loop = self._loops.get(uid)
        deleting = gone or bool((body.get("metadata") or {}).get("deletionTimestamp"))
        if loop is None:
            if deleting:
                return None
            loop = self._loops[uid] = PoolLoop(body)
            loop.task = asyncio.create_task(self._run(loop), name=f"pool loop {uid}")
            return loop.memory
        loop.body = body
        if deleting:
            self._stop(loop)
        if gone:
            self._loops.pop(uid, None)
        return loop.memory

    async def stop(self, uid: str) -> None:
        """Stop the object's loop and return once its last pass has ended (cancelled after
        `cancel_after` seconds)."""
        loop = self._loops.get(uid)
        if loop is not None:
            self._stop(loop)
            await self._ended_or_cancelled(loop)

    async def stop_all(self) -> None:
        """Stop every loop (the operator exits): each pass under way may end, for a while."""
        loops = list(self._loops.values())
        for loop in loops:
            self._stop(loop)
        await asyncio.gather(*(self._ended_or_cancelled(loop) for loop in loops))
        self._loops.clear()

    def cancel_all(self) -> None:
        """Stop every loop now, its pass under way at its next await (leadership is lost: another
        replica may act from the Lease's expiry on, so no pass of this one may run past it)."""
        for loop in self._loops.values():
            self._stop(loop)
            if loop.task is not None:
                loop.task.cancel()

    def forget(self, uid: str) -> None:
        """The object is gone for good (its finalizer is done): nothing of it stays."""
        loop = self._loops.pop(uid, None)
        if loop is not None:
            self._stop(loop)

    @staticmethod
    def _stop(loop: PoolLoop) -> None:
        loop.stopping = True
        loop.memory.wakeup.set()

    async def _ended_or_cancelled(self, loop: PoolLoop) -> None:
        task = loop.task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=self.cancel_after)
        if not done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, loop: PoolLoop) -> None:
        memory = loop.memory
        try:
            while not loop.stopping:
                memory.wakeup.clear()
                try:
                    delay = await self._run_pass(memory, loop.body)
                except Exception as error:  # a loop outlives its passes' failures
                    name = (loop.body.get("metadata") or {}).get("name")
                    # One line a failure (a pass that fails keeps failing every few seconds),
                    # masked like every line the operator writes.
                    failure = f"{type(error).__name__}: {error}"
                    get_logger(name=name).error("pass failed", error=failure, retry_in=self.backoff)
                    delay = self.backoff
                if delay > 0 and not loop.stopping:
                    await memory.wakeup.sleep(delay)
        finally:
            self._ended(memory)
