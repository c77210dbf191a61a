"""Data-plane pools through azure-batch's BatchClient, on the same store as the management plane:
a pool made with one plane is seen and changed by the other, with the service's error codes."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
import requests
from azure.batch import models as bm
from azure.batch.aio import BatchClient
from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity.aio import ClientSecretCredential
from emulator_helpers import small_pool, wait_until_steady

from azbatch_emulator.admin import AdminClient


def pool_options(pool_id: str, *, nodes: int = 2, **extra: Any) -> bm.BatchPoolCreateOptions:
    return bm.BatchPoolCreateOptions(
        id=pool_id,
        vm_size="STANDARD_D2S_V3",
        virtual_machine_configuration=bm.VirtualMachineConfiguration(
            image_reference=bm.BatchVmImageReference(
                publisher="Canonical", offer="ubuntu-24_04-lts", sku="server", version="latest"
            ),
            node_agent_sku_id="batch.node.ubuntu 24.04",
        ),
        target_dedicated_nodes=nodes,
        **extra,
    )


async def code_of(call: Any) -> tuple[int, str]:
    with pytest.raises(HttpResponseError) as caught:
        await call
    assert caught.value.error is not None
    return caught.value.status_code or 0, str(caught.value.error.code)


async def test_a_data_plane_pool_is_the_management_planes_pool(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    group, account = info["resource_group"], info["account_name"]
    metadata = [bm.BatchMetadataItem(name="team", value="render")]
    await batch.create_pool(pool_options("fromdata", nodes=2, metadata=metadata, task_slots_per_node=2))
    arm = await mgmt.pool.get(group, account, "fromdata")
    assert arm.vm_size == "STANDARD_D2S_V3"
    assert arm.scale_settings.fixed_scale.target_dedicated_nodes == 2
    assert (
        arm.deployment_configuration.virtual_machine_configuration.node_agent_sku_id
        == "batch.node.ubuntu 24.04"
    )
    assert [(m.name, m.value) for m in arm.metadata] == [("team", "render")]
    assert arm.task_slots_per_node == 2

    await mgmt.pool.create(group, account, "fromarm", small_pool(nodes=1))
    seen = await batch.get_pool("fromarm")
    assert seen.target_dedicated_nodes == 1 and seen.enable_auto_scale is False
    assert seen.allocation_state == bm.AllocationState.RESIZING
    assert seen.state == bm.BatchPoolState.ACTIVE
    assert seen.virtual_machine_configuration.image_reference.offer == "ubuntu-24_04-lts"
    wait_until_steady(admin)
    seen = await batch.get_pool("fromarm")
    assert seen.allocation_state == bm.AllocationState.STEADY and seen.current_dedicated_nodes == 1

    await batch.update_pool(
        "fromarm", bm.BatchPoolUpdateOptions(metadata=[bm.BatchMetadataItem(name="k", value="v")])
    )
    assert [(m.name, m.value) for m in (await mgmt.pool.get(group, account, "fromarm")).metadata] == [
        ("k", "v")
    ]
    await mgmt.pool.update(
        group, account, "fromdata", {"properties": {"metadata": [{"name": "a", "value": "b"}]}}
    )
    assert [(m.name, m.value) for m in (await batch.get_pool("fromdata")).metadata] == [("a", "b")]


async def test_create_conflicts_use_the_services_codes(
    info: dict[str, Any], admin: AdminClient, batch: BatchClient
) -> None:
    await batch.create_pool(pool_options("twice", nodes=0))
    with pytest.raises(ResourceExistsError) as caught:
        await batch.create_pool(pool_options("twice", nodes=0))
    assert caught.value.status_code == 409 and caught.value.error.code == "PoolExists"
    await batch._delete_pool_internal("twice")  # the poller would wait for the simulated deletion
    assert (await batch.get_pool("twice")).state == bm.BatchPoolState.DELETING
    assert await code_of(batch.create_pool(pool_options("twice", nodes=0))) == (409, "PoolBeingDeleted")
    assert await code_of(batch._delete_pool_internal("twice")) == (409, "PoolBeingDeleted")
    wait_until_steady(admin)
    with pytest.raises(ResourceNotFoundError) as gone:
        await batch.get_pool("twice")
    assert gone.value.error.code == "PoolNotFound"
    with pytest.raises(ResourceNotFoundError):  # HEAD answers 404; azure-batch 15.1 raises for it
        await batch.pool_exists("twice")
    assert await code_of(batch._delete_pool_internal("twice")) == (404, "PoolNotFound")
    bad = bm.BatchPoolCreateOptions(id="novm", vm_size="STANDARD_D2S_V3")
    status, code = await code_of(batch.create_pool(bad))
    assert (status, code) == (400, "MissingRequiredProperty")


async def test_list_with_filter_and_select(
    info: dict[str, Any], admin: AdminClient, batch: BatchClient
) -> None:
    for name in ("render-a", "render-b", "train"):
        await batch.create_pool(pool_options(name, nodes=0))
    assert [p.id async for p in batch.list_pools()] == ["render-a", "render-b", "train"]
    picked = [p async for p in batch.list_pools(filter="startswith(id, 'render')", select=["id", "vmSize"])]
    assert [p.id for p in picked] == ["render-a", "render-b"]
    assert picked[0].vm_size == "STANDARD_D2S_V3" and picked[0].allocation_state is None
    assert [p.id async for p in batch.list_pools(filter="id eq 'train' or id eq 'render-b'")] == [
        "render-b",
        "train",
    ]
    assert [p.id async for p in batch.list_pools(max_results=2)] == ["render-a", "render-b", "train"]
    paged = batch.list_pools(max_results=1, filter="startswith(id, 'render') or id eq 'train'")
    assert [p.id async for p in paged] == ["render-a", "render-b", "train"]
    assert admin.counters()["GET batch.pools"] >= 6
    with pytest.raises(HttpResponseError) as caught:
        [p async for p in batch.list_pools(filter="vmSize gt 'x'")]
    assert caught.value.error.code == "InvalidQueryParameterValue"


async def test_resize_stop_and_remove_nodes(
    info: dict[str, Any], admin: AdminClient, batch: BatchClient
) -> None:
    await batch.create_pool(pool_options("sized", nodes=1))
    wait_until_steady(admin)
    await batch._resize_pool_internal("sized", bm.BatchPoolResizeOptions(target_dedicated_nodes=4))
    pool = await batch.get_pool("sized")
    assert pool.allocation_state == bm.AllocationState.RESIZING and pool.target_dedicated_nodes == 4
    again = batch._resize_pool_internal("sized", bm.BatchPoolResizeOptions(target_dedicated_nodes=5))
    assert await code_of(again) == (409, "PoolBeingResized")
    await batch._stop_pool_resize_internal("sized")
    assert (await batch.get_pool("sized")).allocation_state == bm.AllocationState.STOPPING
    wait_until_steady(admin)
    nodes = [n.id async for n in batch.list_nodes("sized")]
    assert len(nodes) == 1
    await batch._resize_pool_internal("sized", bm.BatchPoolResizeOptions(target_dedicated_nodes=3))
    wait_until_steady(admin)
    nodes = [n.id async for n in batch.list_nodes("sized")]
    assert len(nodes) == 3
    await batch._remove_nodes_internal("sized", bm.BatchNodeRemoveOptions(node_ids=nodes[:2]))
    pool = await batch.get_pool("sized")
    assert pool.target_dedicated_nodes == 1 and pool.allocation_state == bm.AllocationState.RESIZING
    states = {n.id: n.state async for n in batch.list_nodes("sized")}
    assert states[nodes[0]] == bm.BatchNodeState.LEAVING_POOL
    missing = batch._remove_nodes_internal("sized", bm.BatchNodeRemoveOptions(node_ids=["tvm-nope"]))
    assert await code_of(missing) == (409, "PoolBeingResized")
    wait_until_steady(admin)
    assert [n.id async for n in batch.list_nodes("sized")] == [nodes[2]]
    missing = batch._remove_nodes_internal("sized", bm.BatchNodeRemoveOptions(node_ids=["tvm-nope"]))
    assert await code_of(missing) == (404, "NodeNotFound")


async def test_autoscale_on_and_off(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    await batch.create_pool(pool_options("auto", nodes=0))
    options = bm.BatchPoolEnableAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=2")
    await batch.enable_pool_auto_scale("auto", options)
    pool = await batch.get_pool("auto")
    assert pool.enable_auto_scale is True and pool.auto_scale_formula == "$TargetDedicatedNodes=2"
    arm = await mgmt.pool.get(info["resource_group"], info["account_name"], "auto")
    assert arm.scale_settings.auto_scale.formula == "$TargetDedicatedNodes=2"
    resize = batch._resize_pool_internal("auto", bm.BatchPoolResizeOptions(target_dedicated_nodes=1))
    assert (await code_of(resize))[0] == 409
    run = await batch.evaluate_pool_auto_scale(
        "auto", bm.BatchPoolEvaluateAutoScaleOptions(auto_scale_formula="$TargetDedicatedNodes=3")
    )
    assert "$TargetDedicatedNodes=3" in run.results
    wait_until_steady(admin)
    await batch.disable_pool_auto_scale("auto")
    pool = await batch.get_pool("auto")
    assert pool.enable_auto_scale is False and pool.target_dedicated_nodes == 2


async def test_replace_properties_removes_what_it_leaves_out(
    info: dict[str, Any], admin: AdminClient, batch: BatchClient
) -> None:
    start = bm.BatchStartTask(command_line="/bin/true")
    await batch.create_pool(pool_options("replaced", nodes=0, start_task=start))
    assert (await batch.get_pool("replaced")).start_task.command_line == "/bin/true"
    await batch.replace_pool_properties(
        "replaced",
        bm.BatchPoolReplaceOptions(
            application_package_references=[], metadata=[bm.BatchMetadataItem(name="x", value="1")]
        ),
    )
    pool = await batch.get_pool("replaced")
    assert pool.start_task is None
    assert [(m.name, m.value) for m in pool.metadata] == [("x", "1")]


@pytest.mark.parametrize("version", ["2024-02-01.19.0", "2024-07-01.20.0", "2025-06-01"])
async def test_served_data_plane_versions(
    info: dict[str, Any], admin: AdminClient, credential: ClientSecretCredential, version: str
) -> None:
    async with BatchClient(
        info["batch_endpoint"], credential, connection_verify=info["ca_cert"], api_version=version
    ) as client:
        await client.create_pool(pool_options("versioned", nodes=0))
        assert (await client.get_pool("versioned")).id == "versioned"
    admin.drift_pool(f"{info['account_id']}/pools/versioned", {"properties": {"certificates": []}})
    token = await credential.get_token(info["batch_scope"])
    answer = await asyncio.to_thread(
        requests.get,
        f"{info['batch_endpoint']}/pools/versioned?api-version={version}",
        headers={"Authorization": f"Bearer {token.token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert ("certificateReferences" in answer.json()) is (version < "2025-06-01")


async def test_shared_key_signed_requests(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    """The keys listKeys returns sign data-plane requests (azure-batch's AzureNamedKeyCredential)."""
    keys = await mgmt.batch_account.get_keys(info["resource_group"], info["account_name"])
    for key in (keys.primary, keys.secondary):
        named = AzureNamedKeyCredential(info["account_name"], key)
        async with BatchClient(info["batch_endpoint"], named, connection_verify=info["ca_cert"]) as client:
            await client.create_pool(pool_options(f"signed{key == keys.secondary:d}", nodes=0))
            assert [p.id async for p in client.list_pools(filter="startswith(id, 'signed')")][-1].startswith(
                "signed"
            )
    wrong = AzureNamedKeyCredential(info["account_name"], base64.b64encode(b"not the key" * 6).decode())
    async with BatchClient(info["batch_endpoint"], wrong, connection_verify=info["ca_cert"]) as client:
        status, code = await code_of(client.get_pool("signed0"))
    assert (status, code) == (403, "AuthenticationFailed")


async def test_enum_spellings_follow_each_plane(
    info: dict[str, Any],
    admin: AdminClient,
    mgmt: Any,
    batch: BatchClient,
    credential: ClientSecretCredential,
) -> None:
    """ARM spells enum values in Pascal case, the data plane in lower case; each plane reads its own."""
    start = {
        "commandLine": "/bin/true",
        "userIdentity": {"autoUser": {"scope": "Pool", "elevationLevel": "Admin"}},
    }
    body = small_pool(nodes=0, startTask=start, taskSchedulingPolicy={"nodeFillType": "Pack"})
    await mgmt.pool.create(info["resource_group"], info["account_name"], "spelled", body)
    token = await credential.get_token(info["batch_scope"])
    answer = await asyncio.to_thread(
        requests.get,
        f"{info['batch_endpoint']}/pools/spelled?api-version=2025-06-01",
        headers={"Authorization": f"Bearer {token.token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    pool = answer.json()
    assert pool["startTask"]["userIdentity"]["autoUser"] == {"scope": "pool", "elevationLevel": "admin"}
    assert pool["taskSchedulingPolicy"] == {"nodeFillType": "pack"}
    assert pool["allocationState"] == "steady" and pool["state"] == "active"
    auto_user = bm.AutoUserSpecification(scope="task", elevation_level="nonadmin")
    task = bm.BatchStartTask(command_line="/bin/true", user_identity=bm.UserIdentity(auto_user=auto_user))
    await batch.create_pool(pool_options("lowered", nodes=0, start_task=task))
    arm = await mgmt.pool.get(info["resource_group"], info["account_name"], "lowered")
    assert arm.start_task.user_identity.auto_user.scope == "Task"
    assert arm.start_task.user_identity.auto_user.elevation_level == "NonAdmin"


async def test_supported_images(info: dict[str, Any], admin: AdminClient, batch: BatchClient) -> None:
    images = [i async for i in batch.list_supported_images()]
    assert "batch.node.ubuntu 24.04" in {i.node_agent_sku_id for i in images}
    windows = [i async for i in batch.list_supported_images(filter="osType eq 'windows'")]
    assert windows and {i.os_type for i in windows} == {bm.OSType.WINDOWS}
    assert all(i.verification_type == bm.ImageVerificationType.VERIFIED for i in images)


async def test_autoscale_and_targets_are_exclusive_at_create(
    info: dict[str, Any], admin: AdminClient, batch: BatchClient
) -> None:
    both = pool_options("both", nodes=2, enable_auto_scale=True, auto_scale_formula="$TargetDedicatedNodes=1")
    assert await code_of(batch.create_pool(both)) == (400, "InvalidPropertyValue")
    stray = pool_options("stray", nodes=1, auto_scale_formula="$TargetDedicatedNodes=1")
    assert await code_of(batch.create_pool(stray)) == (400, "InvalidPropertyValue")
    auto = bm.BatchPoolCreateOptions(
        id="auto-only",
        vm_size="STANDARD_D2S_V3",
        virtual_machine_configuration=pool_options("x").virtual_machine_configuration,
        enable_auto_scale=True,
        auto_scale_formula="$TargetDedicatedNodes=1",
    )
    await batch.create_pool(auto)
    assert (await batch.get_pool("auto-only")).target_dedicated_nodes == 1
