"""Two operator processes, one Lease: only the holder acts; a standby takes over when the leader dies.

Both replicas run `azbatch-operator run` with `leaderElection.enabled` against one Kubernetes
stand-in (which serves coordination.k8s.io/v1 Leases). The Lease lasts 15 s and is polled every
2 s, so a SIGKILLed leader is replaced within about 17 s plus the new leader's start-up.
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import STEPPED, calls_that_reached_azure, wait_converged

from azbatch_kubemock import KubeApiError
from azbatch_operator.sandbox import Sandbox, SandboxSettings, pool_manifest, wait_until

LEASE = {
    "apiVersion": "coordination.k8s.io/v1",
    "kind": "Lease",
    "metadata": {"name": "azbatch-operator", "namespace": "default"},
}
TAKEOVER_BOUND = 35.0  # lease duration 15 s + retry period 2 s + start-up, with room for a slow CI


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


STANDBY_HEALTH_PORT = _free_port()


def _healthz() -> tuple[int, str]:
    """What the kubelet's probe of the standby's /healthz sees (status, body); 0 when refused."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{STANDBY_HEALTH_PORT}/healthz", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[Sandbox, subprocess.Popen[bytes]]]:
    with Sandbox(SandboxSettings(operator_in_process=False, leader_election=True, **STEPPED)) as running:
        wait_until(lambda: _holder(running), timeout=30, what="a first leader")
        standby = running.spawn_operator_replica("standby", health_port=STANDBY_HEALTH_PORT)
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
    wait_until(lambda: _healthz()[0] == 200, timeout=30, what="the standby answering its probe")
    assert "standby" in _healthz()[1], "a waiting replica must pass its probes, or the kubelet restarts it"
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
    status, body = _healthz()
    assert status == 200 and "standby" not in body, "once leading, kopf's own liveness endpoint answers"
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


def test_a_leader_stopped_cleanly_hands_over_at_once() -> None:
    """A rollout or a drained node stops the leader with SIGTERM: it releases the Lease, so the
    standby leads on its next poll (2 s) rather than after the 15 s lease duration."""
    with Sandbox(SandboxSettings(operator_in_process=False, leader_election=True, **STEPPED)) as running:
        wait_until(lambda: _holder(running), timeout=30, what="a first leader")
        standby = running.spawn_operator_replica("standby")
        try:
            time.sleep(3)  # the standby is up and polling
            assert _holder(running) != "standby"
            stopped_at = time.monotonic()
            running.stop_operator()
            wait_until(lambda: _holder(running) == "standby", timeout=10, what="the standby leading")
            assert time.monotonic() - stopped_at < 10, "the standby waited out the lease"
            log = (running.workdir / "operator.log").read_text(encoding="utf-8", errors="replace")
            assert "released the lease" in log
        finally:
            standby.kill()
            standby.wait()
