"""The demo's view: the table is `kubectl get bp` (the CRD's printer columns), and an extension still
provisioning reads as provisioning, never as a failure."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from rich.console import Console

from azbatch_operator.commands.demo_view import (
    Chapter,
    age,
    columns,
    extension_counts,
    extension_lines,
    headers,
    json_path,
    plain_table,
    render,
)
from azbatch_operator.crd import build_crd, printer_columns

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def pool(name: str, *, ready: str = "True", extensions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": "2026-12-01T09:57:30Z"},
        "spec": {"vmSize": "STANDARD_D2S_V3"},
        "status": {
            "pool": {"currentDedicatedNodes": 1, "targetDedicatedNodes": 2},
            "conditions": [
                {"type": "Ready", "status": ready, "reason": "Resizing"},
                {"type": "ExtensionsHealthy", "status": "Unknown", "reason": "Provisioning"},
            ],
            "extensions": extensions or [],
        },
    }


def test_the_table_has_the_columns_kubectl_get_prints_from_the_crd() -> None:
    (version,) = build_crd()["spec"]["versions"]
    served = [c["name"].upper() for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert headers() == ["NAME", *served]
    assert [c["name"] for c in columns()] == [c["name"] for c in printer_columns() if not c.get("priority")]


@pytest.mark.parametrize("column", printer_columns(), ids=lambda c: str(c["name"]))
def test_every_printer_column_path_is_read(column: dict[str, Any]) -> None:
    json_path(pool("p"), column["jsonPath"])  # a form the view cannot read raises


def test_a_row_reads_like_kubectl() -> None:
    table = plain_table([pool("b-pool"), pool("a-pool", ready="False")], now=NOW).splitlines()
    assert table[0].split() == [
        "NAME", "READY", "VM", "SIZE", "NODES", "TARGET", "NODES", "HEALTHY", "EXTENSIONS", "AGE"
    ]  # fmt: skip
    assert table[1].split() == ["a-pool", "False", "STANDARD_D2S_V3", "1", "2", "<none>", "Unknown", "2m30s"]
    assert table[2].startswith("b-pool ")


def test_json_path_filters_conditions_by_type() -> None:
    obj = pool("p")
    assert json_path(obj, '.status.conditions[?(@.type=="ExtensionsHealthy")].status') == "Unknown"
    assert json_path(obj, '.status.conditions[?(@.type=="Stalled")].status') is None
    assert json_path(obj, ".status.pool.currentDedicatedNodes") == 1
    with pytest.raises(ValueError, match="does not read"):
        json_path(obj, ".status.conditions[*].status")


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (4 * 3600 + 60, "4h1m"), (3 * 86400, "3d")],
)
def test_age_is_kubectls_short_form(seconds: int, expected: str) -> None:
    moment = (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert age(moment, NOW) == expected


def test_an_extension_still_provisioning_is_not_a_failure() -> None:
    provisioning = {"name": "secretext", "nodes": {"transitioning": 1, "total": 1}}
    assert extension_counts(provisioning) == [("provisioning", 1)]
    mixed = {"name": "kv", "nodes": {"succeeded": 2, "failed": 1, "transitioning": 1, "total": 6}}
    assert extension_counts(mixed) == [
        ("failed", 1),
        ("provisioning", 1),
        ("succeeded", 2),
        ("not inspected yet", 2),
    ]
    lines = extension_lines(
        [pool("kv-pool", extensions=[provisioning]), pool("x", extensions=[{"name": "e"}])]
    )
    assert lines == ["kv-pool   secretext: 1 provisioning", "x         e: no nodes yet"]
    assert not any("ok" in line.split() or "failed" in line for line in lines)


def test_the_live_view_shows_each_steps_outcome() -> None:
    chapters = [
        Chapter("1. Applying", ["4 BatchPools Ready=True"], done=True),
        Chapter("2. Scaling", progress="status.recreate.phase: Draining"),
    ]
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(
        render([pool("p", extensions=[{"name": "kv", "nodes": {"transitioning": 1, "total": 1}}])], chapters)
    )
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "✓ 1. Applying" in text and "4 BatchPools Ready=True" in text
    assert "▶ 2. Scaling" in text and "status.recreate.phase: Draining" in text
    assert "kubectl get bp" in text and "VM SIZE" in text
    assert "1 provisioning" in text
