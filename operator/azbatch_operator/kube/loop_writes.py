"""The operator's frequent Kubernetes writes, from the event loop over one aiohttp session:
BatchPool status merge patches and Events.

Every reconcile pass that changes a status writes it, and every step it takes is told in an Event,
so these are the operator's hottest Kubernetes calls: a thousand pools starting at once write three
statuses and two Events each. The official client runs synchronously (a thread per call, models
and validation per request); this writer sends the same requests from the event loop, with the
connection settings that client loaded (kubeconfig or in-cluster), its token refresh included.
Events go out from queues, one lane per share of the objects: each object's Events in the order
they were told, different objects' side by side (with one poster for all, a 10,000-pool cold start
filled the queue and lost 7,913 of its some 30,000 Events). A lane holds so many routine Events;
beyond that a new routine one is dropped and logged, but the notice of a step that takes nodes or a
pool away (`DISRUPTION_NOTICES`) is always queued. A failed post is logged and dropped: an Event is
a notice, never a reason to fail a pass (the status, written before the step, is the record).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from azbatch_operator.convergence import DISRUPTION_NOTICES
from azbatch_operator.logs import get_logger

MERGE_PATCH = "application/merge-patch+json"
COMPONENT = "azbatch-operator"
EVENT_QUEUE = 10_000  # routine Events waiting to be posted; beyond that, new ones are dropped and logged
EVENT_LANES = 8  # Events posted at once, each lane for its share of the objects


def ssl_context(configuration: k8s.Configuration) -> ssl.SSLContext | None:
    """TLS as the official client sets it up: the cluster's CA, a client certificate if the
    credential is one, verification off only where the kubeconfig says `insecure-skip-tls-verify`."""
    if not str(configuration.host).startswith("https:"):
        return None
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file or None)
    return context


def event_body(
    involved: Mapping[str, Any], type_: str, reason: str, message: str, *, now: datetime
) -> dict[str, Any]:
    """A core/v1 Event about `involved` (apiVersion, kind, namespace, name, uid), as `kubectl
    describe` and `kubectl get events` show it."""
    stamp = now.isoformat()
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{involved.get('name')}.", "namespace": involved.get("namespace")},
        "involvedObject": dict(involved),
        "type": type_,
        "reason": reason,
        "message": message,
        "action": reason,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": _INSTANCE,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "count": 1,
    }


_INSTANCE = f"{COMPONENT}-{uuid.uuid4().hex[:8]}"


class LoopWriter:
    def __init__(self, configuration: k8s.Configuration) -> None:
        self._configuration = configuration
        self._host = str(configuration.host).rstrip("/")
        self._ssl = ssl_context(configuration)
        self._session: aiohttp.ClientSession | None = None
        self._lanes: list[asyncio.Queue[dict[str, Any]]] = [asyncio.Queue() for _ in range(EVENT_LANES)]
        self._posters: list[asyncio.Task[None] | None] = [None] * EVENT_LANES

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        # The official client's lookup: it calls the credential's refresh hook (a rotated
        # service-account token, an exec plugin) before handing out the header.
        authorization = self._configuration.get_api_key_with_prefix("authorization")
        if authorization:
            headers["Authorization"] = authorization
        return headers

    async def patch_status(self, path: str, status: Mapping[str, Any]) -> None:
        """Merge-patch `{"status": status}` onto the object at `path` (`/apis/.../name`)."""
        await self._send("PATCH", f"{path}/status", {"status": dict(status)}, MERGE_PATCH)

    def event(self, involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Queue an Event about `involved`; it is posted shortly, in order (called from the loop)."""
        body = event_body(involved, type_, reason, message, now=datetime.now(UTC))
        lane = hash(involved.get("uid") or involved.get("name")) % EVENT_LANES
        if self._lanes[lane].qsize() >= EVENT_QUEUE // EVENT_LANES and reason not in DISRUPTION_NOTICES:
            get_logger().warning("event dropped: too many waiting", reason=reason)
            return
        self._lanes[lane].put_nowait(body)
        poster = self._posters[lane]
        if poster is None or poster.done():
            self._posters[lane] = asyncio.get_running_loop().create_task(self._post_events(self._lanes[lane]))

    async def _post_events(self, lane: asyncio.Queue[dict[str, Any]]) -> None:
        while not lane.empty():
            body = lane.get_nowait()
            namespace = body["metadata"]["namespace"]
            try:
                await self._send("POST", f"/api/v1/namespaces/{namespace}/events", body, "application/json")
            except (ApiException, aiohttp.ClientError, TimeoutError) as error:
                get_logger().warning("event not posted", reason=body["reason"], error=str(error))

    async def _send(self, method: str, path: str, body: Mapping[str, Any], content_type: str) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        extra: dict[str, Any] = {}
        if self._configuration.tls_server_name:
            extra["server_hostname"] = self._configuration.tls_server_name
        async with self._session.request(
            method,
            f"{self._host}{path}",
            data=json.dumps(body),
            headers=self._headers(content_type),
            ssl=self._ssl if self._ssl is not None else True,
            **extra,
        ) as response:
            answer = await response.read()
            if response.status >= 400:
                error = ApiException(status=response.status, reason=response.reason or "")
                error.body = answer.decode("utf-8", "replace")
                raise error

    async def close(self) -> None:
        """Post the Events still waiting (for up to five seconds), then close the session."""
        posting = [poster for poster in self._posters if poster is not None and not poster.done()]
        if posting:
            _, late = await asyncio.wait(posting, timeout=5.0)
            for poster in late:
                poster.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None
