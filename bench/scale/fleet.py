"""BatchPool manifests for the benchmark, applying many at once, and reading the fleet's state:
the pools' Batch accounts, the operator's readiness (its log), and the emulator's ARM reads by
account (its access log)."""

from __future__ import annotations

import collections
import json
import os
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azbatch_operator import rendering, validation
from azbatch_operator.sandbox import pool_manifest

API_VERSION = "azbatch.dev/v1alpha1"
KIND = "BatchPool"
NAMESPACE = "default"
EXTENSION = {
    "name": "monitor",
    "type": "AzureMonitorLinuxAgent",
    "publisher": "Microsoft.Azure.Monitor",
    "typeHandlerVersion": "1.0",
    "autoUpgradeMinorVersion": True,
}


def pool_name(index: int, prefix: str = "bench") -> str:
    return f"{prefix}-{index:04d}"


def account_names(info: Mapping[str, Any], count: int) -> list[str]:
    """The fleet's Batch accounts: the emulator's pre-created one, then `bench01`, `bench02`, ...
    (created by `create_accounts`), all in the emulator's one subscription and resource group."""
    return [str(info["account_name"])] + [f"bench{i:02d}" for i in range(1, count)]


def create_accounts(admin: Any, info: Mapping[str, Any], count: int) -> list[str]:
    """Create the fleet's extra accounts through the emulator's admin API (again after a reset,
    which removes them); returns every account name, the pre-created one first."""
    names = account_names(info, count)
    for name in names[1:]:
        admin.create_account(name)
    return names


def account_of(index: int, accounts: Sequence[str]) -> str:
    """Pools are spread over the accounts round-robin."""
    return accounts[index % len(accounts)]


def account_id(info: Mapping[str, Any], account: str) -> str:
    """The ARM id of one of the fleet's accounts (same subscription and group as the emulator's)."""
    return str(info["account_id"]).rsplit("/", 1)[0] + f"/{account}"


def manifest(
    name: str,
    info: Mapping[str, Any],
    *,
    nodes: int,
    extension: bool = False,
    account: str | None = None,
) -> dict[str, Any]:
    """The sandbox's sample pool in `account` (default: the emulator's), `nodes` dedicated nodes,
    with or without a VM extension."""
    document = pool_manifest(
        name,
        NAMESPACE,
        account={
            "subscriptionId": info["subscription_id"],
            "resourceGroup": info["resource_group"],
            "accountName": account or info["account_name"],
        },
        scaleSettings={"fixedScale": {"targetDedicatedNodes": nodes, "resizeTimeout": "PT30M"}},
    )
    vm = document["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"]
    if extension:
        vm["extensions"] = [dict(EXTENSION)]
    else:
        vm.pop("extensions", None)
    return document


def arm_body(document: Mapping[str, Any]) -> dict[str, Any]:
    """The PUT body the operator sends for this manifest (same renderer), for the floor's client."""
    resource, findings = validation.validate_manifest(document)
    errors = [f for f in findings if f.severity == "error"]
    if resource is None or errors:
        raise ValueError(f"benchmark manifest is invalid: {errors}")
    desired = rendering.render_pool(
        resource.spec, secrets={}, owner=f"bench/{resource.pool_name}", digest_key=b"bench" * 8
    )
    return desired.body


def ref(name: str) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name, "namespace": NAMESPACE}}


def apply_all(kube: Any, manifests: Sequence[Mapping[str, Any]], *, workers: int = 4) -> None:
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(kube.apply, manifests))


def condition(obj: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    for item in (obj.get("status") or {}).get("conditions") or ():
        if item.get("type") == type_:
            return dict(item)
    return {}


def is_ready(obj: Mapping[str, Any]) -> bool:
    """Ready=True for the current generation (what `kubectl wait --for=condition=Ready` sees)."""
    status = obj.get("status") or {}
    return condition(obj, "Ready").get("status") == "True" and status.get("observedGeneration") == (
        obj.get("metadata") or {}
    ).get("generation")


def pools(kube: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kube.list_objects(API_VERSION, KIND, namespace=NAMESPACE)
    return items


def resource_versions(kube: Any) -> dict[str, str]:
    return {p["metadata"]["name"]: str(p["metadata"].get("resourceVersion")) for p in pools(kube)}


def wait_all_ready(
    kube: Any,
    count: int,
    *,
    started: float,
    timeout: float,
    poll: float = 0.5,
    on_poll: Callable[[], None] | None = None,
) -> tuple[float, list[tuple[float, int]]]:
    """Seconds from `started` until `count` pools are Ready, and the Ready curve on the way.

    Watches the BatchPools rather than listing them over and over: a list of ten thousand objects
    costs the Kubernetes stand-in (which shares these cores with the operator) more CPU than the
    operator spends, and would slow down what it measures. One stream is kept open as long as the
    server keeps it (resumed from the last resourceVersion when it ends; from the current pools
    after a 410), so the watch keeps up with the event history however large the fleet; `on_poll`
    runs every `poll` seconds on a thread of its own."""
    curve: list[tuple[float, int]] = [(0.0, 0)]
    ready: set[str] = set()
    deadline = started + timeout
    version = ""  # resume where the last stream ended, not with every pool again
    with Ticker(poll, on_poll):
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(ready)}/{count} BatchPools Ready after {timeout:.0f} s")
            for event in _watch_pools(kube, since=version, read_timeout=min(30.0, max(remaining, 0.1))):
                if event.get("type") == "ERROR":  # 410 Expired: start over from the current pools
                    version = ""
                    ready.clear()
                    break
                obj = event.get("object") or {}
                name = (obj.get("metadata") or {}).get("name", "")
                version = (obj.get("metadata") or {}).get("resourceVersion", version)
                before = len(ready)
                if event.get("type") != "DELETED" and is_ready(obj):
                    ready.add(name)
                else:
                    ready.discard(name)
                now = time.monotonic()
                if len(ready) != before:
                    curve.append((now - started, len(ready)))
                if len(ready) >= count:
                    return now - started, curve
                if now > deadline:
                    break


class Ticker:
    """`with Ticker(seconds, call):` calls `call` every `seconds` on a daemon thread until the block ends."""

    def __init__(self, seconds: float, call: Callable[[], None] | None) -> None:
        self.seconds = seconds
        self.call = call
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Ticker:
        if self.call is not None:
            self._thread = threading.Thread(target=self._run, name="bench-ticker", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        assert self.call is not None
        while not self._stop.wait(self.seconds):
            self.call()


def _watch_pools(kube: Any, *, since: str, read_timeout: float) -> Iterator[dict[str, Any]]:
    """Watch events of the benchmark's BatchPools after resourceVersion `since` (without one, the
    current pools first, as ADDED), until the server ends the stream or it is quiet for
    `read_timeout` seconds."""
    plural, _ = kube.resource_of(API_VERSION, KIND)
    resume = f"&resourceVersion={since}" if since else ""
    url = f"{kube.url}/apis/{API_VERSION}/namespaces/{NAMESPACE}/{plural}?watch=true{resume}"
    headers = {"Authorization": f"Bearer {kube.token}"} if kube.token else {}
    request = urllib.request.Request(url, headers=headers)
    context = getattr(kube, "ssl_context", None)  # a real API server's CA and client certificate
    try:
        with urllib.request.urlopen(request, timeout=read_timeout, context=context) as stream:
            for line in stream:
                if line.strip():
                    yield json.loads(line)
    except TimeoutError:
        return


@dataclass
class Readiness:
    """What the operator's `operator.ready` log line (its first watch established) told."""

    startup_seconds: float | None = None  # process start to first watch, as the operator measured it
    seen_after_seconds: float | None = None  # from the benchmark's start of the process to the line
    cpu_seconds: float | None = None  # the operator's CPU seconds when the line was seen


class ReadyProbe:
    """Follows the operator's JSON log (`<workdir>/operator.log`) from where it ends now, on a thread
    of its own, until the `operator.ready` line appears; then samples the operator's CPU at once, so
    the CPU spent creating pools can be told from the CPU spent starting up."""

    EVENT = "operator.ready"

    def __init__(self, path: Path, *, interval: float = 0.02) -> None:
        self.path = path
        self.interval = interval
        self.offset = path.stat().st_size if path.exists() else 0
        self.result = Readiness()
        self._pending = b""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._started = 0.0

    def start(self, pid: int | None, *, started: float) -> ReadyProbe:
        self._pid, self._started = pid, started
        self._thread = threading.Thread(target=self._run, name="bench-ready-probe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Readiness:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.result.startup_seconds is None:
            self.check()  # a line written since the last look (its CPU sample is then late)
        return self.result

    def _run(self) -> None:
        while not self._stop.is_set() and not self.check():
            self._stop.wait(self.interval)

    def check(self) -> bool:
        """Read what the log gained; True once the ready line has been seen."""
        if self.result.startup_seconds is not None:
            return True
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                chunk = log.read()
        except OSError:
            return False
        self.offset += len(chunk)
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()  # an incomplete last line waits for the rest
        for line in lines:
            startup = ready_startup(line)
            if startup is not None:
                self.result = Readiness(
                    startup_seconds=startup,
                    seen_after_seconds=time.monotonic() - self._started,
                    cpu_seconds=cpu_seconds(self._pid),
                )
                return True
        return False


def ready_startup(line: bytes) -> float | None:
    """`startup_seconds` of an `operator.ready` JSON log line, None for any other line."""
    if ReadyProbe.EVENT.encode() not in line:
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("event") != ReadyProbe.EVENT:
        return None
    value = record.get("startup_seconds")
    return float(value) if isinstance(value, int | float) else None


# An access-log line of the emulator: `<date> <time> <METHOD> <path> <status> <ms>ms`.
_ACCESS = re.compile(rb"\s(GET|PUT|PATCH|POST|DELETE|HEAD)\s(/\S+)\s(\d{3}|dropped)\s")
_ACCOUNT = re.compile(rb"/providers/Microsoft\.Batch/batchAccounts/([^/]+)", re.IGNORECASE)


class ArmLog:
    """ARM reads by Batch account, from the emulator process's access log (`<state dir>/emulator.log`,
    one line per request). The admin API counts calls per route only; the log names the account."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def mark(self) -> None:
        """Count from here on."""
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def reads_by_account(self) -> dict[str, int] | None:
        """Management GETs since `mark()`, per account name (`""`: not under an account); None when
        the emulator writes no log file (in-process). A `--quiet` emulator logs no requests: check
        the total against the admin API's counters before trusting it."""
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                chunk = log.read()
        except OSError:
            return None
        counts: collections.Counter[str] = collections.Counter()
        for line in chunk.splitlines():
            match = _ACCESS.search(line)
            if (
                match is None
                or match.group(1) != b"GET"
                or b"/providers/Microsoft.Batch/" not in match.group(2)
            ):
                continue
            account = _ACCOUNT.search(match.group(2))
            counts[account.group(1).decode().lower() if account else ""] += 1
        return dict(counts)


def operator_pid() -> int | None:
    """The `azbatch-operator run` subprocess this process started (the Sandbox's operator)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == me and b"azbatch_operator" in cmdline and b"run" in cmdline:
            return int(entry.name)
    return None


def rss_mib(pid: int | None) -> float | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int | None, thread: int | None = None) -> float | None:
    """User + system CPU seconds of a process, or of one of its threads (a native thread id)."""
    if pid is None:
        return None
    stat = Path(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
