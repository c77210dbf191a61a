"""Reads Secrets, writes `/status`, learns the cluster id — through the official `kubernetes` client.

kopf owns the watch, finalizers and events; the reconciler writes status itself (merge patch on
the status subresource) because it writes it in the middle of a multi-step flow, before the Azure
call the status announces. Status writes and Events, the hot path, go from the event loop
(`LoopWriter`) with the connection settings the official client loaded; everything else goes
through that client.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# kopf's own namespace matching, so the flows read are those of the namespaces kopf watches.
from kopf._cogs.structs.references import NamespaceName, match_namespace, select_specific_namespaces
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from azbatch_operator.kube.loop_writes import LoopWriter
from azbatch_operator.logs import get_logger

_log = get_logger()

GROUP = "azbatch.dev"
VERSION = "v1alpha1"
PLURAL = "batchpools"
# Objects per page when the operator reads a whole collection (its own start-up read, and kopf's
# list before each watch): client-go's pager default. Ten thousand BatchPools are some 80 MB as one
# answer; in pages, one page at a time is held, and a real API server is never asked for all at once.
LIST_PAGE = 500
READ_AGAIN_AFTER_EXPIRY = 3  # reads of a whole collection begun again after a 410 between pages


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


DIGEST_KEY_ITEM = "key"
DIGEST_KEY_LABELS = {
    "app.kubernetes.io/name": "azbatch-operator",
    "app.kubernetes.io/component": "digest-key",
}


@dataclass(frozen=True)
class DigestKeyError(Exception):
    """The digest key Secret cannot be read or made; the message says what to grant or fix."""

    namespace: str
    name: str
    status: int | None

    def __str__(self) -> str:
        where = f"Secret {self.namespace}/{self.name}"
        if self.status == 403:
            return (
                f"the operator may not read or create its digest key {where}: grant it get and create on "
                "that Secret (the Helm chart and the kustomize base do), or set AZBATCH_DIGEST_KEY_FILE"
            )
        if self.status is None:
            return f"the digest key {where} lacks a {DIGEST_KEY_ITEM!r} of 16+ bytes: fix or delete it"
        return f"cannot read or create the digest key {where} (HTTP {self.status})"


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
        configuration = configuration or load_client_configuration()
        self._api = k8s.ApiClient(configuration)
        self._writes = LoopWriter(configuration)
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
        await self._writes.patch_status(
            f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}", status
        )

    def event(self, involved: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        """Tell an Event about the object `involved` (apiVersion, kind, namespace, name, uid)."""
        self._writes.event(involved, type_, reason, message)

    async def pools_in_disruption(
        self, namespaces: Sequence[str] = (), *, page: int = LIST_PAGE
    ) -> list[tuple[str, str, str]]:
        """(account ARM id, uid, namespace/name) of every BatchPool the operator serves whose status
        says a recreate or a scale to zero is under way: they keep their place in the disruption
        budget across a restart.

        `namespaces` are the operator's `--namespace` patterns (kopf's syntax; none: every
        namespace). Only their BatchPools are read: an operator limited to some namespaces may not
        list the others, and a flow it does not serve would hold a place it never gives up.

        Read `page` BatchPools at a time. A 410 between pages (the first page's snapshot is gone
        from the server's history) reads the collection again from its start, as client-go does;
        after READ_AGAIN_AFTER_EXPIRY such reads, once more in one answer, which cannot expire: a
        flow under way left out would let another start beside it, beyond the budget."""
        found: list[tuple[str, str, str]] = []
        for namespace in await self._served(namespaces) if namespaces else [None]:
            found.extend(await self._flows_in(namespace, page))
        return found

    async def _served(self, patterns: Sequence[str]) -> list[str]:
        """The namespaces the patterns select, as kopf selects those it watches: by their names
        when no pattern is a glob, else among the namespaces that exist."""
        named: list[str] = sorted(select_specific_namespaces(patterns))
        if len(named) == len(patterns):
            return named
        try:
            listed = await asyncio.to_thread(self._core.list_namespace)
        except ApiException as error:  # kopf falls back to the plain names too
            _log.warning("namespaces not listed: flows under way read only where named", status=error.status)
            return named
        names = [str(item.metadata.name) for item in listed.items or () if item.metadata is not None]
        return sorted({n for n in names if any(match_namespace(NamespaceName(n), p) for p in patterns)})

    async def _flows_in(self, namespace: str | None, page: int) -> list[tuple[str, str, str]]:
        for size in [*([page] * READ_AGAIN_AFTER_EXPIRY), None]:
            try:
                return await self._flows_in_pages(namespace, size)
            except ApiException as error:
                if error.status != 410:
                    _log.warning(
                        "flows under way not read: each takes its budget place when its pool is reconciled",
                        namespace=namespace or "*",
                        status=error.status,
                    )
                    return []
        return []

    async def _flows_in_pages(self, namespace: str | None, page: int | None) -> list[tuple[str, str, str]]:
        found: list[tuple[str, str, str]] = []
        token = ""
        while True:
            paging: dict[str, Any] = {} if page is None else {"limit": page, "_continue": token}
            if namespace is None:
                listed = await asyncio.to_thread(
                    self._custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, **paging
                )
            else:
                listed = await asyncio.to_thread(
                    self._custom.list_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, **paging
                )
            listed = listed if isinstance(listed, dict) else {}
            found.extend(flow for item in listed.get("items") or () if (flow := _in_disruption(item)))
            token = (listed.get("metadata") or {}).get("continue") or ""
            if not token:
                return found

    async def digest_key(self, namespace: str, name: str) -> bytes:
        """The operator's digest key from its own Secret, made once with 32 random bytes when missing.

        Every replica and every restart reads the same Secret, so a new pod never sees the digests
        in pool metadata as changed. A replica that loses the race to create it reads the winner's."""
        for _ in range(3):
            try:
                found = await asyncio.to_thread(self._core.read_namespaced_secret, name, namespace)
            except ApiException as error:
                if error.status != 404:
                    raise DigestKeyError(namespace, name, error.status) from None
            else:
                key = base64.b64decode((found.data or {}).get(DIGEST_KEY_ITEM, ""))
                if len(key) < 16:
                    raise DigestKeyError(namespace, name, None)
                return key
            body = k8s.V1Secret(
                metadata=k8s.V1ObjectMeta(name=name, namespace=namespace, labels=DIGEST_KEY_LABELS),
                type="Opaque",
                data={DIGEST_KEY_ITEM: base64.b64encode(secrets.token_hex(32).encode()).decode()},
            )
            try:
                await asyncio.to_thread(self._core.create_namespaced_secret, namespace, body)
            except ApiException as error:
                if error.status != 409:  # 409: another replica made it first; read theirs
                    raise DigestKeyError(namespace, name, error.status) from None
        raise DigestKeyError(namespace, name, None)

    @property
    def api_client(self) -> k8s.ApiClient:
        return self._api

    async def close(self) -> None:
        await self._writes.close()
        self._api.close()  # type: ignore[no-untyped-call]


def _in_disruption(item: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(account ARM id, uid, namespace/name) of a BatchPool in a recreate or a scale to zero."""
    status = item.get("status") or {}
    if not (status.get("recreate") or status.get("scaleToZero")):
        return None
    meta = item.get("metadata") or {}
    account = (item.get("spec") or {}).get("account") or {}
    arm_id = (
        f"/subscriptions/{account.get('subscriptionId')}/resourceGroups/{account.get('resourceGroup')}"
        f"/providers/Microsoft.Batch/batchAccounts/{account.get('accountName')}"
    )
    return arm_id, str(meta.get("uid", "")), f"{meta.get('namespace')}/{meta.get('name')}"
