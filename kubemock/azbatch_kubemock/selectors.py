"""Label and field selectors on list and watch requests, with the API server's syntax.

Labels: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, comma-joined.
Fields: ``path=value`` / ``path==value`` / ``path!=value`` on any dotted path
(``metadata.name``, ``involvedObject.uid``), comma-joined. The real server allows only a few
field paths per kind; the stand-in accepts every path (documented leniency).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

_SET_TERM = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


class SelectorError(ValueError):
    """A selector that cannot be parsed (answered with 400 Bad Request)."""


Predicate = Callable[[Mapping[str, Any]], bool]


def _split_terms(text: str) -> list[str]:
    terms, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return [term for term in terms if term.strip()]


@dataclasses.dataclass(frozen=True)
class _LabelTerm:
    key: str
    op: str
    values: frozenset[str]

    def holds(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op in ("=", "==", "in"):
            return present and value in self.values
        return not present or value not in self.values  # "!=" and "notin"


def parse_label_selector(text: str) -> Predicate:
    terms = []
    for raw in _split_terms(text or ""):
        if match := _SET_TERM.match(raw):
            values = frozenset(v.strip() for v in match.group(3).split(",") if v.strip())
            terms.append(_LabelTerm(match.group(1), match.group(2), values))
        elif match := _EQ_TERM.match(raw):
            terms.append(_LabelTerm(match.group(1), match.group(2), frozenset([match.group(3)])))
        elif match := _EXISTS_TERM.match(raw):
            terms.append(_LabelTerm(match.group(2), "!exists" if match.group(1) else "exists", frozenset()))
        else:
            raise SelectorError(f"unable to parse requirement {raw.strip()!r} in labelSelector {text!r}")

    def predicate(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(term.holds(labels) for term in terms)

    return predicate


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return ""
        value = value[key]
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def parse_field_selector(text: str) -> Predicate:
    terms: list[tuple[str, bool, str]] = []
    for raw in _split_terms(text or ""):
        match = _EQ_TERM.match(raw)
        if not match:
            raise SelectorError(
                f"invalid selector: {raw.strip()!r} in fieldSelector {text!r}; use path=value"
            )
        path, op, value = match.groups()
        terms.append((path, op != "!=", value))

    def predicate(obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, path) == value) == equal for path, equal, value in terms)

    return predicate


def combined(label_selector: str, field_selector: str) -> Predicate:
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector)
    return lambda obj: labels(obj) and fields(obj)
