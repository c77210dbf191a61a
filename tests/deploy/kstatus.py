"""The kstatus rules Flux (`wait: true`) and `kubectl wait`-style tools apply to a custom resource.

A pure reading of sigs.k8s.io/cli-utils `pkg/kstatus/status` for resources it has no special
case for (BatchPool among them), so tests can ask "what would Flux see?" of any status object:

1. `metadata.deletionTimestamp` set -> Terminating.
2. `status.observedGeneration` present and different from `metadata.generation` -> InProgress.
3. The first condition in the list that is `Reconciling=True` -> InProgress, or `Stalled=True` -> Failed.
4. Otherwise -> Current (also when there is no status at all: kstatus cannot tell, so the
   operator must write observedGeneration as soon as it sees a resource).

`contract_violations()` adds the stricter rules this operator promises on top, for reuse on the
operator's real status objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CURRENT = "Current"
IN_PROGRESS = "InProgress"
FAILED = "Failed"
TERMINATING = "Terminating"

CONDITION_TYPES = ("Ready", "Reconciling", "Stalled", "ExtensionsHealthy", "NodesHealthy")
CONDITION_FIELDS = ("type", "status", "reason", "message", "lastTransitionTime")


@dataclass(frozen=True)
class KStatus:
    status: str
    message: str


def _conditions(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    status = obj.get("status") or {}
    return status.get("conditions") or ()


def compute(obj: Mapping[str, Any]) -> KStatus:
    """What kstatus reports for `obj` (a whole resource: metadata, spec, status)."""
    metadata = obj.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return KStatus(TERMINATING, "Resource scheduled for deletion")
    status = obj.get("status") or {}
    observed = status.get("observedGeneration")
    generation = metadata.get("generation")
    if observed is not None and observed != generation:
        return KStatus(
            IN_PROGRESS,
            f"{obj.get('kind', 'Resource')} generation is {generation}, but latest "
            f"observed generation is {observed}",
        )
    for condition in _conditions(obj):
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Reconciling":
            return KStatus(IN_PROGRESS, str(condition.get("message") or condition.get("reason") or ""))
        if condition.get("type") == "Stalled":
            return KStatus(FAILED, str(condition.get("message") or condition.get("reason") or ""))
    return KStatus(CURRENT, "Resource is current")


def contract_violations(obj: Mapping[str, Any]) -> list[str]:
    """Where a BatchPool status breaks the operator's kstatus contract (empty: it keeps it)."""
    problems: list[str] = []
    metadata = obj.get("metadata") or {}
    status = obj.get("status")
    if not status:
        return problems  # not seen by the operator yet: nothing promised
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if observed is None:
        problems.append("status.observedGeneration is missing")
    elif generation is not None and observed > generation:
        problems.append(f"status.observedGeneration {observed} is ahead of metadata.generation {generation}")
    seen: set[str] = set()
    for condition in _conditions(obj):
        kind = condition.get("type")
        missing = [name for name in CONDITION_FIELDS if not condition.get(name) and name != "message"]
        if missing:
            problems.append(f"condition {kind!r} lacks {', '.join(missing)}")
        if kind in seen:
            problems.append(f"condition {kind!r} appears twice")
        seen.add(str(kind))
        if condition.get("status") not in ("True", "False", "Unknown"):
            problems.append(f"condition {kind!r} has status {condition.get('status')!r}")
        cond_generation = condition.get("observedGeneration")
        if cond_generation is not None and observed is not None and cond_generation > observed:
            problems.append(f"condition {kind!r} observed generation {cond_generation} > status {observed}")
    if "Ready" not in seen:
        problems.append("condition 'Ready' is missing")
    true = {str(c.get("type")) for c in _conditions(obj) if c.get("status") == "True"}
    if {"Reconciling", "Stalled"} <= true:
        problems.append("Reconciling and Stalled are both True (kstatus would then depend on list order)")
    managed = ((obj.get("spec") or {}).get("policy") or {}).get("reconcile", "Manage") == "Manage"
    if managed and "Ready" in seen and "Ready" not in true and not true & {"Reconciling", "Stalled"}:
        problems.append(
            "Ready is not True but neither Reconciling nor Stalled is: Flux would call it Current"
        )
    if "Ready" in true and true & {"Reconciling", "Stalled"}:
        problems.append(f"Ready is True together with {', '.join(sorted(true & {'Reconciling', 'Stalled'}))}")
    return problems
