"""The API server's rules for writes, as pure functions of plain dicts (the one documented place).

Everything kmock's stock emulator lacks and kopf or kubectl relies on is decided here:

- create: ``metadata.name`` or ``generateName`` (unique suffix), ``namespace`` from the URL,
  ``uid``, ``resourceVersion``, ``generation: 1``, ``creationTimestamp``, ``apiVersion``/``kind``;
  ``.status`` is dropped when the resource has a status subresource;
- update: ``resourceVersion`` bumped on every effective write (a no-op write changes nothing and
  emits no watch event), ``generation`` bumped only when something outside ``metadata`` and
  ``status`` changes; server-owned metadata cannot be overwritten; a write to ``/status`` changes
  only ``.status``; a write to the main resource ignores ``.status`` when ``/status`` exists;
  a stale ``resourceVersion`` in the body is a conflict;
- delete: with finalizers, only ``deletionTimestamp`` is set (and ``generation`` bumped); the
  object goes once the last finalizer is removed; no finalizer may be added while deleting.
"""

from __future__ import annotations

import base64
import copy
import datetime
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from azbatch_kubemock.resources import ResourceSpec

# Metadata that only the server writes; a client's value is ignored on update.
SERVER_OWNED_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "selfLink",
)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's: no vowels, no look-alikes
_SUFFIX_LENGTH = 5


class WriteRejectedError(ValueError):
    """A write the API server refuses; ``kind`` says how (bad_request, invalid, conflict)."""

    def __init__(self, kind: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field


def now_timestamp() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate_name(prefix: str, taken: Callable[[str], bool]) -> str:
    """``prefix`` plus a random 5-character suffix not yet taken (as the API server names them)."""
    for _ in range(100):
        suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(_SUFFIX_LENGTH))
        if not taken(prefix + suffix):
            return prefix + suffix
    raise WriteRejectedError("conflict", f"could not generate a unique name from generateName {prefix!r}")


def check_name(name: str) -> None:
    if len(name) > 253 or not _NAME.match(name):
        raise WriteRejectedError(
            "invalid",
            f"Invalid value: {name!r}: a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            "metadata.name",
        )


def spec_part(body: Mapping[str, Any]) -> dict[str, Any]:
    """What ``generation`` tracks: every top-level field except metadata, status, apiVersion, kind."""
    return {k: v for k, v in body.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def new_object(
    body: Any,
    spec: ResourceSpec,
    *,
    url_namespace: str | None,
    resource_version: int,
    taken: Callable[[str], bool],
) -> dict[str, Any]:
    """The stored form of a created object; raises ``WriteRejectedError`` for what the server refuses."""
    if not isinstance(body, dict):
        raise WriteRejectedError("bad_request", "the request body must be a JSON object")
    obj = copy.deepcopy(body)
    if obj.get("kind") not in (None, spec.kind) or obj.get("apiVersion") not in (None, spec.api_version):
        raise WriteRejectedError(
            "bad_request",
            f"the API version in the data ({obj.get('apiVersion')}, kind {obj.get('kind')}) does not match "
            f"the expected API version ({spec.api_version}, kind {spec.kind})",
        )
    obj = {
        "apiVersion": spec.api_version,
        "kind": spec.kind,
        **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
    }
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise WriteRejectedError("bad_request", "metadata must be a JSON object")
    if spec.namespaced:
        if meta.get("namespace") not in (None, "", url_namespace):
            raise WriteRejectedError(
                "bad_request",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        meta["namespace"] = url_namespace
    else:
        meta.pop("namespace", None)
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise WriteRejectedError(
                "invalid", "Required value: name or generateName is required", "metadata.name"
            )
        meta["name"] = generate_name(prefix, taken)
    check_name(meta["name"])
    for key in SERVER_OWNED_METADATA:
        meta.pop(key, None)
    meta["uid"] = str(uuid.uuid4())
    meta["resourceVersion"] = str(resource_version)
    meta["generation"] = 1
    meta["creationTimestamp"] = now_timestamp()
    if spec.status_subresource:
        obj.pop("status", None)
    return obj


def updated_object(
    old: Mapping[str, Any],
    candidate: Any,
    spec: ResourceSpec,
    *,
    to_status: bool,
    require_resource_version: bool = False,
    admit: Callable[[dict[str, Any]], dict[str, Any]] = lambda obj: obj,
) -> dict[str, Any]:
    """The object after a write of ``candidate`` (a patched or replacing body), not yet versioned.

    ``admit`` is the resource's schema step (defaults, pruning, validation), applied before
    ``generation`` is decided so that a pruned field changes nothing. The caller compares the
    result with ``old`` to skip no-op writes and then calls ``versioned``.
    """
    if not isinstance(candidate, dict):
        raise WriteRejectedError("bad_request", "the request body must be a JSON object")
    old_meta = old["metadata"]
    raw_meta = candidate.get("metadata")
    cand_meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    for key in ("name", "namespace"):
        if cand_meta.get(key) not in (None, "", old_meta.get(key)):
            raise WriteRejectedError(
                "bad_request",
                f"the {key} of the object ({cand_meta.get(key)}) does not match the {key} on the URL "
                f"({old_meta.get(key)})",
            )
    sent_version = cand_meta.get("resourceVersion")
    if sent_version in (None, ""):
        if require_resource_version:
            raise WriteRejectedError(
                "invalid", "Invalid value: 0x0: must be specified for an update", "metadata.resourceVersion"
            )
    elif sent_version != old_meta.get("resourceVersion"):
        raise WriteRejectedError("conflict", "the object has been modified")

    if to_status:
        new = copy.deepcopy(dict(old))
        if "status" in candidate:
            new["status"] = copy.deepcopy(candidate["status"])
        else:
            new.pop("status", None)
        return admit(new)

    new = copy.deepcopy(candidate)
    new["apiVersion"], new["kind"] = old.get("apiVersion", spec.api_version), old.get("kind", spec.kind)
    meta = new.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise WriteRejectedError("bad_request", "metadata must be a JSON object")
    for key in ("name", "namespace", "resourceVersion", *SERVER_OWNED_METADATA):
        if key in old_meta:
            meta[key] = copy.deepcopy(old_meta[key])
        else:
            meta.pop(key, None)
    if spec.status_subresource:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    new = admit(new)
    meta = new["metadata"]
    if old_meta.get("deletionTimestamp"):
        added = [f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
        if added:
            raise WriteRejectedError(
                "invalid",
                f"Forbidden: no new finalizers can be added if the object is being deleted, found new "
                f"finalizers {added}",
                "metadata.finalizers",
            )
    if spec_part(new) != spec_part(old):
        meta["generation"] = int(old_meta.get("generation", 1)) + 1
    return new


def builtin_strategy(spec: ResourceSpec, obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server's strategy for a built-in kind does on every write (Secrets only so far).

    A Secret's write-only ``stringData`` is folded into ``data`` (base64, taking precedence) and
    ``type`` defaults to ``Opaque``, so readers find the values where a real cluster keeps them.
    """
    if (spec.group, spec.plural) != ("", "secrets"):
        return obj
    result = dict(obj)
    string_data = result.pop("stringData", None) or {}
    if not isinstance(string_data, dict) or not all(isinstance(v, str) for v in string_data.values()):
        raise WriteRejectedError("invalid", "Invalid value: stringData values must be strings", "stringData")
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in string_data.items()}
    if encoded or "data" in result:
        result["data"] = {**(result.get("data") or {}), **encoded}
    result.setdefault("type", "Opaque")
    return result


def versioned(obj: dict[str, Any], resource_version: int) -> dict[str, Any]:
    obj["metadata"]["resourceVersion"] = str(resource_version)
    return obj


def marked_for_deletion(old: Mapping[str, Any]) -> dict[str, Any]:
    """An object with finalizers, as a DELETE leaves it: ``deletionTimestamp`` set, generation bumped."""
    new = copy.deepcopy(dict(old))
    meta = new["metadata"]
    meta["deletionTimestamp"] = now_timestamp()
    meta["deletionGracePeriodSeconds"] = 0
    meta["generation"] = int(meta.get("generation", 1)) + 1
    return new


def is_released(obj: Mapping[str, Any]) -> bool:
    """Marked for deletion with no finalizer left: the server removes it now."""
    meta = obj.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers")


def check_delete_preconditions(old: Mapping[str, Any], options: Any) -> None:
    """``DeleteOptions.preconditions`` (uid, resourceVersion) must match the stored object."""
    preconditions = options.get("preconditions") if isinstance(options, dict) else None
    for key in ("uid", "resourceVersion"):
        wanted = (preconditions or {}).get(key)
        if wanted and wanted != old["metadata"].get(key):
            raise WriteRejectedError("conflict", f"Precondition failed: {key} in precondition: {wanted}")
