"""Extension health from node instance views (pure).

Azure Batch reports extension health per node (`GET /pools/{pool}/nodes/{node}/extensions`), so a
naive reader makes one call per node per observation: linear in pool size. Instead each observation
inspects a bounded number of nodes, chosen so that what matters is seen first:

1. nodes in a troubled state (unusable, startTaskFailed, unknown) not yet inspected in that state:
   a failing Key Vault extension with `requireInitialSync` leaves its node unusable, so a failure is
   seen within one interval however large the pool;
2. nodes never inspected;
3. nodes whose state changed since their last inspection;
4. nodes whose extensions were failing or still transitioning (to see them recover);
5. the rest, oldest inspection first (so every node is revisited eventually).

Counts in `status.extensions[]` come from the remembered records of every node still in the pool,
so they converge to the whole pool within a few intervals while each interval's cost stays bounded.

First coverage is quick: nodes that are up (past `creating`/`starting`) but have no final record
yet (never read, or still transitioning when read) are read in a bounded burst, at most
`healthBurstBudget` per health interval (`burst_candidates`), so a 1,000-node pool new or
recreated is fully inspected within two intervals at the default 500; then the sampled,
failing-first steady state above takes over.

One node's read failing costs that node only: it is recorded with `read_error` (counted as not
inspected, its message in the verdict) and retried at the steady budget, never in the burst.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from azbatch_operator.conditions import FALSE, TRUE, UNKNOWN, ExtensionsVerdict

TROUBLED_NODE_STATES = frozenset({"unusable", "starttaskfailed", "unknown"})
NOT_UP_NODE_STATES = frozenset({"creating", "starting", "leavingpool"})  # extension views not final yet
DEFAULT_FAILURE_SAMPLE = 5
MAX_MESSAGE_LENGTH = 512
KEY_VAULT_TYPES = frozenset({"KeyVaultForLinux", "KeyVaultForWindows"})


class Provisioning(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TRANSITIONING = "transitioning"


@dataclass(frozen=True)
class NodeError:
    code: str
    message: str


@dataclass(frozen=True)
class NodeSummary:
    """One node of the data plane's node list: id and state, and the cause Azure gives for a
    failing node (start task exit code and failure info, node errors)."""

    node_id: str
    state: str  # as the data plane spells it, compared case-insensitively
    dedicated: bool = True
    start_task_exit_code: int | None = None
    start_task_failure: NodeError | None = None
    errors: tuple[NodeError, ...] = ()


@dataclass(frozen=True)
class ExtensionReport:
    """One extension's instance view on one node."""

    name: str
    provisioning: Provisioning
    code: str = ""
    level: str = ""
    display_status: str = ""
    message: str = ""
    time: str | None = None


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    node_state: str
    inspected_at: str
    extensions: tuple[ExtensionReport, ...]
    read_error: str = ""  # the last read of this node failed (its earlier reports are kept)

    def report(self, name: str) -> ExtensionReport | None:
        if self.read_error:
            return None
        return next((e for e in self.extensions if e.name == name), None)

    @property
    def unsettled(self) -> bool:
        return bool(self.read_error) or any(
            e.provisioning is not Provisioning.SUCCEEDED for e in self.extensions
        )

    @property
    def final(self) -> bool:
        """Read, and no extension still transitioning (failed counts as final)."""
        return not self.read_error and all(
            e.provisioning is not Provisioning.TRANSITIONING for e in self.extensions
        )


@dataclass(frozen=True)
class ExpectedExtension:
    name: str
    type: str
    type_handler_version: str | None


@dataclass(frozen=True)
class HealthReport:
    extensions: tuple[dict[str, Any], ...]  # status.extensions[] entries
    verdict: ExtensionsVerdict
    failing: tuple[tuple[str, int], ...]  # (extension name, failed nodes), for events and metrics


# ---------------------------------------------------------------------------------------------
# Reading the data plane's JSON


def provisioning_from_code(code: str, fallback: str | None = None) -> Provisioning:
    """`ProvisioningState/failed/0` -> FAILED; anything not final counts as transitioning."""
    text = (code or fallback or "").lower()
    if text.startswith("provisioningstate/"):
        text = text.split("/")[1]
    if text == "succeeded":
        return Provisioning.SUCCEEDED
    if text == "failed":
        return Provisioning.FAILED
    return Provisioning.TRANSITIONING


def parse_node_extensions(raw: Iterable[Mapping[str, Any]]) -> tuple[ExtensionReport, ...]:
    """Data-plane `NodeVMExtension` JSON (list node extensions) -> reports.

    `instanceView.statuses` carries the provisioning state; `instanceView.subStatuses` what the
    handler itself reports (a Key Vault or custom-script extension can succeed to provision and
    report its component's error there). A sub-status at level Error makes the extension failed,
    with that sub-status's code and message; without `statuses`, sub-statuses are read alone."""
    reports = []
    for item in raw:
        vm_extension = item.get("vmExtension") or {}
        view = item.get("instanceView") or {}
        name = str(vm_extension.get("name") or view.get("name") or "")
        statuses = [s for s in view.get("statuses") or () if isinstance(s, Mapping)]
        sub_statuses = [s for s in view.get("subStatuses") or () if isinstance(s, Mapping)]
        state_status = next(
            (s for s in statuses if str(s.get("code", "")).lower().startswith("provisioningstate/")),
            statuses[0] if statuses else {},
        )
        provisioning = provisioning_from_code(
            str(state_status.get("code", "")), item.get("provisioningState")
        )
        failed_sub = next((s for s in sub_statuses if str(s.get("level", "")).lower() == "error"), None)
        chosen: Mapping[str, Any] = state_status
        if failed_sub is not None:
            provisioning, chosen = Provisioning.FAILED, failed_sub
        elif not statuses and sub_statuses:
            chosen = sub_statuses[0]
            if not item.get("provisioningState"):
                provisioning = provisioning_from_code(str(chosen.get("code", "")))
        message = str(chosen.get("message", ""))
        if chosen is failed_sub and state_status.get("message"):
            message = f"{message} ({state_status.get('code', '')}: {state_status.get('message', '')})"
        reports.append(
            ExtensionReport(
                name=name,
                provisioning=provisioning,
                code=str(chosen.get("code", "")),
                level=str(chosen.get("level", "")),
                display_status=str(chosen.get("displayStatus", "")),
                message=_clip(message),
                time=chosen.get("time") or state_status.get("time"),
            )
        )
    return tuple(reports)


def parse_node(raw: Mapping[str, Any]) -> NodeSummary:
    """Data-plane `BatchNode` JSON (id, state, isDedicated, startTaskInfo, errors) -> summary."""
    found = raw.get("startTaskInfo")
    info: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    cause = info.get("failureInfo")
    failure: Mapping[str, Any] | None = cause if isinstance(cause, Mapping) else None
    exit_code = info.get("exitCode")
    errors = tuple(
        NodeError(str(e.get("code", "")), _clip(str(e.get("message", "")) + _details(e)))
        for e in raw.get("errors") or ()
        if isinstance(e, Mapping)
    )
    return NodeSummary(
        node_id=str(raw.get("id", "")),
        state=str(raw.get("state") or "unknown"),
        dedicated=raw.get("isDedicated") is not False,
        start_task_exit_code=int(exit_code) if isinstance(exit_code, int) else None,
        start_task_failure=(
            NodeError(str(failure.get("code", "")), _clip(str(failure.get("message", ""))))
            if failure is not None
            else None
        ),
        errors=errors,
    )


def _details(error: Mapping[str, Any]) -> str:
    values = [
        str(d.get("value", ""))
        for d in error.get("errorDetails") or ()
        if isinstance(d, Mapping) and d.get("value")
    ]
    return f" ({'; '.join(values)})" if values else ""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Choosing which nodes to inspect


def choose_nodes(
    nodes: Sequence[NodeSummary],
    records: Mapping[str, NodeRecord],
    budget: int,
    *,
    burst: int = 0,
) -> list[str]:
    """The node ids to inspect this observation, most informative first: at most `burst` of the
    first-coverage candidates (`burst_candidates`), then at most `budget` more by rank."""

    def rank(position: int, node: NodeSummary) -> tuple[int, str, int]:
        record = records.get(node.node_id)
        state = node.state.lower()
        changed = record is not None and record.node_state.lower() != state
        if state in TROUBLED_NODE_STATES and (record is None or changed):
            return (0, "", position)
        if record is None:
            return (1, "", position)
        if changed:
            return (2, "", position)
        if record.unsettled:
            return (3, record.inspected_at, position)
        return (4, record.inspected_at, position)

    first = burst_candidates(nodes, records)[: max(burst, 0)]
    taken = set(first)
    ranked = sorted(
        (item for item in enumerate(nodes) if item[1].node_id not in taken), key=lambda item: rank(*item)
    )
    return first + [node.node_id for _, node in ranked[: max(budget, 0)]]


def burst_candidates(nodes: Sequence[NodeSummary], records: Mapping[str, NodeRecord]) -> list[str]:
    """Nodes that are up but have no final record: never read, or read while still transitioning.

    Nodes whose last read failed are left to the steady budget (a failing read must not be
    retried a burst at a time), and nodes still creating or starting wait until they are up."""
    result = []
    for node in nodes:
        if node.state.lower() in NOT_UP_NODE_STATES:
            continue
        record = records.get(node.node_id)
        if record is None or (not record.read_error and not record.final):
            result.append(node.node_id)
    return result


def remember(
    records: Mapping[str, NodeRecord],
    nodes: Sequence[NodeSummary],
    inspected: Mapping[str, tuple[ExtensionReport, ...]],
    *,
    now: str,
    unreadable: Mapping[str, str] | None = None,
) -> dict[str, NodeRecord]:
    """New records: inspected nodes updated, nodes whose read failed marked (`unreadable`: node id
    -> error), nodes that left the pool forgotten."""
    present = {node.node_id: node for node in nodes}
    result = {node_id: record for node_id, record in records.items() if node_id in present}
    for node_id, reports in inspected.items():
        if node_id in present:
            result[node_id] = NodeRecord(node_id, present[node_id].state, now, reports)
    for node_id, error in (unreadable or {}).items():
        if node_id in present:
            old = result.get(node_id)
            kept = old.extensions if old is not None else ()
            result[node_id] = NodeRecord(node_id, present[node_id].state, now, kept, _clip(error or "error"))
    return result


# ---------------------------------------------------------------------------------------------
# Summarising


def summarize(
    expected: Sequence[ExpectedExtension],
    records: Mapping[str, NodeRecord],
    node_count: int,
    *,
    failure_sample: int = DEFAULT_FAILURE_SAMPLE,
) -> HealthReport:
    """Per-extension counts, a bounded sample of failures, and the ExtensionsHealthy verdict."""
    entries: list[dict[str, Any]] = []
    failing: list[tuple[str, int]] = []
    transitioning = unread = 0
    unreadable = sorted((r for r in records.values() if r.read_error), key=lambda r: r.node_id)
    first_failure: tuple[ExpectedExtension, ExtensionReport, str] | None = None
    for extension in expected:
        counts = dict.fromkeys(Provisioning, 0)
        failures: list[dict[str, Any]] = []
        for record in sorted(records.values(), key=lambda r: r.node_id):
            report = record.report(extension.name)
            if report is None:
                continue
            counts[report.provisioning] += 1
            if report.provisioning is Provisioning.FAILED:
                if first_failure is None:
                    first_failure = (extension, report, record.node_id)
                if len(failures) < failure_sample:
                    failures.append(_failure_entry(record.node_id, report))
        reported = sum(counts.values())
        transitioning += counts[Provisioning.TRANSITIONING]
        unread = max(unread, node_count - reported)
        if counts[Provisioning.FAILED]:
            failing.append((extension.name, counts[Provisioning.FAILED]))
        entry: dict[str, Any] = {
            "name": extension.name,
            "type": extension.type,
            "nodes": {
                "succeeded": counts[Provisioning.SUCCEEDED],
                "failed": counts[Provisioning.FAILED],
                "transitioning": counts[Provisioning.TRANSITIONING],
                "total": node_count,
            },
        }
        if extension.type_handler_version:
            entry["typeHandlerVersion"] = extension.type_handler_version
        if failures:
            entry["failures"] = failures
        entries.append(entry)
    return HealthReport(
        extensions=tuple(entries),
        verdict=_verdict(expected, failing, (transitioning, unread), node_count, first_failure, unreadable),
        failing=tuple(failing),
    )


def _failure_entry(node_id: str, report: ExtensionReport) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "nodeId": node_id,
        "code": report.code,
        "level": report.level,
        "message": report.message,
    }
    if report.time:
        entry["time"] = report.time
    return entry


def _verdict(
    expected: Sequence[ExpectedExtension],
    failing: Sequence[tuple[str, int]],
    pending: tuple[int, int],  # node-extension pairs still transitioning; nodes not inspected yet
    node_count: int,
    first_failure: tuple[ExpectedExtension, ExtensionReport, str] | None,
    unreadable: Sequence[NodeRecord] = (),
) -> ExtensionsVerdict:
    if not expected:
        return ExtensionsVerdict(TRUE, "NoExtensions", "The pool declares no VM extensions.")
    if failing and first_failure is not None:
        extension, report, node_id = first_failure
        summary = ", ".join(f"{name} on {count} of {node_count} nodes" for name, count in failing)
        message = f"Extension failing: {summary}. Node {node_id}: {report.code}: {report.message}"
        if unreadable:
            message += f" ({_unreadable_text(unreadable)})"
        if extension.type in KEY_VAULT_TYPES:
            message += (
                " To debug a Key Vault extension, check the pool identity can read the secret URLs;"
                " if it still fails, set requireInitialSync: false, let the node come up and read the"
                " extension logs on it."
            )
        return ExtensionsVerdict(FALSE, "ExtensionFailed", _clip(message))
    if node_count == 0:
        return ExtensionsVerdict(UNKNOWN, "NoNodes", "The pool has no nodes to report extension status.")
    transitioning, unread = pending
    if transitioning or unread:
        waiting = [f"{transitioning} node-extension pairs still provisioning"] if transitioning else []
        if unread:
            waiting.append(
                f"{unread} of {node_count} nodes not inspected yet (a bounded number per interval,"
                " failing and new nodes first)"
            )
        if unreadable:
            waiting.append(_unreadable_text(unreadable))
        return ExtensionsVerdict(
            UNKNOWN, "ExtensionsProvisioning", "Extension status not final yet: " + "; ".join(waiting) + "."
        )
    names = ", ".join(e.name for e in expected)
    return ExtensionsVerdict(TRUE, "AllSucceeded", f"{names}: succeeded on all {node_count} nodes.")


def _unreadable_text(unreadable: Sequence[NodeRecord]) -> str:
    first = unreadable[0]
    return (
        f"the extension views of {len(unreadable)} node(s) could not be read, retried each interval;"
        f" node {first.node_id}: {first.read_error}"
    )
