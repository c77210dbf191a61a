"""A disruption budget place is never kept by a pool that no longer needs it: deleted BatchPools,
pools left alone by `policy.reconcile: Observe`, and Batch accounts spelled in another case."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from azbatch_operator import reconciler
from azbatch_operator.config import OperatorConfig
from azbatch_operator.disruption import DisruptionBudget
from azbatch_operator.rendering.desired import OWNER_METADATA
from azbatch_operator.sandbox import pool_manifest

ACCOUNT = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct"


class Pools:
    """An owned pool: its deletion is not done at once (Azure deletes it, or it drains first)."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    async def get(self, account: Any, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "properties": {
                "provisioningState": "Succeeded",
                "allocationState": "Steady",
                "currentDedicatedNodes": 2,
                "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 2}},
                "metadata": [{"name": OWNER_METADATA, "value": "cluster/ns/b"}],
                "creationTime": "2026-11-23T10:00:00Z",
            },
        }

    async def update(self, account: Any, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.writes.append("PATCH")
        return await self.get(account, name)

    async def stop_resize(self, account: Any, name: str) -> None:
        self.writes.append("stopResize")

    async def begin_delete(self, account: Any, name: str) -> None:
        self.writes.append("DELETE")


class Kube:
    async def cluster_id(self) -> str:
        return "cluster"


def _runtime(budget: DisruptionBudget) -> reconciler.Runtime:
    return reconciler.Runtime(
        config=OperatorConfig(),
        pools=Pools(),  # type: ignore[arg-type]
        nodes=None,  # type: ignore[arg-type]
        observer=None,  # type: ignore[arg-type]
        kube=Kube(),  # type: ignore[arg-type]
        budget=budget,
    )


def _deleted(name: str, **spec: Any) -> dict[str, Any]:
    body = pool_manifest(name, namespace="ns", **spec)
    body["metadata"].update(uid=name, generation=1, deletionTimestamp="2026-11-23T12:00:00Z")
    return body


def _finalize(runtime: reconciler.Runtime, body: Mapping[str, Any]) -> reconciler.Finalization:
    return asyncio.run(reconciler.finalize(runtime, body, lambda *event: None))


def test_a_batchpool_deleted_while_queued_leaves_the_queue_at_once() -> None:
    budget = DisruptionBudget(limit=1)
    assert budget.request(ACCOUNT, "a", "ns/a").admitted
    assert not budget.request(ACCOUNT, "b", "ns/b").admitted
    assert not budget.request(ACCOUNT, "c", "ns/c").admitted
    runtime = _runtime(budget)

    done = _finalize(runtime, _deleted("b"))

    assert not done.done, "the finalizer waits for the pool to go"
    budget.ended("a")
    assert budget.request(ACCOUNT, "c", "ns/c").admitted, "b no longer waits for a recreate"


def test_a_batchpool_deleted_under_observe_gives_up_its_place() -> None:
    budget = DisruptionBudget(limit=1)
    budget.hold(ACCOUNT, "b", "ns/b")  # its status said a recreate was under way (seeded at start)
    runtime = _runtime(budget)

    done = _finalize(runtime, _deleted("b", policy={"reconcile": "Observe"}))

    assert done.done and runtime.pools.writes == []  # type: ignore[attr-defined]
    assert budget.request(ACCOUNT, "c", "ns/c").admitted


def test_one_account_in_two_spellings_has_one_budget() -> None:
    budget = DisruptionBudget(limit=1)
    assert budget.request(ACCOUNT, "a", "ns/a").admitted
    shouted = ACCOUNT.replace("/rg/", "/RG/").replace("acct", "Acct")  # ARM ids ignore case
    refused = budget.request(shouted, "b", "ns/b")
    assert not refused.admitted and refused.ahead == ("ns/a",)
    assert budget.holders(shouted) == ("ns/a",)
