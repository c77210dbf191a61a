"""What a user checks with kubectl and the Azure portal, against the real operator, SDKs and emulators."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from azbatch_kubemock import KubeApiError
from azbatch_operator.cli import main
from azbatch_operator.sandbox import Sandbox, condition, pool_manifest, wait_until


def test_apply_creates_the_pool_and_reports_ready(sandbox: Sandbox) -> None:
    sandbox.kube.apply(sandbox.retarget(pool_manifest("create-me")))
    obj = sandbox.wait_for_condition("create-me", "Ready", timeout=60)
    status = obj["status"]
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert status["pool"]["currentDedicatedNodes"] == 2
    assert status["pool"]["vmSize"].lower() == "standard_d2s_v3"
    assert condition(obj, "Stalled")["status"] == "False"
    assert condition(obj, "Reconciling")["status"] == "False"
    healthy = sandbox.wait_for_condition("create-me", "ExtensionsHealthy", timeout=30)
    assert healthy["status"]["extensions"][0]["nodes"]["succeeded"] == 2
    reasons = {e.get("reason") for e in sandbox.kube.events_for(obj)}
    assert {"Created", "Ready"} <= reasons


def test_scale_change_is_patched_in_place(sandbox: Sandbox) -> None:
    manifest = sandbox.retarget(pool_manifest("scale-me"))
    sandbox.kube.apply(manifest)
    ready = sandbox.wait_for_condition("scale-me", "Ready", timeout=60)
    created = ready["status"]["pool"]["creationTime"]
    sandbox.admin.reset_counters()
    changed = copy.deepcopy(manifest)
    changed["spec"]["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] = 3
    sandbox.kube.apply(changed)

    def scaled() -> bool:
        obj = sandbox.pool("scale-me") or {}
        pool = (obj.get("status") or {}).get("pool") or {}
        return pool.get("currentDedicatedNodes") == 3 and condition(obj, "Ready").get("status") == "True"

    wait_until(scaled, timeout=60, what="3 dedicated nodes and Ready")
    obj = sandbox.pool("scale-me")
    assert obj is not None
    assert obj["status"]["pool"]["creationTime"] == created
    counts = sandbox.admin.counters()
    assert counts.get("DELETE mgmt.pool", 0) == 0
    assert counts.get("PUT mgmt.pool", 0) == 0
    assert counts.get("PATCH mgmt.pool", 0) >= 1


def test_invalid_spec_stalls_with_the_fix_and_writes_nothing(sandbox: Sandbox) -> None:
    sandbox.admin.reset_counters()
    manifest = pool_manifest("too-short")
    manifest["spec"]["scaleSettings"]["fixedScale"]["resizeTimeout"] = "PT2M"
    sandbox.kube.apply(sandbox.retarget(manifest))
    obj = sandbox.wait_for_condition("too-short", "Stalled", timeout=30)
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == "InvalidSpec"
    assert "resizeTimeout" in stalled["message"]
    assert "5 minutes" in stalled["message"] or "PT5M" in stalled["message"]
    assert condition(obj, "Ready")["status"] == "False"
    assert sandbox.admin.management_writes() == 0


def test_admission_refuses_a_reserved_extension_type(sandbox: Sandbox) -> None:
    manifest = pool_manifest("custom-script")
    vm = manifest["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"]
    vm["extensions"][0]["type"] = "CustomScript"
    with pytest.raises(KubeApiError) as refused:
        sandbox.kube.apply(sandbox.retarget(manifest))
    assert refused.value.code == 422
    assert "startTask" in str(refused.value)


def test_plan_reads_the_live_pool_for_a_pull_request_review(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = sandbox.retarget(pool_manifest("reviewed"))
    sandbox.kube.apply(manifest)
    sandbox.wait_for_condition("reviewed", "Ready", timeout=60)
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(manifest))
    assert main(["plan", "-f", str(path), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["actions"][0]["type"] == "none"

    proposed = copy.deepcopy(manifest)
    proposed["spec"]["vmSize"] = "STANDARD_D4S_V3"
    path.write_text(yaml.safe_dump(proposed))
    assert main(["plan", "-f", str(path), "-o", "json"]) == 2
    action = json.loads(capsys.readouterr().out)["actions"][0]
    assert action["type"] == "recreate"
    assert "vmSize" in action["fields"]
