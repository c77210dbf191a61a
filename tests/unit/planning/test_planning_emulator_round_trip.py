"""The normal form agrees with the local Azure stand-in: what it stores and returns plans nothing.

In-process (no HTTP): the emulator's pool store takes the rendered PUT body and the planned PATCH
bodies, and its ARM JSON is observed back. If the emulator and the normaliser disagree on a
default or a casing, this fails before the integration tests do.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from planning_helpers import RECREATE, render
from strategies import SUBSCRIPTION, secret_values, specs

from azbatch_emulator.clock import SimClock
from azbatch_emulator.store import Account, Store
from azbatch_emulator.timings import Timings
from azbatch_operator import planning, rendering


def _store() -> tuple[Store, Account]:
    store = Store(clock=SimClock(1.0), timings=Timings(), state_dir=None)
    return store, store.add_account(Account(SUBSCRIPTION, "rg-batch", "sampleacct"))


def _get(store: Store, account: Account, name: str) -> rendering.ObservedPool:
    now = store.clock.now()
    return rendering.observe_pool(store.pool(account, name, now).arm_json(now))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_created_then_patched_pools_read_back_as_nothing_to_do(data: st.DataObject) -> None:
    spec: dict[str, Any] = data.draw(specs())
    secrets = data.draw(secret_values(spec))
    desired = render(spec, secrets)
    store, account = _store()
    store.put_pool(
        account, desired.pool_name, json.loads(json.dumps(desired.body)), if_match=None, if_none_match=None
    )
    observed = _get(store, account, desired.pool_name)
    assert planning.plan(desired, observed, RECREATE).is_noop
    # Azure refuses a scale change while the first allocation runs (PoolBeingResized): the
    # operator waits for allocationState Steady, and so does this test.
    store.clock.advance(24 * 3600)
    observed = _get(store, account, desired.pool_name)
    assert observed.is_steady

    edited = {
        **spec,
        "startTask": {"commandLine": "/bin/true"},
        "metadata": [{"name": "edited", "value": "yes"}],
        "scaleSettings": {"autoScale": {"formula": "$TargetDedicatedNodes=0;"}},
    }
    wanted = render(edited, secrets)
    for action in planning.plan(wanted, observed, RECREATE).actions:
        assert action.type is planning.ActionType.PATCH
        assert action.patch is not None
        store.patch_pool(account, desired.pool_name, action.patch, if_match=None)
    after = planning.plan(wanted, _get(store, account, desired.pool_name), RECREATE)
    assert after.is_noop, after.to_json()
