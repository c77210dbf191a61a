"""The operator's ARM request budget: a token bucket per subscription and kind, spent before sending."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from azbatch_operator.config import ConfigError, OperatorConfig
from azbatch_operator.request_budget import BudgetLimits, Rate, TokenBucket, kind_of

rates = st.builds(Rate, st.integers(1, 50), st.floats(0.1, 100.0))
gaps = st.lists(st.floats(0.0, 2.0), min_size=1, max_size=200)


def send_times(rate: Rate, gaps: list[float]) -> list[float]:
    bucket, now, sent = TokenBucket(rate, 0.0), 0.0, []
    for gap in gaps:
        now += gap
        sent.append(now + bucket.take(now))
    return sent


@given(rates, gaps)
@example(Rate(1, 0.1), [0.0, 0.0, 0.0])
@example(Rate(250, 25.0), [0.0] * 200)
def test_no_window_carries_more_than_the_burst_plus_the_refill(rate: Rate, gaps: list[float]) -> None:
    sent = send_times(rate, gaps)
    assert sent == sorted(sent), "requests leave in the order they asked"
    for i in range(len(sent)):
        for j in range(i, len(sent)):
            assert j - i + 1 <= rate.burst + rate.per_second * (sent[j] - sent[i]) + 1e-6


@given(rates, st.floats(0.0, 1000.0))
def test_a_quiet_bucket_sends_a_whole_burst_at_once(rate: Rate, start: float) -> None:
    bucket = TokenBucket(rate, 0.0)
    assert [bucket.take(start) for _ in range(rate.burst)] == [0.0] * rate.burst
    assert bucket.take(start) == pytest.approx(1 / rate.per_second)


def test_waiting_requests_queue_behind_each_other() -> None:
    bucket = TokenBucket(Rate(2, 10.0), 0.0)
    assert [round(bucket.take(0.0), 3) for _ in range(5)] == [0.0, 0.0, 0.1, 0.2, 0.3]
    assert bucket.level(0.0) == pytest.approx(-3.0)
    assert bucket.level(10.0) == 2.0  # refilled, never above the burst


def test_arm_kinds() -> None:
    assert [kind_of(m) for m in ("GET", "head", "PUT", "PATCH", "POST", "DELETE")] == [
        "reads",
        "reads",
        "writes",
        "writes",
        "writes",
        "deletes",
    ]


def test_the_default_keeps_a_fifth_of_arms_buckets_in_reserve() -> None:
    limits = BudgetLimits()
    arm = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}
    for kind, (bucket, refill) in arm.items():
        assert limits.of(kind).burst == 0.8 * bucket
        assert limits.of(kind).per_second == 0.8 * refill


def test_a_sped_up_world_refills_faster_and_holds_as_much() -> None:
    fast = BudgetLimits().sped_up(60)
    assert fast.writes == Rate(160, 480.0)


def test_settings_file() -> None:
    config = OperatorConfig.from_mapping({"armRequestBudget": {"writes": {"burst": 20, "perSecond": 2}}})
    assert config.arm_request_budget.writes == Rate(20, 2.0)
    assert config.arm_request_budget.reads == BudgetLimits().reads
    assert OperatorConfig.from_mapping({}).arm_request_budget == BudgetLimits()


@pytest.mark.parametrize(
    ("budget", "says"),
    [
        ({"writes": {"burst": 0}}, "burst must be a whole number of 1 or more"),
        ({"reads": {"perSecond": -1}}, "perSecond must be a number above 0"),
        ({"reads": {"perSecond": True}}, "perSecond must be a number above 0"),
        ({"puts": {"burst": 1}}, "takes reads, writes, deletes"),
        ({"reads": {"rate": 1}}, "takes burst and perSecond"),
        ("fast", "takes reads, writes, deletes"),
    ],
)
def test_bad_settings_say_what_is_wrong(budget: Any, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        OperatorConfig.from_mapping({"armRequestBudget": budget})


def test_the_pipeline_policy_holds_a_request_until_its_token_is_due() -> None:
    from azure.core.pipeline import PipelineRequest, PipelineResponse  # noqa: PLC0415
    from azure.core.pipeline.policies import AsyncHTTPPolicy  # noqa: PLC0415
    from azure.core.rest import HttpRequest  # noqa: PLC0415

    from azbatch_operator.cloud.budget_policy import RequestBudgetPolicy  # noqa: PLC0415

    clock = [0.0]
    sent: list[tuple[str, float]] = []

    class Wire(AsyncHTTPPolicy[Any, Any]):
        async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
            sent.append((request.http_request.method, clock[0]))
            return PipelineResponse(request.http_request, None, request.context)

    async def sleep_on_the_clock(seconds: float) -> None:
        clock[0] += seconds

    policy = RequestBudgetPolicy(
        BudgetLimits(writes=Rate(2, 4.0)), clock=lambda: clock[0], sleep=sleep_on_the_clock
    )
    policy.next = Wire()

    async def go() -> None:
        for method in ("PUT", "PUT", "PUT", "GET", "DELETE"):
            await policy.send(PipelineRequest(HttpRequest(method, "https://arm/subscriptions/s"), None))  # type: ignore[arg-type]

    asyncio.run(go())
    assert sent == [("PUT", 0.0), ("PUT", 0.0), ("PUT", 0.25), ("GET", 0.25), ("DELETE", 0.25)]
