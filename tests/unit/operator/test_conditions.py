"""Conditions keep their transition time unless their status changes, and map phases the kstatus way."""

from azbatch_operator import conditions as cond
from azbatch_operator.conditions import ExtensionsVerdict, Phase, Progress


def test_transition_time_is_kept_while_status_stays_the_same() -> None:
    first = cond.set_condition((), type="Ready", status="False", reason="Creating", message="a", now="t1")
    second = cond.set_condition(first, type="Ready", status="False", reason="Resizing", message="b", now="t2")
    assert second[0].last_transition_time == "t1"
    assert second[0].reason == "Resizing"


def test_transition_time_moves_when_status_changes() -> None:
    first = cond.set_condition((), type="Ready", status="False", reason="Creating", message="", now="t1")
    second = cond.set_condition(first, type="Ready", status="True", reason="Ready", message="", now="t2")
    assert second[0].last_transition_time == "t2"


def test_conditions_are_listed_in_a_stable_order() -> None:
    result = cond.apply_progress(
        (),
        Progress(Phase.READY, "Ready", "ok"),
        extensions=ExtensionsVerdict("True", "AllSucceeded", "fine"),
        generation=3,
        now="t",
    )
    assert [c.type for c in result] == ["Ready", "Reconciling", "Stalled", "ExtensionsHealthy"]
    assert all(c.observed_generation == 3 for c in result)


def test_each_phase_sets_exactly_one_of_ready_reconciling_stalled() -> None:
    for phase, expected in [
        (Phase.READY, "Ready"),
        (Phase.RECONCILING, "Reconciling"),
        (Phase.STALLED, "Stalled"),
    ]:
        result = cond.apply_progress(
            (), Progress(phase, "Why", "msg"), extensions=None, generation=1, now="t"
        )
        true = [c.type for c in result if c.status == "True"]
        assert true == [expected]


def test_stalled_condition_carries_the_reason_and_message() -> None:
    result = cond.apply_progress(
        (), Progress(Phase.STALLED, "InvalidSpec", "fix vmSize"), extensions=None, generation=1, now="t"
    )
    stalled = cond.find(result, "Stalled")
    assert stalled is not None
    assert (stalled.reason, stalled.message) == ("InvalidSpec", "fix vmSize")


def test_round_trip_through_the_api_form() -> None:
    result = cond.apply_progress(
        (), Progress(Phase.READY, "Ready", "ok"), extensions=None, generation=2, now="t"
    )
    assert cond.parse(cond.to_dicts(result)) == result
