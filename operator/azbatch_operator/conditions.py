"""Conditions with kstatus semantics, as values (pure).

Argo CD, Flux (kstatus) and `kubectl wait` read the same four conditions:

- `Ready`: the pool matches the spec and is usable.
- `Reconciling`: True while the operator is changing something (creating, patching, resizing,
  recreating); the reason says which.
- `Stalled`: True when nothing more happens without the user (invalid spec, a recreate the policy
  forbids, an authentication failure, quota, allocation failure).
- `ExtensionsHealthy`: what the nodes' extension instance views say.
- `NodesHealthy`: what the nodes' states say (start task failed, unusable), with Azure's cause.

`set_condition` is the only way a condition changes: it keeps `lastTransitionTime` unless the
status really changes, so a resync that finds nothing new writes nothing new.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
EXTENSIONS_HEALTHY = "ExtensionsHealthy"
NODES_HEALTHY = "NodesHealthy"
CONDITION_ORDER = (READY, RECONCILING, STALLED, EXTENSIONS_HEALTHY, NODES_HEALTHY)

# Status values are strings in the Kubernetes API.
TRUE = "True"
FALSE = "False"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition_time,
        }
        if self.observed_generation is not None:
            data["observedGeneration"] = self.observed_generation
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        generation = data.get("observedGeneration")
        return cls(
            type=str(data.get("type", "")),
            status=str(data.get("status", UNKNOWN)),
            reason=str(data.get("reason", "")),
            message=str(data.get("message", "")),
            last_transition_time=str(data.get("lastTransitionTime", "")),
            observed_generation=int(generation) if generation is not None else None,
        )


def set_condition(
    conditions: Sequence[Condition],
    *,
    type: str,
    status: str,
    reason: str,
    message: str,
    now: str,
    observed_generation: int | None = None,
) -> tuple[Condition, ...]:
    """Return `conditions` with one condition set; lastTransitionTime moves only when status does."""
    new = Condition(type, status, reason, message, now, observed_generation)
    result: list[Condition] = []
    found = False
    for old in conditions:
        if old.type != type:
            result.append(old)
            continue
        found = True
        if old.status == status and old.last_transition_time:
            new = replace(new, last_transition_time=old.last_transition_time)
        result.append(new)
    if not found:
        result.append(new)
    return tuple(sorted(result, key=_order))


def _order(condition: Condition) -> tuple[int, str]:
    try:
        return CONDITION_ORDER.index(condition.type), condition.type
    except ValueError:
        return len(CONDITION_ORDER), condition.type


def find(conditions: Iterable[Condition], type: str) -> Condition | None:
    return next((c for c in conditions if c.type == type), None)


def parse(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Condition, ...]:
    return tuple(Condition.from_dict(item) for item in raw or ())


def to_dicts(conditions: Iterable[Condition]) -> list[dict[str, Any]]:
    return [c.to_dict() for c in conditions]


class Phase(enum.StrEnum):
    """The one-word answer a dashboard shows; each maps to a kstatus status."""

    READY = "Ready"  # kstatus Current
    RECONCILING = "Reconciling"  # kstatus InProgress
    STALLED = "Stalled"  # kstatus Failed
    OBSERVING = "Observing"  # policy.reconcile=Observe: reported, not changed


@dataclass(frozen=True)
class Progress:
    """Where a reconcile left the pool: the phase plus a CamelCase reason and a message for people."""

    phase: Phase
    reason: str
    message: str


@dataclass(frozen=True)
class ExtensionsVerdict:
    status: str  # TRUE, FALSE or UNKNOWN
    reason: str
    message: str


def apply_progress(
    conditions: Sequence[Condition],
    progress: Progress,
    *,
    extensions: ExtensionsVerdict | None,
    generation: int | None,
    now: str,
    nodes: ExtensionsVerdict | None = None,
) -> tuple[Condition, ...]:
    """Set Ready / Reconciling / Stalled (and ExtensionsHealthy, NodesHealthy when known) from one
    reconcile's progress."""
    phase = progress.phase
    ready = phase is Phase.READY or (phase is Phase.OBSERVING and progress.reason == "InSync")
    reconciling = phase is Phase.RECONCILING
    stalled = phase is Phase.STALLED

    def put(
        current: tuple[Condition, ...], type_: str, value: bool, reason: str, message: str
    ) -> tuple[Condition, ...]:
        return set_condition(
            current,
            type=type_,
            status=TRUE if value else FALSE,
            reason=reason,
            message=message,
            now=now,
            observed_generation=generation,
        )

    result = tuple(conditions)
    result = put(result, READY, ready, progress.reason, progress.message)
    result = put(
        result,
        RECONCILING,
        reconciling,
        progress.reason if reconciling else "Idle",
        progress.message if reconciling else "No change in progress.",
    )
    result = put(
        result,
        STALLED,
        stalled,
        progress.reason if stalled else "NotStalled",
        progress.message if stalled else "Nothing is waiting for the user.",
    )
    for type_, verdict in ((EXTENSIONS_HEALTHY, extensions), (NODES_HEALTHY, nodes)):
        if verdict is not None:
            result = set_condition(
                result,
                type=type_,
                status=verdict.status,
                reason=verdict.reason,
                message=verdict.message,
                now=now,
                observed_generation=generation,
            )
    return result
