"""deploy/argocd/health.lua, run by a real Lua 5.1 on BatchPools in every phase."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kstatus
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from status_examples import EXAMPLES, Example, batch_pool, condition

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_health_of_every_phase(argocd_health: Any, example: Example) -> None:
    health = argocd_health(example.pool)
    assert health["status"] == example.argocd
    assert example.message_contains in health["message"]


def test_a_stalled_pool_shows_the_operators_reason_and_message(argocd_health: Any) -> None:
    pool = batch_pool(condition("Stalled", "True", "QuotaExceeded", "dedicated core quota is 20; raise it"))
    assert argocd_health(pool) == {
        "status": "Degraded",
        "message": "QuotaExceeded: dedicated core quota is 20; raise it",
    }


def test_an_unknown_extension_health_does_not_degrade_a_ready_pool(argocd_health: Any) -> None:
    pool = batch_pool(
        condition("Ready", "True", "Ready"), condition("ExtensionsHealthy", "Unknown", "NotSampled")
    )
    assert argocd_health(pool)["status"] == "Healthy"


conditions = st.lists(
    st.builds(
        condition,
        st.sampled_from(kstatus.CONDITION_TYPES),
        st.sampled_from(["True", "False", "Unknown"]),
        st.sampled_from(["Creating", "Ready", "InvalidSpec"]),
    ),
    max_size=5,
    unique_by=lambda c: c["type"],
)


@settings(max_examples=150, deadline=None)
@given(
    conditions=conditions,
    generation=st.integers(1, 5),
    observed=st.none() | st.integers(1, 5),
    reconcile=st.sampled_from(["Manage", "Observe"]),
)
def test_argocd_and_flux_agree_on_every_status_the_operator_may_write(
    argocd_health: Any,
    conditions: list[dict[str, Any]],
    generation: int,
    observed: int | None,
    reconcile: str,
) -> None:
    pool = batch_pool(*conditions, generation=generation, observed=observed, reconcile=reconcile)
    if kstatus.contract_violations(pool):
        return  # the operator never writes these (tests of the operator use contract_violations)
    argo = argocd_health(pool)["status"]
    flux = kstatus.compute(pool).status
    assert argo in {"Healthy", "Progressing", "Degraded", "Suspended"}
    if reconcile == "Observe":
        assert argo == "Suspended"
        return
    current_generation = observed is not None and observed >= generation  # else: a stale status
    unhealthy = current_generation and any(
        c["type"] in ("NodesHealthy", "ExtensionsHealthy") and c["status"] == "False" for c in conditions
    )
    if flux == kstatus.FAILED or unhealthy:
        # Failing nodes or extensions degrade the pool in Argo CD whatever Ready and Reconciling say;
        # Flux's kstatus reads only Ready/Reconciling/Stalled (docs/gitops.md: healthCheckExprs).
        assert argo == "Degraded"
        return
    # Otherwise Argo CD waits in a sync wave exactly where Flux's wait: true waits.
    assert (argo == "Progressing") == (flux == kstatus.IN_PROGRESS)
    if argo == "Healthy":
        assert flux == kstatus.CURRENT


def test_the_gitops_doc_carries_the_script_verbatim() -> None:
    script = (ROOT / "deploy" / "argocd" / "health.lua").read_text(encoding="utf-8")
    doc = (ROOT / "docs" / "gitops.md").read_text(encoding="utf-8")
    match = re.search(
        r"resource\.customizations\.health\.azbatch\.dev_BatchPool: \|\n((?:    .*\n|\n)+)", doc
    )
    assert match, "docs/gitops.md must show the argocd-cm key with the script"
    embedded = "\n".join(line[4:] for line in match.group(1).splitlines()).strip()
    assert embedded == script.strip()


def test_failing_nodes_degrade_a_pool_whatever_ready_says(argocd_health: Any) -> None:
    for ready in ("True", "False"):
        pool = batch_pool(
            condition("Ready", ready, "Ready" if ready == "True" else "Resizing"),
            condition("Reconciling", "False" if ready == "True" else "True", "Resizing"),
            condition("NodesHealthy", "False", "StartTaskFailed", "exit code 3 on 5 of 5 nodes"),
        )
        assert argocd_health(pool) == {
            "status": "Degraded",
            "message": "NodesHealthy is False: StartTaskFailed: exit code 3 on 5 of 5 nodes",
        }


def test_unknown_node_health_does_not_degrade_a_ready_pool(argocd_health: Any) -> None:
    pool = batch_pool(
        condition("Ready", "True", "Ready"), condition("NodesHealthy", "Unknown", "NodesStarting")
    )
    assert argocd_health(pool)["status"] == "Healthy"
