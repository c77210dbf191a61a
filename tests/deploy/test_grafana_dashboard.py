"""deploy/grafana/azbatch-operator.json uses only the metrics the operator exports (deploy/metrics.txt)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "azbatch-operator.json").read_text(encoding="utf-8"))
METRICS = [
    line.strip() for line in (ROOT / "deploy" / "metrics.txt").read_text(encoding="utf-8").splitlines()
]
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")

# PromQL words that are not metric names.
PROMQL_WORDS = {
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "topk",
    "bottomk",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "rate",
    "irate",
    "increase",
    "delta",
    "histogram_quantile",
    "clamp_min",
    "clamp_max",
    "vector",
    "label_values",
    "bool",
    "offset",
    "abs",
    "time",
    "le",
}


def expressions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            is_query = name in ("expr", "definition") or (name == "query" and node.get("type") == "query")
            if is_query and isinstance(value, str):
                yield value
            else:
                yield from expressions(value)
    elif isinstance(node, list):
        for item in node:
            yield from expressions(item)


def metric_names(expr: str) -> set[str]:
    """Identifiers in `expr` that name series: strings, label matchers, groupings, ranges removed."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*\w+\s*\)", r"\1", expr)
    words = set(re.findall(r"(?<![\w.$])[a-zA-Z_:][\w:]*", expr))
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+(e\d+)?", w)}


def exported(series: str) -> bool:
    if series in METRICS:
        return True
    # Histograms (the contract's are the *_seconds metrics) expose _bucket, _sum and _count series.
    return any(
        series.endswith(s)
        and series.removesuffix(s) in METRICS
        and series.removesuffix(s).endswith("_seconds")
        for s in HISTOGRAM_SERIES
    )


def test_metrics_txt_lists_the_contracts_names_once_each() -> None:
    assert len(METRICS) == len(set(METRICS)) >= 9
    assert all(re.fullmatch(r"azbatch_[a-z_]+", name) for name in METRICS)


@pytest.mark.parametrize("expr", sorted(set(expressions(DASHBOARD))))
def test_every_expression_uses_only_exported_metrics(expr: str) -> None:
    names = metric_names(expr)
    assert names, f"no metric in {expr!r}"
    unknown = sorted(n for n in names if not exported(n))
    assert not unknown, f"{expr!r} uses {unknown}, which deploy/metrics.txt does not list"


def test_the_checker_catches_names_the_operator_does_not_export() -> None:
    assert metric_names('sum by (phase) (rate(azbatch_pool_total{phase="Ready"}[5m]))') == {
        "azbatch_pool_total"
    }
    assert not exported("azbatch_pool_total")
    assert exported("azbatch_reconcile_duration_seconds_bucket")
    assert not exported("azbatch_pools_bucket")  # a gauge has no buckets
    assert metric_names("up == 1") == {"up"}


def test_every_exported_metric_has_a_panel() -> None:
    used = {name for expr in expressions(DASHBOARD) for name in metric_names(expr)}
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) if n not in METRICS else n for n in used}
    assert sorted(set(METRICS) - bases) == []


def test_panels_are_laid_out_and_use_the_datasource_variable() -> None:
    panels = DASHBOARD["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert {v["name"] for v in DASHBOARD["templating"]["list"]} == {"datasource", "namespace"}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
