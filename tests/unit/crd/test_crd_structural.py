"""The generated CRD is one a kube-apiserver 1.30+ accepts: names, subresources, structural schema."""

from __future__ import annotations

import re
from typing import Any

import pytest
import structural
from pydantic import BaseModel, Field

from azbatch_operator.crd import SchemaTranslationError, structural_schema

SETTINGS = ".spec.deploymentConfiguration.virtualMachineConfiguration.extensions[].settings"


def _secret_refs(schema: dict[str, Any]) -> set[str]:
    """Secret fields keep unknown fields, so an inline value reaches the rule that names the fix."""
    return {
        path for path, node in structural.walk(schema) if set(node.get("properties", {})) == {"secretKeyRef"}
    }


def test_names_scope_and_version(crd: dict[str, Any]) -> None:
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "batchpools.azbatch.dev"
    assert spec["group"] == "azbatch.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "BatchPool",
        "listKind": "BatchPoolList",
        "plural": "batchpools",
        "singular": "batchpool",
        "shortNames": ["bp"],
        "categories": ["azbatch"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}


def test_the_schema_is_structural(schema: dict[str, Any]) -> None:
    assert structural.violations(schema, preserve_unknown_allowed={SETTINGS, *_secret_refs(schema)}) == []


def test_only_extension_settings_are_free_form(schema: dict[str, Any]) -> None:
    free_form = [
        path
        for path, node in structural.walk(schema)
        if node.get("x-kubernetes-preserve-unknown-fields") and not node.get("properties")
    ]
    assert free_form == [SETTINGS]
    kept_unknown = {p for p, n in structural.walk(schema) if n.get("x-kubernetes-preserve-unknown-fields")}
    assert kept_unknown == {SETTINGS, *_secret_refs(schema)}
    assert f"{SETTINGS.rsplit('.', 1)[0]}.protectedSettings" in _secret_refs(schema)
    assert len(_secret_refs(schema)) == 9, "every secret field of docs/spec.md"


def test_every_property_has_a_description(schema: dict[str, Any]) -> None:
    undocumented = [
        path
        for path, node in structural.walk(schema)
        if path.startswith((".spec", ".status")) and not path.endswith("[]") and not node.get("description")
    ]
    assert undocumented == []


def test_every_list_and_every_string_a_rule_reads_is_bounded(schema: dict[str, Any]) -> None:
    unbounded = [
        path
        for path, node in structural.walk(schema)
        if node.get("type") == "array" and "maxItems" not in node
    ]
    assert unbounded == []
    for path, node in structural.walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            for name in set(re.findall(r"self\.(\w+)", rule["rule"])):
                child = node["properties"][name]
                if child["type"] == "string":
                    assert "maxLength" in child or "enum" in child, f"{path}.{name} is read by {rule['rule']}"


def test_no_rule_reads_free_form_content(schema: dict[str, Any]) -> None:
    for path, node in structural.walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            for name in re.findall(r"self\.(\w+)", rule["rule"]):
                child = node.get("properties", {}).get(name, {})
                assert not child.get("x-kubernetes-preserve-unknown-fields"), f"{path}: {rule['rule']}"
        if node.get("x-kubernetes-preserve-unknown-fields"):  # a rule reads declared fields only
            for rule in node.get("x-kubernetes-validations", []):
                names = re.findall(r"self\.(\w+)", rule["rule"])
                assert names and set(names) <= set(node.get("properties", {})), f"{path}: {rule['rule']}"
                assert not re.search(r"self\s*\[|size\(self\)|self\.all|self\.exists", rule["rule"]), path


def test_the_checker_catches_what_a_server_refuses() -> None:
    bad = {
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            "spec": {
                "type": "object",
                "properties": {
                    "a": {"$ref": "#/$defs/A"},
                    "b": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    "c": {"type": "array"},
                    "d": {"type": "object", "properties": {}, "additionalProperties": False},
                    "e": {"type": "string", "enum": ["x"], "default": "y"},
                    "f": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
                "required": ["g"],
            },
        },
    }
    problems = "\n".join(structural.violations(bad, preserve_unknown_allowed=set()))
    for expected in [
        "keyword '$ref'",
        "keyword 'anyOf'",
        ".spec.c: array without items",
        "mutually exclusive",
        "not one of the enum values",
        "preserve-unknown-fields outside",
        "required fields ['g']",
        ".metadata: must be exactly",
    ]:
        assert expected in problems


class _Union(BaseModel):
    value: int | str = Field(description="either")


def test_the_generator_refuses_models_without_a_structural_form() -> None:
    with pytest.raises(SchemaTranslationError, match="union of 2 types"):
        structural_schema(_Union)


def test_rules_use_no_backslash_escapes(schema: dict[str, Any]) -> None:
    """cel-go refuses escapes like '\\.' in string literals (cel-python is lenient): write [.] instead."""
    for path, node in structural.walk(schema):
        for rule in node.get("x-kubernetes-validations", []):
            assert "\\" not in rule["rule"], f"{path}: {rule['rule']}"
