"""Node health: counts by state from the shared node-counts call, NodesHealthy with Azure's cause."""

from __future__ import annotations

from azbatch_operator import node_health
from azbatch_operator.health import NodeError, NodeSummary

SERVICE_COUNTS = {
    "poolId": "p",
    "dedicated": {"idle": 3, "running": 1, "unusable": 0, "startTaskFailed": 0, "total": 4},
    "lowPriority": {"preempted": 2, "idle": 1, "total": 3},
}


def test_service_counts_become_dedicated_and_spot_counts() -> None:
    counts = node_health.counts_from_service(SERVICE_COUNTS)
    assert counts is not None
    report = node_health.assess(counts, None, pool_name="p")
    assert report.status["dedicated"]["idle"] == 3
    assert report.status["dedicated"]["unusable"] is None  # a merge patch removes a state gone to zero
    assert report.status["dedicated"]["total"] == 4
    assert report.status["spot"]["preempted"] == 2
    assert report.status["failures"] is None
    # Preempted spot nodes are Azure's to take back: the pool is still healthy.
    assert (report.verdict.status, report.verdict.reason) == ("True", "NodesUsable")
    assert node_health.counts_from_service(None) is None


def test_start_task_failures_name_the_exit_code_and_where_the_output_is() -> None:
    nodes = [
        NodeSummary(f"tvm-{i}", "starttaskfailed", True, 2, NodeError("FailureExitCode", "exit status 2"))
        for i in range(3)
    ]
    report = node_health.assess(node_health.counts_from_nodes(nodes), nodes, pool_name="render")
    verdict = report.verdict
    assert (verdict.status, verdict.reason) == ("False", "StartTaskFailed")
    assert "start task failed on 3 of 3 nodes" in verdict.message
    assert "exit code 2" in verdict.message and "FailureExitCode: exit status 2" in verdict.message
    assert "startup/stdout.txt and startup/stderr.txt" in verdict.message
    assert "--pool-id render --node-id tvm-0" in verdict.message
    assert report.status["failures"][0] == {
        "nodeId": "tvm-0",
        "state": "startTaskFailed",
        "dedicated": True,
        "startTaskExitCode": 2,
        "code": "FailureExitCode",
        "message": "exit status 2",
    }
    assert report.failing == 3


def test_unusable_nodes_are_named_with_their_error() -> None:
    nodes = [NodeSummary(f"n{i}", "idle") for i in range(4)] + [
        NodeSummary("bad", "unusable", errors=(NodeError("NodeUnusable", "disk failed"),))
    ]
    verdict = node_health.assess(node_health.counts_from_nodes(nodes), nodes, pool_name="p").verdict
    assert (verdict.status, verdict.reason) == ("False", "NodesUnusable")
    assert "1 of 5 nodes are unusable" in verdict.message
    assert "bad (NodeUnusable: disk failed)" in verdict.message
    assert "n0" not in verdict.message


def test_both_failures_together_and_the_sample_is_bounded() -> None:
    nodes = [NodeSummary(f"s{i}", "starttaskfailed", start_task_exit_code=1) for i in range(8)] + [
        NodeSummary(f"u{i}", "unusable") for i in range(8)
    ]
    report = node_health.assess(node_health.counts_from_nodes(nodes), nodes, pool_name="p", sample=5)
    assert report.verdict.reason == "NodesFailing"
    assert len(report.status["failures"]) == 5


def test_starting_nodes_and_empty_pools_are_unknown() -> None:
    starting = [NodeSummary("a", "starting"), NodeSummary("b", "idle")]
    verdict = node_health.assess(node_health.counts_from_nodes(starting), starting, pool_name="p").verdict
    assert (verdict.status, verdict.reason) == ("Unknown", "NodesStarting")
    empty = node_health.assess(node_health.counts_from_nodes([]), [], pool_name="p").verdict
    assert (empty.status, empty.reason) == ("Unknown", "NoNodes")


def test_counts_taken_before_the_pools_nodes_came_do_not_say_it_has_none() -> None:
    """A cold start: the account's counts were taken before the pool got its nodes, and Azure
    Resource Manager already shows them. The pool is not "without nodes"; it is not counted yet."""
    zeros = {"poolId": "p", "dedicated": {"total": 0}, "lowPriority": {"total": 0}}
    counts = node_health.counts_from_service(zeros)
    assert counts is not None
    verdict = node_health.assess(counts, None, pool_name="p", pool_nodes=3).verdict
    assert (verdict.status, verdict.reason) == ("Unknown", "NodesNotCounted")
    assert "3 nodes" in verdict.message
    truly_empty = node_health.assess(counts, None, pool_name="p", pool_nodes=0).verdict
    assert truly_empty.reason == "NoNodes"


def test_health_is_due_at_its_interval_and_when_a_pool_gains_its_first_nodes_or_loses_its_last() -> None:
    def due(nodes: int, nodes_last: int, now: float = 5.0) -> bool | None:
        return node_health.observation_due(now=now, due_at=10.0, nodes=nodes, nodes_last=nodes_last)

    assert due(3, 3, now=10.0) is True, "the interval is up"
    assert due(3, 0) is False, "first nodes: due before the interval"
    assert due(0, 3) is False, "last nodes gone: due before the interval"
    assert due(5, 3) is None, "a pool growing is observed at its interval, not at every node"
    assert due(0, 0) is None


def _candidates(count: int) -> list[node_health.Candidate]:
    return [node_health.Candidate(f"n{i}", "extension kv failed", "extension") for i in range(count)]


def test_remediation_removes_a_bounded_number_of_failing_nodes() -> None:
    decision = node_health.plan_remediation(_candidates(3), 10, max_unhealthy_percent=40, max_removals=2)
    assert decision.reason == "Removing"
    assert [c.node_id for c in decision.remove] == ["n0", "n1"]
    assert "1 more in later intervals" in decision.message


def test_remediation_short_circuits_above_the_threshold() -> None:
    decision = node_health.plan_remediation(_candidates(4), 5, max_unhealthy_percent=40, max_removals=2)
    assert decision.reason == "ShortCircuited" and decision.remove == ()
    assert "4 of 5 nodes (80%)" in decision.message and "spec or the image" in decision.message
    at_threshold = node_health.plan_remediation(_candidates(2), 5, max_unhealthy_percent=40, max_removals=2)
    assert at_threshold.reason == "Removing"


def test_remediation_waits_for_flows_resizes_and_undecided_nodes() -> None:
    blocked = node_health.plan_remediation(
        _candidates(1), 5, max_unhealthy_percent=40, max_removals=2, blocked="the resize has finished"
    )
    assert (blocked.reason, blocked.remove) == ("Waiting", ())
    assert "the resize has finished" in blocked.message
    undecided = node_health.plan_remediation(
        _candidates(1), 5, max_unhealthy_percent=40, max_removals=2, undecided=4
    )
    assert (undecided.reason, undecided.remove) == ("Waiting", ())
    spent = node_health.plan_remediation(_candidates(1), 5, max_unhealthy_percent=40, max_removals=0)
    assert (spent.reason, spent.remove) == ("Waiting", ())
    assert (
        node_health.plan_remediation([], 5, max_unhealthy_percent=40, max_removals=2).reason
        == "NothingToRemove"
    )


def test_candidates_are_failing_nodes_not_leaving_or_already_removed() -> None:
    from azbatch_operator import health  # noqa: PLC0415

    nodes = [
        NodeSummary("st", "starttaskfailed", start_task_exit_code=3),
        NodeSummary("un", "unusable", errors=(NodeError("NodeUnusable", "x"),)),
        NodeSummary("ext", "idle"),
        NodeSummary("ok", "idle"),
        NodeSummary("gone", "leavingpool"),
        NodeSummary("again", "starttaskfailed"),
    ]
    failed = health.parse_node_extensions(
        [
            {
                "vmExtension": {"name": "kv"},
                "instanceView": {"statuses": [{"code": "ProvisioningState/failed/0"}]},
            }
        ]
    )
    records = health.remember({}, nodes, {"ext": failed}, now="t")
    found = node_health.remediation_candidates(nodes, records, already_removed={"again"})
    assert [(c.node_id, c.kind) for c in found] == [
        ("st", "startTaskFailed"),
        ("un", "unusable"),
        ("ext", "extension"),
    ]
    assert found[0].cause == "start task failed (exit code 3)"
    assert found[1].cause == "unusable (NodeUnusable)"
