"""The Flux `healthCheckExprs` of docs/gitops.md, evaluated by a CEL interpreter on BatchPools in
every phase: Failed exactly where Argo CD says Degraded, Current only where it says Healthy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from status_examples import EXAMPLES, Example

celpy = pytest.importorskip("celpy")
ROOT = Path(__file__).resolve().parents[2]


def _expressions() -> dict[str, str]:
    doc = (ROOT / "docs" / "gitops.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", doc, re.S) if "healthCheckExprs" in b)
    (check,) = yaml.safe_load(block)["spec"]["healthCheckExprs"]
    assert (check["apiVersion"], check["kind"]) == ("azbatch.dev/v1alpha1", "BatchPool")
    return {key: check[key] for key in ("failed", "inProgress", "current")}


def _flux(obj: dict[str, Any]) -> set[str]:
    env = celpy.Environment()
    activation = celpy.json_to_cel(obj)
    return {
        key for key, expr in _expressions().items() if env.program(env.compile(expr)).evaluate(activation)
    }


MANAGED = [e for e in EXAMPLES if "status" in e.pool and e.pool["spec"]["policy"]["reconcile"] == "Manage"]


@pytest.mark.parametrize("example", MANAGED, ids=lambda e: e.name)
def test_flux_fails_where_argocd_degrades_and_is_current_where_it_is_healthy(
    argocd_health: Any, example: Example
) -> None:
    matched = _flux(example.pool)
    assert len(matched) <= 1, matched  # exclusive: the order Flux tries them in does not matter
    argo = argocd_health(example.pool)["status"]
    assert ("failed" in matched) == (argo == "Degraded")
    assert ("current" in matched) == (argo == "Healthy")
    assert ("inProgress" in matched) == (argo == "Progressing")


def test_a_pool_without_status_matches_nothing_so_flux_waits() -> None:
    (unseen,) = [e for e in EXAMPLES if "status" not in e.pool]
    assert _flux(unseen.pool) == set()  # (a CEL that errors on the missing field matches none either)
