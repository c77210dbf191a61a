"""The next step towards the desired pool (pure).

`planning.plan()` says what differs; this module decides the one thing to do now, given what
is already under way. It is level-based: every reconcile looks at the live pool again and asks
for at most one Azure write, so an operator killed at any point resumes correctly.

Two flows take nodes away, and both are remembered in status, written *before* the Azure call
they announce, so that a restart resumes them at the right step:

- a recreate (`status.recreate`):

      Draining  -> shrink to zero with TaskCompletion, held to the drain timeout (`draining`)
      Deleting  -> DELETE, but only the pool whose creationTime was recorded (never a new one,
                   never twice: a pool already `Deleting` is only waited for)
      Creating  -> PUT with If-None-Match: *, then wait for the allocation; the flow ends when the
                   new pool is steady.

- a scale to zero (`status.scaleToZero`, `updateStrategy: ScaleToZero`): drained the same way;
  once the pool is steady at zero the planner turns the zero-node changes into one PATCH that
  also restores the scale settings, and the flow ends.

Every destructive step is one the user asked for, within the bounds they set, told first:
- it starts only within the disruption budget of its Batch account (`Step.starts_disruption`:
  the edge asks the budget, and waits with `waiting_for_budget` when refused);
- an adopted pool is never disrupted without the user's approval for this generation;
- at most one recreate per generation: a pool that still differs after one (or a patch that did
  not take) is `Stalled` with `NotConverging`, naming each field, instead of being recreated again;
- a spec reverted while a recreate is still draining cancels it, before anything is deleted;
- a delete that Azure does not finish within a bound is told (`Stalled`, `DeleteStuck`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from azbatch_operator.conditions import Phase, Progress
from azbatch_operator.disruption import BUDGET_REASON
from azbatch_operator.draining import (
    DEFAULT_DRAIN_TIMEOUT,
    REQUEUE,
    STALL,
    DrainMove,
    DrainPlan,
    DrainRules,
    deadline_message,
    drain_next,
    node_count,
    shrink_body,
)
from azbatch_operator.error_policy import Disposition, classify_resize_error
from azbatch_operator.planning import Action, ActionType, Plan
from azbatch_operator.rendering import RESERVED_METADATA_PREFIX, DesiredPool, ObservedPool

__all__ = ["DEFAULT_DRAIN_TIMEOUT", "DrainRules"]

MAX_RESIZE_RETRIES_BEFORE_STALL = 3
DEFAULT_STUCK_DELETE: Final = timedelta(minutes=30)
APPROVE_ANNOTATION: Final = "azbatch.dev/approve-disruption"
_SCALE: Final = "scaleSettings"
# Scale settings that only shape a resize; a change to them alone never stops a running one.
_RESIZE_ONLY: Final = frozenset({"resizeTimeout", "nodeDeallocationOption", "evaluationInterval"})


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
    shrunk_until: str | None = None  # the deadline the last shrink's resizeTimeout covered
    delete_requested: str | None = None  # when the DELETE was sent (a stuck delete is told)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "phase": self.phase.value,
            "reason": self.reason,
            "fields": list(self.fields),
            "started": self.started,
        }
        optional = {
            "poolCreationTime": self.pool_creation_time,
            "drainDeadline": self.drain_deadline,
            "shrunkUntil": self.shrunk_until,
            "deleteRequested": self.delete_requested,
        }
        data.update({key: value for key, value in optional.items() if value})
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
            shrunk_until=data.get("shrunkUntil"),
            delete_requested=data.get("deleteRequested"),
        )


@dataclass(frozen=True)
class ScaleDownState:
    """`status.scaleToZero`: a scale to zero under way (updateStrategy ScaleToZero)."""

    started: str
    fields: tuple[str, ...]
    drain_deadline: str | None = None
    shrunk_until: str | None = None
    requeued: bool = False  # the drain timed out and the rest was shrunk with Requeue

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"started": self.started, "fields": list(self.fields)}
        if self.drain_deadline:
            data["drainDeadline"] = self.drain_deadline
        if self.shrunk_until:
            data["shrunkUntil"] = self.shrunk_until
        if self.requeued:
            data["requeued"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ScaleDownState | None:
        if not data or not data.get("started"):
            return None
        return cls(
            started=str(data["started"]),
            fields=tuple(str(f) for f in data.get("fields") or ()),
            drain_deadline=data.get("drainDeadline"),
            shrunk_until=data.get("shrunkUntil"),
            requeued=bool(data.get("requeued", False)),
        )


@dataclass(frozen=True)
class NotConverging:
    """Fields a write did not make equal: Azure keeps answering something the spec does not say."""

    generation: int | None
    fields: tuple[str, ...]
    details: tuple[str, ...]

    def message(self, after: str) -> str:
        return (
            f"The pool still differs {after}: {'; '.join(self.details) or ', '.join(self.fields)}. "
            "The operator stopped so as not to write the same thing again (at most one recreate per "
            "generation). Azure probably fills in or keeps a value the spec does not say: write that "
            "value into the spec (or remove the field), and report the field if Azure only echoes a default."
        )


@dataclass(frozen=True)
class Guards:
    """What bounds this pass's destructive steps, besides the drain rules."""

    generation: int | None = None
    resource: str = "<name>"  # for the commands the messages give
    adopted: bool = False  # the pool was adopted: disruption needs the user's approval
    approved: bool = False  # the approve annotation names this generation
    last_recreate_generation: int | None = None  # the generation the last recreate finished for
    not_converging: NotConverging | None = None  # a patch of this generation that did not take
    stuck_delete_after: timedelta = DEFAULT_STUCK_DELETE
    deleting_since: datetime | None = None  # when this pool was first seen Deleting (not by us)


class StepKind(enum.StrEnum):
    WAIT = "wait"  # nothing to write: Azure is working, or the user must act (see progress)
    RECORD = "record"  # only status changes (written before the next Azure call)
    CREATE = "create"
    PATCH = "patch"
    RESIZE = "resize"
    DRAIN = "drain"
    STOP_RESIZE = "stop-resize"
    DELETE = "delete"


# The reasons of the Events told before a step that can take nodes or a pool away (a recreate's
# drain is told as Resizing). However many routine Events wait, these are never dropped for room:
# they are few (the disruption budget bounds them) and they are the notice the user was promised.
DISRUPTION_NOTICES = frozenset(
    {"RecreateStarted", "ScalingToZero", "ScalingDown", "Resizing", "Draining", "Deleting", "RemovingNode"}
)


@dataclass(frozen=True)
class Notice:
    """An event to post when the step is carried out."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Step:
    kind: StepKind
    progress: Progress
    recreate: RecreateState | None  # the status.recreate to store (None clears it)
    body: Mapping[str, Any] | None = None  # ARM body for create / patch / resize / drain
    action: Action | None = None  # the planned action this step carries out
    requeue_after: float = 30.0  # seconds until the next look, unless something changes first
    counts_as_recreate: bool = False  # the first step of a recreate, for events and metrics
    notices: tuple[Notice, ...] = field(default=())
    scale_down: ScaleDownState | None = None  # the status.scaleToZero to store (None clears it)
    starts_disruption: bool = False  # the first step of a destructive flow: the budget must admit it
    finished_recreate: bool = False  # record the generation: at most one recreate per generation

    @property
    def disruptive(self) -> bool:
        """Part of a destructive flow (holds the account's disruption budget)."""
        return self.recreate is not None or self.scale_down is not None


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
    drain: DrainRules,
    resize_attempts: int,
    since_last_resize: float | None,
    now: datetime,
    guards: Guards = Guards(),
    scale_down: ScaleDownState | None = None,
    tunables: Tunables = Tunables(),
) -> Step:
    """The one step to take now; see the module docstring for the flows."""
    if recreate is not None:
        return _continue_recreate(plan, desired, observed, recreate, drain, guards, now, tunables)
    if plan.scale_down:
        return _scale_down(plan, observed, scale_down, drain, guards, now, tunables)
    step = _plain_step(
        plan, desired, observed, drain, guards, resize_attempts, since_last_resize, now, tunables
    )
    if scale_down is not None and not (observed is not None and observed.is_steady_at_zero):
        text = "The spec no longer needs zero nodes"
        stopping = _stop_the_drain_first(observed, "ScaleToZeroCancelled", text, tunables)
        if stopping is not None:
            return replace(stopping, scale_down=scale_down)
        notice = Notice("Normal", "ScaleToZeroCancelled", f"{text}: scaling back.")
        return replace(step, notices=(*step.notices, notice))
    return step


def _stop_the_drain_first(
    observed: ObservedPool | None, reason: str, text: str, tunables: Tunables
) -> Step | None:
    """A flow the spec no longer needs ends only once its drain's shrink has stopped: until then
    Azure still takes nodes away, and the flow keeps its disruption budget place (the caller keeps
    its state in the step). None when the pool is steady: the flow may end now."""
    if observed is None or observed.is_steady:
        return None
    if (observed.allocation_state or "").lower() == "resizing":
        stop = f"{text}: stopping the drain's resize (stopResize) first."
        progress = Progress(Phase.RECONCILING, reason, stop)
        return Step(StepKind.STOP_RESIZE, progress, None, requeue_after=1.0)
    progress = Progress(Phase.RECONCILING, reason, f"{text}: waiting for the drain's resize to stop.")
    return Step(StepKind.WAIT, progress, None, requeue_after=tunables.active_requeue)


def _plain_step(
    plan: Plan,
    desired: DesiredPool,
    observed: ObservedPool | None,
    drain: DrainRules,
    guards: Guards,
    resize_attempts: int,
    since_last_resize: float | None,
    now: datetime,
    tunables: Tunables,
) -> Step:
    action = plan.actions[0] if plan.actions else None
    if plan.waiting is not None:
        stuck = _stuck_delete(observed, guards.deleting_since, guards, now)
        if stuck is not None:
            return Step(StepKind.WAIT, stuck, None, action=action, requeue_after=tunables.steady_requeue)
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
        return _start_recreate(action, observed, plan, guards, drain=drain, now=now)
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
        return _patch(action, plan, desired, observed, guards, tunables)
    if action.type == ActionType.RESIZE:
        return _retry_resize(action, observed, resize_attempts, since_last_resize, tunables)
    return _settled(observed, tunables)


def settled_quietly(step: Step, *, fresh: bool, secrets: bool, recreate: RecreateState | None) -> bool:
    """Whether this pass found a Ready pool with nothing to do, so that the next pass may end at a
    comparison while nothing it read changes: no write, no flow, no read the pool asked for itself,
    and no Secret (a rotated value is only seen by reading it)."""
    return (
        step.kind is StepKind.WAIT
        and step.progress.phase is Phase.READY
        and not fresh
        and not secrets
        and recreate is None
        and step.scale_down is None
    )


def takes_nodes_away(step: Step) -> bool:
    """Whether the step starts, moves on or ends taking a pool's nodes away: a drain's shrink, a
    stopped resize, a delete, or a flow recording its next phase (where a recreate decides whether
    there is anything to drain). Such a step is decided only on the pool as Azure has it now, never
    on the account's list, which may be a resync old and miss nodes that came since."""
    return step.kind in (StepKind.DRAIN, StepKind.STOP_RESIZE, StepKind.DELETE) or (
        step.kind is StepKind.RECORD and step.disruptive
    )


def health_is_counts(*, extensions: bool, remediation: bool, nodes_healthy: bool | None) -> bool:
    """Whether a pool's health is its node counts alone (no extension views to read, no nodes to
    remove, every node healthy): then unchanged counts are an unchanged health."""
    return not extensions and not remediation and nodes_healthy is not False


def after_create(step: Step, created: ObservedPool | None, tunables: Tunables) -> Step:
    """A create's step, saying what the new pool is doing now (allocating, as Azure's answer to the
    PUT shows it), as the next pass would say it: the status is written once for both, not first
    `Creating` and then `Resizing` (a thousand pools created at once: a thousand writes fewer)."""
    if step.kind is not StepKind.CREATE or created is None or step.recreate is not None:
        return step  # a recreate's create keeps telling the flow it is part of
    if created.is_steady:
        return step  # Ready is for the next pass to say, from a read after the create, never from its answer
    return replace(step, progress=_settled(created, tunables).progress)


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


# --- gates every destructive flow passes before it starts ---------------------------------------


def _gate(what: str, reasons: tuple[str, ...], guards: Guards) -> Progress | None:
    """Why a destructive flow may not start now (None: it may)."""
    if guards.adopted and not guards.approved:
        generation = guards.generation if guards.generation is not None else "<generation>"
        return Progress(
            Phase.STALLED,
            "ApprovalRequired",
            f"This pool was adopted, and an adopted pool is never disrupted without your approval. "
            f"Applying the spec needs a {what}, because: {'; '.join(reasons)}. To approve it for this "
            f"generation ({generation}): kubectl annotate batchpool {guards.resource} "
            f"{APPROVE_ANNOTATION}={generation} --overwrite",
        )
    return None


def waiting_for_budget(message: str, tunables: Tunables) -> Step:
    """The budget did not admit the destructive step: wait (and ask again) without writing."""
    return Step(
        StepKind.WAIT,
        Progress(Phase.RECONCILING, BUDGET_REASON, message),
        None,
        requeue_after=tunables.active_requeue,
    )


# --- recreate -------------------------------------------------------------------------------------


def _start_recreate(
    action: Action,
    observed: ObservedPool | None,
    plan: Plan,
    guards: Guards,
    *,
    drain: DrainRules,
    now: datetime,
) -> Step:
    if guards.generation is not None and guards.last_recreate_generation == guards.generation:
        stuck = NotConverging(guards.generation, action.fields, action.reasons[1:] or action.reasons)
        return Step(
            StepKind.WAIT,
            Progress(Phase.STALLED, "NotConverging", stuck.message("after a recreate for this generation")),
            None,
            action=action,
            requeue_after=600.0,
        )
    gate = _gate("recreate (drain, delete, create)", action.reasons, guards)
    if gate is not None:
        return Step(StepKind.WAIT, gate, None, action=action, requeue_after=600.0)
    reason = "; ".join(action.reasons) or "a property that only a new pool can take changed"
    # Without drain the delete itself is the shrink: Azure requeues the tasks still running.
    has_nodes = observed is not None and observed.current_nodes > 0
    phase = RecreatePhase.DRAINING if drain.enabled and has_nodes else RecreatePhase.DELETING
    state = RecreateState(
        phase=phase,
        reason=reason,
        fields=action.fields,
        started=iso(now),
        pool_creation_time=observed.creation_time if observed is not None else None,
    )
    return Step(
        StepKind.RECORD,
        _recreate_progress(state),
        state,
        action=action,
        requeue_after=0.0,
        counts_as_recreate=True,
        starts_disruption=True,
        notices=tuple(Notice("Warning", "DigestKeyChanged", text) for text in plan.warnings),
    )


def _continue_recreate(
    plan: Plan,
    desired: DesiredPool,
    observed: ObservedPool | None,
    state: RecreateState,
    drain: DrainRules,
    guards: Guards,
    now: datetime,
    tunables: Tunables,
) -> Step:
    if state.phase is RecreatePhase.DRAINING:
        first = plan.actions[0] if plan.actions else None
        if first is None or first.type is not ActionType.RECREATE:
            # The spec no longer needs a new pool (reverted): nothing was deleted yet, so stop here,
            # once the drain's shrink has stopped; the next pass patches the scale settings back.
            text = "The spec no longer needs a recreate"
            stopping = _stop_the_drain_first(observed, "RecreateCancelled", text, tunables)
            if stopping is not None and observed is not None and _same_pool(observed, state):
                return replace(stopping, recreate=state)
            if first is not None and observed is not None and observed.is_steady_at_zero:
                # Not a revert: drained to zero nodes, the pool takes the change in place (PATCH).
                summary = "The pool is at zero nodes, where Azure takes the change in place"
                told = f"{summary}: patched instead of recreated; nothing was deleted."
            else:
                summary = "The spec no longer needs a recreate"
                told = (
                    "Recreate cancelled while draining (the spec no longer needs it): nothing was "
                    "deleted; the scale settings are restored."
                )
            return Step(
                StepKind.RECORD,
                Progress(Phase.RECONCILING, "RecreateCancelled", f"{summary}."),
                None,
                requeue_after=0.0,
                notices=(Notice("Normal", "RecreateCancelled", told),),
            )
        return _drain(observed, state, drain, now, tunables)
    if state.phase is RecreatePhase.DELETING:
        return _delete(observed, state, guards, now, tunables)
    return _create(plan, desired, observed, state, guards, now, tunables)


def _drain(
    observed: ObservedPool | None, state: RecreateState, rules: DrainRules, now: datetime, tunables: Tunables
) -> Step:
    to_delete = replace(state, phase=RecreatePhase.DELETING, drain_deadline=None, shrunk_until=None)
    if observed is None or not _same_pool(observed, state):
        return Step(StepKind.RECORD, _recreate_progress(to_delete), to_delete, requeue_after=0.0)
    move = _drain_move(observed, rules, state, now)
    state = replace(state, drain_deadline=iso(move.deadline))
    progress = _recreate_progress(state, move.nodes_left)
    if move.move is DrainMove.DONE:
        return Step(StepKind.RECORD, _recreate_progress(to_delete), to_delete, requeue_after=0.0)
    if move.move is DrainMove.DEADLINE:
        text = deadline_message(move.nodes_left, rules, "the recreate")
        if rules.on_timeout == STALL:
            return Step(
                StepKind.WAIT, Progress(Phase.STALLED, "DrainTimedOut", text), state, requeue_after=60.0
            )
        return Step(
            StepKind.RECORD,
            _recreate_progress(to_delete),
            to_delete,
            requeue_after=0.0,
            notices=(Notice("Warning", "DrainTimedOut", text),),
        )
    if move.move is DrainMove.SHRINK:
        shrunk = replace(state, shrunk_until=iso(move.deadline))
        return Step(StepKind.DRAIN, progress, shrunk, body=move.body, requeue_after=1.0)
    if move.move is DrainMove.STOP_RESIZE:
        return Step(StepKind.STOP_RESIZE, progress, state, requeue_after=1.0)
    return Step(StepKind.WAIT, progress, state, requeue_after=tunables.active_requeue)


def _drain_move(
    observed: ObservedPool | None, rules: DrainRules, state: RecreateState | ScaleDownState, now: datetime
) -> DrainPlan:
    """The drain's next move, from what the flow recorded: when it started, what the last shrink covered."""
    shrunk_until = parse_time(state.shrunk_until) if state.shrunk_until else None
    return drain_next(observed, rules, started=parse_time(state.started), shrunk_until=shrunk_until, now=now)


def _delete(
    observed: ObservedPool | None, state: RecreateState, guards: Guards, now: datetime, tunables: Tunables
) -> Step:
    if observed is None:
        to_create = replace(state, phase=RecreatePhase.CREATING)
        return Step(StepKind.RECORD, _recreate_progress(to_create), to_create, requeue_after=0.0)
    if observed.is_deleting:
        return _wait_for_delete(observed, state, guards, now, tunables)
    if not _same_pool(observed, state):
        # A pool with another creation time is not the one we set out to delete: it was created
        # after the recorded one, so the delete already happened. Never delete it.
        to_create = replace(state, phase=RecreatePhase.CREATING)
        return Step(StepKind.RECORD, _recreate_progress(to_create), to_create, requeue_after=0.0)
    sent = replace(state, delete_requested=state.delete_requested or iso(now))
    return Step(StepKind.DELETE, _recreate_progress(state), sent, requeue_after=tunables.active_requeue)


def _wait_for_delete(
    observed: ObservedPool, state: RecreateState, guards: Guards, now: datetime, tunables: Tunables
) -> Step:
    since = parse_time(state.delete_requested) if state.delete_requested else guards.deleting_since
    stuck = _stuck_delete(observed, since, guards, now)
    if stuck is not None:
        return Step(StepKind.WAIT, stuck, state, requeue_after=tunables.steady_requeue)
    return Step(StepKind.WAIT, _recreate_progress(state), state, requeue_after=tunables.active_requeue)


def _stuck_delete(
    observed: ObservedPool | None, since: datetime | None, guards: Guards, now: datetime
) -> Progress | None:
    if observed is None or not observed.is_deleting or since is None:
        return None
    if now - since < guards.stuck_delete_after:
        return None
    minutes = int((now - since).total_seconds() // 60)
    return Progress(
        Phase.STALLED,
        "DeleteStuck",
        f"Azure has been deleting pool {observed.name or ''} for {minutes} minutes (since {iso(since)}) "
        "and has not finished. Check the pool in the Azure portal or with `az batch pool show`: its "
        "resize errors, nodes that cannot be removed (e.g. a network security rule or a locked resource "
        "group in the way), and the Batch account's activity log; open a support request if it stays. "
        "The operator keeps looking and goes on when the pool is gone.",
    )


def _create(
    plan: Plan,
    desired: DesiredPool,
    observed: ObservedPool | None,
    state: RecreateState,
    guards: Guards,
    now: datetime,
    tunables: Tunables,
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
        return _wait_for_delete(observed, state, guards, now, tunables)
    if not observed.is_steady:
        return Step(StepKind.WAIT, _recreate_progress(state), state, requeue_after=tunables.active_requeue)
    first = plan.actions[0] if plan.actions else None
    if first is not None and first.type is ActionType.RECREATE:
        stuck = NotConverging(guards.generation, first.fields, first.reasons[1:] or first.reasons)
        text = stuck.message("right after it was recreated")
        return Step(
            StepKind.WAIT,
            Progress(Phase.STALLED, "NotConverging", text),
            None,
            requeue_after=600.0,
            finished_recreate=True,
            notices=(Notice("Warning", "NotConverging", text),),
        )
    return Step(
        StepKind.WAIT,
        Progress(Phase.READY, "Ready", f"Pool recreated ({state.reason})."),
        None,
        requeue_after=0.0,
        finished_recreate=True,
        notices=(Notice("Normal", "RecreateFinished", f"Recreate finished: {state.reason}"),),
    )


def _same_pool(observed: ObservedPool, state: RecreateState) -> bool:
    return state.pool_creation_time is None or observed.creation_time == state.pool_creation_time


def _recreate_progress(state: RecreateState, nodes_left: int | None = None) -> Progress:
    doing = {
        RecreatePhase.DRAINING: "draining running tasks before deleting the pool",
        RecreatePhase.DELETING: "deleting the old pool",
        RecreatePhase.CREATING: "creating the new pool and waiting for its nodes",
    }[state.phase]
    if state.phase is RecreatePhase.DRAINING and nodes_left is not None and state.drain_deadline:
        doing += f" ({node_count(nodes_left)} left; drain deadline {state.drain_deadline})"
    return Progress(
        Phase.RECONCILING, f"Recreating{state.phase.value}", f"Recreating: {doing}. Why: {state.reason}"
    )


# --- scale to zero --------------------------------------------------------------------------------


def _scale_down(
    plan: Plan,
    observed: ObservedPool | None,
    state: ScaleDownState | None,
    rules: DrainRules,
    guards: Guards,
    now: datetime,
    tunables: Tunables,
) -> Step:
    first = plan.actions[0] if plan.actions else None
    fields = first.fields if first is not None else ()
    if state is None:
        reasons = first.reasons if first is not None else ()
        gate = _gate("scale to zero (drain, then patch at zero nodes)", reasons, guards)
        if gate is not None:
            return Step(StepKind.WAIT, gate, None, action=first, requeue_after=600.0)
        started = ScaleDownState(started=iso(now), fields=fields, drain_deadline=iso(now + rules.timeout))
        return Step(
            StepKind.RECORD,
            _scale_down_progress(started, observed.current_nodes if observed else 0),
            None,
            action=first,
            requeue_after=0.0,
            scale_down=started,
            starts_disruption=True,
        )
    move = _drain_move(observed, rules, state, now)
    state = replace(state, drain_deadline=iso(move.deadline))
    progress = _scale_down_progress(state, move.nodes_left)
    if move.move is DrainMove.DEADLINE:
        return _scale_down_deadline(observed, state, rules, move.nodes_left, tunables)
    if move.move is DrainMove.SHRINK:
        body = move.body
        return Step(
            StepKind.DRAIN,
            progress,
            None,
            body=body,
            action=first,
            requeue_after=1.0,
            scale_down=replace(state, shrunk_until=iso(move.deadline)),
        )
    if move.move is DrainMove.STOP_RESIZE:
        return Step(StepKind.STOP_RESIZE, progress, None, requeue_after=1.0, scale_down=state)
    return Step(StepKind.WAIT, progress, None, requeue_after=tunables.active_requeue, scale_down=state)


def _scale_down_deadline(
    observed: ObservedPool | None, state: ScaleDownState, rules: DrainRules, nodes: int, tunables: Tunables
) -> Step:
    text = deadline_message(nodes, rules, "the scale to zero")
    if rules.on_timeout == STALL:
        return Step(
            StepKind.WAIT,
            Progress(Phase.STALLED, "DrainTimedOut", text),
            None,
            requeue_after=60.0,
            scale_down=state,
        )
    progress = Progress(Phase.RECONCILING, "ScalingToZero", text)
    if observed is not None and not observed.is_steady:
        stopping = (observed.allocation_state or "").lower() == "stopping"
        if state.requeued or stopping:
            return Step(
                StepKind.WAIT, progress, None, requeue_after=tunables.active_requeue, scale_down=state
            )
        return Step(StepKind.STOP_RESIZE, progress, None, requeue_after=1.0, scale_down=state)
    notices = () if state.requeued else (Notice("Warning", "DrainTimedOut", text),)
    return Step(
        StepKind.DRAIN,
        progress,
        None,
        body=shrink_body(REQUEUE, None),
        requeue_after=1.0,
        scale_down=replace(state, requeued=True),
        notices=notices,
    )


def _scale_down_progress(state: ScaleDownState, nodes_left: int) -> Progress:
    return Progress(
        Phase.RECONCILING,
        "ScalingToZero",
        f"Scaling to zero nodes so that {', '.join(state.fields)} can be changed in place (updateStrategy "
        f"ScaleToZero): {node_count(nodes_left)} left, draining until {state.drain_deadline}.",
    )


# --- deletion of the BatchPool (deletionPolicy Delete) ---------------------------------------------


def deletion_step(
    observed: ObservedPool,
    rules: DrainRules,
    *,
    requested: datetime,
    shrunk_until: datetime | None,
    now: datetime,
    guards: Guards = Guards(),
) -> Step:
    """Delete the pool, draining first as the policy says (the drain counts from the deletion)."""
    if observed.is_deleting:
        stuck = _stuck_delete(observed, guards.deleting_since or requested, guards, now)
        progress = stuck or Progress(Phase.RECONCILING, "Deleting", "Waiting for Azure to delete the pool.")
        return Step(StepKind.WAIT, progress, None)
    deleting = Progress(Phase.RECONCILING, "Deleting", "Deleting the pool (deletionPolicy Delete).")
    if not rules.enabled:
        return Step(StepKind.DELETE, deleting, None)
    move = drain_next(observed, rules, started=requested, shrunk_until=shrunk_until, now=now)
    draining = Progress(
        Phase.RECONCILING,
        "Draining",
        f"Draining before deleting the pool: {node_count(move.nodes_left)} left, until {iso(move.deadline)}.",
    )
    if move.move is DrainMove.DONE:
        return Step(StepKind.DELETE, deleting, None)
    if move.move is DrainMove.DEADLINE:
        text = deadline_message(move.nodes_left, rules, "the deletion")
        if rules.on_timeout == STALL:
            return Step(
                StepKind.WAIT, Progress(Phase.STALLED, "DrainTimedOut", text), None, requeue_after=60.0
            )
        return Step(StepKind.DELETE, deleting, None, notices=(Notice("Warning", "DrainTimedOut", text),))
    if move.move is DrainMove.SHRINK:
        return Step(StepKind.DRAIN, draining, None, body=move.body)
    if move.move is DrainMove.STOP_RESIZE:
        return Step(StepKind.STOP_RESIZE, draining, None)
    return Step(StepKind.WAIT, draining, None)


# --- patches and resizes --------------------------------------------------------------------------


def _patch(
    action: Action,
    plan: Plan,
    desired: DesiredPool,
    observed: ObservedPool | None,
    guards: Guards,
    tunables: Tunables,
) -> Step:
    stuck = guards.not_converging
    if (
        stuck is not None
        and stuck.generation == guards.generation
        and set(action.fields) <= set(stuck.fields)
    ):
        return Step(
            StepKind.WAIT,
            Progress(Phase.STALLED, "NotConverging", stuck.message("after it was patched")),
            None,
            action=action,
            requeue_after=600.0,
        )
    body = dict(action.patch or {})
    properties = dict(body.get("properties") or {})
    notices = tuple(Notice("Warning", "DigestKeyChanged", text) for text in plan.warnings)
    shrink = _shrink_notice(properties.get(_SCALE), observed)
    gated = _gate_scale(properties.get(_SCALE), shrink, guards)
    if gated is not None:
        return Step(StepKind.WAIT, gated, None, action=action, requeue_after=tunables.steady_requeue)
    if _SCALE in properties and observed is not None and not observed.is_steady:
        # Azure refuses a scale change while a resize runs (409 PoolBeingResized): the other fields
        # go now, on their own; the scale waits, or the running resize is stopped if it aims elsewhere.
        del properties[_SCALE]
        if properties or len(body) > 1:
            fields = tuple(f for f in action.fields if f.split(".")[0] != _SCALE)
            return Step(
                StepKind.PATCH,
                Progress(
                    Phase.RECONCILING,
                    "Patching",
                    f"Updating {', '.join(fields)} in place; the scale change waits for the running resize.",
                ),
                None,
                body={**body, "properties": properties},
                action=replace(action, fields=fields),
                requeue_after=tunables.active_requeue,
                notices=notices,
            )
        resizing = (observed.allocation_state or "").lower() == "resizing"
        if resizing and _targets_changed(desired, observed):
            return Step(
                StepKind.STOP_RESIZE,
                Progress(
                    Phase.RECONCILING,
                    "Resizing",
                    "The scale target changed while a resize runs: stopping it first (stopResize), then "
                    "resizing to the new target.",
                ),
                None,
                action=action,
                requeue_after=1.0,
            )
        return Step(
            StepKind.WAIT,
            Progress(Phase.RECONCILING, "Resizing", "A resize is running: the scale change waits for it."),
            None,
            action=action,
            requeue_after=tunables.active_requeue,
        )
    return Step(
        StepKind.PATCH,
        Progress(Phase.RECONCILING, "Patching", f"Updating {', '.join(action.fields)} in place."),
        None,
        body=body,
        action=action,
        requeue_after=tunables.active_requeue,
        notices=notices if shrink is None else (*notices, shrink),
    )


def _gate_scale(scale: Any, shrink: Notice | None, guards: Guards) -> Progress | None:
    """A scale patch that may take nodes away from an adopted pool waits for the user's approval,
    as a recreate does: a lowered target, or an autoscale formula (which decides what stays)."""
    if shrink is not None:
        return _gate("scale-down", (shrink.message,), guards)
    if isinstance(scale, Mapping) and "autoScale" in scale:
        return _gate("scale change", ("the autoscale formula decides how many nodes stay",), guards)
    return None


def _shrink_notice(scale: Any, observed: ObservedPool | None) -> Notice | None:
    """A scale patch that takes nodes away (a lowered target, or nodes someone added by hand), told
    as an Event before it is sent: which nodes go, and how their running tasks are treated."""
    fixed = scale.get("fixedScale") if isinstance(scale, Mapping) else None
    if not isinstance(fixed, Mapping) or observed is None:
        return None
    removed = []
    for kind, key, current in (
        ("dedicated", "targetDedicatedNodes", observed.current_dedicated_nodes),
        ("spot", "targetLowPriorityNodes", observed.current_low_priority_nodes),
    ):
        target = fixed.get(key)
        if isinstance(target, int) and target < current:
            removed.append(f"{current - target} {kind} ({current} to {target})")
    if not removed:
        return None
    option = fixed.get("nodeDeallocationOption") or "Requeue (Azure's default)"
    return Notice(
        "Normal",
        "ScalingDown",
        f"Removing {' and '.join(removed)} nodes to match the spec; nodeDeallocationOption {option}.",
    )


def _targets_changed(desired: DesiredPool, observed: ObservedPool) -> bool:
    """The spec's scale aims elsewhere than the running resize (not only its timeout or option)."""

    def aim(scale: Any) -> Any:
        if not isinstance(scale, Mapping):
            return scale
        return {k: {f: v for f, v in (s or {}).items() if f not in _RESIZE_ONLY} for k, s in scale.items()}

    return bool(aim(desired.comparable.get(_SCALE)) != aim(observed.comparable.get(_SCALE)))


def unapplied(action: Action, after: Plan, generation: int | None) -> NotConverging | None:
    """The fields a PATCH carried that Azure's answer still shows different (None: it took)."""
    if action.type is not ActionType.PATCH:
        return None
    left = {
        f
        for a in after.actions
        if a.type in (ActionType.PATCH, ActionType.RECREATE, ActionType.SCALE_TO_ZERO)
        for f in a.fields
    }
    fields = tuple(f for f in action.fields if f in left)
    if not fields:
        return None
    details = tuple(
        reason for a in after.actions for reason in a.reasons if any(reason.startswith(f) for f in fields)
    )
    return NotConverging(generation, fields, details)


def _retry_resize(
    action: Action,
    observed: ObservedPool | None,
    attempts: int,
    since_last_resize: float | None,
    tunables: Tunables,
) -> Step:
    """The last resize stopped short of a fixed target: resize again after a growing backoff (Batch
    docs). A scale-down that stopped with nodes still running tasks is not a failure: it is resized
    again at a steady pace for as long as the tasks run, and never stalls."""
    errors = observed.resize_errors if observed is not None else ()
    code = errors[0].code if errors else None
    message = errors[0].message if errors else ""
    verdict = classify_resize_error(code)
    shrinking = observed is not None and (
        observed.current_dedicated_nodes > (observed.target_dedicated_nodes or 0)
        or observed.current_low_priority_nodes > (observed.target_low_priority_nodes or 0)
    )
    what = "Scale-down" if shrinking else "Allocation"
    text = f"{what} stopped short: {code or 'resize error'}: {message}".strip()
    if verdict.hint:
        text += f" {verdict.hint}"
    gives_up = not shrinking and attempts >= MAX_RESIZE_RETRIES_BEFORE_STALL
    if verdict.disposition is Disposition.STALL or gives_up:
        return Step(
            StepKind.WAIT, Progress(Phase.STALLED, verdict.reason, text), None, requeue_after=verdict.delay
        )
    backoff = (tunables.resize_backoff or verdict.delay) * (1 if shrinking else 2**attempts)
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


def remediation_blocked(step: Step, observed: ObservedPool | None) -> str | None:
    """Why remediation may not remove nodes this pass (None: it may): never inside a destructive flow,
    after a write of this pass, or while Azure resizes (it refuses removals then)."""
    if step.recreate is not None:
        return "the recreate under way (status.recreate) has finished"
    if step.scale_down is not None:
        return "the scale to zero under way (status.scaleToZero) has finished"
    if step.kind is not StepKind.WAIT:
        return "this pass's write to the pool has taken effect"
    if observed is not None and not observed.is_steady:
        return (
            f"the pool's {observed.allocation_state} has finished (Azure refuses removals while it resizes)"
        )
    return None


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def orphaning_step(
    observed: ObservedPool,
    recreate: RecreateState | None,
    scale_down: ScaleDownState | None,
    scale: Mapping[str, Any] | None,
) -> Step:
    """deletionPolicy Orphan: the pool is let go as its spec had it. A drain the operator started
    (a recreate's or a scale to zero's) would go on shrinking the pool to zero with no one looking,
    so it is stopped first (stopResize) and the spec's scale (`scale`, None: Azure's zero) is sent
    back with the let-go patch. The final PATCH step carries the `Orphaned` notice to post."""
    draining = scale_down is not None or (recreate is not None and recreate.phase is RecreatePhase.DRAINING)
    name = observed.name or "the pool"
    if not draining or scale is None:
        told = Notice("Normal", "Orphaned", f"Pool {name} left running without its owner marker (Orphan).")
        letting_go = Progress(Phase.RECONCILING, "Orphaning", "Letting the pool go.")
        return Step(StepKind.PATCH, letting_go, None, body=orphan_patch(observed), notices=(told,))
    if (observed.allocation_state or "").lower() == "resizing":
        text = "Stopping the drain (stopResize) before letting the pool go, so it keeps its nodes."
        return Step(StepKind.STOP_RESIZE, Progress(Phase.RECONCILING, "Orphaning", text), None)
    if not observed.is_steady:
        text = "Waiting for the drain's resize to stop before letting the pool go."
        return Step(StepKind.WAIT, Progress(Phase.RECONCILING, "Orphaning", text), None)
    body = {"properties": {**orphan_patch(observed)["properties"], _SCALE: dict(scale)}}
    told = Notice(
        "Normal",
        "Orphaned",
        f"Pool {name} left running without its owner marker (Orphan), with its spec's scale sent back "
        "(the drain was stopped).",
    )
    text = "Letting the pool go with its spec's scale sent back (the drain was stopped)."
    progress = Progress(Phase.RECONCILING, "Orphaning", text)
    return Step(StepKind.PATCH, progress, None, body=body, notices=(told,))


def orphan_patch(observed: ObservedPool) -> dict[str, Any]:
    """The PATCH that lets a pool go: the operator's metadata items (owner, digests) removed."""
    kept = [
        {"name": name, "value": value}
        for name, value in observed.metadata
        if not name.startswith(RESERVED_METADATA_PREFIX)
    ]
    return {"properties": {"metadata": kept}}
