"""Node states the operator's node health reads, scripted through the admin API, and the
data-plane remove-nodes call with the service's rules, seen through the unmodified azure-batch SDK."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.batch.aio import BatchClient
from azure.batch.models import BatchNodeRemoveOptions
from azure.core.exceptions import HttpResponseError
from emulator_helpers import small_pool, wait_until_steady

from azbatch_emulator.admin import AdminClient


async def _counts(batch: BatchClient, pool: str) -> dict[str, Any]:
    found = [c.as_dict() async for c in batch.list_pool_node_counts(filter=f"poolId eq '{pool}'")]
    return dict(found[0])


async def test_a_scripted_unusable_node_says_why_and_is_counted(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    admin.script_unusable(fail_nodes=1, code="NodeUnusable", message="disk failed", pool="sick")
    created = await mgmt.pool.create(
        info["resource_group"], info["account_name"], "sick", small_pool(nodes=3)
    )
    wait_until_steady(admin)
    nodes = {n.id: n async for n in batch.list_nodes("sick", select=["id", "state", "errors"])}
    unusable = [n for n in nodes.values() if n.state == "unusable"]
    assert len(unusable) == 1
    assert unusable[0].errors[0].code == "NodeUnusable" and unusable[0].errors[0].message == "disk failed"
    counts = await _counts(batch, "sick")
    assert counts["dedicated"]["unusable"] == 1 and counts["dedicated"]["idle"] == 2
    # An unusable node runs no task.
    bad = unusable[0].id
    assert bad not in {n["id"] for n in admin.busy_nodes(created.id, 60)}


async def test_start_task_failures_carry_the_exit_code_and_failure_info(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    admin.script_start_task(exit_code=7, message="exit 7", pool="starter2")
    body = small_pool(nodes=2, startTask={"commandLine": "/bin/false", "waitForSuccess": True})
    await mgmt.pool.create(info["resource_group"], info["account_name"], "starter2", body)
    wait_until_steady(admin)
    nodes = [n async for n in batch.list_nodes("starter2", select=["id", "state", "startTaskInfo"])]
    assert {n.state for n in nodes} == {"starttaskfailed"}
    assert nodes[0].start_task_info.exit_code == 7
    assert nodes[0].start_task_info.failure_info.message == "exit 7"
    assert (await _counts(batch, "starter2"))["dedicated"]["startTaskFailed"] == 2


async def test_spot_nodes_can_be_preempted(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    body = small_pool(nodes=1)
    body["properties"]["scaleSettings"]["fixedScale"]["targetLowPriorityNodes"] = 2
    created = await mgmt.pool.create(info["resource_group"], info["account_name"], "spotty", body)
    wait_until_steady(admin)
    admin.busy_nodes(created.id, 3600)
    (taken,) = admin.preempt_nodes(created.id, count=1)
    states = {n.id: (n.state, n.is_dedicated) async for n in batch.list_nodes("spotty")}
    assert states[taken] == ("preempted", False)
    assert sorted(s for s, _ in states.values()) == ["preempted", "running", "running"]
    counts = await _counts(batch, "spotty")
    assert counts["lowPriority"]["preempted"] == 1 and counts["dedicated"]["running"] == 1
    assert admin.task_counts(created.id)["tasks_requeued"] == 1


async def test_remove_nodes_follows_the_service(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "trim", small_pool(nodes=3))
    with pytest.raises(HttpResponseError) as resizing:  # still allocating: a removal is a resize
        await batch.begin_remove_nodes("trim", BatchNodeRemoveOptions(node_ids=["x"]))
    assert resizing.value.status_code == 409 and "PoolBeingResized" in str(resizing.value)
    wait_until_steady(admin)
    nodes = [n.id async for n in batch.list_nodes("trim")]
    with pytest.raises(HttpResponseError) as short:
        await batch.begin_remove_nodes(
            "trim", BatchNodeRemoveOptions(node_ids=[nodes[0]], resize_timeout=dt.timedelta(minutes=4))
        )
    assert short.value.status_code == 400 and "resizeTimeout" in str(short.value)
    await batch.begin_remove_nodes(
        "trim",
        BatchNodeRemoveOptions(
            node_ids=[nodes[0]],
            node_deallocation_option="taskcompletion",
            resize_timeout=dt.timedelta(minutes=30),
        ),
    )
    pool = await mgmt.pool.get(rg, account, "trim")
    assert pool.properties.allocation_state == "Resizing"
    assert pool.properties.scale_settings.fixed_scale.target_dedicated_nodes == 2  # Batch lowers the target
    assert pool.properties.resize_operation_status.node_deallocation_option == "TaskCompletion"
    wait_until_steady(admin)
    assert sorted([n.id async for n in batch.list_nodes("trim")]) == sorted(nodes[1:])


async def test_a_fault_can_target_one_nodes_extension_reads(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    ext = {
        "name": "monitor",
        "type": "AzureMonitorLinuxAgent",
        "publisher": "Microsoft.Azure.Monitor",
        "typeHandlerVersion": "1.0",
    }
    await mgmt.pool.create(
        info["resource_group"], info["account_name"], "flaky", small_pool(nodes=2, extensions=[ext])
    )
    wait_until_steady(admin)
    first, second = [n.id async for n in batch.list_nodes("flaky")]
    admin.inject_fault("batch.nodeExtensions", "GET", 500, node=first)
    with pytest.raises(HttpResponseError) as failed:
        _ = [e async for e in batch.list_node_extensions("flaky", first)]
    assert failed.value.status_code == 500
    assert len([e async for e in batch.list_node_extensions("flaky", second)]) == 2
