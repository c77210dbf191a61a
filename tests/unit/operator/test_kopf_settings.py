"""The kopf settings the operator starts with, where a default would cost its users."""

from __future__ import annotations

import asyncio

import kopf

from azbatch_operator import handlers


def _configured() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # A runtime and loops already in the memo: configure only sets kopf's settings.
    memo = kopf.Memo(config=None, runtime=object(), loops=object())
    asyncio.run(handlers.configure(settings=settings, memo=memo))
    return settings


def test_a_pools_kopf_worker_ends_soon_after_its_last_event() -> None:
    # kopf keeps a task, a queue and the last event's body per object for `idle_timeout` after
    # the object's last event; through a cold start every pool has news each second, so with
    # kopf's 5 s every pool of the fleet holds one at once.
    assert _configured().queueing.idle_timeout <= 1.0
