"""One normal form for ARM pool properties, applied to what we send and to what Azure returns.

Azure answers a pool GET with server-side defaults filled in (``taskSlotsPerNode: 1``,
``interNodeCommunication: Disabled``, ``nodeFillType: Spread``), with its own casing
(``STANDARD_D4`` for ``Standard_D4``), with durations spelled as it likes (``PT15M`` for
``PT0H15M``), lists in any order, and read-only fields (node counts, timestamps). None of these
is a change. ``normalise_pool`` maps both sides to the same shape so that plain ``==`` means
"nothing to do":

- only writable properties are kept (read-only ones are dropped), plus ``identity``;
- values equal to the service default are dropped, then empty objects and lists are dropped,
  so "absent", "empty" and "the default" all compare equal;
- case-insensitive values (sizes, enums, image names, ARM resource ids) are lower-cased;
- ISO 8601 durations are written one way;
- lists whose order means nothing are sorted by their natural key;
- secret fields (never returned by Azure) are dropped; their changes are tracked by digests.

The tables below are the single place to teach the planner a new default or a new field.
Extension ``settings`` are opaque: compared as JSON, never re-cased.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

# Writable pool properties (azure-mgmt-batch 19, api-version 2024-07-01+). Everything else Azure
# returns (provisioningState, allocationState, node counts, timestamps, resizeOperationStatus,
# autoScaleRun) is read-only and never compared. `certificates` was retired from the API but is
# still accepted by older accounts; it is kept so a spec that sets it is compared.
WRITABLE_PROPERTIES: Final = frozenset(
    {
        "displayName",
        "vmSize",
        "deploymentConfiguration",
        "scaleSettings",
        "interNodeCommunication",
        "networkConfiguration",
        "taskSlotsPerNode",
        "taskSchedulingPolicy",
        "userAccounts",
        "metadata",
        "startTask",
        "applicationPackages",
        "certificates",
        "mountConfiguration",
        "upgradePolicy",
    }
)

RESERVED_METADATA_PREFIX: Final = "azbatch.dev/"
EXTENSIONS_PATH: Final = "deploymentConfiguration.virtualMachineConfiguration.extensions"
_VMC: Final = "deploymentConfiguration.virtualMachineConfiguration"
_NAT_RULES: Final = "networkConfiguration.endpointConfiguration.inboundNatPools[].networkSecurityGroupRules"

# Values Azure fills in when the request leaves them out (compared after lower-casing).
SERVICE_DEFAULTS: Final[Mapping[str, Any]] = {
    "interNodeCommunication": "disabled",
    "taskSlotsPerNode": 1,
    "taskSchedulingPolicy.nodeFillType": "spread",
    "taskSchedulingPolicy.jobDefaultOrder": "none",
    "scaleSettings.fixedScale.targetDedicatedNodes": 0,
    "scaleSettings.fixedScale.targetLowPriorityNodes": 0,
    "scaleSettings.fixedScale.resizeTimeout": "PT15M",
    "scaleSettings.autoScale.evaluationInterval": "PT15M",
    "startTask.maxTaskRetryCount": 0,
    "startTask.waitForSuccess": True,
    "startTask.userIdentity.autoUser.scope": "pool",
    "startTask.userIdentity.autoUser.elevationLevel": "nonadmin",
    "userAccounts[].elevationLevel": "nonadmin",
    "networkConfiguration.dynamicVnetAssignmentScope": "none",
    "networkConfiguration.enableAcceleratedNetworking": False,
    "networkConfiguration.publicIPAddressConfiguration.provision": "batchmanaged",
    "upgradePolicy.mode": "manual",
    f"{_VMC}.imageReference.version": "latest",
    f"{_VMC}.windowsConfiguration.enableAutomaticUpdates": True,
    f"{_VMC}.nodePlacementConfiguration.policy": "regional",
    f"{EXTENSIONS_PATH}[].autoUpgradeMinorVersion": False,
    f"{EXTENSIONS_PATH}[].enableAutomaticUpgrade": False,
    "identity.type": "none",
    # Documented defaults the service fills in and returns (management spec property descriptions):
    # DataDisk caching "The default value for caching is none", storageAccountType "If omitted, the
    # default is standard_lrs"; NetworkSecurityGroupRule sourcePortRanges "Default value will be *";
    # ResourceFile fileMode 0770 on Linux (ignored on Windows); TaskContainerSettings
    # workingDirectory "The default is taskWorkingDirectory"; WindowsUserConfiguration loginMode
    # "The default value is Interactive".
    f"{_VMC}.dataDisks[].caching": "none",
    f"{_VMC}.dataDisks[].storageAccountType": "standard_lrs",
    f"{_NAT_RULES}.sourcePortRanges": ["*"],
    "startTask.resourceFiles[].fileMode": "0770",
    "startTask.containerSettings.workingDirectory": "taskworkingdirectory",
    "userAccounts[].windowsUserConfiguration.loginMode": "interactive",
}


def _os_disk_caching(os_disk: Mapping[str, Any]) -> str:
    """OSDisk caching: "The default values are: None for Standard storage. ReadOnly for Premium storage."."""
    storage = str((os_disk.get("managedDisk") or {}).get("storageAccountType", "")).lower()
    return "readonly" if storage.startswith("premium") else "none"


# Defaults that depend on a sibling value: path -> the default, given the parent object.
DEPENDENT_DEFAULTS: Final[Mapping[str, Callable[[Mapping[str, Any]], Any]]] = {
    f"{_VMC}.osDisk.caching": _os_disk_caching,
}

# Fields that are parameters of a resize, not state of the pool: never compared.
NOT_COMPARED: Final = frozenset(
    {
        "scaleSettings.fixedScale.nodeDeallocationOption",
    }
)

# Secret fields: Azure never returns them, so they are compared through keyed digests instead.
SECRET_FIELDS: Final = frozenset(
    {
        f"{EXTENSIONS_PATH}[].protectedSettings",
        "userAccounts[].password",
        "userAccounts[].linuxUserConfiguration.sshPrivateKey",
        "mountConfiguration[].azureBlobFileSystemConfiguration.accountKey",
        "mountConfiguration[].azureBlobFileSystemConfiguration.sasKey",
        "mountConfiguration[].azureFileShareConfiguration.accountKey",
        "mountConfiguration[].cifsMountConfiguration.password",
        f"{_VMC}.containerConfiguration.containerRegistries[].password",
        "startTask.containerSettings.registry.password",
    }
)

# Subtrees compared verbatim as JSON (their keys and values belong to the extension's author).
OPAQUE: Final = frozenset({f"{EXTENSIONS_PATH}[].settings"})

# Keys whose string values the service treats case-insensitively (enums, sizes, image names).
CASE_INSENSITIVE_KEYS: Final = frozenset(
    {
        "vmSize",
        "nodeFillType",
        "jobDefaultOrder",
        "interNodeCommunication",
        "elevationLevel",
        "scope",
        "loginMode",
        "type",
        "publisher",
        "offer",
        "sku",
        "nodeAgentSkuId",
        "caching",
        "storageAccountType",
        "workingDirectory",
        "mode",
        "provision",
        "dynamicVnetAssignmentScope",
        "access",
        "protocol",
        "policy",
        "securityType",
        "licenseType",
        "nodeDeallocationOption",
        "placement",
        "id",
        "subnetId",
        "resourceId",
        "sharedGalleryImageId",
        "communityGalleryImageId",
        "diskEncryptionSetId",
    }
)

DURATION_KEYS: Final = frozenset(
    {"resizeTimeout", "evaluationInterval", "pauseTimeBetweenBatches", "maxWallClockTime"}
)


def _by(*keys: str) -> Callable[[Any], str]:
    def key(item: Any) -> str:
        if isinstance(item, Mapping):
            return json.dumps([item.get(k) for k in keys], sort_keys=True, default=str)
        return json.dumps(item, sort_keys=True, default=str)

    return key


def _canonical(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str)


# Lists whose order carries no meaning, with the key they are sorted by.
UNORDERED_LISTS: Final[Mapping[str, Callable[[Any], str]]] = {
    "metadata": _by("name"),
    "applicationPackages": _by("id", "version"),
    "certificates": _by("id"),
    "userAccounts": _by("name"),
    "mountConfiguration": _canonical,
    EXTENSIONS_PATH: _by("name"),
    f"{EXTENSIONS_PATH}[].provisionAfterExtensions": _canonical,
    f"{_VMC}.dataDisks": _by("lun"),
    f"{_VMC}.containerConfiguration.containerImageNames": _canonical,
    "startTask.environmentSettings": _by("name"),
    "networkConfiguration.endpointConfiguration.inboundNatPools": _by("name"),
    "networkConfiguration.endpointConfiguration.inboundNatPools[].networkSecurityGroupRules": _by("priority"),
    "networkConfiguration.publicIPAddressConfiguration.ipAddressIds": _canonical,
}

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def canonical_duration(value: str) -> str:
    """``PT0H15M``, ``PT900S`` and ``PT15M`` -> ``PT15M``; unparseable values come back as given."""
    match = _DURATION.match(value.strip().upper())
    if match is None or value.strip().upper() in {"P", "PT"}:
        return value
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    total = parts["w"] * 604800 + parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    if seconds or text == "PT":
        text += f"{seconds:g}S"
    return text


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, dict | list) and not value)


def _parse_json_text(value: Any) -> Any:
    """Extension settings arrive as an object from ARM and as a JSON string from the data plane."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _normalise(value: Any, path: str, key: str) -> Any:
    if path in OPAQUE:
        return _parse_json_text(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for child_key, child_value in value.items():
            child_path = _child(path, str(child_key))
            if child_path in SECRET_FIELDS or child_path in NOT_COMPARED:
                continue
            normal = _normalise(child_value, child_path, str(child_key))
            default = SERVICE_DEFAULTS.get(child_path, _MISSING)
            if child_path in DEPENDENT_DEFAULTS:
                default = DEPENDENT_DEFAULTS[child_path](value)
            if _is_empty(normal) or default == normal:
                continue
            out[str(child_key)] = normal
        return out
    if isinstance(value, list):
        items = [_normalise(item, f"{path}[]", key) for item in value]
        items = [item for item in items if not _is_empty(item)]
        sort_key = UNORDERED_LISTS.get(path)
        return sorted(items, key=sort_key) if sort_key else items
    if isinstance(value, str):
        if key in DURATION_KEYS:
            return canonical_duration(value)
        if key in CASE_INSENSITIVE_KEYS:
            return value.lower()
    return value


_MISSING: Final = object()


def normalise_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """ARM pool ``properties`` (request or response) -> the comparable normal form."""
    writable = {k: v for k, v in properties.items() if k in WRITABLE_PROPERTIES}
    result = _normalise(writable, "", "")
    assert isinstance(result, dict)
    return result


def normalise_identity(identity: Mapping[str, Any] | None) -> dict[str, Any]:
    """Pool ``identity``: type lower-cased, user-assigned identity ids as a sorted list.

    Azure adds read-only ``principalId``/``clientId`` to each identity and may change the case of
    the resource id; only the set of ids (case-insensitive) and the type matter.
    """
    if not identity:
        return {}
    out: dict[str, Any] = {}
    kind = str(identity.get("type") or "None").lower()
    if kind != SERVICE_DEFAULTS["identity.type"]:
        out["type"] = kind
    ids = sorted(str(i).lower() for i in (identity.get("userAssignedIdentities") or {}))
    if ids:
        out["userAssignedIdentities"] = ids
    return out


def is_reserved_metadata(name: str) -> bool:
    """Metadata items the operator writes itself (owner, secret digests); users may not set them."""
    return name.startswith(RESERVED_METADATA_PREFIX)


def normalise_pool(properties: Mapping[str, Any], identity: Mapping[str, Any] | None) -> dict[str, Any]:
    """The comparable form of a whole pool: normalised properties plus ``identity`` when set.

    The operator's own metadata items are left out: they are compared separately (ownership and
    secret digests), so ``comparable["metadata"]`` holds the user's items only.
    """
    user_metadata = [
        item
        for item in properties.get("metadata") or []
        if not is_reserved_metadata(str(item.get("name", "")))
    ]
    comparable = normalise_properties({**properties, "metadata": user_metadata})
    normal_identity = normalise_identity(identity)
    if normal_identity:
        comparable["identity"] = normal_identity
    return comparable
