"""A CRD's ``x-kubernetes-validations`` (CEL) rules evaluated on writes, with cel-python.

As the API server does, on the pruned and defaulted object: each rule runs with ``self`` bound to
the value at its node (every item of a list, every value of a map); ``oldSelf`` is bound on
updates where the old object has a value at the same place (list-map items matched by their
keys); transition rules (those that mention ``oldSelf``) are skipped when there is no old value.
A rule that is false, or cannot be evaluated, rejects the write with its ``message``,
``reason`` and ``fieldPath``. Kubernetes' own CEL libraries (``isURL``, ``quantity``, ...) are
not available in cel-python: a rule using them is reported as not evaluable.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from azbatch_kubemock.schema import Problem

_REASON_WORDS = {
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
}


class CelRuleError(ValueError):
    """A rule that does not parse (the API server refuses such a CRD)."""


@functools.cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    try:
        return environment.program(environment.compile(rule))
    except CELParseError as exc:
        raise CelRuleError(f"x-kubernetes-validations rule {rule!r} does not parse: {exc}") from exc


_SELF_PATH = re.compile(r"\b(?:self|oldSelf)\b((?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*+(?!\s*\())*)")
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Paths = frozenset[tuple[str, ...]]


@functools.cache
def _paths_read(rule: str) -> Paths | None:
    """The field paths of `self`/`oldSelf` a rule can read (`self.spec.poolName` reads spec.poolName
    and everything under it); None when it uses the whole value (`self == oldSelf`, `size(self)`,
    `self.all(...)`)."""
    paths = set()
    for match in _SELF_PATH.finditer(rule):
        segments = tuple(_SEGMENT.findall(match.group(1)))
        if not segments:
            return None
        paths.add(segments)
    return frozenset(paths)


def _only(value: Any, paths: Paths | None) -> Any:
    """The value cut down to the paths a rule reads. The result of the rule cannot differ (it sees
    nothing else), and converting a whole BatchPool (status, managed fields) to CEL for a rule
    about `self.spec.poolName` made every status write slow."""
    if paths is None or not isinstance(value, dict) or () in paths:
        return value
    heads: dict[str, set[tuple[str, ...]]] = {}
    for path in paths:
        heads.setdefault(path[0], set()).add(path[1:])
    return {key: _only(value[key], frozenset(rest)) for key, rest in heads.items() if key in value}


@functools.lru_cache(maxsize=4096)
def _verdict(rule: str, self_json: str, old_json: str | None) -> str | None:
    """None when the rule holds for these (pruned) values, else why not: "false" or the error.
    Cached: the same rule on the same values (an object's name on each of its writes) is the
    same verdict, and cel-python takes about a millisecond per evaluation."""
    activation = {"self": json_to_cel(json.loads(self_json))}
    if old_json is not None:
        activation["oldSelf"] = json_to_cel(json.loads(old_json))
    try:
        result = _program(rule).evaluate(activation)
    except (CELEvalError, TypeError, ValueError, KeyError) as exc:
        return f"the stand-in could not evaluate rule {rule!r}: {exc}"
    if isinstance(result, CELEvalError):
        return f"the stand-in could not evaluate rule {rule!r}: {result}"
    if result is True or (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
        return None
    return "false"


def compile_all(schema: Mapping[str, Any]) -> int:
    """Parse every rule in the schema now (raises ``CelRuleError``); returns how many there are."""
    count = 0
    for rule in schema.get("x-kubernetes-validations") or []:
        _program(rule["rule"])
        count += 1
    for sub in (schema.get("properties") or {}).values():
        count += compile_all(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), Mapping):
            count += compile_all(schema[key])
    return count


def _sites(
    schema: Mapping[str, Any], new: Any, old: Any, path: str
) -> Iterator[tuple[str, Mapping[str, Any], Any, Any]]:
    """(path, rule, self, oldSelf) for every rule that applies to a value present in ``new``."""
    for rule in schema.get("x-kubernetes-validations") or []:
        if old is not None or "oldSelf" not in rule.get("rule", ""):
            yield path, rule, new, old
    if isinstance(new, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in new:
                yield from _sites(
                    sub, new[key], old.get(key) if isinstance(old, dict) else None, f"{path}.{key}"
                )
        if isinstance(schema.get("additionalProperties"), Mapping):
            for key, item in new.items():
                previous = old.get(key) if isinstance(old, dict) else None
                yield from _sites(schema["additionalProperties"], item, previous, f"{path}[{key}]")
    elif isinstance(new, list) and isinstance(schema.get("items"), Mapping):
        keys = schema.get("x-kubernetes-list-map-keys") or []
        for index, item in enumerate(new):
            yield from _sites(schema["items"], item, _matching_old_item(old, item, keys), f"{path}[{index}]")


def _matching_old_item(old: Any, item: Any, keys: list[str]) -> Any:
    if not keys or not isinstance(old, list) or not isinstance(item, dict):
        return None
    for candidate in old:
        if isinstance(candidate, dict) and all(candidate.get(k) == item.get(k) for k in keys):
            return candidate
    return None


def _problem(path: str, rule: Mapping[str, Any], value: Any, detail: str) -> Problem:
    field = (path + rule.get("fieldPath", "")).lstrip(".")
    word = _REASON_WORDS.get(rule.get("reason", ""))
    if word:
        return field, f"{word}: {detail}"
    kind = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "string"
    return field, f'Invalid value: "{kind}": {detail}'


def problems(
    schema: Mapping[str, Any], new: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[Problem]:
    """Every rule the object breaks, as ``(field path, message)``; empty when all rules hold.

    On an update a rule whose value is unchanged is not evaluated again, as the API server's CRD
    validation ratcheting does (GA in 1.33): a status write does not re-judge an unchanged spec."""
    found: list[Problem] = []
    for path, rule, value, previous in _sites(schema, dict(new), dict(old) if old else None, ""):
        if previous is not None and previous == value:
            continue
        read = _paths_read(rule["rule"])
        verdict = _verdict(
            rule["rule"],
            json.dumps(_only(value, read), sort_keys=True),
            None if previous is None else json.dumps(_only(previous, read), sort_keys=True),
        )
        if verdict == "false":
            found.append(_problem(path, rule, value, rule.get("message") or f"failed rule: {rule['rule']}"))
        elif verdict is not None:
            found.append(_problem(path, rule, value, verdict))
    return found
