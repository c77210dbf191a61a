"""The ground moving under the operator: its Kubernetes connections cut, the Azure endpoint restarted.

- Kubernetes: every connection between the operator and the API server is aborted (watch streams
  and requests in flight), as when an API server restarts or a load balancer drops long streams.
  A spec change made right after must still be seen and applied, and a recreate cut in the middle
  must finish with one delete and one create.
- Azure: the emulator process is SIGKILLed and started again on the same port and state (as an
  Azure front end going away and coming back) while a pool is being created and while a recreate
  deletes the old pool. Counters restart with the process, so "at most once" is read from the
  counters before and after, and "at least once" from the pool itself.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from reliability_helpers import (
    STEPPED,
    CuttableWire,
    azure_pool,
    azure_pools,
    calls_that_reached_azure,
    extensions_of,
    owner_of,
    route_operator_through,
    wait_converged,
)

from azbatch_operator.sandbox import Sandbox, SandboxSettings, pool_manifest, wait_until


@pytest.fixture(scope="module")
def outages() -> Iterator[tuple[Sandbox, CuttableWire]]:
    with Sandbox(SandboxSettings(emulator_in_process=False, **STEPPED)) as running:
        host, port = running.kube_address()
        wire = CuttableWire(host, port).start()
        route_operator_through(running, wire)
        try:
            yield running, wire
        finally:
            running.stop_operator()
            wire.stop()


def _recreate_phase(sandbox: Sandbox, name: str) -> str | None:
    status = (sandbox.pool(name) or {}).get("status") or {}
    phase: str | None = (status.get("recreate") or {}).get("phase")
    return phase


def test_a_spec_change_after_the_watch_was_cut_is_applied(outages: tuple[Sandbox, CuttableWire]) -> None:
    sandbox, wire = outages
    manifest = sandbox.retarget(pool_manifest("cut-watch"))
    sandbox.kube.apply(manifest)
    created = wait_converged(sandbox, "cut-watch")["status"]["pool"]["creationTime"]
    assert wire.cut() > 0, "the operator held no connection to cut"
    changed = copy.deepcopy(manifest)
    changed["spec"]["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] = 3
    sandbox.kube.apply(changed)
    obj = wait_converged(sandbox, "cut-watch", timeout=90, currentDedicatedNodes=3)
    assert obj["status"]["pool"]["creationTime"] == created


def test_a_recreate_cut_off_from_kubernetes_finishes_once(outages: tuple[Sandbox, CuttableWire]) -> None:
    sandbox, wire = outages
    name = "cut-recreate"
    manifest = sandbox.retarget(pool_manifest(name))
    sandbox.kube.apply(manifest)
    before = wait_converged(sandbox, name)["status"]["pool"]["creationTime"]
    sandbox.admin.reset_counters()
    changed = copy.deepcopy(manifest)
    extensions_of(changed)[0]["typeHandlerVersion"] = "1.1"
    sandbox.kube.apply(changed)
    for phase in ("Deleting", "Creating"):
        wait_until(lambda p=phase: _recreate_phase(sandbox, name) == p, timeout=60, interval=0.02, what=phase)
        wire.cut()
    obj = wait_converged(sandbox, name, timeout=120)
    assert obj["status"]["pool"]["creationTime"] != before
    reached = calls_that_reached_azure(sandbox)
    assert (reached.get("DELETE mgmt.pool", 0), reached.get("PUT mgmt.pool", 0)) == (1, 1), reached


def _restart_azure(sandbox: Sandbox) -> dict[str, int]:
    """SIGKILL the emulator and start it again; returns the counters read just before the kill."""
    counted = calls_that_reached_azure(sandbox)
    sandbox.emulator.restart(kill=True)
    return counted


def _sum(*counts: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            total[key] = total.get(key, 0) + value
    return total


def test_azure_restarting_during_a_create(outages: tuple[Sandbox, CuttableWire]) -> None:
    sandbox, _ = outages
    name = "azure-restart-create"
    sandbox.admin.reset_counters()
    sandbox.kube.apply(sandbox.retarget(pool_manifest(name)))

    def allocating() -> bool:
        properties: dict[str, Any] = (azure_pool(sandbox, name) or {}).get("properties") or {}
        return properties.get("allocationState") == "Resizing"

    wait_until(allocating, timeout=60, interval=0.05, what="the pool allocating")
    before_restart = _restart_azure(sandbox)
    obj = wait_converged(sandbox, name, timeout=120)
    assert obj["status"]["pool"]["currentDedicatedNodes"] == 2
    total = _sum(before_restart, calls_that_reached_azure(sandbox))
    assert total.get("PUT mgmt.pool", 0) == 1, total
    assert total.get("DELETE mgmt.pool", 0) == 0, total
    assert (owner_of(azure_pool(sandbox, name)) or "").endswith(f"/default/{name}")


def test_azure_restarting_while_a_recreate_deletes(outages: tuple[Sandbox, CuttableWire]) -> None:
    sandbox, _ = outages
    name = "azure-restart-recreate"
    manifest = sandbox.retarget(pool_manifest(name))
    sandbox.kube.apply(manifest)
    before = wait_converged(sandbox, name)["status"]["pool"]["creationTime"]
    others = {n: p["properties"]["creationTime"] for n, p in azure_pools(sandbox).items() if n != name}
    sandbox.admin.reset_counters()
    changed = copy.deepcopy(manifest)
    extensions_of(changed)[0]["typeHandlerVersion"] = "1.1"
    sandbox.kube.apply(changed)
    wait_until(
        lambda: _recreate_phase(sandbox, name) == "Deleting", timeout=60, interval=0.02, what="Deleting"
    )
    before_restart = _restart_azure(sandbox)
    obj = wait_converged(sandbox, name, timeout=120)
    assert obj["status"]["pool"]["creationTime"] != before  # so it was deleted and created (at least once)
    total = _sum(before_restart, calls_that_reached_azure(sandbox))
    assert total.get("DELETE mgmt.pool", 0) <= 1, total  # and at most once
    assert total.get("PUT mgmt.pool", 0) <= 1, total
    after = {n: p["properties"]["creationTime"] for n, p in azure_pools(sandbox).items() if n != name}
    assert after == others, "another pool was replaced or deleted"
