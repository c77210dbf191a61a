"""The next step towards the desired pool (pure).

`planning.plan()` says what differs; this module decides the one thing to do now, given what
is already under way. It is level-based: every reconcile looks at the live pool again and asks
for at most one Azure write, so an operator killed at any point resumes correctly.

The only multi-step flow that needs memory is a recreate, because its middle state ("the old
pool is gone") looks the same as "somebody deleted the pool". Its step lives in
`status.recreate`, written *before* the Azure call it announces:

    Draining  -> resize to zero with taskCompletion, until no nodes or the drain timeout
    Deleting  -> DELETE, but only the pool whose creationTime was recorded (never a new one,
                 never twice: a pool already `Deleting` is only waited for)
    Creating  -> PUT with If-None-Match: *, then wait for the allocation; the flow ends when the
                 new pool is steady.

Scale-to-zero needs no memory: once the pool is at zero nodes, the planner itself turns the
zero-node-only changes into a plain PATCH that also restores the scale settings.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from azbatch_operator.conditions import Phase, Progress
from azbatch_operator.error_policy import Disposition, classify_resize_error
from azbatch_operator.planning import Action, ActionType, Plan
from azbatch_operator.rendering import RESERVED_METADATA_PREFIX, DesiredPool, ObservedPool

DEFAULT_DRAIN_TIMEOUT = timedelta(minutes=30)
MAX_RESIZE_RETRIES_BEFORE_STALL = 3


class RecreatePhase(enum.StrEnum):
    DRAINING = "Draining"
    DELETING = "Deleting"
    CREATING = "Creating"


@dataclass(frozen=True)
class RecreateState:
    """`status.recreate`: enough to resume a recreate after a restart."""

    phase: RecreatePhase
    reason: str
    fields: tuple[str, ...]
    started: str
    pool_creation_time: str | None = None  # of the pool being replaced; a pool with another is new
    drain_deadline: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "phase": self.phase.value,
            "reason": self.reason,
            "fields": list(self.fields),
            "started": self.started,
        }
        if self.pool_creation_time:
            data["poolCreationTime"] = self.pool_creation_time
        if self.drain_deadline:
            data["drainDeadline"] = self.drain_deadline
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RecreateState | None:
        if not data or data.get("phase") not in set(RecreatePhase):
            return None
        return cls(
            phase=RecreatePhase(data["phase"]),
            reason=str(data.get("reason", "")),
            fields=tuple(str(f) for f in data.get("fields") or ()),
            started=str(data.get("started", "")),
            pool_creation_time=data.get("poolCreationTime"),
            drain_deadline=data.get("drainDeadline"),
        )


class StepKind(enum.StrEnum):
    WAIT = "wait"  # nothing to write: Azure is working, or the user must act (see progress)
    RECORD = "record"  # only status.recreate changes (written before the next Azure call)
    CREATE = "create"
    PATCH = "patch"
    RESIZE = "resize"
    DRAIN = "drain"
    DELETE = "delete"


@dataclass(frozen=True)
class Step:
    kind: StepKind
    progress: Progress
    recreate: RecreateState | None  # the status.recreate to store (None clears it)
    body: Mapping[str, Any] | None = None  # ARM body for create / patch / resize / drain
    action: Action | None = None  # the planned action this step carries out
    requeue_after: float = 30.0  # seconds until the next look, unless something changes first
    counts_as_recreate: bool = False  # the first step of a recreate, for events and metrics
    events: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Tunables:
    """How eagerly to look again; the edges pass real values, tests pass small ones."""

    active_requeue: float = 5.0  # while Azure is working on something we asked for
    steady_requeue: float = 300.0  # when everything is in place (drift is seen by the account list)
    resize_backoff: float | None = None  # first wait before resizing again; None: the error table's


def next_step(
    plan: Plan,
    desired: DesiredPool,
    observed: ObservedPool | None,
    recreate: RecreateState | None,
    *,
    drain: bool,
    drain_timeout: timedelta | None,
    resize_attempts: int,
    since_last_resize: float | None,
    now: datetime,
    tunables: Tunables = Tunables(),
) -> Step:
    """The one step to take now; see the module docstring for the recreate flow."""
    if recreate is not None:
        return _continue_recreate(desired, observed, recreate, drain_timeout, now, tunables)

    action = plan.actions[0] if plan.actions else None
    if plan.waiting is not None:
        return Step(
            StepKind.WAIT,
            Progress(Phase.RECONCILING, "Waiting", plan.waiting),
            None,
            action=action,
            requeue_after=tunables.active_requeue,
        )
    if action is None or action.type == ActionType.NONE:
        return _settled(observed, tunables)
    if action.type == ActionType.RECREATE:
        return _start_recreate(action, observed, drain=drain, drain_timeout=drain_timeout, now=now)
    if action.type == ActionType.CREATE:
        return Step(
            StepKind.CREATE,
            Progress(Phase.RECONCILING, "Creating", f"Creating pool {desired.pool_name}."),
            None,
            body=desired.body,
            action=action,
            requeue_after=tunables.active_requeue,
        )
    if action.type == ActionType.PATCH:
        fields = ", ".join(action.fields)
        return Step(
            StepKind.PATCH,
            Progress(Phase.RECONCILING, "Patching", f"Updating {fields} in place."),
            None,
            body=action.patch or {},
            action=action,
            requeue_after=tunables.active_requeue,
        )
    if action.type == ActionType.SCALE_TO_ZERO:
        return _scale_to_zero(action, observed, tunables)
    if action.type == ActionType.RESIZE:
        return _retry_resize(action, observed, resize_attempts, since_last_resize, tunables)
    return _settled(observed, tunables)


def _settled(observed: ObservedPool | None, tunables: Tunables) -> Step:
    if observed is not None and not observed.is_steady:
        return Step(
            StepKind.WAIT,
            Progress(
                Phase.RECONCILING,
                "Resizing",
                f"Allocating nodes: {observed.current_dedicated_nodes}/{observed.target_dedicated_nodes}"
                f" dedicated, {observed.current_low_priority_nodes}/{observed.target_low_priority_nodes}"
                " spot/low-priority.",
            ),
            None,
            requeue_after=tunables.active_requeue,
        )
    return Step(
        StepKind.WAIT,
        Progress(Phase.READY, "Ready", "The pool matches the spec."),
        None,
        requeue_after=tunables.steady_requeue,
    )


def _start_recreate(
    action: Action,
    observed: ObservedPool | None,
    *,
    drain: bool,
    drain_timeout: timedelta | None,
    now: datetime,
) -> Step:
    reason = "; ".join(action.reasons) or "a property that only a new pool can take changed"
    has_nodes = observed is not None and observed.current_nodes > 0
    phase = RecreatePhase.DRAINING if drain and has_nodes else RecreatePhase.DELETING
    deadline = now + (drain_timeout or DEFAULT_DRAIN_TIMEOUT) if phase is RecreatePhase.DRAINING else None
    state = RecreateState(
        phase=phase,
        reason=reason,
        fields=action.fields,
        started=_iso(now),
        pool_creation_time=observed.creation_time if observed is not None else None,
        drain_deadline=_iso(deadline) if deadline else None,
    )
    return Step(
        StepKind.RECORD,
        _recreate_progress(state),
        state,
        action=action,
        requeue_after=0.0,
        counts_as_recreate=True,
    )


def _continue_recreate(
    desired: DesiredPool,
    observed: ObservedPool | None,
    state: RecreateState,
    drain_timeout: timedelta | None,
    now: datetime,
    tunables: Tunables,
) -> Step:
    if state.phase is RecreatePhase.DRAINING:
        return _drain(observed, state, now, tunables)
    if state.phase is RecreatePhase.DELETING:
        return _delete(observed, state, tunables)
    return _create(desired, observed, state, tunables)


def _drain(observed: ObservedPool | None, state: RecreateState, now: datetime, tunables: Tunables) -> Step:
    to_delete = replace(state, phase=RecreatePhase.DELETING, drain_deadline=None)
    if observed is None or not _same_pool(observed, state):
        return Step(StepKind.RECORD, _recreate_progress(to_delete), to_delete, requeue_after=0.0)
    nodes = observed.current_nodes
    if nodes == 0 and observed.is_steady:
        return Step(StepKind.RECORD, _recreate_progress(to_delete), to_delete, requeue_after=0.0)
    if state.drain_deadline and now >= _parse(state.drain_deadline):
        return Step(
            StepKind.RECORD,
            _recreate_progress(to_delete),
            to_delete,
            requeue_after=0.0,
            events=(f"Drain timed out with {nodes} nodes left; deleting the pool anyway.",),
        )
    if observed.target_dedicated_nodes or observed.target_low_priority_nodes or observed.auto_scale:
        body = {
            "properties": {
                "scaleSettings": {
                    "fixedScale": {
                        "targetDedicatedNodes": 0,
                        "targetLowPriorityNodes": 0,
                        "nodeDeallocationOption": "TaskCompletion",
                    }
                }
            }
        }
        return Step(StepKind.DRAIN, _recreate_progress(state), state, body=body, requeue_after=1.0)
    return Step(StepKind.WAIT, _recreate_progress(state), state, requeue_after=tunables.active_requeue)


def _delete(observed: ObservedPool | None, state: RecreateState, tunables: Tunables) -> Step:
    if observed is None:
        to_create = replace(state, phase=RecreatePhase.CREATING)
        return Step(StepKind.RECORD, _recreate_progress(to_create), to_create, requeue_after=0.0)
    if observed.is_deleting:
        return Step(StepKind.WAIT, _recreate_progress(state), state, requeue_after=tunables.active_requeue)
    if not _same_pool(observed, state):
        # A pool with another creation time is not the one we set out to delete: it was created
        # after the recorded one, so the delete already happened. Never delete it.
        to_create = replace(state, phase=RecreatePhase.CREATING)
        return Step(StepKind.RECORD, _recreate_progress(to_create), to_create, requeue_after=0.0)
    return Step(StepKind.DELETE, _recreate_progress(state), state, requeue_after=tunables.active_requeue)


def _create(
    desired: DesiredPool, observed: ObservedPool | None, state: RecreateState, tunables: Tunables
) -> Step:
    if observed is None:
        return Step(
            StepKind.CREATE,
            _recreate_progress(state),
            state,
            body=desired.body,
            requeue_after=tunables.active_requeue,
        )
    if observed.is_deleting:
        return Step(StepKind.WAIT, _recreate_progress(state), state, requeue_after=tunables.active_requeue)
    if not observed.is_steady:
        return Step(StepKind.WAIT, _recreate_progress(state), state, requeue_after=tunables.active_requeue)
    return Step(
        StepKind.WAIT,
        Progress(Phase.READY, "Ready", f"Pool recreated ({state.reason})."),
        None,
        requeue_after=0.0,
        events=(f"Recreate finished: {state.reason}",),
    )


def _same_pool(observed: ObservedPool, state: RecreateState) -> bool:
    return state.pool_creation_time is None or observed.creation_time == state.pool_creation_time


def _recreate_progress(state: RecreateState) -> Progress:
    doing = {
        RecreatePhase.DRAINING: "draining running tasks before deleting the pool",
        RecreatePhase.DELETING: "deleting the old pool",
        RecreatePhase.CREATING: "creating the new pool and waiting for its nodes",
    }[state.phase]
    return Progress(
        Phase.RECONCILING, f"Recreating{state.phase.value}", f"Recreating: {doing}. Why: {state.reason}"
    )


def _scale_to_zero(action: Action, observed: ObservedPool | None, tunables: Tunables) -> Step:
    fields = ", ".join(action.fields)
    progress = Progress(
        Phase.RECONCILING,
        "ScalingToZero",
        f"Scaling to zero nodes so that {fields} can be changed in place (updateStrategy ScaleToZero).",
    )
    if observed is not None and (
        observed.target_dedicated_nodes or observed.target_low_priority_nodes or observed.auto_scale
    ):
        body = action.patch or {
            "properties": {
                "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 0, "targetLowPriorityNodes": 0}}
            }
        }
        return Step(StepKind.RESIZE, progress, None, body=body, action=action, requeue_after=1.0)
    return Step(StepKind.WAIT, progress, None, action=action, requeue_after=tunables.active_requeue)


def _retry_resize(
    action: Action,
    observed: ObservedPool | None,
    attempts: int,
    since_last_resize: float | None,
    tunables: Tunables,
) -> Step:
    """Allocation stopped short of a fixed target: resize again after a growing backoff (Batch docs)."""
    errors = observed.resize_errors if observed is not None else ()
    code = errors[0].code if errors else None
    message = errors[0].message if errors else ""
    verdict = classify_resize_error(code)
    text = f"Allocation stopped short: {code or 'resize error'}: {message}".strip()
    if verdict.hint:
        text += f" {verdict.hint}"
    if verdict.disposition is Disposition.STALL or attempts >= MAX_RESIZE_RETRIES_BEFORE_STALL:
        return Step(
            StepKind.WAIT, Progress(Phase.STALLED, verdict.reason, text), None, requeue_after=verdict.delay
        )
    backoff = (tunables.resize_backoff or verdict.delay) * (2**attempts)
    waited = float("inf") if since_last_resize is None else since_last_resize
    if waited < backoff:
        return Step(
            StepKind.WAIT,
            Progress(
                Phase.RECONCILING, verdict.reason, f"{text} Resizing again in {int(backoff - waited)}s."
            ),
            None,
            requeue_after=max(backoff - waited, 1.0),
        )
    return Step(
        StepKind.RESIZE,
        Progress(Phase.RECONCILING, verdict.reason, f"{text} Resizing again."),
        None,
        body=action.patch or {},
        action=action,
        requeue_after=tunables.active_requeue,
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def orphan_patch(observed: ObservedPool) -> dict[str, Any]:
    """The PATCH that lets a pool go: the operator's metadata items (owner, digests) removed."""
    kept = [
        {"name": name, "value": value}
        for name, value in observed.metadata
        if not name.startswith(RESERVED_METADATA_PREFIX)
    ]
    return {"properties": {"metadata": kept}}
