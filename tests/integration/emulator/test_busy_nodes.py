"""Nodes running job tasks (admin `busy_nodes`), and what a shrink or a delete does to them, as the
management and data-plane clients observe it."""

from __future__ import annotations

from typing import Any

import pytest
from azure.batch.aio import BatchClient
from emulator_helpers import small_pool, wait_until_steady

from azbatch_emulator.admin import AdminClient, AdminError, AsyncAdminClient

TASK_SECONDS = 600.0


async def steady_pool(mgmt: Any, admin: AdminClient, info: dict[str, Any], name: str, nodes: int) -> str:
    created = await mgmt.pool.create(
        info["resource_group"], info["account_name"], name, small_pool(nodes=nodes)
    )
    wait_until_steady(admin)
    return str(created.id)


def shrink(dedicated: int, option: str) -> dict[str, Any]:
    fixed = {"targetDedicatedNodes": dedicated, "nodeDeallocationOption": option}
    return {"properties": {"scaleSettings": {"fixedScale": fixed}}}


async def states(batch: BatchClient, pool: str) -> dict[str, str]:
    return {n.id: n.state async for n in batch.list_nodes(pool)}


async def test_a_busy_node_runs_its_task_until_it_ends(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    pool_id = await steady_pool(mgmt, admin, info, "workers", 3)
    started = admin.busy_nodes(pool_id, TASK_SECONDS, count=2)
    assert len(started) == 2
    busy = {s["id"] for s in started}
    seen = await states(batch, "workers")
    assert {seen[i] for i in busy} == {"running"} and set(seen.values()) == {"running", "idle"}
    node = await batch.get_node("workers", next(iter(busy)))
    assert node.running_tasks_count == 1 and node.running_task_slots_count == 1
    (counts,) = [c async for c in batch.list_pool_node_counts()]
    assert counts.dedicated.running == 2 and counts.dedicated.idle == 1

    admin.advance_clock(TASK_SECONDS)
    assert set((await states(batch, "workers")).values()) == {"idle"}
    node = await batch.get_node("workers", next(iter(busy)))
    assert node.running_tasks_count == 0 and node.total_tasks_run == 1 and node.total_tasks_succeeded == 1


@pytest.mark.parametrize("option", ["TaskCompletion", "RetainedData"])
async def test_task_completion_shrink_waits_for_busy_nodes(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient, option: str
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    pool_id = await steady_pool(mgmt, admin, info, "draining", 3)
    busy = {s["id"] for s in admin.busy_nodes(pool_id, TASK_SECONDS, count=2)}
    shrinking = await mgmt.pool.update(rg, account, "draining", shrink(0, option))
    assert shrinking.properties.allocation_state == "Resizing"
    assert shrinking.properties.resize_operation_status.node_deallocation_option == option
    seen = await states(batch, "draining")
    assert {seen[i] for i in busy} == {"running"}  # they finish their tasks first
    assert [s for i, s in seen.items() if i not in busy] == ["leavingpool"]  # the idle one goes at once

    admin.advance_clock(TASK_SECONDS / 2)
    pool = await mgmt.pool.get(rg, account, "draining")
    assert pool.properties.allocation_state == "Resizing"
    assert pool.properties.current_dedicated_nodes == 2
    admin.advance_clock(TASK_SECONDS / 2 + 1)
    assert set((await states(batch, "draining")).values()) == {"leavingpool"}
    wait_until_steady(admin)
    pool = await mgmt.pool.get(rg, account, "draining")
    assert pool.properties.allocation_state == "Steady"
    assert pool.properties.current_dedicated_nodes == 0
    assert not pool.properties.resize_operation_status.errors
    assert admin.task_counts(pool_id) == {"tasks_requeued": 0, "tasks_terminated": 0}


@pytest.mark.parametrize(
    ("option", "counter"), [("Requeue", "tasks_requeued"), ("Terminate", "tasks_terminated")]
)
async def test_requeue_and_terminate_remove_busy_nodes_at_once(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient, option: str, counter: str
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    pool_id = await steady_pool(mgmt, admin, info, "evicted", 3)
    admin.busy_nodes(pool_id, TASK_SECONDS, count=2)
    await mgmt.pool.update(rg, account, "evicted", shrink(1, option))
    seen = await states(batch, "evicted")
    # Idle nodes are chosen first: one idle and one busy node leave, one busy node stays.
    assert sorted(seen.values()) == ["leavingpool", "leavingpool", "running"]
    assert admin.task_counts(pool_id)[counter] == 1
    wait_until_steady(admin)
    pool = await mgmt.pool.get(rg, account, "evicted")
    assert pool.properties.current_dedicated_nodes == 1
    await mgmt.pool.update(rg, account, "evicted", shrink(0, option))
    assert set((await states(batch, "evicted")).values()) <= {"leavingpool"}
    other = "tasks_terminated" if counter == "tasks_requeued" else "tasks_requeued"
    assert admin.task_counts(pool_id) == {counter: 1, other: 0}  # the last task had ended by then
    admin.reset_counters()
    assert admin.task_counts(pool_id) == {"tasks_requeued": 0, "tasks_terminated": 0}


async def test_deleting_a_pool_requeues_its_running_tasks(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    pool_id = await steady_pool(mgmt, admin, info, "doomedbusy", 2)
    admin.busy_nodes(pool_id, TASK_SECONDS)
    await mgmt.pool.update(rg, account, "doomedbusy", shrink(1, "TaskCompletion"))  # one waits to leave
    await mgmt.pool.begin_delete(rg, account, "doomedbusy")
    assert set((await states(batch, "doomedbusy")).values()) == {"leavingpool"}
    wait_until_steady(admin)
    assert admin.task_counts(pool_id) == {"tasks_requeued": 2, "tasks_terminated": 0}  # outlives the pool


async def test_autoscale_shrinks_use_the_formulas_deallocation_option(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    body = small_pool(nodes=0)
    body["properties"]["scaleSettings"] = {"autoScale": {"formula": "$TargetDedicatedNodes=2"}}
    created = await mgmt.pool.create(rg, account, "autodrain", body)
    wait_until_steady(admin)
    admin.busy_nodes(str(created.id), TASK_SECONDS)
    formula = "$TargetDedicatedNodes=0;\n$NodeDeallocationOption=taskcompletion;"
    scaled = await mgmt.pool.update(
        rg, account, "autodrain", {"properties": {"scaleSettings": {"autoScale": {"formula": formula}}}}
    )
    assert scaled.properties.resize_operation_status.node_deallocation_option == "TaskCompletion"
    assert set((await states(batch, "autodrain")).values()) == {"running"}
    wait_until_steady(admin)
    assert (await mgmt.pool.get(rg, account, "autodrain")).properties.current_dedicated_nodes == 0
    assert admin.task_counts(str(created.id))["tasks_requeued"] == 0


async def test_stop_resize_keeps_nodes_still_finishing_their_tasks(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    pool_id = await steady_pool(mgmt, admin, info, "keepers", 2)
    admin.busy_nodes(pool_id, TASK_SECONDS, count=1)
    await mgmt.pool.update(rg, account, "keepers", shrink(0, "TaskCompletion"))
    admin.advance_clock(60)
    await mgmt.pool.stop_resize(rg, account, "keepers")
    wait_until_steady(admin)
    pool = await mgmt.pool.get(rg, account, "keepers")
    assert pool.properties.allocation_state == "Steady"
    assert pool.properties.current_dedicated_nodes == 1
    assert set((await states(batch, "keepers")).values()) == {"idle"}


async def test_busy_nodes_refuses_what_it_cannot_do(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    pool_id = await steady_pool(mgmt, admin, info, "small", 1)
    with pytest.raises(AdminError, match="NodesNotAvailable"):
        admin.busy_nodes(pool_id, 60, count=2)
    with pytest.raises(AdminError, match="NodeNotFound"):
        admin.busy_nodes(pool_id, 60, node_ids=["tvm-nope"])
    (node,) = admin.pool_nodes(pool_id)
    assert admin.busy_nodes(pool_id, 60, node_ids=[node["id"]])[0]["id"] == node["id"]
    (node,) = admin.pool_nodes(pool_id)
    assert node["state"] == "running" and node["running_tasks"] == 1


async def test_the_async_admin_client_offers_the_same_calls(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    pool_id = await steady_pool(mgmt, admin, info, "asyncbusy", 2)
    async with AsyncAdminClient(info) as client:
        (started,) = await client.busy_nodes(pool_id, TASK_SECONDS, count=1)
        nodes = {n["id"]: n for n in await client.pool_nodes(pool_id)}
        assert nodes[started["id"]]["state"] == "running"
        await mgmt.pool.update(
            info["resource_group"], info["account_name"], "asyncbusy", shrink(0, "Terminate")
        )
        assert await client.task_counts(pool_id) == {"tasks_requeued": 0, "tasks_terminated": 1}
        await client.add_echoed_default("displayName", "echoed", pool="asyncbusy")
        assert [d["path"] for d in await client.echoed_defaults()] == ["displayName"]
        pool = await mgmt.pool.get(info["resource_group"], info["account_name"], "asyncbusy")
        assert pool.properties.display_name == "echoed"
        await client.clear_echoed_defaults()
        assert await client.echoed_defaults() == []
