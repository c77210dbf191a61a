"""Hypothesis strategies for valid BatchPool specs, their Secret values, and Azure's echo of a pool.

Reusable from any test folder that puts this one on the path (test files here import it as
``strategies``):

- ``specs()``: camelCase spec documents the models accept and validation passes without errors;
- ``secret_values(spec)``: a value for every Secret key the spec references (protectedSettings
  values are JSON objects, as the operator requires);
- ``azure_echo(body, ...)``: the pool as ``GET pool`` returns it after a PUT of ``body`` —
  secrets gone, server defaults filled in, Azure's casing, read-only fields added, unordered
  lists shuffled. It is a model of the service for property tests, not an emulator.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from hypothesis import strategies as st

SUBSCRIPTION = "12345678-1234-1234-1234-123456789012"
ACCOUNT = {"subscriptionId": SUBSCRIPTION, "resourceGroup": "rg-batch", "accountName": "sampleacct"}
OWNER = "cluster-uid/default/pool-a"
DIGEST_KEY = b"unit-test-digest-key-0123456789"
IDENTITY_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/ids/providers/Microsoft.ManagedIdentity/"
    "userAssignedIdentities/{name}"
)

short_names = st.from_regex(r"[a-z][a-z0-9]{0,7}", fullmatch=True)
text_values = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./: ", max_size=12)
secret_names = st.from_regex(r"[a-z][a-z0-9-]{0,6}[a-z0-9]", fullmatch=True)
secret_keys = st.from_regex(r"[a-zA-Z][a-zA-Z0-9._-]{0,7}", fullmatch=True)


@st.composite
def secret_refs(draw: st.DrawFn) -> dict[str, Any]:
    return {"secretKeyRef": {"name": draw(secret_names), "key": draw(secret_keys)}}


json_scalars = st.one_of(text_values, st.integers(-1000, 1000), st.booleans())
json_objects = st.recursive(
    st.dictionaries(short_names, json_scalars, max_size=3),
    lambda inner: st.dictionaries(
        short_names, st.one_of(json_scalars, inner, st.lists(json_scalars, max_size=3)), max_size=3
    ),
    max_leaves=6,
)

# Linux extensions only (the generated images are Linux), never CustomScript.
EXTENSION_KINDS = (
    ("Microsoft.Azure.KeyVault", "KeyVaultForLinux", "3.0"),
    ("Microsoft.Azure.Monitor", "AzureMonitorLinuxAgent", "1.0"),
    ("Microsoft.ManagedServices", "ApplicationHealthLinux", "2.0"),
    ("Microsoft.Azure.Security.Monitoring", "AzureSecurityLinuxAgent", "2.0"),
)


@st.composite
def extensions(draw: st.DrawFn, name: str) -> dict[str, Any]:
    publisher, kind, version = draw(st.sampled_from(EXTENSION_KINDS))
    extension: dict[str, Any] = {"name": name, "publisher": publisher, "type": kind}
    if draw(st.booleans()):
        extension["typeHandlerVersion"] = version
    if draw(st.booleans()):
        extension["autoUpgradeMinorVersion"] = True
    if draw(st.booleans()):
        extension["enableAutomaticUpgrade"] = draw(st.booleans())
    if draw(st.booleans()):
        extension["settings"] = draw(json_objects)
    if draw(st.booleans()):
        extension["protectedSettings"] = draw(secret_refs())
    return extension


IMAGES = (
    {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"},
    {"publisher": "microsoftcblmariner", "offer": "cbl-mariner", "sku": "cbl-mariner-2"},
    {
        "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/img/providers/Microsoft.Compute/galleries/g/"
        "images/linux/versions/1.0.0"
    },
)


@st.composite
def deployment_configurations(draw: st.DrawFn) -> dict[str, Any]:
    vmc: dict[str, Any] = {
        "imageReference": dict(draw(st.sampled_from(IMAGES))),
        "nodeAgentSkuId": draw(st.sampled_from(["batch.node.ubuntu 24.04", "batch.node.mariner 2.0"])),
    }
    names = draw(st.lists(short_names, max_size=3, unique=True))
    if names:
        vmc["extensions"] = [draw(extensions(name)) for name in names]
    if draw(st.booleans()):
        vmc["dataDisks"] = [
            {"lun": lun, "diskSizeGB": draw(st.integers(1, 512))}
            for lun in draw(st.lists(st.integers(0, 63), max_size=2, unique=True))
        ]
    return {"virtualMachineConfiguration": vmc}


durations_at_least_5m = st.sampled_from(["PT5M", "PT15M", "PT20M", "PT1H", "PT0H30M"])


@st.composite
def scale_settings(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        fixed: dict[str, Any] = {}
        for key in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            if draw(st.booleans()):
                fixed[key] = draw(st.integers(0, 20))
        if draw(st.booleans()):
            fixed["resizeTimeout"] = draw(durations_at_least_5m)
        return {"fixedScale": fixed}
    auto: dict[str, Any] = {"formula": f"$TargetDedicatedNodes={draw(st.integers(0, 9))};"}
    if draw(st.booleans()):
        auto["evaluationInterval"] = draw(durations_at_least_5m)
    return {"autoScale": auto}


@st.composite
def user_accounts(draw: st.DrawFn) -> list[dict[str, Any]]:
    users = []
    for name in draw(st.lists(short_names, max_size=2, unique=True)):
        user: dict[str, Any] = {"name": name, "password": draw(secret_refs())}
        if draw(st.booleans()):
            user["elevationLevel"] = draw(st.sampled_from(["Admin", "NonAdmin"]))
        users.append(user)
    return users


@st.composite
def mounts(draw: st.DrawFn) -> list[dict[str, Any]]:
    result = []
    for path in draw(st.lists(short_names, max_size=2, unique=True)):
        if draw(st.booleans()):
            result.append(
                {
                    "azureFileShareConfiguration": {
                        "accountName": "store",
                        "azureFileUrl": f"https://store.file.core.windows.net/{path}",
                        "accountKey": draw(secret_refs()),
                        "relativeMountPath": path,
                    }
                }
            )
        else:
            result.append(
                {"nfsMountConfiguration": {"source": f"nfs://10.0.0.4/{path}", "relativeMountPath": path}}
            )
    return result


@st.composite
def start_tasks(draw: st.DrawFn) -> dict[str, Any]:
    task: dict[str, Any] = {
        "commandLine": draw(st.sampled_from(["/bin/true", "sh -c 'echo hi'", "cmd /c SET"]))
    }
    settings = draw(st.lists(short_names, max_size=3, unique=True))
    if settings:
        task["environmentSettings"] = [{"name": n, "value": draw(text_values)} for n in settings]
    if draw(st.booleans()):
        task["maxTaskRetryCount"] = draw(st.integers(-1, 5))
    if draw(st.booleans()):
        task["waitForSuccess"] = draw(st.booleans())
    return task


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A spec the models accept and validation passes without errors (warnings allowed)."""
    spec: dict[str, Any] = {
        "account": dict(ACCOUNT),
        "vmSize": draw(st.sampled_from(["Standard_D2s_v3", "STANDARD_D4", "standard_ds2_v2"])),
        "deploymentConfiguration": draw(deployment_configurations()),
    }
    optional = {
        "scaleSettings": scale_settings(),
        "taskSlotsPerNode": st.integers(1, 8),
        "taskSchedulingPolicy": st.fixed_dictionaries({"nodeFillType": st.sampled_from(["Spread", "Pack"])}),
        "interNodeCommunication": st.sampled_from(["Enabled", "Disabled"]),
        "displayName": text_values.filter(bool),
        "metadata": st.lists(short_names, max_size=3, unique=True).map(
            lambda names: [{"name": n, "value": f"v-{n}"} for n in names]
        ),
        "startTask": start_tasks(),
        "userAccounts": user_accounts(),
        "mountConfiguration": mounts(),
        "applicationPackages": st.lists(short_names, max_size=2, unique=True).map(
            lambda names: [
                {
                    "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-batch/providers/Microsoft.Batch/"
                    f"batchAccounts/sampleacct/applications/{n}"
                }
                for n in names
            ]
        ),
        "upgradePolicy": st.fixed_dictionaries({"mode": st.sampled_from(["manual", "automatic"])}),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            spec[key] = draw(strategy)
    has_key_vault = any(
        e["type"] == "KeyVaultForLinux"
        for e in spec["deploymentConfiguration"]["virtualMachineConfiguration"].get("extensions", [])
    )
    if has_key_vault or draw(st.booleans()):
        ids = draw(st.lists(short_names, min_size=1, max_size=2, unique=True))
        spec["identity"] = {
            "type": "UserAssigned",
            "userAssignedIdentities": {IDENTITY_ID.format(name=n): {} for n in ids},
        }
    return spec


def referenced_keys(document: Any) -> list[tuple[str, str, str]]:
    """(secret name, key, field name) for every secretKeyRef in a spec document."""
    found: list[tuple[str, str, str]] = []

    def visit(node: Any, field: str) -> None:
        if isinstance(node, dict):
            if set(node) == {"secretKeyRef"}:
                found.append((node["secretKeyRef"]["name"], node["secretKeyRef"]["key"], field))
                return
            for key, child in node.items():
                visit(child, key)
        elif isinstance(node, list):
            for child in node:
                visit(child, field)

    visit(document, "")
    return found


@st.composite
def secret_values(draw: st.DrawFn, spec: dict[str, Any]) -> dict[tuple[str, str], str]:
    """A value for every referenced Secret key (a JSON object where protectedSettings needs one).

    One (name, key) may be referenced from a protectedSettings and a password at once; it then holds
    a JSON object, which is also a valid password string.
    """
    values: dict[tuple[str, str], str] = {}
    for name, key, field in referenced_keys(spec):
        if field == "protectedSettings" or (name, key) not in values:
            values[(name, key)] = (
                json.dumps(draw(json_objects))
                if field == "protectedSettings"
                else draw(st.text(min_size=1, max_size=16))
            )
    return values


# ----------------------------------------------------------------------------------- Azure's echo

_SECRET_KEYS = {"protectedSettings", "password", "accountKey", "sasKey", "sshPrivateKey"}
_UNORDERED = {
    "metadata",
    "userAccounts",
    "mountConfiguration",
    "extensions",
    "environmentSettings",
    "dataDisks",
}


def _strip_secrets(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_secrets(v) for k, v in node.items() if k not in _SECRET_KEYS}
    if isinstance(node, list):
        return [_strip_secrets(v) for v in node]
    return node


def _shuffle_unordered(node: Any, rng: random.Random) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, child in node.items():
            value = _shuffle_unordered(child, rng)
            if key in _UNORDERED and isinstance(value, list):
                rng.shuffle(value)
            out[key] = value
        return out
    if isinstance(node, list):
        return [_shuffle_unordered(v, rng) for v in node]
    return node


def azure_echo(
    body: dict[str, Any],
    *,
    name: str = "pool-a",
    dedicated: int | None = None,
    low_priority: int = 0,
    allocation_state: str = "Steady",
    provisioning_state: str = "Succeeded",
    seed: int = 0,
) -> dict[str, Any]:
    """What ``GET pool`` returns after ``PUT body``: Azure's defaults, casing, order and read-only fields."""
    rng = random.Random(seed)
    properties = _shuffle_unordered(_strip_secrets(copy.deepcopy(body["properties"])), rng)
    properties["vmSize"] = properties["vmSize"].upper()
    properties.setdefault("interNodeCommunication", "Disabled")
    properties.setdefault("taskSlotsPerNode", 1)
    properties.setdefault("taskSchedulingPolicy", {"nodeFillType": "Spread"})
    scale = properties.setdefault("scaleSettings", {"fixedScale": {}})
    fixed = scale.get("fixedScale")
    if fixed is not None:
        fixed.setdefault("targetDedicatedNodes", 0)
        fixed.setdefault("targetLowPriorityNodes", 0)
        fixed.setdefault("resizeTimeout", "PT15M")
        if fixed["resizeTimeout"] == "PT0H30M":
            fixed["resizeTimeout"] = "PT30M"
    else:
        scale["autoScale"].setdefault("evaluationInterval", "PT15M")
    start_task = properties.get("startTask")
    if start_task is not None:
        start_task.setdefault("maxTaskRetryCount", 0)
        start_task.setdefault("waitForSuccess", True)
    if dedicated is None:
        dedicated = fixed["targetDedicatedNodes"] if fixed is not None else 0
    properties.update(
        {
            "provisioningState": provisioning_state,
            "allocationState": allocation_state,
            "currentDedicatedNodes": dedicated,
            "currentLowPriorityNodes": low_priority,
            "creationTime": "2026-11-23T01:00:00.0000000Z",
            "lastModified": "2026-11-23T01:00:00.0000000Z",
            "provisioningStateTransitionTime": "2026-11-23T01:00:00.0000000Z",
        }
    )
    pool: dict[str, Any] = {
        "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-batch/providers/Microsoft.Batch/"
        f"batchAccounts/sampleacct/pools/{name}",
        "name": name,
        "type": "Microsoft.Batch/batchAccounts/pools",
        "etag": 'W/"0x8D4EDFEBFADF4AB"',
        "properties": properties,
    }
    identity = body.get("identity")
    if identity:
        pool["identity"] = {
            "type": identity["type"],
            "userAssignedIdentities": {
                key.upper() if rng.random() < 0.5 else key: {"principalId": "p", "clientId": "c"}
                for key in identity.get("userAssignedIdentities") or {}
            },
        }
    return pool
