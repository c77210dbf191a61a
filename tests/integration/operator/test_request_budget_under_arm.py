"""The operator's ARM request budget keeps it under ARM's throttle, which the emulator enforces as
Azure documents it (per subscription token buckets; docs/emulator.md, "ARM request throttling").

Thirty BatchPools applied at once ask for thirty PUTs. With the operator's write budget below the
emulator's bucket, none is refused and the bucket never runs dry; with a budget above it, the
same burst draws 429s (so the first test can fail).
"""

from __future__ import annotations

import time

from operator_helpers import FAST

from azbatch_operator.request_budget import BudgetLimits, Rate
from azbatch_operator.sandbox import Sandbox, SandboxSettings, pool_manifest

POOLS = 30
ARM_WRITES = (5, 0.05)  # the emulator's write bucket: 5 requests, refilled one per 20 Azure seconds


def _burst(budget: BudgetLimits) -> dict[str, int]:
    """Apply POOLS BatchPools at once under `budget`; what ARM's write bucket saw until all were Ready."""
    with Sandbox(SandboxSettings(**FAST, arm_request_budget=budget)) as sandbox:
        sandbox.admin.set_arm_throttle(writes=ARM_WRITES)
        sandbox.admin.reset_counters()
        names = [f"burst-{i:02d}" for i in range(POOLS)]
        for name in names:
            manifest = pool_manifest(name)
            manifest["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"].pop("extensions", None)
            sandbox.kube.apply(manifest)
        for name in names:
            sandbox.wait_for_condition(name, "Ready", timeout=120)
        stats = sandbox.admin.arm_throttle()["subscriptions"][sandbox.info["subscription_id"].lower()]
        return {
            "throttled": stats["writes"]["throttled"] + stats["reads"]["throttled"],
            "writes": stats["writes"]["allowed"],
            "min_remaining": stats["writes"]["min_remaining"],
        }


def test_a_burst_of_creates_waits_in_the_operator_not_in_429s() -> None:
    below = BudgetLimits(writes=Rate(ARM_WRITES[0] - 2, ARM_WRITES[1] * 0.6))
    started = time.monotonic()
    seen = _burst(below)
    assert seen["throttled"] == 0, seen
    assert seen["writes"] >= POOLS
    assert seen["min_remaining"] >= 1, "the operator kept a request of headroom in ARM's bucket"
    assert time.monotonic() - started < 120


def test_without_the_budget_the_same_burst_is_throttled() -> None:
    seen = _burst(BudgetLimits(writes=Rate(100, 100.0)))
    assert seen["throttled"] > 0, seen
