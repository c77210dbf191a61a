"""What the stand-in knows about each resource it serves, read from CRDs or from kmock's bundle.

A ``ResourceSpec`` holds what the API server derives from a CRD and applies on every request:
scope, kind and list kind, whether ``/status`` is a subresource, and the printer columns.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from azbatch_kubemock import cel_rules
from azbatch_kubemock.jsonpath import JsonPath, JsonPathError


class CrdError(ValueError):
    """A CRD document the stand-in cannot serve; the message says which field to fix."""


@dataclasses.dataclass(frozen=True)
class PrinterColumn:
    name: str
    type: str
    json_path: JsonPath
    description: str = ""
    priority: int = 0
    format: str = ""


@dataclasses.dataclass(frozen=True)
class ResourceSpec:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    list_kind: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    printer_columns: tuple[PrinterColumn, ...] = ()
    custom: bool = False  # served from a CRD (merge/JSON patch only) rather than built in
    schema: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_plural(self) -> str:
        """How the API server names the resource in messages: ``batchpools.azbatch.dev``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def effective_list_kind(self) -> str:
        return self.list_kind or f"{self.kind}List"


def _require(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    value = mapping.get(key)
    if value in (None, "", [], {}):
        raise CrdError(f"the CRD has no {where}.{key}; a CustomResourceDefinition needs it")
    return value


def _printer_columns(version: Mapping[str, Any], where: str) -> tuple[PrinterColumn, ...]:
    columns = []
    for index, column in enumerate(version.get("additionalPrinterColumns") or []):
        at = f"{where}.additionalPrinterColumns[{index}]"
        path_text = _require(column, "jsonPath", at)
        try:
            path = JsonPath.parse(path_text)
        except JsonPathError as exc:
            raise CrdError(f"{at}.jsonPath {path_text!r}: {exc}") from exc
        columns.append(
            PrinterColumn(
                name=_require(column, "name", at),
                type=_require(column, "type", at),
                json_path=path,
                description=column.get("description", ""),
                priority=int(column.get("priority", 0)),
                format=column.get("format", ""),
            )
        )
    return tuple(columns)


def _schema(version: Mapping[str, Any], where: str) -> Mapping[str, Any] | None:
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    if schema is None:
        return None
    if not isinstance(schema, Mapping):
        raise CrdError(f"{where}.schema.openAPIV3Schema must be an object")
    try:
        cel_rules.compile_all(schema)
    except cel_rules.CelRuleError as exc:
        raise CrdError(f"{where}.schema.openAPIV3Schema: {exc}") from exc
    return schema


def specs_from_crd(crd: Mapping[str, Any]) -> list[ResourceSpec]:
    """One ``ResourceSpec`` per served version of an ``apiextensions.k8s.io/v1`` CRD document."""
    if not isinstance(crd, Mapping):
        raise CrdError(f"expected a CustomResourceDefinition document (a mapping), got {type(crd).__name__}")
    if crd.get("kind") != "CustomResourceDefinition":
        raise CrdError(f"expected kind CustomResourceDefinition, got {crd.get('kind')!r}")
    spec = _require(crd, "spec", "")
    names = _require(spec, "names", "spec")
    group = _require(spec, "group", "spec")
    scope = _require(spec, "scope", "spec")
    if scope not in ("Namespaced", "Cluster"):
        raise CrdError(f"spec.scope must be Namespaced or Cluster, got {scope!r}")
    plural = _require(names, "plural", "spec.names")
    expected_name = f"{plural}.{group}"
    if crd.get("metadata", {}).get("name") not in (None, expected_name):
        raise CrdError(f"metadata.name must be {expected_name!r} (spec.names.plural + '.' + spec.group)")
    result = []
    for index, version in enumerate(_require(spec, "versions", "spec")):
        where = f"spec.versions[{index}]"
        if not version.get("served", True):
            continue
        result.append(
            ResourceSpec(
                group=group,
                version=_require(version, "name", where),
                plural=plural,
                kind=_require(names, "kind", "spec.names"),
                namespaced=scope == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                list_kind=names.get("listKind", ""),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in (version.get("subresources") or {}),
                printer_columns=_printer_columns(version, where),
                custom=True,
                schema=_schema(version, where),
            )
        )
    if not result:
        raise CrdError("the CRD serves no version (every spec.versions[].served is false)")
    return result
