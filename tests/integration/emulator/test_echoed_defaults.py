"""Defaults the service fills in are returned on reads (as the management spec states them), and a
test can add one more through the admin API."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from emulator_helpers import small_pool

from azbatch_emulator.admin import AdminClient, AdminError

REGISTRY = "myregistry.azurecr.io"


def linux_pool() -> dict[str, Any]:
    body = small_pool(nodes=0)
    props = body["properties"]
    vmc = props["deploymentConfiguration"]["virtualMachineConfiguration"]
    vmc["dataDisks"] = [{"lun": 0, "diskSizeGB": 64}]
    vmc["osDisk"] = {"managedDisk": {"storageAccountType": "Premium_LRS"}}
    vmc["nodePlacementConfiguration"] = {}
    props["networkConfiguration"] = {
        "publicIPAddressConfiguration": {},
        "endpointConfiguration": {
            "inboundNatPools": [
                {
                    "name": "ssh",
                    "protocol": "TCP",
                    "backendPort": 22,
                    "frontendPortRangeStart": 15000,
                    "frontendPortRangeEnd": 15100,
                    "networkSecurityGroupRules": [
                        {"priority": 150, "access": "Allow", "sourceAddressPrefix": "10.0.0.0/8"},
                        {
                            "priority": 160,
                            "access": "Deny",
                            "sourceAddressPrefix": "*",
                            "sourcePortRanges": ["22"],
                        },
                    ],
                }
            ]
        },
    }
    props["userAccounts"] = [{"name": "worker", "password": "p4ss-secret"}]
    props["startTask"] = {
        "commandLine": "/bin/sh -c setup.sh",
        "resourceFiles": [{"httpUrl": "https://x.blob.core.windows.net/c/setup.sh", "filePath": "setup.sh"}],
        "userIdentity": {"autoUser": {}},
        "containerSettings": {"imageName": f"{REGISTRY}/setup:1"},
    }
    props["scaleSettings"]["fixedScale"]["nodeDeallocationOption"] = "TaskCompletion"
    return body


async def test_reads_echo_the_defaults_the_spec_states(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "defaults", linux_pool())
    fetched = await mgmt.pool.get(rg, account, "defaults")
    listed = [p async for p in mgmt.pool.list_by_batch_account(rg, account)]
    for pool in (created, fetched, *listed):
        props = pool.as_dict()["properties"]
        vmc = props["deploymentConfiguration"]["virtualMachineConfiguration"]
        assert vmc["imageReference"]["version"] == "latest"
        assert vmc["dataDisks"] == [
            {"lun": 0, "diskSizeGB": 64, "caching": "None", "storageAccountType": "Standard_LRS"}
        ]
        assert vmc["osDisk"]["caching"] == "ReadOnly"  # Premium storage
        assert vmc["nodePlacementConfiguration"] == {"policy": "Regional"}
        network = props["networkConfiguration"]
        assert network["publicIPAddressConfiguration"] == {"provision": "BatchManaged"}
        rules = network["endpointConfiguration"]["inboundNatPools"][0]["networkSecurityGroupRules"]
        assert [r["sourcePortRanges"] for r in rules] == [["*"], ["22"]]  # a value sent is kept
        assert props["userAccounts"] == [{"name": "worker", "elevationLevel": "NonAdmin"}]
        start = props["startTask"]
        assert start["maxTaskRetryCount"] == 0 and start["waitForSuccess"] is True
        assert start["resourceFiles"][0]["fileMode"] == "0770"  # Linux
        assert start["userIdentity"] == {"autoUser": {"scope": "Pool", "elevationLevel": "NonAdmin"}}
        assert start["containerSettings"]["workingDirectory"] == "TaskWorkingDirectory"
        assert props["scaleSettings"] == {
            "fixedScale": {"targetDedicatedNodes": 0, "targetLowPriorityNodes": 0, "resizeTimeout": "PT15M"}
        }  # nodeDeallocationOption is not readable; the resize status carries it
        assert props["resizeOperationStatus"]["nodeDeallocationOption"] == "TaskCompletion"
        assert props["taskSchedulingPolicy"] == {"nodeFillType": "Spread"}
        assert (props["interNodeCommunication"], props["taskSlotsPerNode"]) == ("Disabled", 1)


async def test_windows_defaults_and_values_sent_are_kept(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    body = small_pool(nodes=0)
    props = body["properties"]
    props["deploymentConfiguration"]["virtualMachineConfiguration"] = {
        "imageReference": {
            "publisher": "MicrosoftWindowsServer",
            "offer": "WindowsServer",
            "sku": "2022-datacenter",
        },
        "nodeAgentSkuId": "batch.node.windows amd64",
        "windowsConfiguration": {},
    }
    props["userAccounts"] = [
        {"name": "a", "password": "x-secret", "windowsUserConfiguration": {}},
        {
            "name": "b",
            "password": "y-secret",
            "elevationLevel": "Admin",
            "windowsUserConfiguration": {"loginMode": "Batch"},
        },
    ]
    props["startTask"] = {
        "commandLine": "cmd /c setup.cmd",
        "waitForSuccess": False,
        "maxTaskRetryCount": 3,
        "resourceFiles": [{"httpUrl": "https://x.blob.core.windows.net/c/s.cmd", "filePath": "s.cmd"}],
    }
    props["scaleSettings"] = {"autoScale": {"formula": "$TargetDedicatedNodes=0"}}
    pool = (await mgmt.pool.create(rg, account, "windefaults", body)).as_dict()["properties"]
    vmc = pool["deploymentConfiguration"]["virtualMachineConfiguration"]
    assert vmc["windowsConfiguration"] == {"enableAutomaticUpdates": True}
    assert [u["windowsUserConfiguration"]["loginMode"] for u in pool["userAccounts"]] == [
        "Interactive",
        "Batch",
    ]
    assert [u["elevationLevel"] for u in pool["userAccounts"]] == ["NonAdmin", "Admin"]
    start = pool["startTask"]
    assert (start["waitForSuccess"], start["maxTaskRetryCount"]) == (False, 3)
    assert "fileMode" not in start["resourceFiles"][0]  # fileMode applies to Linux nodes only
    assert pool["scaleSettings"]["autoScale"]["evaluationInterval"] == "PT15M"

    # An empty start task removes it (PoolProperties.startTask): it is not read back with defaults.
    patched = await mgmt.pool.update(rg, account, "windefaults", {"properties": {"startTask": {}}})
    assert "startTask" not in patched.as_dict()["properties"]


async def test_an_extra_echoed_default_is_returned_where_its_parent_exists(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "echoone", linux_pool())
    await mgmt.pool.create(rg, account, "other", small_pool(nodes=0))
    added = admin.add_echoed_default("startTask.resourceFiles[*].blobPrefix", "", pool="echo*")
    assert added == {"path": "startTask.resourceFiles[*].blobPrefix", "value": "", "pool": "echo*"}
    admin.add_echoed_default(
        "userAccounts[*].windowsUserConfiguration.loginMode", "Batch"
    )  # no parent: nothing
    admin.add_echoed_default("taskSchedulingPolicy.nodeFillType", "Pack")  # never overwrites
    admin.add_echoed_default("resourceTags", {"env": "test"}, pool="ECHOONE")
    assert len(admin.echoed_defaults()) == 4

    one = (await mgmt.pool.get(rg, account, "echoone")).as_dict()["properties"]
    assert one["startTask"]["resourceFiles"][0]["blobPrefix"] == ""
    assert "windowsUserConfiguration" not in one["userAccounts"][0]
    assert one["taskSchedulingPolicy"] == {"nodeFillType": "Spread"}
    other = (await mgmt.pool.get(rg, account, "other")).as_dict()["properties"]
    assert "startTask" not in other and "resourceTags" not in other
    stored = copy.deepcopy(one)

    admin.clear_echoed_defaults()
    again = (await mgmt.pool.get(rg, account, "echoone")).as_dict()["properties"]
    assert "blobPrefix" not in again["startTask"]["resourceFiles"][0]
    assert stored["startTask"]["resourceFiles"][0]["blobPrefix"] == ""
    admin.add_echoed_default("taskSlotsPerNode", 4)
    admin.reset()  # a reset forgets them too
    assert admin.echoed_defaults() == []


@pytest.mark.parametrize("path", ["", "startTask..commandLine", "userAccounts[*]", "a[0].b", "x-y"])
def test_a_bad_echoed_default_path_is_refused(admin: AdminClient, path: str) -> None:
    with pytest.raises(AdminError, match="400"):
        admin.add_echoed_default(path, 1)
