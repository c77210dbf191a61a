"""Counts every Azure request by plane, operation and status: an azure-core pipeline policy."""

from __future__ import annotations

from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy

from azbatch_operator.metrics import AZURE_REQUESTS, AZURE_THROTTLED


def operation_name(method: str, path: str) -> str:
    """`GET .../batchAccounts/a/pools/p` -> `GET pool`; list forms end in a collection -> `GET pools`.

    Names stay low-cardinality: resource names and ids never become label values.
    """
    segments = [s for s in path.strip("/").split("/") if s]
    collections = {
        "pools": "pool",
        "nodes": "node",
        "extensions": "extension",
        "batchaccounts": "account",
        "nodecounts": "nodecounts",
        "poolnodecounts": "nodecounts",
        "pooloperationresults": "operation",
        "stopresize": "stopResize",
        "disableautoscale": "disableAutoScale",
    }
    kinds = [(i, collections[s.lower()]) for i, s in enumerate(segments) if s.lower() in collections]
    if not kinds:
        return f"{method} other"
    index, kind = kinds[-1]
    if kind in ("stopResize", "disableAutoScale", "nodecounts"):
        return f"{method} {kind}"
    return f"{method} {kind}" if index + 1 < len(segments) else f"{method} {kind}s"


class CallCounter(SansIOHTTPPolicy[Any, Any]):
    """Placed per retry (after azure-core's RetryPolicy), so every attempt on the wire is counted."""

    def __init__(self, plane: str) -> None:
        super().__init__()
        self._plane = plane

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        http = request.http_request
        operation = operation_name(http.method, _path(http.url))
        status = response.http_response.status_code
        AZURE_REQUESTS.labels(self._plane, operation, str(status)).inc()
        if status == 429:
            AZURE_THROTTLED.labels(self._plane, operation).inc()

    def on_exception(self, request: PipelineRequest[Any]) -> None:
        http = request.http_request
        AZURE_REQUESTS.labels(self._plane, operation_name(http.method, _path(http.url)), "none").inc()


def _path(url: str) -> str:
    without_query = url.split("?", 1)[0]
    return without_query.split("://", 1)[-1].partition("/")[2]
