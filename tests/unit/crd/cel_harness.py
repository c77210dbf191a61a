"""Evaluate a CRD's `x-kubernetes-validations` rules on objects as kube-apiserver does, with cel-python.

The API server prunes fields the schema does not declare, then evaluates each rule with `self` bound to the
value at the rule's node (every element of a list, every value of a map), and binds `oldSelf` on updates when
the old object has a value at the same place (list-map items are matched by key). Transition rules (those
that mention oldSelf) are skipped on create. A rule that fails or cannot be evaluated rejects the object.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from functools import cache
from typing import Any

import celpy


@cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def prune(schema: dict[str, Any], value: Any, *, root: bool = False) -> Any:
    """Drop what the schema does not declare, and nulls (metadata is the API server's and kept as is).

    A node with x-kubernetes-preserve-unknown-fields keeps its undeclared fields as they are; its
    declared ones are pruned like any other."""
    keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if value is None or (keep_unknown and not schema.get("properties")):
        return copy.deepcopy(value)
    if isinstance(value, dict) and schema.get("type") == "object":
        if "additionalProperties" in schema:
            return {key: prune(schema["additionalProperties"], item) for key, item in value.items()}
        properties = schema.get("properties", {})
        return {
            key: (
                copy.deepcopy(item)
                if (root and key == "metadata") or key not in properties
                else prune(properties[key], item)
            )
            for key, item in value.items()
            if (key in properties or keep_unknown) and item is not None  # nulls of non-nullable fields too
        }
    if isinstance(value, list) and schema.get("type") == "array":
        return [prune(schema["items"], item) for item in value]
    return value


def _rule_sites(
    schema: dict[str, Any], new: Any, old: Any, path: str
) -> Iterator[tuple[str, dict[str, Any], Any, Any]]:
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"] and old is None:
            continue
        yield path, rule, new, old
    if isinstance(new, dict):
        for name, child in schema.get("properties", {}).items():
            if name in new:
                previous = old.get(name) if isinstance(old, dict) else None
                yield from _rule_sites(child, new[name], previous, f"{path}.{name}")
        if isinstance(schema.get("additionalProperties"), dict):
            for key, item in new.items():
                previous = old.get(key) if isinstance(old, dict) else None
                yield from _rule_sites(schema["additionalProperties"], item, previous, f"{path}[{key!r}]")
    if isinstance(new, list) and "items" in schema:
        keys = schema.get("x-kubernetes-list-map-keys")
        for index, item in enumerate(new):
            previous = None
            if keys and isinstance(old, list):
                matches = [o for o in old if all(o.get(k) == item.get(k) for k in keys)]
                previous = matches[0] if matches else None
            yield from _rule_sites(schema["items"], item, previous, f"{path}[{index}]")


def evaluate(rule: str, value: Any, old: Any = None) -> Any:
    activation = {"self": celpy.json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    return _program(rule).evaluate(activation)


def rejections(schema: dict[str, Any], new: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """`path: message` for every rule the (pruned) object breaks; empty when the server would admit it."""
    pruned_new = prune(schema, new, root=True)
    pruned_old = prune(schema, old, root=True) if old is not None else None
    failures = []
    for path, rule, value, previous in _rule_sites(schema, pruned_new, pruned_old, ""):
        result = evaluate(rule["rule"], value, previous)
        if not isinstance(result, celpy.celtypes.BoolType) or not result:
            failures.append(f"{path or '<root>'}: {rule.get('message', rule['rule'])}")
    return failures


def rules(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, str]]:
    """(path, rule text) of every rule in the schema."""
    for rule in schema.get("x-kubernetes-validations", []):
        yield path, rule["rule"]
    for name, child in schema.get("properties", {}).items():
        yield from rules(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from rules(schema[key], f"{path}[]")
