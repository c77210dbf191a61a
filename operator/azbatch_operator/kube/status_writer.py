"""Merge-patches the BatchPool status subresource over one shared aiohttp session.

Every reconcile pass that changes a status writes it, so this is the operator's hottest
Kubernetes call: a thousand pools starting at once write two or three statuses each. The official
client runs synchronously (a thread per call, models and validation per request); this writer
sends the same merge patch from the event loop, with the connection settings that client loaded
(kubeconfig or in-cluster), its token refresh included.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

MERGE_PATCH = "application/merge-patch+json"


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


class StatusWriter:
    def __init__(self, configuration: k8s.Configuration) -> None:
        self._configuration = configuration
        self._host = str(configuration.host).rstrip("/")
        self._ssl = ssl_context(configuration)
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": MERGE_PATCH, "Accept": "application/json"}
        # The official client's lookup: it calls the credential's refresh hook (a rotated
        # service-account token, an exec plugin) before handing out the header.
        authorization = self._configuration.get_api_key_with_prefix("authorization")
        if authorization:
            headers["Authorization"] = authorization
        return headers

    async def patch(self, path: str, status: Mapping[str, Any]) -> None:
        """Merge-patch `{"status": status}` onto the object at `path` (`/apis/.../name`)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        extra: dict[str, Any] = {}
        if self._configuration.tls_server_name:
            extra["server_hostname"] = self._configuration.tls_server_name
        async with self._session.patch(
            f"{self._host}{path}/status",
            data=json.dumps({"status": dict(status)}),
            headers=self._headers(),
            ssl=self._ssl if self._ssl is not None else True,
            **extra,
        ) as response:
            body = await response.read()
            if response.status >= 400:
                error = ApiException(status=response.status, reason=response.reason or "")
                error.body = body.decode("utf-8", "replace")
                raise error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
