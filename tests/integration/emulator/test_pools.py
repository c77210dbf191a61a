"""Management plane pools, driven through azure-mgmt-batch (async) and the admin API."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.batch.aio import BatchManagementClient
from emulator_helpers import (
    EXAMPLES,
    SEED_BODIES,
    key_vault_extension,
    management_client,
    small_pool,
    wait_until_steady,
)

from azbatch_emulator.admin import AdminClient

GALLERY_IMAGE = (
    "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i/versions/1"
)


def seed_linux_pool_body() -> dict[str, Any]:
    """The Linux request body from seed 001 (the Windows one in that page is not valid JSON)."""
    return dict(json.loads((EXAMPLES / "seed-001-linux-body.json").read_text()))


def seed_windows_pool_body() -> dict[str, Any]:
    """Seed 001's Windows body, repaired: its observedCertificates entry lacks the `url` key."""
    text = (SEED_BODIES / "seed-001-windows-body.txt").read_text()
    repaired = re.sub(r'\{\s*("https://[^"]+")\s*\n', r'{"url": \1,\n', text)
    body, _ = json.JSONDecoder().raw_decode(repaired.strip())
    return dict(body)


READ_ONLY = (
    "allocationState",
    "allocationStateTransitionTime",
    "creationTime",
    "currentDedicatedNodes",
    "currentLowPriorityNodes",
    "lastModified",
    "provisioningState",
    "provisioningStateTransitionTime",
    "resizeOperationStatus",
)


def as_request(pool: dict[str, Any]) -> dict[str, Any]:
    """A pool from a GET/list example, as a client would send it back."""
    properties = {k: v for k, v in pool["properties"].items() if k not in READ_ONLY}
    return {"properties": properties, **{k: pool[k] for k in ("identity", "tags") if k in pool}}


def pool_examples() -> list[tuple[str, dict[str, Any]]]:
    folder = EXAMPLES
    cases = [
        (path.stem, json.loads(path.read_text())["parameters"]["parameters"])
        for path in sorted(folder.glob("PoolCreate_*.json"))
    ]
    for path in sorted(folder.glob("PoolGet_*.json")):
        cases.append((path.stem, as_request(json.loads(path.read_text())["responses"]["200"]["body"])))
    listed = json.loads((folder / "PoolList.json").read_text())["responses"]["200"]["body"]["value"]
    cases += [(f"PoolList_{index}", as_request(pool)) for index, pool in enumerate(listed)]
    cases.append(("seed001_linux_key_vault", seed_linux_pool_body()))
    cases.append(("seed001_windows_key_vault", seed_windows_pool_body()))
    return cases


def assert_subset(expected: Any, actual: Any, path: str = "") -> None:
    """Everything the client sent is read back (the service adds defaults and status around it)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            assert_subset(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            assert_subset(e, a, f"{path}[{index}]")
    else:
        assert expected == actual, f"{path}: {expected!r} != {actual!r}"


def without_secrets(body: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(body)
    vmc = clean["properties"]["deploymentConfiguration"]["virtualMachineConfiguration"]
    for ext in vmc.get("extensions", []):
        ext.pop("protectedSettings", None)
    clean.pop("name", None)
    clean.pop("type", None)
    return clean


@pytest.mark.parametrize(("name", "body"), pool_examples(), ids=[n for n, _ in pool_examples()])
async def test_create_from_every_example_reads_back_an_equivalent_body(
    info: dict[str, Any], admin: AdminClient, mgmt: BatchManagementClient, name: str, body: dict[str, Any]
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "examplepool", body)
    fetched = await mgmt.pool.get(rg, account, "examplepool")
    for pool in (created, fetched):
        wire = pool.as_dict()
        assert_subset(without_secrets(body), wire)
        assert "protectedSettings" not in json.dumps(wire)
        assert wire["properties"]["provisioningState"] == "Succeeded"
        assert wire["id"] == f"{info['account_id']}/pools/examplepool"
        for identity in wire.get("identity", {}).get("userAssignedIdentities", {}).values():
            assert identity["principalId"] and identity["clientId"]  # filled in, as ARM does
    assert fetched.etag == created.etag


async def test_pool_tags_are_stored_and_returned(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    body = {**small_pool(nodes=0), "tags": {"team": "render", "cost-center": "42"}}
    await mgmt.pool.create(info["resource_group"], info["account_name"], "tagged", body)
    pool = await mgmt.pool.get(info["resource_group"], info["account_name"], "tagged")
    assert pool.as_dict()["tags"] == {"team": "render", "cost-center": "42"}


async def test_conditional_writes_use_the_etag(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "cond", small_pool(nodes=0))
    with pytest.raises(HttpResponseError) as caught:
        await mgmt.pool.create(
            rg, account, "cond", small_pool(nodes=0), match_condition=MatchConditions.IfMissing
        )
    assert caught.value.status_code == 412
    with pytest.raises(HttpResponseError) as caught:
        await mgmt.pool.update(
            rg,
            account,
            "cond",
            {"properties": {"metadata": []}},
            etag='W/"0x1"',
            match_condition=MatchConditions.IfNotModified,
        )
    assert caught.value.status_code == 412
    updated = await mgmt.pool.update(
        rg,
        account,
        "cond",
        {"properties": {"metadata": [{"name": "a", "value": "b"}]}},
        etag=created.etag,
        match_condition=MatchConditions.IfNotModified,
    )
    assert updated.etag != created.etag
    assert updated.as_dict()["properties"]["metadata"] == [{"name": "a", "value": "b"}]


async def test_resize_progresses_with_the_clock(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "grow", small_pool(nodes=3))
    assert created.properties.allocation_state == "Resizing"
    assert created.properties.current_dedicated_nodes == 0
    wait_until_steady(admin)
    steady = await mgmt.pool.get(rg, account, "grow")
    assert steady.properties.allocation_state == "Steady"
    assert steady.properties.current_dedicated_nodes == 3
    assert steady.properties.resize_operation_status.target_dedicated_nodes == 3
    assert not steady.properties.resize_operation_status.errors


async def test_zero_node_only_property_patch_needs_an_empty_steady_pool(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "resizeme", small_pool(nodes=2))
    wait_until_steady(admin)
    with pytest.raises(HttpResponseError) as caught:
        await mgmt.pool.update(rg, account, "resizeme", {"properties": {"vmSize": "STANDARD_D4S_V3"}})
    assert caught.value.status_code == 400
    assert caught.value.error.code == "PropertyCannotBeUpdated"
    assert "vmSize" in caught.value.error.message
    # Live-patchable properties still go through.
    scale_to_zero = {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 0}}}}
    await mgmt.pool.update(rg, account, "resizeme", scale_to_zero)
    with pytest.raises(HttpResponseError, match="PropertyCannotBeUpdated"):  # still shrinking
        await mgmt.pool.update(rg, account, "resizeme", {"properties": {"vmSize": "STANDARD_D4S_V3"}})
    wait_until_steady(admin)
    patched = await mgmt.pool.update(rg, account, "resizeme", {"properties": {"vmSize": "STANDARD_D4S_V3"}})
    assert patched.properties.vm_size == "STANDARD_D4S_V3"


async def test_begin_delete_polls_until_the_pool_is_gone(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "doomed", small_pool(nodes=1))
    poller = await mgmt.pool.begin_delete(rg, account, "doomed")
    deleting = await mgmt.pool.get(rg, account, "doomed")
    assert deleting.properties.provisioning_state == "Deleting"
    with pytest.raises(HttpResponseError) as caught:
        await mgmt.pool.update(rg, account, "doomed", {"properties": {"metadata": []}})
    assert caught.value.status_code == 409
    assert caught.value.error.code == "PoolBeingDeleted"
    with pytest.raises(HttpResponseError, match="PoolBeingDeleted"):  # even with If-None-Match: *
        await mgmt.pool.create(
            rg, account, "doomed", small_pool(nodes=1), match_condition=MatchConditions.IfMissing
        )
    with pytest.raises(HttpResponseError, match="PoolBeingDeleted"):  # a second delete, as documented
        await mgmt.pool.begin_delete(rg, account, "doomed")
    admin.resume_clock()  # the poller follows Retry-After in real time while the simulation runs
    await poller.result()
    with pytest.raises(ResourceNotFoundError):
        await mgmt.pool.get(rg, account, "doomed")
    counts = admin.counters()
    assert counts["DELETE mgmt.pool"] == 2
    assert counts["GET mgmt.poolOperationResults"] >= 1


async def test_list_follows_next_link(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    rg, account = info["resource_group"], info["account_name"]
    for index in range(5):
        await mgmt.pool.create(rg, account, f"pool{index}", small_pool(nodes=0))
    names = [p.name async for p in mgmt.pool.list_by_batch_account(rg, account, maxresults=2)]
    assert names == [f"pool{i}" for i in range(5)]
    assert admin.counters()["GET mgmt.pools"] == 3
    chosen = mgmt.pool.list_by_batch_account(
        rg, account, filter="name eq 'pool1' or startswith(name, 'pool4')"
    )
    assert [p.name async for p in chosen] == ["pool1", "pool4"]
    with pytest.raises(HttpResponseError, match="does not understand"):
        _ = [p async for p in mgmt.pool.list_by_batch_account(rg, account, filter="tags/x eq 'y'")]


async def test_stop_resize_and_disable_autoscale(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "big", small_pool(nodes=40))
    admin.advance_clock(70)  # a few nodes have appeared
    stopped = await mgmt.pool.stop_resize(rg, account, "big")
    assert stopped.properties.allocation_state == "Stopping"
    wait_until_steady(admin)
    steady = await mgmt.pool.get(rg, account, "big")
    assert steady.properties.allocation_state == "Steady"
    assert 0 < steady.properties.current_dedicated_nodes < 40

    auto = small_pool(nodes=0)
    auto["properties"]["scaleSettings"] = {
        "autoScale": {"formula": "$TargetDedicatedNodes=2", "evaluationInterval": "PT5M"}
    }
    created = await mgmt.pool.create(rg, account, "auto", auto)
    assert created.properties.auto_scale_run.results.startswith("$TargetDedicatedNodes=2")
    fixed = await mgmt.pool.disable_auto_scale(rg, account, "auto")
    assert fixed.properties.scale_settings.fixed_scale.target_dedicated_nodes == 2
    assert fixed.properties.scale_settings.auto_scale is None


async def test_allocation_timeout_and_core_quota(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    rg, account = info["resource_group"], info["account_name"]
    admin.script_allocation(3600, pool="slow")
    slow = small_pool(nodes=10)
    slow["properties"]["scaleSettings"]["fixedScale"]["resizeTimeout"] = "PT5M"
    await mgmt.pool.create(rg, account, "slow", slow)
    wait_until_steady(admin)
    pool = await mgmt.pool.get(rg, account, "slow")
    assert pool.properties.allocation_state == "Steady"
    assert [e.code for e in pool.properties.resize_operation_status.errors] == ["AllocationTimedout"]
    assert pool.properties.current_dedicated_nodes < 10

    # Writing the same scale settings again retries the allocation, as a resize does on the service.
    admin.clear_scripts()
    same = {"properties": {"scaleSettings": slow["properties"]["scaleSettings"]}}
    retried = await mgmt.pool.update(rg, account, "slow", same)
    assert retried.properties.allocation_state == "Resizing"
    wait_until_steady(admin)
    pool = await mgmt.pool.get(rg, account, "slow")
    assert pool.properties.current_dedicated_nodes == 10
    assert not pool.properties.resize_operation_status.errors

    admin.update_account(
        info["account_name"], dedicated_core_quota=pool.properties.current_dedicated_nodes * 2 + 4
    )
    await mgmt.pool.create(rg, account, "capped", small_pool(nodes=5))  # 2 cores each: only 2 fit
    wait_until_steady(admin)
    capped = await mgmt.pool.get(rg, account, "capped")
    assert capped.properties.current_dedicated_nodes == 2
    assert [e.code for e in capped.properties.resize_operation_status.errors] == ["AccountCoreQuotaReached"]


@pytest.mark.parametrize(
    ("mutate", "code", "hint"),
    [
        (
            lambda b: b["properties"]["deploymentConfiguration"]["virtualMachineConfiguration"].update(
                extensions=[{"name": "x", "type": "CustomScript", "publisher": "Microsoft.Azure.Extensions"}]
            ),
            "InvalidPropertyValue",
            "reserved",
        ),
        (
            lambda b: b["properties"]["deploymentConfiguration"]["virtualMachineConfiguration"].update(
                imageReference={
                    "id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/images/img"
                }
            ),
            "InvalidPropertyValue",
            "Azure Compute Gallery",
        ),
        (
            lambda b: b["properties"].update(
                deploymentConfiguration={
                    "virtualMachineConfiguration": {
                        "imageReference": {"id": GALLERY_IMAGE},
                        "nodeAgentSkuId": "batch.node.ubuntu 22.04",
                    }
                },
                scaleSettings={"fixedScale": {"targetDedicatedNodes": 2501}},
            ),
            "InvalidPropertyValue",
            "2500",
        ),
        (lambda b: b["properties"].pop("vmSize"), "MissingRequiredProperty", "vmSize"),
        (lambda b: b["properties"].update(taskSlotsPerNode=0), "InvalidPropertyValue", "taskSlotsPerNode"),
        (
            lambda b: b["properties"]["scaleSettings"]["fixedScale"].update(resizeTimeout="PT1M"),
            "InvalidPropertyValue",
            "5 minutes",
        ),
    ],
    ids=[
        "reserved-custom-script",
        "retired-managed-image",
        "custom-image-cap",
        "missing-vm-size",
        "bad-slots",
        "short-timeout",
    ],
)
async def test_service_rules_refuse_bad_bodies(
    info: dict[str, Any], admin: AdminClient, mgmt: Any, mutate: Any, code: str, hint: str
) -> None:
    body = small_pool(nodes=1)
    mutate(body)
    with pytest.raises(HttpResponseError) as caught:
        await mgmt.pool.create(info["resource_group"], info["account_name"], "refused", body)
    assert caught.value.status_code == 400
    assert caught.value.error.code == code
    assert hint in caught.value.error.message
    assert admin.counters()["PUT mgmt.pool"] == 1


async def test_invalid_pool_name_and_unknown_api_version(
    info: dict[str, Any], admin: AdminClient, credential: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    async with management_client(info, credential) as mgmt:
        with pytest.raises(HttpResponseError) as caught:
            await mgmt.pool.create(rg, account, "bad.name", small_pool(nodes=0))
        assert caught.value.error.code == "InvalidParameter"
    async with management_client(info, credential, api_version="2023-05-01") as old:
        with pytest.raises(HttpResponseError) as caught:
            await old.pool.get(rg, account, "anything")
        assert caught.value.status_code == 400
        assert caught.value.error.code == "NoRegisteredProviderFound"


async def test_secrets_are_never_returned(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    body = small_pool(nodes=0, extensions=[key_vault_extension()])
    body["properties"]["userAccounts"] = [{"name": "u", "password": "hunter2-secret"}]
    body["properties"]["mountConfiguration"] = [
        {
            "azureFileShareConfiguration": {
                "accountName": "a",
                "azureFileUrl": "https://a.file.core.windows.net/s",
                "accountKey": "KEY-secret",
                "relativeMountPath": "s",
            }
        }
    ]
    created = await mgmt.pool.create(info["resource_group"], info["account_name"], "secretive", body)
    fetched = await mgmt.pool.get(info["resource_group"], info["account_name"], "secretive")
    for pool in (created, fetched):
        text = json.dumps(pool.as_dict())
        assert "do-not-return" not in text and "hunter2" not in text and "KEY-secret" not in text
        assert pool.as_dict()["properties"]["userAccounts"][0]["name"] == "u"


async def test_drift_and_removal_behind_the_clients_back(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "drifty", small_pool(nodes=0))
    admin.reset_counters()
    admin.drift_pool(
        created.id, {"properties": {"vmSize": "STANDARD_E8S_V3", "metadata": [{"name": "x", "value": "y"}]}}
    )
    drifted = await mgmt.pool.get(rg, account, "drifty")
    assert drifted.properties.vm_size == "STANDARD_E8S_V3"
    assert drifted.etag != created.etag
    admin.remove_pool(created.id)
    with pytest.raises(ResourceNotFoundError):
        await mgmt.pool.get(rg, account, "drifty")
    assert admin.management_writes() == 0


async def test_more_accounts_can_be_created(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    created = admin.create_account("secondacct", resource_group="other-rg", pool_quota=1)
    account = await mgmt.batch_account.get("other-rg", "secondacct")
    assert account.properties.account_endpoint == created["account_endpoint"]
    await mgmt.pool.create("other-rg", "secondacct", "only", small_pool(nodes=0))
    with pytest.raises(HttpResponseError) as caught:
        await mgmt.pool.create("other-rg", "secondacct", "second", small_pool(nodes=0))
    assert caught.value.error.code == "PoolQuotaReached"


async def test_read_only_properties_sent_back_are_ignored(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    body = small_pool(nodes=1)
    body["properties"].update(allocationState="Steady", currentDedicatedNodes=99, provisioningState="Failed")
    created = await mgmt.pool.create(info["resource_group"], info["account_name"], "echo", body)
    assert created.properties.allocation_state == "Resizing"
    assert created.properties.current_dedicated_nodes == 0
    assert created.properties.provisioning_state == "Succeeded"
