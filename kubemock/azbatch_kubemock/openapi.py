"""Just enough ``/openapi/v3`` for kubectl to validate on the server (``fieldValidation``).

kubectl apply validates by default. It reads ``/openapi/v3`` and, when the resource's PATCH
operation lists the ``fieldValidation`` query parameter, leaves validation to the server (which
the stand-in does: unknown fields are refused with ``Strict``, reported with ``Warn``); without
an OpenAPI document it stops with "failed to download openapi". Each group-version document
lists the operations of its resources and, for CRDs, their ``openAPIV3Schema`` as components.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from azbatch_kubemock.resources import ResourceSpec

_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "description": "Ignore, Warn (the default) or Strict: how the server treats unknown fields.",
    "schema": {"type": "string", "uniqueItems": True},
}


def group_version_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _component_name(spec: ResourceSpec) -> str:
    reversed_group = ".".join(reversed(spec.group.split("."))) if spec.group else "io.k8s.api.core"
    return f"{reversed_group}.{spec.version}.{spec.kind}"


def group_version_document(specs: Iterable[ResourceSpec]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for spec in specs:
        gvk = {"group": spec.group, "version": spec.version, "kind": spec.kind}
        ref = {"$ref": f"#/components/schemas/{_component_name(spec)}"}
        body = {"content": {"application/json": {"schema": ref}}}
        answer = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        write = {
            "parameters": [_FIELD_VALIDATION],
            "x-kubernetes-group-version-kind": gvk,
            "responses": answer,
        }
        scope = "/namespaces/{namespace}" if spec.namespaced else ""
        prefix = f"/{group_version_path(spec.group, spec.version)}{scope}/{spec.plural}"
        paths[prefix] = {"post": {**write, "requestBody": body}}
        paths[f"{prefix}/{{name}}"] = {
            "get": {"x-kubernetes-group-version-kind": gvk, "responses": answer},
            "put": {**write, "requestBody": body},
            "patch": {**write, "requestBody": {"content": {"application/merge-patch+json": {"schema": {}}}}},
        }
        schema = dict(spec.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        schemas[_component_name(spec)] = {**schema, "x-kubernetes-group-version-kind": [gvk]}
    return {
        "openapi": "3.0.0",
        "info": {"title": "azbatch-kubemock", "version": "v1"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def root_index(documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group-version, with a content hash as the API server gives."""
    paths = {}
    for path, document in sorted(documents.items()):
        digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:32].upper()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}
