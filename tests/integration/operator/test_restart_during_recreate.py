"""The operator process SIGKILLed at every recreate step resumes there: one pool, one delete, one create."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from operator_helpers import azure_pool

from azbatch_operator.sandbox import Sandbox, SandboxSettings, condition, pool_manifest, wait_until

# Slow enough that every recreate step lasts a few real seconds; the operator runs as its own process.
SETTINGS = {"time_scale": 40.0, "resync_interval": 2.0, "health_interval": 1.0, "active_requeue": 0.3}


@pytest.fixture(scope="module")
def killable() -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(operator_in_process=False, **SETTINGS)) as running:
        yield running


@pytest.mark.parametrize("phase", ["Draining", "Deleting", "Creating"])
def test_killed_during_a_recreate_step_resumes_there(killable: Sandbox, phase: str) -> None:
    name = f"killed-{phase.lower()}"
    manifest = killable.retarget(pool_manifest(name))
    killable.kube.apply(manifest)
    before = killable.wait_for_condition(name, "Ready", timeout=90)["status"]["pool"]["creationTime"]
    killable.admin.reset_counters()
    changed = copy.deepcopy(manifest)
    changed["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0][
        "typeHandlerVersion"
    ] = "1.1"
    killable.kube.apply(changed)

    def in_phase() -> bool:
        recreate = ((killable.pool(name) or {}).get("status") or {}).get("recreate") or {}
        return recreate.get("phase") == phase

    wait_until(in_phase, timeout=60, interval=0.02, what=f"recreate phase {phase}")
    killable.kill_operator()
    killable.start_operator()

    def converged() -> bool:
        obj = killable.pool(name) or {}
        status = obj.get("status") or {}
        return (
            not status.get("recreate")
            and condition(obj, "Ready").get("status") == "True"
            and (status.get("pool") or {}).get("creationTime") not in (None, before)
        )

    wait_until(converged, timeout=120, what=f"{name} recreated after a kill in {phase}")
    counts = killable.admin.counters()
    assert counts.get("DELETE mgmt.pool", 0) == 1, counts
    assert counts.get("PUT mgmt.pool", 0) == 1, counts
    pool = azure_pool(killable, name)
    assert pool is not None
    extension = pool["properties"]["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]
    assert extension["typeHandlerVersion"] == "1.1"
