"""A change of the operator's digest key is never a change of the spec.

Two operators, a chart re-installed without `digestKey.existingSecret`, a rotated key: each sees
digests it did not make. They are recorded again with a metadata patch, never a recreate; only a
digest made under the same key, or a secret added or removed, is a change.
"""

from __future__ import annotations

import copy
from typing import Any

from planning_helpers import RECREATE, types
from strategies import ACCOUNT, OWNER, azure_echo

from azbatch_operator import planning, rendering
from azbatch_operator.planning.changes import DigestVerdict, compare_digest
from azbatch_operator.rendering.secrets import NO_SECRETS, SecretEntity, key_id, secret_digest

KEY = b"the-first-operators-key-0123456789"
OTHER_KEY = b"a-second-operators-key-9876543210"
PROTECTED = '{"token": "a"}'


def _spec(*, protected: bool = True) -> dict[str, Any]:
    extension: dict[str, Any] = {
        "name": "secretext",
        "publisher": "Microsoft.Azure.KeyVault",
        "type": "KeyVaultForLinux",
        "typeHandlerVersion": "3.0",
    }
    if protected:
        extension["protectedSettings"] = {"secretKeyRef": {"name": "kv", "key": "protected"}}
    plain = {"name": "plain", "publisher": "Microsoft.Azure.Monitor", "type": "AzureMonitorLinuxAgent"}
    return {
        "account": dict(ACCOUNT),
        "poolName": "pool-a",
        "vmSize": "Standard_D2s_v3",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSkuId": "batch.node.ubuntu 24.04",
                "extensions": [extension, plain],
            }
        },
        "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 3}},
    }


def _render(spec: dict[str, Any], key: bytes, protected: str = PROTECTED) -> rendering.DesiredPool:
    return rendering.render_pool(spec, secrets={("kv", "protected"): protected}, owner=OWNER, digest_key=key)


def _pool_made_by(desired: rendering.DesiredPool) -> rendering.ObservedPool:
    return rendering.observe_pool(azure_echo(copy.deepcopy(desired.body), dedicated=3))


def test_a_pool_recorded_under_another_key_gets_a_metadata_patch_not_a_recreate() -> None:
    pool = _pool_made_by(_render(_spec(), KEY))
    result = planning.plan(_render(_spec(), OTHER_KEY), pool, RECREATE)
    assert types(result) == ["patch"], result.to_json()
    assert result.actions[0].fields == ("metadata",)
    assert result.warnings and "extension 'secretext'" in result.warnings[0]
    assert "change it again" in result.warnings[0]
    sent = {i["name"]: i["value"] for i in result.actions[0].patch["properties"]["metadata"]}  # type: ignore[index]
    assert sent["azbatch.dev/secret-digest.extension.secretext"].startswith(key_id(OTHER_KEY) + ".")


def test_an_extension_without_protected_settings_is_the_same_under_any_key() -> None:
    first, second = _render(_spec(protected=False), KEY), _render(_spec(protected=False), OTHER_KEY)
    assert first.secret_digests == second.secret_digests
    assert set(first.secret_digests.values()) == {NO_SECRETS}
    assert planning.plan(second, _pool_made_by(first), RECREATE).is_noop


def test_the_plan_settles_once_the_digests_are_recorded_again() -> None:
    desired = _render(_spec(), OTHER_KEY)
    pool = _pool_made_by(_render(_spec(), KEY))
    patch = planning.plan(desired, pool, RECREATE).actions[0].patch
    assert patch is not None
    body = azure_echo(copy.deepcopy(desired.body), dedicated=3)
    body["properties"]["metadata"] = patch["properties"]["metadata"]
    after = planning.plan(desired, rendering.observe_pool(body), RECREATE)
    assert after.is_noop and not after.warnings


def test_a_changed_secret_under_the_same_key_still_recreates() -> None:
    pool = _pool_made_by(_render(_spec(), KEY))
    result = planning.plan(_render(_spec(), KEY, protected='{"token": "b"}'), pool, RECREATE)
    assert types(result) == ["recreate"]
    assert "protected settings of extension 'secretext' changed" in " ".join(result.actions[0].reasons)


def test_adding_or_removing_protected_settings_is_a_change_under_any_key() -> None:
    with_secret, without = _render(_spec(), KEY), _render(_spec(protected=False), OTHER_KEY)
    assert types(planning.plan(without, _pool_made_by(with_secret), RECREATE)) == ["recreate"]
    assert types(planning.plan(_render(_spec(), OTHER_KEY), _pool_made_by(without), RECREATE)) == ["recreate"]


def test_digests_from_before_key_ids_are_compared_as_they_were_made() -> None:
    entity = SecretEntity("extension", "secretext")
    legacy = secret_digest(KEY, entity, {"protectedSettings": {"token": "a"}})
    desired = _render(_spec(), KEY)
    name = entity.metadata_name
    assert compare_digest(desired.secret_digests[name], desired.legacy_digests[name], legacy) is (
        DigestVerdict.OLD_FORMAT
    )
    other = secret_digest(OTHER_KEY, entity, {"protectedSettings": {"token": "a"}})
    assert compare_digest(desired.secret_digests[name], desired.legacy_digests[name], other) is (
        DigestVerdict.OTHER_KEY
    )


def test_the_key_id_reveals_neither_the_key_nor_a_digest() -> None:
    desired = _render(_spec(), KEY)
    ident = key_id(KEY)
    assert len(ident) == 16 and ident != key_id(OTHER_KEY)
    assert KEY.hex()[:16] != ident and ident not in KEY.decode()
    digest = desired.secret_digests["azbatch.dev/secret-digest.extension.secretext"].partition(".")[2]
    assert ident not in digest and len(digest) == 32


def _offline(spec: dict[str, Any]) -> rendering.DesiredPool:
    """As `plan` renders without the operator's digest key."""
    return rendering.render_pool(
        spec,
        secrets={("kv", "protected"): PROTECTED},
        owner=OWNER,
        digest_key=bytes(16),
        allow_unresolved=True,
        compare_secrets=False,
    )


def test_without_a_key_only_entities_holding_secrets_go_uncompared_and_the_note_says_why() -> None:
    result = planning.plan(_offline(_spec()), _pool_made_by(_render(_spec(), KEY)), RECREATE)
    assert result.is_noop, result.to_json()
    (note,) = result.notes  # 'plain' holds no secret: `none` under any key, compared
    assert note.startswith("secret-backed fields of extension 'secretext' were not compared: no digest key")
    assert "--digest-key-file" in note and "AZBATCH_DIGEST_KEY_FILE" in note


def test_without_a_key_a_digest_from_before_key_ids_is_kept_not_recorded_again() -> None:
    made = _render(_spec(protected=False), KEY)
    body = azure_echo(copy.deepcopy(made.body), dedicated=3)
    plain = SecretEntity("extension", "plain")
    for item in body["properties"]["metadata"]:
        if item["name"] == plain.metadata_name:
            item["value"] = secret_digest(KEY, plain, {})  # bare: written before key ids
    result = planning.plan(_offline(_spec(protected=False)), rendering.observe_pool(body), RECREATE)
    assert result.is_noop and not result.warnings, result.to_json()
    assert any("extension 'plain' were not compared: no digest key" in note for note in result.notes)
