"""docs/emulator.md's "Azure CLI" block, run as a person would paste it: its own emulator in the
background, its own state and configuration directories (in place of `~`), the real `az`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from azcli_helpers import REPO, az_binary

pytestmark = pytest.mark.azcli


def documented_block() -> str:
    text = (REPO / "docs" / "emulator.md").read_text()
    section = text.split("## Azure CLI", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the Azure CLI section has no console block"
    commands = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif commands and line.startswith("    "):  # the continuation of a command ending in a backslash
            commands[-1] += "\n" + line
    return "\n".join(commands)


def test_the_documented_azure_cli_session_runs_as_written(tmp_path: Path) -> None:
    script = documented_block()
    assert "az cloud register" in script and "az batch pool create" in script
    home = tmp_path / "home"
    home.mkdir()
    tools = Path(sys.executable).parent  # azbatch-emulator, installed next to the test interpreter
    env = {
        "PATH": os.pathsep.join([str(Path(az_binary()).parent), str(tools), os.environ.get("PATH", "")]),
        "HOME": str(home),
        "PYTHONPATH": os.pathsep.join(str(REPO / p) for p in ("operator", "emulator")),
        "HTTPS_PROXY": "http://127.0.0.1:9",  # nothing leaves loopback
        "NO_PROXY": "127.0.0.1,localhost",
    }
    harness = (
        "set -euo pipefail\n"
        # stop the emulator the block started in the background, however the block ends
        "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
        + script.replace("azbatch-emulator serve", "azbatch-emulator serve --time-scale 600")
        + "\n"
    )
    done = subprocess.run(
        ["bash", "-c", harness], capture_output=True, text=True, env=env, timeout=300, check=False, cwd=home
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert '"cloud": "Emu"' in done.stdout
    assert "emulatoracct" in done.stdout
    assert "batch.node.ubuntu 24.04" in done.stdout
    assert '"demo"' in done.stdout
