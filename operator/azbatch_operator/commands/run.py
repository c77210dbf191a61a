"""`azbatch-operator run`: the operator against a Kubernetes cluster (kubeconfig or in-cluster)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import socket
import sys
from dataclasses import replace

from prometheus_client import start_http_server

from azbatch_operator import logs
from azbatch_operator.config import ConfigError, load_config
from azbatch_operator.kube.api import load_client_configuration
from azbatch_operator.metrics import REGISTRY
from azbatch_operator.runner import RunOptions, operate

# (flag, what is served there) of each port `run` listens on
METRICS = ("--metrics-port", "/metrics")
HEALTH = ("--health-port", "/healthz")
# kopf's peering freezes only kopf's own handlers and daemons: the operator's pool loops would go on
# acting on Azure while another operator does. The Lease (leader election) is what keeps one acting.
PEERING_REMOVED = (
    "--peering is no longer supported: kopf peering pauses only kopf's own handlers, not the "
    "operator's pool loops; run replicas with leader election instead (on by default; helm value "
    "operator.leaderElection.enabled)"
)


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
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9090,
        help="serve /metrics on this port (default: %(default)s; 0: off)",
    )
    parser.add_argument(
        "--health-port",
        type=int,
        default=8080,
        help="serve /healthz on this port (default: %(default)s; 0: off)",
    )
    # Removed, but still parsed: so that whoever passes it is told why and what to do instead, not
    # argparse's "unrecognized arguments".
    parser.add_argument("--peering", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument(
        "--standalone", action="store_true", help="no kopf peering: the default, kept for compatibility"
    )
    parser.add_argument(
        "--no-leader-election",
        action="store_true",
        help="act at once, without taking the leader Lease (development only: two such operators both act)",
    )
    parser.add_argument("--log-format", choices=("json", "console"), help="default: console on a terminal")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logs (still without secrets)")


def run(args: argparse.Namespace) -> int:
    if args.peering is not None:
        print(f"azbatch-operator: {PEERING_REMOVED}", file=sys.stderr)
        return 2
    logs.configure(
        json=None if args.log_format is None else args.log_format == "json",
        level="DEBUG" if args.verbose else "INFO",
    )
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"azbatch-operator: {error}", file=sys.stderr)
        return 2
    try:
        load_client_configuration()
    except Exception as error:
        print(
            f"azbatch-operator: no Kubernetes API to talk to ({error}). Set KUBECONFIG (or write "
            "~/.kube/config) for a cluster, or run in one; `make demo ARGS=--keep` prints a kubeconfig "
            "for the local stand-in.",
            file=sys.stderr,
        )
        return 2
    if args.no_leader_election:
        config = replace(config, leader_election=replace(config.leader_election, enabled=False))
    options = RunOptions(
        namespaces=args.namespace,
        health_port=args.health_port,
        metrics_port=args.metrics_port,
        settle_heap=config.resync_interval,
    )
    problem = (
        _same_port(options.metrics_port, options.health_port)
        or _unusable_port(options.metrics_port, METRICS)
        or _unusable_port(options.health_port, HEALTH)
        or _serve_metrics(options.metrics_port)
    )
    if problem:
        print(f"azbatch-operator: {problem}", file=sys.stderr)
        return 2
    asyncio.run(operate(config, options))
    return 0


def _same_port(metrics_port: int, health_port: int) -> str | None:
    if metrics_port and metrics_port == health_port:
        return f"--metrics-port and --health-port are both {metrics_port}: give each its own port"
    return None


def _unusable_port(port: int, server: tuple[str, str]) -> str | None:
    """Why `port` cannot be listened on, or None. Checked before anything starts, so that a second
    operator on this host (or any program on the port) is one clear line, not a traceback."""
    if not port:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both HTTP servers bind
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 - where both servers listen
        except OSError as error:
            return _port_message(port, server, error)
    return None


def _serve_metrics(port: int) -> str | None:
    """Start the /metrics server (none for port 0); the reason when it cannot listen."""
    if not port:
        return None
    try:
        start_http_server(port, registry=REGISTRY)
    except OSError as error:  # taken since the check
        return _port_message(port, METRICS, error)
    return None


def _port_message(port: int, server: tuple[str, str], error: OSError) -> str:
    flag, path = server
    if error.errno == errno.EADDRINUSE:
        cause = "is already in use (by another operator on this host, or another program)"
    else:
        cause = f"cannot be listened on ({error.strerror or error})"
    return f"port {port} for {path} {cause}: choose another with {flag} PORT, or {flag} 0 to serve no {path}"
