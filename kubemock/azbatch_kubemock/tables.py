"""``meta.k8s.io/v1`` Table answers (``kubectl get``), built from a CRD's printer columns.

As the API server does for custom resources: the columns are ``Name`` plus the CRD's
``additionalPrinterColumns`` (or ``Name`` and ``Age`` when it declares none); ``date`` cells are
rendered as ages (``5m``); each row carries the object's metadata as ``PartialObjectMetadata``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping
from typing import Any

from azbatch_kubemock.jsonpath import JsonPath
from azbatch_kubemock.resources import PrinterColumn, ResourceSpec

_NAME_COLUMN = {
    "name": "Name",
    "type": "string",
    "format": "name",
    "description": "Name must be unique within a namespace.",
    "priority": 0,
}
_AGE_COLUMN = PrinterColumn(
    name="Age",
    type="date",
    json_path=JsonPath.parse(".metadata.creationTimestamp"),
    description="CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def wants_table(accept: str) -> bool:
    """Whether an ``Accept`` header asks for a Table (kubectl get sends ``...;as=Table;...``)."""
    return any("as=table" in part.replace(" ", "").lower() for part in accept.split(","))


def human_age(since: str, now: datetime.datetime) -> str:
    """The age of an RFC 3339 timestamp as kubectl prints it (``45s``, ``3m20s``, ``5h``, ``2d3h``)."""
    try:
        then = datetime.datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        return since
    seconds = max(0, int((now - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"


def _cell(column: PrinterColumn, obj: Mapping[str, Any], now: datetime.datetime) -> Any:
    value = column.json_path.first(obj)
    if value is None:
        return None
    if column.type == "date" and isinstance(value, str):
        return human_age(value, now)
    if column.type in ("integer", "number", "boolean") and isinstance(value, int | float | bool):
        return value
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _column_definition(column: PrinterColumn) -> dict[str, Any]:
    return {
        "name": column.name,
        "type": column.type,
        "format": column.format,
        "description": column.description,
        "priority": column.priority,
    }


def _partial_metadata(obj: Mapping[str, Any], include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return dict(obj)
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def build_table(
    spec: ResourceSpec,
    objects: Iterable[Mapping[str, Any]],
    *,
    resource_version: str,
    include_object: str = "Metadata",
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    moment = now or datetime.datetime.now(tz=datetime.UTC)
    columns = spec.printer_columns or (_AGE_COLUMN,)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [_NAME_COLUMN, *(_column_definition(c) for c in columns)],
        "rows": [
            {
                "cells": [obj.get("metadata", {}).get("name"), *(_cell(c, obj, moment) for c in columns)],
                "object": _partial_metadata(obj, include_object),
            }
            for obj in objects
        ],
    }
