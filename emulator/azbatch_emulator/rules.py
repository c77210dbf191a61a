"""The service's rules for pool bodies, answered with the service's error codes.

Every refusal says what to do. Secrets are removed from a body before it is stored, so they can
neither be returned nor persisted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from azbatch_emulator.clock import parse_duration
from azbatch_emulator.errors import ServiceError
from azbatch_emulator.timings import Timings

MGMT_API_VERSIONS = ("2024-02-01", "2024-07-01", "2025-06-01")
"""The Microsoft.Batch management api-versions Azure serves that current clients send (azure-cli's
azure-mgmt-batch 17 sends 2024-02-01, azure-mgmt-batch 18 2024-07-01, 19 2025-06-01). A dated version
after the newest is answered as the newest; any other version is refused, as ARM refuses it."""
BATCH_API_VERSIONS = ("2024-02-01.19.0", "2024-07-01.20.0", "2025-06-01")
"""The Batch data-plane api-versions served (azure-cli 2.91 bundles azure-batch 15.0.0b1: 2024-02-01.19.0;
azure-batch 15.1 sends 2025-06-01); later dated versions are answered as the newest."""
_API_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.\d+\.\d+)?(?:-preview)?$")
POOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
NAT_POOL_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,75}[A-Za-z0-9_])?$")

LIVE_PROPERTIES = ("applicationPackages", "certificates", "metadata", "scaleSettings", "startTask")
"""The only pool properties the 2024-07-01+ API changes on a pool that has nodes; every other
property (vmSize, deploymentConfiguration, networkConfiguration, ...) needs the pool steady at
zero dedicated and zero Spot/low-priority nodes ("Update Batch pool properties", Azure docs)."""

PROPERTY_DEFAULTS: dict[str, Any] = {
    "interNodeCommunication": "Disabled",
    "taskSlotsPerNode": 1,
    "taskSchedulingPolicy": {"nodeFillType": "Spread"},
}

READ_ONLY_PROPERTIES = (
    "provisioningState",
    "provisioningStateTransitionTime",
    "allocationState",
    "allocationStateTransitionTime",
    "creationTime",
    "lastModified",
    "currentDedicatedNodes",
    "currentLowPriorityNodes",
    "resizeOperationStatus",
    "autoScaleRun",
    "currentNodeCommunicationMode",
)
"""Properties the service computes; a client that sends them back (e.g. a GET body) is ignored for them."""

RESERVED_EXTENSION_TYPES = ("customscript", "customscriptextension")
CUSTOM_IMAGE_MAX_DEDICATED = 2500
CUSTOM_IMAGE_MAX_LOW_PRIORITY = 1000
MAX_TASK_SLOTS = 256


def invalid_value(path: str, value: Any, reason: str) -> ServiceError:
    return ServiceError(
        400,
        "InvalidPropertyValue",
        f"The value provided for {path} is invalid: {reason}",
        details=[
            ("PropertyName", path.rsplit(".", 1)[-1]),
            ("PropertyValue", str(value)[:200]),
            ("Reason", reason),
        ],
        target=path,
    )


def missing(path: str, hint: str) -> ServiceError:
    return ServiceError(
        400,
        "MissingRequiredProperty",
        f"The property {path} is required. {hint}",
        details=[("PropertyName", path.rsplit(".", 1)[-1]), ("PropertyPath", path)],
        target=path,
    )


# --- api-version ----------------------------------------------------------------------------
def _newer_than_known(value: str, known: tuple[str, ...]) -> bool:
    """A stable dated version after the newest served one (and not absurdly far in the future)."""
    match = _API_VERSION.match(value)
    if not match or value.endswith("-preview"):
        return False
    newest = max(v[:10] for v in known)
    return match.group(1) > newest and _dated_and_recent(match.group(1), newest)


def mgmt_api_version(value: str | None) -> str:
    """The served version whose shape answers `value` (the newest for a later dated version)."""
    if value in MGMT_API_VERSIONS:
        return value
    return MGMT_API_VERSIONS[-1]


def batch_api_version(value: str | None) -> str:
    if value in BATCH_API_VERSIONS:
        return value
    return BATCH_API_VERSIONS[-1]


def check_mgmt_api_version(value: str | None) -> None:
    if not value:
        raise ServiceError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if not _API_VERSION.match(value):
        raise ServiceError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{value}' is invalid. The supported versions are "
            f"'{','.join(MGMT_API_VERSIONS)}'.",
        )
    if value not in MGMT_API_VERSIONS and not _newer_than_known(value, MGMT_API_VERSIONS):
        raise ServiceError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location 'eastus' and API version '{value}' for "
            f"type 'batchAccounts'. The supported api-versions are '{', '.join(MGMT_API_VERSIONS)}'. "
            "The supported locations are 'eastus'.",
        )


def check_batch_api_version(value: str | None) -> None:
    if value in BATCH_API_VERSIONS or (value and _newer_than_known(value, BATCH_API_VERSIONS)):
        return
    raise ServiceError(
        400,
        "InvalidQueryParameterValue",
        "Value for one of the query parameters specified in the request URI is invalid.",
        details=[
            ("QueryParameterName", "api-version"),
            ("QueryParameterValue", str(value)),
            (
                "Reason",
                f"The specified api-version is not supported; supported: {', '.join(BATCH_API_VERSIONS)} "
                "(azure-cli sends 2024-02-01.19.0, azure-batch 15 sends 2025-06-01).",
            ),
        ],
    )


def _dated_and_recent(date: str, oldest: str) -> bool:
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return False
    return date >= oldest and day <= dt.date.today() + dt.timedelta(days=366)


# --- names ------------------------------------------------------------------------------------
def check_pool_name(name: str) -> None:
    if not POOL_NAME.match(name):
        raise ServiceError(
            400,
            "InvalidParameter",
            f"The pool name '{name[:80]}' is invalid: use 1-64 letters, digits, hyphens or underscores.",
            target="poolName",
        )


def check_account_name(name: str) -> None:
    if not ACCOUNT_NAME.match(name):
        raise ServiceError(
            400,
            "AccountNameInvalid",
            f"The account name '{name[:80]}' is invalid: use 3-24 lowercase letters and digits.",
            target="accountName",
        )


# --- secrets ----------------------------------------------------------------------------------
def _items(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


def strip_secrets(body: dict[str, Any]) -> dict[str, Any]:
    """Drop protectedSettings, passwords, keys and SAS tokens in place (Azure never returns them)."""
    props = body.get("properties")
    if not isinstance(props, dict):
        return body
    vmc = (props.get("deploymentConfiguration") or {}).get("virtualMachineConfiguration") or {}
    if isinstance(vmc, dict):
        for ext in _items(vmc.get("extensions")):
            ext.pop("protectedSettings", None)
        for registry in _items((vmc.get("containerConfiguration") or {}).get("containerRegistries")):
            registry.pop("password", None)
    for user in _items(props.get("userAccounts")):
        user.pop("password", None)
        if isinstance(user.get("linuxUserConfiguration"), dict):
            user["linuxUserConfiguration"].pop("sshPrivateKey", None)
    for mount in _items(props.get("mountConfiguration")):
        for kind, secrets in (
            ("azureBlobFileSystemConfiguration", ("accountKey", "sasKey")),
            ("azureFileShareConfiguration", ("accountKey",)),
            ("cifsMountConfiguration", ("password",)),
        ):
            if isinstance(mount.get(kind), dict):
                for secret in secrets:
                    mount[kind].pop(secret, None)
    start_task = props.get("startTask")
    if isinstance(start_task, dict):
        task_registry = (start_task.get("containerSettings") or {}).get("registry")
        if isinstance(task_registry, dict):
            task_registry.pop("password", None)
    return body


def drop_read_only(body: dict[str, Any]) -> dict[str, Any]:
    props = body.get("properties")
    if isinstance(props, dict):
        for key in READ_ONLY_PROPERTIES:
            props.pop(key, None)
    return body


# --- pool bodies ------------------------------------------------------------------------------
def validate_pool_properties(props: Any, *, timings: Timings) -> None:
    """Rules a create or a full replace must satisfy."""
    if not isinstance(props, dict):
        raise missing(
            "properties", "Send the pool's properties object (vmSize, deploymentConfiguration, ...)."
        )
    if not props.get("vmSize"):
        raise missing("properties.vmSize", "Give a VM size such as 'STANDARD_D2S_V3'.")
    vmc = (props.get("deploymentConfiguration") or {}).get("virtualMachineConfiguration")
    if not isinstance(vmc, dict):
        raise missing(
            "properties.deploymentConfiguration.virtualMachineConfiguration",
            "Pools must use Virtual Machine Configuration (Cloud Services Configuration is retired).",
        )
    _validate_vm_configuration(vmc)
    validate_mutable_properties(props, timings=timings)
    _validate_custom_image_caps(props, vmc)
    slots = props.get("taskSlotsPerNode", 1)
    if not isinstance(slots, int) or isinstance(slots, bool) or not 1 <= slots <= MAX_TASK_SLOTS:
        raise invalid_value(
            "properties.taskSlotsPerNode", slots, f"must be an integer from 1 to {MAX_TASK_SLOTS}."
        )
    inc = props.get("interNodeCommunication", "Disabled")
    if inc not in ("Enabled", "Disabled"):
        raise invalid_value("properties.interNodeCommunication", inc, "must be 'Enabled' or 'Disabled'.")
    _validate_user_accounts(props.get("userAccounts"))
    _validate_mounts(props.get("mountConfiguration"))
    _validate_network(props.get("networkConfiguration"))
    _validate_upgrade_policy(props.get("upgradePolicy"), vmc)


def _validate_start_task(task: Any) -> None:
    path = "properties.startTask"
    if not isinstance(task, dict) or not task:
        return  # {} (or null) removes the start task
    if not task.get("commandLine"):
        raise missing(f"{path}.commandLine", "A start task needs a command line.")
    for index, item in enumerate(_items(task.get("resourceFiles"))):
        where = f"{path}.resourceFiles[{index}]"
        sources = [k for k in ("autoStorageContainerName", "storageContainerUrl", "httpUrl") if item.get(k)]
        if len(sources) != 1:
            raise invalid_value(
                where,
                "+".join(sources) or "none",
                "exactly one of autoStorageContainerName, storageContainerUrl and httpUrl must be specified.",
            )
        if item.get("blobPrefix") and item.get("httpUrl"):
            raise invalid_value(
                f"{where}.blobPrefix",
                item["blobPrefix"],
                "valid only with autoStorageContainerName or storageContainerUrl.",
            )


def _validate_user_accounts(accounts: Any) -> None:
    names: set[str] = set()
    for index, user in enumerate(_items(accounts)):
        path = f"properties.userAccounts[{index}]"
        name = str(user.get("name", ""))
        if name.lower() in names:
            raise invalid_value(f"{path}.name", name, "user account names must be unique within the pool.")
        names.add(name.lower())
        linux = user.get("linuxUserConfiguration")
        if isinstance(linux, dict) and ("uid" in linux) != ("gid" in linux):
            raise invalid_value(
                f"{path}.linuxUserConfiguration",
                "uid/gid",
                "uid and gid must be specified together or not at all.",
            )


MOUNT_KINDS = (
    "azureBlobFileSystemConfiguration",
    "nfsMountConfiguration",
    "cifsMountConfiguration",
    "azureFileShareConfiguration",
)


def _validate_mounts(mounts: Any) -> None:
    for index, mount in enumerate(_items(mounts)):
        path = f"properties.mountConfiguration[{index}]"
        kinds = [kind for kind in MOUNT_KINDS if mount.get(kind) is not None]
        if len(kinds) != 1:
            raise invalid_value(
                path, "+".join(kinds) or "none", "exactly one file system configuration must be specified."
            )
        blob = mount.get("azureBlobFileSystemConfiguration")
        if isinstance(blob, dict):
            credentials = [
                k for k in ("accountKey", "sasKey", "identityReference") if blob.get(k) is not None
            ]
            if len(credentials) != 1:
                raise invalid_value(
                    f"{path}.azureBlobFileSystemConfiguration",
                    "+".join(credentials) or "none",
                    "exactly one of accountKey, sasKey and identityReference must be specified.",
                )


def _validate_network(network: Any) -> None:
    if not isinstance(network, dict):
        return
    nat_pools = list(_items((network.get("endpointConfiguration") or {}).get("inboundNatPools")))
    base = "properties.networkConfiguration.endpointConfiguration.inboundNatPools"
    names: set[str] = set()
    backends: set[Any] = set()
    ranges: list[tuple[int, int]] = []
    priorities: set[Any] = set()
    rules = 0
    for index, nat in enumerate(nat_pools):
        path = f"{base}[{index}]"
        name = str(nat.get("name", ""))
        if not NAT_POOL_NAME.match(name) or name.lower() in names:
            raise invalid_value(
                f"{path}.name",
                name,
                "names are unique in the pool, up to 77 letters, digits, '_', '.' and '-', starting with a "
                "letter or digit and ending with a letter, digit or '_'.",
            )
        names.add(name.lower())
        backend = nat.get("backendPort")
        if backend in (29876, 29877) or backend in backends:
            raise invalid_value(
                f"{path}.backendPort", backend, "must be unique in the pool; 29876 and 29877 are reserved."
            )
        backends.add(backend)
        start, end = nat.get("frontendPortRangeStart", 0), nat.get("frontendPortRangeEnd", 0)
        if (
            not isinstance(start, int)
            or not isinstance(end, int)
            or end - start < 39
            or not (end < 50000 or start > 55000)
            or any(start <= high and low <= end for low, high in ranges)
        ):
            raise invalid_value(
                f"{path}.frontendPortRangeStart",
                f"{start}-{end}",
                "each range holds at least 40 ports, avoids 50000-55000 (reserved) and overlaps no other.",
            )
        ranges.append((start, end))
        for rule_index, rule in enumerate(_items(nat.get("networkSecurityGroupRules"))):
            rules += 1
            if rule.get("priority") in priorities:
                raise invalid_value(
                    f"{path}.networkSecurityGroupRules[{rule_index}].priority",
                    rule.get("priority"),
                    "priorities must be unique within the pool.",
                )
            priorities.add(rule.get("priority"))
    if rules > 25:
        raise invalid_value(base, rules, "a pool takes at most 25 network security group rules.")


def _validate_upgrade_policy(policy: Any, vmc: dict[str, Any]) -> None:
    if not isinstance(policy, dict):
        return
    rolling = policy.get("rollingUpgradePolicy")
    if isinstance(rolling, dict):
        batch, unhealthy = rolling.get("maxBatchInstancePercent"), rolling.get("maxUnhealthyInstancePercent")
        if isinstance(batch, int) and isinstance(unhealthy, int) and batch > unhealthy:
            raise invalid_value(
                "properties.upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent",
                batch,
                "must not be more than maxUnhealthyInstancePercent.",
            )
    automatic = policy.get("automaticOSUpgradePolicy")
    windows = str(vmc.get("nodeAgentSkuId", "")).lower().startswith("batch.node.windows")
    if isinstance(automatic, dict) and automatic.get("enableAutomaticOSUpgrade") is True and windows:
        updates = (vmc.get("windowsConfiguration") or {}).get("enableAutomaticUpdates", True)
        if updates is not False:
            raise invalid_value(
                "properties.deploymentConfiguration.virtualMachineConfiguration.windowsConfiguration"
                ".enableAutomaticUpdates",
                updates,
                "cannot be true when automaticOSUpgradePolicy.enableAutomaticOSUpgrade is true.",
            )


def validate_mutable_properties(props: dict[str, Any], *, timings: Timings) -> None:
    """Rules for properties that a PATCH may carry on its own."""
    if "scaleSettings" in props:
        _validate_scale_settings(props["scaleSettings"], timings)
    metadata = props.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, list)
        or not all(isinstance(m, dict) and isinstance(m.get("name"), str) and "value" in m for m in metadata)
    ):
        raise invalid_value(
            "properties.metadata", metadata, "must be a list of {'name': ..., 'value': ...} items."
        )
    vmc = (props.get("deploymentConfiguration") or {}).get("virtualMachineConfiguration")
    if "deploymentConfiguration" in props and isinstance(vmc, dict):
        _validate_vm_configuration(vmc)
    if "startTask" in props:
        _validate_start_task(props["startTask"])


def _validate_vm_configuration(vmc: dict[str, Any]) -> None:
    base = "properties.deploymentConfiguration.virtualMachineConfiguration"
    image = vmc.get("imageReference")
    if not isinstance(image, dict):
        raise missing(
            f"{base}.imageReference",
            "Give publisher/offer/sku/version, or an Azure Compute Gallery image id.",
        )
    _validate_image_reference(image, f"{base}.imageReference")
    if not vmc.get("nodeAgentSkuId"):
        raise missing(
            f"{base}.nodeAgentSkuId",
            "Give the node agent SKU matching the image, e.g. 'batch.node.ubuntu 22.04'.",
        )
    image_id = str(image.get("id", ""))
    if "/providers/microsoft.compute/images/" in image_id.lower():
        raise invalid_value(
            f"{base}.imageReference.id",
            image_id,
            "Managed images (Microsoft.Compute/images) for Batch pools were retired after 31 March 2026. "
            "Publish the image to an Azure Compute Gallery and reference the gallery image version instead.",
        )
    names: set[str] = set()
    for index, ext in enumerate(vmc.get("extensions") or []):
        path = f"{base}.extensions[{index}]"
        if not isinstance(ext, dict):
            raise invalid_value(path, ext, "each extension must be an object.")
        for key in ("name", "publisher", "type"):
            if not ext.get(key):
                raise missing(f"{path}.{key}", "Every extension needs name, publisher and type.")
        if str(ext["type"]).lower() in RESERVED_EXTENSION_TYPES:
            raise invalid_value(
                f"{path}.type",
                ext["type"],
                "The CustomScript extension type is reserved for the Azure Batch service and can't be used; "
                "use a start task to run scripts on the nodes.",
            )
        if str(ext["name"]).lower() in names:
            raise invalid_value(
                f"{path}.name", ext["name"], "extension names must be unique within the pool."
            )
        names.add(str(ext["name"]).lower())
    for index, ext in enumerate(vmc.get("extensions") or []):
        for after in ext.get("provisionAfterExtensions") or []:
            if str(after).lower() not in names or str(after).lower() == str(ext["name"]).lower():
                raise invalid_value(
                    f"{base}.extensions[{index}].provisionAfterExtensions",
                    after,
                    "must name another extension of this pool.",
                )
    luns: set[Any] = set()
    for index, disk in enumerate(_items(vmc.get("dataDisks"))):
        if disk.get("lun") in luns:
            raise invalid_value(
                f"{base}.dataDisks[{index}].lun", disk.get("lun"), "each data disk needs a distinct lun."
            )
        luns.add(disk.get("lun"))
    security = vmc.get("securityProfile")
    if (
        isinstance(security, dict)
        and security.get("uefiSettings") is not None
        and not security.get("securityType")
    ):
        raise missing(
            f"{base}.securityProfile.securityType",
            "uefiSettings needs securityType (trustedLaunch or confidentialVM).",
        )


MARKETPLACE_KEYS = ("publisher", "offer", "sku", "version")
GALLERY_KEYS = ("id", "sharedGalleryImageId", "communityGalleryImageId")


def _validate_image_reference(image: dict[str, Any], path: str) -> None:
    """One image: a Marketplace image (publisher, offer, sku; version optional) or a gallery image
    id, which "is mutually exclusive with other properties" (ImageReference, Batch management API)."""
    given = [key for key in (*GALLERY_KEYS, *MARKETPLACE_KEYS) if image.get(key) not in (None, "")]
    galleries = [key for key in given if key in GALLERY_KEYS]
    if len(galleries) > 1 or (galleries and len(given) > 1):
        raise invalid_value(
            path,
            "+".join(given),
            f"{galleries[0]} is mutually exclusive with the other imageReference properties.",
        )
    if galleries:
        return
    for key in ("publisher", "offer", "sku"):
        if key not in given:
            raise missing(
                f"{path}.{key}",
                "A Marketplace image needs publisher, offer and sku (or give an Azure Compute Gallery id).",
            )


def _validate_scale_settings(scale: Any, timings: Timings) -> None:
    path = "properties.scaleSettings"
    if not isinstance(scale, dict):
        raise invalid_value(path, scale, "must be an object with fixedScale or autoScale.")
    if scale.get("fixedScale") and scale.get("autoScale"):
        raise invalid_value(path, "fixedScale+autoScale", "give either fixedScale or autoScale, not both.")
    fixed = scale.get("fixedScale")
    if isinstance(fixed, dict):
        for key in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            value = fixed.get(key, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise invalid_value(f"{path}.fixedScale.{key}", value, "must be a non-negative integer.")
        if "resizeTimeout" in fixed:
            _validate_duration(
                f"{path}.fixedScale.resizeTimeout", fixed["resizeTimeout"], timings.min_resize_timeout
            )
        option = fixed.get("nodeDeallocationOption", "Requeue")
        if option not in ("Requeue", "Terminate", "TaskCompletion", "RetainedData"):
            raise invalid_value(
                f"{path}.fixedScale.nodeDeallocationOption",
                option,
                "must be Requeue, Terminate, TaskCompletion or RetainedData.",
            )
    auto = scale.get("autoScale")
    if auto is not None:
        if not isinstance(auto, dict) or not auto.get("formula"):
            raise missing(f"{path}.autoScale.formula", "An autoscale setting needs a formula.")
        if "evaluationInterval" in auto:
            _validate_duration(
                f"{path}.autoScale.evaluationInterval", auto["evaluationInterval"], 300.0, 168 * 3600.0
            )


def _validate_duration(path: str, value: Any, minimum: float, maximum: float | None = None) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise invalid_value(path, value, f"{exc}.") from exc
    if seconds < minimum or (maximum is not None and seconds > maximum):
        limit = f"at least {minimum / 60:g} minutes" + (
            f" and at most {maximum / 3600:g} hours" if maximum else ""
        )
        raise invalid_value(path, value, f"must be {limit}.")


def _validate_custom_image_caps(props: dict[str, Any], vmc: dict[str, Any]) -> None:
    if not (vmc.get("imageReference") or {}).get("id"):
        return
    fixed = (props.get("scaleSettings") or {}).get("fixedScale") or {}
    for key, cap in (
        ("targetDedicatedNodes", CUSTOM_IMAGE_MAX_DEDICATED),
        ("targetLowPriorityNodes", CUSTOM_IMAGE_MAX_LOW_PRIORITY),
    ):
        value = fixed.get(key, 0)
        if isinstance(value, int) and value > cap:
            raise invalid_value(
                f"properties.scaleSettings.fixedScale.{key}",
                value,
                f"pools from a custom image allow at most {CUSTOM_IMAGE_MAX_DEDICATED} dedicated and "
                f"{CUSTOM_IMAGE_MAX_LOW_PRIORITY} Spot/low-priority nodes; split the workload over "
                "several pools.",
            )


def effective(props: dict[str, Any], key: str) -> Any:
    return props.get(key, PROPERTY_DEFAULTS.get(key))


def check_zero_node_change(
    old: dict[str, Any], new: dict[str, Any], *, steady_and_empty: bool, replace: bool
) -> None:
    """Refuse a change to a zero-node-only property while the pool has nodes or is resizing.

    A PATCH (`replace=False`) changes only the properties it names; a PUT replaces them all.
    """
    if steady_and_empty:
        return
    keys = sorted(set(old) | set(new)) if replace else sorted(new)
    for key in keys:
        if key in LIVE_PROPERTIES or key in READ_ONLY_PROPERTIES:
            continue
        if effective(new, key) != effective(old, key):
            raise ServiceError(
                400,
                "PropertyCannotBeUpdated",
                "A property that cannot be updated was specified as part of the request: "
                f"'{key}' can only be changed while the pool is steady with zero nodes. Resize the pool "
                "to 0, wait for allocationState Steady, then update it (or recreate the pool).",
                details=[
                    ("Reason", "A property that cannot be updated was specified as part of the request."),
                    ("PropertyName", key),
                    ("PropertyPath", f"properties.{key}"),
                ],
                target="BatchAccount",
            )
