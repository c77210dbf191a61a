"""A checker for the Kubernetes structural-schema rules (apiextensions.k8s.io/v1) a CRD must follow.

It follows the rules kube-apiserver enforces when a CRD is created (k8s.io/apiextensions-apiserver
validation): a `type` on every node, no references or unions, `properties` and `additionalProperties`
exclusive, `items` on every array, `metadata` limited to `type: object`, list-map keys required, defaults
that fit their schema, and our own stricter policy: descriptions on every property and preserve-unknown-fields
only at the allowed paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import re2

TYPES = {"object", "array", "string", "integer", "number", "boolean"}
ALLOWED_KEYWORDS = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "default",
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
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
}
PYTHON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path (.spec.x, [] for items, {} for map values)."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def violations(root: dict[str, Any], *, preserve_unknown_allowed: set[str]) -> list[str]:
    problems = []
    for path, node in walk(root):
        where = path or "<root>"
        problems += [
            f"{where}: keyword {key!r} is not allowed" for key in node if key not in ALLOWED_KEYWORDS
        ]
        problems += _node_violations(where, path, node, preserve_unknown_allowed)
    metadata = root.get("properties", {}).get("metadata")
    if metadata != {"type": "object"}:
        problems.append(f".metadata: must be exactly {{type: object}}, got {metadata}")
    return problems


def _node_violations(where: str, path: str, node: dict[str, Any], allowed: set[str]) -> list[str]:
    problems = []
    kind = node.get("type")
    if kind not in TYPES:
        problems.append(f"{where}: type {kind!r} missing or unknown")
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{where}: properties and additionalProperties are mutually exclusive")
    if "additionalProperties" in node and not isinstance(node["additionalProperties"], dict):
        problems.append(f"{where}: additionalProperties must be a schema (maps only)")
    if kind == "array" and not isinstance(node.get("items"), dict):
        problems.append(f"{where}: array without items")
    if kind != "object" and {"properties", "additionalProperties", "required"} & set(node):
        problems.append(f"{where}: object keywords on a {kind}")
    missing = set(node.get("required", [])) - set(node.get("properties", {}))
    if missing:
        problems.append(f"{where}: required fields {sorted(missing)} are not declared")
    if node.get("x-kubernetes-preserve-unknown-fields") and path not in allowed:
        problems.append(f"{where}: x-kubernetes-preserve-unknown-fields outside the allowed paths")
    if node.get("x-kubernetes-list-type") == "map":
        keys = set(node.get("x-kubernetes-list-map-keys", []))
        if not keys or not keys <= set(node["items"].get("required", [])):
            problems.append(f"{where}: list-map keys must be required fields of the items")
    if "pattern" in node:
        try:
            re2.compile(node["pattern"])
        except re2.error as error:
            problems.append(f"{where}: pattern is not RE2: {error}")
    if "default" in node:
        problems += _default_violations(where, path, node)
    return problems


def _default_violations(where: str, path: str, node: dict[str, Any]) -> list[str]:
    default = node["default"]
    problems = []
    if not path.startswith(".spec"):
        problems.append(f"{where}: defaults belong in spec only")
    expected = PYTHON_TYPES.get(node.get("type", ""), object)
    if not isinstance(default, expected) or (node.get("type") == "integer" and isinstance(default, bool)):
        problems.append(f"{where}: default {default!r} is not a {node.get('type')}")
    if "enum" in node and default not in node["enum"]:
        problems.append(f"{where}: default {default!r} is not one of the enum values")
    if "pattern" in node and not re2.search(node["pattern"], default):
        problems.append(f"{where}: default {default!r} does not match the pattern")
    return problems
