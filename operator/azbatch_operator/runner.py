"""The operator's main coroutine: kopf with our handlers, behind a Lease when leader election is on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import kopf
from aiohttp import web

from azbatch_operator import heap
from azbatch_operator.config import OperatorConfig
from azbatch_operator.kube.api import KubeGateway
from azbatch_operator.kube.lease import LeadershipLostError, LeaseElector
from azbatch_operator.leadership import Standing
from azbatch_operator.logs import get_logger
from azbatch_operator.loops import PoolLoops


@dataclass(frozen=True)
class RunOptions:
    namespaces: Sequence[str] = ()
    health_port: int = 0
    metrics_port: int = 0
    # Seconds between freezing the long-lived heap out of the collector's scans (None: never; see
    # `heap`). For the operator's own process only: tests run it inside theirs.
    settle_heap: float | None = None


async def operate(
    config: OperatorConfig,
    options: RunOptions,
    *,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """Run until stopped; `azbatch-operator run`, the demo and the tests all come through here.

    With leader election on, a replica first waits for the Lease, then acts only while it can
    renew it; losing it stops the operator (the pod restarts as a standby), so two replicas never
    act at once.
    """
    import azbatch_operator.handlers  # noqa: F401, PLC0415 - importing registers the handlers with kopf

    election = config.leader_election
    elector = None
    if election.enabled:
        elector = LeaseElector(
            KubeGateway().api_client,
            name=election.lease_name,
            namespace=election.lease_namespace,
            identity=os.environ.get("POD_NAME") or f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}",
        )
        async with _standby_health(options.health_port):
            await elector.acquire()
    if not config.digest_key:  # no AZBATCH_DIGEST_KEY_FILE: the key every replica shares, in a Secret
        secret = config.digest_key_secret
        config = replace(config, digest_key=await KubeGateway().digest_key(secret.namespace, secret.name))
    stop = asyncio.Event()
    ready = asyncio.Event()
    memo = kopf.Memo(config=config, namespaces=tuple(options.namespaces), standing=Standing())
    liveness = f"http://0.0.0.0:{options.health_port}/healthz" if options.health_port else None
    operator = asyncio.create_task(
        kopf.operator(
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            # No kopf peering: its freeze pauses only kopf's handlers, not the operator's own tasks.
            # Replicas take turns through the Lease above instead.
            standalone=True,
            liveness_endpoint=liveness,
            memo=memo,
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    watchers = [
        asyncio.create_task(_relay_stop(stop_flag, stop)),
        asyncio.create_task(_ready(ready, ready_flag)),
    ]
    if elector is not None:
        watchers.append(asyncio.create_task(lead(elector, memo)))
    if options.settle_heap is not None:
        watchers.append(asyncio.create_task(heap.keep_settled(ready, options.settle_heap)))
    try:
        done, _ = await asyncio.wait([operator, *watchers], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await operator
        for task in done:
            error = task.exception() if task is not operator else None
            if error is not None:
                raise error
    finally:
        for task in watchers:
            task.cancel()
    if elector is not None:  # stopped cleanly, still leading: hand over now, not in 15 s
        await elector.release()


async def lead(elector: LeaseElector, memo: kopf.Memo) -> None:
    """Hold the Lease; once leading can no longer be proven, cancel every pass under way at once.

    The renew deadline leaves a third of the Lease's duration before a standby may take over: a
    pass allowed to end (the operator's clean stop waits up to ten seconds) could still be
    writing to Azure when the new leader's first pass starts.
    """
    try:
        await elector.hold()
    except LeadershipLostError:
        standing: Standing | None = memo.get("standing")
        if standing is not None:
            standing.lost = True  # the finalizers kopf still runs send nothing more
        loops: PoolLoops | None = memo.get("loops")
        if loops is not None:
            loops.cancel_all()
        raise


@contextlib.asynccontextmanager
async def _standby_health(port: int) -> AsyncIterator[None]:
    """While a replica waits for the Lease it is alive and ready to take over, and says so on
    /healthz: without it a standby's probes fail and the kubelet restarts it over and over. The
    port is handed to kopf's own liveness endpoint once the replica leads."""
    if not port:
        yield
        return

    async def standby(_: web.Request) -> web.Response:
        return web.Response(text="standby: waiting for the leader Lease\n")

    app = web.Application()
    app.router.add_get("/healthz", standby)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104 - probed by the kubelet
    try:
        yield
    finally:
        await runner.cleanup()


async def _ready(ready: asyncio.Event, external: asyncio.Event | threading.Event | None) -> None:
    """Say when the operator is ready (kopf's start-up done, its watches starting) and how long the
    process took to get there, then raise the caller's ready flag."""
    await ready.wait()
    get_logger().info("operator.ready", startup_seconds=round(process_age(), 3))
    if external is not None:
        external.set()
    await asyncio.Event().wait()  # stays until cancelled with the other watchers


def process_age() -> float:
    """Seconds since this process started (Linux: from /proc, interpreter start-up and imports
    included), else since this module was imported."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return time.monotonic() - _IMPORTED
    return max(0.0, uptime - ticks / os.sysconf("SC_CLK_TCK"))


_IMPORTED = time.monotonic()


async def _relay_stop(external: asyncio.Event | threading.Event | None, stop: asyncio.Event) -> None:
    """Turn the caller's stop flag (thread or asyncio event) into the operator's own."""
    if external is None:
        await asyncio.Event().wait()
    elif isinstance(external, asyncio.Event):
        await external.wait()
    else:
        while not external.is_set():  # noqa: ASYNC110 - a thread's Event cannot be awaited
            await asyncio.sleep(0.1)
