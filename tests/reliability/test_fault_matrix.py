"""Azure misbehaving at every step: each cell ends converged, one pool, nothing deleted or done twice.

A cell is (step, fault): the fault is armed on the Azure call that carries the step out (scoped to
the cell's own pool), the step is asked for through Kubernetes, and the cell passes when the
resource converges, every armed fault was actually hit, the writes that reached the service are
exactly the step's (one PUT for a create, one DELETE and one PUT for a recreate, ...), and a
bystander pool in the same account was never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from reliability_helpers import (
    FAST,
    azure_pool,
    azure_pools,
    calls_that_reached_azure,
    extensions_of,
    owner_of,
    wait_converged,
)

from azbatch_operator.sandbox import Sandbox, SandboxSettings, pool_manifest


@dataclass(frozen=True)
class Fault:
    name: str
    options: dict[str, Any]


# Bursts the SDK's own retries absorb (3 retries), and one that outlasts them (the reconciler retries).
FAULTS = {
    "429-retry-after": Fault("429 storm with Retry-After", {"status": 429, "retry_after": 1, "count": 3}),
    "500-burst": Fault("500 burst", {"status": 500, "count": 3}),
    "503-burst": Fault("503 burst", {"status": 503, "count": 3}),
    "dropped": Fault("dropped connections", {"status": 0, "drop_connection": True, "count": 2}),
    "slow": Fault("slow answers (3 s each)", {"status": 0, "latency": 3.0, "count": 2}),
    "503-outlasting": Fault("503 burst outlasting the SDK's retries", {"status": 503, "count": 6}),
}
# Which Azure writes carry each step out, and which must reach the service exactly (the rest: zero).
STEPS: dict[str, tuple[tuple[str, ...], dict[str, int]]] = {
    "create": (("PUT",), {"PUT mgmt.pool": 1, "DELETE mgmt.pool": 0}),
    "patch": (("PATCH",), {"PUT mgmt.pool": 0, "DELETE mgmt.pool": 0}),
    "recreate": (("DELETE", "PUT"), {"PUT mgmt.pool": 1, "DELETE mgmt.pool": 1}),
    # deletionPolicy Delete drains first: one shrink to zero (TaskCompletion), then one DELETE.
    "delete": (("DELETE",), {"PUT mgmt.pool": 0, "DELETE mgmt.pool": 1, "PATCH mgmt.pool": 1}),
}
# The default run covers every fault and every step once; the whole product runs with -m slow.
DEFAULT_CELLS = {
    ("create", "429-retry-after"),
    ("patch", "500-burst"),
    ("recreate", "429-retry-after"),
    ("delete", "dropped"),
    ("recreate", "dropped"),
    ("create", "slow"),
    ("patch", "503-outlasting"),
}
CELLS = [
    pytest.param(
        step, fault, id=f"{step}-{fault}", marks=() if (step, fault) in DEFAULT_CELLS else pytest.mark.slow
    )
    for step in STEPS
    for fault in FAULTS
]
BYSTANDER = "bystander"


@pytest.fixture(scope="module")
def faulty() -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(**FAST)) as running:
        running.kube.apply(running.retarget(pool_manifest(BYSTANDER)))
        wait_converged(running, BYSTANDER)
        yield running


def _arm(sandbox: Sandbox, pool: str, methods: tuple[str, ...], fault: Fault) -> None:
    sandbox.admin.clear_faults()
    sandbox.admin.reset_counters()
    for method in methods:
        sandbox.admin.inject_fault("mgmt.pool", method, pool=pool, **fault.options)


@pytest.mark.parametrize(("step", "fault_key"), CELLS)
def test_each_step_survives_each_fault(faulty: Sandbox, step: str, fault_key: str) -> None:
    name = f"{step}-{fault_key}".lower()
    methods, expected = STEPS[step]
    fault = FAULTS[fault_key]
    bystander = azure_pool(faulty, BYSTANDER)
    assert bystander is not None
    manifest = faulty.retarget(pool_manifest(name))
    if step == "create":
        _arm(faulty, name, methods, fault)
        faulty.kube.apply(manifest)
    else:
        faulty.kube.apply(manifest)
        before = wait_converged(faulty, name)["status"]["pool"]["creationTime"]
        _arm(faulty, name, methods, fault)
        changed = copy.deepcopy(manifest)
        if step == "patch":
            changed["spec"]["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] = 3
        elif step == "recreate":
            extensions_of(changed)[0]["typeHandlerVersion"] = "1.1"
        if step == "delete":
            faulty.kube.delete(manifest)
        else:
            faulty.kube.apply(changed)

    if step == "delete":
        faulty.kube.wait_gone(manifest, timeout=90)
        assert azure_pool(faulty, name) is None
    else:
        obj = wait_converged(faulty, name, timeout=120)
        created = obj["status"]["pool"]["creationTime"]
        if step == "patch":
            assert created == before, "a patch must not replace the pool"
            assert obj["status"]["pool"]["currentDedicatedNodes"] == 3
        if step == "recreate":
            assert created != before
        pool = azure_pool(faulty, name)
        assert pool is not None
        assert (owner_of(pool) or "").endswith(f"/default/{name}")

    armed = faulty.admin.faults()
    # A failing fault is hit until its count is used up; a slow answer still answers, so once is enough.
    assert all(f["hits"] == f["count"] or (f["hits"] and f["latency"]) for f in armed), armed
    reached = calls_that_reached_azure(faulty)
    assert {key: reached.get(key, 0) for key in expected} == expected, reached
    if step == "patch":
        assert reached.get("PATCH mgmt.pool", 0) >= 1
    survivor = azure_pool(faulty, BYSTANDER)
    assert survivor is not None
    assert survivor["properties"]["creationTime"] == bystander["properties"]["creationTime"]
    names = set(azure_pools(faulty))
    assert BYSTANDER in names
    assert (name in names) == (step != "delete")
    faulty.admin.clear_faults()


@pytest.mark.slow
def test_a_random_storm_on_every_call_for_a_whole_lifecycle(faulty: Sandbox) -> None:
    """About a third of all Azure calls fail (429, 500, dropped) through a pool's whole life."""
    name = "storm-lifecycle"
    faulty.admin.clear_faults()
    for status, extra in ((429, {"retry_after": 1}), (500, {}), (0, {"drop_connection": True})):
        faulty.admin.inject_fault("mgmt.*", "*", status, probability=0.12, pool=name, **extra)
        faulty.admin.inject_fault("batch.*", "*", status, probability=0.12, **extra)
    manifest = faulty.retarget(pool_manifest(name))
    faulty.kube.apply(manifest)
    wait_converged(faulty, name, timeout=240)
    changed = copy.deepcopy(manifest)
    changed["spec"]["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] = 3
    faulty.kube.apply(changed)
    wait_converged(faulty, name, timeout=240, currentDedicatedNodes=3)
    extensions_of(changed)[0]["typeHandlerVersion"] = "1.1"
    faulty.kube.apply(changed)
    obj = wait_converged(faulty, name, timeout=240)
    assert obj["status"]["pool"]["currentDedicatedNodes"] == 3
    faulty.kube.delete(changed)
    faulty.kube.wait_gone(changed, timeout=240)
    faulty.admin.clear_faults()
    assert azure_pool(faulty, name) is None
    assert azure_pool(faulty, BYSTANDER) is not None
