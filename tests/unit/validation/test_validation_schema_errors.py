"""Schema errors become findings with the manifest's field path and a human fix; nothing ever raises."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from manifest_edits import DELETE, VMC, edit, load_example

from azbatch_operator.validation import Finding, format_path, has_errors, validate_manifest


def schema_findings(manifest: dict[str, Any]) -> list[Finding]:
    model, findings = validate_manifest(manifest)
    assert model is None
    assert has_errors(findings)
    return findings


def one(manifest: dict[str, Any], path: str) -> Finding:
    (finding,) = [finding for finding in schema_findings(manifest) if finding.path == path]
    assert finding.severity == "error"
    return finding


def test_unknown_fields_suggest_the_arm_name(manifest: dict[str, Any]) -> None:
    edit(manifest, "spec.vmsize", "STANDARD_D2S_V3")
    finding = one(manifest, "spec.vmsize")
    assert (
        finding.message
        == "unknown field 'vmsize': did you mean 'vmSize'? (names are the camelCase ARM names)"
    )


def test_unknown_fields_deep_in_lists_name_their_place(manifest: dict[str, Any]) -> None:
    edit(manifest, f"{VMC}.extensions.0.protectedSetting", {"secretKeyRef": {"name": "a", "key": "b"}})
    finding = one(manifest, f"{VMC}.extensions[0].protectedSetting")
    assert "did you mean 'protectedSettings'?" in finding.message


def test_unknown_fields_without_a_close_name_list_the_known_ones(manifest: dict[str, Any]) -> None:
    edit(manifest, "spec.policy", {"colour": "blue"})
    assert (
        "use one of adopt, deletionPolicy, drain, reconcile, remediation, updateStrategy"
        in one(manifest, "spec.policy.colour").message
    )


def test_identity_map_values_must_be_empty(manifest: dict[str, Any]) -> None:
    identity = {"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/x/id": {"clientId": "c"}}}
    edit(manifest, "spec.identity", identity)
    finding = one(manifest, "spec.identity.userAssignedIdentities['/subscriptions/x/id'].clientId")
    assert "must be an empty object" in finding.message


def test_missing_required_fields(manifest: dict[str, Any]) -> None:
    edit(manifest, "spec.vmSize", DELETE)
    edit(manifest, f"{VMC}.extensions.0.publisher", DELETE)
    paths = {finding.path: finding.message for finding in schema_findings(manifest)}
    assert paths == {
        "spec.vmSize": "is required: add it",
        f"{VMC}.extensions[0].publisher": "is required: add it",
    }


def test_wrong_types_say_what_was_given(manifest: dict[str, Any]) -> None:
    edit(manifest, "spec.scaleSettings.fixedScale.targetDedicatedNodes", "3")
    edit(manifest, f"{VMC}.extensions.0.autoUpgradeMinorVersion", "yes")
    finding = one(manifest, "spec.scaleSettings.fixedScale.targetDedicatedNodes")
    assert finding.message == "input should be a valid integer (got a string): fix the value's type"
    assert (
        "valid boolean (got a string)"
        in one(manifest, f"{VMC}.extensions[0].autoUpgradeMinorVersion").message
    )


def test_enum_values_list_the_allowed_ones(manifest: dict[str, Any]) -> None:
    edit(manifest, "spec.taskSchedulingPolicy.nodeFillType", "pack")
    assert one(manifest, "spec.taskSchedulingPolicy.nodeFillType").message == (
        "'pack' is not allowed: use 'Spread' or 'Pack'"
    )


def test_patterns_are_explained_in_words(manifest: dict[str, Any]) -> None:
    edit(manifest, "spec.account.accountName", "My_Account")
    edit(manifest, "spec.scaleSettings.fixedScale.resizeTimeout", "15 minutes")
    assert "3 to 24 lowercase letters and digits" in one(manifest, "spec.account.accountName").message
    assert "PT15M" in one(manifest, "spec.scaleSettings.fixedScale.resizeTimeout").message


def test_both_or_neither_scale_settings(manifest: dict[str, Any]) -> None:
    edit(manifest, "spec.scaleSettings", {})
    assert one(manifest, "spec.scaleSettings").message == (
        "set exactly one of scaleSettings.fixedScale or scaleSettings.autoScale"
    )


def test_kind_and_api_version_are_checked_first() -> None:
    model, findings = validate_manifest({"apiVersion": "azbatch.dev/v1", "kind": "Pool", "spec": {}})
    assert model is None
    assert [(finding.path, finding.message) for finding in findings] == [
        ("kind", "must be 'BatchPool', got 'Pool'"),
        ("apiVersion", "must be 'azbatch.dev/v1alpha1', got 'azbatch.dev/v1'"),
    ]


def test_a_document_that_is_not_a_mapping() -> None:
    model, findings = validate_manifest(["not", "a", "mapping"])
    assert model is None
    assert "must be a mapping" in findings[0].message


def test_inline_secrets_are_refused_and_never_echoed(manifest: dict[str, Any]) -> None:
    secret = "TOPSECRET-hunter2"
    edit(manifest, "spec.userAccounts", [{"name": "u", "password": secret}])
    edit(manifest, f"{VMC}.extensions.0.protectedSettings", {"commandToExecute": secret})
    edit(
        manifest,
        "spec.mountConfiguration",
        [{"nfsMountConfiguration": {"source": 1, "relativeMountPath": secret}}],
    )
    findings = schema_findings(manifest)
    assert {finding.path for finding in findings} >= {
        "spec.userAccounts[0].password",
        f"{VMC}.extensions[0].protectedSettings",
    }
    assert all("Kubernetes Secret" in finding.message for finding in findings if "password" in finding.path)
    assert not any(secret in str(finding) for finding in findings)


def test_format_path() -> None:
    assert format_path(("spec", "userAccounts", 0, "password")) == "spec.userAccounts[0].password"
    assert format_path(("spec", "identity", "userAssignedIdentities", "/x/y", "a")) == (
        "spec.identity.userAssignedIdentities['/x/y'].a"
    )


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


BASE = load_example("autoscale")
PATHS = _paths(BASE)


def _check_outcome(document: Any) -> None:
    model, findings = validate_manifest(document)
    assert all(isinstance(finding, Finding) and finding.message for finding in findings)
    assert all(isinstance(finding.path, str) for finding in findings)
    if model is None:
        assert has_errors(findings)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_single_value_change_gives_findings_not_a_traceback(path: tuple[Any, ...], value: Any) -> None:
    document = load_example("autoscale")
    node: Any = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    _check_outcome(document)


@settings(max_examples=100, deadline=None)
@given(document=JSON)
def test_any_document_gives_findings_not_a_traceback(document: Any) -> None:
    _check_outcome(document)
    _check_outcome(
        {"apiVersion": "azbatch.dev/v1alpha1", "kind": "BatchPool", "metadata": document, "spec": document}
    )


def test_read_only_mappings_as_kopf_passes_them_are_accepted() -> None:
    def frozen(value: Any) -> Any:
        if isinstance(value, dict):
            return MappingProxyType({key: frozen(item) for key, item in value.items()})
        if isinstance(value, list):
            return tuple(frozen(item) for item in value)
        return value

    model, findings = validate_manifest(frozen(load_example("autoscale")))
    assert model is not None and findings == []
