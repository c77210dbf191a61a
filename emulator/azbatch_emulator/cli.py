"""`azbatch-emulator serve | env`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import secrets
import shlex
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from azbatch_emulator.emulator import start_emulator
from azbatch_emulator.settings import default_state_dir
from azbatch_emulator.throttle import parse_settings

LOCK_FILE = "serve.lock"


STARTING_WAIT = 30.0
"""`env` waits this long for an emulator that `serve` is still starting (`serve &` then `env`)."""
STARTING_GRACE = 5.0
"""... and this long for a `serve` that has not even taken its state dir's lock yet."""
DIGEST_KEY_FILE = "digest.key"
"""The operator's secret digest key for use with this emulator, created once (0600) by `env`."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="azbatch-emulator",
        description="Local Azure Batch (management + data plane) and Entra ID over HTTPS.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator; prints one JSON line when ready")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    serve.add_argument(
        "--time-scale", type=float, default=60.0, help="simulated seconds per real second (default 60)"
    )
    serve.add_argument(
        "--state-dir", type=Path, default=None, help=f"state directory (default {default_state_dir()})"
    )
    serve.add_argument(
        "--reset", action="store_true", help="start with no pools (keeps identities, CA and keys)"
    )
    serve.add_argument("--quiet", action="store_true", help="no per-request log lines on stderr")
    serve.add_argument(
        "--arm-throttle",
        default="on",
        metavar="on|off|KIND=BUCKET/REFILL,...",
        help="Azure Resource Manager's request throttle per subscription: on (default: the documented "
        "limits, reads=250/25,writes=200/10,deletes=200/10), off, or limits to change, e.g. "
        "reads=50/5,writes=20/1 (bucket size / refill per emulator second; kinds not named keep theirs)",
    )
    env = commands.add_parser(
        "env",
        help="print `export` lines for a running emulator (eval them): the azure-identity variables and "
        "AZBATCH_DIGEST_KEY_FILE, everything `azbatch-operator run` needs but a kubeconfig",
    )
    env.add_argument(
        "--state-dir", type=Path, default=None, help=f"state directory (default {default_state_dir()})"
    )
    env.add_argument(
        "--wait",
        type=float,
        default=STARTING_WAIT,
        metavar="SECONDS",
        help=f"how long to wait for an emulator that is still starting (default {STARTING_WAIT:g})",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve_command(args)
    return env_command(args.state_dir or default_state_dir(), wait=args.wait)


def serve_command(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        stream=sys.stderr,
    )
    if args.time_scale <= 0:
        print("azbatch-emulator: --time-scale must be > 0", file=sys.stderr)
        return 2
    try:
        args.arm_throttle = parse_settings(args.arm_throttle)
    except ValueError as exc:
        print(f"azbatch-emulator: --arm-throttle {exc}", file=sys.stderr)
        return 2
    state_dir = args.state_dir or default_state_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_state_dir(state_dir)
    if isinstance(lock, str):
        print(lock, file=sys.stderr)
        return 1
    try:
        asyncio.run(_serve(args, lock))
    except OSError as exc:
        print(f"azbatch-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        lock.close()
    return 0


def lock_state_dir(state_dir: Path) -> IO[str] | str:
    """Hold `<state dir>/serve.lock` for as long as this process serves (the kernel drops the lock
    when the process ends, however it ends). Returns the open lock file, or, when another emulator
    holds it, the refusal naming that emulator's pid and port."""
    handle = (state_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        try:
            owner: dict[str, Any] = json.loads(handle.read() or "{}")
        except ValueError:
            owner = {}
        handle.close()
        port = owner.get("port")
        return (
            f"azbatch-emulator: state dir {state_dir} is in use by another emulator (pid "
            f"{owner.get('pid', 'unknown')}, port {port if port else 'not yet listening'}); two emulators "
            "on one state dir would overwrite each other's state. Stop that one, or give this one its "
            "own --state-dir."
        )
    _record_owner(handle, None)
    return handle


def _record_owner(handle: IO[str], port: int | None) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "port": port}))
    handle.flush()


async def _serve(args: argparse.Namespace, lock: IO[str]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    emulator = start_emulator(
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        state_dir=args.state_dir or default_state_dir(),
        reset=args.reset,
        arm_throttle=args.arm_throttle,
    )
    async with emulator:
        _record_owner(lock, emulator.port)
        print(json.dumps(emulator.info), flush=True)
        await stop.wait()


def env_command(state_dir: Path, *, wait: float = STARTING_WAIT) -> int:
    ready = state_dir / "ready.json"
    started = time.monotonic()
    while True:
        info = _running(ready)
        waited = time.monotonic() - started
        # A `serve` just put in the background may not have taken its lock yet: a short grace, then
        # as long as a serve of this state dir holds the lock (it is starting), up to `wait`.
        if (
            info is not None
            or waited >= wait
            or (waited >= min(wait, STARTING_GRACE) and not _starting(state_dir))
        ):
            break
        time.sleep(0.2)
    if info is None:
        start = f"azbatch-emulator serve{_state_dir_option(state_dir)}"
        if not ready.exists():
            problem = f"no running emulator found ({ready} is missing)"
        else:
            recorded = json.loads(ready.read_text())
            problem = (
                f"the emulator recorded in {ready} is not answering on {recorded['host']}:{recorded['port']}"
            )
        print(
            f"azbatch-emulator: {problem}. Start one first, e.g. `{start} &` (then `env` again); "
            "`azbatch-operator demo` runs its own emulator in its own state dir, not this one.",
            file=sys.stderr,
        )
        return 1
    exports = {**environment(info), "AZBATCH_DIGEST_KEY_FILE": str(digest_key_file(state_dir))}
    for name, value in exports.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def _running(ready: Path) -> dict[str, Any] | None:
    """What ready.json records, when that emulator answers."""
    try:
        info: dict[str, Any] = json.loads(ready.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return info if _listening(info["host"], int(info["port"])) else None


def _starting(state_dir: Path) -> bool:
    """A `serve` of this state dir is running (it may not answer yet): it holds serve.lock."""
    try:
        with (state_dir / LOCK_FILE).open() as handle:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def digest_key_file(state_dir: Path) -> Path:
    """The operator's digest key for this emulator's pools: 32 random bytes (hex), made once, mode 0600.

    Stable across `env` calls and emulator restarts, so an operator restarted against the same
    emulator sees the same secret digests (a new key would recreate every pool with secrets)."""
    path = state_dir / DIGEST_KEY_FILE
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as key:
            key.write(secrets.token_hex(32))
    return path


def _state_dir_option(state_dir: Path) -> str:
    return "" if state_dir == default_state_dir() else f" --state-dir {shlex.quote(str(state_dir))}"


def environment(info: dict[str, Any]) -> dict[str, str]:
    """The azure-identity / ASO variable names that point a client at the emulator."""
    return {
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_CLIENT_ID": info["client_id"],
        "AZURE_CLIENT_SECRET": info["client_secret"],
        "AZURE_AUTHORITY_HOST": info["authority_host"],
        "AZURE_RESOURCE_MANAGER_ENDPOINT": info["management_endpoint"],
        "AZURE_RESOURCE_MANAGER_AUDIENCE": info["management_audience"],
        "SSL_CERT_FILE": info["ca_bundle"],
        "REQUESTS_CA_BUNDLE": info["ca_bundle"],
    }


def _listening(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
