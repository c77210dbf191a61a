"""The operator process SIGKILLed inside every step of create, scale-to-zero, recreate and delete.

Each cell waits until the step is visibly under way (on the Azure side or in `status`), kills the
operator with SIGKILL (no cleanup, no last status write), starts a new one, and checks that it
finished the job from where it was: one pool, the writes of the step exactly once, nothing deleted
that should not be. The recreate steps are also covered in tests/integration/operator; here they
run in the slow matrix next to the others.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from reliability_helpers import (
    STEPPED,
    azure_pool,
    azure_pools,
    calls_that_reached_azure,
    extensions_of,
    owner_of,
    wait_converged,
)

from azbatch_operator.sandbox import Sandbox, SandboxSettings, pool_manifest, wait_until


@pytest.fixture(scope="module")
def killable() -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(operator_in_process=False, **STEPPED)) as running:
        yield running


def _status(sandbox: Sandbox, name: str) -> dict[str, Any]:
    return dict(((sandbox.pool(name) or {}).get("status")) or {})


def _azure(sandbox: Sandbox, name: str) -> dict[str, Any]:
    return dict((azure_pool(sandbox, name) or {}).get("properties") or {})


@dataclass(frozen=True)
class Cell:
    """How to start the step, when it is under way, and the writes that must reach Azure exactly."""

    policy: dict[str, Any]
    change: Callable[[dict[str, Any]], None] | None  # None: the step is the delete of the resource
    under_way: Callable[[Sandbox, str], bool]
    writes: dict[str, int]


def _bump_extension(manifest: dict[str, Any]) -> None:
    extensions_of(manifest)[0]["typeHandlerVersion"] = "1.1"


def _bigger_vms(manifest: dict[str, Any]) -> None:
    manifest["spec"]["vmSize"] = "STANDARD_D4S_V3"


def _recreate_phase(phase: str) -> Callable[[Sandbox, str], bool]:
    return lambda sandbox, name: (_status(sandbox, name).get("recreate") or {}).get("phase") == phase


CELLS: dict[str, Cell] = {
    # The PUT reached Azure; the pool is allocating and the resource not yet Ready.
    "create-allocating": Cell(
        {},
        None,
        lambda sandbox, name: _azure(sandbox, name).get("allocationState") == "Resizing",
        {"PUT mgmt.pool": 1, "DELETE mgmt.pool": 0},
    ),
    # Resized to zero for a zero-node-only change; nodes are leaving.
    "scale-to-zero-draining": Cell(
        {"updateStrategy": "ScaleToZero"},
        _bigger_vms,
        lambda sandbox, name: (
            _azure(sandbox, name).get("scaleSettings", {}).get("fixedScale", {}).get("targetDedicatedNodes")
            == 0
            and _azure(sandbox, name).get("currentDedicatedNodes", 0) > 0
        ),
        {"PUT mgmt.pool": 0, "DELETE mgmt.pool": 0},
    ),
    # At zero nodes, before (or just after) the PATCH that changes vmSize and scales back.
    "scale-to-zero-at-zero": Cell(
        {"updateStrategy": "ScaleToZero"},
        _bigger_vms,
        lambda sandbox, name: (
            _azure(sandbox, name).get("currentDedicatedNodes", -1) == 0
            and _azure(sandbox, name).get("allocationState") == "Steady"
        ),
        {"PUT mgmt.pool": 0, "DELETE mgmt.pool": 0},
    ),
    "recreate-draining": Cell(
        {"drain": {"enabled": True}},
        _bump_extension,
        _recreate_phase("Draining"),
        {"PUT mgmt.pool": 1, "DELETE mgmt.pool": 1},
    ),
    "recreate-deleting": Cell(
        {}, _bump_extension, _recreate_phase("Deleting"), {"PUT mgmt.pool": 1, "DELETE mgmt.pool": 1}
    ),
    "recreate-creating": Cell(
        {}, _bump_extension, _recreate_phase("Creating"), {"PUT mgmt.pool": 1, "DELETE mgmt.pool": 1}
    ),
    # The DELETE was sent; Azure is deleting the pool and the finalizer still holds the resource.
    "delete-deleting": Cell(
        {"deletionPolicy": "Delete"},
        None,
        lambda sandbox, name: _azure(sandbox, name).get("provisioningState") == "Deleting",
        {"PUT mgmt.pool": 0, "DELETE mgmt.pool": 1},
    ),
}
DEFAULT = {"create-allocating", "scale-to-zero-at-zero", "delete-deleting"}


@pytest.mark.parametrize(
    "cell", [pytest.param(key, marks=() if key in DEFAULT else pytest.mark.slow) for key in CELLS]
)
def test_killed_inside_a_step_resumes_it_once(killable: Sandbox, cell: str) -> None:
    spec = CELLS[cell]
    name = f"kill-{cell}"
    manifest = killable.retarget(pool_manifest(name, policy=spec.policy))
    deleting = cell.startswith("delete")
    creating = cell.startswith("create")
    killable.admin.reset_counters()
    killable.kube.apply(manifest)
    before = None
    if not creating:
        before = wait_converged(killable, name)["status"]["pool"]["creationTime"]
        killable.admin.reset_counters()
        if deleting:
            killable.kube.delete(manifest)
        else:
            changed = copy.deepcopy(manifest)
            assert spec.change is not None
            spec.change(changed)
            killable.kube.apply(changed)

    wait_until(lambda: spec.under_way(killable, name), timeout=60, interval=0.02, what=f"{cell} under way")
    killable.kill_operator()
    killable.start_operator()

    if deleting:
        killable.kube.wait_gone(manifest, timeout=120)
        assert azure_pool(killable, name) is None
    else:
        obj = wait_converged(killable, name, timeout=120)
        created = obj["status"]["pool"]["creationTime"]
        if cell.startswith("scale-to-zero"):
            assert created == before, "scale-to-zero must change the pool in place, not replace it"
            assert _azure(killable, name)["vmSize"].lower() == "standard_d4s_v3"
            assert obj["status"]["pool"]["currentDedicatedNodes"] == 2
        if cell.startswith("recreate"):
            assert created != before
            pool = azure_pool(killable, name) or {}
            vmc = pool["properties"]["deploymentConfiguration"]["virtualMachineConfiguration"]
            assert vmc["extensions"][0]["typeHandlerVersion"] == "1.1"
        assert (owner_of(azure_pool(killable, name)) or "").endswith(f"/default/{name}")
        assert name in azure_pools(killable)
    reached = calls_that_reached_azure(killable)
    assert {key: reached.get(key, 0) for key in spec.writes} == spec.writes, reached
