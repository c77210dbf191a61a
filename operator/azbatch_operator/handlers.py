"""kopf handlers only: each gathers its inputs, calls the reconciler, and hands results back to kopf.

- one daemon per BatchPool runs the reconcile loop (level-based: look, decide, do one step, sleep
  until the next step is due or the spec changes);
- a spec change wakes that daemon at once (reaction time is the watch latency, not a timer);
- deletion runs the finalizer: delete, orphan or leave the pool per policy and ownership.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from azbatch_operator.cloud.clients import AzureClients
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.config import OperatorConfig
from azbatch_operator.convergence import APPROVE_ANNOTATION
from azbatch_operator.error_policy import classify, retry_delay
from azbatch_operator.kube.api import GROUP, PLURAL, VERSION
from azbatch_operator.logs import redact
from azbatch_operator.reconciler import EventSink, PoolMemory, Runtime, finalize, reconcile, stop_watching
from azbatch_operator.wiring import build_runtime

FINALIZER = "azbatch.dev/finalizer"
ANNOTATIONS_PREFIX = "azbatch.dev"
DELETE_WAIT = 300.0  # seconds a delete handler waits in place before handing the retry to kopf


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config: OperatorConfig = memo["config"]
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=ANNOTATIONS_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATIONS_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # our own events are explicit; kopf's chatter stays in logs
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.networking.error_backoffs = [1, 2, 5, 10, 20]
    if "runtime" not in memo:
        runtime, clients = build_runtime(config)
        memo["runtime"] = runtime
        memo["clients"] = clients
        # Flows under way before a restart keep their place in the disruption budget, before any
        # pool is reconciled and could take it.
        for account, uid, name in await runtime.kube.pools_in_disruption():
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
    clients: AzureClients | None = memo.get("clients")
    if clients is not None:
        await clients.close()


def _memory(memo: kopf.Memo) -> PoolMemory:
    memory: PoolMemory = memo.setdefault("pool", PoolMemory())
    return memory


def _events(body: kopf.Body) -> EventSink:
    def post(type_: str, reason: str, message: str) -> None:
        kopf.event(body, type=type_, reason=reason, message=redact(message)[:1024])

    return post


# backoff: a pass that failed on Kubernetes itself (a status write cut off mid-way) runs again in
# seconds, not kopf's default minute; the pass is level-based, so running it again is always safe.
@kopf.daemon(GROUP, VERSION, PLURAL, cancellation_timeout=10.0, backoff=5.0)
async def converge(body: kopf.Body, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """The reconcile loop of one BatchPool, for as long as it exists."""
    runtime: Runtime = memo["runtime"]
    memory = _memory(memo)
    events = _events(body)
    try:
        while not stopped:
            memory.wakeup.clear()
            delay = await reconcile(runtime, memory, body, events)
            if delay <= 0:
                continue
            woken = asyncio.ensure_future(memory.wakeup.wait())
            stopping = asyncio.ensure_future(stopped.wait())
            try:
                await asyncio.wait({woken, stopping}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            finally:
                woken.cancel()
                stopping.cancel()
    finally:
        stop_watching(runtime, memory)


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
async def spec_changed(memo: kopf.Memo, **_: Any) -> None:
    """Wake the pool's loop now: the new spec is planned without waiting for the next resync."""
    _memory(memo).wakeup.set()


@kopf.on.event(GROUP, VERSION, PLURAL, annotations={APPROVE_ANNOTATION: kopf.PRESENT})
async def approval_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """An approval of a disruption (an adopted pool) is acted on at once, like a spec change.

    kopf's update handlers diff the spec only, so the watch events of annotated resources are
    read here; the loop is woken once per new approval, not at every status write."""
    memory = _memory(memo)
    approval = body.metadata.annotations.get(APPROVE_ANNOTATION)
    if approval != memory.approval_seen:
        memory.approval_seen = approval
        memory.wakeup.set()


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def release(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
    """Delete, orphan or leave the Azure pool; keep the finalizer until that is done.

    Waiting for Azure to finish a delete is normal, not an error: the handler waits in place
    (up to DELETE_WAIT), and only hands a retry back to kopf when Azure fails or takes longer.
    """
    runtime: Runtime = memo["runtime"]
    events = _events(body)
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
