"""The Azure CLI, unmodified, against the emulator: each step of docs/emulator.md's "Azure CLI"
section, asserting what the CLI printed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from azcli_helpers import CLOUD, Az, Session

pytestmark = pytest.mark.azcli

POOL_JSON = {
    "id": "clipool",
    "vmSize": "STANDARD_D2S_V3",
    "virtualMachineConfiguration": {
        "imageReference": {
            "publisher": "Canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "nodeAgentSKUId": "batch.node.ubuntu 24.04",
    },
    "targetDedicatedNodes": 2,
    "metadata": [{"name": "owner", "value": "azure-cli"}],
}


def wait_for(az: Az, pool: str, allocation_state: str, seconds: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        shown: dict[str, Any] = az.json("batch", "pool", "show", "--pool-id", pool)
        if shown["allocationState"] == allocation_state or time.monotonic() > deadline:
            return shown
        time.sleep(0.5)


def test_cloud_registered_from_the_resource_manager_endpoint_alone(
    session: Session, info: dict[str, Any]
) -> None:
    endpoints = session.registered["endpoints"]
    assert session.registered["name"] == CLOUD
    assert session.registered["isActive"] is True
    assert endpoints["resourceManager"] == info["management_endpoint"]
    assert endpoints["activeDirectory"] == info["authority_host"]
    assert endpoints["activeDirectoryResourceId"] == "https://management.core.windows.net/"
    assert endpoints["batchResourceId"] == "https://batch.core.windows.net/"  # no `az cloud update` needed


def test_service_principal_login(session: Session, info: dict[str, Any]) -> None:
    (subscription,) = session.login
    assert subscription["id"] == info["subscription_id"]
    assert subscription["tenantId"] == info["tenant_id"]
    assert subscription["cloudName"] == CLOUD
    assert subscription["state"] == "Enabled"
    assert subscription["user"] == {"name": info["client_id"], "type": "servicePrincipal"}


def test_account_show_and_list(az: Az, session: Session, info: dict[str, Any]) -> None:
    shown = az.json("account", "show")
    assert shown["id"] == info["subscription_id"]
    assert shown["environmentName"] == CLOUD
    assert shown["isDefault"] is True
    listed = az.json("account", "list", "--refresh")
    assert [s["id"] for s in listed] == [info["subscription_id"]]
    token = az.json("account", "get-access-token")
    assert token["tokenType"] == "Bearer" and token["subscription"] == info["subscription_id"]


def test_batch_account_show_list_and_keys(az: Az, session: Session, info: dict[str, Any]) -> None:
    name, group = info["account_name"], info["resource_group"]
    shown = az.json("batch", "account", "show", "--name", name, "--resource-group", group)
    assert shown["accountEndpoint"] == info["account_endpoint"]
    assert shown["id"] == info["account_id"]
    assert shown["provisioningState"] == "Succeeded"
    assert [a["name"] for a in az.json("batch", "account", "list")] == [name]
    assert [a["name"] for a in az.json("batch", "account", "list", "--resource-group", group)] == [name]
    keys = az.json("batch", "account", "keys", "list", "--name", name, "--resource-group", group)
    assert keys["accountName"] == name
    assert (
        len(keys["primary"]) == 88 and len(keys["secondary"]) == 88 and keys["primary"] != keys["secondary"]
    )


def test_batch_account_login(az: Az, session: Session, info: dict[str, Any]) -> None:
    name, group = info["account_name"], info["resource_group"]
    az.run("batch", "account", "login", "--name", name, "--resource-group", group)
    shown = az.json("batch", "account", "login", "--name", name, "--resource-group", group, "--show")
    assert shown["account"] == name
    assert shown["endpoint"].rstrip("/") == info["batch_endpoint"]
    assert shown["resource"] == "https://batch.core.windows.net/"
    assert shown["tokenType"] == "Bearer"


def test_data_plane_pool_lifecycle(az: Az, session: Session, info: dict[str, Any], tmp_path: Path) -> None:
    az.run(
        "batch",
        "account",
        "login",
        "--name",
        info["account_name"],
        "--resource-group",
        info["resource_group"],
    )
    body = tmp_path / "pool.json"
    body.write_text(json.dumps(POOL_JSON))
    images = az.json("batch", "pool", "supported-images", "list", "--filter", "osType eq 'linux'")
    assert "batch.node.ubuntu 24.04" in {i["nodeAgentSkuId"] for i in images}
    az.run("batch", "pool", "create", "--json-file", str(body))
    shown = az.json("batch", "pool", "show", "--pool-id", "clipool")
    assert shown["id"] == "clipool"
    assert shown["vmSize"] == "STANDARD_D2S_V3"
    assert shown["targetDedicatedNodes"] == 2
    assert shown["state"] == "active"
    assert shown["metadata"] == [{"name": "owner", "value": "azure-cli"}]
    again = az.run("batch", "pool", "create", "--json-file", str(body), check=False)
    assert again.returncode != 0 and "PoolExists" in again.stderr

    az.run(
        "batch",
        "pool",
        "create",
        "--id",
        "argpool",
        "--vm-size",
        "Standard_D2s_v3",
        "--image",
        "canonical:ubuntu-24_04-lts:server",
        "--node-agent-sku-id",
        "batch.node.ubuntu 24.04",
        "--target-dedicated-nodes",
        "0",
    )
    assert [p["id"] for p in az.json("batch", "pool", "list")] == ["argpool", "clipool"]
    filtered = az.json("batch", "pool", "list", "--filter", "startswith(id, 'cli')", "--select", "id,vmSize")
    assert filtered == [{"id": "clipool", "vmSize": "STANDARD_D2S_V3"}]

    steady = wait_for(az, "clipool", "steady")
    assert steady["currentDedicatedNodes"] == 2
    nodes = az.json("batch", "node", "list", "--pool-id", "clipool")
    assert len(nodes) == 2 and all(n["vmSize"] == "standard_d2s_v3" for n in nodes)

    az.run("batch", "pool", "resize", "--pool-id", "clipool", "--target-dedicated-nodes", "3")
    resized = wait_for(az, "clipool", "steady")
    assert resized["targetDedicatedNodes"] == 3 and resized["currentDedicatedNodes"] == 3
    assert len(az.json("batch", "node", "list", "--pool-id", "clipool")) == 3
    seen_by_arm = az.json(
        "rest", "--method", "get", "--url", f"{info['account_id']}/pools/clipool?api-version=2024-02-01"
    )
    assert seen_by_arm["properties"]["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] == 3

    az.run("batch", "pool", "delete", "--pool-id", "clipool", "--yes")
    az.run("batch", "pool", "delete", "--pool-id", "argpool", "--yes")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        gone = az.run("batch", "pool", "show", "--pool-id", "clipool", check=False)
        if gone.returncode != 0:
            break
        time.sleep(0.5)
    assert gone.returncode != 0 and "PoolNotFound" in gone.stderr


def test_arm_reads_through_az_resource_and_az_rest(az: Az, session: Session, info: dict[str, Any]) -> None:
    name, group = info["account_name"], info["resource_group"]
    by_type = az.json(
        "resource",
        "show",
        "--resource-type",
        "Microsoft.Batch/batchAccounts",
        "--resource-group",
        group,
        "--name",
        name,
    )
    assert by_type["id"] == info["account_id"]
    assert by_type["type"] == "Microsoft.Batch/batchAccounts"
    assert az.json("resource", "show", "--ids", info["account_id"])["name"] == name
    assert [r["name"] for r in az.json("resource", "list", "--resource-group", group)] == [name]
    assert (
        az.json("group", "show", "--name", group)["id"]
        == f"/subscriptions/{info['subscription_id']}/resourceGroups/{group}"
    )
    account = az.json(
        "rest",
        "--method",
        "get",
        "--url",
        f"/subscriptions/{{subscriptionId}}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{name}"
        "?api-version=2024-07-01",
    )
    assert account["properties"]["accountEndpoint"] == info["account_endpoint"]
    subscriptions = az.json("rest", "--method", "get", "--url", "/subscriptions?api-version=2022-12-01")
    assert [s["subscriptionId"] for s in subscriptions["value"]] == [info["subscription_id"]]
    missing = az.run(
        "rest",
        "--method",
        "get",
        "--url",
        f"{info['account_id']}/applications?api-version=2024-02-01",
        check=False,
    )
    assert missing.returncode != 0 and "InvalidResourceType" in missing.stderr
    assert az.json("group", "list", "--query", "[].name") == [group]
    assert az.json("group", "exists", "--name", group) is True
    assert az.json("group", "exists", "--name", "no-such-group") is False
    assert az.json("provider", "show", "--namespace", "Microsoft.Batch")["registrationState"] == "Registered"
    assert az.json("batch", "account", "show", "--name", name)["name"] == name  # found through the list
    assert az.json("batch", "location", "quotas", "show", "--location", "eastus") == {"accountQuota": 50}


def test_shared_key_auth_with_the_listed_keys(az: Az, session: Session, info: dict[str, Any]) -> None:
    """`az batch account login --shared-key-auth` fetches the keys (listKeys) and signs with them."""
    name, group = info["account_name"], info["resource_group"]
    key = az.json("batch", "account", "keys", "list", "--name", name, "--resource-group", group)["primary"]
    az.run("batch", "account", "login", "--name", name, "--resource-group", group, "--shared-key-auth")
    try:
        az.run(
            "batch", "pool", "create", "--id", "signed", "--vm-size", "Standard_D2s_v3",
            "--image", "canonical:ubuntu-24_04-lts:server", "--node-agent-sku-id", "batch.node.ubuntu 24.04",
        )  # fmt: skip
        assert [p["id"] for p in az.json("batch", "pool", "list", "--filter", "id eq 'signed'")] == ["signed"]
        wrong = key[:-4] + ("AAA=" if not key.endswith("AAA=") else "BBB=")
        refused = az.run("batch", "pool", "show", "--pool-id", "signed", "--account-key", wrong, check=False)
        assert refused.returncode != 0 and "AuthenticationFailed" in refused.stderr
        az.run("batch", "pool", "delete", "--pool-id", "signed", "--yes", "--account-key", key)
    finally:
        az.run("batch", "account", "login", "--name", name, "--resource-group", group)  # back to Entra
