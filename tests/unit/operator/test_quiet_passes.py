"""A steady pool's resync is a comparison, not a plan, while nothing it read has changed; a pool
with nothing left to do holds no spec model."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from azbatch_operator import reconciler
from azbatch_operator.cloud.clients import AccountRef
from azbatch_operator.config import OperatorConfig

ACCOUNT = AccountRef("sub", "rg", "acct")
IDENT = reconciler.Identity("ns", "p", "uid", 3)
POOL = {"name": "p", "properties": {"allocationState": "Steady"}}
COUNTS = {"poolId": "p", "dedicated": {"idle": 2, "total": 2}}


class Observer:
    def __init__(self) -> None:
        self.pool_now: dict[str, Any] = dict(POOL)
        self.counts_now: dict[str, Any] | None = dict(COUNTS)

    async def pool(self, account: AccountRef, name: str, *, fresh: bool) -> dict[str, Any]:
        assert not fresh, "a quiet pass reads the account's shared list, never the pool itself"
        return self.pool_now

    async def node_counts(self, account: AccountRef, name: str) -> dict[str, Any] | None:
        return self.counts_now


def _still_quiet(
    observer: Observer, *, ident: reconciler.Identity = IDENT, now: float = 0.0, counts_only: bool = True
) -> tuple[bool, reconciler.PoolMemory]:
    memory = reconciler.PoolMemory()
    memory.health_due = 10.0
    memory.quiet = reconciler.Quiet(
        IDENT, ACCOUNT, "p", dict(POOL), requeue=55.0, counts_only=counts_only, counts=dict(COUNTS)
    )
    runtime = SimpleNamespace(
        observer=observer, monotonic=lambda: now, config=OperatorConfig(health_interval=120.0)
    )
    found = asyncio.run(reconciler._still_quiet(runtime, memory, ident))  # type: ignore[arg-type]
    return found is not None, memory


def test_an_unchanged_pool_between_health_observations_is_quiet() -> None:
    assert _still_quiet(Observer())[0]


def test_drift_a_new_generation_or_an_approval_ends_the_quiet() -> None:
    drifted = Observer()
    drifted.pool_now = {"name": "p", "properties": {"allocationState": "Resizing"}}
    assert not _still_quiet(drifted)[0]
    assert not _still_quiet(Observer(), ident=reconciler.Identity("ns", "p", "uid", 4))[0]
    assert not _still_quiet(Observer(), ident=reconciler.Identity("ns", "p", "uid", 3, "3"))[0]


def test_a_due_health_observation_is_skipped_only_when_the_counts_say_the_same() -> None:
    quiet, memory = _still_quiet(Observer(), now=10.0)
    assert quiet and memory.health_due == 130.0, "the next observation is an interval away"
    changed = Observer()
    changed.counts_now = {"poolId": "p", "dedicated": {"idle": 1, "startTaskFailed": 1, "total": 2}}
    assert not _still_quiet(changed, now=10.0)[0]
    assert not _still_quiet(Observer(), now=10.0, counts_only=False)[0], "extensions are read each time"


def test_only_a_ready_pool_with_nothing_to_do_settles_quietly() -> None:
    from dataclasses import replace  # noqa: PLC0415

    from azbatch_operator.conditions import Phase, Progress  # noqa: PLC0415
    from azbatch_operator.convergence import RecreatePhase, RecreateState, Step, StepKind, settled_quietly  # noqa: PLC0415

    ready = Step(StepKind.WAIT, Progress(Phase.READY, "Ready", "matches"), None)
    assert settled_quietly(ready, fresh=False, secrets=False, recreate=None)
    assert not settled_quietly(ready, fresh=True, secrets=False, recreate=None)
    assert not settled_quietly(ready, fresh=False, secrets=True, recreate=None), "a Secret is read every pass"
    flow = RecreateState(RecreatePhase.CREATING, "r", ("x",), "t")
    assert not settled_quietly(ready, fresh=False, secrets=False, recreate=flow)
    assert not settled_quietly(replace(ready, kind=StepKind.PATCH), fresh=False, secrets=False, recreate=None)
    resizing = replace(ready, progress=Progress(Phase.RECONCILING, "Resizing", "allocating"))
    assert not settled_quietly(resizing, fresh=False, secrets=False, recreate=None)


def test_health_is_the_counts_only_without_extensions_remediation_or_failing_nodes() -> None:
    from azbatch_operator.convergence import health_is_counts  # noqa: PLC0415

    assert health_is_counts(extensions=False, remediation=False, nodes_healthy=None)
    assert health_is_counts(extensions=False, remediation=False, nodes_healthy=True)
    assert not health_is_counts(extensions=True, remediation=False, nodes_healthy=True)
    assert not health_is_counts(extensions=False, remediation=True, nodes_healthy=True)
    assert not health_is_counts(extensions=False, remediation=False, nodes_healthy=False)


def test_a_quiet_pool_lets_its_spec_model_go() -> None:
    memory = reconciler.PoolMemory()
    memory.validated = (3, None, [])
    memory.rendered = ((3,), object())  # type: ignore[assignment]
    quiet = reconciler.Quiet(IDENT, ACCOUNT, "p", dict(POOL), requeue=55.0)
    reconciler._settle(memory, quiet)
    assert memory.quiet is quiet
    assert memory.validated is None and memory.rendered is None, "a pass that plans validates again"


def test_the_status_we_wrote_is_kept_until_the_watched_object_shows_it() -> None:
    # `recreate: None` removes a finished flow: the API server keeps no such key.
    written = {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True"}], "recreate": None}
    memory = reconciler.PoolMemory(status=written)
    older = {"status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False"}]}}
    reconciler._drop_caught_up_status(memory, older)
    assert memory.status is written, "the watch has not caught up: ours is the fresher status"
    stored = {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True"}]}
    reconciler._drop_caught_up_status(memory, {"status": stored})
    assert memory.status is None, "the watched object holds the same status: one copy is enough"
    reconciler._drop_caught_up_status(memory, {})
    assert memory.status is None


class SteadyAzure:
    """One pool that comes up as asked and stays so: Azure's list shows the same object each time."""

    def __init__(self) -> None:
        self.listed: dict[str, Any] | None = None
        self.own_reads = 0

    async def pool(self, account: AccountRef, name: str, *, fresh: bool) -> dict[str, Any] | None:
        self.own_reads += fresh
        return self.listed

    async def read_now(self, account: AccountRef, name: str) -> dict[str, Any] | None:
        self.own_reads += 1
        return self.listed

    async def create(self, account: AccountRef, name: str, body: Any) -> dict[str, Any]:
        properties = dict(body["properties"])
        target = properties["scaleSettings"]["fixedScale"]["targetDedicatedNodes"]
        properties.update(
            provisioningState="Succeeded",
            allocationState="Steady",
            currentDedicatedNodes=target,
            currentLowPriorityNodes=0,
            creationTime="2026-12-02T06:00:00Z",
        )
        self.listed = {"name": name, "properties": properties}
        return self.listed

    async def node_counts(self, account: AccountRef, name: str, *, nodes: int = 0) -> dict[str, Any]:
        total = 0 if self.listed is None else self.listed["properties"]["currentDedicatedNodes"]
        return {"poolId": name, "dedicated": {"idle": total, "total": total}}

    async def list_nodes(self, account: AccountRef, name: str) -> list[Any]:
        from azbatch_operator.health import NodeSummary  # noqa: PLC0415

        total = 0 if self.listed is None else self.listed["properties"]["currentDedicatedNodes"]
        return [NodeSummary(f"node-{i}", "idle") for i in range(total)]

    def remember(self, account: AccountRef, name: str, pool: Any) -> None:
        return None

    def wrote(self, account: AccountRef, name: str) -> None:
        return None

    def watch(self, account: AccountRef, name: str, wakeup: Any) -> None:
        return None

    def unwatch(self, account: AccountRef, name: str, wakeup: Any) -> None:
        return None


class StatusKube:
    def __init__(self) -> None:
        self.writes = 0

    async def cluster_id(self) -> str:
        return "cluster"

    async def read_secret_values(self, namespace: str, refs: Any) -> dict[Any, str]:
        return {}

    async def patch_status(self, namespace: str, name: str, status: Any) -> None:
        self.writes += 1

    def event(self, *args: Any) -> None:
        return None


def test_a_steady_pool_settles_once_a_pass_finds_nothing_to_do_or_write() -> None:
    from azbatch_operator.sandbox import pool_manifest  # noqa: PLC0415

    azure, kube = SteadyAzure(), StatusKube()
    fakes: Any = azure
    runtime = reconciler.Runtime(
        config=OperatorConfig(digest_key=b"k" * 32),
        pools=fakes,
        nodes=fakes,
        observer=fakes,
        kube=kube,  # type: ignore[arg-type]
    )
    body = pool_manifest("p", "ns")
    del body["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"]
    body["metadata"].update(uid="uid", generation=1)
    memory = reconciler.PoolMemory()

    def one_pass() -> None:
        asyncio.run(reconciler.reconcile(runtime, memory, body, lambda *_: None))
        if memory.status is not None:  # the watch shows what was written
            body["status"], memory.status = memory.status, None

    one_pass()  # creates the pool
    one_pass()  # finds it Ready, nothing left to do, and writes so
    assert memory.quiet is None, "a pass that wrote is not quiet: the next one plans once more"
    assert memory.validated is None and memory.rendered is None, "but holds no spec model meanwhile"
    one_pass()
    one_pass()
    assert azure.listed is not None and kube.writes >= 1
    writes = kube.writes
    assert memory.quiet is not None, "a Ready pool that needs nothing settles: its next passes only compare"
    assert memory.validated is None and memory.rendered is None, "and lets its spec model go"
    one_pass()
    assert kube.writes == writes and memory.validated is None, "a settled pass neither plans nor writes"
