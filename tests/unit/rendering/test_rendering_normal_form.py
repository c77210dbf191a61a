"""The normal form: what Azure changes on the way back must not look like a change."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from azbatch_operator.rendering import normalise_pool, observe_pool
from azbatch_operator.rendering.normalise import canonical_duration

# Wire examples from azure-rest-api-specs (Microsoft.Batch 2025-06-01), kept as data.
EXAMPLES = Path(__file__).parent / "fixtures"


def _example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return document


BASE: dict[str, Any] = {
    "vmSize": "Standard_D2s_v3",
    "deploymentConfiguration": {
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "nodeAgentSkuId": "batch.node.ubuntu 24.04",
        }
    },
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE), **changes}


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("PT15M", "PT15M"), ("PT0H15M", "PT15M"), ("PT900S", "PT15M"), ("P1D", "PT24H"), ("PT1H30M", "PT1H30M")],
)
def test_durations_are_written_one_way(written: str, canonical: str) -> None:
    assert canonical_duration(written) == canonical


def test_server_defaults_equal_leaving_the_field_out() -> None:
    returned = _with(
        interNodeCommunication="Disabled",
        taskSlotsPerNode=1,
        taskSchedulingPolicy={"nodeFillType": "Spread"},
        scaleSettings={
            "fixedScale": {"targetDedicatedNodes": 0, "targetLowPriorityNodes": 0, "resizeTimeout": "PT15M"}
        },
    )
    assert normalise_pool(returned, None) == normalise_pool(BASE, None)


def test_a_non_default_value_is_a_difference() -> None:
    assert normalise_pool(_with(taskSlotsPerNode=2), None) != normalise_pool(BASE, None)
    assert normalise_pool(_with(interNodeCommunication="Enabled"), None) != normalise_pool(BASE, None)


def test_vm_size_enum_and_image_casing_do_not_matter() -> None:
    shouting = _with(vmSize="STANDARD_D2S_V3", taskSchedulingPolicy={"nodeFillType": "PACK"})
    shouting["deploymentConfiguration"]["virtualMachineConfiguration"]["imageReference"]["publisher"] = (
        "canonical"
    )
    quiet = _with(taskSchedulingPolicy={"nodeFillType": "Pack"})
    assert normalise_pool(shouting, None) == normalise_pool(quiet, None)


def test_extension_settings_keep_their_case() -> None:
    def with_settings(value: str) -> dict[str, Any]:
        spec = copy.deepcopy(BASE)
        spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"] = [
            {
                "name": "kv",
                "publisher": "Microsoft.Azure.KeyVault",
                "type": "KeyVaultForLinux",
                "settings": {"url": value},
            }
        ]
        return spec

    assert normalise_pool(with_settings("https://Vault/A"), None) != normalise_pool(
        with_settings("https://vault/a"), None
    )


def test_extension_settings_as_json_text_equal_the_object() -> None:
    def with_settings(value: Any) -> dict[str, Any]:
        spec = copy.deepcopy(BASE)
        spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"] = [
            {"name": "kv", "publisher": "P", "type": "T", "settings": value}
        ]
        return spec

    settings = {"secretsManagementSettings": {"pollingIntervalInS": "300"}}
    assert normalise_pool(with_settings(json.dumps(settings)), None) == normalise_pool(
        with_settings(settings), None
    )


def test_order_of_unordered_lists_does_not_matter() -> None:
    items = [{"name": "b", "value": "2"}, {"name": "a", "value": "1"}]
    users = [{"name": "u2"}, {"name": "u1"}]
    assert normalise_pool(_with(metadata=items, userAccounts=users), None) == normalise_pool(
        _with(metadata=items[::-1], userAccounts=users[::-1]), None
    )


def test_resource_file_order_is_kept() -> None:
    files = [{"httpUrl": "https://a", "filePath": "a"}, {"httpUrl": "https://b", "filePath": "b"}]
    first = normalise_pool(_with(startTask={"commandLine": "x", "resourceFiles": files}), None)
    second = normalise_pool(_with(startTask={"commandLine": "x", "resourceFiles": files[::-1]}), None)
    assert first != second


def test_read_only_fields_and_secrets_are_not_compared() -> None:
    returned = _with(
        provisioningState="Succeeded",
        allocationState="Resizing",
        currentDedicatedNodes=4,
        lastModified="2026-01-01T00:00:00Z",
        resizeOperationStatus={"targetDedicatedNodes": 6},
        userAccounts=[{"name": "u1"}],
    )
    sent = _with(userAccounts=[{"name": "u1", "password": "hunter2"}])
    assert normalise_pool(returned, None) == normalise_pool(sent, None)
    assert "hunter2" not in json.dumps(normalise_pool(sent, None))


def test_the_operators_metadata_items_are_not_part_of_the_comparable_metadata() -> None:
    returned = _with(
        metadata=[{"name": "azbatch.dev/owner", "value": "c/ns/n"}, {"name": "team", "value": "x"}]
    )
    assert normalise_pool(returned, None)["metadata"] == [{"name": "team", "value": "x"}]


def test_identity_compares_ids_case_insensitively_and_ignores_read_only_ids() -> None:
    sent = {
        "type": "UserAssigned",
        "userAssignedIdentities": {"/subscriptions/S/resourceGroups/RG/x/uami": {}},
    }
    returned = {
        "type": "UserAssigned",
        "userAssignedIdentities": {
            "/subscriptions/s/resourcegroups/rg/x/uami": {"principalId": "p", "clientId": "c"}
        },
    }
    assert normalise_pool(BASE, sent) == normalise_pool(BASE, returned)
    assert normalise_pool(BASE, {"type": "None"}) == normalise_pool(BASE, None)


def test_the_create_example_reads_back_equal_to_its_request() -> None:
    example = _example("PoolCreate_VirtualMachineConfiguration_Extensions.json")
    request = example["parameters"]["parameters"]["properties"]
    observed = observe_pool(example["responses"]["200"]["body"])
    assert observed.comparable == normalise_pool(request, None)


def test_gallery_create_example_reads_back_equal_to_its_request() -> None:
    example = _example("PoolCreate_SharedImageGallery.json")
    request = example["parameters"]["parameters"]["properties"]
    assert observe_pool(example["responses"]["200"]["body"]).comparable == normalise_pool(request, None)


def test_observed_facts_come_from_the_get_example() -> None:
    observed = observe_pool(
        _example("PoolGet_VirtualMachineConfiguration_Extensions.json")["responses"]["200"]["body"]
    )
    assert observed.allocation_state == "Resizing"
    assert not observed.is_steady
    assert (observed.target_dedicated_nodes, observed.target_low_priority_nodes) == (6, 28)
    assert observed.current_nodes == 0
    assert not observed.auto_scale
    assert observed.id is not None and observed.id.endswith("/pools/testpool")
    assert observed.owner is None


def test_resize_errors_are_read_from_the_list_example() -> None:
    pool = _example("PoolList.json")["responses"]["200"]["body"]["value"][0]
    observed = observe_pool(pool)
    assert [e.code for e in observed.resize_errors] == ["AllocationTimedout"]
    assert observed.comparable["metadata"] == [
        {"name": "metadata-1", "value": "value-1"},
        {"name": "metadata-2", "value": "value-2"},
    ]


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        (
            {
                "deploymentConfiguration": {
                    "virtualMachineConfiguration": {"dataDisks": [{"lun": 0, "diskSizeGB": 8}]}
                }
            },
            {
                "deploymentConfiguration": {
                    "virtualMachineConfiguration": {
                        "dataDisks": [
                            {
                                "lun": 0,
                                "diskSizeGB": 8,
                                "caching": "None",
                                "storageAccountType": "Standard_LRS",
                            }
                        ]
                    }
                }
            },
        ),
        (
            {
                "deploymentConfiguration": {
                    "virtualMachineConfiguration": {
                        "osDisk": {"managedDisk": {"storageAccountType": "Premium_LRS"}}
                    }
                }
            },
            {
                "deploymentConfiguration": {
                    "virtualMachineConfiguration": {
                        "osDisk": {
                            "caching": "ReadOnly",
                            "managedDisk": {"storageAccountType": "Premium_LRS"},
                        }
                    }
                }
            },
        ),
        (
            {"startTask": {"commandLine": "x", "resourceFiles": [{"httpUrl": "https://a/b"}]}},
            {
                "startTask": {
                    "commandLine": "x",
                    "resourceFiles": [{"httpUrl": "https://a/b", "fileMode": "0770"}],
                }
            },
        ),
        (
            {"startTask": {"commandLine": "x", "containerSettings": {"imageName": "i"}}},
            {
                "startTask": {
                    "commandLine": "x",
                    "containerSettings": {"imageName": "i", "workingDirectory": "TaskWorkingDirectory"},
                }
            },
        ),
        (
            {"userAccounts": [{"name": "u", "windowsUserConfiguration": {}}]},
            {"userAccounts": [{"name": "u", "windowsUserConfiguration": {"loginMode": "Interactive"}}]},
        ),
    ],
)
def test_defaults_azure_documents_and_echoes_are_no_change(
    sent: dict[str, Any], echoed: dict[str, Any]
) -> None:
    assert normalise_pool(sent, None) == normalise_pool(echoed, None)


def test_a_standard_os_disk_with_readonly_caching_is_a_real_value() -> None:
    os_disk = {"managedDisk": {"storageAccountType": "Standard_LRS"}}
    plain = {"deploymentConfiguration": {"virtualMachineConfiguration": {"osDisk": os_disk}}}
    cached = {
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {"osDisk": {**os_disk, "caching": "ReadOnly"}}
        }
    }
    assert normalise_pool(plain, None) != normalise_pool(cached, None)
