"""Extensions: a change means exactly one delete and one create; failures show up in the status."""

from __future__ import annotations

import copy
from typing import Any

from azbatch_operator.sandbox import Sandbox, condition, pool_manifest, wait_until


def _extensions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    extensions: list[dict[str, Any]] = manifest["spec"]["deploymentConfiguration"][
        "virtualMachineConfiguration"
    ]["extensions"]
    return extensions


def _recreate_once(sandbox: Sandbox, name: str, change: Any, extension_name: str) -> None:
    manifest = sandbox.retarget(pool_manifest(name))
    sandbox.kube.apply(manifest)
    before = sandbox.wait_for_condition(name, "Ready", timeout=60)["status"]["pool"]["creationTime"]
    sandbox.admin.reset_counters()
    changed = copy.deepcopy(manifest)
    change(changed)
    sandbox.kube.apply(changed)

    reasons_seen: set[str] = set()
    messages_seen: list[str] = []

    def recreated() -> bool:
        obj = sandbox.pool(name) or {}
        reconciling = condition(obj, "Reconciling")
        if reconciling.get("status") == "True":
            reasons_seen.add(reconciling.get("reason", ""))
            messages_seen.append(reconciling.get("message", ""))
        status = obj.get("status") or {}
        pool = status.get("pool") or {}
        return (
            not status.get("recreate")
            and condition(obj, "Ready").get("status") == "True"
            and pool.get("creationTime") not in (None, before)
        )

    wait_until(recreated, timeout=90, interval=0.05, what=f"{name} recreated and Ready")
    counts = sandbox.admin.counters()
    assert counts.get("DELETE mgmt.pool", 0) == 1
    assert counts.get("PUT mgmt.pool", 0) == 1
    assert any(reason.startswith("Recreating") for reason in reasons_seen), reasons_seen
    assert any(extension_name in message for message in messages_seen), messages_seen[:3]
    obj = sandbox.pool(name)
    assert obj is not None
    events = [e.get("reason") for e in sandbox.kube.events_for(obj)]
    assert "RecreateStarted" in events
    assert "RecreateFinished" in events


def test_extension_added_recreates_once(sandbox: Sandbox) -> None:
    def add(manifest: dict[str, Any]) -> None:
        _extensions(manifest).append(
            {
                "name": "health",
                "type": "ApplicationHealthLinux",
                "publisher": "Microsoft.ManagedServices",
                "typeHandlerVersion": "2.0",
                "autoUpgradeMinorVersion": True,
                "settings": {"protocol": "http", "port": 8080, "requestPath": "/health"},
            }
        )

    _recreate_once(sandbox, "ext-added", add, "health")


def test_extension_changed_recreates_once(sandbox: Sandbox) -> None:
    def bump(manifest: dict[str, Any]) -> None:
        _extensions(manifest)[0]["typeHandlerVersion"] = "1.1"

    _recreate_once(sandbox, "ext-changed", bump, "monitor")


def test_extension_removed_recreates_once(sandbox: Sandbox) -> None:
    def remove(manifest: dict[str, Any]) -> None:
        _extensions(manifest).clear()

    _recreate_once(sandbox, "ext-removed", remove, "monitor")


def test_failing_extension_is_reported_with_the_instance_view_message(sandbox: Sandbox) -> None:
    sandbox.admin.script_extension(
        "AzureMonitorLinuxAgent",
        fail_nodes=1,
        message="Workspace key rejected by the agent",
        pool="ext-fails",
    )
    sandbox.kube.apply(sandbox.retarget(pool_manifest("ext-fails")))
    obj = sandbox.wait_for_condition("ext-fails", "ExtensionsHealthy", "False", timeout=60)
    healthy = condition(obj, "ExtensionsHealthy")
    assert healthy["reason"] == "ExtensionFailed"
    assert "Workspace key rejected by the agent" in healthy["message"]
    extension = obj["status"]["extensions"][0]
    assert extension["nodes"]["failed"] == 1
    assert extension["failures"][0]["message"] == "Workspace key rejected by the agent"
    events = [e.get("reason") for e in sandbox.kube.events_for(obj)]
    assert "ExtensionFailed" in events
