"""kopf handlers only: each gathers its inputs, calls the reconciler, and hands results back to kopf.

- one loop per BatchPool runs the reconcile passes (level-based: look, decide, do one step, sleep
  until the next step is due or the spec changes); the loops are the operator's own (`loops`),
  fed from kopf's watch events;
- a spec change wakes that loop at once (reaction time is the watch latency, not a timer);
- deletion stops the loop, then runs the finalizer: delete, orphan or leave the pool per policy
  and ownership.

A spec change is a new `metadata.generation` (the API server bumps it on every spec change, never
on status or metadata), read from the watch events themselves. So kopf's diff-based change
detection is not used, and nothing stores a diff base on the objects: at creation the operator
writes the finalizer and the status, not a `last-handled-configuration` annotation besides.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from azbatch_operator.cloud.clients import AzureClients
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.config import OperatorConfig
from azbatch_operator.convergence import APPROVE_ANNOTATION
from azbatch_operator.error_policy import classify, retry_delay
from azbatch_operator.kube.api import GROUP, LIST_PAGE, PLURAL, VERSION
from azbatch_operator.leadership import Standing
from azbatch_operator.logs import redact, redact_handlers
from azbatch_operator.loops import PoolLoops
from azbatch_operator.reconciler import (
    EventSink,
    PoolMemory,
    Runtime,
    finalize,
    reconcile,
    stop_watching,
    what_a_pass_reads,
)
from azbatch_operator.wiring import build_runtime

FINALIZER = "azbatch.dev/finalizer"
ANNOTATIONS_PREFIX = "azbatch.dev"
DELETE_WAIT = 300.0  # seconds a delete handler waits in place before handing the retry to kopf
LOOP_CANCELLATION = 10.0  # seconds a pool's loop may finish its pass once told to stop
NOT_LEADING = "this replica lost the leader Lease: the replica that leads now finishes the deletion"
LOOP_BACKOFF = 5.0  # seconds before a loop whose pass raised runs again (a status write cut off mid-way)


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
    redact_handlers(objects)  # kopf's Events of a failed handler carry its message and traceback
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    # kopf's list before each watch (and after a 410), in pages. A page asked after the API server
    # compacted the list's revision away (five to ten minutes on) is a 410 that kopf does not retry:
    # the process exits and its Deployment starts it again (docs/troubleshooting.md).
    settings.watching.chunk_size = LIST_PAGE
    settings.networking.error_backoffs = [1, 2, 5, 10, 20]
    # kopf keeps a worker per object (a task, a queue, the last event's body) this long after the
    # object's last event. Through a cold start every pool has news each second, so with kopf's 5 s
    # the whole fleet holds one at once: 0.5 s took the 10,000-pool peak from 623-657 to 552 MiB.
    settings.queueing.idle_timeout = 0.5
    if "runtime" not in memo:
        runtime, clients = build_runtime(config)
        memo["runtime"] = runtime
        memo["clients"] = clients
        # Flows under way before a restart keep their place in the disruption budget, before any
        # pool is reconciled and could take it: those of the namespaces this operator serves.
        for account, uid, name in await runtime.kube.pools_in_disruption(memo.get("namespaces", ())):
            runtime.budget.hold(account, uid, name)
    if "loops" not in memo:
        memo["loops"] = _loops(memo["runtime"])


def _loops(runtime: Runtime) -> PoolLoops:
    async def one_pass(memory: PoolMemory, body: Mapping[str, Any]) -> float:
        _seen(memory, body)  # what this pass reads: later events are news
        return await reconcile(runtime, memory, body, _events(runtime, body))

    return PoolLoops(
        one_pass,
        ended=lambda memory: stop_watching(runtime, memory),
        backoff=LOOP_BACKOFF,
        cancel_after=LOOP_CANCELLATION,
    )


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster first, then KUBECONFIG as read now (not when a library was first imported)."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    loops: PoolLoops | None = memo.get("loops")
    if loops is not None:  # every pass under way ends (or is cancelled) before the clients close
        await loops.stop_all()
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        await runtime.observer.close()
        await runtime.kube.close()
    clients: AzureClients | None = memo.get("clients")
    if clients is not None:
        await clients.close()


def _events(runtime: Runtime, body: Mapping[str, Any]) -> EventSink:
    meta = body.get("metadata") or {}
    involved = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
    }

    def post(type_: str, reason: str, message: str) -> None:
        runtime.kube.event(involved, type_, reason, redact(message)[:1024])

    return post


def _seen(memory: PoolMemory, body: Mapping[str, Any]) -> None:
    """Remember the generation and approval the loop reads, or has been woken for."""
    meta = body.get("metadata") or {}
    memory.generation_seen = meta.get("generation")
    approval = (meta.get("annotations") or {}).get(APPROVE_ANNOTATION)
    if approval is not None:
        memory.approval_seen = approval


def _news(body: kopf.Body, memo: kopf.Memo, type: str | None = None, **_: Any) -> bool:
    """Every watch event of a BatchPool comes here (kopf's filter for `changed`, its cheapest hook
    on each event): the pool's loop is handed what its passes read of the body, started at the
    object's first event and stopped at its deletion (`loops`). Then, whether the event carries a
    generation or an approval the loop has not seen. Most do not (each status write is one), nor
    does any event before the loop's first pass (which reads the object as it is then), and kopf
    invokes no handler for those."""
    loops: PoolLoops = memo["loops"]
    memory = loops.follow(body.metadata.uid, what_a_pass_reads(body), gone=type == "DELETED")
    if memory is None or memory.generation_seen is None:
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
    loops: PoolLoops = memo["loops"]
    memory = loops.memory(body.metadata.uid)
    if memory is not None:
        _seen(memory, body)
        memory.wakeup.set()


def _still_leading(memo: kopf.Memo) -> None:
    """A replica that lost the Lease sends no deletion: its pool loops are cancelled at once
    (`runner.lead`), and the finalizer, which kopf lets run until it stops, hands the work on."""
    standing: Standing | None = memo.get("standing")
    if standing is not None and standing.lost:
        raise kopf.TemporaryError(NOT_LEADING, delay=LOOP_CANCELLATION)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def release(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Delete, orphan or leave the Azure pool; keep the finalizer until that is done.

    Waiting for Azure to finish a delete is normal, not an error: the handler waits in place
    (up to DELETE_WAIT), and only hands a retry back to kopf when Azure fails or takes longer.
    """
    _still_leading(memo)
    runtime: Runtime = memo["runtime"]
    loops: PoolLoops = memo["loops"]
    events = _events(runtime, body)
    # The loop stops first: a pass still under way could write to the pool after the finalizer
    # let it go or saw it gone (a drain's shrink, a delete, a create for no one) or take a budget
    # place no one gives back. It may end its pass, for LOOP_CANCELLATION seconds at most.
    await loops.stop(body.metadata.uid)
    deadline = runtime.monotonic() + DELETE_WAIT
    while True:
        _still_leading(memo)  # the Lease may be lost while the deletion waits for Azure
        try:
            outcome = await finalize(runtime, body, events)
        except AzureCallError as error:
            verdict = classify(error.status, error.code)
            delay = retry_delay(verdict, retry_after=error.retry_after, attempt=retry)
            raise kopf.TemporaryError(redact(f"{error} {verdict.hint}".strip()), delay=delay) from error
        if outcome.done:
            loops.forget(body.metadata.uid)
            return
        if runtime.monotonic() >= deadline:
            raise kopf.TemporaryError(outcome.message, delay=outcome.delay)
        await asyncio.sleep(outcome.delay)
