"""The README's first command, run headless: the story's end state, read back from both stand-ins."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
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
            "--no-ui",
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
    try:
        _wait_for_file(workdir / "summary.json", process, timeout=180)
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
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode in (0, 130), output
    assert "Stopped" in output
