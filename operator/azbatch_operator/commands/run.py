"""`azbatch-operator run`: the operator against a Kubernetes cluster (kubeconfig or in-cluster)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import kopf
from prometheus_client import start_http_server

from azbatch_operator import logs
from azbatch_operator.config import DIGEST_KEY_ENV, ConfigError, OperatorConfig, load_config
from azbatch_operator.kube.api import KubeGateway
from azbatch_operator.kube.lease import LeaseElector
from azbatch_operator.metrics import REGISTRY


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        metavar="NS",
        help="watch this namespace (repeat for several; glob patterns allowed)",
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace (default)")
    parser.add_argument("--config", help="operator settings file (default: $AZBATCH_OPERATOR_CONFIG)")
    parser.add_argument("--metrics-port", type=int, default=9090, help="serve /metrics here (0: off)")
    parser.add_argument("--health-port", type=int, default=8080, help="serve /healthz here (0: off)")
    parser.add_argument("--peering", metavar="NAME", help="coordinate replicas through this kopf peering")
    parser.add_argument("--standalone", action="store_true", help="no peering (default unless --peering)")
    parser.add_argument("--log-format", choices=("json", "console"), help="default: console on a terminal")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logs (still without secrets)")


@dataclass(frozen=True)
class RunOptions:
    namespaces: Sequence[str] = ()
    peering: str | None = None
    health_port: int = 0
    metrics_port: int = 0


def run(args: argparse.Namespace) -> int:
    logs.configure(
        json=None if args.log_format is None else args.log_format == "json",
        level="DEBUG" if args.verbose else "INFO",
    )
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"azbatch-operator: {error}", file=sys.stderr)
        return 2
    if not config.digest_key:
        print(
            f"azbatch-operator: {DIGEST_KEY_ENV} is not set. Point it at a file with at least 32 random bytes"
            " (the Helm chart mounts one); it keys the digests that detect changed protectedSettings.",
            file=sys.stderr,
        )
        return 2
    options = RunOptions(args.namespace, args.peering, args.health_port, args.metrics_port)
    if options.metrics_port:
        start_http_server(options.metrics_port, registry=REGISTRY)
    asyncio.run(operate(config, options))
    return 0


async def operate(
    config: OperatorConfig,
    options: RunOptions,
    *,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
) -> None:
    """The operator's main coroutine; tests and the demo run it in a thread with a stop flag.

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
        await elector.acquire()
    stop = asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            clusterwide=not options.namespaces,
            namespaces=list(options.namespaces),
            standalone=options.peering is None,
            peering_name=options.peering,
            liveness_endpoint=f"http://0.0.0.0:{options.health_port}/healthz"
            if options.health_port
            else None,
            memo=kopf.Memo(config=config),
            stop_flag=stop,
            ready_flag=ready_flag,
        )
    )
    watchers = [asyncio.create_task(_relay_stop(stop_flag, stop))]
    if elector is not None:
        watchers.append(asyncio.create_task(elector.hold()))
    try:
        done, _ = await asyncio.wait([operator, *watchers], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        await operator
        for task in done:
            if task is not operator and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in watchers:
            task.cancel()


async def _relay_stop(external: asyncio.Event | threading.Event | None, stop: asyncio.Event) -> None:
    """Turn the caller's stop flag (thread or asyncio event) into the operator's own."""
    if external is None:
        await asyncio.Event().wait()
    elif isinstance(external, asyncio.Event):
        await external.wait()
    else:
        while not external.is_set():  # noqa: ASYNC110 - a thread's Event cannot be awaited
            await asyncio.sleep(0.1)
