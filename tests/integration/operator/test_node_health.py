"""Health that tells the truth (issue 13): node states and start tasks as well as extensions, one
node's unreadable extensions not blinding the rest, and opt-in remediation of bad nodes."""

from __future__ import annotations

from typing import Any

from operator_helpers import pool_id

from azbatch_operator.sandbox import Sandbox, condition, pool_manifest, wait_until


def _extension_counts(obj: dict[str, Any] | None) -> dict[str, int]:
    extensions = ((obj or {}).get("status") or {}).get("extensions") or [{}]
    return dict(extensions[0].get("nodes") or {})


def _five_nodes(name: str, **spec: Any) -> dict[str, Any]:
    manifest = pool_manifest(name, **spec)
    manifest["spec"]["scaleSettings"] = {"fixedScale": {"targetDedicatedNodes": 5, "resizeTimeout": "PT15M"}}
    return manifest


def _nodes_when(sandbox: Sandbox, name: str, check: Any, timeout: float = 60) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]] | None:
        try:
            nodes = sandbox.admin.pool_nodes(pool_id(sandbox, name))
        except Exception:  # the pool is not created yet
            return None
        return nodes if check(nodes) else None

    result: list[dict[str, Any]] = wait_until(found, timeout=timeout, what=f"nodes of {name}")
    return result


def test_a_node_whose_extension_read_always_fails_leaves_the_others_reported(sandbox: Sandbox) -> None:
    name = "readfails"
    sandbox.admin.script_extension("monitor", fail_nodes=1, message="agent refused", pool=name)
    sandbox.kube.apply(_five_nodes(name))
    nodes = _nodes_when(sandbox, name, lambda found: len(found) == 5)
    unreadable = next(n["id"] for n in nodes if n["ordinal"] != 0)
    sandbox.admin.inject_fault("batch.nodeExtensions", "GET", 500, node=unreadable)
    try:

        def reported() -> dict[str, Any] | None:
            obj = sandbox.pool(name)
            healthy = condition(obj, "ExtensionsHealthy")
            counts = _extension_counts(obj)
            done = (
                healthy.get("status") == "False"
                and "could not be read" in healthy.get("message", "")
                and counts.get("succeeded") == 3
            )
            return obj if done else None

        obj = wait_until(reported, timeout=60, what="the other nodes' health with one node unreadable")
        assert obj is not None
        healthy = condition(obj, "ExtensionsHealthy")
        assert "agent refused" in healthy["message"]
        assert unreadable in healthy["message"]
        assert _extension_counts(obj) == {"succeeded": 3, "failed": 1, "transitioning": 0, "total": 5}
    finally:
        sandbox.admin.clear_faults()
