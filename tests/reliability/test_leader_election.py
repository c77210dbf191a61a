"""Two operator processes, one Lease: only the holder acts; a standby takes over when the leader dies.

Both replicas run `azbatch-operator run` with `leaderElection.enabled` against one Kubernetes
stand-in (which serves coordination.k8s.io/v1 Leases). The Lease lasts 15 s and is polled every
2 s, so a SIGKILLed leader is replaced within about 17 s plus the new leader's start-up.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import STEPPED, calls_that_reached_azure, pool_manifest, wait_converged

from azbatch_kubemock import KubeApiError
from azbatch_operator.sandbox import Sandbox, SandboxSettings, wait_until

LEASE = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "azbatch-operator", "namespace": "default"},
}
TAKEOVER_BOUND = 35.0  # lease duration 15 s + retry period 2 s + start-up, with room for a slow CI


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[Sandbox, subprocess.Popen[bytes]]]:
    with Sandbox(SandboxSettings(operator_in_process=False, leader_election=True, **STEPPED)) as running:
        wait_until(lambda: _holder(running), timeout=30, what="a first leader")
        standby = running.spawn_operator_replica("standby")
        try:
            yield running, standby
        finally:
            if standby.poll() is None:
                standby.kill()
                standby.wait()


def _holder(sandbox: Sandbox) -> str | None:
    lease = sandbox.kube.get(LEASE) or {}
    holder: str | None = (lease.get("spec") or {}).get("holderIdentity")
    return holder


def _take_lease(sandbox: Sandbox, holder: str) -> None:
    """Write the Lease as another holder would, retrying when a renewal raced us (409 Conflict)."""
    for _ in range(10):
        lease = sandbox.kube.get(LEASE)
        assert lease is not None
        lease["spec"]["holderIdentity"] = holder
        lease["spec"]["renewTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        try:
            sandbox.kube.request("PUT", sandbox.kube.path_of(LEASE), lease)
            return
        except KubeApiError as conflict:
            if conflict.code != 409:
                raise
    raise AssertionError("could not write the Lease")


def _log_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue
    return lines


def _writes_logged(path: Path) -> int:
    return sum(1 for line in _log_lines(path) if line.get("event") == "azure write")


def test_only_the_leader_acts_and_a_standby_takes_over_when_it_dies(
    replicas: tuple[Sandbox, subprocess.Popen[bytes]],
) -> None:
    sandbox, standby = replicas
    leader = _holder(sandbox)
    assert leader and leader != "standby"
    standby_log = sandbox.workdir / "operator-standby.log"

    manifest = sandbox.retarget(pool_manifest("led"))
    sandbox.admin.reset_counters()
    sandbox.kube.apply(manifest)
    wait_converged(sandbox, "led")
    assert calls_that_reached_azure(sandbox).get("PUT mgmt.pool", 0) == 1
    assert standby.poll() is None, "the standby must wait, not exit"
    assert _writes_logged(standby_log) == 0, "the standby acted while the leader held the Lease"
    assert _holder(sandbox) == leader

    sandbox.kill_operator()
    killed_at = time.monotonic()
    wait_until(lambda: _holder(sandbox) == "standby", timeout=TAKEOVER_BOUND, what="the standby leading")
    took = time.monotonic() - killed_at
    assert took < TAKEOVER_BOUND

    changed = copy.deepcopy(manifest)
    changed["spec"]["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] = 3
    sandbox.kube.apply(changed)
    wait_converged(sandbox, "led", timeout=60, currentDedicatedNodes=3)
    assert _writes_logged(standby_log) >= 1
    counts = calls_that_reached_azure(sandbox)
    assert counts.get("PUT mgmt.pool", 0) == 1 and counts.get("DELETE mgmt.pool", 0) == 0, counts


def test_a_leader_that_loses_its_lease_stops_acting(
    replicas: tuple[Sandbox, subprocess.Popen[bytes]],
) -> None:
    """Someone else holds the Lease now (a partition healed, a clock jumped): the old leader stops."""
    sandbox, standby = replicas
    if _holder(sandbox) != "standby":
        pytest.skip("runs after the takeover test, with the standby leading")
    _take_lease(sandbox, "another-replica")
    wait_until(lambda: standby.poll() is not None, timeout=15, what="the replica that lost the Lease to stop")
    assert standby.returncode != 0
    text = (sandbox.workdir / "operator-standby.log").read_text(encoding="utf-8", errors="replace")
    assert "held by another replica" in text, text[-3000:]
