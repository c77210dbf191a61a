"""The Azure Batch rules the seeds state, checked before anything reaches Azure (pure).

`validate_manifest(document)` is the single entry the operator and the CLI use: it turns schema errors
(wrong types, unknown or missing fields) and rule violations into `Finding`s that name the field and say
what to do. A bad manifest never raises.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from azbatch_operator.models import (
    API_VERSION,
    KIND,
    BatchPool,
    BatchPoolSpec,
    VirtualMachineConfiguration,
    VMExtension,
    parse_duration,
)
from azbatch_operator.models.durations import DURATION_PATTERN
from azbatch_operator.models.pool import (
    CUSTOM_SCRIPT_MESSAGE,
    MANAGED_IMAGE_MESSAGE,
    MANAGED_IMAGE_PATTERN,
    RESERVED_METADATA_MESSAGE,
    RESERVED_METADATA_PREFIX,
)
from azbatch_operator.models.spec import POOL_NAME_PATTERN, POOL_NAME_RULES, VM_CONFIGURATION_MESSAGE

Severity = Literal["error", "warning"]

NODE_AGENT_HEALTH_PORT = 29879
MAX_CUSTOM_IMAGE_DEDICATED = 2500
MAX_CUSTOM_IMAGE_LOW_PRIORITY = 1000
MIN_RESIZE_TIMEOUT = timedelta(minutes=5)
CUSTOM_IMAGE_RESIZE_TIMEOUT = timedelta(minutes=20)
DEFAULT_RESIZE_TIMEOUT = timedelta(minutes=15)
MIN_EVALUATION_INTERVAL = timedelta(minutes=5)
MAX_EVALUATION_INTERVAL = timedelta(hours=168)
MAX_NETWORK_SECURITY_GROUP_RULES = 25  # per pool, over all inbound NAT pools

# Extension types made for one OS; on the other the VM agent fails them with error 51 ("OS not supported").
OS_SPECIFIC_EXTENSIONS: dict[str, tuple[str, str]] = {
    "keyvaultforlinux": ("linux", "KeyVaultForWindows"),
    "keyvaultforwindows": ("windows", "KeyVaultForLinux"),
    "applicationhealthlinux": ("linux", "ApplicationHealthWindows"),
    "applicationhealthwindows": ("windows", "ApplicationHealthLinux"),
    "azuremonitorlinuxagent": ("linux", "AzureMonitorWindowsAgent"),
    "azuremonitorwindowsagent": ("windows", "AzureMonitorLinuxAgent"),
}
KEY_VAULT_EXTENSIONS = frozenset({"keyvaultforlinux", "keyvaultforwindows"})
APPLICATION_HEALTH_EXTENSIONS = frozenset({"applicationhealthlinux", "applicationhealthwindows"})

_MANAGED_IMAGE = re.compile(MANAGED_IMAGE_PATTERN.removeprefix("(?i)"), re.IGNORECASE)
_POOL_NAME = re.compile(POOL_NAME_PATTERN)

# Human rules for the patterns the models use, so a mismatch says what is allowed instead of a regex.
_PATTERN_RULES = {
    POOL_NAME_PATTERN: f"a pool name must be {POOL_NAME_RULES}",
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$": (
        "a subscription id is a GUID like 12345678-1234-1234-1234-123456789012"
    ),
    r"^[-\w._()]+$": "a resource group name has letters, digits, '-', '_', '.', '(' and ')'",
    r"^[a-z0-9]{3,24}$": "a Batch account name is 3 to 24 lowercase letters and digits",
    r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "a Secret name is a lowercase DNS subdomain, e.g. my-secret",
    r"^[-._a-zA-Z0-9]+$": "a Secret key has letters, digits, '-', '_' and '.'",
    DURATION_PATTERN: "write an ISO 8601 duration such as PT15M (15 minutes), PT1H30M or P1D",
}


@dataclass(frozen=True)
class Finding:
    """One problem in a manifest: `path` names the field (spec.x.y[0].z), `message` says what to do."""

    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.path}: {self.message}"


def has_errors(findings: Sequence[Finding]) -> bool:
    """True when at least one finding is an error (warnings alone do not block a reconcile)."""
    return any(finding.severity == "error" for finding in findings)


# ---------------------------------------------------------------------------------------------- entry point


def validate_manifest(document: Any) -> tuple[BatchPool | None, list[Finding]]:
    """Check a BatchPool document: schema first, then the Azure Batch rules. Never raises.

    Returns the model (None when the schema does not accept the document) and every finding.
    """
    if not isinstance(document, Mapping):
        return None, [
            _error("", "a BatchPool manifest must be a mapping with apiVersion, kind, metadata, spec")
        ]
    findings = _check_type_meta(document)
    if findings:
        return None, findings
    try:
        pool = BatchPool.model_validate(_plain(document), by_alias=True, by_name=False)
    except ValidationError as error:
        return None, schema_findings(error, root=BatchPool)
    return pool, validate(pool)


def _plain(value: Any) -> Any:
    """Mappings (kopf's Body, Spec) as dicts and sequences as lists, all the way down."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(item) for item in value]
    return value


def _check_type_meta(document: Mapping[str, Any]) -> list[Finding]:
    findings = []
    if document.get("kind") != KIND:
        findings.append(_error("kind", f"must be {KIND!r}, got {document.get('kind')!r}"))
    if document.get("apiVersion") != API_VERSION:
        findings.append(_error("apiVersion", f"must be {API_VERSION!r}, got {document.get('apiVersion')!r}"))
    return findings


def validate(resource_or_spec: BatchPool | BatchPoolSpec) -> list[Finding]:
    """Every Azure Batch rule the seeds state, on a schema-valid BatchPool or spec. Paths start at `spec.`."""
    if isinstance(resource_or_spec, BatchPool):
        spec = resource_or_spec.spec
        findings = _pool_name_findings(spec, resource_or_spec.metadata.name)
    else:
        spec = resource_or_spec
        findings = []
    for rule in _SPEC_RULES:
        findings.extend(rule(spec))
    return findings


# ------------------------------------------------------------------------------------------------- rules

_VMC = "spec.deploymentConfiguration.virtualMachineConfiguration"


def _error(path: str, message: str) -> Finding:
    return Finding("error", path, message)


def _warning(path: str, message: str) -> Finding:
    return Finding("warning", path, message)


def _vm_configuration(spec: BatchPoolSpec) -> VirtualMachineConfiguration | None:
    deployment = spec.deployment_configuration
    return deployment.virtual_machine_configuration if deployment else None


def _extensions(spec: BatchPoolSpec) -> Iterator[tuple[str, VMExtension]]:
    vmc = _vm_configuration(spec)
    for index, extension in enumerate((vmc.extensions if vmc else None) or []):
        yield f"{_VMC}.extensions[{index}]", extension


def _is_windows(vmc: VirtualMachineConfiguration) -> bool:
    """The node OS, from the node agent SKU (`batch.node.windows amd64`) or a Marketplace Windows image."""
    if vmc.node_agent_sku_id.lower().startswith("batch.node.windows"):
        return True
    image = vmc.image_reference
    return "windows" in f"{image.publisher or ''} {image.offer or ''}".lower()


def _is_custom_image(spec: BatchPoolSpec) -> bool:
    vmc = _vm_configuration(spec)
    if vmc is None:
        return False
    image = vmc.image_reference
    return bool(image.id or image.shared_gallery_image_id or image.community_gallery_image_id)


def _pool_name_findings(spec: BatchPoolSpec, metadata_name: str) -> list[Finding]:
    if spec.pool_name is not None or _POOL_NAME.match(metadata_name):
        return []
    return [
        _error(
            "metadata.name",
            f"{metadata_name!r} cannot be an Azure pool name ({POOL_NAME_RULES}): "
            "set spec.poolName to a valid name",
        )
    ]


def _vm_configuration_required(spec: BatchPoolSpec) -> list[Finding]:
    if _vm_configuration(spec) is None:
        return [_error("spec.deploymentConfiguration.virtualMachineConfiguration", VM_CONFIGURATION_MESSAGE)]
    return []


def _managed_image(spec: BatchPoolSpec) -> list[Finding]:
    vmc = _vm_configuration(spec)
    if vmc and vmc.image_reference.id and _MANAGED_IMAGE.search(vmc.image_reference.id):
        return [_error(f"{_VMC}.imageReference.id", MANAGED_IMAGE_MESSAGE)]
    return []


def _custom_image_size(spec: BatchPoolSpec) -> list[Finding]:
    fixed = spec.scale_settings.fixed_scale if spec.scale_settings else None
    if fixed is None or not _is_custom_image(spec):
        return []
    findings = []
    path = "spec.scaleSettings.fixedScale"
    if (fixed.target_dedicated_nodes or 0) > MAX_CUSTOM_IMAGE_DEDICATED:
        findings.append(
            _error(
                f"{path}.targetDedicatedNodes",
                f"pools from a custom image hold at most {MAX_CUSTOM_IMAGE_DEDICATED} dedicated nodes: "
                "lower the target or split the work across pools, each with its own image",
            )
        )
    if (fixed.target_low_priority_nodes or 0) > MAX_CUSTOM_IMAGE_LOW_PRIORITY:
        findings.append(
            _error(
                f"{path}.targetLowPriorityNodes",
                f"pools from a custom image hold at most {MAX_CUSTOM_IMAGE_LOW_PRIORITY} Spot/low-priority "
                "nodes: lower the target or split the work across pools, each with its own image",
            )
        )
    return findings


def _resize_timeout(spec: BatchPoolSpec) -> list[Finding]:
    fixed = spec.scale_settings.fixed_scale if spec.scale_settings else None
    if fixed is None:
        return []
    path = "spec.scaleSettings.fixedScale.resizeTimeout"
    timeout = parse_duration(fixed.resize_timeout) if fixed.resize_timeout else None
    if timeout is not None and timeout < MIN_RESIZE_TIMEOUT:
        return [_error(path, f"{fixed.resize_timeout} is below the minimum of 5 minutes: use at least PT5M")]
    if _is_custom_image(spec) and (timeout or DEFAULT_RESIZE_TIMEOUT) < CUSTOM_IMAGE_RESIZE_TIMEOUT:
        written = fixed.resize_timeout or "not set (Batch uses 15 minutes)"
        return [
            _warning(
                path,
                f"{written}: custom-image pools with a fixed size take longer to allocate; "
                "set resizeTimeout to PT20M-PT30M (and resize again if the target is not reached)",
            )
        ]
    return []


def _evaluation_interval(spec: BatchPoolSpec) -> list[Finding]:
    auto = spec.scale_settings.auto_scale if spec.scale_settings else None
    if auto is None or auto.evaluation_interval is None:
        return []
    interval = parse_duration(auto.evaluation_interval)
    if MIN_EVALUATION_INTERVAL <= interval <= MAX_EVALUATION_INTERVAL:
        return []
    return [
        _error(
            "spec.scaleSettings.autoScale.evaluationInterval",
            f"{auto.evaluation_interval} is outside 5 minutes to 168 hours: use e.g. PT5M or PT15M",
        )
    ]


def _reserved_extension_type(spec: BatchPoolSpec) -> list[Finding]:
    return [
        _error(f"{path}.type", CUSTOM_SCRIPT_MESSAGE)
        for path, extension in _extensions(spec)
        if extension.type.lower() == "customscript"
    ]


def _extension_names(spec: BatchPoolSpec) -> list[Finding]:
    findings = []
    seen: set[str] = set()
    extensions = list(_extensions(spec))
    names = {extension.name for _, extension in extensions}
    for path, extension in extensions:
        if extension.name in seen:
            findings.append(
                _error(
                    f"{path}.name", f"extension name {extension.name!r} is used twice: names must be unique"
                )
            )
        seen.add(extension.name)
        for index, other in enumerate(extension.provision_after_extensions or []):
            if other == extension.name:
                findings.append(
                    _error(
                        f"{path}.provisionAfterExtensions[{index}]",
                        "an extension cannot wait for itself: remove its own name",
                    )
                )
            elif other not in names:
                findings.append(
                    _error(
                        f"{path}.provisionAfterExtensions[{index}]",
                        f"no extension {other!r} in this pool: name one of {sorted(names)} or remove it",
                    )
                )
    return findings


def _key_vault_identity(spec: BatchPoolSpec) -> list[Finding]:
    identity = spec.identity
    if identity is not None and identity.type == "UserAssigned" and identity.user_assigned_identities:
        return []
    return [
        _warning(
            path,
            f"{extension.type} reads secrets with a pool managed identity, but the pool has none: add "
            "spec.identity {type: UserAssigned, userAssignedIdentities: {<identity resource id>: {}}} "
            "and set "
            "settings.authenticationSettings.msiClientId to its client id",
        )
        for path, extension in _extensions(spec)
        if extension.type.lower() in KEY_VAULT_EXTENSIONS
    ]


def _extension_os(spec: BatchPoolSpec) -> list[Finding]:
    vmc = _vm_configuration(spec)
    if vmc is None:
        return []
    node_os = "windows" if _is_windows(vmc) else "linux"
    findings = []
    for path, extension in _extensions(spec):
        made_for = OS_SPECIFIC_EXTENSIONS.get(extension.type.lower())
        if made_for and made_for[0] != node_os:
            findings.append(
                _error(
                    f"{path}.type",
                    f"{extension.type} runs only on {made_for[0].capitalize()} but the image is "
                    f"{node_os.capitalize()} (nodeAgentSkuId {vmc.node_agent_sku_id!r}); the VM agent "
                    f"fails it with error 51 'OS not supported': use {made_for[1]}",
                )
            )
    return findings


def _health_port(spec: BatchPoolSpec) -> list[Finding]:
    findings = []
    for path, extension in _extensions(spec):
        if extension.type.lower() not in APPLICATION_HEALTH_EXTENSIONS:
            continue
        port = (extension.settings or {}).get("port")
        if str(port).strip() == str(NODE_AGENT_HEALTH_PORT):
            findings.append(
                _error(
                    f"{path}.settings.port",
                    f"port {NODE_AGENT_HEALTH_PORT} belongs to the Batch node agent's own health server: "
                    "serve your health endpoint on another port (it may query the agent on 29879 and "
                    "combine both results)",
                )
            )
    return findings


def _auto_upgrade(spec: BatchPoolSpec) -> list[Finding]:
    return [
        _warning(
            f"{path}.autoUpgradeMinorVersion",
            "false keeps the extension on its first minor version without fixes: set it to true",
        )
        for path, extension in _extensions(spec)
        if extension.auto_upgrade_minor_version is False
    ]


def _reserved_metadata(spec: BatchPoolSpec) -> list[Finding]:
    return [
        _error(f"spec.metadata[{index}].name", RESERVED_METADATA_MESSAGE)
        for index, item in enumerate(spec.metadata or [])
        if item.name.startswith(RESERVED_METADATA_PREFIX)
    ]


def _start_task_user(spec: BatchPoolSpec) -> list[Finding]:
    identity = spec.start_task.user_identity if spec.start_task else None
    if identity is None:
        return []
    path = "spec.startTask.userIdentity"
    if identity.user_name is not None and identity.auto_user is not None:
        return [_error(path, "set userName or autoUser, not both")]
    accounts = [account.name for account in spec.user_accounts or []]
    if identity.user_name is not None and identity.user_name not in accounts:
        return [
            _error(
                f"{path}.userName",
                f"no user account {identity.user_name!r} in spec.userAccounts: add it there or use autoUser",
            )
        ]
    return []


def _mounts(spec: BatchPoolSpec) -> list[Finding]:
    findings = []
    for index, mount in enumerate(spec.mount_configuration or []):
        path = f"spec.mountConfiguration[{index}]"
        kinds = [name for name, value in mount if value is not None]
        if len(kinds) != 1:
            findings.append(
                _error(
                    path,
                    "set exactly one of azureBlobFileSystemConfiguration, nfsMountConfiguration, "
                    "cifsMountConfiguration, azureFileShareConfiguration per entry",
                )
            )
        blob = mount.azure_blob_file_system_configuration
        if blob is not None:
            credentials = [blob.account_key, blob.sas_key, blob.identity_reference]
            if sum(credential is not None for credential in credentials) != 1:
                findings.append(
                    _error(
                        f"{path}.azureBlobFileSystemConfiguration",
                        "set exactly one of accountKey, sasKey or identityReference",
                    )
                )
    return findings


def _unique(values: Sequence[tuple[str, Any]], what: str) -> list[Finding]:
    """An error at the second and later uses of a value that must be unique in the pool."""
    findings, seen = [], set()
    for path, value in values:
        key = value.lower() if isinstance(value, str) else value
        if key in seen:
            findings.append(_error(path, f"{what} {value!r} is used twice: it must be unique in the pool"))
        seen.add(key)
    return findings


def _data_disks(spec: BatchPoolSpec) -> list[Finding]:
    vmc = _vm_configuration(spec)
    disks = (vmc.data_disks if vmc else None) or []
    return _unique([(f"{_VMC}.dataDisks[{i}].lun", disk.lun) for i, disk in enumerate(disks)], "lun")


def _user_accounts(spec: BatchPoolSpec) -> list[Finding]:
    accounts = spec.user_accounts or []
    return _unique([(f"spec.userAccounts[{i}].name", a.name) for i, a in enumerate(accounts)], "user name")


def _inbound_nat_pools(spec: BatchPoolSpec) -> list[Finding]:
    network = spec.network_configuration
    endpoints = network.endpoint_configuration if network else None
    nat_pools = endpoints.inbound_nat_pools if endpoints else []
    base = "spec.networkConfiguration.endpointConfiguration.inboundNatPools"
    findings = _unique([(f"{base}[{i}].name", nat.name) for i, nat in enumerate(nat_pools)], "endpoint name")
    findings += _unique(
        [(f"{base}[{i}].backendPort", nat.backend_port) for i, nat in enumerate(nat_pools)], "backendPort"
    )
    for i, nat in enumerate(nat_pools):
        for j, other in enumerate(nat_pools[:i]):
            if nat.frontend_port_range_start <= other.frontend_port_range_end and (
                other.frontend_port_range_start <= nat.frontend_port_range_end
            ):
                findings.append(
                    _error(
                        f"{base}[{i}].frontendPortRangeStart",
                        f"the frontend port range overlaps the one of {base}[{j}]: ranges must be distinct",
                    )
                )
    rules = [
        (f"{base}[{i}].networkSecurityGroupRules[{k}].priority", rule.priority)
        for i, nat in enumerate(nat_pools)
        for k, rule in enumerate(nat.network_security_group_rules or [])
    ]
    findings += _unique(rules, "network security group rule priority")
    if len(rules) > MAX_NETWORK_SECURITY_GROUP_RULES:
        findings.append(
            _error(
                base,
                f"{len(rules)} network security group rules: a pool takes at most "
                f"{MAX_NETWORK_SECURITY_GROUP_RULES} over all its inbound NAT pools",
            )
        )
    return findings


def _automatic_updates(spec: BatchPoolSpec) -> list[Finding]:
    vmc = _vm_configuration(spec)
    upgrade = spec.upgrade_policy
    automatic = upgrade.automatic_os_upgrade_policy if upgrade else None
    if not (automatic and automatic.enable_automatic_os_upgrade and vmc and _is_windows(vmc)):
        return []
    windows = vmc.windows_configuration
    if (windows.enable_automatic_updates if windows else None) is not False:  # unset: Batch's default, true
        return [
            _error(
                f"{_VMC}.windowsConfiguration.enableAutomaticUpdates",
                "must be false when upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade is true "
                "(its default is true): set it to false, or turn automatic OS upgrades off",
            )
        ]
    return []


_SPEC_RULES = (
    _vm_configuration_required,
    _managed_image,
    _custom_image_size,
    _resize_timeout,
    _evaluation_interval,
    _reserved_extension_type,
    _extension_names,
    _key_vault_identity,
    _extension_os,
    _health_port,
    _auto_upgrade,
    _reserved_metadata,
    _start_task_user,
    _mounts,
    _data_disks,
    _user_accounts,
    _inbound_nat_pools,
    _automatic_updates,
)


# ------------------------------------------------------------------------------ schema errors as findings


def schema_findings(error: ValidationError, *, root: type[BaseModel]) -> list[Finding]:
    """pydantic's errors as findings: the field path in manifest spelling and a message that says the fix."""
    return [_schema_finding(detail, root) for detail in error.errors(include_url=False, include_input=True)]


def _schema_finding(detail: Mapping[str, Any], root: type[BaseModel]) -> Finding:
    loc = tuple(detail["loc"])
    path = format_path(loc)
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    if kind == "missing":
        return _error(path, "is required: add it")
    if kind == "extra_forbidden":
        return _error(path, _unknown_field_message(loc, root))
    if kind == "string_pattern_mismatch":
        rule = _PATTERN_RULES.get(ctx.get("pattern", ""), f"it must match {ctx.get('pattern')}")
        return _error(path, f"{_show(detail.get('input'))} is not valid: {rule}")
    if kind == "value_error":
        return _error(path, str(ctx.get("error", detail["msg"])))
    if kind == "literal_error":
        return _error(path, f"{_show(detail.get('input'))} is not allowed: use {ctx.get('expected')}")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        got = type(detail.get("input")).__name__
        return _error(
            path, f"{detail['msg'].lower()} (got a {_YAML_TYPES.get(got, got)}): fix the value's type"
        )
    return _error(path, f"{detail['msg']}: fix the value")


_YAML_TYPES = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "dict": "mapping",
    "list": "list",
    "NoneType": "null",
}


def _show(value: Any) -> str:
    """A short rendering of a rejected value (only used for fields that are never secret)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_path(loc: Sequence[int | str]) -> str:
    """('spec', 'userAccounts', 0, 'password') -> 'spec.userAccounts[0].password'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def _unknown_field_message(loc: Sequence[int | str], root: type[BaseModel]) -> str:
    name = str(loc[-1])
    parent = _model_at(root, loc[:-1])
    if parent is None:
        return "unknown field: remove it"
    known = [field.alias or key for key, field in parent.model_fields.items()]
    if not known:
        return f"unknown field {name!r}: this must be an empty object {{}}"
    close = [candidate for candidate in known if candidate.lower() == name.lower()]
    close = close or difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown field {name!r}: did you mean {close[0]!r}? (names are the camelCase ARM names)"
    return f"unknown field {name!r}: remove it or use one of {', '.join(sorted(known))}"


def _model_at(root: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class at a location of the manifest, following field aliases, lists and maps."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if _is_container(current):  # the part is a list index or a map key
            current = _element_type(current)
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        fields = {field.alias or key: field for key, field in current.model_fields.items()}
        if part not in fields:
            return None
        current = fields[str(part)].annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional and Annotated: `Annotated[X, ...] | None` -> X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _is_container(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (list, dict)


def _element_type(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    return args[-1] if args else None
