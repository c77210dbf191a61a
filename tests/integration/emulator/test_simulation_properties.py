"""Rules that must hold for all inputs: the pool simulation and the service's body rules (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from azbatch_emulator.clock import parse_duration
from azbatch_emulator.errors import ServiceError
from azbatch_emulator.nodes import node_state
from azbatch_emulator.pools import Pool
from azbatch_emulator.rules import (
    LIVE_PROPERTIES,
    READ_ONLY_PROPERTIES,
    check_zero_node_change,
    strip_secrets,
)
from azbatch_emulator.timings import Timings

T0 = 1_700_000_000.0
TIMINGS = Timings()
LATER = 10 * 24 * 3600.0


def make_pool(dedicated: int, low: int) -> Pool:
    body = {
        "properties": {
            "vmSize": "STANDARD_D2S_V3",
            "deploymentConfiguration": {
                "virtualMachineConfiguration": {
                    "imageReference": {"publisher": "p", "offer": "o"},
                    "nodeAgentSkuId": "n",
                }
            },
            "scaleSettings": {
                "fixedScale": {"targetDedicatedNodes": dedicated, "targetLowPriorityNodes": low}
            },
        }
    }
    return Pool(
        arm_id="/subscriptions/s/resourceGroups/g/providers/Microsoft.Batch/batchAccounts/a/pools/p",
        name="p",
        body=body,
        now=T0,
        timings=TIMINGS,
    )


def resize(pool: Pool, now: float, dedicated: int, low: int, free: tuple[float, float] = (1e9, 1e9)) -> None:
    pool.properties["scaleSettings"] = {
        "fixedScale": {"targetDedicatedNodes": dedicated, "targetLowPriorityNodes": low}
    }
    pool.resize_to(now, targets=pool.desired_targets(now), timeout_seconds=1e9, free_cores=free, scripts=[])


@settings(max_examples=60, deadline=None)
@example(steps=[(40, 0, 10.0), (41, 0, 120.0)])  # a second resize while the first is still allocating
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 20), st.floats(0, 900)), min_size=1, max_size=6
    )
)
def test_any_resize_sequence_ends_steady_at_the_last_target(steps: list[tuple[int, int, float]]) -> None:
    pool = make_pool(0, 0)
    now = T0
    for dedicated, low, gap in steps:
        resize(pool, now, dedicated, low)
        for t in (now + gap * k / 10 for k in range(10)):
            if pool.allocation_state(t) == "Steady":  # steady means nothing is still arriving or leaving
                assert all(n.appear_at <= t and (n.gone_at is None or n.gone_at <= t) for n in pool.nodes)
        now += gap
    end = now + LATER
    assert pool.allocation_state(end) == "Steady"
    assert pool.counts(end) == steps[-1][:2]
    present = pool.present_nodes(end)
    assert len({n.id for n in present}) == len(present)
    ctx = pool.node_context("https://x")
    assert {node_state(n, ctx, end)[0] for n in present} <= {"idle"}


@settings(max_examples=60, deadline=None)
@given(target=st.integers(0, 60), free_cores=st.integers(0, 200))
def test_core_quota_caps_growth_and_says_so(target: int, free_cores: int) -> None:
    pool = make_pool(0, 0)
    resize(pool, T0, target, 0, free=(float(free_cores), 1e9))
    end = T0 + LATER
    expected = min(target, free_cores // 2)  # STANDARD_D2S_V3 has 2 cores
    assert pool.counts(end) == (expected, 0)
    codes = [e["code"] for e in pool.arm_json(end)["properties"]["resizeOperationStatus"].get("errors", [])]
    assert codes == (["AccountCoreQuotaReached"] if expected < target else [])


@given(h=st.integers(0, 99), m=st.integers(0, 59), s=st.integers(0, 59), d=st.integers(0, 9))
def test_iso_durations(h: int, m: int, s: int, d: int) -> None:
    assert parse_duration(f"P{d}DT{h}H{m}M{s}S") == d * 86400 + h * 3600 + m * 60 + s


@pytest.mark.parametrize("text", ["", "15", "PT", "P", "PT5X", "5M"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


secret = st.text(min_size=8, max_size=20, alphabet=st.characters(min_codepoint=65, max_codepoint=90))


@given(a=secret, b=secret, c=secret, d=secret, e=secret)
def test_secrets_never_survive_ingestion(a: str, b: str, c: str, d: str, e: str) -> None:
    body: dict[str, Any] = {
        "properties": {
            "deploymentConfiguration": {
                "virtualMachineConfiguration": {
                    "extensions": [{"name": "x", "protectedSettings": {"k": a}}],
                    "containerConfiguration": {"containerRegistries": [{"username": "u", "password": b}]},
                }
            },
            "userAccounts": [{"name": "u", "password": c, "linuxUserConfiguration": {"sshPrivateKey": d}}],
            "mountConfiguration": [
                {"azureBlobFileSystemConfiguration": {"accountKey": e, "sasKey": a}},
                {"azureFileShareConfiguration": {"accountKey": b}},
                {"cifsMountConfiguration": {"password": c}},
            ],
            "startTask": {"containerSettings": {"registry": {"password": d}}},
        }
    }
    text = json.dumps(strip_secrets(body))
    for value in (a, b, c, d, e):
        assert value not in text
    assert '"name": "u"' in text


property_names = st.sampled_from(
    [
        "vmSize",
        "deploymentConfiguration",
        "networkConfiguration",
        "userAccounts",
        "mountConfiguration",
        "taskSlotsPerNode",
        "taskSchedulingPolicy",
        "interNodeCommunication",
        "upgradePolicy",
        "displayName",
        "targetNodeCommunicationMode",
        "resourceTags",
    ]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)


@given(key=property_names, value=st.text(min_size=1, max_size=10), replace=st.booleans())
def test_only_live_properties_change_on_a_pool_with_nodes(key: str, value: str, replace: bool) -> None:
    old: dict[str, Any] = {"vmSize": "A", "metadata": []}
    new = {**old, key: {"changed": value}}
    check_zero_node_change(old, new, steady_and_empty=True, replace=replace)  # steady at zero: anything goes
    if key in LIVE_PROPERTIES or key in READ_ONLY_PROPERTIES:
        check_zero_node_change(old, new, steady_and_empty=False, replace=replace)
        return
    with pytest.raises(ServiceError) as caught:
        check_zero_node_change(old, new, steady_and_empty=False, replace=replace)
    assert caught.value.code == "PropertyCannotBeUpdated"
    assert ("PropertyName", key) in caught.value.details


@given(key=st.sampled_from(LIVE_PROPERTIES), value=st.text(max_size=10))
def test_live_properties_change_on_a_pool_with_nodes(key: str, value: str) -> None:
    check_zero_node_change({"vmSize": "A"}, {"vmSize": "A", key: value}, steady_and_empty=False, replace=True)


def test_a_full_replace_that_drops_a_zero_node_property_is_a_change() -> None:
    with pytest.raises(ServiceError, match="networkConfiguration"):
        check_zero_node_change(
            {"vmSize": "A", "networkConfiguration": {"subnetId": "x"}},
            {"vmSize": "A"},
            steady_and_empty=False,
            replace=True,
        )
    check_zero_node_change(
        {"vmSize": "A", "networkConfiguration": {"subnetId": "x"}},
        {"vmSize": "A"},
        steady_and_empty=False,
        replace=False,
    )
