"""The README's first command, its output piped: the story's end state, read back from both stand-ins,
and what a reader of the output sees (each step's outcome, `kubectl get bp`, no terminal codes)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from azbatch_emulator.admin import AdminClient
from azbatch_kubemock import KubeClient


def _wait_for_file(path: Path, process: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the demo exited early ({process.returncode}):\n{output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} after {timeout}s")
        time.sleep(0.2)


class _Lines:
    """The demo's output, read as it comes (the demo keeps running with --keep)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the demo's output:\n" + "\n".join(self.lines))
            time.sleep(0.2)

    def text(self) -> str:
        self._reader.join(timeout=30)
        return "\n".join(self.lines)


def _columns(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for item in obj.get("status", {}).get("conditions", []):
        if item["type"] == type_:
            return dict(item)
    return {}


def test_demo_plays_the_story_and_stops_cleanly(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "azbatch_operator",
            "demo",
            "--keep",
            "--time-scale",
            "300",
            "--timeout",
            "90",
            "--workdir",
            str(workdir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Lines(process)
    try:
        _wait_for_file(workdir / "summary.json", process, timeout=180)
        output.wait_for("keep running until Ctrl-C", timeout=60)
        summary = json.loads((workdir / "summary.json").read_text())
        server = yaml.safe_load((workdir / "kubeconfig").read_text())["clusters"][0]["cluster"]["server"]
        kube = KubeClient(server)
        pools = {
            p["metadata"]["name"]: p
            for p in kube.list_objects("azbatch.dev/v1alpha1", "BatchPool", namespace="default")
        }
        assert set(pools) == {"autoscale", "gallery-image", "keyvault-linux", "keyvault-windows"}
        for name, obj in pools.items():
            assert _condition(obj, "Ready")["status"] == "True", name
            assert _condition(obj, "Stalled")["status"] == "False", name
        assert pools["gallery-image"]["status"]["pool"]["currentDedicatedNodes"] == 3
        failing = _condition(pools["keyvault-windows"], "ExtensionsHealthy")
        assert failing["status"] == "False"
        assert "SecretNotFound" in failing["message"]
        info = json.loads((workdir / "azure" / "ready.json").read_text())
        counters = AdminClient(info).counters()
        assert counters.get("DELETE mgmt.pool", 0) == 1  # exactly one recreate
        assert counters.get("PUT mgmt.pool", 0) == len(pools) + 1
        assert summary["azure"]["deletes"] == 1
        kubectl = subprocess.run(
            [str(Path(sys.executable).parent / "kubectl"), "get", "bp"],
            env={**os.environ, "KUBECONFIG": str(workdir / "kubeconfig")},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.splitlines()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    text = output.text()
    assert process.returncode in (0, 130), text
    assert "Stopped" in text
    assert "\x1b[" not in text, "terminal codes in piped output"
    assert "OS signals are ignored" not in text
    # Each step says what came of it, the failing extension's message and how to debug it included.
    for outcome in (
        "4 BatchPools Ready=True",
        "on the same pool",
        "recreated once: status.recreate went Draining -> Deleting -> Creating",
        "SecretNotFound (404)",
        "requireInitialSync: false",
        "debug it: kubectl describe bp keyvault-windows",
    ):
        assert outcome in text, outcome
    assert [c["title"] for c in summary["chapters"]][3].startswith("4. keyvault-windows")
    assert all(chapter["outcome"] for chapter in summary["chapters"])
    # The table it calls `kubectl get bp` is what kubectl get bp prints (but for the ages).
    lines = text.splitlines()
    table = lines[lines.index("$ kubectl get bp") + 1 :][: len(kubectl)]
    assert _columns(table[0]) == _columns(kubectl[0])
    assert [_columns(r)[:3] for r in table[1:]] == [_columns(r)[:3] for r in kubectl[1:]]
    assert "keyvault-windows   secretext: 1 failed" in text
    assert " ok" not in text.split("$ kubectl get bp")[1].split("Done in")[0]
