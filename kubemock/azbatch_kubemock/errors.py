"""API errors answered as the Kubernetes API server answers them: a ``v1 Status`` with a reason.

Clients branch on ``code`` and ``reason`` (kopf on 404/409/422, kubectl prints ``message``), so the
wording follows the API server's own (``batchpools.azbatch.dev "x" not found``).
"""

from __future__ import annotations

from typing import Any

import kmock

from azbatch_kubemock.resources import ResourceSpec


class ApiError(kmock.KubernetesError):
    """An error the stand-in answers with a ``Status`` body and the given HTTP code."""


def status_body(error: kmock.KubernetesError) -> dict[str, Any]:
    """The ``v1 Status`` document for an error, shaped like the API server's."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message or "",
        "reason": error.reason or "",
        "code": error.status,
    }
    if error.details:
        body["details"] = error.details
    return body


def _details(spec: ResourceSpec, name: str | None, *, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind or spec.plural}
    if name:
        details["name"] = name
    if spec.group:
        details["group"] = spec.group
    return details


def not_found(spec: ResourceSpec, name: str) -> ApiError:
    return ApiError(
        status=404,
        reason="NotFound",
        message=f'{spec.qualified_plural} "{name}" not found',
        details=_details(spec, name),
    )


def resource_not_found() -> ApiError:
    return ApiError(status=404, reason="NotFound", message="the server could not find the requested resource")


def already_exists(spec: ResourceSpec, name: str) -> ApiError:
    return ApiError(
        status=409,
        reason="AlreadyExists",
        message=f'{spec.qualified_plural} "{name}" already exists',
        details=_details(spec, name),
    )


def conflict(spec: ResourceSpec, name: str) -> ApiError:
    return ApiError(
        status=409,
        reason="Conflict",
        message=(
            f'Operation cannot be fulfilled on {spec.qualified_plural} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again"
        ),
        details=_details(spec, name),
    )


def invalid(spec: ResourceSpec, name: str | None, field: str, detail: str) -> ApiError:
    qualified_kind = f"{spec.kind}.{spec.group}" if spec.group else spec.kind
    return ApiError(
        status=422,
        reason="Invalid",
        message=f'{qualified_kind} "{name or ""}" is invalid: {field}: {detail}',
        details={
            **_details(spec, name, kind=spec.kind),
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
        },
    )


def invalid_fields(spec: ResourceSpec, name: str | None, problems: list[tuple[str, str]]) -> ApiError:
    """422 for schema or CEL violations, listing each ``field: problem`` as the API server does."""
    qualified_kind = f"{spec.kind}.{spec.group}" if spec.group else spec.kind
    listed = [f"{field}: {detail}" if field else detail for field, detail in problems]
    joined = listed[0] if len(listed) == 1 else f"[{', '.join(listed)}]"
    return ApiError(
        status=422,
        reason="Invalid",
        message=f'{qualified_kind} "{name or ""}" is invalid: {joined}',
        details={
            **_details(spec, name, kind=spec.kind),
            "causes": [{"reason": "FieldValueInvalid", "message": d, "field": f} for f, d in problems],
        },
    )


def forbidden(message: str) -> ApiError:
    return ApiError(status=403, reason="Forbidden", message=message)


def bad_request(message: str) -> ApiError:
    return ApiError(status=400, reason="BadRequest", message=message)


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        status=415,
        reason="UnsupportedMediaType",
        message=(
            f"the body of the request was in an unknown format ({content_type or 'none'}) - "
            f"accepted media types include: {', '.join(accepted)}"
        ),
    )


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        status=405, reason="MethodNotAllowed", message=f"the server does not allow this method ({method})"
    )


def unauthorized() -> ApiError:
    return ApiError(
        status=401,
        reason="Unauthorized",
        message="Unauthorized: send the bearer token from the stand-in's kubeconfig",
    )
