"""What differs between a DesiredPool and an ObservedPool, field by field, with readable reasons.

Both sides are already in the comparable normal form (``rendering.normalise``), so this module
only walks and explains. Secret-backed fields are compared through their digests; the operator's
own metadata items (owner, digests) are reconciled as part of ``metadata``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from azbatch_operator.planning.fields import ChangeKind, kind_of
from azbatch_operator.rendering import (
    ADOPTED_METADATA,
    DIGEST_PREFIX,
    EXTENSIONS_PATH,
    OWNER_METADATA,
    DesiredPool,
    ObservedPool,
    SecretEntity,
)
from azbatch_operator.rendering.secrets import RecordedDigest

MAX_DETAILS: Final = 4
MAX_VALUE_CHARS: Final = 60
_DEPLOYMENT: Final = "deploymentConfiguration"


@dataclass(frozen=True)
class Change:
    """One field that differs. ``prop`` is the top-level pool property a PATCH would carry."""

    field: str
    prop: str
    kind: ChangeKind
    reason: str


@dataclass(frozen=True)
class Differences:
    changes: tuple[Change, ...]
    notes: tuple[str, ...]
    metadata: list[dict[str, str]]  # the full metadata list the pool must end up with
    rekeyed: tuple[SecretEntity, ...] = ()  # digests made under another key: recorded again


class DigestVerdict(enum.Enum):
    EQUAL = "equal"
    MISSING = "missing"  # an adopted or hand-made pool: nothing to compare with
    OLD_FORMAT = "old-format"  # equal, written without a key id: record it again with one
    OTHER_KEY = "other-key"  # made under another key: cannot be compared, never a change
    CHANGED = "changed"


def compare_digest(desired: str, desired_legacy: str | None, present: str | None) -> DigestVerdict:
    """How a recorded digest relates to the one the spec's Secrets give now (rendering.secrets)."""
    if present is None:
        return DigestVerdict.MISSING
    if present == desired:
        return DigestVerdict.EQUAL
    recorded, wanted = RecordedDigest.parse(present), RecordedDigest.parse(desired)
    if recorded.legacy:
        return DigestVerdict.OLD_FORMAT if present == desired_legacy else DigestVerdict.OTHER_KEY
    if recorded.digest is None or wanted.digest is None:
        return DigestVerdict.CHANGED  # a secret was added or removed: no key is needed to see that
    if recorded.key_id == wanted.key_id:
        return DigestVerdict.CHANGED
    return DigestVerdict.OTHER_KEY


def rekeyed_warning(entities: tuple[SecretEntity, ...]) -> str:
    """What to tell the user when digests were recorded again under the operator's current key."""
    names = ", ".join(str(e) for e in entities)
    return (
        f"The secret digests of {names} were made under another digest key (a second operator, a chart "
        "re-installed without digestKey.existingSecret, or a rotated key): recorded again under the current "
        "key, with no recreate. A change to their Secrets made in between cannot be seen: if you changed "
        "one, change it again to have it applied."
    )


def no_key_note(entities: tuple[SecretEntity, ...]) -> str:
    """Why an offline plan did not compare these entities' Secrets, and how to have it do so."""
    names = ", ".join(str(e) for e in entities)
    return (
        f"secret-backed fields of {names} were not compared: no digest key was given (pass the operator's "
        "key with --digest-key-file PATH or in AZBATCH_DIGEST_KEY_FILE, which `azbatch-emulator env` sets "
        "for the emulator's pools; in a cluster: item 'key' of the Secret azbatch-operator-digest-key, "
        "by default)"
    )


def extension_field(name: str) -> str:
    return f"{EXTENSIONS_PATH}[{name}]"


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(not set)"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


_ABSENT: Final = object()


def leaf_differences(desired: Any, observed: Any, path: str = "") -> list[str]:
    """``path: observed -> desired`` for each differing leaf (objects walked, lists compared whole)."""
    if desired == observed:
        return []
    if isinstance(desired, Mapping) and isinstance(observed, Mapping):
        out: list[str] = []
        for key in sorted(set(desired) | set(observed)):
            child = f"{path}.{key}" if path else str(key)
            out += leaf_differences(desired.get(key, _ABSENT), observed.get(key, _ABSENT), child)
        return out
    return [f"{path or 'value'}: {_show(observed)} -> {_show(desired)}"]


def _summary(details: list[str]) -> str:
    shown = "; ".join(details[:MAX_DETAILS])
    more = len(details) - MAX_DETAILS
    return shown + (f"; and {more} more" if more > 0 else "")


def _property_change(prop: str, desired: Any, observed: Any) -> Change:
    details = leaf_differences(
        desired if desired is not None else _ABSENT, observed if observed is not None else _ABSENT, prop
    )
    return Change(field=prop, prop=prop, kind=kind_of(prop), reason=f"{prop} differs: {_summary(details)}")


def _extensions(value: Mapping[str, Any] | None) -> dict[str, Any]:
    vmc = (value or {}).get("virtualMachineConfiguration") or {}
    return {str(e.get("name")): e for e in vmc.get("extensions") or []}


def _without_extensions(value: Mapping[str, Any] | None) -> dict[str, Any]:
    if not value:
        return {}
    vmc = dict(value.get("virtualMachineConfiguration") or {})
    vmc.pop("extensions", None)
    rest = {k: v for k, v in value.items() if k != "virtualMachineConfiguration"}
    return {**rest, "virtualMachineConfiguration": vmc} if vmc else rest


def _extension_changes(desired: Mapping[str, Any] | None, observed: Mapping[str, Any] | None) -> list[Change]:
    wanted, present = _extensions(desired), _extensions(observed)
    changes = []
    for name in sorted(set(wanted) | set(present)):
        if name not in present:
            what = f"extension {name!r} is added"
        elif name not in wanted:
            what = f"extension {name!r} is removed"
        elif wanted[name] != present[name]:
            what = f"extension {name!r} changed: {_summary(leaf_differences(wanted[name], present[name]))}"
        else:
            continue
        changes.append(Change(extension_field(name), _DEPLOYMENT, ChangeKind.EXTENSION, what))
    return changes


def _entity_from_digest_name(name: str) -> SecretEntity:
    kind, _, entity_name = name[len(DIGEST_PREFIX) :].partition(".")
    return SecretEntity(kind, entity_name)


def _secret_change(entity: SecretEntity) -> Change:
    if entity.kind == "extension":
        return Change(
            extension_field(entity.name),
            _DEPLOYMENT,
            ChangeKind.EXTENSION,
            f"the protected settings of extension {entity.name!r} changed (their Secret value differs)",
        )
    prop = {"user": "userAccounts", "mount": "mountConfiguration", "registry": _DEPLOYMENT}.get(entity.kind)
    prop = prop or entity.name.split(".", 1)[0].split("[", 1)[0]
    return Change(prop, prop, kind_of(prop), f"the Secret value behind {entity} changed")


def _comparable_changes(desired: DesiredPool, observed: ObservedPool) -> list[Change]:
    changes: list[Change] = []
    want, have = desired.comparable, observed.comparable
    for prop in sorted((set(want) | set(have)) - {"metadata"}):
        wanted, present = want.get(prop), have.get(prop)
        if prop == _DEPLOYMENT:
            changes += _extension_changes(wanted, present)
            wanted, present = _without_extensions(wanted), _without_extensions(present)
            wanted, present = wanted or None, present or None
        if prop == "displayName" and wanted is None and present == desired.pool_name:
            continue  # Azure shows the pool name when no display name was given
        if wanted != present:
            changes.append(_property_change(prop, wanted, present))
    return changes


def differences(desired: DesiredPool, observed: ObservedPool) -> Differences:
    changes = _comparable_changes(desired, observed)
    notes: list[str] = []
    metadata_reasons: list[str] = []

    wanted_user = desired.comparable.get("metadata") or []
    if wanted_user != (observed.comparable.get("metadata") or []):
        details = leaf_differences(
            {i["name"]: i["value"] for i in wanted_user},
            {i["name"]: i["value"] for i in observed.comparable.get("metadata") or []},
            "metadata",
        )
        metadata_reasons.append(f"metadata differs: {_summary(details)}")
    if observed.owner != desired.owner:
        metadata_reasons.append(
            f"record the owner tag {OWNER_METADATA}={desired.owner}"
            + (f" (was {observed.owner})" if observed.owner else "")
        )

    operator_items = dict(desired.operator_metadata)
    for entity in desired.unresolved:
        notes.append(
            f"secret-backed fields of {entity} were not compared: its Secret values are not available "
            "(put its Secret in the manifest file to compare them)"
        )
    unkeyed = list(desired.unkeyed)
    rekeyed: list[SecretEntity] = []
    for name, digest in desired.secret_digests.items():
        entity = _entity_from_digest_name(name)
        verdict = compare_digest(digest, desired.legacy_digests.get(name), observed.secret_digests.get(name))
        if verdict is DigestVerdict.OTHER_KEY and not desired.digest_key_id:
            unkeyed.append(entity)  # a digest from before key ids: without the key, no telling
        elif verdict is DigestVerdict.MISSING:
            text = (
                f"no secret digest recorded for {entity}: assumed unchanged (adopted or hand-made pool); "
                "the digest is recorded now"
            )
            notes.append(text)
            metadata_reasons.append(f"record the secret digest of {entity}")
        elif verdict is DigestVerdict.OLD_FORMAT:
            metadata_reasons.append(f"record the secret digest of {entity} with its key id")
        elif verdict is DigestVerdict.OTHER_KEY:
            rekeyed.append(entity)
            metadata_reasons.append(f"record the secret digest of {entity} under the current digest key")
        elif verdict is DigestVerdict.CHANGED:
            changes.append(_secret_change(entity))
    if rekeyed:
        notes.append(rekeyed_warning(tuple(rekeyed)))
    if unkeyed:
        notes.append(no_key_note(tuple(unkeyed)))
    for entity in (*desired.unresolved, *unkeyed):
        kept = observed.secret_digests.get(entity.metadata_name)
        if kept is not None:
            operator_items[entity.metadata_name] = kept
    stale = set(observed.secret_digests) - set(operator_items)
    if stale:
        metadata_reasons.append(f"remove {len(stale)} secret digest(s) of entities no longer in the spec")

    metadata = [{"name": i["name"], "value": i["value"]} for i in desired.properties.get("metadata") or []]
    metadata = [i for i in metadata if not i["name"].startswith(DIGEST_PREFIX)]
    metadata += [
        {"name": n, "value": operator_items[n]} for n in sorted(operator_items) if n.startswith(DIGEST_PREFIX)
    ]
    if observed.adopted:  # kept: it is what makes destroying an adopted pool need approval
        metadata.append({"name": ADOPTED_METADATA, "value": dict(observed.metadata)[ADOPTED_METADATA]})
    wanted_pairs = sorted((i["name"], i["value"]) for i in metadata)
    if wanted_pairs != sorted(observed.metadata):
        reason = "; ".join(metadata_reasons) or "record the new secret digest(s)"
        changes.append(Change("metadata", "metadata", ChangeKind.LIVE, reason))
    return Differences(
        changes=tuple(_dedupe(changes)), notes=tuple(notes), metadata=metadata, rekeyed=tuple(rekeyed)
    )


def _dedupe(changes: list[Change]) -> list[Change]:
    """One change per field: a secret change and a visible change of the same extension merge."""
    merged: dict[str, Change] = {}
    for change in changes:
        first = merged.get(change.field)
        merged[change.field] = (
            change
            if first is None
            else Change(first.field, first.prop, first.kind, f"{first.reason}; {change.reason}")
        )
    return list(merged.values())
