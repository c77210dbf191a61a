"""``azbatch-kubemock serve`` (``python -m azbatch_kubemock serve`` too): run the stand-in for humans
and for other processes.

Prints exactly one JSON line on stdout once it answers requests, e.g.
``{"url": "http://127.0.0.1:41357", "kubeconfig": "/tmp/kubeconfig", "crds": ["batchpools.azbatch.dev"]}``,
then serves until interrupted (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import pathlib
import signal
import sys

from azbatch_kubemock.resources import CrdError
from azbatch_kubemock.standin import KubeStandIn


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="azbatch-kubemock",
        description="A local stand-in for the Kubernetes API, on loopback HTTP.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a Kubernetes API stand-in on loopback HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default 0: any free port)")
    serve.add_argument("--kubeconfig", type=pathlib.Path, required=True, help="where to write the kubeconfig")
    serve.add_argument(
        "--crd", type=pathlib.Path, action="append", default=[], help="a CRD YAML file to serve (repeatable)"
    )
    serve.add_argument(
        "--token", default=None, help="require this bearer token (written into the kubeconfig)"
    )
    serve.add_argument("--namespace", default="default", help="the kubeconfig context's namespace")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    kube = KubeStandIn(host=args.host, port=args.port, token=args.token)
    names = []
    for path in args.crd:
        specs = kube.register_crd_file(path)
        names.extend(sorted({f"{spec.plural}.{spec.group}" for spec in specs}))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with kube:
        kubeconfig = kube.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
        ready = {"url": kube.base_url, "kubeconfig": str(kubeconfig.resolve()), "crds": names}
        print(json.dumps(ready), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
    except (CrdError, OSError) as exc:
        print(f"azbatch_kubemock: {exc}", file=sys.stderr)
        return 2
    return 0
