"""Service errors and how each plane shapes them.

Handlers raise `ServiceError`; the error middleware renders it as the ARM error envelope on the
management plane, the Batch error on the data plane, or an OAuth error on the token endpoint.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON_TYPE = "application/json"
_ERROR_ENTITY = "Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"
BATCH_JSON_TYPE = "application/json;odata=minimalmetadata"


@dataclass
class ServiceError(Exception):
    """An answer the service gives with an error code (not a crash)."""

    status: int
    code: str
    message: str
    details: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    target: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def request_id() -> str:
    return str(uuid.uuid4())


def _stamp(message: str, rid: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    return f"{message}\nRequestId:{rid}\nTime:{now}"


def dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def arm_error_response(error: ServiceError, rid: str) -> web.Response:
    body: dict[str, Any] = {"code": error.code, "message": _stamp(error.message, rid)}
    if error.target:
        body["target"] = error.target
    if error.details:
        body["details"] = [{"code": k, "message": v} for k, v in error.details]
    headers = {"x-ms-request-id": rid, "x-ms-correlation-request-id": rid, **error.headers}
    return web.Response(
        status=error.status, text=dumps({"error": body}), content_type=JSON_TYPE, headers=headers
    )


def batch_error_response(error: ServiceError, rid: str, endpoint: str) -> web.Response:
    body: dict[str, Any] = {
        "odata.metadata": f"{endpoint}/$metadata#{_ERROR_ENTITY}",
        "code": error.code,
        "message": {"lang": "en-US", "value": _stamp(error.message, rid)},
    }
    if error.details:
        body["values"] = [{"key": k, "value": v} for k, v in error.details]
    headers = {"request-id": rid, "DataServiceVersion": "3.0", **error.headers}
    return web.Response(status=error.status, text=dumps(body), headers=headers, content_type=JSON_TYPE)


def oauth_error_response(error: ServiceError, rid: str) -> web.Response:
    """Entra's token endpoint error: `error`, `error_description` with the AADSTS code."""
    body = {
        "error": error.code,
        "error_description": _stamp(error.message, rid),
        "error_codes": [int(error.target)] if error.target and error.target.isdigit() else [],
        "trace_id": rid,
        "correlation_id": rid,
    }
    return web.Response(status=error.status, text=dumps(body), content_type=JSON_TYPE, headers=error.headers)
