"""Start a control-plane binary, wait until it answers its health URL, stop it; envtest's rules:

- the binary is `$TEST_ASSET_<NAME>` when set, else `$KUBEBUILDER_ASSETS/<name>`, else
  `/usr/local/kubebuilder/bin/<name>`;
- it runs in a process group of its own, and is stopped by SIGTERM to the group, then SIGKILL
  after the stop timeout; the directory made for it is removed afterwards;
- start and stop wait 20 s each unless `KUBEBUILDER_CONTROLPLANE_START_TIMEOUT` /
  `..._STOP_TIMEOUT` (Go durations such as `90s`, `1m30s`) say otherwise;
- a flag is used only when the binary's `--help` lists it (etcd's `--unsafe-no-fsync`);
- `KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true` sends the output to this process's stdout and
  stderr; otherwise it goes to `<dir>/<name>.log`, whose tail a failure to start shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from azbatch_operator.testenv import HarnessError

ASSETS_ENV = "KUBEBUILDER_ASSETS"
ASSET_OVERRIDE_PREFIX = "TEST_ASSET_"
DEFAULT_ASSETS = Path("/usr/local/kubebuilder/bin")
START_TIMEOUT_ENV = "KUBEBUILDER_CONTROLPLANE_START_TIMEOUT"
STOP_TIMEOUT_ENV = "KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT"
ATTACH_OUTPUT_ENV = "KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT"
DEFAULT_TIMEOUT = 20.0
POLL_INTERVAL = 0.1


class ControlPlaneError(HarnessError):
    """A binary is missing, did not become healthy in time, or exited before it did."""


class BinaryMissingError(ControlPlaneError):
    """No executable where envtest's rules look (retrying cannot help)."""


def missing_binary(name: str, binary: Path) -> BinaryMissingError:
    return BinaryMissingError(
        f"{name}: no executable at {binary} (set {ASSETS_ENV} to the folder `setup-envtest use -p path` "
        f"prints, or {ASSET_OVERRIDE_PREFIX}{name.upper().replace('-', '_')} to the binary)"
    )


def find_binary(name: str, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    override = ASSET_OVERRIDE_PREFIX + re.sub(r"^[0-9]+", "", re.sub(r"[^A-Z0-9]+", "_", name.upper()))
    if override in env:
        return Path(env[override])
    if ASSETS_ENV in env:
        return Path(env[ASSETS_ENV]) / name
    return DEFAULT_ASSETS / name


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A Go duration (`20s`, `1m30s`, `1.5h`, `500ms`) in seconds; `ValueError` otherwise."""
    text = text.strip()
    if text == "0":
        return 0.0
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(f"not a duration: {text!r} (examples: 20s, 1m30s, 500ms)")
    return total


def timeouts(env: Mapping[str, str] | None = None) -> tuple[float, float]:
    """(start, stop) timeouts in seconds from envtest's variables, 20 s each by default."""
    env = os.environ if env is None else env
    start = env.get(START_TIMEOUT_ENV)
    stop = env.get(STOP_TIMEOUT_ENV)
    return (
        parse_duration(start) if start else DEFAULT_TIMEOUT,
        parse_duration(stop) if stop else DEFAULT_TIMEOUT,
    )


def attach_output(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get(ATTACH_OUTPUT_ENV, "").lower() == "true"


def has_flag(binary: Path, flag: str) -> bool:
    """Whether `binary --help` lists `--flag` at the start of a line."""
    try:
        result = subprocess.run(  # noqa: S603 - a control-plane binary the user pointed us at
            [str(binary), "--help"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ControlPlaneError(f"cannot run {binary} --help: {error}") from error
    output = result.stdout + result.stderr
    return re.search(rb"(?m)^\s*--" + re.escape(flag.encode()) + rb"\b", output) is not None


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the binary binds it a moment later, as envtest does)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class HealthCheck:
    """GET `url` until it answers 200; `ssl_context` for https (with the admin's client cert)."""

    url: str
    ssl_context: ssl.SSLContext | None = None

    def ok(self, timeout: float = 2.0) -> bool:
        request = urllib.request.Request(self.url, method="GET")  # noqa: S310 - http(s) on loopback
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.ssl_context) as answer:  # noqa: S310
                return int(answer.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False


@dataclass
class ControlProcess:
    """One binary with its arguments, health check and directory."""

    name: str
    binary: Path
    args: Sequence[str]
    health: HealthCheck
    directory: Path
    remove_directory: bool = False  # the directory was made for this process: removed on stop
    start_timeout: float = DEFAULT_TIMEOUT
    stop_timeout: float = DEFAULT_TIMEOUT
    attach: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return self.directory / f"{self.name}.log"

    @property
    def argv(self) -> list[str]:
        return [str(self.binary), *self.args]

    def start(self) -> None:
        if not self.binary.is_file() or not os.access(self.binary, os.X_OK):
            raise missing_binary(self.name, self.binary)
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.attach:
            stdout: IO[bytes] | int = sys.stdout.buffer
            stderr: IO[bytes] | int = sys.stderr.buffer
        else:
            self._log = self.log_path.open("ab")
            stdout, stderr = self._log, subprocess.STDOUT
        self.process = subprocess.Popen(  # noqa: S603 - the binary the user pointed us at
            self.argv, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL, process_group=0
        )
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.health.ok():
                return
            if self.process.poll() is not None:
                code = self.process.returncode
                self._close_log()
                self.process = None
                raise ControlPlaneError(
                    f"{self.name} exited with {code} before {self.health.url} answered 200{self._tail()}"
                )
            if time.monotonic() >= deadline:
                self._terminate()
                raise ControlPlaneError(
                    f"{self.name}: {self.health.url} did not answer 200 within "
                    f"{self.start_timeout:.0f} s{self._tail()}"
                )
            time.sleep(POLL_INTERVAL)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after the stop timeout; remove the directory if ours."""
        try:
            self._terminate()
        finally:
            self._close_log()
            if self.remove_directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        # Anything it left in its group (a wrapper's child) goes too.
        _signal_group(process, signal.SIGKILL)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _tail(self, lines: int = 20) -> str:
        if self.attach:
            return ""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"; the end of {self.log_path}:\n{tail}" if tail else f" ({self.log_path} is empty)"


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def make_directory(prefix: str) -> Path:
    """A fresh directory for one process (envtest: `k8s_test_framework_*` under the temp dir)."""
    return Path(tempfile.mkdtemp(prefix=prefix))
