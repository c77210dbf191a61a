"""Secrets: resolved into the body only, digested with the operator's key, never shown."""

from __future__ import annotations

import json
from typing import Any

import pytest

from azbatch_operator.models import SecretKeyRef
from azbatch_operator.rendering import DesiredPool, SecretValueError, render_pool, secret_refs
from azbatch_operator.rendering.secrets import SecretEntity, secret_digest

KEY = b"k" * 32
OWNER = "cluster/ns/pool-a"
PROTECTED = {"commandToExecute": "echo s3cr3t-value"}


def _spec(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "account": {
            "subscriptionId": "12345678-1234-1234-1234-123456789012",
            "resourceGroup": "rg",
            "accountName": "acct",
        },
        "vmSize": "Standard_D2s_v3",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSkuId": "batch.node.ubuntu 24.04",
                "extensions": [
                    {
                        "name": "kvext",
                        "publisher": "Microsoft.Azure.KeyVault",
                        "type": "KeyVaultForLinux",
                        "protectedSettings": {"secretKeyRef": {"name": "kv", "key": "protected"}},
                    }
                ],
            }
        },
        "userAccounts": [{"name": "batchuser", "password": {"secretKeyRef": {"name": "users", "key": "pw"}}}],
        "mountConfiguration": [
            {
                "azureFileShareConfiguration": {
                    "accountName": "store",
                    "azureFileUrl": "https://store.file.core.windows.net/data",
                    "accountKey": {"secretKeyRef": {"name": "users", "key": "pw"}},
                    "relativeMountPath": "data",
                }
            }
        ],
    }
    spec.update(extra)
    return spec


SECRETS = {("kv", "protected"): json.dumps(PROTECTED), ("users", "pw"): "pa55-w0rd"}


def _render(
    spec: dict[str, Any] | None = None, secrets: dict[tuple[str, str], str] | None = None
) -> DesiredPool:
    return render_pool(
        spec or _spec(), secrets=SECRETS if secrets is None else secrets, owner=OWNER, digest_key=KEY
    )


def test_secret_refs_lists_each_secret_key_once() -> None:
    assert secret_refs(_spec()) == [
        SecretKeyRef(name="kv", key="protected"),
        SecretKeyRef(name="users", key="pw"),
    ]


def test_the_body_carries_resolved_secrets_and_the_operators_metadata() -> None:
    desired = _render()
    properties = desired.body["properties"]
    extension = properties["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]
    assert extension["protectedSettings"] == PROTECTED
    assert properties["userAccounts"][0]["password"] == "pa55-w0rd"
    assert properties["mountConfiguration"][0]["azureFileShareConfiguration"]["accountKey"] == "pa55-w0rd"
    names = {item["name"]: item["value"] for item in properties["metadata"]}
    assert names["azbatch.dev/owner"] == OWNER
    assert set(desired.secret_digests) == {
        "azbatch.dev/secret-digest.extension.kvext",
        "azbatch.dev/secret-digest.user.batchuser",
        "azbatch.dev/secret-digest.mount.data",
    }
    assert all(names[name] == digest for name, digest in desired.secret_digests.items())
    assert "account" not in properties and "policy" not in properties and "identity" not in properties


def test_no_secret_value_in_comparable_repr_or_str() -> None:
    desired = _render()
    shown = repr(desired) + str(desired) + json.dumps(desired.comparable)
    for value in ("s3cr3t-value", "pa55-w0rd"):
        assert value not in shown
    assert all(digest not in shown for digest in desired.secret_digests.values())


def test_missing_secret_names_the_field_the_secret_and_the_fix() -> None:
    with pytest.raises(SecretValueError) as raised:
        _render(secrets={("users", "pw"): "x"})
    message = str(raised.value)
    assert "extensions[0].protectedSettings" in message
    assert "'kv'" in message and "'protected'" in message
    assert "create the Secret" in message


@pytest.mark.parametrize("value", ["not json", "[1, 2]", '"text"'])
def test_protected_settings_must_be_a_json_object(value: str) -> None:
    with pytest.raises(SecretValueError, match="must hold a JSON object") as raised:
        _render(secrets={**SECRETS, ("kv", "protected"): value})
    assert value not in str(raised.value)


def test_digests_are_128_bit_keyed_and_bound_to_their_entity() -> None:
    entity = SecretEntity("extension", "kvext")
    digest = secret_digest(KEY, entity, {"protectedSettings": PROTECTED})
    assert len(digest) == 32 and int(digest, 16) >= 0
    assert digest != secret_digest(b"other-key-0123456789", entity, {"protectedSettings": PROTECTED})
    assert digest != secret_digest(KEY, SecretEntity("extension", "other"), {"protectedSettings": PROTECTED})
    assert digest == secret_digest(KEY, entity, {"protectedSettings": dict(reversed(PROTECTED.items()))})


def test_a_short_digest_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        secret_digest(b"short", SecretEntity("user", "u"), {})


def test_a_changed_secret_value_changes_only_its_entitys_digest() -> None:
    before = _render()
    after = _render(secrets={**SECRETS, ("kv", "protected"): json.dumps({"commandToExecute": "other"})})
    changed = {n for n in before.secret_digests if before.secret_digests[n] != after.secret_digests[n]}
    assert changed == {"azbatch.dev/secret-digest.extension.kvext"}
    assert before.comparable == after.comparable


def test_an_extension_without_protected_settings_still_gets_a_digest() -> None:
    spec = _spec()
    del spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]["protectedSettings"]
    assert "azbatch.dev/secret-digest.extension.kvext" in _render(spec).secret_digests


def test_offline_rendering_lists_unresolved_entities_instead_of_failing() -> None:
    desired = render_pool(
        _spec(), secrets={("users", "pw"): "x"}, owner=OWNER, digest_key=KEY, allow_unresolved=True
    )
    assert [str(e) for e in desired.unresolved] == ["extension 'kvext'"]
    assert "azbatch.dev/secret-digest.extension.kvext" not in desired.secret_digests


def test_without_the_digest_key_entities_holding_secrets_are_unkeyed_the_others_compared() -> None:
    spec = _spec()
    plain = {"name": "plain", "publisher": "Microsoft.Azure.Monitor", "type": "AzureMonitorLinuxAgent"}
    spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"].append(plain)
    desired = render_pool(
        spec,
        secrets={("users", "pw"): "x"},
        owner=OWNER,
        digest_key=KEY,
        allow_unresolved=True,
        compare_secrets=False,
    )
    assert [str(e) for e in desired.unresolved] == ["extension 'kvext'"]  # its Secret is not there
    assert [str(e) for e in desired.unkeyed] == ["user 'batchuser'", "mount 'data'"]
    assert desired.secret_digests == {"azbatch.dev/secret-digest.extension.plain": "none"}  # under any key
    assert desired.digest_key_id == ""  # no key made these


def test_the_pool_name_is_spec_pool_name_else_the_resource_name() -> None:
    assert _render(_spec(poolName="explicit")).pool_name == "explicit"
    assert _render().pool_name == "pool-a"


def test_a_registry_password_is_digested_per_registry_server() -> None:
    spec = _spec()
    spec["deploymentConfiguration"]["virtualMachineConfiguration"]["containerConfiguration"] = {
        "type": "DockerCompatible",
        "containerRegistries": [
            {
                "registryServer": "myregistry.azurecr.io",
                "username": "puller",
                "password": {"secretKeyRef": {"name": "users", "key": "pw"}},
            }
        ],
    }
    desired = _render(spec)
    assert "azbatch.dev/secret-digest.registry.myregistry.azurecr.io" in desired.secret_digests
    vmc = desired.properties["deploymentConfiguration"]["virtualMachineConfiguration"]
    assert vmc["containerConfiguration"]["containerRegistries"][0]["password"] == "pa55-w0rd"
