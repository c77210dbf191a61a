"""The demo's live terminal view: one row per BatchPool, read from the Kubernetes API (as kubectl would)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from azbatch_operator.reporting import phase_of
from azbatch_operator.sandbox import Sandbox

PHASE_STYLE = {"Ready": "green", "Reconciling": "yellow", "Stalled": "red", "Unknown": "dim"}


def render(sandbox: Sandbox, chapters: Sequence[str]) -> Group:
    table = Table(title="BatchPools (kubectl get bp)", expand=True)
    for column in ("NAME", "PHASE", "WHY", "NODES", "EXTENSIONS", "RECREATE STEP"):
        table.add_column(column)
    try:
        pools = sandbox.kube.list_objects("azbatch.dev/v1alpha1", "BatchPool", namespace="default")
    except Exception as error:  # the view must never take the demo down
        pools = []
        table.caption = f"(Kubernetes API not answering: {error})"
    for obj in sorted(pools, key=lambda o: o["metadata"]["name"]):
        table.add_row(*_row(obj))
    story = Text("\n".join(chapters[-6:]) or "Starting the stand-ins and the operator…", style="bold")
    return Group(story, table)


def _row(obj: Mapping[str, Any]) -> list[Any]:
    status = obj.get("status") or {}
    phase = phase_of(status)
    pool = status.get("pool") or {}
    nodes = f"{pool.get('currentDedicatedNodes', 0)}/{pool.get('targetDedicatedNodes', 0)}"
    if pool.get("targetLowPriorityNodes"):
        nodes += f" +{pool.get('currentLowPriorityNodes', 0)}/{pool.get('targetLowPriorityNodes')} spot"
    recreate = status.get("recreate") or {}
    return [
        obj["metadata"]["name"],
        Text(phase, style=PHASE_STYLE.get(phase, "")),
        _why(status, phase),
        nodes,
        _extensions(status),
        recreate.get("phase", ""),
    ]


def _why(status: Mapping[str, Any], phase: str) -> str:
    wanted = {"Ready": "Ready", "Reconciling": "Reconciling", "Stalled": "Stalled"}.get(phase, "Ready")
    for condition in status.get("conditions") or ():
        if condition.get("type") == wanted:
            return str(condition.get("reason", ""))
    return ""


def _extensions(status: Mapping[str, Any]) -> Text:
    parts = []
    failed_any = False
    for extension in status.get("extensions") or ():
        counts = extension.get("nodes") or {}
        failed = counts.get("failed", 0)
        failed_any = failed_any or bool(failed)
        text = f"{extension.get('name')} {counts.get('succeeded', 0)}/{counts.get('total', 0)} ok"
        parts.append(text + (f", {failed} failed" if failed else ""))
    return Text("; ".join(parts), style="red" if failed_any else "")
