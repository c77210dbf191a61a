"""A shrink whose nodes are still busy when its resizeTimeout is reached ends there, as a
management client sees it: Steady, the remaining nodes still in the pool, RemoveNodesFailed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from azure.batch.aio import BatchClient
from emulator_helpers import small_pool, wait_until_steady

from azbatch_emulator.admin import AdminClient

HOUR = 3600.0


def drain(timeout: str | None = None) -> dict[str, Any]:
    fixed: dict[str, Any] = {"targetDedicatedNodes": 0, "nodeDeallocationOption": "TaskCompletion"}
    if timeout:
        fixed["resizeTimeout"] = timeout
    return {"properties": {"scaleSettings": {"fixedScale": fixed}}}


async def test_removal_that_outlasts_the_resize_timeout_ends_the_resize(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "slowdrain", small_pool(nodes=3))
    wait_until_steady(admin)
    nodes = [n["id"] for n in admin.pool_nodes(created.id)]
    admin.busy_nodes(created.id, 2 * HOUR, node_ids=[nodes[0]])
    admin.busy_nodes(created.id, 300, node_ids=[nodes[1]])  # done within the timeout
    await mgmt.pool.update(rg, account, "slowdrain", drain("PT10M"))

    admin.advance_clock(9 * 60)
    pool = await mgmt.pool.get(rg, account, "slowdrain")
    assert pool.properties.allocation_state == "Resizing"
    assert pool.properties.current_dedicated_nodes == 1
    admin.advance_clock(61)
    pool = await mgmt.pool.get(rg, account, "slowdrain")
    assert pool.properties.allocation_state == "Steady"
    assert pool.properties.current_dedicated_nodes == 1  # the busy node stays ...
    assert [n.state async for n in batch.list_nodes("slowdrain")] == ["running"]  # ... running its task
    status = pool.properties.resize_operation_status
    assert [e.code for e in status.errors] == ["RemoveNodesFailed"]
    assert status.target_dedicated_nodes == 0  # the targets stay as sent
    assert pool.properties.scale_settings.fixed_scale.target_dedicated_nodes == 0

    # Once its task is over, writing the same scale settings again removes it.
    wait_until_steady(admin, 2 * HOUR)
    retried = await mgmt.pool.update(rg, account, "slowdrain", drain("PT10M"))
    assert retried.properties.allocation_state == "Resizing"
    wait_until_steady(admin)
    pool = await mgmt.pool.get(rg, account, "slowdrain")
    assert pool.properties.current_dedicated_nodes == 0
    assert not pool.properties.resize_operation_status.errors


async def test_the_default_resize_timeout_is_fifteen_minutes(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "defaulttimeout", small_pool(nodes=1))
    wait_until_steady(admin)
    admin.busy_nodes(created.id, HOUR)
    shrinking = await mgmt.pool.update(rg, account, "defaulttimeout", drain())
    assert shrinking.properties.resize_operation_status.resize_timeout == dt.timedelta(minutes=15)
    admin.advance_clock(14 * 60)
    assert (await mgmt.pool.get(rg, account, "defaulttimeout")).properties.allocation_state == "Resizing"
    admin.advance_clock(61)
    pool = await mgmt.pool.get(rg, account, "defaulttimeout")
    assert pool.properties.allocation_state == "Steady"
    assert pool.properties.current_dedicated_nodes == 1
    assert [e.code for e in pool.properties.resize_operation_status.errors] == ["RemoveNodesFailed"]
