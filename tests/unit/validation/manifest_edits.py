"""Read the examples and edit manifests by dotted path (`spec.x.extensions.0.type`)."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
VMC = "spec.deploymentConfiguration.virtualMachineConfiguration"
DELETE = object()


def load_example(stem: str) -> dict[str, Any]:
    """A fresh copy of the BatchPool document of examples/<stem>.yaml (edit it freely)."""
    return copy.deepcopy(_read_example(stem))


@cache
def _read_example(stem: str) -> dict[str, Any]:
    documents = yaml.safe_load_all((EXAMPLES / f"{stem}.yaml").read_text())
    (pool,) = [document for document in documents if document and document["kind"] == "BatchPool"]
    return pool  # type: ignore[no-any-return]


def edit(document: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Set (or, with DELETE, remove) the value at a dotted path, creating mappings on the way."""
    parts: list[Any] = [int(part) if part.isdigit() else part for part in dotted.split(".")]
    node: Any = document
    for part in parts[:-1]:
        if isinstance(part, str) and part not in node:
            node[part] = {}
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    elif isinstance(node, list) and parts[-1] == len(node):
        node.append(value)
    else:
        node[parts[-1]] = value
    return document
