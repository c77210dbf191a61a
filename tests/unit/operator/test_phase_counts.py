"""azbatch_pools counts pools by phase, moved one pool at a time (never a walk over the fleet)."""

from __future__ import annotations

from types import SimpleNamespace

from azbatch_operator import reconciler
from azbatch_operator.metrics import POOLS


def _gauge(phase: str) -> float:
    value: float = POOLS.labels(phase)._value.get()
    return value


def test_a_pool_moves_between_phases_and_leaves_the_counts_when_gone() -> None:
    runtime = SimpleNamespace(phases={}, phase_counts={})
    reconciler.set_phase(runtime, "a", "Reconciling")  # type: ignore[arg-type]
    reconciler.set_phase(runtime, "b", "Reconciling")  # type: ignore[arg-type]
    assert (_gauge("Reconciling"), _gauge("Ready"), _gauge("Stalled")) == (2, 0, 0)
    reconciler.set_phase(runtime, "a", "Ready")  # type: ignore[arg-type]
    reconciler.set_phase(runtime, "a", "Ready")  # type: ignore[arg-type]
    assert (_gauge("Reconciling"), _gauge("Ready")) == (1, 1)
    reconciler.set_phase(runtime, "b", None)  # type: ignore[arg-type]
    assert (_gauge("Reconciling"), _gauge("Ready")) == (0, 1)
    assert runtime.phases == {"a": "Ready"}
