"""Run the emulator from sync code: in a background thread, or as a subprocess that can be killed
and restarted on the same port and state dir (reliability tests)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from azbatch_emulator.emulator import Emulator, start_emulator
from azbatch_emulator.throttle import ThrottleSettings
from azbatch_emulator.timings import Timings


class EmulatorThread:
    """The emulator on its own event loop in a daemon thread::

    with EmulatorThread(time_scale=60) as emu:
        emu.info["management_endpoint"]
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 60.0,
        state_dir: str | Path | None = None,
        timings: Timings | None = None,
        arm_throttle: ThrottleSettings | str | None = None,
    ) -> None:
        self._kwargs: dict[str, Any] = {
            "host": host,
            "port": port,
            "time_scale": time_scale,
            "state_dir": state_dir,
            "timings": timings,
            "arm_throttle": arm_throttle,
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.emulator: Emulator | None = None

    @property
    def info(self) -> dict[str, Any]:
        if self.emulator is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self.emulator.info

    def start(self, timeout: float = 30.0) -> dict[str, Any]:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self.emulator = loop.run_until_complete(start_emulator(**self._kwargs).start())
            except BaseException as exc:  # report any start failure to the caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.emulator.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="azbatch-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError(f"the emulator did not start within {timeout} s")
        if failure:
            raise RuntimeError("the emulator failed to start") from failure[0]
        return self.info

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = self._thread = None

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(emulator, *args)` on the emulator's loop thread and return its result."""
        if self._loop is None or self.emulator is None:
            raise RuntimeError("the emulator is not running")
        emulator = self.emulator

        async def invoke() -> Any:
            return fn(emulator, *args)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=30)

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorProcess:
    """`python -m azbatch_emulator serve` in a subprocess.

    The first start may use port 0; restarts reuse the port it got and the same state dir, so
    clients keep their endpoints, CA and tokens, and the pools (and their simulation) resume.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 60.0,
        state_dir: str | Path | None = None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self._owns_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="azbatch-emulator-"))
        self.extra_args = list(extra_args or [])
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def start(self, timeout: float = 30.0) -> dict[str, Any]:
        if self.process and self.process.poll() is None:
            raise RuntimeError("the emulator process is already running")
        command = [
            sys.executable,
            "-m",
            "azbatch_emulator",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--time-scale",
            str(self.time_scale),
            "--state-dir",
            str(self.state_dir),
            *self.extra_args,
        ]
        env = dict(os.environ if self.env is None else self.env)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        log = (self.state_dir / "emulator.log").open("a")
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=env
        )
        log.close()
        line = _read_line(self.process, timeout)
        if not line:
            code = self.process.wait(timeout=5)
            raise RuntimeError(
                f"the emulator exited ({code}) before it was ready; see {self.state_dir / 'emulator.log'}"
            )
        self.info = json.loads(line)
        self.port = int(self.info["port"])
        return self.info

    def kill(self) -> None:
        """SIGKILL: no chance to save anything beyond what is already on disk."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown."""
        self._signal(signal.SIGTERM)

    def restart(self, *, kill: bool = False, timeout: float = 30.0) -> dict[str, Any]:
        self.kill() if kill else self.stop()
        return self.start(timeout)

    def _signal(self, signum: int) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(
        target=lambda: result.append(process.stdout.readline() if process.stdout else "")
    )
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        process.kill()
        raise TimeoutError(f"the emulator printed no ready line within {timeout} s")
    return result[0] if result else ""
