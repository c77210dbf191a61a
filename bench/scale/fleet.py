"""BatchPool manifests for the benchmark, applying many at once, and reading the fleet's state."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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


def manifest(name: str, info: Mapping[str, Any], *, nodes: int, extension: bool = False) -> dict[str, Any]:
    """The sandbox's sample pool in the emulator's account, `nodes` dedicated nodes, with or
    without a VM extension."""
    document = pool_manifest(
        name,
        NAMESPACE,
        account={
            "subscriptionId": info["subscription_id"],
            "resourceGroup": info["resource_group"],
            "accountName": info["account_name"],
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

    Watches the BatchPools rather than listing them over and over: a list of a thousand objects a
    second costs the Kubernetes stand-in (which shares these cores with the operator) more CPU than
    the operator spends, and would slow down what it measures. `poll` spaces the `on_poll` calls."""
    curve: list[tuple[float, int]] = [(0.0, 0)]
    ready: set[str] = set()
    deadline = started + timeout
    last_poll = 0.0
    version = ""  # resume where the last stream ended, not with every pool again
    while True:
        for event in _watch_pools(kube, since=version, read_timeout=max(poll, 0.1)):
            if event.get("type") == "ERROR":  # 410 Expired: start over from the current pools
                version = ""
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
            if on_poll is not None and now - last_poll >= poll:
                on_poll()
                last_poll = now
            if len(ready) >= count:
                return now - started, curve
            if now > deadline:
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ready)}/{count} BatchPools Ready after {timeout:.0f} s")


def _watch_pools(kube: Any, *, since: str, read_timeout: float) -> Iterator[dict[str, Any]]:
    """Watch events of the benchmark's BatchPools after resourceVersion `since` (without one, the
    current pools first, as ADDED), until the server ends the stream or it is quiet for
    `read_timeout` seconds."""
    plural, _ = kube.resource_of(API_VERSION, KIND)
    resume = f"&resourceVersion={since}" if since else ""
    url = f"{kube.url}/apis/{API_VERSION}/namespaces/{NAMESPACE}/{plural}?watch=true{resume}"
    headers = {"Authorization": f"Bearer {kube.token}"} if kube.token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=read_timeout) as stream:
            for line in stream:
                if line.strip():
                    yield json.loads(line)
    except TimeoutError:
        return


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
