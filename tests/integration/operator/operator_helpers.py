"""Manifests, conditions and Azure reads shared by the operator tests (a module of its own: a test
importing `conftest` may get another folder's conftest when both are collected)."""

from __future__ import annotations

import copy
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.batch import BatchManagementClient

from azbatch_emulator.sdk import secret_credential
from azbatch_operator.sandbox import Sandbox

FAST = {"time_scale": 300.0, "resync_interval": 2.0, "health_interval": 0.5, "active_requeue": 0.2}


def pool_manifest(name: str, **spec_overrides: Any) -> dict[str, Any]:
    """A small Linux pool with one extension, in the emulator's account (set by Sandbox.retarget)."""
    spec: dict[str, Any] = {
        "account": {
            "subscriptionId": "00000000-0000-0000-0000-000000000000",
            "resourceGroup": "rg",
            "accountName": "acct",
        },
        "vmSize": "STANDARD_D2S_V3",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "ubuntu-24_04-lts",
                    "sku": "server",
                    "version": "latest",
                },
                "nodeAgentSkuId": "batch.node.ubuntu 24.04",
                "extensions": [
                    {
                        "name": "monitor",
                        "type": "AzureMonitorLinuxAgent",
                        "publisher": "Microsoft.Azure.Monitor",
                        "typeHandlerVersion": "1.0",
                        "autoUpgradeMinorVersion": True,
                    }
                ],
            }
        },
        "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 2, "resizeTimeout": "PT15M"}},
    }
    spec.update(copy.deepcopy(spec_overrides))
    return {
        "apiVersion": "azbatch.dev/v1alpha1",
        "kind": "BatchPool",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    for item in ((obj or {}).get("status") or {}).get("conditions") or ():
        if item.get("type") == type_:
            return dict(item)
    return {}


def pool_id(sandbox: Sandbox, name: str) -> str:
    return f"{sandbox.info['account_id']}/pools/{name}"


def azure_pool(sandbox: Sandbox, name: str) -> dict[str, Any] | None:
    """The pool as the Azure portal would show it: read with the unmodified SDK and real tokens."""
    info = sandbox.info
    credential = secret_credential(info)
    client = BatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        connection_verify=info["ca_bundle"],
    )
    try:
        return dict(client.pool.get(info["resource_group"], info["account_name"], name).as_dict())
    except ResourceNotFoundError:
        return None
    finally:
        client.close()
