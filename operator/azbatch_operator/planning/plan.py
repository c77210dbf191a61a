"""plan(desired, observed, policy) -> Plan: the ordered actions that make the pool match the spec.

Pure: the operator carries out the first action, observes again and plans again, so every plan
starts from what the pool is now. Rules (docs/planning.md has the reasoning):

1. No pool: ``create``. A pool being deleted (provisioningState Deleting): ``create`` once Azure has
   removed it (``Plan.waiting`` says so; writes to a deleting pool fail with PoolBeingDeleted).
2. Extension changes with ``updateStrategy: Recreate`` (the default), or zero-node-only changes on a
   pool that has nodes with ``Recreate``: one ``recreate`` naming every field that forced it.
3. Zero-node-only changes (extensions included) with ``ScaleToZero``: ``scale_to_zero`` then one
   ``patch`` carrying the zero-node changes, the live changes and the scale settings that resize
   the pool back. While the pool shrinks to zero, the plan waits.
4. Zero-node-only changes (not extensions under Recreate) on a pool steady at zero nodes: ``patch``.
5. Live changes only: ``patch`` with just the changed properties.
6. Fixed scale, steady, short of its target with resize errors: ``resize`` (retry the allocation).
7. Nothing: ``none``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from azbatch_operator.models import Policy, parse_duration
from azbatch_operator.planning.changes import Change, Differences, differences, rekeyed_warning
from azbatch_operator.planning.fields import CLEARED_VALUES, IDENTITY, ChangeKind
from azbatch_operator.rendering import (
    ADOPTED_METADATA,
    OWNER_METADATA,
    RESERVED_METADATA_PREFIX,
    DesiredPool,
    ObservedPool,
)

RECREATE: Final = "Recreate"
MIN_RESIZE_TIMEOUT: Final = timedelta(minutes=5)  # Azure refuses a shorter resizeTimeout


class ActionType(enum.Enum):
    NONE = "none"
    CREATE = "create"
    PATCH = "patch"
    RESIZE = "resize"
    SCALE_TO_ZERO = "scale_to_zero"
    RECREATE = "recreate"


@dataclass(frozen=True)
class Action:
    """One step. ``patch`` is the ARM PATCH body (``patch`` and ``scale_to_zero``) or the resize
    targets (``resize``); it may hold Secret values, so it is never shown by repr or JSON."""

    type: ActionType
    fields: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    patch: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "fields": list(self.fields), "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Plan:
    """Ordered actions; ``waiting`` is set when the first action cannot start yet (requeue and re-plan).
    ``notes`` are facts worth telling the user that are not actions (e.g. fields not compared);
    ``warnings`` are the notes the operator also posts as Warning events when it acts on the plan."""

    actions: tuple[Action, ...]
    notes: tuple[str, ...] = ()
    waiting: str | None = None
    warnings: tuple[str, ...] = ()
    scale_down: bool = False  # the changes need the pool at zero nodes first (updateStrategy ScaleToZero)

    @property
    def is_noop(self) -> bool:
        return self.waiting is None and all(a.type is ActionType.NONE for a in self.actions)

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"actions": [a.to_json() for a in self.actions]}
        if self.notes:
            result["notes"] = list(self.notes)
        if self.waiting:
            result["waiting"] = self.waiting
        return result


def _strategy(policy: Policy | None) -> str:
    return (policy or Policy()).update_strategy


def _deallocation(policy: Policy | None) -> str:
    return "TaskCompletion" if (policy or Policy()).drain.enabled else "Requeue"


def _cleared_scale(policy: Policy | None) -> dict[str, Any]:
    """Scale settings removed from the spec: the pool goes to zero, draining as the policy says
    (a bare fixed scale of 0 would take Azure's default, Requeue, and kill running tasks)."""
    drain = (policy or Policy()).drain
    fixed: dict[str, Any] = {
        **CLEARED_VALUES["scaleSettings"]["fixedScale"],
        "nodeDeallocationOption": _deallocation(policy),
    }
    if drain.enabled:
        fixed["resizeTimeout"] = (
            drain.timeout if parse_duration(drain.timeout) >= MIN_RESIZE_TIMEOUT else "PT5M"
        )
    return {"fixedScale": fixed}


def sparing_tasks(scale: Any, policy: Policy | None) -> Any:
    """The spec's scale settings as the operator sends them: a fixed scale whose spec does not say
    how nodes leave (nodeDeallocationOption) leaves them as policy.drain says (TaskCompletion:
    running tasks finish first), never by Azure's default, Requeue, which stops the tasks on every
    node a shrink removes (nodes someone added by hand, a lowered target)."""
    fixed = scale.get("fixedScale") if isinstance(scale, Mapping) else None
    if not isinstance(fixed, Mapping) or fixed.get("nodeDeallocationOption"):
        return scale
    return {**scale, "fixedScale": {**fixed, "nodeDeallocationOption": _deallocation(policy)}}


def _patch_body(
    desired: DesiredPool, diff: Differences, props: list[str], policy: Policy | None
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    body: dict[str, Any] = {"properties": properties}
    for prop in props:
        if prop == IDENTITY:
            body[IDENTITY] = desired.body.get(IDENTITY, CLEARED_VALUES[IDENTITY])
        elif prop == "metadata":
            properties["metadata"] = diff.metadata
        elif prop == "scaleSettings" and prop in desired.properties:
            properties[prop] = sparing_tasks(desired.properties[prop], policy)
        elif prop in desired.properties:
            properties[prop] = desired.properties[prop]
        elif prop == "displayName":
            properties[prop] = desired.pool_name
        elif prop == "scaleSettings":
            properties[prop] = _cleared_scale(policy)
        else:
            properties[prop] = CLEARED_VALUES.get(prop)
    return body


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _nodes(observed: ObservedPool) -> str:
    return (
        f"{observed.current_dedicated_nodes} dedicated and {observed.current_low_priority_nodes} "
        f"Spot/low-priority nodes, allocation state {observed.allocation_state or 'unknown'}"
    )


def _create(reason: str) -> Action:
    return Action(ActionType.CREATE, fields=(), reasons=(reason,), patch=None)


def _recreate(changes: list[Change], forcing: list[Change], observed: ObservedPool, strategy: str) -> Action:
    """One recreate: a headline per cause, then the reason of every changed field."""
    headlines = []
    extensions = [c.field.rsplit("[", 1)[-1].rstrip("]") for c in forcing if c.kind is ChangeKind.EXTENSION]
    if extensions:
        headlines.append(
            f"recreate: extensions cannot change on an existing pool ({', '.join(map(repr, extensions))}); "
            f"policy.updateStrategy is {strategy} (ScaleToZero would patch them at zero nodes instead)"
        )
    zero = [c.field for c in forcing if c.kind is ChangeKind.ZERO_NODES]
    if zero:
        headlines.append(
            f"recreate: Azure accepts changes to {', '.join(zero)} only on a pool steady at zero nodes; the "
            f"pool has {_nodes(observed)}; policy.updateStrategy is {strategy}"
        )
    return Action(
        ActionType.RECREATE,
        fields=_unique([c.field for c in changes]),
        reasons=(*headlines, *(c.reason for c in changes)),
    )


def _resize_needed(observed: ObservedPool, changes: list[Change]) -> bool:
    if observed.auto_scale or not observed.is_steady or not observed.resize_errors:
        return False
    if any(c.prop == "scaleSettings" for c in changes):
        return False
    # Short of the target (allocation stopped), or over it (a shrink Azure ended at its resizeTimeout
    # with nodes still running tasks): either way the last resize did not reach the target.
    dedicated = observed.current_dedicated_nodes != (observed.target_dedicated_nodes or 0)
    low_priority = observed.current_low_priority_nodes != (observed.target_low_priority_nodes or 0)
    return dedicated or low_priority


def _resize(desired: DesiredPool, observed: ObservedPool, policy: Policy | None) -> Action:
    errors = "; ".join(f"{e.code}: {e.message}" for e in observed.resize_errors[:3])
    scale = sparing_tasks(desired.properties.get("scaleSettings") or CLEARED_VALUES["scaleSettings"], policy)
    dedicated = f"{observed.current_dedicated_nodes}/{observed.target_dedicated_nodes}"
    low_priority = f"{observed.current_low_priority_nodes}/{observed.target_low_priority_nodes}"
    return Action(
        ActionType.RESIZE,
        fields=("scaleSettings",),
        reasons=(
            f"the last resize stopped at {dedicated} dedicated and {low_priority} Spot/low-priority nodes "
            f"({errors}); resize again to reach the target (large pools may need several resizes)",
        ),
        patch={"properties": {"scaleSettings": scale}},
    )


def plan(desired: DesiredPool, observed: ObservedPool | None, policy: Policy | None = None) -> Plan:
    """The actions that make ``observed`` equal ``desired`` under ``policy`` (spec.policy)."""
    if observed is None:
        return Plan((_create(f"pool {desired.pool_name!r} does not exist: create it"),))
    if observed.is_deleting:
        return Plan(
            (_create(f"pool {desired.pool_name!r} is being deleted: create it again afterwards"),),
            waiting="the pool is being deleted (provisioningState Deleting); Azure refuses writes until it "
            "is gone",
        )
    diff = differences(desired, observed)
    changes = list(diff.changes)
    strategy = _strategy(policy)
    extension = [c for c in changes if c.kind is ChangeKind.EXTENSION]
    zero_only = [c for c in changes if c.kind is ChangeKind.ZERO_NODES]
    at_zero = observed.is_steady_at_zero

    forcing = extension if strategy == RECREATE else []
    if strategy == RECREATE and not at_zero:
        forcing = extension + zero_only
    if forcing:
        return Plan(
            (_recreate(changes, forcing, observed, strategy),), notes=diff.notes, warnings=_warnings(diff)
        )

    actions: list[Action] = []
    waiting = None
    props = _unique([c.prop for c in changes])
    fields = _unique([c.field for c in changes])
    reasons = tuple(c.reason for c in changes)
    if (extension or zero_only) and not at_zero:  # ScaleToZero on a pool with nodes
        if "scaleSettings" not in props:
            props, fields = (*props, "scaleSettings"), (*fields, "scaleSettings")
            reasons = (*reasons, "scaleSettings: resize back to the spec's scale after the change")
        if observed.targets_zero:
            waiting = f"waiting for the pool to reach zero nodes ({_nodes(observed)})"
        else:
            actions.append(_scale_to_zero(extension + zero_only, observed, policy))
    if changes:
        actions.append(
            Action(ActionType.PATCH, fields, reasons, _patch_body(desired, diff, list(props), policy))
        )
    if _resize_needed(observed, changes):
        actions.append(_resize(desired, observed, policy))
    if not actions:
        actions.append(Action(ActionType.NONE, reasons=("the pool matches the spec",)))
    scale_down = bool(extension or zero_only) and not at_zero
    return Plan(
        tuple(actions), notes=diff.notes, waiting=waiting, warnings=_warnings(diff), scale_down=scale_down
    )


def _warnings(diff: Differences) -> tuple[str, ...]:
    return (rekeyed_warning(diff.rekeyed),) if diff.rekeyed else ()


def _scale_to_zero(changes: list[Change], observed: ObservedPool, policy: Policy | None) -> Action:
    zero = {
        "targetDedicatedNodes": 0,
        "targetLowPriorityNodes": 0,
        "nodeDeallocationOption": _deallocation(policy),
    }
    return Action(
        ActionType.SCALE_TO_ZERO,
        fields=_unique([c.field for c in changes]),
        reasons=(
            "these changes need a pool with zero nodes (policy.updateStrategy ScaleToZero): "
            f"resize from {_nodes(observed)} to 0, patch, then resize back",
        ),
        patch={"properties": {"scaleSettings": {"fixedScale": zero}}},
    )


def adopt(desired: DesiredPool, observed: ObservedPool, policy: Policy | None = None) -> Plan:
    """Adoption takes ownership and nothing else: one metadata PATCH that writes the owner marker,
    the adopted marker and the secret digests (assumed unchanged), keeping the pool's own items.
    The notes say what the spec asks beyond that; destructive steps then need the user's approval."""
    full = plan(desired, observed, policy)
    items = [
        {"name": n, "value": v} for n, v in observed.metadata if not n.startswith(RESERVED_METADATA_PREFIX)
    ]
    digests = dict(desired.secret_digests)
    for entity in desired.uncompared:
        kept = observed.secret_digests.get(entity.metadata_name)
        if kept is not None:
            digests[entity.metadata_name] = kept
    items += [{"name": OWNER_METADATA, "value": desired.owner}, {"name": ADOPTED_METADATA, "value": "true"}]
    items += [{"name": name, "value": digests[name]} for name in sorted(digests)]
    pending = [a for a in full.actions if a.type not in (ActionType.NONE,)]
    notes = [*full.notes]
    notes += [
        f"after adoption the spec asks for: {a.type.value} ({', '.join(a.fields) or '-'}): "
        + "; ".join(a.reasons)
        for a in pending
    ]
    if any(a.type in (ActionType.RECREATE, ActionType.SCALE_TO_ZERO) for a in pending):
        notes.append(
            "a recreate or scale to zero of an adopted pool waits for your approval: annotate the BatchPool "
            "with azbatch.dev/approve-disruption=<its metadata.generation>"
        )
    action = Action(
        ActionType.PATCH,
        fields=("metadata",),
        reasons=(
            f"adopt the pool: record the owner marker {OWNER_METADATA}={desired.owner} and "
            f"{ADOPTED_METADATA}; nothing else changes now",
        ),
        patch={"properties": {"metadata": items}},
    )
    return Plan((action,), notes=tuple(notes))
