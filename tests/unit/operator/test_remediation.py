"""Remediation in the reconciler: what it sends to the data plane, and when it sends nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from azbatch_operator import convergence, reconciler
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.conditions import Phase, Progress
from azbatch_operator.config import OperatorConfig
from azbatch_operator.convergence import RecreateState, ScaleDownState, Step, StepKind
from azbatch_operator.health import NodeError, NodeSummary
from azbatch_operator.metrics import NODE_REMOVALS
from azbatch_operator.models import BatchPoolSpec

SPEC = {
    "account": {
        "subscriptionId": "00000000-0000-0000-0000-000000000000",
        "resourceGroup": "rg",
        "accountName": "acct",
    },
    "vmSize": "STANDARD_D2S_V3",
    "deploymentConfiguration": {
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "Canonical", "offer": "o", "sku": "s", "version": "latest"},
            "nodeAgentSkuId": "batch.node.ubuntu 24.04",
        }
    },
    "policy": {"remediation": {"enabled": True}},
}


class FakeNodes:
    def __init__(self, error: AzureCallError | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.writes: list[str] = []  # pools the observer was told were written
        self.error = error
        self.told: Any = list  # the events posted so far (set by `_run`)
        self.told_before: list[list[Any]] = []  # what had been told when each removal was sent

    async def remove_nodes(self, account: Any, pool: str, node_ids: list[str], **options: Any) -> None:
        self.calls.append({"pool": pool, "nodes": list(node_ids), **options})
        self.told_before.append(self.told())
        if self.error is not None:
            raise self.error


def _runtime(nodes: FakeNodes, clock: list[float]) -> Any:
    return SimpleNamespace(
        config=OperatorConfig(health_interval=120.0),
        nodes=nodes,
        # A removal is a write of the pool: its next fresh read must not come from an older list.
        observer=SimpleNamespace(wrote=lambda account, name: nodes.writes.append(name)),
        monotonic=lambda: clock[0],
        now=lambda: datetime(2026, 12, 1, tzinfo=UTC),
    )


def _pool(failing: int, total: int = 10) -> list[NodeSummary]:
    bad = [
        NodeSummary(
            f"bad{i}", "starttaskfailed", start_task_exit_code=3, start_task_failure=NodeError("F", "x")
        )
        for i in range(failing)
    ]
    return bad + [NodeSummary(f"ok{i}", "idle") for i in range(total - failing)]


def _run(
    runtime: Any, memory: reconciler.PoolMemory, nodes: list[NodeSummary], busy: str | None = None
) -> list[Any]:
    events: list[Any] = []
    runtime.nodes.told = lambda: [e[1] for e in events]
    spec = BatchPoolSpec.model_validate(SPEC)
    asyncio.run(
        reconciler._remediate(
            runtime, memory, account=None, pool_name="p", spec=spec, nodes=nodes,
            events=lambda *e: events.append(e), labels=("ns", "p"), busy=busy,
        )
    )  # fmt: skip
    return events


def test_failing_nodes_are_removed_with_the_drain_option_a_bounded_number_per_interval() -> None:
    fake, clock, memory = FakeNodes(), [1000.0], reconciler.PoolMemory()
    runtime = _runtime(fake, clock)
    before = NODE_REMOVALS.labels("ns", "p", "startTaskFailed")._value.get()
    events = _run(runtime, memory, _pool(3))
    (call,) = fake.calls
    assert call["nodes"] == ["bad0", "bad1"]  # maxRemovalsPerInterval 2
    assert call["deallocation"] == "TaskCompletion"  # policy.drain.enabled (default)
    assert call["resize_timeout"] >= timedelta(minutes=5)
    assert [e[1] for e in events] == ["RemovingNode", "RemovingNode"]
    assert fake.told_before == [["RemovingNode", "RemovingNode"]], "told before the nodes are removed"
    assert "exit code 3" in events[0][2]
    assert NODE_REMOVALS.labels("ns", "p", "startTaskFailed")._value.get() == before + 2
    assert memory.remediation is not None and memory.remediation["removedTotal"] == 2
    assert memory.fresh and fake.writes == ["p"]  # a removal is a resize: read afresh, after it
    # Within the same interval nothing more goes, and the removed nodes are not asked for twice.
    _run(runtime, memory, _pool(3))
    assert len(fake.calls) == 1
    assert memory.remediation["reason"] == "Waiting"
    clock[0] += 121
    _run(runtime, memory, _pool(3))
    assert fake.calls[1]["nodes"] == ["bad2"]
    assert memory.remediation["removedTotal"] == 3


def test_nothing_is_removed_while_a_flow_runs_or_the_pool_resizes() -> None:
    progress = Progress(Phase.RECONCILING, "Recreating", "")
    recreate = RecreateState("Draining", "extensions changed", (), "2026-12-01T00:00:00Z")
    flows = [
        Step(StepKind.WAIT, progress, recreate),
        Step(StepKind.WAIT, progress, None, scale_down=ScaleDownState("2026-12-01T00:00:00Z", ())),
        Step(StepKind.PATCH, progress, None),
    ]
    for step in flows:
        busy = convergence.remediation_blocked(step, None)
        assert busy is not None
        fake, memory = FakeNodes(), reconciler.PoolMemory()
        _run(_runtime(fake, [0.0]), memory, _pool(1), busy=busy)
        assert fake.calls == [] and memory.remediation is not None
        assert memory.remediation["reason"] == "Waiting"
    resizing = SimpleNamespace(is_steady=False, allocation_state="Resizing")
    assert "Resizing" in str(convergence.remediation_blocked(Step(StepKind.WAIT, progress, None), resizing))
    steady = SimpleNamespace(is_steady=True, allocation_state="Steady")
    assert convergence.remediation_blocked(Step(StepKind.WAIT, progress, None), steady) is None


def test_more_than_the_threshold_failing_removes_nothing_and_says_so() -> None:
    fake, memory = FakeNodes(), reconciler.PoolMemory()
    events = _run(_runtime(fake, [0.0]), memory, _pool(5))
    assert fake.calls == []
    assert memory.remediation is not None and memory.remediation["reason"] == "ShortCircuited"
    assert [e[1] for e in events] == ["RemediationShortCircuited"]
    _run(_runtime(fake, [0.0]), memory, _pool(5))  # told once, not every interval
    assert [e[1] for e in events] == ["RemediationShortCircuited"]


def test_a_refused_removal_is_reported_and_retried_later() -> None:
    error = AzureCallError("POST removenodes", 409, "PoolBeingResized", "The pool is being resized.")
    fake, memory = FakeNodes(error), reconciler.PoolMemory()
    events = _run(_runtime(fake, [0.0]), memory, _pool(1))
    assert len(fake.calls) == 1
    assert [e[1] for e in events] == ["RemovingNode", "NodeRemovalFailed"]
    assert "PoolBeingResized" in events[1][2] and events[1][0] == "Warning"
    assert memory.remediation is not None and memory.remediation["reason"] == "Waiting"
    assert "PoolBeingResized" in memory.remediation["message"]
    assert memory.removed == {}  # not removed: asked for again next interval
