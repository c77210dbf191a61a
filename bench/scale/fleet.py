"""BatchPool manifests for the benchmark, applying many at once, and reading the fleet's state."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from azbatch_operator import rendering, validation

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
    vm: dict[str, Any] = {
        "imageReference": {
            "publisher": "Canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "nodeAgentSkuId": "batch.node.ubuntu 24.04",
    }
    if extension:
        vm["extensions"] = [dict(EXTENSION)]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "account": {
                "subscriptionId": info["subscription_id"],
                "resourceGroup": info["resource_group"],
                "accountName": info["account_name"],
            },
            "vmSize": "STANDARD_D2S_V3",
            "deploymentConfiguration": {"virtualMachineConfiguration": vm},
            "scaleSettings": {"fixedScale": {"targetDedicatedNodes": nodes, "resizeTimeout": "PT30M"}},
        },
    }


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
    """Seconds from `started` until `count` pools are Ready, and the Ready curve on the way."""
    curve: list[tuple[float, int]] = [(0.0, 0)]
    while True:
        ready = sum(1 for p in pools(kube) if is_ready(p))
        elapsed = time.monotonic() - started
        curve.append((elapsed, ready))
        if on_poll is not None:
            on_poll()
        if ready >= count:
            return elapsed, curve
        if elapsed > timeout:
            raise TimeoutError(f"{ready}/{count} BatchPools Ready after {timeout:.0f} s")
        time.sleep(poll)


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
