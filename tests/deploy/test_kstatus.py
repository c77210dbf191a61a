"""The kstatus checker itself, on BatchPools in every phase (what Flux's wait: true sees)."""

from __future__ import annotations

import kstatus
import pytest
from status_examples import EXAMPLES, Example, batch_pool, condition


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_kstatus_of_every_phase(example: Example) -> None:
    assert kstatus.compute(example.pool).status == example.kstatus


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_every_example_keeps_the_operators_status_contract(example: Example) -> None:
    assert kstatus.contract_violations(example.pool) == []


def test_in_progress_and_failed_carry_the_conditions_message() -> None:
    stalled = batch_pool(condition("Stalled", "True", "AuthFailed", "AADSTS700016: client not found"))
    assert kstatus.compute(stalled) == kstatus.KStatus(kstatus.FAILED, "AADSTS700016: client not found")


def test_the_first_true_of_reconciling_and_stalled_wins_as_in_kstatus() -> None:
    reconciling = condition("Reconciling", "True", "Creating")
    stalled = condition("Stalled", "True", "Quota")
    assert kstatus.compute(batch_pool(reconciling, stalled)).status == kstatus.IN_PROGRESS
    assert kstatus.compute(batch_pool(stalled, reconciling)).status == kstatus.FAILED


@pytest.mark.parametrize(
    ("pool", "problem"),
    [
        (batch_pool(condition("Ready", "True", "Ready"), observed=None), "observedGeneration is missing"),
        (batch_pool(condition("Ready", "True", "Ready"), generation=2, observed=3), "ahead of"),
        (batch_pool(condition("Reconciling", "False", "Ready")), "'Ready' is missing"),
        (
            batch_pool(condition("Ready", "True", "Ready"), condition("Reconciling", "True", "Resizing")),
            "Ready is True together with Reconciling",
        ),
        (
            batch_pool(
                condition("Ready", "False", "X"),
                condition("Reconciling", "True", "X"),
                condition("Stalled", "True", "X"),
            ),
            "both True",
        ),
        (batch_pool(condition("Ready", "False", "Pending")), "neither Reconciling nor Stalled"),
        (batch_pool(condition("Ready", "True", "")), "lacks reason"),
        (batch_pool(condition("Ready", "Maybe", "Ready")), "status 'Maybe'"),
        (batch_pool(condition("Ready", "True", "Ready"), condition("Ready", "True", "Ready")), "twice"),
        (batch_pool(condition("Ready", "True", "Ready", generation=4)), "observed generation 4 > status 3"),
    ],
)
def test_contract_violations_name_the_broken_rule(pool: dict[str, object], problem: str) -> None:
    assert any(problem in found for found in kstatus.contract_violations(pool))
