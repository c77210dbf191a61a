"""Each rule the seeds state: a manifest that breaks it gets a finding with the field and the fix; one that
keeps it gets none."""

from __future__ import annotations

from typing import Any

import pytest
from manifest_edits import DELETE, VMC, edit, load_example

from azbatch_operator.models import BatchPool
from azbatch_operator.validation import Finding, has_errors, validate, validate_manifest

EXT0 = f"{VMC}.extensions[0]"
GALLERY = (
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/def/versions/1.0.0"
)
MANAGED = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/my-image"
HEALTH = {
    "name": "health",
    "type": "ApplicationHealthLinux",
    "publisher": "Microsoft.ManagedServices",
    "typeHandlerVersion": "2.0",
    "autoUpgradeMinorVersion": True,
    "settings": {"protocol": "http", "port": 8080, "requestPath": "/health"},
}


def findings_for(manifest: dict[str, Any], *edits: tuple[str, Any]) -> list[Finding]:
    for dotted, value in edits:
        edit(manifest, dotted, value)
    model, findings = validate_manifest(manifest)
    assert model is not None, findings  # these are rule findings, not schema errors
    return findings


def at(findings: list[Finding], path: str) -> list[Finding]:
    return [finding for finding in findings if finding.path == path]


@pytest.mark.parametrize("stem", ["keyvault-linux", "keyvault-windows", "gallery-image", "autoscale"])
def test_the_examples_have_no_findings(stem: str) -> None:
    model, findings = validate_manifest(load_example(stem))
    assert model is not None
    assert findings == []


def test_validate_takes_a_spec_or_a_resource(manifest: dict[str, Any]) -> None:
    edit(
        manifest, "spec.deploymentConfiguration.virtualMachineConfiguration.extensions.0.type", "CustomScript"
    )
    pool = BatchPool.model_validate(manifest)
    assert validate(pool.spec) == validate(pool)
    assert validate(pool)[0].path == f"{EXT0}.type"


def test_virtual_machine_configuration_is_required(manifest: dict[str, Any]) -> None:
    for value in ({}, DELETE):
        findings = findings_for(manifest, ("spec.deploymentConfiguration", value))
        (finding,) = at(findings, "spec.deploymentConfiguration.virtualMachineConfiguration")
        assert finding.severity == "error"
        assert "set spec.deploymentConfiguration.virtualMachineConfiguration" in finding.message


@pytest.mark.parametrize("extension_type", ["CustomScript", "customscript"])
def test_custom_script_is_reserved(manifest: dict[str, Any], extension_type: str) -> None:
    findings = findings_for(manifest, (f"{VMC}.extensions.0.type", extension_type))
    (finding,) = at(findings, f"{EXT0}.type")
    assert finding.severity == "error"
    assert "reserved for the Azure Batch service" in finding.message
    assert "startTask" in finding.message


@pytest.mark.parametrize("identity", [DELETE, {"type": "None"}])
def test_key_vault_without_a_pool_identity_is_a_warning(manifest: dict[str, Any], identity: Any) -> None:
    findings = findings_for(manifest, ("spec.identity", identity))
    (finding,) = at(findings, EXT0)
    assert finding.severity == "warning"
    assert "managed identity" in finding.message and "userAssignedIdentities" in finding.message
    assert not has_errors(findings)


@pytest.mark.parametrize("port", [29879, "29879"])
def test_a_health_server_on_the_node_agent_port_is_an_error(manifest: dict[str, Any], port: Any) -> None:
    health = HEALTH | {"settings": HEALTH["settings"] | {"port": port}}
    findings = findings_for(manifest, (f"{VMC}.extensions.1", health))
    (finding,) = at(findings, f"{VMC}.extensions[1].settings.port")
    assert finding.severity == "error"
    assert "another port" in finding.message


def test_a_health_server_on_its_own_port_is_fine(manifest: dict[str, Any]) -> None:
    assert findings_for(manifest, (f"{VMC}.extensions.1", HEALTH)) == []


def test_a_managed_image_is_an_error_naming_the_gallery(manifest: dict[str, Any]) -> None:
    findings = findings_for(manifest, (f"{VMC}.imageReference", {"id": MANAGED}))
    (finding,) = at(findings, f"{VMC}.imageReference.id")
    assert finding.severity == "error"
    assert "2026-03-31" in finding.message and "Azure Compute Gallery" in finding.message


def test_a_gallery_image_is_fine() -> None:
    assert validate_manifest(load_example("gallery-image"))[1] == []


@pytest.mark.parametrize(
    ("field", "limit"), [("targetDedicatedNodes", 2500), ("targetLowPriorityNodes", 1000)]
)
def test_custom_image_pool_size_caps(field: str, limit: int) -> None:
    path = f"spec.scaleSettings.fixedScale.{field}"
    at_limit = findings_for(load_example("gallery-image"), (path, limit))
    assert at(at_limit, path) == []
    (finding,) = at(findings_for(load_example("gallery-image"), (path, limit + 1)), path)
    assert finding.severity == "error"
    assert str(limit) in finding.message


def test_marketplace_pools_have_no_custom_image_cap(manifest: dict[str, Any]) -> None:
    assert findings_for(manifest, ("spec.scaleSettings.fixedScale.targetDedicatedNodes", 3000)) == []


@pytest.mark.parametrize("timeout", ["PT4M", "PT299S", "PT0S"])
def test_resize_timeout_below_five_minutes_is_an_error(manifest: dict[str, Any], timeout: str) -> None:
    findings = findings_for(manifest, ("spec.scaleSettings.fixedScale.resizeTimeout", timeout))
    (finding,) = at(findings, "spec.scaleSettings.fixedScale.resizeTimeout")
    assert finding.severity == "error"
    assert "PT5M" in finding.message


def test_resize_timeout_of_five_minutes_is_fine_for_marketplace_images(manifest: dict[str, Any]) -> None:
    assert findings_for(manifest, ("spec.scaleSettings.fixedScale.resizeTimeout", "PT5M")) == []


@pytest.mark.parametrize("timeout", ["PT15M", "PT19M59S", DELETE])
def test_custom_image_fixed_pools_should_allow_twenty_minutes(timeout: Any) -> None:
    findings = findings_for(
        load_example("gallery-image"), ("spec.scaleSettings.fixedScale.resizeTimeout", timeout)
    )
    (finding,) = at(findings, "spec.scaleSettings.fixedScale.resizeTimeout")
    assert finding.severity == "warning"
    assert "PT20M-PT30M" in finding.message


def test_custom_image_autoscale_pools_have_no_resize_timeout_warning() -> None:
    scale = {"autoScale": {"formula": "$TargetDedicatedNodes = 1;", "evaluationInterval": "PT5M"}}
    assert findings_for(load_example("gallery-image"), ("spec.scaleSettings", scale)) == []


@pytest.mark.parametrize("interval", ["PT4M", "P8D"])
def test_autoscale_evaluation_interval_bounds(interval: str) -> None:
    findings = findings_for(
        load_example("autoscale"), ("spec.scaleSettings.autoScale.evaluationInterval", interval)
    )
    (finding,) = at(findings, "spec.scaleSettings.autoScale.evaluationInterval")
    assert finding.severity == "error"


def test_a_resource_name_that_cannot_be_a_pool_name_needs_spec_pool_name(manifest: dict[str, Any]) -> None:
    findings = findings_for(manifest, ("metadata.name", "kv.linux"), ("spec.poolName", DELETE))
    (finding,) = at(findings, "metadata.name")
    assert finding.severity == "error"
    assert "set spec.poolName" in finding.message
    assert findings_for(manifest, ("spec.poolName", "kv_linux")) == []


@pytest.mark.parametrize("name", ["bad name", "a" * 65, "pool.1", ""])
def test_invalid_pool_names_are_schema_errors(manifest: dict[str, Any], name: str) -> None:
    model, findings = validate_manifest(edit(manifest, "spec.poolName", name))
    assert model is None
    (finding,) = at(findings, "spec.poolName")
    assert "letters, digits, hyphens and underscores" in finding.message or "at most 64" in finding.message


def test_duplicate_extension_names(manifest: dict[str, Any]) -> None:
    findings = findings_for(manifest, (f"{VMC}.extensions.1", HEALTH | {"name": "secretext"}))
    (finding,) = at(findings, f"{VMC}.extensions[1].name")
    assert finding.severity == "error"
    assert "used twice" in finding.message


def test_provision_after_extensions_must_name_extensions_of_the_pool(manifest: dict[str, Any]) -> None:
    findings = findings_for(
        manifest,
        (f"{VMC}.extensions.1", HEALTH | {"provisionAfterExtensions": ["secretext", "missing", "health"]}),
    )
    assert at(findings, f"{VMC}.extensions[1].provisionAfterExtensions[0]") == []
    (unknown,) = at(findings, f"{VMC}.extensions[1].provisionAfterExtensions[1]")
    assert "no extension 'missing'" in unknown.message and "['health', 'secretext']" in unknown.message
    (itself,) = at(findings, f"{VMC}.extensions[1].provisionAfterExtensions[2]")
    assert "cannot wait for itself" in itself.message


def test_key_vault_for_linux_on_a_windows_image_fails_with_error_51() -> None:
    findings = findings_for(
        load_example("keyvault-windows"), (f"{VMC}.extensions.0.type", "KeyVaultForLinux")
    )
    (finding,) = at(findings, f"{EXT0}.type")
    assert finding.severity == "error"
    assert "error 51" in finding.message and "use KeyVaultForWindows" in finding.message


def test_key_vault_for_windows_on_a_linux_image_fails_with_error_51(manifest: dict[str, Any]) -> None:
    findings = findings_for(manifest, (f"{VMC}.extensions.0.type", "KeyVaultForWindows"))
    (finding,) = at(findings, f"{EXT0}.type")
    assert "use KeyVaultForLinux" in finding.message


def test_auto_upgrade_minor_version_false_is_a_warning(manifest: dict[str, Any]) -> None:
    findings = findings_for(manifest, (f"{VMC}.extensions.0.autoUpgradeMinorVersion", False))
    (finding,) = at(findings, f"{EXT0}.autoUpgradeMinorVersion")
    assert finding.severity == "warning"
    assert "set it to true" in finding.message


def test_reserved_metadata_names(manifest: dict[str, Any]) -> None:
    items = [{"name": "team", "value": "a"}, {"name": "azbatch.dev/owner", "value": "x"}]
    findings = findings_for(manifest, ("spec.metadata", items))
    assert [finding.path for finding in findings] == ["spec.metadata[1].name"]
    assert "reserved for the operator" in findings[0].message


def test_start_task_user_must_exist(manifest: dict[str, Any]) -> None:
    findings = findings_for(
        manifest, ("spec.startTask", {"commandLine": "true", "userIdentity": {"userName": "bob"}})
    )
    (finding,) = at(findings, "spec.startTask.userIdentity.userName")
    assert "no user account 'bob'" in finding.message


def test_start_task_user_is_one_of_name_or_auto_user(manifest: dict[str, Any]) -> None:
    identity = {"userName": "bob", "autoUser": {"scope": "Pool"}}
    findings = findings_for(manifest, ("spec.startTask", {"commandLine": "true", "userIdentity": identity}))
    assert at(findings, "spec.startTask.userIdentity")[0].message == "set userName or autoUser, not both"


def test_each_mount_is_exactly_one_kind_with_one_credential(manifest: dict[str, Any]) -> None:
    ref = {"secretKeyRef": {"name": "s", "key": "k"}}
    blob = {
        "accountName": "a",
        "containerName": "c",
        "relativeMountPath": "m",
        "accountKey": ref,
        "sasKey": ref,
    }
    nfs = {"source": "nfs://host/x", "relativeMountPath": "n"}
    mounts = [{"azureBlobFileSystemConfiguration": blob, "nfsMountConfiguration": nfs}]
    findings = findings_for(manifest, ("spec.mountConfiguration", mounts))
    assert (
        "set exactly one of azureBlobFileSystemConfiguration"
        in at(findings, "spec.mountConfiguration[0]")[0].message
    )
    credential = at(findings, "spec.mountConfiguration[0].azureBlobFileSystemConfiguration")
    assert credential[0].message == "set exactly one of accountKey, sasKey or identityReference"
