"""A replica that can no longer prove it leads stops acting at once: its pool loops' passes are
cancelled (not given the clean stop's ten seconds), and a finalizer kopf still runs sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import kopf
import pytest

from azbatch_operator.handlers import release
from azbatch_operator.kube.lease import LeadershipLostError, LeaseElector
from azbatch_operator.leadership import Standing
from azbatch_operator.loops import PoolLoops
from azbatch_operator.reconciler import PoolMemory
from azbatch_operator.runner import lead


class Passes:
    """Passes that never end by themselves; `ended` counts those that did."""

    def __init__(self) -> None:
        self.ended = 0

    async def __call__(self, memory: PoolMemory, body: Mapping[str, Any]) -> float:
        await asyncio.sleep(3600.0)
        self.ended += 1
        return 60.0


def _body(uid: str) -> dict[str, Any]:
    return {"metadata": {"name": uid, "uid": uid, "generation": 1}}


def test_a_lost_lease_cancels_every_pass_under_way_at_once() -> None:
    """Another replica may act from the Lease's expiry on: the old leader's passes are cancelled
    when it stops leading, not given the ten seconds a clean stop gives them."""
    passes = Passes()

    class Lost:
        async def hold(self) -> None:
            await asyncio.sleep(0.01)
            raise LeadershipLostError("lease default/azbatch-operator is held by another replica")

    async def story() -> tuple[float, bool]:
        loops = PoolLoops(passes, cancel_after=10.0)
        loops.follow("u", _body("u"))
        loops.follow("v", _body("v"))
        clock = asyncio.get_running_loop().time
        with pytest.raises(LeadershipLostError):
            await lead(cast(LeaseElector, Lost()), kopf.Memo(loops=loops))
        begun = clock()
        await loops.stop_all()  # the operator's cleanup, after kopf stopped
        return clock() - begun, passes.ended == 0

    took, none_ended = asyncio.run(story())
    assert took < 0.5, "cancelled at once, not after the clean stop's grace"
    assert none_ended


def test_a_replica_that_lost_the_lease_sends_no_deletion_from_a_finalizer_kopf_still_runs() -> None:
    """kopf lets a finalizer under way run on while the operator stops: once the Lease is lost it
    hands the deletion to the replica that leads instead of sending it."""
    standing = Standing()

    class Lost:
        async def hold(self) -> None:
            raise LeadershipLostError("could not renew lease default/azbatch-operator")

    memo = kopf.Memo(standing=standing, loops=PoolLoops(Passes()), runtime=None)
    with pytest.raises(LeadershipLostError):
        asyncio.run(lead(cast(LeaseElector, Lost()), memo))
    assert standing.lost

    body = kopf.Body({"metadata": {"name": "p", "namespace": "default", "uid": "u"}})
    with pytest.raises(kopf.TemporaryError, match="lost the leader Lease"):
        asyncio.run(release(body=body, memo=memo, retry=0))  # the runtime (None) is never reached
