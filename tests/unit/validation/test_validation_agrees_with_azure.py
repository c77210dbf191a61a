"""`validate` refuses what Azure refuses with 400, so no such spec reaches Azure.

Azure here is the emulator's rule set (`azbatch_emulator.rules`), which answers with the service's
codes (MissingRequiredProperty, InvalidPropertyValue). The property: whatever
`validation.validate_manifest` accepts, the emulator accepts as the PUT body the operator sends. The
examples below pin the rules one by one, in both places and with the service's code.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from manifest_edits import DELETE, VMC, edit, load_example

from azbatch_emulator.errors import ServiceError
from azbatch_emulator.rules import validate_pool_properties
from azbatch_emulator.timings import Timings
from azbatch_operator.rendering.desired import OPERATOR_KEYS
from azbatch_operator.validation import has_errors, validate_manifest

SECRET = {"secretKeyRef": {"name": "pool-secrets", "key": "value"}}
MARKETPLACE = {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"}
GALLERY = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/galleries/g/images/i/versions/1"


NFS = {"source": "nfs://10.0.0.4/exports", "relativeMountPath": "nfs"}
CIFS = {"userName": "u", "source": "//10.0.0.5/share", "relativeMountPath": "cifs", "password": SECRET}
BLOB = {"accountName": "acct", "containerName": "data", "relativeMountPath": "blob"}


def _without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


def nat(name: str = "ssh", backend: int = 22, start: int = 15000, end: int = 15100, **extra: Any) -> Any:
    return {
        "name": name,
        "protocol": "TCP",
        "backendPort": backend,
        "frontendPortRangeStart": start,
        "frontendPortRangeEnd": end,
        **extra,
    }


def nsg(priority: int) -> dict[str, Any]:
    return {"priority": priority, "access": "Allow", "sourceAddressPrefix": "*"}


def network(*pools: Any) -> dict[str, Any]:
    return {"endpointConfiguration": {"inboundNatPools": list(pools)}}


def user(name: str, **linux: Any) -> dict[str, Any]:
    account: dict[str, Any] = {"name": name, "password": SECRET}
    if linux:
        account["linuxUserConfiguration"] = linux
    return account


# (dotted path, candidate values): each is valid or a 400 of the Batch management API.
EDITS: list[tuple[str, list[Any]]] = [
    (
        f"{VMC}.imageReference",
        [
            MARKETPLACE,
            _without(MARKETPLACE, "version"),
            _without(MARKETPLACE, "publisher"),
            _without(MARKETPLACE, "offer"),
            _without(MARKETPLACE, "sku"),
            {"version": "latest"},
            {"id": GALLERY},
            {"id": GALLERY, "version": "1"},
            {"id": GALLERY, **MARKETPLACE},
            {"sharedGalleryImageId": "/SharedGalleries/g/Images/i/Versions/1"},
            {"communityGalleryImageId": "/CommunityGalleries/g/Images/i/Versions/1", "id": GALLERY},
            {},
            {**MARKETPLACE, "publisher": ""},
        ],
    ),
    (
        "spec.startTask",
        [
            {"commandLine": "/bin/sh -c setup.sh"},
            {"waitForSuccess": True},
            {"commandLine": ""},
            {"commandLine": "x", "resourceFiles": [{"httpUrl": "https://h/f", "filePath": "f"}]},
            {
                "commandLine": "x",
                "resourceFiles": [{"storageContainerUrl": "https://s/c", "blobPrefix": "p"}],
            },
            {
                "commandLine": "x",
                "resourceFiles": [{"httpUrl": "https://h/f", "storageContainerUrl": "https://s"}],
            },
            {"commandLine": "x", "resourceFiles": [{"filePath": "f"}]},
            {"commandLine": "x", "resourceFiles": [{"httpUrl": "https://h/f", "blobPrefix": "p"}]},
            {"maxTaskRetryCount": 2, "resourceFiles": [{"httpUrl": "https://h/f"}]},
        ],
    ),
    (
        "spec.userAccounts",
        [
            [user("ops")],
            [user("ops"), user("ops")],
            [user("ops"), user("OPS")],
            [user("ops", uid=1000, gid=1000)],
            [user("ops", uid=1000)],
            [user("ops", gid=1000)],
        ],
    ),
    (
        "spec.networkConfiguration",
        [
            network(nat()),
            network(nat(), nat("rdp", 3389, 16000, 16100)),
            network(nat(), nat("ssh", 3389, 16000, 16100)),
            network(nat(), nat("rdp", 22, 16000, 16100)),
            network(nat(), nat("rdp", 3389, 15050, 15200)),
            network(nat(end=15020)),
            network(nat(start=49990, end=50100)),
            network(nat(start=55001, end=55100)),
            network(nat(backend=29876)),
            network(nat(backend=29877)),
            network(nat("-bad")),
            network(nat("bad-")),
            network(nat("ok_")),
            network(nat(networkSecurityGroupRules=[nsg(150), nsg(151)])),
            network(
                nat(networkSecurityGroupRules=[nsg(150)]),
                nat("b", 23, 16000, 16100, networkSecurityGroupRules=[nsg(150)]),
            ),
            network(
                nat(networkSecurityGroupRules=[nsg(200 + i) for i in range(20)]),
                nat("b", 23, 16000, 16100, networkSecurityGroupRules=[nsg(300 + i) for i in range(10)]),
            ),
        ],
    ),
    (
        f"{VMC}.dataDisks",
        [
            [{"lun": 0, "diskSizeGB": 10}, {"lun": 1, "diskSizeGB": 10}],
            [{"lun": 0, "diskSizeGB": 10}, {"lun": 0, "diskSizeGB": 20}],
        ],
    ),
    (
        f"{VMC}.securityProfile",
        [
            {"securityType": "trustedLaunch", "uefiSettings": {"secureBootEnabled": True}},
            {"uefiSettings": {"secureBootEnabled": True}},
            {"encryptionAtHost": True},
        ],
    ),
    (
        "spec.upgradePolicy",
        [
            {
                "mode": "rolling",
                "rollingUpgradePolicy": {"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20},
            },
            {
                "mode": "rolling",
                "rollingUpgradePolicy": {"maxBatchInstancePercent": 50, "maxUnhealthyInstancePercent": 20},
            },
            {"mode": "automatic", "automaticOSUpgradePolicy": {"enableAutomaticOSUpgrade": True}},
            {"mode": "manual"},
        ],
    ),
    (
        f"{VMC}.windowsConfiguration",
        [DELETE, {"enableAutomaticUpdates": False}, {"enableAutomaticUpdates": True}],
    ),
    (f"{VMC}.extensions.0.provisionAfterExtensions", [DELETE, [], ["nope"]]),
    (
        "spec.scaleSettings",
        [
            {"fixedScale": {"targetDedicatedNodes": 1, "resizeTimeout": "PT15M"}},
            {"fixedScale": {"targetDedicatedNodes": 1, "resizeTimeout": "PT1M"}},
            {"autoScale": {"formula": "$TargetDedicatedNodes = 1;", "evaluationInterval": "PT1M"}},
            {"autoScale": {"formula": "$TargetDedicatedNodes = 1;", "evaluationInterval": "PT15M"}},
        ],
    ),
    ("spec.taskSlotsPerNode", [DELETE, 1, 256]),
    (
        "spec.mountConfiguration",
        [
            [{"nfsMountConfiguration": NFS}],
            [{}],
            [{"nfsMountConfiguration": NFS, "cifsMountConfiguration": CIFS}],
            [{"azureBlobFileSystemConfiguration": {**BLOB, "accountKey": SECRET}}],
            [{"azureBlobFileSystemConfiguration": BLOB}],
            [{"azureBlobFileSystemConfiguration": {**BLOB, "accountKey": SECRET, "sasKey": SECRET}}],
        ],
    ),
]


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    """An example with up to four of the edits above (each valid, or a documented 400)."""
    document = load_example(
        draw(st.sampled_from(["keyvault-linux", "keyvault-windows", "gallery-image", "autoscale"]))
    )
    for index in draw(st.lists(st.integers(0, len(EDITS) - 1), max_size=4, unique=True)):
        path, values = EDITS[index]
        value = draw(st.sampled_from(values))
        with contextlib.suppress(KeyError, IndexError, TypeError):  # e.g. no extension to edit
            edit(document, path, value if value is DELETE else copy.deepcopy(value))
    return document


def _with_secret_values(value: Any) -> Any:
    """What the operator sends: each secretKeyRef replaced by the Secret's value."""
    if isinstance(value, dict):
        if set(value) == {"secretKeyRef"}:
            return '{"value": "from a Secret"}'
        return {key: _with_secret_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_secret_values(item) for item in value]
    return value


def azure_answer(manifest: dict[str, Any]) -> ServiceError | None:
    """The emulator's verdict on the PUT body made from the manifest's spec (None: accepted)."""
    spec = manifest.get("spec") or {}
    properties = _with_secret_values({k: v for k, v in spec.items() if k not in OPERATOR_KEYS})
    try:
        validate_pool_properties(properties, timings=Timings())
    except ServiceError as refused:
        return refused
    return None


NO_PUBLISHER = edit(load_example("keyvault-linux"), f"{VMC}.imageReference.publisher", DELETE)


@given(manifests())
@example(NO_PUBLISHER)
def test_what_validate_accepts_azure_accepts(manifest: dict[str, Any]) -> None:
    model, findings = validate_manifest(manifest)
    refused = azure_answer(manifest)
    if model is not None and not has_errors(findings):
        assert refused is None, f"validate accepts it, Azure answers {refused.code}: {refused.message}"


CASES: list[tuple[str, str, Any, str]] = [
    # (path edited, id, value, Azure's code)
    (f"{VMC}.imageReference.publisher", "image-no-publisher", DELETE, "MissingRequiredProperty"),
    (f"{VMC}.imageReference.sku", "image-no-sku", DELETE, "MissingRequiredProperty"),
    (f"{VMC}.imageReference.id", "image-id-and-marketplace", GALLERY, "InvalidPropertyValue"),
    ("spec.startTask", "start-task-no-command", {"waitForSuccess": True}, "MissingRequiredProperty"),
    (
        "spec.startTask",
        "resource-file-two-sources",
        {"commandLine": "x", "resourceFiles": [{"httpUrl": "https://h", "autoStorageContainerName": "c"}]},
        "InvalidPropertyValue",
    ),
    ("spec.userAccounts", "user-twice", [user("ops"), user("ops")], "InvalidPropertyValue"),
    ("spec.userAccounts", "uid-without-gid", [user("ops", uid=1)], "InvalidPropertyValue"),
    ("spec.networkConfiguration", "nat-too-few-ports", network(nat(end=15010)), "InvalidPropertyValue"),
    (
        "spec.networkConfiguration",
        "nat-reserved-backend",
        network(nat(backend=29877)),
        "InvalidPropertyValue",
    ),
    (
        "spec.networkConfiguration",
        "nat-overlapping-ranges",
        network(nat(), nat("rdp", 3389, 15050, 15200)),
        "InvalidPropertyValue",
    ),
    (
        f"{VMC}.dataDisks",
        "data-disk-lun-twice",
        [{"lun": 0, "diskSizeGB": 10}, {"lun": 0, "diskSizeGB": 10}],
        "InvalidPropertyValue",
    ),
    (
        f"{VMC}.securityProfile",
        "uefi-without-type",
        {"uefiSettings": {"vTpmEnabled": True}},
        "MissingRequiredProperty",
    ),
    (
        "spec.upgradePolicy",
        "rolling-batch-above-unhealthy",
        {
            "mode": "rolling",
            "rollingUpgradePolicy": {"maxBatchInstancePercent": 50, "maxUnhealthyInstancePercent": 20},
        },
        "InvalidPropertyValue",
    ),
    (
        f"{VMC}.extensions.0.provisionAfterExtensions",
        "provision-after-unknown",
        ["nope"],
        "InvalidPropertyValue",
    ),
    (
        "spec.mountConfiguration",
        "mount-of-two-kinds",
        [{"nfsMountConfiguration": NFS, "cifsMountConfiguration": CIFS}],
        "InvalidPropertyValue",
    ),
    (
        "spec.mountConfiguration",
        "blob-without-credential",
        [{"azureBlobFileSystemConfiguration": BLOB}],
        "InvalidPropertyValue",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "code"), [(p, v, c) for p, _, v, c in CASES], ids=[i for _, i, _, _ in CASES]
)
def test_each_rule_is_refused_by_validate_and_by_azure(path: str, value: Any, code: str) -> None:
    manifest = edit(load_example("keyvault-linux"), path, value if value is DELETE else copy.deepcopy(value))
    model, findings = validate_manifest(manifest)
    assert model is None or has_errors(findings), "validate accepts what Azure refuses"
    refused = azure_answer(manifest)
    assert refused is not None and (refused.status, refused.code) == (400, code), refused


def test_the_examples_are_accepted_by_both() -> None:
    for stem in ("keyvault-linux", "keyvault-windows", "gallery-image", "autoscale"):
        manifest = load_example(stem)
        model, findings = validate_manifest(manifest)
        assert model is not None and not has_errors(findings), findings
        assert azure_answer(manifest) is None, stem
