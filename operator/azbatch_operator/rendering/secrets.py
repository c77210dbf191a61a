"""Secret references in a spec: where they are, what they resolve to, and their keyed digests.

Every secret field of a spec (extension ``protectedSettings``, user passwords and SSH keys,
mount keys, registry passwords) is ``{"secretKeyRef": {"name": ..., "key": ...}}``. Azure never
returns these values, so a change is detected with a digest stored in pool metadata:

    azbatch.dev/secret-digest.<kind>.<name> = <key id>.<digest>
        digest = HMAC-SHA256(operator key, kind, name, values), truncated to 128 bits
        or ``none`` when the entity holds no secret-backed field

A digest covers one *entity* (an extension, a user account, a mount), not one field, so that
the planner can say which extension or account changed. Without the operator's key the digest
cannot be brute-forced (docs/architecture.md); it is still never written to status or logs.

The key id (an HMAC of a fixed label under the key) says which key made a digest and reveals
nothing about the key or the values. A digest made under another key cannot be compared, so it
is recorded again instead of being read as a change: a new key (a second operator, a chart
re-install, a rotation) must never look like a changed Secret. An entity without secrets is
recorded as ``none`` under any key, so adding or removing a secret is still a change.
Values written before key ids existed (bare 32-hex digests) are compared as they were made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from azbatch_operator.models import SecretKeyRef
from azbatch_operator.rendering.normalise import RESERVED_METADATA_PREFIX

DIGEST_PREFIX: Final = f"{RESERVED_METADATA_PREFIX}secret-digest."
DIGEST_BITS: Final = 128
MIN_KEY_BYTES: Final = 16

_VMC: Final = ("deploymentConfiguration", "virtualMachineConfiguration")
# (kind, list path) of the entities a secret belongs to, and the field naming each item.
_ENTITY_LISTS: Final = (
    ("extension", (*_VMC, "extensions"), "name"),
    ("user", ("userAccounts",), "name"),
    ("mount", ("mountConfiguration",), "relativeMountPath"),
    (
        "registry",
        (
            "deploymentConfiguration",
            "virtualMachineConfiguration",
            "containerConfiguration",
            "containerRegistries",
        ),
        "registryServer",
    ),
)
# Entities that get a digest even without secrets, so that adding a secret later is a change
# and not "a digest is missing" (which the planner treats as an adopted pool: assumed equal).
ALWAYS_DIGESTED: Final = frozenset({"extension", "user"})
# Secret values that must be JSON objects (Azure takes them as objects, not strings).
JSON_OBJECT_FIELDS: Final = frozenset({"protectedSettings"})


class SecretValueError(ValueError):
    """A secret the spec references cannot be used; the message says which field and what to do."""


@dataclass(frozen=True, order=True)
class SecretEntity:
    """What a digest covers: an extension, a user account, a mount (or another secret field)."""

    kind: str
    name: str

    @property
    def metadata_name(self) -> str:
        return f"{DIGEST_PREFIX}{self.kind}.{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}"


@dataclass(frozen=True)
class SecretSlot:
    """One secretKeyRef in the spec: its location, the entity it belongs to, and the reference."""

    path: tuple[str | int, ...]
    entity: SecretEntity
    field: str  # path inside the entity, e.g. "protectedSettings", "azureFileShareConfiguration.accountKey"
    ref: SecretKeyRef

    @property
    def spec_path(self) -> str:
        return "spec." + format_path(self.path)


def format_path(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def as_secret_key_ref(value: Any) -> SecretKeyRef | None:
    """``{"secretKeyRef": {"name": n, "key": k}}`` -> SecretKeyRef (the models' selector), else None."""
    if not isinstance(value, Mapping) or set(value) != {"secretKeyRef"}:
        return None
    ref = value["secretKeyRef"]
    if not isinstance(ref, Mapping):
        return None
    name, key = ref.get("name"), ref.get("key")
    if not isinstance(name, str) or not isinstance(key, str):
        return None
    return SecretKeyRef(name=name, key=key)


def _walk(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], SecretKeyRef]]:
    ref = as_secret_key_ref(node)
    if ref is not None:
        yield path, ref
    elif isinstance(node, Mapping):
        for key, child in node.items():
            yield from _walk(child, (*path, str(key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(child, (*path, index))


def _get(document: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        if isinstance(part, int):
            document = document[part] if isinstance(document, list) and part < len(document) else None
        else:
            document = document.get(part) if isinstance(document, Mapping) else None
    return document


def _item_name(item: Any, name_field: str, index: int) -> str:
    """The name of a list item; mounts carry theirs one level down (per file-system type)."""
    if isinstance(item, Mapping):
        if isinstance(item.get(name_field), str):
            return str(item[name_field])
        for inner in item.values():
            if isinstance(inner, Mapping) and isinstance(inner.get(name_field), str):
                return str(inner[name_field])
    return str(index)


def _entity_of(document: Mapping[str, Any], path: tuple[str | int, ...]) -> tuple[SecretEntity, str]:
    for kind, list_path, name_field in _ENTITY_LISTS:
        depth = len(list_path)
        if path[:depth] == list_path and len(path) > depth and isinstance(path[depth], int):
            index = path[depth]
            assert isinstance(index, int)
            item = _get(document, (*list_path, index))
            return SecretEntity(kind, _item_name(item, name_field, index)), format_path(path[depth + 1 :])
    return SecretEntity("field", format_path(path)), ""


def secret_slots(document: Mapping[str, Any]) -> list[SecretSlot]:
    """Every secretKeyRef in a spec document (camelCase dict), in document order."""
    slots = []
    for path, ref in _walk(document, ()):
        entity, field = _entity_of(document, path)
        slots.append(SecretSlot(path=path, entity=entity, field=field, ref=ref))
    return slots


def always_digested_entities(document: Mapping[str, Any]) -> list[SecretEntity]:
    """Extensions and user accounts: digested whether or not they reference a Secret today."""
    entities = []
    for kind, list_path, name_field in _ENTITY_LISTS:
        if kind in ALWAYS_DIGESTED:
            items = _get(document, list_path) or []
            entities += [SecretEntity(kind, _item_name(item, name_field, i)) for i, item in enumerate(items)]
    return entities


NO_SECRETS: Final = "none"
_KEY_ID_LABEL: Final = b"azbatch.dev/digest-key-id"
KEY_ID_HEX: Final = 16


def key_id(key: bytes) -> str:
    """Which key made a digest: 64 bits of an HMAC of a fixed label, so it says nothing of the key."""
    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:KEY_ID_HEX]


def recorded_digest(key: bytes, entity: SecretEntity, values: Mapping[str, Any]) -> str:
    """The metadata value for one entity: ``none`` without secret values, else ``<key id>.<digest>``."""
    if not values:
        return NO_SECRETS
    return f"{key_id(key)}.{secret_digest(key, entity, values)}"


@dataclass(frozen=True)
class RecordedDigest:
    """A digest value read back from pool metadata."""

    key_id: str | None  # None: no secrets (``none``) or a value from before key ids existed
    digest: str | None  # None: no secrets
    legacy: bool = False  # a bare digest without key id (written by an older operator)

    @classmethod
    def parse(cls, value: str) -> RecordedDigest:
        if value == NO_SECRETS:
            return cls(None, None)
        made_by, dot, digest = value.partition(".")
        if dot:
            return cls(made_by, digest)
        return cls(None, value, legacy=True)


def secret_digest(key: bytes, entity: SecretEntity, values: Mapping[str, Any]) -> str:
    """HMAC-SHA256 over the entity and its secret values, truncated to 128 bits (hex)."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"the secret digest key must be at least {MIN_KEY_BYTES} bytes; a short key makes the digests "
            "stored in pool metadata guessable"
        )
    message = json.dumps(
        {"kind": entity.kind, "name": entity.name, "values": values}, sort_keys=True, separators=(",", ":")
    ).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[: DIGEST_BITS // 4]


def resolve_value(slot: SecretSlot, secrets: Mapping[tuple[str, str], str]) -> Any:
    """The value to send to Azure for one secret slot, or SecretValueError saying what to fix."""
    lookup = (slot.ref.name, slot.ref.key)
    if lookup not in secrets:
        raise SecretValueError(
            f"{slot.spec_path} refers to key {slot.ref.key!r} of Secret {slot.ref.name!r}, which was not "
            f"found: create the Secret in the pool's namespace with that key, or fix the secretKeyRef"
        )
    value = secrets[lookup]
    last = slot.path[-1] if slot.path else ""
    if last not in JSON_OBJECT_FIELDS:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise SecretValueError(
            f"{slot.spec_path}: key {slot.ref.key!r} of Secret {slot.ref.name!r} must hold a JSON object "
            '(e.g. {"commandToExecute": "..."}) because Azure takes protectedSettings as an object; '
            "store the object as JSON text in the Secret"
        )
    return parsed


def field_pattern(path: Sequence[str | int]) -> str:
    """``("userAccounts", 0, "password")`` -> ``"userAccounts[].password"`` (the form of SECRET_FIELDS)."""
    text = ""
    for part in path:
        text += "[]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def inline_secrets(document: Mapping[str, Any], secret_fields: frozenset[str]) -> list[str]:
    """Paths of secret fields written inline (anything but a secretKeyRef or an empty value)."""
    found: list[str] = []

    def visit(node: Any, path: tuple[str | int, ...]) -> None:
        if field_pattern(path) in secret_fields:
            if as_secret_key_ref(node) is None and node not in (None, "", {}):
                found.append("spec." + format_path(path))
            return
        if isinstance(node, Mapping):
            for key, child in node.items():
                visit(child, (*path, str(key)))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                visit(child, (*path, index))

    visit(document, ())
    return found
