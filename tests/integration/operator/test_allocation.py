"""Allocation that stops short is retried after a backoff, as the Batch docs advise, and explained."""

from __future__ import annotations

from azbatch_operator.sandbox import Sandbox, condition, pool_manifest, wait_until


def test_a_timed_out_allocation_is_resized_again(sandbox: Sandbox) -> None:
    sandbox.admin.script_allocation(3600, pool="slow-start")
    manifest = pool_manifest("slow-start")
    manifest["spec"]["scaleSettings"]["fixedScale"]["resizeTimeout"] = "PT5M"
    sandbox.kube.apply(sandbox.retarget(manifest))
    seen: list[dict[str, str]] = []

    def stopped_short() -> bool:
        obj = sandbox.pool("slow-start") or {}
        reconciling = condition(obj, "Reconciling")
        if reconciling.get("reason") == "AllocationTimedOut":
            seen.append(reconciling)
        return bool(seen)

    wait_until(stopped_short, timeout=60, what="AllocationTimedout reported")
    sandbox.admin.clear_scripts()
    sandbox.admin.reset_counters()
    assert "AllocationTimedout" in seen[-1]["message"]
    assert "resizeTimeout" in seen[-1]["message"]

    def allocated() -> bool:
        obj = sandbox.pool("slow-start") or {}
        pool = (obj.get("status") or {}).get("pool") or {}
        return condition(obj, "Ready").get("status") == "True" and pool.get("currentDedicatedNodes") == 2

    wait_until(allocated, timeout=60, what="the pool allocated by a second resize")
    counts = sandbox.admin.counters()
    assert counts.get("PATCH mgmt.pool", 0) >= 1
    assert counts.get("DELETE mgmt.pool", 0) == 0
