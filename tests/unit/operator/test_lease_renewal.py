"""A leader stops acting once it cannot prove it leads, however its renewal fails: refused, or
never answered (a hung request must not keep it acting past the renew deadline, while a standby
may take the Lease over at its expiry)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from kubernetes import client as k8s

from azbatch_operator.kube.lease import LeadershipLostError, LeaseElector


class Hanging(LeaseElector):
    async def try_acquire(self) -> bool:
        await asyncio.sleep(3600)  # the API server never answers
        return True


def test_a_renewal_that_never_answers_loses_leadership_at_the_renew_deadline() -> None:
    elector = Hanging(
        k8s.ApiClient(k8s.Configuration(host="http://127.0.0.1:9")),
        name="azbatch-operator",
        namespace="default",
        identity="a",
        duration=timedelta(seconds=0.6),  # renew deadline: 0.4 s
        retry_period=0.05,
    )
    started = time.monotonic()
    with pytest.raises(LeadershipLostError, match="could not renew"):
        asyncio.run(asyncio.wait_for(elector.hold(), timeout=5))
    assert time.monotonic() - started < 1.0
