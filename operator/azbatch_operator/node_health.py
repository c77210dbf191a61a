"""Node health (pure): what the pool's nodes are doing, and whether they can run work.

Inputs are plain data read at the edges: the account's node counts per pool (one data-plane call
per account per interval, shared by every pool: `Pools_ListPoolNodeCounts`) and, when some nodes
fail, the pool's node list (id, state, start task info, node errors), which names them and gives
Azure's cause. Outputs are `status.nodes` (counts by state for dedicated and spot nodes, a bounded
sample of failing nodes) and the `NodesHealthy` verdict:

- False when nodes are `startTaskFailed` or `unusable`: how many, the cause Azure gives (the start
  task's exit code and failure info, the node's errors) and what to do;
- Unknown while the pool has no nodes, nodes are still on their way to idle, or the counts do not
  show the nodes the pool has yet;
- True otherwise (idle, running, preempted spot nodes, nodes leaving).

Remediation (`spec.policy.remediation`, opt in) is decided here too: which failing nodes to remove
so Batch replaces them, or why none (`plan_remediation`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azbatch_operator.conditions import FALSE, TRUE, UNKNOWN, ExtensionsVerdict
from azbatch_operator.health import NodeRecord, NodeSummary, Provisioning

# The data plane's node-count keys (BatchNodeCounts), in the order status shows them.
COUNT_KEYS = (
    "idle",
    "running",
    "creating",
    "starting",
    "waitingForStartTask",
    "startTaskFailed",
    "unusable",
    "preempted",
    "leavingPool",
    "offline",
    "rebooting",
    "reimaging",
    "unknown",
    "deallocated",
    "deallocating",
    "upgradingOS",
)
FAILING = ("startTaskFailed", "unusable")
ON_THE_WAY = (
    "creating",
    "starting",
    "waitingForStartTask",
    "rebooting",
    "reimaging",
    "unknown",
    "upgradingOS",
)
_BY_LOWER = {key.lower(): key for key in COUNT_KEYS}
DEFAULT_SAMPLE = 5
MAX_MESSAGE = 1024


@dataclass(frozen=True)
class NodesReport:
    status: dict[str, Any]  # status.nodes
    verdict: ExtensionsVerdict  # NodesHealthy
    failing: int  # nodes startTaskFailed or unusable
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # kind -> state -> n


def observation_due(*, now: float, due_at: float, nodes: int, nodes_last: int) -> bool | None:
    """Whether to observe a pool's health now: True when its interval is up; False when it is not,
    but the pool gained its first nodes or lost its last since the last observation (what that one
    said, "no nodes" or "all usable", is untrue beside the pool's own counts); None when not due."""
    if now >= due_at:
        return True
    return False if (nodes > 0) != (nodes_last > 0) else None


def counts_from_service(raw: Mapping[str, Any] | None) -> dict[str, dict[str, int]] | None:
    """One pool's entry of the node-counts call -> {"dedicated": {...}, "spot": {...}} (every key)."""
    if not raw:
        return None
    result = {}
    for kind, key in (("dedicated", "dedicated"), ("spot", "lowPriority")):
        part = raw.get(key) or {}
        result[kind] = {state: int(part.get(state) or 0) for state in COUNT_KEYS}
    return result


def counts_from_nodes(nodes: Iterable[NodeSummary]) -> dict[str, dict[str, int]]:
    """The same counts from a node list (when the shared counts are not at hand)."""
    result = {kind: dict.fromkeys(COUNT_KEYS, 0) for kind in ("dedicated", "spot")}
    for node in nodes:
        state = _BY_LOWER.get(node.state.lower(), "unknown")
        result["dedicated" if node.dedicated else "spot"][state] += 1
    return result


def assess(
    counts: Mapping[str, Mapping[str, int]],
    nodes: Sequence[NodeSummary] | None,
    *,
    pool_name: str,
    pool_nodes: int = 0,
    sample: int = DEFAULT_SAMPLE,
) -> NodesReport:
    """status.nodes and the NodesHealthy verdict from the counts (and the node list, if read).

    `pool_nodes` is what Azure Resource Manager says the pool has now: counts that show none of
    them were taken before they came (the service's counts may lag, and the account's shared call
    is read at most an interval old), which is not a pool without nodes."""
    shown = {kind: _nonzero(counts.get(kind) or {}) for kind in ("dedicated", "spot")}
    failing_nodes = [n for n in nodes or () if _BY_LOWER.get(n.state.lower()) in FAILING]
    status: dict[str, Any] = dict(shown)
    status["failures"] = [_failure_entry(n) for n in failing_nodes[: max(sample, 0)]] or None
    total = {
        state: sum((counts.get(k) or {}).get(state, 0) for k in ("dedicated", "spot")) for state in COUNT_KEYS
    }
    nodes_total = sum(total.values())
    failing = sum(total[state] for state in FAILING)
    if nodes_total == 0 and pool_nodes > 0:
        verdict = ExtensionsVerdict(
            UNKNOWN,
            "NodesNotCounted",
            f"The pool has {pool_nodes} nodes; the account's node counts do not show them yet.",
        )
    else:
        verdict = _verdict(total, nodes_total, failing, failing_nodes, pool_name)
    return NodesReport(status, verdict, failing, counts)


def _nonzero(counts: Mapping[str, int]) -> dict[str, int | None]:
    """Counts by state, None for a state with no node (a merge patch then removes it from status)."""
    shown: dict[str, int | None] = {state: int(counts.get(state, 0)) or None for state in COUNT_KEYS}
    shown["total"] = sum(int(counts.get(state, 0)) for state in COUNT_KEYS)
    return shown


def _failure_entry(node: NodeSummary) -> dict[str, Any]:
    state = _BY_LOWER.get(node.state.lower(), node.state)
    entry: dict[str, Any] = {"nodeId": node.node_id, "state": state, "dedicated": node.dedicated}
    if node.start_task_exit_code is not None:
        entry["startTaskExitCode"] = node.start_task_exit_code
    cause = node.start_task_failure or (node.errors[0] if node.errors else None)
    if cause is not None:
        entry["code"], entry["message"] = cause.code, cause.message
    return entry


def _summary(total: Mapping[str, int]) -> str:
    return ", ".join(f"{total[state]} {state}" for state in COUNT_KEYS if total.get(state))


def _verdict(
    total: Mapping[str, int],
    nodes_total: int,
    failing: int,
    failing_nodes: Sequence[NodeSummary],
    pool_name: str,
) -> ExtensionsVerdict:
    if failing:
        return ExtensionsVerdict(
            FALSE, _reason(total), _clip(_failing_message(total, nodes_total, failing_nodes, pool_name))
        )
    if nodes_total == 0:
        return ExtensionsVerdict(UNKNOWN, "NoNodes", "The pool has no nodes.")
    if any(total.get(state) for state in ON_THE_WAY):
        return ExtensionsVerdict(
            UNKNOWN, "NodesStarting", f"Nodes not ready for tasks yet: {_summary(total)} of {nodes_total}."
        )
    return ExtensionsVerdict(
        TRUE, "NodesUsable", f"All {nodes_total} nodes can run tasks: {_summary(total)}."
    )


def _reason(total: Mapping[str, int]) -> str:
    if total.get("startTaskFailed") and total.get("unusable"):
        return "NodesFailing"
    return "StartTaskFailed" if total.get("startTaskFailed") else "NodesUnusable"


def _failing_message(
    total: Mapping[str, int], nodes_total: int, failing_nodes: Sequence[NodeSummary], pool_name: str
) -> str:
    parts = []
    if total.get("startTaskFailed"):
        parts.append(f"the start task failed on {total['startTaskFailed']} of {nodes_total} nodes")
    if total.get("unusable"):
        parts.append(f"{total['unusable']} of {nodes_total} nodes are unusable")
    message = " and ".join(parts)
    message = message[0].upper() + message[1:] + "."
    start_failed = [n for n in failing_nodes if n.state.lower() == "starttaskfailed"]
    unusable = [n for n in failing_nodes if n.state.lower() == "unusable"]
    if start_failed:
        node = start_failed[0]
        cause = node.start_task_failure or (node.errors[0] if node.errors else None)
        code = (
            f"exit code {node.start_task_exit_code}"
            if node.start_task_exit_code is not None
            else "no exit code"
        )
        message += f" Node {node.node_id}: start task {code}"
        message += f" ({cause.code}: {cause.message})." if cause is not None else "."
        message += (
            " Its output is in the node's startup directory: startup/stdout.txt and startup/stderr.txt"
            f" (az batch node file download --pool-id {pool_name} --node-id {node.node_id}"
            " --file-path startup/stderr.txt --destination stderr.txt). Fix the start task's command"
            " line, resource files or user, or set waitForSuccess: false if nodes may run tasks anyway."
        )
    if unusable:
        names = ", ".join(n.node_id for n in unusable[:3]) + (" and others" if len(unusable) > 3 else "")
        node = unusable[0]
        cause = node.errors[0] if node.errors else None
        message += f" Unusable: {names}"
        message += f" ({cause.code}: {cause.message})." if cause is not None else "."
        message += (
            " An unusable node cannot run tasks: check the image, VM size and extensions (a failed"
            " extension's message is in ExtensionsHealthy); removing the node lets Batch replace it."
        )
    return message


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Remediation: which failing nodes to remove so Batch replaces them, or why none


@dataclass(frozen=True)
class Candidate:
    node_id: str
    cause: str  # for people: "start task failed (exit code 3)"
    kind: str  # for metrics: startTaskFailed, unusable, extension


@dataclass(frozen=True)
class RemediationDecision:
    reason: str  # Removing, ShortCircuited, Waiting, NothingToRemove
    message: str
    remove: tuple[Candidate, ...] = ()


def remediation_candidates(
    nodes: Sequence[NodeSummary], records: Mapping[str, NodeRecord], already_removed: Iterable[str] = ()
) -> list[Candidate]:
    """Nodes whose start task failed, that are unusable, or on which an extension failed (from the
    extension records), in the node list's order; nodes leaving or already removed are not."""
    skip = set(already_removed)
    result = []
    for node in nodes:
        state = node.state.lower()
        if node.node_id in skip or state in ("leavingpool", "preempted", "deallocated", "deallocating"):
            continue
        if state == "starttaskfailed":
            code = (
                f"exit code {node.start_task_exit_code}"
                if node.start_task_exit_code is not None
                else "no exit code"
            )
            result.append(Candidate(node.node_id, f"start task failed ({code})", "startTaskFailed"))
            continue
        if state == "unusable":
            cause = f" ({node.errors[0].code})" if node.errors else ""
            result.append(Candidate(node.node_id, f"unusable{cause}", "unusable"))
            continue
        record = records.get(node.node_id)
        failed = (
            [e.name for e in record.extensions if e.provisioning is Provisioning.FAILED] if record else []
        )
        if record is not None and not record.read_error and failed:
            result.append(Candidate(node.node_id, f"extension {', '.join(failed)} failed", "extension"))
    return result


def plan_remediation(
    candidates: Sequence[Candidate],
    node_total: int,
    *,
    max_unhealthy_percent: int,
    max_removals: int,
    blocked: str | None = None,
    undecided: int = 0,
) -> RemediationDecision:
    """Like Cluster API's MachineHealthCheck `maxUnhealthy`: above the threshold the nodes are not
    the problem (the spec or the image is), so removing them would only churn; within it, at most
    `max_removals` nodes go per interval. `blocked` says why no removal may be sent now (a recreate
    or scale to zero under way, a resize running: a remove-nodes call is itself a resize);
    `undecided` counts nodes whose health is not known yet (still starting, extensions not read):
    the share of failing nodes is judged only once every node's is."""
    if not candidates:
        return RemediationDecision("NothingToRemove", "No failing node to remove.")
    if undecided:
        return RemediationDecision(
            "Waiting",
            f"{len(candidates)} failing node(s); waiting for the health of {undecided} more node(s)"
            " before judging how many of the pool's nodes fail.",
        )
    share = 100.0 * len(candidates) / max(node_total, 1)
    if share > max_unhealthy_percent:
        return RemediationDecision(
            "ShortCircuited",
            f"{len(candidates)} of {node_total} nodes ({share:.0f}%) are failing, more than"
            f" maxUnhealthyPercent {max_unhealthy_percent}%: the cause is likely the spec or the image,"
            " not the nodes, so none is removed. Fix what NodesHealthy / ExtensionsHealthy report;"
            " new nodes then come up healthy.",
        )
    if blocked:
        return RemediationDecision("Waiting", f"{len(candidates)} failing node(s) to remove once {blocked}.")
    chosen = tuple(candidates[: max(max_removals, 0)])
    if not chosen:
        return RemediationDecision(
            "Waiting",
            f"{len(candidates)} failing node(s) to remove; maxRemovalsPerInterval reached for this interval.",
        )
    named = ", ".join(f"{c.node_id} ({c.cause})" for c in chosen)
    more = (
        f"; {len(candidates) - len(chosen)} more in later intervals" if len(candidates) > len(chosen) else ""
    )
    return RemediationDecision("Removing", _clip(f"Removing {named} so Batch replaces them{more}."), chosen)
