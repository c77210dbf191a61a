"""A create that finds the pool already there (made by someone else meanwhile) tells it so: no
`Created` event for a pool the operator did not make."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from azbatch_operator import reconciler
from azbatch_operator.cloud.clients import AccountRef
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.conditions import Phase, Progress
from azbatch_operator.convergence import Step, StepKind

ACCOUNT = AccountRef("sub", "rg", "acct")
EXISTING = {"name": "legacy", "properties": {"provisioningState": "Succeeded", "allocationState": "Steady"}}


class Pools:
    def __init__(self, exists: bool) -> None:
        self.exists = exists

    async def create(self, account: AccountRef, name: str, body: Any) -> dict[str, Any]:
        if self.exists:  # the PUT carries If-None-Match: * and so never overwrites a pool
            raise AzureCallError("PUT pool", 412, "ConditionNotMet", "The pool exists.")
        return dict(EXISTING)

    async def get(self, account: AccountRef, name: str) -> dict[str, Any]:
        return dict(EXISTING)


def _created(exists: bool) -> list[tuple[str, str, str]]:
    told: list[tuple[str, str, str]] = []
    runtime = SimpleNamespace(
        pools=Pools(exists), observer=SimpleNamespace(remember=lambda *a: None, wrote=lambda *a: None)
    )
    step = Step(
        StepKind.CREATE, Progress(Phase.RECONCILING, "Creating", "Creating pool legacy."), None, body={}
    )
    asyncio.run(
        reconciler._carry_out(
            runtime, reconciler.PoolMemory(), ACCOUNT, "legacy", step, None, {},
            reconciler.Identity("ns", "legacy", "uid", 1), lambda *e: told.append(e),
            SimpleNamespace(info=lambda *a, **k: None), replan=lambda pool: None,
        )
    )  # type: ignore[arg-type]  # fmt: skip
    return told


def test_a_pool_made_by_the_operator_is_told_created() -> None:
    assert [reason for _, reason, _ in _created(exists=False)] == ["Created"]


def test_a_pool_someone_made_meanwhile_is_told_found_not_created() -> None:
    (event,) = _created(exists=True)
    assert event[1] == "PoolFound"
    assert "already exists" in event[2] and "not created" in event[2]
