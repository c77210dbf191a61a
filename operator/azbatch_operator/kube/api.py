"""Reads Secrets, writes `/status`, learns the cluster id — through the official `kubernetes` client.

kopf owns the watch, finalizers and events; the reconciler writes status itself (merge patch on
the status subresource) because it writes it in the middle of a multi-step flow, before the Azure
call the status announces.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

GROUP = "azbatch.dev"
VERSION = "v1alpha1"
PLURAL = "batchpools"


@dataclass(frozen=True)
class SecretUnreadableError(Exception):
    """A Secret or key the spec names cannot be read; the message says what to do."""

    namespace: str
    secret: str
    key: str
    problem: str  # "missing-secret", "missing-key", "forbidden"

    def __str__(self) -> str:
        if self.problem == "missing-secret":
            return (
                f"Secret {self.namespace}/{self.secret} does not exist: create it with key {self.key!r}"
                " (kubectl create secret generic ...)."
            )
        if self.problem == "missing-key":
            return f"Secret {self.namespace}/{self.secret} has no key {self.key!r}: add it to the Secret."
        return (
            f"The operator may not read Secret {self.namespace}/{self.secret}: grant it `get` on secrets"
            " in this namespace (the Helm chart's watchNamespaces does)."
        )


def load_client_configuration() -> k8s.Configuration:
    """In-cluster when running in a pod, else KUBECONFIG / ~/.kube/config, as kubectl does."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except k8s_config.ConfigException:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            # The library reads KUBECONFIG once, on import; read it now.
            config_file=os.environ.get("KUBECONFIG"),
            client_configuration=configuration,
        )
    return configuration


class KubeGateway:
    def __init__(self, configuration: k8s.Configuration | None = None) -> None:
        self._api = k8s.ApiClient(configuration or load_client_configuration())
        self._core = k8s.CoreV1Api(self._api)
        self._custom = k8s.CustomObjectsApi(self._api)
        self._cluster_id: str | None = None
        self._cluster_id_lock = asyncio.Lock()

    async def cluster_id(self) -> str:
        """The uid of `kube-system`: stable for the cluster's life, unique across clusters. Read
        once: a thousand pools starting together wait for one read, not a thousand."""
        async with self._cluster_id_lock:
            if self._cluster_id is None:
                namespace = await asyncio.to_thread(self._core.read_namespace, "kube-system")
                self._cluster_id = str(namespace.metadata.uid if namespace.metadata else "")
        return self._cluster_id

    async def read_secret_values(
        self, namespace: str, refs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """Values for (secret, key) pairs; each Secret is read once."""
        wanted: dict[str, list[str]] = {}
        for secret, key in refs:
            wanted.setdefault(secret, []).append(key)
        values: dict[tuple[str, str], str] = {}
        for secret, keys in wanted.items():
            data = await self._secret_data(namespace, secret, keys[0])
            for key in keys:
                if key not in data:
                    raise SecretUnreadableError(namespace, secret, key, "missing-key")
                values[(secret, key)] = data[key]
        return values

    async def _secret_data(self, namespace: str, secret: str, first_key: str) -> Mapping[str, str]:
        try:
            found = await asyncio.to_thread(self._core.read_namespaced_secret, secret, namespace)
        except ApiException as error:
            problem = "forbidden" if error.status == 403 else "missing-secret"
            raise SecretUnreadableError(namespace, secret, first_key, problem) from None
        decoded = {key: base64.b64decode(value).decode("utf-8") for key, value in (found.data or {}).items()}
        decoded.update(found.string_data or {})
        return decoded

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """Merge-patch the status subresource (null values remove fields)."""
        await asyncio.to_thread(
            self._custom.patch_namespaced_custom_object_status,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            {"status": dict(status)},
        )

    @property
    def api_client(self) -> k8s.ApiClient:
        return self._api

    def close(self) -> None:
        self._api.close()  # type: ignore[no-untyped-call]
