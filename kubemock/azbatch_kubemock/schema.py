"""A CRD's structural ``openAPIV3Schema`` applied as the API server applies it on every write.

In the API server's order: ``default`` fills absent fields, unknown fields are pruned (unless a
node says ``x-kubernetes-preserve-unknown-fields``), then the object is validated (type,
``nullable``, ``required``, ``enum``, bounds, lengths, ``pattern``, item and property counts,
``x-kubernetes-list-type`` set/map uniqueness, ``allOf``/``anyOf``/``oneOf``/``not``,
``x-kubernetes-int-or-string``). Messages use the API server's wording and field paths
(``spec.vmSize: Required value``). CEL rules are in ``cel_rules``; ``format`` is not checked.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

Problem = tuple[str, str]  # (field path, what is wrong)

_ROOT_KEEP = ("apiVersion", "kind", "metadata")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _invalid(path: str, shown: str, text: str) -> Problem:
    """The API server's wording: ``Invalid value: <value>: <path> in body <text>``."""
    return path, f"Invalid value: {shown}: {path} in body {text}"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_ok(schema: Mapping[str, Any], value: Any) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    wanted = schema.get("type")
    if wanted is None:
        return True
    if isinstance(value, bool) and wanted in ("integer", "number"):
        return False
    if wanted == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(wanted, (object,)))


def _defaults_and_prune(schema: Mapping[str, Any], value: Any, *, root: bool = False) -> Any:
    """The value with schema defaults filled in and unknown fields removed (a new object)."""
    if isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        result: dict[str, Any] = {}
        for key, item in value.items():
            if root and key in _ROOT_KEEP:
                result[key] = item  # the API server's own fields: never pruned by the CRD schema
            elif key in properties:
                if item is None and not properties[key].get("nullable"):
                    continue  # the API server prunes nulls of non-nullable fields (then defaults apply)
                result[key] = _defaults_and_prune(properties[key], item)
            elif isinstance(additional, Mapping):
                result[key] = _defaults_and_prune(additional, item)
            elif keep_unknown or additional is True:
                result[key] = item
        for key, sub in properties.items():
            if key not in result and "default" in sub:
                result[key] = _defaults_and_prune(sub, copy.deepcopy(sub["default"]))
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_defaults_and_prune(schema["items"], item) for item in value]
    return value


def _check_scalar_bounds(schema: Mapping[str, Any], value: Any, path: str, problems: list[Problem]) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema:
            low, exclusive = schema["minimum"], schema.get("exclusiveMinimum") is True
            if value < low or (exclusive and value == low):
                word = "greater than" if exclusive else "greater than or equal to"
                problems.append(
                    (path, f"Invalid value: {_shown(value)}: {path} in body should be {word} {low}")
                )
        if "maximum" in schema:
            high, exclusive = schema["maximum"], schema.get("exclusiveMaximum") is True
            if value > high or (exclusive and value == high):
                word = "less than" if exclusive else "less than or equal to"
                problems.append(
                    (path, f"Invalid value: {_shown(value)}: {path} in body should be {word} {high}")
                )
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append((path, f"Too long: may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            problems.append(
                _invalid(path, _shown(value), f"should be at least {schema['minLength']} chars long")
            )
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(
                (path, f"Invalid value: {_shown(value)}: {path} in body should match '{schema['pattern']}'")
            )


def _check_collection(schema: Mapping[str, Any], value: Any, path: str, problems: list[Problem]) -> None:
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append((path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(
                _invalid(path, str(len(value)), f"should have at least {schema['minItems']} items")
            )
        list_type = schema.get("x-kubernetes-list-type")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen: list[Any] = []
        for index, item in enumerate(value):
            identity = (
                tuple(item.get(k) for k in keys) if list_type == "map" and isinstance(item, dict) else item
            )
            if (list_type in ("set", "map") or schema.get("uniqueItems")) and identity in seen:
                problems.append((f"{path}[{index}]", f"Duplicate value: {_shown(item)}"))
            seen.append(identity)
    if isinstance(value, dict):
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            problems.append(
                (path, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items")
            )
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            at_least = schema["minProperties"]
            problems.append(_invalid(path, str(len(value)), f"should have at least {at_least} properties"))


def _validate(schema: Mapping[str, Any], value: Any, path: str, problems: list[Problem]) -> None:
    if value is None:
        if not schema.get("nullable"):
            shown_type = schema.get("type", "object")
            problems.append(
                (path, f'Invalid value: "null": {path} in body must be of type {shown_type}: "null"')
            )
        return
    if not _type_ok(schema, value):
        wanted = "integer-or-string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        actual = {
            dict: "object",
            list: "array",
            str: "string",
            bool: "boolean",
            int: "integer",
            float: "number",
        }
        found = f'"{actual.get(type(value), "value")}"'
        problems.append(_invalid(path, found, f"must be of type {wanted}: {found}"))
        return
    if "enum" in schema and value not in schema["enum"]:
        supported = ", ".join(_shown(v) for v in schema["enum"])
        problems.append((path, f"Unsupported value: {_shown(value)}: supported values: {supported}"))
    _check_scalar_bounds(schema, value, path, problems)
    _check_collection(schema, value, path, problems)
    _check_combinators(schema, value, path, problems)
    if isinstance(value, dict):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        for key in schema.get("required") or []:
            if key not in value:
                problems.append((_join(path, key), "Required value"))
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                _validate(properties[key], item, _join(path, key), problems)
            elif isinstance(additional, Mapping):
                _validate(additional, item, f"{path}[{key}]", problems)
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            _validate(schema["items"], item, f"{path}[{index}]", problems)


def _check_combinators(schema: Mapping[str, Any], value: Any, path: str, problems: list[Problem]) -> None:
    def holds(sub: Mapping[str, Any]) -> bool:
        found: list[Problem] = []
        _validate(sub, value, path, found)
        return not found

    for sub in schema.get("allOf") or []:
        _validate(sub, value, path, problems)
    if schema.get("anyOf") and not any(holds(sub) for sub in schema["anyOf"]):
        problems.append(
            (path, f"Invalid value: {_shown(value)}: {path} in body must match at least one schema (anyOf)")
        )
    if schema.get("oneOf") and sum(holds(sub) for sub in schema["oneOf"]) != 1:
        problems.append(
            (path, f"Invalid value: {_shown(value)}: {path} in body must match exactly one schema (oneOf)")
        )
    if isinstance(schema.get("not"), Mapping) and holds(schema["not"]):
        problems.append(
            (path, f"Invalid value: {_shown(value)}: {path} in body must not match the schema (not)")
        )


def unknown_fields(schema: Mapping[str, Any], value: Any, path: str = "", *, root: bool = True) -> list[str]:
    """Paths of the fields pruning would drop (what ``fieldValidation`` reports as unknown)."""
    found: list[str] = []
    if isinstance(value, dict) and (schema.get("type") == "object" or "properties" in schema):
        properties: Mapping[str, Any] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        keep_unknown = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or additional is True
        for key, item in value.items():
            if root and key in _ROOT_KEEP:
                continue
            if key in properties:
                found += unknown_fields(properties[key], item, _join(path, key), root=False)
            elif isinstance(additional, Mapping):
                found += unknown_fields(additional, item, f"{path}[{key}]", root=False)
            elif not keep_unknown:
                found.append(_join(path, key))
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(value):
            found += unknown_fields(schema["items"], item, f"{path}[{index}]", root=False)
    return found


def default_and_prune(schema: Mapping[str, Any], obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object as the API server stores it: defaults applied, unknown fields pruned."""
    result = _defaults_and_prune(schema, dict(obj), root=True)
    assert isinstance(result, dict)
    return result


def validate(schema: Mapping[str, Any], obj: Mapping[str, Any]) -> list[Problem]:
    """Every schema violation of the object (metadata, apiVersion and kind are not checked)."""
    problems: list[Problem] = []
    body = {k: v for k, v in obj.items() if k not in _ROOT_KEEP}
    root = {**schema, "required": [k for k in schema.get("required") or [] if k not in _ROOT_KEEP]}
    properties = {k: v for k, v in (schema.get("properties") or {}).items() if k not in _ROOT_KEEP}
    _validate({**root, "properties": properties}, body, "", problems)
    return problems
