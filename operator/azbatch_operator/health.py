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
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from azbatch_operator.conditions import FALSE, TRUE, UNKNOWN, ExtensionsVerdict

TROUBLED_NODE_STATES = frozenset({"unusable", "starttaskfailed", "unknown"})
DEFAULT_FAILURE_SAMPLE = 5
MAX_MESSAGE_LENGTH = 512
KEY_VAULT_TYPES = frozenset({"KeyVaultForLinux", "KeyVaultForWindows"})


class Provisioning(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TRANSITIONING = "transitioning"


@dataclass(frozen=True)
class NodeSummary:
    node_id: str
    state: str  # as the data plane spells it, compared case-insensitively


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

    def report(self, name: str) -> ExtensionReport | None:
        return next((e for e in self.extensions if e.name == name), None)

    @property
    def unsettled(self) -> bool:
        return any(e.provisioning is not Provisioning.SUCCEEDED for e in self.extensions)


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
    """Data-plane `NodeVMExtension` JSON (list node extensions) -> reports."""
    reports = []
    for item in raw:
        vm_extension = item.get("vmExtension") or {}
        view = item.get("instanceView") or {}
        name = str(vm_extension.get("name") or view.get("name") or "")
        statuses = [s for s in view.get("statuses") or () if isinstance(s, Mapping)]
        state_status = next(
            (s for s in statuses if str(s.get("code", "")).lower().startswith("provisioningstate/")),
            statuses[0] if statuses else {},
        )
        reports.append(
            ExtensionReport(
                name=name,
                provisioning=provisioning_from_code(
                    str(state_status.get("code", "")), item.get("provisioningState")
                ),
                code=str(state_status.get("code", "")),
                level=str(state_status.get("level", "")),
                display_status=str(state_status.get("displayStatus", "")),
                message=_clip(str(state_status.get("message", ""))),
                time=state_status.get("time"),
            )
        )
    return tuple(reports)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Choosing which nodes to inspect


def choose_nodes(
    nodes: Sequence[NodeSummary],
    records: Mapping[str, NodeRecord],
    budget: int,
) -> list[str]:
    """The node ids to inspect this observation, at most `budget`, most informative first."""

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

    ranked = sorted(enumerate(nodes), key=lambda item: rank(*item))
    return [node.node_id for _, node in ranked[: max(budget, 0)]]


def remember(
    records: Mapping[str, NodeRecord],
    nodes: Sequence[NodeSummary],
    inspected: Mapping[str, tuple[ExtensionReport, ...]],
    *,
    now: str,
) -> dict[str, NodeRecord]:
    """New records: inspected nodes updated, nodes that left the pool forgotten."""
    present = {node.node_id: node for node in nodes}
    result = {node_id: record for node_id, record in records.items() if node_id in present}
    for node_id, reports in inspected.items():
        if node_id in present:
            result[node_id] = NodeRecord(node_id, present[node_id].state, now, reports)
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
        verdict=_verdict(expected, failing, (transitioning, unread), node_count, first_failure),
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
) -> ExtensionsVerdict:
    if not expected:
        return ExtensionsVerdict(TRUE, "NoExtensions", "The pool declares no VM extensions.")
    if failing and first_failure is not None:
        extension, report, node_id = first_failure
        summary = ", ".join(f"{name} on {count} of {node_count} nodes" for name, count in failing)
        message = f"Extension failing: {summary}. Node {node_id}: {report.code}: {report.message}"
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
        return ExtensionsVerdict(
            UNKNOWN, "ExtensionsProvisioning", "Extension status not final yet: " + "; ".join(waiting) + "."
        )
    names = ", ".join(e.name for e in expected)
    return ExtensionsVerdict(TRUE, "AllSucceeded", f"{names}: succeeded on all {node_count} nodes.")
