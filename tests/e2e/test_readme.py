"""The README's "by hand" sequence, one-liner included, run as written from a fresh clone of HEAD.

The clone reuses this .venv (linked as the clone's .venv, its code first on PYTHONPATH) instead of
installing again; the state dir and HOME are the test's own, as on a new machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
MARKER = "<!-- tests/e2e/test_readme.py runs this block"
OPERATOR_PORTS = (8080, 9090)  # `azbatch-operator run` serves /healthz and /metrics there by default


def readme_blocks(text: str) -> tuple[str, str]:
    """The block after the marker (stand-ins and the one-liner) and the one after it (kubectl)."""
    assert MARKER in text, "the README lost the by-hand sequence this test runs"
    blocks = re.findall(r"```sh\n(.*?)```", text.split(MARKER, 1)[1], re.DOTALL)
    return blocks[0], blocks[1]


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, check=False)
    if head.returncode:
        pytest.skip("not a git checkout")
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(target)], check=True, timeout=120)
    (target / ".venv").symlink_to(VENV, target_is_directory=True)
    return target


def _environment(clone: Path, tmp_path: Path) -> dict[str, str]:
    leaked = ("AZURE_", "AZBATCH_", "SSL_CERT", "REQUESTS_CA", "KUBECONFIG", "VIRTUAL_ENV", "PYTHON")
    env = {key: value for key, value in os.environ.items() if not key.startswith(leaked)}
    (tmp_path / "home").mkdir()
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        # The clone's code, not this checkout's editable install of it.
        PYTHONPATH=os.pathsep.join(str(clone / folder) for folder in ("operator", "emulator", "kubemock")),
    )
    return env


def test_the_readme_one_liner_runs_the_operator_from_a_fresh_clone(clone: Path, tmp_path: Path) -> None:
    busy = [port for port in OPERATOR_PORTS if not _port_free(port)]
    if busy:
        pytest.skip(f"ports {busy} are taken here; the README's `azbatch-operator run` serves on them")
    operator_block, kubectl_block = readme_blocks((clone / "README.md").read_text())
    assert 'eval "$(azbatch-emulator env)"; azbatch-operator run' in operator_block
    env = _environment(clone, tmp_path)
    log = (tmp_path / "operator-block.log").open("w")
    shell = subprocess.Popen(  # one session: the block's background jobs die with it below
        ["bash", "-c", operator_block],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        output = ""
        while "Activity 'login' succeeded" not in output:  # kopf reached the Kubernetes API
            assert shell.poll() is None, f"the block exited ({shell.returncode}):\n{output}"
            assert time.monotonic() < deadline, f"the operator did not start within 60 s:\n{output}"
            time.sleep(0.3)
            output = (tmp_path / "operator-block.log").read_text(errors="replace")
        assert "no running emulator" not in output and "AZBATCH_DIGEST_KEY_FILE is not set" not in output
        key = tmp_path / "state" / "azbatch-emulator" / "digest.key"
        assert key.stat().st_mode & 0o777 == 0o600
        second = subprocess.run(
            ["bash", "-e", "-c", kubectl_block],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        operator_log = (tmp_path / "operator-block.log").read_text(errors="replace")
        assert second.returncode == 0, f"{second.stdout}\n{second.stderr}\n--- operator:\n{operator_log}"
        assert "condition met" in second.stdout
        assert re.search(r"^keyvault-linux\s+True\b", second.stdout, re.MULTILINE), second.stdout
        assert "Warning: version difference" not in second.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGTERM)
        try:
            shell.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
        # The block's background jobs (the stand-ins) share the session; make sure none is left.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        log.close()
