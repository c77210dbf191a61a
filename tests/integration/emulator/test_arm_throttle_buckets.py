"""ARM's token buckets on their own (no HTTP): what `azbatch_emulator.throttle` promises for any
sequence of requests, the settings syntax of `serve --arm-throttle`, and the statistics."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from azbatch_emulator.throttle import (
    GLOBAL_FACTOR,
    OFF,
    ArmThrottle,
    Decision,
    Limit,
    ThrottleSettings,
    TokenBucket,
    kind_of,
    parse_settings,
    subscription_of,
)

SUB = "00000000-0000-0000-0000-000000000000"
limits = st.builds(
    Limit,
    st.integers(min_value=1, max_value=300),
    st.floats(min_value=0.01, max_value=50.0, allow_nan=False, allow_infinity=False),
)
# A request schedule: emulator seconds since the previous request (0: the same instant).
gaps = st.lists(
    st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=30.0, allow_nan=False)), max_size=400
)


def throttle_with(limit: Limit) -> ArmThrottle:
    return ArmThrottle(ThrottleSettings(reads=limit, writes=limit, deletes=limit))


def check(
    throttle: ArmThrottle, now: float, method: str = "GET", *, sub: str = SUB, who: str = "app"
) -> Decision:
    decision = throttle.check(sub, who, method, now)
    assert decision is not None
    return decision


@given(limits, gaps)
@example(Limit(250, 25.0), [0.0] * 260)
@example(Limit(200, 10.0), [0.0] * 200 + [0.1] * 30 + [1.0] * 20)
def test_never_more_than_the_bucket_plus_what_refilled(limit: Limit, schedule: list[float]) -> None:
    """In every window [t0, t1] of a run the allowed requests are at most the bucket size plus the
    refill over the window: the token bucket's conformance bound."""
    throttle = throttle_with(limit)
    now, allowed_at = 0.0, []
    for gap in schedule:
        now += gap
        decision = check(throttle, now)
        assert 0 <= decision.remaining <= limit.bucket - (1 if decision.allowed else 0)
        if decision.allowed:
            allowed_at.append(now)
    # allowed(first..last) <= bucket + rate * (t_last - t_first) for every pair, checked in one pass:
    # the pair that strains the bound most for a given `last` maximises rate * t_first - first.
    rate, best = limit.refill_per_second, -math.inf
    for index, moment in enumerate(allowed_at):
        best = max(best, rate * moment - index)
        assert index + 1 - rate * moment + best <= limit.bucket + 1e-6


@given(limits, gaps)
def test_a_refused_request_takes_nothing_and_the_wait_is_exact(limit: Limit, schedule: list[float]) -> None:
    """A refusal leaves the bucket as it was (a second try at the same instant is refused alike),
    and after the wait it names the next request is allowed, but not a moment before."""
    throttle = throttle_with(limit)
    now = 0.0
    for gap in schedule:
        now += gap
        decision = check(throttle, now)
        if decision.allowed:
            assert decision.wait == 0.0
            continue
        assert decision.wait > 0
        assert check(throttle, now) == decision
        if decision.wait > 1e-3:
            assert not check(throttle, now + decision.wait * 0.999).allowed
        now += decision.wait + 1e-9
        assert check(throttle, now).allowed


@given(limits, st.integers(min_value=0, max_value=400))
def test_a_burst_counts_down_one_by_one_then_refuses(limit: Limit, burst: int) -> None:
    throttle = throttle_with(limit)
    remaining = [check(throttle, 5.0, "PUT").remaining for _ in range(burst)]
    allowed = min(burst, limit.bucket)
    assert remaining[:allowed] == list(range(limit.bucket - 1, limit.bucket - 1 - allowed, -1))
    assert remaining[allowed:] == [0] * (burst - allowed)
    stats = throttle.snapshot(5.0)["subscriptions"][SUB]["writes"] if burst else None
    assert stats is None or stats == {
        "allowed": allowed,
        "throttled": burst - allowed,
        "min_remaining": limit.bucket - allowed,
    }


def test_refill_is_continuous_and_capped() -> None:
    bucket = TokenBucket(Limit(10, 2.0), now=100.0)
    bucket.level = 0.0
    bucket.refill(100.25)
    assert bucket.remaining == 0 and bucket.wait() == pytest.approx(0.25)
    bucket.refill(100.5)
    assert bucket.remaining == 1 and bucket.wait() == 0.0
    bucket.refill(100.0)  # time never runs backwards for a bucket
    assert bucket.remaining == 1
    bucket.refill(10_000.0)
    assert bucket.level == 10.0 and bucket.full


def test_kinds_subscriptions_and_principals_have_their_own_buckets() -> None:
    throttle = throttle_with(Limit(2, 1.0))
    assert check(throttle, 0.0).allowed and check(throttle, 0.0, "GET").allowed
    assert not check(throttle, 0.0, "HEAD").allowed
    assert check(throttle, 0.0, "PATCH").allowed
    assert check(throttle, 0.0, "DELETE").allowed
    assert check(throttle, 0.0, sub="11111111-1111-1111-1111-111111111111").allowed
    assert check(throttle, 0.0, sub=SUB.upper(), who="other-app").allowed
    assert not check(throttle, 0.0, sub=SUB.upper()).allowed  # subscription ids are not case-sensitive


def test_the_global_bucket_is_fifteen_times_and_shared_by_all_principals() -> None:
    throttle = throttle_with(Limit(1, 1.0))
    decisions = [check(throttle, 0.0, who=f"app{i}") for i in range(GLOBAL_FACTOR + 1)]
    assert [d.global_remaining for d in decisions] == [*range(GLOBAL_FACTOR - 1, -1, -1), 0]
    assert all(d.allowed and d.remaining == 0 for d in decisions[:-1])
    last = decisions[-1]
    assert not last.allowed and last.global_limit_hit and last.remaining == 1
    assert last.wait == pytest.approx(1.0 / (GLOBAL_FACTOR * 1.0))
    assert "all principals together" in last.message("oid", 1)


def test_headers_name_the_kind_and_retry_after_is_whole_wall_seconds() -> None:
    decision = Decision(False, "reads", SUB, remaining=0, global_remaining=3749, wait=500.0)
    assert decision.headers() == {
        "x-ms-ratelimit-remaining-subscription-reads": "0",
        "x-ms-ratelimit-remaining-subscription-global-reads": "3749",
    }
    assert decision.retry_after(600.0) == 1  # 500 emulator s at x600: 0.83 wall s, rounded up
    assert Decision(False, "writes", SUB, 0, 0, wait=1000.0).retry_after(600.0) == 2
    assert Decision(False, "deletes", SUB, 0, 0, wait=0.1).retry_after(1.0) == 1  # never 0
    assert Decision(False, "reads", SUB, 0, 0, wait=3.0).retry_after(1.0) == 3
    message = decision.message("the-oid", 1)
    assert message.startswith(f"Number of 'read' requests for subscription '{SUB}' actor 'the-oid' exceeded.")
    assert "try again after '1' seconds" in message


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("GET", "reads"),
        ("head", "reads"),
        ("PUT", "writes"),
        ("PATCH", "writes"),
        ("POST", "writes"),
        ("DELETE", "deletes"),
    ],
)
def test_kind_of_method(method: str, kind: str) -> None:
    assert kind_of(method) == kind


@pytest.mark.parametrize(
    ("path", "subscription"),
    [
        ("/subscriptions/ABC/resourceGroups/g", "abc"),
        ("//Subscriptions/abc", "abc"),
        ("/subscriptions/abc/providers/Microsoft.Batch/batchAccounts", "abc"),
        ("/subscriptions", None),
        ("/subscriptions/", None),
        ("/tenants", None),
        ("/providers/Microsoft.Batch", None),
        ("/metadata/endpoints", None),
    ],
)
def test_subscription_of_path(path: str, subscription: str | None) -> None:
    assert subscription_of(path) == subscription


def test_settings_syntax_of_the_cli_option() -> None:
    assert parse_settings("on") == ThrottleSettings()
    assert parse_settings("OFF") == OFF and not OFF.enabled
    custom = parse_settings("reads=50/5, deletes=3/0.5")
    assert custom.reads == Limit(50, 5.0) and custom.deletes == Limit(3, 0.5)
    assert custom.writes == Limit(200, 10.0) and custom.enabled
    for bad in ("", "reads", "reads=50", "reads=0/1", "reads=5/0", "reads=5/-1", "puts=5/1", "reads=x/1"):
        with pytest.raises(ValueError, match=r"reads|KIND|bucket|refill"):
            parse_settings(bad)


def test_documented_defaults() -> None:
    settings = ThrottleSettings()
    assert settings.limits_json() == {
        "reads": {"bucket": 250, "refill_per_second": 25.0},
        "writes": {"bucket": 200, "refill_per_second": 10.0},
        "deletes": {"bucket": 200, "refill_per_second": 10.0},
    }
    fresh = ArmThrottle().check(SUB, "app", "GET", 0.0)
    assert fresh is not None and (fresh.remaining, fresh.global_remaining) == (249, 3749)
    assert ArmThrottle(OFF).check(SUB, "app", "GET", 0.0) is None


def test_statistics_reset_apart_from_the_buckets() -> None:
    throttle = throttle_with(Limit(2, 0.5))
    for _ in range(3):
        check(throttle, 0.0)
    assert throttle.snapshot(0.0)["subscriptions"][SUB] == {
        "reads": {"allowed": 2, "throttled": 1, "min_remaining": 0},
        "writes": {"allowed": 0, "throttled": 0, "min_remaining": 2},
        "deletes": {"allowed": 0, "throttled": 0, "min_remaining": 2},
    }
    throttle.reset_stats()
    assert throttle.snapshot(0.0)["subscriptions"] == {}
    assert not check(throttle, 1.0).allowed  # the bucket was kept: half a token back
    assert throttle.snapshot(1.0)["subscriptions"][SUB]["reads"] == {
        "allowed": 0,
        "throttled": 1,
        "min_remaining": 0,
    }
    throttle.configure(throttle.settings)  # new settings: full buckets, statistics kept
    assert check(throttle, 1.0).remaining == 1
    assert throttle.snapshot(1.0)["subscriptions"][SUB]["reads"]["throttled"] == 1


def test_buckets_are_dropped_only_once_full_again() -> None:
    """Many subscriptions keep memory bounded: past 10,000 buckets the full ones (the same as new
    ones) are dropped, never one that still counts requests."""
    throttle = throttle_with(Limit(1, 1.0))
    for index in range(10_050):
        check(throttle, 0.0, sub=f"sub{index}")
    assert not check(throttle, 0.0, sub="sub5").allowed  # all empty: nothing could be dropped
    assert check(throttle, 2.0, sub="another").allowed  # the others are full again by now: dropped
    assert check(throttle, 2.0, sub="sub5").allowed
    assert len(throttle._principal) < 10
