"""Deletion per policy, drift behind the operator's back, and Azure faults."""

from __future__ import annotations

from operator_helpers import azure_pool, pool_id

from azbatch_operator.metrics import AZURE_THROTTLED
from azbatch_operator.sandbox import Sandbox, condition, pool_manifest, wait_until


def test_delete_policy_deletes_the_pool_and_waits_for_azure(sandbox: Sandbox) -> None:
    manifest = sandbox.retarget(pool_manifest("gone-with-it"))
    sandbox.kube.apply(manifest)
    sandbox.wait_for_condition("gone-with-it", "Ready", timeout=60)
    sandbox.kube.delete(manifest)
    sandbox.kube.wait_gone(manifest, timeout=60)
    assert azure_pool(sandbox, "gone-with-it") is None


def test_orphan_policy_leaves_the_pool_without_the_owner_marker(sandbox: Sandbox) -> None:
    manifest = sandbox.retarget(pool_manifest("left-behind", policy={"deletionPolicy": "Orphan"}))
    sandbox.kube.apply(manifest)
    sandbox.wait_for_condition("left-behind", "Ready", timeout=60)
    sandbox.kube.delete(manifest)
    sandbox.kube.wait_gone(manifest, timeout=30)
    pool = azure_pool(sandbox, "left-behind")
    assert pool is not None
    names = [item["name"] for item in pool["properties"].get("metadata") or ()]
    assert not any(name.startswith("azbatch.dev/") for name in names)


def test_pool_deleted_behind_the_operators_back_is_created_again(sandbox: Sandbox) -> None:
    sandbox.kube.apply(sandbox.retarget(pool_manifest("comes-back")))
    first = sandbox.wait_for_condition("comes-back", "Ready", timeout=60)["status"]["pool"]["creationTime"]
    sandbox.admin.remove_pool(pool_id(sandbox, "comes-back"))

    def recreated() -> bool:
        obj = sandbox.pool("comes-back") or {}
        pool = (obj.get("status") or {}).get("pool") or {}
        return condition(obj, "Ready").get("status") == "True" and pool.get("creationTime") not in (
            None,
            first,
        )

    wait_until(recreated, timeout=60, what="the pool created again")


def test_observe_only_reports_drift_and_changes_nothing(sandbox: Sandbox) -> None:
    manifest = pool_manifest("watch-only", policy={"reconcile": "Manage"})
    sandbox.kube.apply(sandbox.retarget(manifest))
    sandbox.wait_for_condition("watch-only", "Ready", timeout=60)
    manifest["spec"]["policy"] = {"reconcile": "Observe"}
    sandbox.kube.apply(sandbox.retarget(manifest))
    sandbox.wait_for_condition("watch-only", "Ready", reason="InSync", timeout=30)
    sandbox.admin.reset_counters()
    sandbox.admin.drift_pool(
        pool_id(sandbox, "watch-only"),
        {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 1}}}},
    )
    obj = sandbox.wait_for_condition("watch-only", "Ready", "False", reason="Drifted", timeout=30)
    assert "scaleSettings" in condition(obj, "Ready")["message"]
    assert sandbox.admin.management_writes() == 0


def test_throttling_and_server_errors_are_survived(sandbox: Sandbox) -> None:
    throttled_before = sum(
        s.value for m in AZURE_THROTTLED.collect() for s in m.samples if s.name.endswith("_total")
    )
    sandbox.admin.inject_fault("mgmt.pool", "PUT", 429, retry_after=1, count=2)
    sandbox.admin.inject_fault("mgmt.pool", "GET", 503, count=3)
    sandbox.kube.apply(sandbox.retarget(pool_manifest("stormy")))
    sandbox.wait_for_condition("stormy", "Ready", timeout=90)
    throttled_after = sum(
        s.value for m in AZURE_THROTTLED.collect() for s in m.samples if s.name.endswith("_total")
    )
    assert throttled_after - throttled_before >= 2
    assert all(fault["hits"] == fault["count"] for fault in sandbox.admin.faults())
