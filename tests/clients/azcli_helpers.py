"""Running the Azure CLI for the client tests (imported by name; fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CLOUD = "Emu"


def az_binary() -> str:
    configured = os.environ.get("AZ_CLI")
    if configured:
        return configured
    local = REPO / ".venv-azcli" / "bin" / "az"
    if local.exists():
        return str(local)
    found = shutil.which("az")
    if found:
        return found
    pytest.fail("no Azure CLI: run `make azcli` (installs azure-cli into .venv-azcli) or set AZ_CLI")


@dataclass
class Az:
    """Runs `az` with an isolated configuration, trusting the emulator's CA."""

    binary: str
    env: dict[str, str]
    calls: list[list[str]] = field(default_factory=list)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        done = subprocess.run(
            [self.binary, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=180,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"az {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done

    def json(self, *args: str) -> Any:
        """`az ... -o json`, parsed."""
        out = self.run(*args, "-o", "json").stdout
        return json.loads(out) if out.strip() else None


@dataclass(frozen=True)
class Session:
    registered: Any
    login: Any
