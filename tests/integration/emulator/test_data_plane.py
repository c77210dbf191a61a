"""Batch data plane through azure-batch (async): nodes, node counts and extension instance views."""

from __future__ import annotations

from typing import Any

import pytest
from azure.batch import models as batch_models
from azure.batch.aio import BatchClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from emulator_helpers import key_vault_extension, small_pool, wait_until_steady

from azbatch_emulator.admin import AdminClient


async def create(info: dict[str, Any], mgmt: Any, name: str, body: dict[str, Any]) -> None:
    await mgmt.pool.create(info["resource_group"], info["account_name"], name, body)


async def test_nodes_move_from_creating_to_idle(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    await create(info, mgmt, "lifecycle", small_pool(nodes=2))
    assert [n async for n in batch.list_nodes("lifecycle")] == []
    admin.advance_clock(100)  # both nodes allocated, still booting
    states = {n.state async for n in batch.list_nodes("lifecycle")}
    assert states <= {batch_models.BatchNodeState.CREATING, batch_models.BatchNodeState.STARTING}
    wait_until_steady(admin)
    nodes = [n async for n in batch.list_nodes("lifecycle")]
    assert [n.state for n in nodes] == [batch_models.BatchNodeState.IDLE] * 2
    node = await batch.get_node("lifecycle", nodes[0].id)
    assert node.vm_size == "standard_d2s_v3"
    assert node.is_dedicated is True


async def test_node_paging_and_state_filter(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    await create(info, mgmt, "paged", small_pool(nodes=5))
    wait_until_steady(admin)
    all_nodes = [n.id async for n in batch.list_nodes("paged", max_results=2)]
    assert len(all_nodes) == 5 and len(set(all_nodes)) == 5
    assert admin.counters()["GET batch.nodes"] == 3
    idle = [n async for n in batch.list_nodes("paged", filter="state eq 'idle'")]
    assert len(idle) == 5
    assert [
        n async for n in batch.list_nodes("paged", filter="state eq 'starting' or state eq 'creating'")
    ] == []


async def test_pool_node_counts(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    await create(info, mgmt, "counted", small_pool(nodes=3))
    await create(info, mgmt, "empty", small_pool(nodes=0))
    wait_until_steady(admin)
    counts = {c.pool_id: c async for c in batch.list_pool_node_counts()}
    assert set(counts) == {"counted", "empty"}
    assert counts["counted"].dedicated.idle == 3
    assert counts["counted"].dedicated.total == 3
    assert counts["empty"].dedicated.total == 0
    assert counts["counted"].low_priority.total == 0


async def test_extension_instance_views_parse_into_sdk_models(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    await create(info, mgmt, "withext", small_pool(nodes=1, extensions=[key_vault_extension()]))
    admin.advance_clock(140)  # node allocated and booting: the extension is still provisioning
    (node,) = [n async for n in batch.list_nodes("withext")]
    early = await batch.get_node_extension("withext", node.id, "secretext")
    assert early.instance_view.statuses[0].code == "ProvisioningState/transitioning"
    wait_until_steady(admin)
    views = [v async for v in batch.list_node_extensions("withext", node.id)]
    assert all(isinstance(v, batch_models.BatchNodeVMExtension) for v in views)
    assert [v.vm_extension.name for v in views] == ["batchNodeExtension", "secretext"]
    agent = views[0]
    assert agent.vm_extension.type == "CustomScript"
    assert (
        agent.instance_view.statuses[0].message
        == "Enable succeeded: Enabling and starting agent and controller"
    )
    kv = await batch.get_node_extension("withext", node.id, "secretext")
    status = kv.instance_view.statuses[0]
    assert status.code == "ProvisioningState/succeeded"
    assert status.level == batch_models.StatusLevelTypes.INFO
    assert status.display_status == "Provisioning succeeded"
    assert kv.vm_extension.type == "KeyVaultForLinux"
    assert kv.vm_extension.publisher == "Microsoft.Azure.KeyVault"
    assert "protectedSettings" not in str(kv.as_dict())
    with pytest.raises(ResourceNotFoundError):
        await batch.get_node_extension("withext", node.id, "nosuchext")


async def test_scripted_key_vault_failure_leaves_nodes_unusable(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    message = "Failed to get secret 'cert' from https://kv.vault.azure.net: Forbidden"
    admin.script_extension(
        "KeyVaultForLinux", fail_nodes=1, code="ProvisioningState/failed/0", message=message
    )
    await create(info, mgmt, "kvfail", small_pool(nodes=2, extensions=[key_vault_extension()]))
    wait_until_steady(admin)
    nodes = sorted([n async for n in batch.list_nodes("kvfail")], key=lambda n: n.id)
    by_state = {n.id: n.state for n in nodes}
    assert sorted(by_state.values()) == [
        batch_models.BatchNodeState.IDLE,
        batch_models.BatchNodeState.UNUSABLE,
    ]
    broken = next(n for n in nodes if n.state == batch_models.BatchNodeState.UNUSABLE)
    assert broken.errors and broken.errors[0].code == "VMExtensionProvisioningError"
    view = await batch.get_node_extension("kvfail", broken.id, "secretext")
    status = view.instance_view.statuses[0]
    assert status.code == "ProvisioningState/failed/0"
    assert status.level == batch_models.StatusLevelTypes.ERROR
    assert status.message == message
    unusable = [n async for n in batch.list_nodes("kvfail", filter="state eq 'unusable'")]
    assert [n.id for n in unusable] == [broken.id]


async def test_without_initial_sync_a_failed_key_vault_leaves_the_node_idle(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    admin.script_extension("secretext", message="boom")
    await create(
        info, mgmt, "kvlax", small_pool(nodes=1, extensions=[key_vault_extension(require_initial_sync=False)])
    )
    wait_until_steady(admin)
    (node,) = [n async for n in batch.list_nodes("kvlax")]
    assert node.state == batch_models.BatchNodeState.IDLE
    view = await batch.get_node_extension("kvlax", node.id, "secretext")
    assert view.instance_view.statuses[0].display_status == "Provisioning failed"


async def test_scripted_start_task_failure(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    admin.script_start_task(fail_nodes=1, exit_code=3, message="setup.sh exited with 3")
    body = small_pool(nodes=2, startTask={"commandLine": "/bin/sh setup.sh", "waitForSuccess": True})
    await create(info, mgmt, "starter", body)
    wait_until_steady(admin)
    nodes = [n async for n in batch.list_nodes("starter")]
    failed = [n for n in nodes if n.state == batch_models.BatchNodeState.START_TASK_FAILED]
    assert len(failed) == 1
    assert failed[0].start_task_info.exit_code == 3
    assert failed[0].start_task_info.failure_info.code == "FailureExitCode"
    assert failed[0].start_task_info.failure_info.message == "setup.sh exited with 3"
    counts = [c async for c in batch.list_pool_node_counts(filter="poolId eq 'starter'")]
    assert counts[0].dedicated.start_task_failed == 1
    assert counts[0].dedicated.idle == 1


async def test_missing_pool_answers_pool_not_found(
    info: dict[str, Any], admin: AdminClient, batch: BatchClient
) -> None:
    with pytest.raises(ResourceNotFoundError) as caught:
        _ = [n async for n in batch.list_nodes("nosuchpool")]
    assert "PoolNotFound" in str(caught.value)


async def test_extension_for_the_other_os_fails_with_error_51(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    windows_kv = {**key_vault_extension(require_initial_sync=False), "type": "KeyVaultForWindows"}
    await create(info, mgmt, "wrongos", small_pool(nodes=1, extensions=[windows_kv]))
    wait_until_steady(admin)
    (node,) = [n async for n in batch.list_nodes("wrongos")]
    view = await batch.get_node_extension("wrongos", node.id, "secretext")
    assert view.instance_view.statuses[0].code == "ProvisioningState/failed/51"
    assert "OS not supported" in view.instance_view.statuses[0].message


async def test_data_plane_refuses_an_unknown_api_version(
    info: dict[str, Any], admin: AdminClient, credential: Any
) -> None:
    async with BatchClient(
        info["batch_endpoint"], credential, connection_verify=info["ca_cert"], api_version="2023-05-01.17.0"
    ) as old:
        with pytest.raises(HttpResponseError) as caught:
            _ = [c async for c in old.list_pool_node_counts()]
    assert caught.value.status_code == 400
    assert "InvalidQueryParameterValue" in str(caught.value)
    assert "api-version" in str(caught.value)


async def test_slow_extension_failure_keeps_transitioning_until_it_times_out(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, batch: BatchClient
) -> None:
    admin.script_extension(
        "secretext", message="Extension provisioning timed out after 20 minutes", provisioning_seconds=1200
    )
    await create(info, mgmt, "hanging", small_pool(nodes=1, extensions=[key_vault_extension()]))
    admin.advance_clock(600)  # a normal extension would be done by now
    (node,) = [n async for n in batch.list_nodes("hanging")]
    assert node.state == batch_models.BatchNodeState.STARTING
    view = await batch.get_node_extension("hanging", node.id, "secretext")
    assert view.instance_view.statuses[0].code == "ProvisioningState/transitioning"
    admin.advance_clock(1200)
    node = await batch.get_node("hanging", node.id)
    assert node.state == batch_models.BatchNodeState.UNUSABLE
    view = await batch.get_node_extension("hanging", node.id, "secretext")
    assert view.instance_view.statuses[0].message == "Extension provisioning timed out after 20 minutes"
