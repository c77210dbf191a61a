"""Scale writes while a resize runs, stopResize and disableAutoScale, as a management client sees them."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from emulator_helpers import small_pool, wait_until_steady

from azbatch_emulator.admin import AdminClient


def fixed(dedicated: int, **extra: Any) -> dict[str, Any]:
    return {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": dedicated, **extra}}}}


async def test_a_scale_change_while_resizing_is_refused(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "busy", small_pool(nodes=4))
    for change in (fixed(6), fixed(0)):
        with pytest.raises(HttpResponseError) as caught:
            await mgmt.pool.update(rg, account, "busy", change)
        assert caught.value.status_code == 409
        assert caught.value.error.code == "PoolBeingResized"
    with pytest.raises(HttpResponseError, match="PoolBeingResized"):  # a PUT of the pool is the same resize
        await mgmt.pool.create(rg, account, "busy", small_pool(nodes=1))
    auto = {"properties": {"scaleSettings": {"autoScale": {"formula": "$TargetDedicatedNodes=4"}}}}
    with pytest.raises(HttpResponseError, match="PoolBeingResized"):  # enabling autoscale, same targets
        await mgmt.pool.update(rg, account, "busy", auto)

    # Properties that start no resize go through, and so do scale settings with the same targets.
    tagged = await mgmt.pool.update(
        rg, account, "busy", {"properties": {"metadata": [{"name": "a", "value": "b"}]}}
    )
    assert tagged.properties.allocation_state == "Resizing"
    same = await mgmt.pool.update(rg, account, "busy", fixed(4, resizeTimeout="PT30M"))
    assert same.properties.allocation_state == "Resizing"
    assert same.properties.resize_operation_status.target_dedicated_nodes == 4

    wait_until_steady(admin)
    grown = await mgmt.pool.update(rg, account, "busy", fixed(6))
    assert grown.properties.allocation_state == "Resizing"
    assert grown.properties.resize_operation_status.target_dedicated_nodes == 6


async def test_stop_resize_keeps_the_nodes_allocated_and_says_it_stopped(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "halted", small_pool(nodes=40))
    admin.advance_clock(70)
    stopped = await mgmt.pool.stop_resize(rg, account, "halted")
    assert stopped.properties.allocation_state == "Stopping"
    have = stopped.properties.current_dedicated_nodes
    assert 0 < have < 40
    with pytest.raises(HttpResponseError, match="PoolBeingResized"):  # Stopping is still a resize
        await mgmt.pool.update(rg, account, "halted", fixed(2))
    wait_until_steady(admin)
    steady = await mgmt.pool.get(rg, account, "halted")
    assert steady.properties.allocation_state == "Steady"
    assert steady.properties.current_dedicated_nodes == have
    assert steady.properties.scale_settings.fixed_scale.target_dedicated_nodes == 40  # targets stay as sent
    assert [e.code for e in steady.properties.resize_operation_status.errors] == ["ResizeStopped"]
    resized = await mgmt.pool.update(rg, account, "halted", fixed(2))  # steady again: accepted
    assert resized.properties.allocation_state == "Resizing"


async def test_disable_autoscale_while_resizing_keeps_the_resize_going(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    body = small_pool(nodes=0)
    body["properties"]["scaleSettings"] = {"autoScale": {"formula": "$TargetDedicatedNodes=3"}}
    await mgmt.pool.create(rg, account, "autoresize", body)
    fixed_now = await mgmt.pool.disable_auto_scale(rg, account, "autoresize")
    assert fixed_now.properties.allocation_state == "Resizing"
    assert fixed_now.properties.scale_settings.fixed_scale.target_dedicated_nodes == 3
    wait_until_steady(admin)
    steady = await mgmt.pool.get(rg, account, "autoresize")
    assert steady.properties.current_dedicated_nodes == 3
    assert not steady.properties.resize_operation_status.errors
