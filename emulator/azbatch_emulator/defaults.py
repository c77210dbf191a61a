"""Defaults the service fills into a pool it returns, and extra ones a test asks it to echo.

Azure returns a pool with the values it applied where the request left them out (the PoolGet
and PoolList wire examples show `sourcePortRanges: ["*"]`, `version: latest`, fixed-scale targets,
...). Each default here is one the management spec (BatchManagement.json, 2024-07-01) states in
the property's description or `default`; docs/emulator.md lists them. Defaults are filled only
inside objects the pool has (an absent start task does not gain `waitForSuccess`), and never
overwrite a value that was sent.

`EchoedDefault` is the admin API's extra default: a path inside `properties` and a value, filled
on every read of matching pools, so a test can make the emulator return something a client's
normaliser does not know yet.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from azbatch_emulator.errors import ServiceError

_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\*\])?$")


@dataclass(frozen=True)
class EchoedDefault:
    """Fill `value` at `path` (dot-separated keys under `properties`; `key[*]` means every item of
    that list) on reads of pools whose name matches the glob `pool`, where the parent exists and
    the leaf is absent."""

    path: str
    value: Any
    pool: str = "*"

    def matches(self, pool_name: str) -> bool:
        return fnmatch.fnmatchcase(pool_name.lower(), self.pool.lower())

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "value": self.value, "pool": self.pool}


def parse_echoed_default(data: dict[str, Any]) -> EchoedDefault:
    path, pool = data.get("path"), data.get("pool", "*")
    if not isinstance(path, str) or not all(_SEGMENT.match(part) for part in path.split(".")):
        raise ServiceError(
            400,
            "InvalidRequestBody",
            "Give 'path': dot-separated property names under 'properties', 'name[*]' for every item "
            "of a list (e.g. 'startTask.resourceFiles[*].fileMode').",
        )
    if path.endswith("[*]"):
        raise ServiceError(400, "InvalidRequestBody", "The path must end at a property, not a list.")
    if "value" not in data:
        raise ServiceError(400, "InvalidRequestBody", "Give the 'value' to echo.")
    if not isinstance(pool, str):
        raise ServiceError(400, "InvalidRequestBody", "'pool' is a glob on the pool name.")
    return EchoedDefault(path=path, value=data["value"], pool=pool)


def fill(props: dict[str, Any], path: str, value: Any) -> None:
    """Set `value` at `path` wherever the parent object exists and the leaf is absent."""
    *parents, leaf = path.split(".")
    for parent in _walk(props, parents):
        if leaf not in parent:
            parent[leaf] = copy.deepcopy(value)


def _walk(node: Any, parts: list[str]) -> Iterator[dict[str, Any]]:
    if not isinstance(node, dict):
        return
    if not parts:
        yield node
        return
    head, rest = parts[0], parts[1:]
    if head.endswith("[*]"):
        items = node.get(head[:-3])
        for item in items if isinstance(items, list) else []:
            yield from _walk(item, rest)
    else:
        yield from _walk(node.get(head), rest)


SERVICE_DEFAULTS: tuple[tuple[str, Any], ...] = (
    # PoolProperties: "If not specified, this value defaults to 'Disabled'"; taskSlotsPerNode
    # default 1. (targetNodeCommunicationMode, "If omitted, the default value is Default", is not
    # filled: the 2025-06-01 API no longer has the property, and older shapes return what was set.)
    ("interNodeCommunication", "Disabled"),
    ("taskSlotsPerNode", 1),
    # TaskSchedulingPolicy.nodeFillType: default Spread.
    ("taskSchedulingPolicy.nodeFillType", "Spread"),
    # FixedScaleSettings.resizeTimeout: default PT15M; AutoScaleSettings.evaluationInterval:
    # "If omitted, the default value is 15 minutes (PT15M)".
    ("scaleSettings.fixedScale.resizeTimeout", "PT15M"),
    ("scaleSettings.fixedScale.targetDedicatedNodes", 0),
    ("scaleSettings.fixedScale.targetLowPriorityNodes", 0),
    ("scaleSettings.autoScale.evaluationInterval", "PT15M"),
    # VirtualMachineConfiguration parts.
    ("deploymentConfiguration.virtualMachineConfiguration.windowsConfiguration.enableAutomaticUpdates", True),
    ("deploymentConfiguration.virtualMachineConfiguration.dataDisks[*].caching", "None"),
    ("deploymentConfiguration.virtualMachineConfiguration.dataDisks[*].storageAccountType", "Standard_LRS"),
    ("deploymentConfiguration.virtualMachineConfiguration.nodePlacementConfiguration.policy", "Regional"),
    # NetworkConfiguration: PublicIPAddressConfiguration provision "The default value is
    # BatchManaged"; NetworkSecurityGroupRule.sourcePortRanges "Default value will be *" (and the
    # PoolList example returns ["*"]). dynamicVnetAssignmentScope (default "none") is not filled:
    # a pool read from the service shows it null.
    ("networkConfiguration.publicIPAddressConfiguration.provision", "BatchManaged"),
    (
        "networkConfiguration.endpointConfiguration.inboundNatPools[*].networkSecurityGroupRules[*]"
        ".sourcePortRanges",
        ["*"],
    ),
    # UserAccount.elevationLevel: "The default value is nonAdmin".
    ("userAccounts[*].elevationLevel", "NonAdmin"),
    # StartTask: maxTaskRetryCount default 0; waitForSuccess "The default is true";
    # AutoUserSpecification scope "The default value is Pool", elevationLevel nonAdmin;
    # TaskContainerSettings.workingDirectory "The default is 'taskWorkingDirectory'".
    ("startTask.maxTaskRetryCount", 0),
    ("startTask.waitForSuccess", True),
    ("startTask.userIdentity.autoUser.scope", "Pool"),
    ("startTask.userIdentity.autoUser.elevationLevel", "NonAdmin"),
    ("startTask.containerSettings.workingDirectory", "TaskWorkingDirectory"),
)
"""(path, value): defaults the management spec states, filled where the parent is present."""

LINUX_DEFAULTS: tuple[tuple[str, Any], ...] = (
    # ResourceFile.fileMode: "If this property is not specified for a Linux node, then a default
    # value of 0770 is applied to the file" (ignored on Windows).
    ("startTask.resourceFiles[*].fileMode", "0770"),
)

WINDOWS_DEFAULTS: tuple[tuple[str, Any], ...] = (
    # WindowsUserConfiguration.loginMode: "The default value is Interactive" (management spec).
    ("userAccounts[*].windowsUserConfiguration.loginMode", "Interactive"),
)


def echo_service_defaults(props: dict[str, Any], *, windows: bool) -> None:
    """Fill, in place, the defaults the service applies and returns (see the module docstring)."""
    props.setdefault("scaleSettings", {"fixedScale": {}})  # ScaleSettings: absent = fixed at 0
    props.setdefault("taskSchedulingPolicy", {})
    fixed = (props.get("scaleSettings") or {}).get("fixedScale")
    if isinstance(fixed, dict):
        # nodeDeallocationOption is create/update only (x-ms-mutability, no read): GET does not
        # return it; resizeOperationStatus does.
        fixed.pop("nodeDeallocationOption", None)
    image = ((props.get("deploymentConfiguration") or {}).get("virtualMachineConfiguration") or {}).get(
        "imageReference"
    ) or {}
    if isinstance(image, dict) and image.get("publisher") and not image.get("id"):
        image.setdefault("version", "latest")  # ImageReference.version: "the default is 'latest'"
    start_task = props.get("startTask")
    if isinstance(start_task, dict) and not start_task:
        props.pop("startTask")  # an empty start task is how a PATCH removes it
    for path, value in (*SERVICE_DEFAULTS, *(WINDOWS_DEFAULTS if windows else LINUX_DEFAULTS)):
        fill(props, path, value)
    _os_disk_caching(props)


def _os_disk_caching(props: dict[str, Any]) -> None:
    """OSDisk.caching: "The default values are: None for Standard storage. ReadOnly for Premium
    storage." (when the pool has an osDisk)."""
    vmc = (props.get("deploymentConfiguration") or {}).get("virtualMachineConfiguration") or {}
    os_disk = vmc.get("osDisk") if isinstance(vmc, dict) else None
    if isinstance(os_disk, dict) and "caching" not in os_disk:
        storage = str((os_disk.get("managedDisk") or {}).get("storageAccountType", ""))
        os_disk["caching"] = "ReadOnly" if storage.lower().startswith("premium") else "None"
