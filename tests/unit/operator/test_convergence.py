"""The next step: one Azure write at a time, recreate steps announced first, never a second delete."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from azbatch_operator.conditions import Phase
from azbatch_operator.convergence import (
    DISRUPTION_NOTICES,
    RecreatePhase,
    RecreateState,
    StepKind,
    Tunables,
    after_create,
    next_step,
    orphan_patch,
)
from azbatch_operator.draining import DrainRules
from azbatch_operator.planning import Action, ActionType, Plan
from azbatch_operator.rendering import DesiredPool, ObservedPool, ResizeError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DESIRED = DesiredPool("pool", "cluster/ns/name", {}, {"properties": {"vmSize": "x"}}, {})
POOL = ObservedPool(
    comparable={},
    owner="cluster/ns/name",
    secret_digests={},
    provisioning_state="Succeeded",
    allocation_state="Steady",
    current_dedicated_nodes=2,
    target_dedicated_nodes=2,
    creation_time="2026-11-23T10:00:00Z",
)
RECREATE = Plan((Action(ActionType.RECREATE, fields=("extensions[kv]",), reasons=("extension kv changed",)),))
NOTHING = Plan((Action(ActionType.NONE),))


def step(plan: Plan, observed: ObservedPool | None, recreate: RecreateState | None = None, **kw: object):
    options: dict[str, object] = {
        "drain": DrainRules(),
        "resize_attempts": 0,
        "since_last_resize": None,
        "now": NOW,
    }
    options.update(kw)
    return next_step(plan, DESIRED, observed, recreate, **options)


def test_a_matching_steady_pool_is_ready_and_idles_until_the_resync() -> None:
    result = step(NOTHING, POOL)
    assert result.kind is StepKind.WAIT
    assert result.progress.phase is Phase.READY


def test_an_allocating_pool_is_reconciling_not_ready() -> None:
    result = step(NOTHING, replace(POOL, allocation_state="Resizing", current_dedicated_nodes=1))
    assert result.progress.phase is Phase.RECONCILING
    assert result.progress.reason == "Resizing"


def test_a_recreate_is_announced_before_anything_is_done() -> None:
    result = step(RECREATE, POOL)
    assert result.kind is StepKind.RECORD
    assert result.recreate is not None
    assert result.recreate.phase is RecreatePhase.DRAINING
    assert result.recreate.pool_creation_time == POOL.creation_time
    assert "kv" in result.progress.message
    assert result.counts_as_recreate


def test_without_drain_or_nodes_the_recreate_starts_by_deleting() -> None:
    assert step(RECREATE, POOL, drain=DrainRules(enabled=False)).recreate.phase is RecreatePhase.DELETING
    empty = replace(POOL, current_dedicated_nodes=0, target_dedicated_nodes=0)
    assert step(RECREATE, empty).recreate.phase is RecreatePhase.DELETING


def _state(phase: RecreatePhase, **kw: object) -> RecreateState:
    return RecreateState(
        phase, "extension kv changed", ("extensions[kv]",), "2026-11-23T12:00:00Z", POOL.creation_time, **kw
    )


def test_draining_shrinks_with_task_completion_then_moves_to_deleting() -> None:
    draining = _state(RecreatePhase.DRAINING)
    result = step(RECREATE, POOL, draining)
    assert result.kind is StepKind.DRAIN
    fixed = result.body["properties"]["scaleSettings"]["fixedScale"]
    assert fixed["nodeDeallocationOption"] == "TaskCompletion"
    drained = replace(POOL, current_dedicated_nodes=0, target_dedicated_nodes=0)
    after = step(RECREATE, drained, draining)
    assert after.kind is StepKind.RECORD
    assert after.recreate.phase is RecreatePhase.DELETING


def test_a_drain_past_its_deadline_deletes_anyway_and_says_so() -> None:
    late = _state(RecreatePhase.DRAINING)
    result = step(RECREATE, replace(POOL, target_dedicated_nodes=0), late, now=NOW + timedelta(minutes=31))
    assert result.recreate.phase is RecreatePhase.DELETING
    assert [n.reason for n in result.notices] == ["DrainTimedOut"]


def test_deleting_deletes_only_the_recorded_pool() -> None:
    deleting = _state(RecreatePhase.DELETING)
    assert step(NOTHING, POOL, deleting).kind is StepKind.DELETE
    newer = replace(POOL, creation_time="2026-11-23T11:00:00Z")
    result = step(NOTHING, newer, deleting)
    assert result.kind is StepKind.RECORD
    assert result.recreate.phase is RecreatePhase.CREATING


def test_a_pool_already_deleting_is_only_waited_for() -> None:
    result = step(NOTHING, replace(POOL, provisioning_state="Deleting"), _state(RecreatePhase.DELETING))
    assert result.kind is StepKind.WAIT


def test_once_gone_the_pool_is_created_then_the_flow_ends_when_steady() -> None:
    assert step(NOTHING, None, _state(RecreatePhase.DELETING)).recreate.phase is RecreatePhase.CREATING
    creating = _state(RecreatePhase.CREATING)
    created = step(NOTHING, None, creating)
    assert created.kind is StepKind.CREATE
    assert created.body is DESIRED.body
    allocating = step(NOTHING, replace(POOL, allocation_state="Resizing"), creating)
    assert allocating.kind is StepKind.WAIT
    assert allocating.recreate is creating
    done = step(NOTHING, POOL, creating)
    assert done.recreate is None
    assert done.progress.phase is Phase.READY


@pytest.mark.parametrize("phase", list(RecreatePhase))
def test_no_recreate_step_ever_deletes_a_pool_created_after_the_recorded_one(phase: RecreatePhase) -> None:
    newer = replace(POOL, creation_time="2026-11-23T11:30:00Z")
    assert step(RECREATE, newer, _state(phase)).kind is not StepKind.DELETE


def test_the_planners_waiting_state_is_respected() -> None:
    waiting = Plan((Action(ActionType.CREATE),), waiting="the pool is being deleted")
    result = step(waiting, replace(POOL, provisioning_state="Deleting"))
    assert result.kind is StepKind.WAIT
    assert result.progress.message == "the pool is being deleted"


def test_scale_to_zero_is_announced_then_drains() -> None:
    patch = {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 0}}}}
    plan = Plan(
        (Action(ActionType.SCALE_TO_ZERO, fields=("vmSize",), patch=patch), Action(ActionType.PATCH)),
        scale_down=True,
    )
    first = step(plan, POOL)
    assert first.kind is StepKind.RECORD and first.starts_disruption
    assert first.scale_down is not None and first.scale_down.fields == ("vmSize",)
    result = step(plan, POOL, scale_down=first.scale_down)
    assert result.kind is StepKind.DRAIN
    fixed = result.body["properties"]["scaleSettings"]["fixedScale"]
    assert fixed["nodeDeallocationOption"] == "TaskCompletion"
    assert fixed["resizeTimeout"] == "PT30M"


def test_resize_retries_back_off_and_then_stall() -> None:
    short = replace(
        POOL, current_dedicated_nodes=1, resize_errors=(ResizeError("AllocationFailed", "no capacity"),)
    )
    plan = Plan((Action(ActionType.RESIZE, patch={"properties": {}}),))
    assert step(plan, short, resize_attempts=0).kind is StepKind.RESIZE
    waiting = step(plan, short, resize_attempts=1, since_last_resize=5.0)
    assert waiting.kind is StepKind.WAIT
    assert "image" in waiting.progress.message
    stalled = step(plan, short, resize_attempts=3)
    assert stalled.progress.phase is Phase.STALLED


def test_a_scale_down_waiting_for_busy_nodes_is_resized_again_at_a_steady_pace_and_never_stalls() -> None:
    over = replace(
        POOL,
        current_dedicated_nodes=4,
        resize_errors=(ResizeError("RemoveNodesFailed", "2 nodes were still running tasks"),),
    )
    plan = Plan((Action(ActionType.RESIZE, patch={"properties": {}}),))
    assert step(plan, over, resize_attempts=10).kind is StepKind.RESIZE
    waiting = step(plan, over, resize_attempts=10, since_last_resize=5.0)
    assert waiting.kind is StepKind.WAIT and waiting.progress.phase is Phase.RECONCILING
    assert waiting.progress.message.startswith("Scale-down stopped short")
    assert "Requeue" in waiting.progress.message  # how to stop the tasks instead
    assert waiting.requeue_after <= 60.0


def _scale_patch(dedicated: int) -> Plan:
    fixed = {"targetDedicatedNodes": dedicated, "nodeDeallocationOption": "TaskCompletion"}
    patch = {"properties": {"scaleSettings": {"fixedScale": fixed}}}
    return Plan((Action(ActionType.PATCH, fields=("scaleSettings",), patch=patch),))


def test_a_patch_that_takes_nodes_away_is_told_before_it_is_sent() -> None:
    """Nodes someone added by hand, or a lowered target: an Event says how many nodes go and how
    their tasks are treated, posted before the PATCH (notices go out first)."""
    busy = replace(POOL, current_dedicated_nodes=4)
    result = step(_scale_patch(2), busy)
    assert result.kind is StepKind.PATCH
    [notice] = [n for n in result.notices if n.reason == "ScalingDown"]
    assert notice.type == "Normal"
    assert notice.reason in DISRUPTION_NOTICES, "never dropped to make room for routine Events"
    assert "2 dedicated (4 to 2)" in notice.message and "TaskCompletion" in notice.message
    grown = step(_scale_patch(6), busy)
    assert grown.kind is StepKind.PATCH
    assert not [n for n in grown.notices if n.reason == "ScalingDown"], "growing takes nothing away"


def test_orphan_patch_keeps_only_the_users_metadata() -> None:
    pool = replace(
        POOL, metadata=(("team", "a"), ("azbatch.dev/owner", "x"), ("azbatch.dev/secret-digest.e", "d"))
    )
    assert orphan_patch(pool) == {"properties": {"metadata": [{"name": "team", "value": "a"}]}}


def test_recreate_state_round_trips_through_status() -> None:
    state = _state(RecreatePhase.DRAINING, drain_deadline="2026-11-23T12:30:00Z", shrunk_until="x")
    assert RecreateState.from_dict(state.to_dict()) == state
    assert RecreateState.from_dict({"phase": "Bogus"}) is None


def test_a_create_says_what_the_new_pool_is_doing_as_the_next_pass_would() -> None:
    create = step(Plan((Action(ActionType.CREATE),)), None)
    assert create.kind is StepKind.CREATE and create.progress.reason == "Creating"
    allocating = replace(POOL, allocation_state="Resizing", current_dedicated_nodes=0)
    told = after_create(create, allocating, Tunables(active_requeue=5.0, steady_requeue=60.0))
    assert (told.kind, told.progress.reason) == (StepKind.CREATE, "Resizing")
    assert told.progress.message.startswith("Allocating nodes: 0/2 dedicated")
    assert told.requeue_after == create.requeue_after
    assert after_create(create, None, Tunables()) == create  # nothing known about it yet
    waiting = step(NOTHING, allocating)
    assert after_create(waiting, POOL, Tunables()) == waiting, "only a create's step is restated"
    recreating = replace(create, recreate=RecreateState(RecreatePhase.CREATING, "r", ("x",), "t"))
    assert after_create(recreating, allocating, Tunables()) == recreating, "a recreate says it is one"
    assert after_create(create, POOL, Tunables()) == create, "never Ready from the create's own answer"
