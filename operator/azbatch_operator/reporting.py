"""What `status` says after a reconcile (pure): conditions, the pool as Azure reports it, extensions.

The status carries names, states, counts and Azure's messages — never a spec value that came from
a Secret, nor a digest of one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from azbatch_operator import conditions as cond
from azbatch_operator.conditions import ExtensionsVerdict, Progress
from azbatch_operator.convergence import RecreateState, ScaleDownState
from azbatch_operator.rendering import ObservedPool
from azbatch_operator.rendering.observed import ResizeError

MAX_RESIZE_ERRORS = 20


@dataclass(frozen=True)
class Report:
    """Everything one reconcile learnt, ready to become `status`."""

    progress: Progress
    observed: ObservedPool | None
    recreate: RecreateState | None
    extensions: tuple[dict[str, Any], ...] | None  # None: not observed this time, keep what was there
    verdict: ExtensionsVerdict | None
    scale_down: ScaleDownState | None = None
    last_recreate: Mapping[str, Any] | None = None  # None: keep what was there
    nodes: Mapping[str, Any] | None = None  # status.nodes; None: not observed this time, keep it
    nodes_verdict: ExtensionsVerdict | None = None  # NodesHealthy; None: keep the condition
    unread: bool = False  # the pass did not read the pool: status.pool stays what was last seen

    @property
    def in_flow(self) -> bool:
        """The status says a recreate or a scale to zero is under way: the pool keeps its place in
        the disruption budget (and a restart seeds it back from this status)."""
        return self.recreate is not None or self.scale_down is not None


def build_status(
    previous: Mapping[str, Any] | None,
    report: Report,
    *,
    generation: int | None,
    now: str,
) -> dict[str, Any]:
    """The whole new status; `recreate: None` is kept so a merge patch removes a finished flow."""
    previous = previous or {}
    conditions = cond.apply_progress(
        cond.parse(previous.get("conditions")),
        report.progress,
        extensions=report.verdict,
        generation=generation,
        now=now,
        nodes=report.nodes_verdict,
    )
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": cond.to_dicts(conditions),
        "pool": _pool_status(previous, report),
        "recreate": report.recreate.to_dict() if report.recreate is not None else None,
        "scaleToZero": report.scale_down.to_dict() if report.scale_down is not None else None,
    }
    last_recreate = report.last_recreate or previous.get("lastRecreate")
    if last_recreate:
        status["lastRecreate"] = dict(last_recreate)
    if report.extensions is not None:
        status["extensions"] = list(report.extensions)
    elif "extensions" in previous:
        status["extensions"] = previous["extensions"]
    if report.nodes is not None:
        status["nodes"] = dict(report.nodes)
    elif "nodes" in previous:
        status["nodes"] = previous["nodes"]
    return status


def pool_status(observed: ObservedPool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": observed.id,
        "provisioningState": observed.provisioning_state,
        "allocationState": observed.allocation_state,
        "vmSize": observed.vm_size,
        "currentDedicatedNodes": observed.current_dedicated_nodes,
        "targetDedicatedNodes": observed.target_dedicated_nodes,
        "currentLowPriorityNodes": observed.current_low_priority_nodes,
        "targetLowPriorityNodes": observed.target_low_priority_nodes,
        "resizeErrors": _resize_errors(observed.resize_errors) or None,
        "etag": observed.etag,
        "lastModified": observed.last_modified,
        "creationTime": observed.creation_time,
    }
    return {key: value for key, value in data.items() if value is not None}


def _resize_errors(errors: Sequence[ResizeError]) -> list[dict[str, str]]:
    return [{"code": error.code, "message": error.message} for error in errors[:MAX_RESIZE_ERRORS]]


def _pool_status(previous: Mapping[str, Any], report: Report) -> dict[str, Any] | None:
    if report.observed is not None:
        return pool_status(report.observed)
    kept = previous.get("pool") if report.unread else None
    return dict(kept) if isinstance(kept, Mapping) else None


def status_changed(previous: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Compare as the API server would store it: absent and null are the same."""
    return bool(_without_nulls(previous or {}) != _without_nulls(new))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def phase_of(status: Mapping[str, Any]) -> str:
    """The one word dashboards and metrics use: Ready, Reconciling, Stalled or Unknown."""
    found = {c.type: c.status for c in cond.parse(status.get("conditions"))}
    if found.get(cond.STALLED) == cond.TRUE:
        return "Stalled"
    if found.get(cond.RECONCILING) == cond.TRUE:
        return "Reconciling"
    if found.get(cond.READY) == cond.TRUE:
        return "Ready"
    return "Unknown"
