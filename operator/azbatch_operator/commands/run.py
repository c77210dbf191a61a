"""`azbatch-operator run`: the operator against a Kubernetes cluster (kubeconfig or in-cluster)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace

from prometheus_client import start_http_server

from azbatch_operator import logs
from azbatch_operator.config import ConfigError, load_config
from azbatch_operator.kube.api import load_client_configuration
from azbatch_operator.metrics import REGISTRY
from azbatch_operator.runner import RunOptions, operate


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
    parser.add_argument(
        "--no-leader-election",
        action="store_true",
        help="act at once, without taking the leader Lease (development only: two such operators both act)",
    )
    parser.add_argument("--log-format", choices=("json", "console"), help="default: console on a terminal")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logs (still without secrets)")


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
        args.namespace, args.peering, args.health_port, args.metrics_port, settle_heap=config.resync_interval
    )
    if options.metrics_port:
        start_http_server(options.metrics_port, registry=REGISTRY)
    asyncio.run(operate(config, options))
    return 0
