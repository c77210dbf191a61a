"""Whose pool is it: adopt only when allowed, never touch another resource's pool; bad credentials stall."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.mgmt.batch import BatchManagementClient
from operator_helpers import FAST, azure_pool

from azbatch_emulator.sdk import secret_credential
from azbatch_operator.sandbox import Sandbox, SandboxSettings, condition, pool_manifest


def _create_by_hand(sandbox: Sandbox, name: str) -> None:
    """A pool someone made in the portal: no owner marker."""
    info = sandbox.info
    credential = secret_credential(info)
    with BatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        connection_verify=info["ca_bundle"],
    ) as client:
        body = sandbox.retarget(pool_manifest(name))["spec"]
        body.pop("account")
        client.pool.create(info["resource_group"], info["account_name"], name, {"properties": body})


def test_an_unowned_pool_is_left_alone_until_adoption_is_allowed(sandbox: Sandbox) -> None:
    _create_by_hand(sandbox, "handmade")
    sandbox.admin.reset_counters()
    manifest = sandbox.retarget(pool_manifest("handmade"))
    sandbox.kube.apply(manifest)
    obj = sandbox.wait_for_condition("handmade", "Stalled", timeout=30)
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == "AdoptionNotAllowed"
    assert "adopt: true" in stalled["message"]
    assert sandbox.admin.management_writes() == 0

    manifest["spec"]["policy"] = {"adopt": True}
    sandbox.kube.apply(manifest)
    sandbox.wait_for_condition("handmade", "Ready", timeout=60)
    pool = azure_pool(sandbox, "handmade")
    assert pool is not None
    metadata = {item["name"]: item["value"] for item in pool["properties"].get("metadata") or ()}
    assert metadata["azbatch.dev/owner"].endswith("/default/handmade")
    counts = sandbox.admin.counters()
    assert counts.get("DELETE mgmt.pool", 0) == 0
    assert counts.get("PUT mgmt.pool", 0) == 0


def test_a_pool_owned_by_another_resource_is_never_touched(sandbox: Sandbox) -> None:
    sandbox.kube.apply(sandbox.retarget(pool_manifest("first-owner", poolName="contested")))
    sandbox.wait_for_condition("first-owner", "Ready", timeout=60)
    sandbox.admin.reset_counters()
    sandbox.kube.apply(
        sandbox.retarget(pool_manifest("second-owner", poolName="contested", vmSize="STANDARD_D4S_V3"))
    )
    obj = sandbox.wait_for_condition("second-owner", "Stalled", timeout=30)
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == "OwnedByAnother"
    assert "/default/first-owner" in stalled["message"]
    assert sandbox.admin.management_writes() == 0


@pytest.fixture(scope="module")
def wrong_secret() -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(**FAST, extra_env={"AZURE_CLIENT_SECRET": "not-the-secret"})) as running:
        yield running


def test_an_authentication_failure_stalls_and_names_the_credential(wrong_secret: Sandbox) -> None:
    wrong_secret.kube.apply(wrong_secret.retarget(pool_manifest("no-entry")))
    obj = wrong_secret.wait_for_condition("no-entry", "Stalled", timeout=60)
    stalled = condition(obj, "Stalled")
    assert stalled["reason"] == "AuthenticationFailed"
    assert "ClientSecretCredential" in stalled["message"]
    assert "not-the-secret" not in stalled["message"]
    assert wrong_secret.admin.management_writes() == 0
