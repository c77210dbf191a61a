"""Spec (+ resolved Secret values) -> the ARM pool body the operator sends, and its comparable form."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from azbatch_operator.models import BatchPoolSpec, SecretKeyRef
from azbatch_operator.rendering.normalise import SECRET_FIELDS, is_reserved_metadata, normalise_pool
from azbatch_operator.rendering.secrets import (
    SecretEntity,
    SecretSlot,
    SecretValueError,
    always_digested_entities,
    inline_secrets,
    key_id,
    recorded_digest,
    resolve_value,
    secret_digest,
    secret_slots,
)

OWNER_METADATA: Final = "azbatch.dev/owner"
# Written with the owner marker on a pool the operator adopted (did not create): nothing destructive
# is done to such a pool without the user's approval. A recreated pool no longer carries it.
ADOPTED_METADATA: Final = "azbatch.dev/adopted"
# spec keys that are about the operator, not the pool's ARM properties.
OPERATOR_KEYS: Final = frozenset({"account", "poolName", "identity", "policy"})

SpecInput = BatchPoolSpec | Mapping[str, Any]


def spec_document(spec: SpecInput) -> dict[str, Any]:
    """The spec as camelCase JSON, as the ARM body spells it (a mapping is validated first)."""
    model = spec if isinstance(spec, BatchPoolSpec) else BatchPoolSpec.model_validate(spec)
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


@dataclass(frozen=True)
class DesiredPool:
    """What the pool must look like.

    ``body`` is the ARM PUT body with Secret values in it: it is excluded from repr and must only
    be handed to the Azure client. ``comparable`` is secret-free and is what the planner compares.
    ``unresolved`` lists the entities whose Secrets were not available, ``unkeyed`` those whose
    Secret values were there but no digest key to compare them with (both offline ``plan`` only);
    such a DesiredPool can be planned against but its body must not be sent.
    """

    pool_name: str
    owner: str
    comparable: dict[str, Any]
    body: dict[str, Any] = field(repr=False)
    secret_digests: Mapping[str, str] = field(repr=False)
    unresolved: tuple[SecretEntity, ...] = ()
    unkeyed: tuple[SecretEntity, ...] = ()
    # which key made ``secret_digests`` (reveals nothing about it); "" when none did (no key given)
    digest_key_id: str = ""
    # The same digests as an operator without key ids wrote them, to read such pools without a
    # recreate: only an equal old digest proves nothing changed.
    legacy_digests: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.body["properties"]
        return properties

    @property
    def uncompared(self) -> tuple[SecretEntity, ...]:
        """The entities whose digests could not be made: the planner keeps the recorded ones."""
        return (*self.unresolved, *self.unkeyed)

    @property
    def operator_metadata(self) -> dict[str, str]:
        """The operator's own metadata items: the owner tag and the secret digests."""
        return {OWNER_METADATA: self.owner, **self.secret_digests}

    def __str__(self) -> str:
        return f"DesiredPool({self.pool_name!r}, owner={self.owner!r})"


def secret_refs(spec: SpecInput) -> list[SecretKeyRef]:
    """Every Secret name/key the spec references, deduplicated, in first-use order."""
    return list(dict.fromkeys(slot.ref for slot in secret_slots(spec_document(spec))))


def _set(document: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    document[path[-1]] = value


def _delete(document: Any, path: tuple[str | int, ...]) -> None:
    for part in path[:-1]:
        document = document[part]
    del document[path[-1]]


def _pool_name(document: Mapping[str, Any], owner: str, default_pool_name: str | None) -> str:
    name = document.get("poolName") or default_pool_name or owner.rsplit("/", 1)[-1]
    if not name:
        raise ValueError("the pool has no name: set spec.poolName or pass the resource name")
    return str(name)


def render_pool(
    spec: SpecInput,
    *,
    secrets: Mapping[tuple[str, str], str],
    owner: str,
    digest_key: bytes,
    default_pool_name: str | None = None,
    allow_unresolved: bool = False,
    compare_secrets: bool = True,
) -> DesiredPool:
    """Spec + Secret values -> DesiredPool.

    ``secrets`` maps (Secret name, key) to the value. A missing value or a protectedSettings value
    that is not a JSON object raises SecretValueError, unless ``allow_unresolved`` (offline plans):
    then the entity is listed in ``DesiredPool.unresolved`` and its digest is left out.
    ``compare_secrets=False`` (offline, without the operator's digest key) lists every entity
    holding Secret values in ``DesiredPool.unkeyed``, so the plan says their secret-backed fields
    were not compared and why; an entity without any is digested ``none`` under any key, and compared.
    The pool name is ``spec.poolName``, else ``default_pool_name``, else the last part of ``owner``
    (``<cluster id>/<namespace>/<name>``).
    """
    document = spec_document(spec)
    inline = inline_secrets(document, SECRET_FIELDS)
    if inline:
        raise SecretValueError(
            f"{', '.join(inline)}: secrets may not be written inline; put the value in a Kubernetes Secret "
            'and write {"secretKeyRef": {"name": <secret>, "key": <key>}} instead'
        )
    slots = secret_slots(document)
    resolved = copy.deepcopy(document)
    secret_free = copy.deepcopy(document)
    values: dict[SecretEntity, dict[str, Any]] = {}
    unresolved: dict[SecretEntity, None] = {}
    for slot in slots:
        _delete(secret_free, slot.path)
        try:
            value = resolve_value(slot, secrets)
        except SecretValueError:
            if not allow_unresolved:
                raise
            unresolved[slot.entity] = None
            _delete(resolved, slot.path)
            continue
        _set(resolved, slot.path, value)
        values.setdefault(slot.entity, {})[slot.field] = value
    _drop_empty_protected_settings(resolved)

    entities = dict.fromkeys([*always_digested_entities(document), *(s.entity for s in slots)])
    unkeyed = () if compare_secrets else tuple(e for e in entities if e in values and e not in unresolved)
    compared = [entity for entity in entities if entity not in unresolved and entity not in unkeyed]
    digests = {e.metadata_name: recorded_digest(digest_key, e, values.get(e, {})) for e in compared}
    legacy = {e.metadata_name: secret_digest(digest_key, e, values.get(e, {})) for e in compared}
    properties = {k: v for k, v in resolved.items() if k not in OPERATOR_KEYS}
    properties["metadata"] = _merged_metadata(properties.get("metadata") or [], owner, digests)
    body: dict[str, Any] = {"properties": properties}
    if document.get("identity"):
        body["identity"] = document["identity"]
    secret_free_properties = {k: v for k, v in secret_free.items() if k not in OPERATOR_KEYS}
    return DesiredPool(
        pool_name=_pool_name(document, owner, default_pool_name),
        owner=owner,
        comparable=normalise_pool(secret_free_properties, document.get("identity")),
        body=body,
        secret_digests=digests,
        unresolved=tuple(unresolved),
        unkeyed=unkeyed,
        digest_key_id=key_id(digest_key) if compared and compare_secrets else "",
        legacy_digests=legacy,
    )


def _drop_empty_protected_settings(document: dict[str, Any]) -> None:
    """The seeds write ``"protectedSettings": {}``; Azure treats it as absent, and so do we."""
    vmc = document.get("deploymentConfiguration", {}).get("virtualMachineConfiguration", {})
    for extension in vmc.get("extensions") or []:
        if extension.get("protectedSettings") in ({}, None):
            extension.pop("protectedSettings", None)


def _merged_metadata(
    user_items: list[Mapping[str, Any]], owner: str, digests: Mapping[str, str]
) -> list[dict[str, str]]:
    items = [
        {"name": str(i["name"]), "value": str(i["value"])}
        for i in user_items
        if not is_reserved_metadata(str(i["name"]))
    ]
    items.append({"name": OWNER_METADATA, "value": owner})
    items += [{"name": name, "value": digests[name]} for name in sorted(digests)]
    return items


__all__ = ["ADOPTED_METADATA", "DesiredPool", "SecretSlot", "render_pool", "secret_refs", "spec_document"]
