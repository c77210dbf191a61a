"""What clients other than the operator need from ARM: cloud metadata, Microsoft.Resources reads,
Batch account lists and keys, ARM-style routing, both management audiences, and the api-versions
current clients send (azure-mgmt-batch 17 sends 2024-02-01, 19 sends 2025-06-01)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ClientSecretCredential
from emulator_helpers import management_client, small_pool

from azbatch_emulator.admin import AdminClient

CLASSIC = "https://management.core.windows.net/"


async def arm_get(
    info: dict[str, Any], credential: ClientSecretCredential, path: str, *, audience: str = CLASSIC
) -> requests.Response:
    """GET an ARM path with a token for `audience` (the CLI's: management.core.windows.net)."""
    token = await credential.get_token(audience + ".default")
    return await asyncio.to_thread(
        requests.get,
        info["management_endpoint"].rstrip("/") + path,
        headers={"Authorization": f"Bearer {token.token}"},
        verify=info["ca_cert"],
        timeout=10,
    )


@pytest.mark.parametrize("path", ["/metadata/endpoints", "//metadata/endpoints", "/METADATA/Endpoints"])
def test_cloud_metadata_names_every_endpoint_a_client_needs(info: dict[str, Any], path: str) -> None:
    base = info["management_endpoint"].rstrip("/")
    answer = requests.get(f"{base}{path}?api-version=2022-09-01", verify=info["ca_cert"])
    assert answer.status_code == 200
    cloud = answer.json()
    assert cloud["resourceManager"] == info["management_endpoint"]
    assert cloud["authentication"]["loginEndpoint"] == info["authority_host"]
    assert cloud["authentication"]["audiences"] == [CLASSIC, "https://management.azure.com/"]
    assert cloud["batch"] == "https://batch.core.windows.net/"
    listed = requests.get(f"{base}/metadata/endpoints?api-version=2019-05-01", verify=info["ca_cert"]).json()
    assert listed == [cloud]


async def test_subscriptions_and_resource_groups(
    info: dict[str, Any], admin: AdminClient, credential: ClientSecretCredential
) -> None:
    sub, group = info["subscription_id"], info["resource_group"]
    listed = (await arm_get(info, credential, "/subscriptions?api-version=2022-12-01")).json()
    assert [s["subscriptionId"] for s in listed["value"]] == [sub]
    assert listed["value"][0]["tenantId"] == info["tenant_id"]
    assert listed["value"][0]["state"] == "Enabled"
    one = (await arm_get(info, credential, f"/subscriptions/{sub}?api-version=2022-12-01")).json()
    assert one["id"] == f"/subscriptions/{sub}"
    rg = (
        await arm_get(info, credential, f"/subscriptions/{sub}/resourcegroups/{group}?api-version=2022-12-01")
    ).json()
    assert rg["id"] == f"/subscriptions/{sub}/resourceGroups/{group}"
    assert rg["properties"]["provisioningState"] == "Succeeded"
    missing = await arm_get(
        info, credential, f"/subscriptions/{sub}/resourceGroups/nope?api-version=2022-12-01"
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceGroupNotFound"
    other = await arm_get(
        info, credential, "/subscriptions/11111111-2222-3333-4444-555555555555?api-version=2022-12-01"
    )
    assert other.status_code == 404 and other.json()["error"]["code"] == "SubscriptionNotFound"
    provider = (
        await arm_get(
            info, credential, f"/subscriptions/{sub}/providers/microsoft.batch?api-version=2021-04-01"
        )
    ).json()
    kinds = {t["resourceType"]: t["apiVersions"] for t in provider["resourceTypes"]}
    assert kinds["batchAccounts"][0] == "2025-06-01" and "2024-02-01" in kinds["batchAccounts/pools"]
    admin.create_account("secondacct", subscription_id=sub, resource_group="other-rg")
    groups = (
        await arm_get(info, credential, f"/subscriptions/{sub}/resourcegroups?api-version=2022-12-01")
    ).json()
    assert [g["name"] for g in groups["value"]] == [group, "other-rg"]


async def test_arm_routes_ignore_case_and_repeated_slashes(
    info: dict[str, Any], admin: AdminClient, credential: ClientSecretCredential
) -> None:
    sub, group, account = info["subscription_id"], info["resource_group"], info["account_name"]
    path = (
        f"/SUBSCRIPTIONS/{sub}/resourcegroups/{group}/PROVIDERS/microsoft.batch//BATCHACCOUNTS/{account}"
        "?api-version=2024-02-01"
    )
    answer = await arm_get(info, credential, path)
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"] == account
    unknown = await arm_get(
        info,
        credential,
        f"/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Batch/batchAccounts/{account}/applications?api-version=2024-02-01",
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "InvalidResourceType"
    elsewhere = await arm_get(info, credential, "/no/such/thing?api-version=2024-02-01")
    assert elsewhere.status_code == 404 and "error" in elsewhere.json()


async def test_both_management_audiences_are_accepted(
    info: dict[str, Any], admin: AdminClient, credential: ClientSecretCredential
) -> None:
    for scope in (f"{CLASSIC}.default", "https://management.azure.com/.default"):
        async with management_client(info, credential, credential_scopes=[scope]) as client:
            account = await client.batch_account.get(info["resource_group"], info["account_name"])
        assert account.name == info["account_name"]


async def test_account_lists_and_keys(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    admin.create_account("secondacct", subscription_id=info["subscription_id"], resource_group="other-rg")
    everywhere = [a.name async for a in mgmt.batch_account.list()]
    assert everywhere == [info["account_name"], "secondacct"]
    in_group = [a.name async for a in mgmt.batch_account.list_by_resource_group("other-rg")]
    assert in_group == ["secondacct"]
    account = await mgmt.batch_account.get(info["resource_group"], info["account_name"])
    assert account.account_endpoint == info["account_endpoint"]
    keys = await mgmt.batch_account.get_keys(info["resource_group"], info["account_name"])
    again = await mgmt.batch_account.get_keys(info["resource_group"], info["account_name"])
    assert keys.account_name == info["account_name"]
    assert keys.primary and keys.secondary and keys.primary != keys.secondary
    assert (keys.primary, keys.secondary) == (again.primary, again.secondary)
    with pytest.raises(HttpResponseError) as caught:
        [a async for a in mgmt.batch_account.list_by_resource_group("no-such-group")]
    assert caught.value.status_code == 404


@pytest.mark.parametrize("version", ["2024-02-01", "2024-07-01", "2025-06-01"])
async def test_served_management_versions_answer_in_their_shape(
    info: dict[str, Any], admin: AdminClient, credential: ClientSecretCredential, version: str
) -> None:
    body = small_pool(nodes=0, metadata=[{"name": "a", "value": "b"}])
    async with management_client(info, credential, api_version=version) as client:
        await client.pool.create(info["resource_group"], info["account_name"], f"v{version[:4]}", body)
    raw = await arm_get(
        info,
        credential,
        f"{info['account_id']}/pools/v{version[:4]}?api-version={version}",
    )
    props = raw.json()["properties"]
    assert props["metadata"] == [{"name": "a", "value": "b"}]
    assert ("targetNodeCommunicationMode" in props) is False  # never set, in any version
    admin.drift_pool(f"{info['account_id']}/pools/v{version[:4]}", {"properties": {"certificates": []}})
    props = (
        await arm_get(info, credential, f"{info['account_id']}/pools/v{version[:4]}?api-version={version}")
    ).json()["properties"]
    assert ("certificates" in props) is (version < "2025-06-01")  # removed from the 2025-06-01 API


@pytest.mark.parametrize(
    ("version", "code"),
    [
        ("2023-11-01", "NoRegisteredProviderFound"),
        ("2024-03-01", "NoRegisteredProviderFound"),
        ("v1", "InvalidApiVersionParameter"),
    ],
)
async def test_versions_azure_does_not_serve_are_refused(
    info: dict[str, Any], admin: AdminClient, credential: ClientSecretCredential, version: str, code: str
) -> None:
    answer = await arm_get(info, credential, f"{info['account_id']}?api-version={version}")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code


async def test_location_quotas(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    quotas = await mgmt.location.get_quotas("eastus")
    assert quotas.account_quota == 50
