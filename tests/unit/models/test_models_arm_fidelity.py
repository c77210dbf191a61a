"""The spec models are the ARM pool body: same names as the SDK, and the seeds' bodies round-trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.mgmt.batch import models as sdk
from pydantic import BaseModel
from seed_bodies import (
    REPO,
    arm_body_to_spec,
    repair_windows_body,
    seed_bodies_raw,
)

import azbatch_operator.models as ours
from azbatch_operator.models import BatchPoolSpec

OPERATOR_FIELDS = {"account", "poolName", "identity", "policy"}
# Our class -> the azure-mgmt-batch class it mirrors (same name unless listed).
RENAMED = {"BatchPoolSpec": "PoolProperties", "UserAssignedIdentity": "UserAssignedIdentities"}
MIRRORED = [
    *sorted(
        name
        for name in ours.__all__
        if isinstance(getattr(ours, name), type)
        and issubclass(getattr(ours, name), BaseModel)
        and hasattr(sdk, RENAMED.get(name, name))
    ),
    "BatchPoolSpec",
]


def _writable_sdk_names(sdk_class: Any) -> set[str]:
    sdk_class({})  # the SDK builds its field table on first use
    return {
        field._rest_name
        for field in sdk_class._attr_to_rest_field.values()
        if "create" in (field._visibility or ["create"])
    }


@pytest.mark.parametrize("name", MIRRORED)
def test_every_writable_arm_property_has_a_field_with_the_arm_name(name: str) -> None:
    model: type[BaseModel] = getattr(ours, name)
    aliases = {field.alias or key for key, field in model.model_fields.items()}
    if name == "BatchPoolSpec":
        aliases -= OPERATOR_FIELDS
    assert aliases == _writable_sdk_names(getattr(sdk, RENAMED.get(name, name)))


def test_the_mirrored_set_covers_the_pool_body() -> None:
    assert len(MIRRORED) >= 45, MIRRORED


def _round_trip(body: dict[str, Any]) -> None:
    spec = BatchPoolSpec.model_validate(arm_body_to_spec(body))
    dumped = spec.model_dump(exclude_none=True, exclude={"account", "policy", "identity"})
    expected = json.loads(json.dumps(arm_body_to_spec(body)))
    expected.pop("account")
    expected.pop("identity", None)
    assert dumped == expected
    if "identity" in body:
        assert spec.identity is not None
        assert spec.identity.model_dump(exclude_none=True) == body["identity"]


@pytest.mark.parametrize("os_name", ["linux", "windows"])
def test_seed_request_bodies_load_and_dump_unchanged(seed_bodies_json: dict[str, Any], os_name: str) -> None:
    _round_trip(seed_bodies_json[os_name])


def test_the_windows_seed_body_is_malformed_until_its_certificate_entry_is_repaired() -> None:
    raw = seed_bodies_raw()["windows"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    certificate = json.loads(repair_windows_body(raw))["properties"]["deploymentConfiguration"][
        "virtualMachineConfiguration"
    ]["extensions"][0]["settings"]["secretsManagementSettings"]["observedCertificates"][0]
    assert certificate == {
        "url": "https://testkvwestus2.vault.azure.net/secrets/authsecreat",
        "certificateStoreName": "MY",
        "certificateStoreLocation": "LocalMachine",
        "keyExportable": True,
    }


def test_mgmt_pool_create_examples_load_and_dump_unchanged(mgmt_create_bodies: dict[str, Any]) -> None:
    assert set(mgmt_create_bodies) == {
        "PoolCreate_SharedImageGallery",
        "PoolCreate_VirtualMachineConfiguration_Extensions",
    }
    for body in mgmt_create_bodies.values():
        _round_trip(body)


@pytest.mark.parametrize("os_name", ["linux", "windows"])
def test_the_key_vault_examples_are_the_seed_bodies(seed_bodies_json: dict[str, Any], os_name: str) -> None:
    documents = list(yaml.safe_load_all((REPO / "examples" / f"keyvault-{os_name}.yaml").read_text()))
    (manifest,) = [document for document in documents if document["kind"] == "BatchPool"]
    spec = dict(manifest["spec"])
    spec.pop("account")
    spec.pop("poolName", None)
    expected = arm_body_to_spec(seed_bodies_json[os_name])
    expected.pop("account")
    assert spec == expected


def test_examples_are_complete_manifests() -> None:
    examples = sorted(Path(REPO / "examples").glob("*.yaml"))
    assert {path.stem for path in examples} >= {
        "keyvault-linux",
        "keyvault-windows",
        "gallery-image",
        "autoscale",
    }
