"""Entra flows and token checks, through azure-identity and the Batch SDKs."""

from __future__ import annotations

from typing import Any

import pytest
from azure.batch.aio import BatchClient
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ClientSecretCredential as SyncClientSecretCredential
from azure.identity import WorkloadIdentityCredential as SyncWorkloadIdentityCredential
from azure.identity.aio import ClientSecretCredential, WorkloadIdentityCredential
from azure.mgmt.batch import BatchManagementClient as SyncBatchManagementClient
from emulator_helpers import StaticToken, management_client

from azbatch_emulator.admin import AdminClient


async def test_client_secret_flow_reaches_both_planes(
    info: dict[str, Any], mgmt: Any, batch: BatchClient
) -> None:
    account = await mgmt.batch_account.get(info["resource_group"], info["account_name"])
    assert f"https://{account.properties.account_endpoint}" == info["batch_endpoint"]
    assert [c async for c in batch.list_pool_node_counts()] == []


def test_sync_clients_with_client_secret(info: dict[str, Any], admin: AdminClient) -> None:
    credential = SyncClientSecretCredential(
        info["tenant_id"],
        info["client_id"],
        info["client_secret"],
        authority=info["authority_host"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )
    client = SyncBatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        credential_scopes=[info["management_scope"]],
        connection_verify=info["ca_cert"],
    )
    account = client.batch_account.get(info["resource_group"], info["account_name"])
    assert account.name == info["account_name"]
    assert admin.counters()["GET mgmt.account"] == 1


async def test_workload_identity_flow(info: dict[str, Any], admin: AdminClient) -> None:
    async with (
        WorkloadIdentityCredential(
            tenant_id=info["tenant_id"],
            client_id=info["client_id"],
            token_file_path=info["federated_token_file"],
            authority=info["authority_host"],
            connection_verify=info["ca_cert"],
        ) as credential,
        BatchClient(info["batch_endpoint"], credential, connection_verify=info["ca_cert"]) as batch,
    ):
        assert [c async for c in batch.list_pool_node_counts()] == []
    assert admin.counters()["POST entra.token"] == 1


def test_sync_workload_identity_flow(info: dict[str, Any], admin: AdminClient) -> None:
    credential = SyncWorkloadIdentityCredential(
        tenant_id=info["tenant_id"],
        client_id=info["client_id"],
        token_file_path=info["federated_token_file"],
        authority=info["authority_host"],
        connection_verify=info["ca_cert"],
    )
    client = SyncBatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        credential_scopes=[info["management_scope"]],
        connection_verify=info["ca_cert"],
    )
    assert client.batch_account.get(info["resource_group"], info["account_name"]).name == info["account_name"]


def test_sync_workload_identity_rejects_a_forged_assertion(info: dict[str, Any], tmp_path: Any) -> None:
    forged = tmp_path / "token"
    forged.write_text(
        "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4Iiwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmE6YiIsImF1ZCI6ImFwaTovL0F6dXJlQURUb2tlbkV4Y2hhbmdlIn0."
    )
    credential = SyncWorkloadIdentityCredential(
        tenant_id=info["tenant_id"],
        client_id=info["client_id"],
        token_file_path=str(forged),
        authority=info["authority_host"],
        connection_verify=info["ca_cert"],
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS700211"):
        credential.get_token(info["batch_scope"])


async def test_wrong_client_secret_is_refused(info: dict[str, Any]) -> None:
    async with ClientSecretCredential(
        info["tenant_id"],
        info["client_id"],
        "not-the-secret",
        authority=info["authority_host"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    ) as credential:
        with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
            await credential.get_token(info["management_scope"])


async def test_management_refuses_a_batch_audience_token(info: dict[str, Any], credential: Any) -> None:
    async with management_client(info, credential, credential_scopes=[info["batch_scope"]]) as client:
        with pytest.raises(ClientAuthenticationError) as caught:
            await client.batch_account.get(info["resource_group"], info["account_name"])
    assert caught.value.status_code == 401
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidAuthenticationTokenAudience"
    assert "invalid_token" in caught.value.response.headers["WWW-Authenticate"]


async def test_data_plane_refuses_a_management_token(info: dict[str, Any], credential: Any) -> None:
    async with BatchClient(
        info["batch_endpoint"],
        credential,
        connection_verify=info["ca_cert"],
        credential_scopes=[info["management_scope"]],
    ) as client:
        with pytest.raises(ClientAuthenticationError) as caught:
            _ = [c async for c in client.list_pool_node_counts()]
    assert caught.value.status_code == 401
    assert "AuthenticationFailed" in str(caught.value)
    assert "InvalidAuthenticationTokenAudience" in str(caught.value)


@pytest.mark.parametrize("plane", ["management", "batch"])
async def test_expired_tokens_are_refused(info: dict[str, Any], admin: AdminClient, plane: str) -> None:
    token = StaticToken(admin.issue_token(audience=info[f"{plane}_audience"], lifetime_seconds=-60))
    if plane == "management":
        async with management_client(info, token) as client:
            with pytest.raises(ClientAuthenticationError) as caught:
                await client.batch_account.get(info["resource_group"], info["account_name"])
        assert caught.value.error is not None
        assert caught.value.error.code == "ExpiredAuthenticationToken"
    else:
        async with BatchClient(info["batch_endpoint"], token, connection_verify=info["ca_cert"]) as client:
            with pytest.raises(ClientAuthenticationError, match="ExpiredAuthenticationToken"):
                _ = [c async for c in client.list_pool_node_counts()]


async def test_a_token_signed_by_someone_else_is_refused(info: dict[str, Any]) -> None:
    header_and_claims = (
        "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tLyIsImV4cCI6OTk5OTk5OTk5OX0"
    )
    async with management_client(info, StaticToken(header_and_claims + ".c2lnbmF0dXJl")) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.batch_account.get(info["resource_group"], info["account_name"])
    assert caught.value.status_code == 401
    assert caught.value.error is not None
    assert caught.value.error.code == "InvalidAuthenticationToken"
