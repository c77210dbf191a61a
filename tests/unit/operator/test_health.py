"""Extension health: bounded node sampling, failing nodes first, honest counts and messages."""

import json
from pathlib import Path

from azbatch_operator import health
from azbatch_operator.health import ExpectedExtension, NodeSummary, Provisioning

KV = ExpectedExtension("kv", "KeyVaultForLinux", "3.0")


def view(name: str, code: str, message: str = "", level: str = "Info") -> dict[str, object]:
    return {
        "vmExtension": {"name": name, "type": "KeyVaultForLinux"},
        "instanceView": {
            "name": name,
            "statuses": [{"code": code, "level": level, "displayStatus": code, "message": message}],
        },
    }


def test_instance_view_codes_map_to_outcomes() -> None:
    reports = health.parse_node_extensions(
        [
            view("a", "ProvisioningState/succeeded"),
            view("b", "ProvisioningState/failed/0", "boom", "Error"),
            view("c", "ProvisioningState/transitioning"),
        ]
    )
    assert [r.provisioning for r in reports] == [
        Provisioning.SUCCEEDED,
        Provisioning.FAILED,
        Provisioning.TRANSITIONING,
    ]
    assert reports[1].message == "boom"


def test_reference_example_parses() -> None:
    # The Batch data plane's wire example (azure-rest-api-specs, MIT licensed), copied into fixtures/.
    wire = Path(__file__).parent / "fixtures" / "Nodes_ListNodeExtensions.2026-10-01.json"
    data = json.loads(wire.read_text())
    reports = health.parse_node_extensions(data["responses"]["200"]["body"]["value"])
    assert {r.name for r in reports} == {"batchNodeExtension", "customExtension"}
    assert all(r.provisioning is Provisioning.SUCCEEDED for r in reports)


def test_troubled_nodes_are_inspected_first_and_the_budget_holds() -> None:
    nodes = [NodeSummary(f"n{i}", "idle") for i in range(1000)] + [NodeSummary("bad", "unusable")]
    chosen = health.choose_nodes(nodes, {}, budget=10)
    assert len(chosen) == 10
    assert chosen[0] == "bad"


def test_every_node_is_eventually_inspected() -> None:
    nodes = [NodeSummary(f"n{i}", "idle") for i in range(25)]
    records: dict[str, health.NodeRecord] = {}
    seen: set[str] = set()
    for tick in range(3):
        chosen = health.choose_nodes(nodes, records, budget=10)
        seen.update(chosen)
        ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
        records = health.remember(records, nodes, {n: ok for n in chosen}, now=f"t{tick}")
    assert seen == {n.node_id for n in nodes}


def test_a_node_whose_state_changed_is_looked_at_again() -> None:
    nodes = [NodeSummary("a", "idle"), NodeSummary("b", "idle")]
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    records = health.remember({}, nodes, {"a": ok, "b": ok}, now="t0")
    changed = [NodeSummary("a", "idle"), NodeSummary("b", "unusable")]
    assert health.choose_nodes(changed, records, budget=1) == ["b"]


def test_vanished_nodes_are_forgotten() -> None:
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    records = health.remember({}, [NodeSummary("a", "idle")], {"a": ok}, now="t0")
    assert health.remember(records, [], {}, now="t1") == {}


def test_failures_give_a_false_verdict_with_the_message_and_key_vault_advice() -> None:
    nodes = [NodeSummary("n1", "unusable"), NodeSummary("n2", "idle")]
    failed = health.parse_node_extensions(
        [view("kv", "ProvisioningState/failed/0", "secret URL not found", "Error")]
    )
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    records = health.remember({}, nodes, {"n1": failed, "n2": ok}, now="t")
    report = health.summarize([KV], records, node_count=2)
    assert report.verdict.status == "False"
    assert "secret URL not found" in report.verdict.message
    assert "requireInitialSync" in report.verdict.message
    entry = report.extensions[0]
    assert entry["nodes"] == {"succeeded": 1, "failed": 1, "transitioning": 0, "total": 2}
    assert entry["failures"][0]["nodeId"] == "n1"
    assert report.failing == (("kv", 1),)


def test_failure_sample_is_bounded() -> None:
    nodes = [NodeSummary(f"n{i}", "unusable") for i in range(50)]
    failed = health.parse_node_extensions([view("kv", "ProvisioningState/failed/0", "x", "Error")])
    records = health.remember({}, nodes, {n.node_id: failed for n in nodes}, now="t")
    report = health.summarize([KV], records, node_count=50, failure_sample=5)
    assert len(report.extensions[0]["failures"]) == 5
    assert report.extensions[0]["nodes"]["failed"] == 50


def test_not_yet_reported_nodes_keep_the_verdict_unknown() -> None:
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    records = health.remember({}, [NodeSummary("a", "idle")], {"a": ok}, now="t")
    report = health.summarize([KV], records, node_count=3)
    assert report.verdict.status == "Unknown"
    all_ok = health.summarize([KV], records, node_count=1)
    assert all_ok.verdict.status == "True"


def test_an_unknown_verdict_says_how_many_nodes_are_not_inspected_yet() -> None:
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    nodes = [NodeSummary(f"n{i}", "idle") for i in range(10)]
    records = health.remember({}, nodes, {n.node_id: ok for n in nodes}, now="t")
    verdict = health.summarize([KV], records, node_count=1000).verdict
    assert (verdict.status, verdict.reason) == ("Unknown", "ExtensionsProvisioning")
    assert "990 of 1000 nodes not inspected yet" in verdict.message


def test_no_extensions_is_healthy() -> None:
    assert health.summarize([], {}, node_count=4).verdict.reason == "NoExtensions"


def test_a_sub_status_at_error_level_fails_the_extension() -> None:
    item = {
        "vmExtension": {"name": "kv", "type": "KeyVaultForWindows"},
        "instanceView": {
            "name": "kv",
            "statuses": [{"code": "ProvisioningState/succeeded", "level": "Info", "message": "Enabled"}],
            "subStatuses": [
                {"code": "ComponentStatus/KeyVault/succeeded", "level": "Info", "message": "started"},
                {
                    "code": "ComponentStatus/CertificateDownload/failed",
                    "level": "Error",
                    "message": "403 Forbidden reading https://vault/secrets/cert",
                },
            ],
        },
    }
    (report,) = health.parse_node_extensions([item])
    assert report.provisioning is Provisioning.FAILED
    assert report.code == "ComponentStatus/CertificateDownload/failed"
    assert "403 Forbidden" in report.message


def test_sub_statuses_alone_are_read_when_statuses_are_missing() -> None:
    item = {
        "vmExtension": {"name": "cs"},
        "instanceView": {"subStatuses": [{"code": "ProvisioningState/succeeded", "level": "Info"}]},
    }
    (report,) = health.parse_node_extensions([item])
    assert report.provisioning is Provisioning.SUCCEEDED


def test_a_node_whose_read_fails_costs_that_node_only() -> None:
    nodes = [NodeSummary(f"n{i}", "idle") for i in range(5)]
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    bad = health.parse_node_extensions([view("kv", "ProvisioningState/failed/0", "no secret", "Error")])
    inspected = {"n0": ok, "n1": ok, "n2": ok, "n3": bad}
    records = health.remember({}, nodes, inspected, now="t", unreadable={"n4": "500 InternalServerError"})
    report = health.summarize([KV], records, node_count=5)
    assert report.extensions[0]["nodes"] == {"succeeded": 3, "failed": 1, "transitioning": 0, "total": 5}
    assert report.verdict.status == "False"
    assert "n3" in report.verdict.message and "could not be read" in report.verdict.message
    # Without the failure, the verdict waits for the unreadable node and says why.
    records = health.remember(records, nodes, {"n3": ok}, now="t2")
    verdict = health.summarize([KV], records, node_count=5).verdict
    assert verdict.status == "Unknown"
    assert "node n4: 500 InternalServerError" in verdict.message
    # A failing read is retried at the steady budget, never in the first-coverage burst.
    assert "n4" not in health.burst_candidates(nodes, records)
    assert "n4" in health.choose_nodes(nodes, records, budget=1)


def test_first_coverage_of_a_thousand_nodes_takes_two_bursts() -> None:
    nodes = [NodeSummary(f"n{i}", "idle") for i in range(1000)]
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    records: dict[str, health.NodeRecord] = {}
    for tick in range(2):
        chosen = health.choose_nodes(nodes, records, budget=10, burst=500)
        assert len(chosen) <= 510
        records = health.remember(records, nodes, {n: ok for n in chosen}, now=f"t{tick}")
    assert health.summarize([KV], records, node_count=1000).verdict.status == "True"
    # Then the steady state: a bounded sample, nothing left for the burst.
    assert health.burst_candidates(nodes, records) == []
    assert len(health.choose_nodes(nodes, records, budget=10, burst=500)) == 10


def test_the_burst_skips_nodes_not_up_and_rereads_transitioning_ones() -> None:
    nodes = [NodeSummary("a", "starting"), NodeSummary("b", "idle"), NodeSummary("c", "idle")]
    pending = health.parse_node_extensions([view("kv", "ProvisioningState/transitioning")])
    ok = health.parse_node_extensions([view("kv", "ProvisioningState/succeeded")])
    records = health.remember({}, nodes, {"b": pending, "c": ok}, now="t")
    assert health.burst_candidates(nodes, records) == ["b"]


def test_node_json_gives_the_cause_azure_reports() -> None:
    node = health.parse_node(
        {
            "id": "tvm-1",
            "state": "starttaskfailed",
            "isDedicated": False,
            "startTaskInfo": {
                "exitCode": 3,
                "failureInfo": {"category": "usererror", "code": "FailureExitCode", "message": "exit 3"},
            },
            "errors": [
                {
                    "code": "StartTaskFailed",
                    "message": "start task failed",
                    "errorDetails": [{"name": "Message", "value": "see stderr"}],
                }
            ],
        }
    )
    assert node.dedicated is False
    assert node.start_task_exit_code == 3
    assert node.start_task_failure == health.NodeError("FailureExitCode", "exit 3")
    assert node.errors[0].message == "start task failed (see stderr)"
