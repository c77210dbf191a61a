"""The BatchPool CustomResourceDefinition, generated from the pydantic models (pure).

pydantic writes JSON Schema 2020-12; a CRD needs a *structural* OpenAPI v3 schema: everything inline (no
`$ref`), a `type` on every node, optional fields simply not required (no `anyOf` with null),
`additionalProperties` only for maps, free-form content only where Azure is free-form (extension
`settings`, marked `x-kubernetes-preserve-unknown-fields`). `structural_schema()` does that translation and
refuses any construct it cannot translate faithfully, so a new model field can never produce a CRD a real
API server rejects without a test noticing.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from azbatch_operator.models import (
    API_VERSION,
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    BatchPoolSpec,
    BatchPoolStatus,
)

CRD_NAME = f"{PLURAL}.{GROUP}"
CRD_FILE_NAME = f"{CRD_NAME}.yaml"
# The generated file and its copies: the Helm chart's, and the kustomize base's.
CRD_FILES = (
    f"crds/{CRD_FILE_NAME}",
    f"helm/azbatch-operator/crds/{CRD_FILE_NAME}",
    f"deploy/kustomize/base/{CRD_FILE_NAME}",
)
REGENERATE_HINT = " && ".join(
    ["azbatch-operator crd > " + CRD_FILES[0], *(f"cp {CRD_FILES[0]} {copy}" for copy in CRD_FILES[1:])]
)

POOL_NAME_IMMUTABLE_RULE = (
    "(has(self.spec.poolName) ? self.spec.poolName : self.metadata.name) == "
    "(has(oldSelf.spec.poolName) ? oldSelf.spec.poolName : oldSelf.metadata.name)"
)
POOL_NAME_IMMUTABLE_MESSAGE = (
    "the Azure pool name (spec.poolName, default metadata.name) is immutable: "
    "create a new BatchPool to use another pool"
)
# Once the pool exists (the status shows it), its account is fixed: a BatchPool moved to another
# account would leave its pool behind in the old one, running (or half drained) and never looked
# at again. Before that (a typo in the account, the pool never made) it may be corrected.
ACCOUNT_FIXED_RULE = (
    "self.spec.account == oldSelf.spec.account || !has(oldSelf.status) || !has(oldSelf.status.pool)"
)
ACCOUNT_FIXED_MESSAGE = (
    "spec.account cannot change once its pool exists (status.pool): the pool would be left behind in "
    "the old account. To move it, create a BatchPool for the new account and delete this one (its "
    "deletionPolicy applies to the old pool)"
)

# JSON Schema keywords copied as they are; anything not handled below is an error.
_PASSTHROUGH = {
    "type",
    "description",
    "required",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "default",
}
_DROPPED = {"title", "examples"}


class SchemaTranslationError(ValueError):
    """A model construct has no structural OpenAPI v3 equivalent; change the model, not the generator."""


def structural_schema(model: type[BaseModel], *, keep_defaults: bool = True) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of a model (aliases as property names, all definitions inlined)."""
    source = model.model_json_schema(by_alias=True, mode="validation")
    definitions = source.pop("$defs", {})
    return _translate(source, definitions, keep_defaults=keep_defaults, path=model.__name__)


def _resolve(node: dict[str, Any], definitions: dict[str, Any], path: str) -> dict[str, Any]:
    """Merge `$ref`, single-element `allOf` and nullable `anyOf` into one plain node; the node's keys win."""
    node = dict(node)
    if "$ref" in node:
        target = definitions[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**_resolve(target, definitions, path), **node}
    if "allOf" in node:
        parts = node.pop("allOf")
        if len(parts) != 1:
            raise SchemaTranslationError(f"{path}: allOf with {len(parts)} parts has no structural form")
        node = {**_resolve(parts[0], definitions, path), **node}
    if "anyOf" in node:
        options = [option for option in node.pop("anyOf") if option != {"type": "null"}]
        if len(options) != 1:
            raise SchemaTranslationError(f"{path}: a union of {len(options)} types has no structural form")
        node = {**_resolve(options[0], definitions, path), **node}
    return node


def _translate(
    raw: dict[str, Any], definitions: dict[str, Any], *, keep_defaults: bool, path: str
) -> dict[str, Any]:
    node = _resolve(raw, definitions, path)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("default", 0) is None or (not keep_defaults and "default" in node):
        node.pop("default")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _PASSTHROUGH or key.startswith("x-kubernetes-"):
            out[key] = value
        elif key == "properties":
            out["properties"] = {
                name: _translate(child, definitions, keep_defaults=keep_defaults, path=f"{path}.{name}")
                for name, child in value.items()
            }
        elif key == "items":
            out["items"] = _translate(value, definitions, keep_defaults=keep_defaults, path=f"{path}[]")
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out["additionalProperties"] = _translate(
                    value, definitions, keep_defaults=keep_defaults, path=f"{path}{{}}"
                )
            # `false` (extra="forbid") is the structural default: unknown fields are not declared.
        elif key not in _DROPPED:
            raise SchemaTranslationError(f"{path}: JSON Schema keyword {key!r} has no structural form")
    if "type" not in out:
        raise SchemaTranslationError(f"{path}: no type (structural schemas need one on every node)")
    return out


def printer_columns() -> list[dict[str, Any]]:
    """`kubectl get bp` columns, read from the status paths the models define."""

    def condition(condition_type: str) -> str:
        return f'.status.conditions[?(@.type=="{condition_type}")].status'

    return [
        {"name": "Ready", "type": "string", "jsonPath": condition("Ready")},
        {"name": "VM Size", "type": "string", "jsonPath": ".spec.vmSize"},
        {"name": "Nodes", "type": "integer", "jsonPath": ".status.pool.currentDedicatedNodes"},
        {"name": "Target", "type": "integer", "jsonPath": ".status.pool.targetDedicatedNodes"},
        {
            "name": "Spot",
            "type": "integer",
            "priority": 1,
            "jsonPath": ".status.pool.currentLowPriorityNodes",
        },
        {
            "name": "Spot Target",
            "type": "integer",
            "priority": 1,
            "jsonPath": ".status.pool.targetLowPriorityNodes",
        },
        {"name": "Nodes Healthy", "type": "string", "jsonPath": condition("NodesHealthy")},
        {"name": "Extensions", "type": "string", "jsonPath": condition("ExtensionsHealthy")},
        {
            "name": "Reason",
            "type": "string",
            "priority": 1,
            "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def resource_schema() -> dict[str, Any]:
    """The openAPIV3Schema of a whole BatchPool: apiVersion, kind, metadata, spec, status."""
    return {
        "type": "object",
        "description": (
            "A BatchPool keeps one Azure Batch pool equal to its spec (the ARM pool request body) and "
            "reports "
            "what the pool and its extensions are doing in its status."
        ),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": f"{API_VERSION}"},
            "kind": {"type": "string", "description": KIND},
            "metadata": {"type": "object"},
            "spec": structural_schema(BatchPoolSpec),
            "status": structural_schema(BatchPoolStatus, keep_defaults=False),
        },
        "x-kubernetes-validations": [
            {
                "rule": POOL_NAME_IMMUTABLE_RULE,
                "message": POOL_NAME_IMMUTABLE_MESSAGE,
                "reason": "FieldValueForbidden",
                "fieldPath": ".spec.poolName",
            },
            {
                "rule": ACCOUNT_FIXED_RULE,
                "message": ACCOUNT_FIXED_MESSAGE,
                "reason": "FieldValueForbidden",
                "fieldPath": ".spec.account",
            },
        ],
    }


def build_crd() -> dict[str, Any]:
    """The CustomResourceDefinition document (apiextensions.k8s.io/v1) for BatchPool."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": ["azbatch"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": printer_columns(),
                    "schema": {"openAPIV3Schema": resource_schema()},
                }
            ],
        },
    }


def render_crd_yaml() -> str:
    """The CRD as the YAML file kept in crds/ and the Helm chart (a header says how it is made)."""
    header = (
        "# Generated from the pydantic models by `azbatch-operator crd`; do not edit.\n"
        f"# Regenerate: {REGENERATE_HINT}\n"
    )
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=100, allow_unicode=True)
