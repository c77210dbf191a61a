"""The JSONPath subset that CRD printer columns use, evaluated as the API server does.

Supported: ``.field``, ``['field']``, ``[N]``, ``[*]`` and filters ``[?(@.a.b=="x")]`` / ``!=``
(e.g. ``.status.conditions[?(@.type=="Ready")].status``). Anything else is refused when the CRD
is registered, with the position of the part that is not understood.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

_NAME = re.compile(r"\.([A-Za-z0-9_\-]+)")
_QUOTED_KEY = re.compile(r"""\[\s*(['"])(.*?)\1\s*\]""")
_INDEX = re.compile(r"\[\s*(-?\d+)\s*\]")
_WILDCARD = re.compile(r"\[\s*\*\s*\]|\.\*")
_FILTER = re.compile(
    r"""\[\s*\?\(\s*@((?:\.[A-Za-z0-9_\-]+)+)\s*(==|!=)\s*(?:(['"])(.*?)\3|(-?\d+(?:\.\d+)?|true|false))\s*\)\s*\]"""
)


class JsonPathError(ValueError):
    """A JSONPath expression outside the supported subset."""


@dataclasses.dataclass(frozen=True)
class _Step:
    kind: str  # "key" | "index" | "all" | "filter"
    key: str = ""
    index: int = 0
    filter_path: tuple[str, ...] = ()
    filter_op: str = "=="
    filter_value: Any = None


def _literal(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    return float(text) if "." in text else int(text)


@dataclasses.dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[_Step, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        body = text.strip()
        if body.startswith("{") and body.endswith("}"):
            body = body[1:-1].strip()
        body = body.removeprefix("$")
        steps: list[_Step] = []
        position = 0
        while position < len(body):
            if match := _FILTER.match(body, position):
                path, op, _, quoted, bare = match.groups()
                value = quoted if quoted is not None else _literal(bare)
                steps.append(
                    _Step("filter", filter_path=tuple(path[1:].split(".")), filter_op=op, filter_value=value)
                )
            elif match := _WILDCARD.match(body, position):
                steps.append(_Step("all"))
            elif match := _NAME.match(body, position):
                steps.append(_Step("key", key=match.group(1)))
            elif match := _QUOTED_KEY.match(body, position):
                steps.append(_Step("key", key=match.group(2)))
            elif match := _INDEX.match(body, position):
                steps.append(_Step("index", index=int(match.group(1))))
            else:
                raise JsonPathError(
                    f"cannot read {body[position:]!r} (at character {position}); supported: .field, "
                    "['field'], [N], [*] and [?(@.field==\"value\")]"
                )
            position = match.end()
        if not steps:
            raise JsonPathError("the path is empty; write it like .status.phase")
        return cls(text=text, steps=tuple(steps))

    def find(self, document: Any) -> list[Any]:
        """Every value the path reaches in ``document`` (empty when it reaches nothing)."""
        current = [document]
        for step in self.steps:
            current = [found for value in current for found in _apply(step, value)]
        return current

    def first(self, document: Any) -> Any:
        found = self.find(document)
        return found[0] if found else None


def _get_path(value: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _apply(step: _Step, value: Any) -> list[Any]:
    if step.kind == "key":
        return [value[step.key]] if isinstance(value, dict) and step.key in value else []
    if step.kind == "index":
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            return [value[step.index]]
        return []
    items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else []
    if step.kind == "all":
        return list(items)
    matches = []
    for item in items:
        present, found = _get_path(item, step.filter_path)
        equal = present and found == step.filter_value
        if equal == (step.filter_op == "=="):
            matches.append(item)
    return matches
