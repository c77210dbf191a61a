"""No lost work: every destructive step is asked for, bounded and told (the pure rules).

The same rules are proven end to end against the emulator in tests/integration/operator.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from azbatch_operator.conditions import Phase
from azbatch_operator.convergence import (
    Guards,
    NotConverging,
    RecreatePhase,
    RecreateState,
    ScaleDownState,
    StepKind,
    deletion_step,
    next_step,
    orphaning_step,
    takes_nodes_away,
    unapplied,
)
from azbatch_operator.disruption import DisruptionBudget
from azbatch_operator.draining import DrainMove, DrainRules, drain_next, iso_duration
from azbatch_operator.planning import Action, ActionType, Plan
from azbatch_operator.rendering import DesiredPool, ObservedPool, ResizeError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
STARTED = "2026-11-23T12:00:00Z"
DESIRED = DesiredPool(
    "pool",
    "cluster/ns/name",
    {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 4}}},
    {"properties": {}},
    {},
)
POOL = ObservedPool(
    comparable={"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 2}}},
    owner="cluster/ns/name",
    secret_digests={},
    name="pool",
    provisioning_state="Succeeded",
    allocation_state="Steady",
    current_dedicated_nodes=2,
    target_dedicated_nodes=2,
    creation_time="2026-11-23T10:00:00Z",
)
SHRINKING = replace(POOL, allocation_state="Resizing", target_dedicated_nodes=0)
RECREATE = Plan(
    (Action(ActionType.RECREATE, fields=("extensions[kv]",), reasons=("recreate: kv", "kv changed")),)
)
NOTHING = Plan((Action(ActionType.NONE),))
SCALE_DOWN = Plan(
    (Action(ActionType.SCALE_TO_ZERO, fields=("vmSize",), reasons=("zero nodes",)), Action(ActionType.PATCH)),
    scale_down=True,
)
RULES = DrainRules(timeout=timedelta(minutes=60))


def step(plan: Plan, observed: ObservedPool | None, recreate: RecreateState | None = None, **kw: object):
    options: dict[str, object] = {"drain": RULES, "resize_attempts": 0, "since_last_resize": None, "now": NOW}
    options.update(kw)
    return next_step(plan, DESIRED, observed, recreate, **options)  # type: ignore[arg-type]


def draining(**kw: object) -> RecreateState:
    return RecreateState(
        RecreatePhase.DRAINING, "kv changed", ("extensions[kv]",), STARTED, POOL.creation_time, **kw
    )


# --- drains hold -----------------------------------------------------------------------------------


def test_the_drain_shrink_keeps_azure_at_it_for_the_whole_timeout() -> None:
    result = step(RECREATE, POOL, draining())
    fixed = result.body["properties"]["scaleSettings"]["fixedScale"]  # type: ignore[index]
    assert fixed == {
        "targetDedicatedNodes": 0,
        "targetLowPriorityNodes": 0,
        "nodeDeallocationOption": "TaskCompletion",
        "resizeTimeout": "PT1H",
    }
    assert result.recreate is not None and result.recreate.shrunk_until == "2026-11-23T13:00:00Z"
    later = step(RECREATE, POOL, draining(), now=NOW + timedelta(minutes=58))
    assert later.body["properties"]["scaleSettings"]["fixedScale"]["resizeTimeout"] == "PT5M"  # type: ignore[index]


def test_a_shrink_azure_ended_early_is_sent_again_and_one_it_timed_out_ends_the_drain() -> None:
    ended = replace(
        SHRINKING, allocation_state="Steady", resize_errors=(ResizeError("ResizeStopped", "stopped"),)
    )
    state = draining(shrunk_until="2026-11-23T13:00:00Z")
    assert step(RECREATE, ended, state, now=NOW + timedelta(minutes=10)).kind is StepKind.DRAIN
    timed_out = replace(ended, resize_errors=(ResizeError("RemoveNodesFailed", "timed out"),))
    result = step(RECREATE, timed_out, state, now=NOW + timedelta(minutes=10))
    assert result.recreate is not None and result.recreate.phase is RecreatePhase.DELETING
    assert [n.reason for n in result.notices] == ["DrainTimedOut"]


def test_a_raised_drain_timeout_sends_the_shrink_again_after_azure_timed_out() -> None:
    timed_out = replace(
        SHRINKING, allocation_state="Steady", resize_errors=(ResizeError("RemoveNodesFailed", "x"),)
    )
    state = draining(shrunk_until="2026-11-23T13:00:00Z")
    longer = DrainRules(timeout=timedelta(hours=2))
    assert (
        step(RECREATE, timed_out, state, drain=longer, now=NOW + timedelta(minutes=61)).kind is StepKind.DRAIN
    )


def test_while_our_shrink_runs_the_drain_only_waits() -> None:
    result = step(RECREATE, SHRINKING, draining())
    assert result.kind is StepKind.WAIT
    assert "2 nodes left" in result.progress.message


def test_a_pool_still_growing_has_its_resize_stopped_before_the_shrink() -> None:
    growing = replace(POOL, allocation_state="Resizing", target_dedicated_nodes=5)
    assert step(RECREATE, growing, draining()).kind is StepKind.STOP_RESIZE
    assert step(RECREATE, replace(growing, allocation_state="Stopping"), draining()).kind is StepKind.WAIT


def test_stall_at_the_deadline_keeps_the_pool_and_says_what_to_do() -> None:
    stall = DrainRules(timeout=timedelta(minutes=20), on_timeout="Stall")
    result = step(RECREATE, SHRINKING, draining(), drain=stall, now=NOW + timedelta(minutes=21))
    assert result.kind is StepKind.WAIT
    assert result.progress.phase is Phase.STALLED and result.progress.reason == "DrainTimedOut"
    assert "onTimeout" in result.progress.message
    assert result.recreate is not None and result.recreate.phase is RecreatePhase.DRAINING


def test_iso_durations_are_rounded_up() -> None:
    assert iso_duration(timedelta(minutes=90)) == "PT1H30M"
    assert iso_duration(timedelta(seconds=59.2)) == "PT1M"
    assert iso_duration(timedelta(0)) == "PT0S"


def test_without_drain_the_shrink_requeues_at_once() -> None:
    move = drain_next(POOL, DrainRules(enabled=False), started=NOW, shrunk_until=None, now=NOW)
    assert move.move is DrainMove.SHRINK
    assert move.body["properties"]["scaleSettings"]["fixedScale"]["nodeDeallocationOption"] == "Requeue"  # type: ignore[index]


# --- scale to zero ---------------------------------------------------------------------------------


def test_scale_to_zero_is_bounded_by_the_drain_timeout_then_requeues() -> None:
    state = ScaleDownState(STARTED, ("vmSize",), shrunk_until="2026-11-23T13:00:00Z")
    busy = replace(
        SHRINKING, allocation_state="Steady", resize_errors=(ResizeError("RemoveNodesFailed", "x"),)
    )
    result = step(SCALE_DOWN, busy, scale_down=state, now=NOW + timedelta(minutes=61))
    assert result.kind is StepKind.DRAIN
    assert result.body["properties"]["scaleSettings"]["fixedScale"]["nodeDeallocationOption"] == "Requeue"  # type: ignore[index]
    assert result.scale_down is not None and result.scale_down.requeued
    assert [n.reason for n in result.notices] == ["DrainTimedOut"]
    running = step(SCALE_DOWN, SHRINKING, scale_down=state, now=NOW + timedelta(minutes=61))
    assert running.kind is StepKind.STOP_RESIZE  # our TaskCompletion shrink still runs: stop it first


def test_a_reverted_scale_to_zero_ends_and_scales_back() -> None:
    state = ScaleDownState(STARTED, ("vmSize",))
    patch = Plan((Action(ActionType.PATCH, ("scaleSettings",), patch={"properties": {"scaleSettings": {}}}),))
    result = step(patch, replace(SHRINKING, allocation_state="Steady"), scale_down=state)
    assert result.kind is StepKind.PATCH and result.scale_down is None
    assert [n.reason for n in result.notices] == ["ScaleToZeroCancelled"]


# --- cancel ----------------------------------------------------------------------------------------


def test_a_spec_reverted_while_draining_cancels_before_any_delete() -> None:
    scale_back = Plan(
        (Action(ActionType.PATCH, ("scaleSettings",), patch={"properties": {"scaleSettings": {}}}),)
    )
    # The drain's shrink still runs: stopped first, the flow (and its budget place) kept meanwhile.
    stopping = step(scale_back, SHRINKING, draining())
    assert stopping.kind is StepKind.STOP_RESIZE and stopping.recreate == draining()
    assert stopping.progress.reason == "RecreateCancelled" and stopping.disruptive
    stopped = step(scale_back, replace(SHRINKING, allocation_state="Stopping"), draining())
    assert stopped.kind is StepKind.WAIT and stopped.recreate == draining()
    result = step(scale_back, replace(SHRINKING, allocation_state="Steady"), draining())
    assert result.kind is StepKind.RECORD
    assert result.recreate is None
    assert [n.reason for n in result.notices] == ["RecreateCancelled"]


def test_a_recreate_drained_to_zero_that_patches_in_place_says_so_not_reverted() -> None:
    at_zero = replace(POOL, current_dedicated_nodes=0, target_dedicated_nodes=0)
    in_place = Plan((Action(ActionType.PATCH, ("vmSize",), patch={"properties": {"vmSize": "D4"}}),))
    result = step(in_place, at_zero, draining())
    assert result.kind is StepKind.RECORD and result.recreate is None
    (notice,) = result.notices
    assert "patched instead of recreated" in notice.message and "no longer needs" not in notice.message


def test_a_scale_to_zero_reverted_while_shrinking_stops_the_shrink_before_it_ends() -> None:
    state = ScaleDownState(STARTED, ("vmSize",))
    patch = Plan((Action(ActionType.PATCH, ("scaleSettings",), patch={"properties": {"scaleSettings": {}}}),))
    stopping = step(patch, SHRINKING, scale_down=state)
    assert stopping.kind is StepKind.STOP_RESIZE and stopping.scale_down == state and stopping.disruptive
    stopped = step(patch, replace(SHRINKING, allocation_state="Stopping"), scale_down=state)
    assert stopped.kind is StepKind.WAIT and stopped.scale_down == state


def test_a_revert_after_the_delete_was_recorded_does_not_cancel() -> None:
    deleting = replace(draining(), phase=RecreatePhase.DELETING)
    assert step(NOTHING, POOL, deleting).kind is StepKind.DELETE


# --- decided on the pool as it is now -----------------------------------------------------------------


def test_every_step_that_takes_nodes_away_is_decided_on_a_fresh_read() -> None:
    empty = replace(POOL, current_dedicated_nodes=0, target_dedicated_nodes=0)
    # From a list that missed the nodes, a recreate would record Deleting and skip its drain.
    skipping = step(RECREATE, empty)
    assert skipping.recreate is not None and skipping.recreate.phase is RecreatePhase.DELETING
    assert takes_nodes_away(skipping)
    assert takes_nodes_away(step(RECREATE, POOL))  # starts Draining
    assert takes_nodes_away(step(RECREATE, POOL, draining()))  # the shrink
    assert takes_nodes_away(step(RECREATE, POOL, replace(draining(), phase=RecreatePhase.DELETING)))
    assert takes_nodes_away(step(SCALE_DOWN, POOL))


def test_steps_that_keep_every_node_may_be_decided_on_the_accounts_list() -> None:
    assert not takes_nodes_away(step(NOTHING, POOL))
    grow = Plan((Action(ActionType.PATCH, ("scaleSettings",), patch={"properties": {}}),))
    assert not takes_nodes_away(step(grow, POOL))
    assert not takes_nodes_away(step(RECREATE, POOL, guards=Guards(generation=4, adopted=True)))


# --- adoption --------------------------------------------------------------------------------------


def test_an_adopted_pool_is_not_disrupted_without_approval_for_this_generation() -> None:
    adopted = Guards(generation=4, resource="render -n team", adopted=True)
    refused = step(RECREATE, POOL, guards=adopted)
    assert refused.kind is StepKind.WAIT and refused.recreate is None
    assert refused.progress.reason == "ApprovalRequired"
    assert (
        "kubectl annotate batchpool render -n team azbatch.dev/approve-disruption=4"
        in refused.progress.message
    )
    assert "kv changed" in refused.progress.message
    assert step(SCALE_DOWN, POOL, guards=adopted).progress.reason == "ApprovalRequired"
    approved = step(RECREATE, POOL, guards=replace(adopted, approved=True))
    assert approved.kind is StepKind.RECORD and approved.starts_disruption


def test_an_adopted_pool_is_not_shrunk_without_approval() -> None:
    adopted = Guards(generation=4, resource="render -n team", adopted=True)
    shrink = {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 0}}}}
    fewer = Plan((Action(ActionType.PATCH, ("scaleSettings",), ("scaleSettings differs",), shrink),))
    refused = step(fewer, POOL, guards=adopted)  # e.g. an adopting spec that leaves scaleSettings out
    assert refused.kind is StepKind.WAIT and refused.progress.reason == "ApprovalRequired"
    assert "2 dedicated (2 to 0)" in refused.progress.message
    assert "azbatch.dev/approve-disruption=4" in refused.progress.message
    formula = {"properties": {"scaleSettings": {"autoScale": {"formula": "$TargetDedicatedNodes=0;"}}}}
    to_autoscale = Plan((Action(ActionType.PATCH, ("scaleSettings",), ("scaleSettings differs",), formula),))
    assert step(to_autoscale, POOL, guards=adopted).progress.reason == "ApprovalRequired"
    grow = {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": 4}}}}
    more = Plan((Action(ActionType.PATCH, ("scaleSettings",), ("scaleSettings differs",), grow),))
    assert step(more, POOL, guards=adopted).kind is StepKind.PATCH, "adding nodes takes nothing away"
    assert step(_patch("metadata"), POOL, guards=adopted).kind is StepKind.PATCH
    assert step(fewer, POOL, guards=replace(adopted, approved=True)).kind is StepKind.PATCH
    assert step(fewer, POOL).kind is StepKind.PATCH, "a pool the operator made shrinks as its spec says"


# --- at most one recreate per generation -----------------------------------------------------------


def test_a_second_recreate_for_the_same_generation_stalls_naming_the_fields() -> None:
    result = step(RECREATE, POOL, guards=Guards(generation=3, last_recreate_generation=3))
    assert result.progress.phase is Phase.STALLED and result.progress.reason == "NotConverging"
    assert "kv changed" in result.progress.message
    assert (
        step(RECREATE, POOL, guards=Guards(generation=4, last_recreate_generation=3)).kind is StepKind.RECORD
    )


def test_a_recreated_pool_that_still_differs_stalls_at_once() -> None:
    creating = replace(draining(), phase=RecreatePhase.CREATING)
    result = step(RECREATE, POOL, creating, guards=Guards(generation=3))
    assert result.progress.reason == "NotConverging" and result.recreate is None
    assert result.finished_recreate
    done = step(NOTHING, POOL, creating, guards=Guards(generation=3))
    assert done.progress.phase is Phase.READY and done.finished_recreate


def test_a_patch_that_did_not_take_is_named_and_not_sent_again() -> None:
    sent = Action(ActionType.PATCH, ("startTask",), ("startTask differs",), {"properties": {"startTask": {}}})
    after = Plan((Action(ActionType.PATCH, ("startTask",), ("startTask differs: a -> b",)),))
    stuck = unapplied(sent, after, 7)
    assert stuck == NotConverging(7, ("startTask",), ("startTask differs: a -> b",))
    assert unapplied(sent, NOTHING, 7) is None
    result = step(Plan((sent,)), POOL, guards=Guards(generation=7, not_converging=stuck))
    assert result.kind is StepKind.WAIT and result.progress.reason == "NotConverging"
    assert step(Plan((sent,)), POOL, guards=Guards(generation=8, not_converging=stuck)).kind is StepKind.PATCH


# --- resizes are not fought ------------------------------------------------------------------------


def _patch(*props: str) -> Plan:
    body = {"properties": {p: {} for p in props}}
    return Plan((Action(ActionType.PATCH, props, tuple(f"{p} differs" for p in props), body),))


def test_live_fields_are_patched_apart_while_a_resize_runs() -> None:
    growing = replace(POOL, allocation_state="Resizing")
    result = step(_patch("metadata", "scaleSettings"), growing)
    assert result.kind is StepKind.PATCH
    assert set(result.body["properties"]) == {"metadata"}  # type: ignore[index]
    assert result.action is not None and result.action.fields == ("metadata",)


def test_a_new_target_stops_the_running_resize_and_anything_else_waits() -> None:
    growing = replace(POOL, allocation_state="Resizing")
    assert step(_patch("scaleSettings"), growing).kind is StepKind.STOP_RESIZE
    same_aim = replace(growing, comparable=DESIRED.comparable)
    assert step(_patch("scaleSettings"), same_aim).kind is StepKind.WAIT
    assert step(_patch("scaleSettings"), replace(growing, allocation_state="Stopping")).kind is StepKind.WAIT
    assert step(_patch("scaleSettings"), POOL).kind is StepKind.PATCH


# --- stuck deletes ---------------------------------------------------------------------------------


def test_a_delete_azure_does_not_finish_is_told_after_the_bound() -> None:
    deleting = replace(POOL, provisioning_state="Deleting")
    state = replace(draining(), phase=RecreatePhase.DELETING, delete_requested=STARTED)
    assert step(NOTHING, deleting, state, now=NOW + timedelta(minutes=10)).progress.phase is Phase.RECONCILING
    stuck = step(NOTHING, deleting, state, now=NOW + timedelta(minutes=31))
    assert stuck.progress.reason == "DeleteStuck" and stuck.recreate == state
    assert "az batch pool show" in stuck.progress.message
    waiting = Plan((Action(ActionType.CREATE),), waiting="being deleted")
    late = step(waiting, deleting, guards=Guards(deleting_since=NOW), now=NOW + timedelta(hours=1))
    assert late.progress.reason == "DeleteStuck"


# --- deletion of the BatchPool ---------------------------------------------------------------------


def test_deleting_the_batchpool_drains_first() -> None:
    shrink = deletion_step(POOL, RULES, requested=NOW, shrunk_until=None, now=NOW)
    assert shrink.kind is StepKind.DRAIN
    assert deletion_step(SHRINKING, RULES, requested=NOW, shrunk_until=None, now=NOW).kind is StepKind.WAIT
    empty = replace(POOL, current_dedicated_nodes=0, target_dedicated_nodes=0)
    assert deletion_step(empty, RULES, requested=NOW, shrunk_until=None, now=NOW).kind is StepKind.DELETE
    late = deletion_step(SHRINKING, RULES, requested=NOW, shrunk_until=None, now=NOW + timedelta(hours=2))
    assert late.kind is StepKind.DELETE and late.notices[0].reason == "DrainTimedOut"
    plain = deletion_step(POOL, DrainRules(enabled=False), requested=NOW, shrunk_until=None, now=NOW)
    assert plain.kind is StepKind.DELETE


# --- the disruption budget -------------------------------------------------------------------------


def test_the_budget_admits_one_pool_per_account_first_come_first_served() -> None:
    budget = DisruptionBudget(limit=1)
    assert budget.request("acct", "a", "ns/a").admitted
    second = budget.request("acct", "b", "ns/b")
    third = budget.request("acct", "c", "ns/c")
    assert not second.admitted and second.ahead == ("ns/a",)
    assert not third.admitted and third.ahead == ("ns/a", "ns/b")
    assert "maxConcurrentRecreates" in third.message("acct")
    assert budget.request("other", "d", "ns/d").admitted  # another account has its own budget
    budget.release("acct", "a")
    assert not budget.request("acct", "c", "ns/c").admitted  # b came first
    assert budget.request("acct", "b", "ns/b").admitted
    budget.hold("acct", "c", "ns/c")  # a flow under way (after a restart) keeps its place
    assert budget.holders("acct") == ("ns/b", "ns/c")


def test_a_pool_that_stops_asking_does_not_hold_up_the_queue() -> None:
    budget = DisruptionBudget(limit=1)
    assert budget.request("acct", "a", "ns/a").admitted
    assert not budget.request("acct", "b", "ns/b").admitted
    assert not budget.request("acct", "c", "ns/c").admitted
    budget.withdraw("b")  # b's spec became invalid: it is stalled, not waiting
    budget.release("acct", "a")
    assert budget.request("acct", "c", "ns/c").admitted


def test_a_flow_that_ended_gives_its_place_to_the_next_and_waiters_keep_theirs() -> None:
    budget = DisruptionBudget(limit=1)
    assert budget.request("acct", "a", "ns/a").admitted
    assert not budget.request("acct", "b", "ns/b").admitted
    assert not budget.request("acct", "c", "ns/c").admitted
    budget.ended("b")  # a waiter whose status shows no flow is still waiting
    budget.ended("a")  # a's status now says its recreate is over
    assert not budget.request("acct", "c", "ns/c").admitted  # b is still first
    assert budget.request("acct", "b", "ns/b").admitted


def test_an_orphaned_pool_is_let_go_at_its_spec_s_scale_not_mid_drain() -> None:
    scale = {"fixedScale": {"targetDedicatedNodes": 2}}
    plain = orphaning_step(POOL, None, None, scale)
    assert plain.kind is StepKind.PATCH and set(plain.body["properties"]) == {"metadata"}  # type: ignore[index]
    assert orphaning_step(SHRINKING, draining(), None, scale).kind is StepKind.STOP_RESIZE
    stopping = replace(SHRINKING, allocation_state="Stopping")
    assert orphaning_step(stopping, draining(), None, scale).kind is StepKind.WAIT
    stopped = replace(SHRINKING, allocation_state="Steady", current_dedicated_nodes=1)
    restored = orphaning_step(stopped, None, ScaleDownState(STARTED, ("vmSize",)), scale)
    assert restored.kind is StepKind.PATCH
    assert restored.body["properties"]["scaleSettings"] == scale  # type: ignore[index]
    (told,) = restored.notices
    assert told.reason == "Orphaned" and "scale sent back" in told.message
    assert orphaning_step(SHRINKING, draining(), None, None).kind is StepKind.PATCH, "spec: zero"
