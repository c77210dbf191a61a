"""kopf handlers only: each gathers its inputs, calls the reconciler, and hands results back to kopf.

- one daemon per BatchPool runs the reconcile loop (level-based: look, decide, do one step, sleep
  until the next step is due or the spec changes);
- a spec change wakes that daemon at once (reaction time is the watch latency, not a timer);
- deletion runs the finalizer: delete, orphan or leave the pool per policy and ownership.

A spec change is a new `metadata.generation` (the API server bumps it on every spec change, never
on status or metadata), read from the watch events themselves. So kopf's diff-based change
detection is not used, and nothing stores a diff base on the objects: at creation the operator
writes the finalizer and the status, not a `last-handled-configuration` annotation besides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import kopf

from azbatch_operator.cloud.clients import AzureClients
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.config import OperatorConfig
from azbatch_operator.convergence import APPROVE_ANNOTATION
from azbatch_operator.error_policy import classify, retry_delay
from azbatch_operator.kube.api import GROUP, LIST_PAGE, PLURAL, VERSION
from azbatch_operator.logs import redact
from azbatch_operator.reconciler import EventSink, PoolMemory, Runtime, finalize, reconcile, stop_watching
from azbatch_operator.wiring import build_runtime

FINALIZER = "azbatch.dev/finalizer"
ANNOTATIONS_PREFIX = "azbatch.dev"
DELETE_WAIT = 300.0  # seconds a delete handler waits in place before handing the retry to kopf
LOOP_CANCELLATION = 10.0  # seconds kopf lets a pool's loop finish its pass once told to stop


class NoDiffBase(kopf.DiffBaseStorage):
    """Keeps no diff base: no handler here compares an object's old and new essence (spec changes
    are generations, see the module's docstring), so storing one would be a write per object.

    Every object's essence, stored and current, is the same empty one: kopf sees no change in any
    watch event (a "no-op" cause) instead of a creation at every one (no stored base), so it does
    not copy, compare and format each object at each of its status writes for handlers that do not
    exist. Deletion is told by `deletionTimestamp`, not by the essence, so `release` runs as before.
    """

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return kopf.BodyEssence()

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[kopf.FieldSpec] | None = None
    ) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


class _QuietWakeups(logging.Filter):
    """kopf logs every event handler's success at INFO: for `changed`, a line per watch event of
    every BatchPool (each status write), telling nothing. Its failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.msg == "Handler 'changed' succeeded.")


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config: OperatorConfig = memo["config"]
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATIONS_PREFIX)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.level = logging.WARNING  # our own events are explicit; kopf's chatter stays in logs
    objects = logging.getLogger("kopf.objects")
    if not any(isinstance(f, _QuietWakeups) for f in objects.filters):
        objects.addFilter(_QuietWakeups())
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    # kopf's list before each watch (and after a 410), in pages. A page asked after the API server
    # compacted the list's revision away (five to ten minutes on) is a 410 that kopf does not retry:
    # the process exits and its Deployment starts it again (docs/troubleshooting.md).
    settings.watching.chunk_size = LIST_PAGE
    settings.networking.error_backoffs = [1, 2, 5, 10, 20]
    if "runtime" not in memo:
        runtime, clients = build_runtime(config)
        memo["runtime"] = runtime
        memo["clients"] = clients
        # Flows under way before a restart keep their place in the disruption budget, before any
        # pool is reconciled and could take it: those of the namespaces this operator serves.
        for account, uid, name in await runtime.kube.pools_in_disruption(memo.get("namespaces", ())):
            runtime.budget.hold(account, uid, name)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster first, then KUBECONFIG as read now (not when a library was first imported)."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        await runtime.observer.close()
        await runtime.kube.close()
    clients: AzureClients | None = memo.get("clients")
    if clients is not None:
        await clients.close()


def _memory(memo: kopf.Memo) -> PoolMemory:
    """The pool's memory, made at its first event (not one thrown away at every event, as
    `setdefault` would: `_news` asks for it at each of them)."""
    memory: PoolMemory | None = memo.get("pool")
    if memory is None:
        memory = memo["pool"] = PoolMemory()
    return memory


def _events(runtime: Runtime, body: kopf.Body) -> EventSink:
    involved = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "namespace": body.metadata.namespace,
        "name": body.metadata.name,
        "uid": body.metadata.uid,
    }

    def post(type_: str, reason: str, message: str) -> None:
        runtime.kube.event(involved, type_, reason, redact(message)[:1024])

    return post


# backoff: a pass that failed on Kubernetes itself (a status write cut off mid-way) runs again in
# seconds, not kopf's default minute; the pass is level-based, so running it again is always safe.
@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=LOOP_CANCELLATION, backoff=5.0)
async def converge(body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """The reconcile loop of one BatchPool, for as long as it exists."""
    runtime: Runtime = memo["runtime"]
    memory = _memory(memo)
    events = _events(runtime, body)
    # One waiter for the daemon's whole life wakes its sleeps when the object goes or the operator
    # stops: a sleep itself is then only a future and a timer (see `wakeup`).
    stopping = asyncio.ensure_future(stopped.wait())
    stopping.add_done_callback(lambda _: memory.wakeup.set())
    try:
        while not stopped:
            memory.wakeup.clear()
            _seen(memory, body)  # what this pass reads: later events are news
            memory.in_pass = True
            try:
                delay = await reconcile(runtime, memory, body, events)
            finally:
                memory.in_pass = False
            if delay > 0:
                await memory.wakeup.sleep(delay)
    finally:
        stopping.cancel()
        stop_watching(runtime, memory)


def _seen(memory: PoolMemory, body: kopf.Body) -> None:
    """Remember the generation and approval the loop reads, or has been woken for."""
    memory.generation_seen = body.metadata.get("generation")
    approval = body.metadata.annotations.get(APPROVE_ANNOTATION)
    if approval is not None:
        memory.approval_seen = approval


def _news(body: kopf.Body, memo: kopf.Memo, **_: Any) -> bool:
    """Whether a watch event carries a generation or an approval the pool's loop has not seen.
    Most do not (each status write is one), nor does any event before the loop's first pass
    (which reads the object as it is then), and kopf invokes no handler for those."""
    memory = _memory(memo)
    if memory.generation_seen is None:
        return False
    approval = body.metadata.annotations.get(APPROVE_ANNOTATION)
    return body.metadata.get("generation") != memory.generation_seen or (
        approval is not None and approval != memory.approval_seen
    )


@kopf.on.event(GROUP, VERSION, PLURAL, when=_news)
async def changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Wake the pool's loop at once for a new spec (a new generation) or a new approval of a
    disruption (an adopted pool): planned now, not at the next resync. Status writes, finalizers
    and other metadata change neither, so the loop's own writes never wake it."""
    memory = _memory(memo)
    _seen(memory, body)
    memory.wakeup.set()


async def after_the_last_pass(memory: PoolMemory, limit: float = LOOP_CANCELLATION + 2.0) -> None:
    """kopf runs deletion handlers while it stops the pool's loop. A pass still under way could
    write to the pool after the finalizer let it go or saw it gone (a drain's shrink, a delete, a
    create for no one) or take a budget place no one gives back: the finalizer starts once it has
    ended (kopf cancels a loop after LOOP_CANCELLATION seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    # A flag polled, not an asyncio.Event: one a pool for ten thousand pools, and only a deletion waits.
    while memory.in_pass and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def release(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Delete, orphan or leave the Azure pool; keep the finalizer until that is done.

    Waiting for Azure to finish a delete is normal, not an error: the handler waits in place
    (up to DELETE_WAIT), and only hands a retry back to kopf when Azure fails or takes longer.
    """
    runtime: Runtime = memo["runtime"]
    events = _events(runtime, body)
    await after_the_last_pass(_memory(memo))
    deadline = runtime.monotonic() + DELETE_WAIT
    while True:
        try:
            outcome = await finalize(runtime, body, events)
        except AzureCallError as error:
            verdict = classify(error.status, error.code)
            delay = retry_delay(verdict, retry_after=error.retry_after, attempt=retry)
            raise kopf.TemporaryError(redact(f"{error} {verdict.hint}".strip()), delay=delay) from error
        if outcome.done:
            return
        if runtime.monotonic() >= deadline:
            raise kopf.TemporaryError(outcome.message, delay=outcome.delay)
        await asyncio.sleep(outcome.delay)
