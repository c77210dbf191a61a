"""Two emulators on one state directory would overwrite each other's pools, clock and ready.json:
the second `serve` refuses, naming the first one's pid and port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from azbatch_emulator import EmulatorProcess


def serve(state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "operator")}
    return subprocess.run(
        [sys.executable, "-m", "azbatch_emulator", "serve", "--state-dir", str(state_dir), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_a_second_emulator_on_the_same_state_dir_refuses(tmp_path: Path) -> None:
    with EmulatorProcess(state_dir=tmp_path, extra_args=["--quiet"]) as first:
        second = serve(tmp_path)
        assert second.returncode == 1
        assert f"pid {first.info['pid']}" in second.stderr
        assert f"port {first.info['port']}" in second.stderr
        assert second.stdout == ""
        assert (tmp_path / "ready.json").exists(), "the refused one must not touch the first one's state"
        first.restart(kill=True)  # a killed emulator leaves no stale lock behind
        assert first.info["port"] == first.port
