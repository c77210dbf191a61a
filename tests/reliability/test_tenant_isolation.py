"""Tenants kept apart: no taking over another resource's pool, no account outside the allowlist,
no Secret outside the resource's own namespace. Each refusal stalls with a message, writes nothing
to Azure, and deleting the refused resource leaves the other tenant's pool alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from reliability_helpers import (
    FAST,
    create_secret,
    ensure_namespace,
    extensions_of,
    management_client,
    owner_of,
    wait_converged,
)

from azbatch_kubemock import KubeApiError
from azbatch_operator.sandbox import Sandbox, SandboxSettings, condition, pool_manifest

TEAM_A, TEAM_B, TEAM_C = "team-a", "team-b", "team-c"
# A second Batch account with a known id, so the allowlist can be written before the operator starts.
ACCOUNT = {
    "subscriptionId": "11111111-2222-3333-4444-555555555555",
    "resourceGroup": "tenants-rg",
    "accountName": "tenantsacct",
}
ACCOUNT_ID = (
    f"/subscriptions/{ACCOUNT['subscriptionId']}/resourceGroups/{ACCOUNT['resourceGroup']}"
    f"/providers/Microsoft.Batch/batchAccounts/{ACCOUNT['accountName']}"
)


@pytest.fixture(scope="module")
def tenants() -> Iterator[Sandbox]:
    allowlist = {TEAM_A: [ACCOUNT_ID], TEAM_B: [ACCOUNT_ID]}  # team-c may use no account
    with Sandbox(SandboxSettings(**FAST, account_allowlist=allowlist)) as running:
        running.admin.create_account(
            ACCOUNT["accountName"],
            subscription_id=ACCOUNT["subscriptionId"],
            resource_group=ACCOUNT["resourceGroup"],
        )
        for namespace in (TEAM_A, TEAM_B, TEAM_C):
            ensure_namespace(running, namespace)
        running.kube.apply(manifest("shared-name", TEAM_A))
        wait_converged(running, "shared-name", TEAM_A)
        yield running


def manifest(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return pool_manifest(name, namespace, account=ACCOUNT, **spec)


def tenant_pool(sandbox: Sandbox, name: str) -> dict[str, Any] | None:
    with management_client(sandbox, ACCOUNT["subscriptionId"]) as client:
        try:
            return dict(client.pool.get(ACCOUNT["resourceGroup"], ACCOUNT["accountName"], name).as_dict())
        except ResourceNotFoundError:
            return None


def _stalled(sandbox: Sandbox, name: str, namespace: str, reason: str) -> str:
    obj = sandbox.wait_for_condition(name, "Stalled", namespace=namespace, timeout=30)
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == reason, stalled
    message: str = stalled["message"]
    return message


def test_a_resource_cannot_take_over_a_pool_another_resource_owns(tenants: Sandbox) -> None:
    owner_before = owner_of(tenant_pool(tenants, "shared-name"))
    assert (owner_before or "").endswith(f"/{TEAM_A}/shared-name")
    tenants.admin.reset_counters()
    # Same pool name, another namespace, adoption asked for and a destructive change on top.
    intruder = manifest(
        "shared-name",
        TEAM_B,
        vmSize="STANDARD_D4S_V3",
        policy={"adopt": True, "deletionPolicy": "Delete"},
    )
    tenants.kube.apply(intruder)
    message = _stalled(tenants, "shared-name", TEAM_B, "OwnedByAnother")
    assert f"/{TEAM_A}/shared-name" in message
    tenants.kube.delete(intruder)
    tenants.kube.wait_gone(intruder, timeout=30)
    assert tenants.admin.management_writes() == 0
    pool = tenant_pool(tenants, "shared-name")
    assert pool is not None, "deleting the intruder deleted the owner's pool"
    assert owner_of(pool) == owner_before
    assert pool["properties"]["vmSize"].lower() == "standard_d2s_v3"


def test_a_namespace_cannot_use_an_account_it_is_not_allowed(tenants: Sandbox) -> None:
    tenants.admin.reset_counters()
    outsider = manifest("outsider", TEAM_C)
    tenants.kube.apply(outsider)
    message = _stalled(tenants, "outsider", TEAM_C, "AccountNotAllowed")
    assert TEAM_C in message and ACCOUNT_ID in message
    assert "accountAllowlist" in message
    assert tenants.admin.management_writes() == 0
    assert tenant_pool(tenants, "outsider") is None
    # Not even an existing pool of an allowed tenant, by naming it: still no write, and delete leaves it.
    squatter = manifest("squatter", TEAM_C, poolName="shared-name", policy={"adopt": True})
    tenants.kube.apply(squatter)
    _stalled(tenants, "squatter", TEAM_C, "AccountNotAllowed")
    for refused in (outsider, squatter):
        tenants.kube.delete(refused)
        tenants.kube.wait_gone(refused, timeout=30)
    assert tenants.admin.management_writes() == 0
    assert tenant_pool(tenants, "shared-name") is not None


def test_a_secret_in_another_namespace_is_never_read(tenants: Sandbox) -> None:
    create_secret(tenants, TEAM_A, "kv-ext", {"protected": '{"token": "team-a-only-value"}'})
    tenants.admin.reset_counters()
    borrower = manifest("borrower", TEAM_B)
    extensions_of(borrower)[0]["protectedSettings"] = {"secretKeyRef": {"name": "kv-ext", "key": "protected"}}
    tenants.kube.apply(borrower)
    message = _stalled(tenants, "borrower", TEAM_B, "SecretNotReadable")
    assert f"{TEAM_B}/kv-ext" in message and "does not exist" in message
    assert tenants.admin.management_writes() == 0
    # A reference cannot name another namespace at all: the schema has no such field.
    cross = manifest("cross-ref", TEAM_B)
    extensions_of(cross)[0]["protectedSettings"] = {
        "secretKeyRef": {"name": "kv-ext", "key": "protected", "namespace": TEAM_A}
    }
    try:
        tenants.kube.create(cross)
    except KubeApiError as refused:
        assert refused.code in (400, 422)
    else:  # pruned by the schema: then it reads team-b's (missing) Secret, never team-a's
        assert "team-b/kv-ext" in _stalled(tenants, "cross-ref", TEAM_B, "SecretNotReadable")
    tenants.kube.delete(borrower)
    tenants.kube.delete(cross)
    assert tenants.admin.management_writes() == 0
