"""Smoke test of `python -m bench.scale`: every measurement runs end to end at a tiny size (six pools
over the quick profile's two Batch accounts), and the properties the benchmark exists to show hold
there too (they are size-independent by design)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from bench.scale import __main__ as cli
from bench.scale import phases, plot, report

from azbatch_emulator.admin import AdminClient

ACCOUNTS = 2  # the quick profile's

TINY = replace(phases.Profile.quick(), resync_interval=1.5, reaction_samples=3, timeout=60.0, poll=1.0)


@pytest.fixture(scope="module")
def fleet() -> dict:
    return phases.fleet_run(6, TINY, log=lambda _: None)


@pytest.fixture(scope="module")
def health() -> dict:
    return phases.health_run(24, TINY, log=lambda _: None)


def test_steady_drift_detection_reads_one_list_per_interval_where_the_baseline_reads_every_pool(fleet):
    assert fleet["accounts"] == ACCOUNTS
    reads = fleet["reads"]
    assert reads["baseline_per_interval"] == pytest.approx(6, abs=1)
    assert reads["operator_per_interval"] <= ACCOUNTS + 0.5  # one list page per account (+ a stray GET)
    assert reads["operator_writes_while_steady"] == 0
    assert reads["baseline_over_operator"] >= 2


def test_reads_are_attributed_to_each_account_of_the_fleet(fleet):
    reads = fleet["reads"]
    assert reads["per_account_source"] == "emulator access log"
    assert len(reads["operator_per_hour_by_account"]) == ACCOUNTS
    # One list per account per interval is 60 an hour; a window of two intervals may catch a third.
    assert all(0 < n <= 90 for n in reads["operator_per_hour_by_account"].values())
    assert reads["operator_per_hour_per_account"] == max(reads["operator_per_hour_by_account"].values())
    assert reads["baseline_per_hour_per_account"] == pytest.approx(reads["baseline_per_hour"] / ACCOUNTS)


def test_restart_over_unchanged_pools_writes_nothing_to_azure_or_status(fleet):
    assert fleet["restart"]["azure_writes"] == 0
    assert fleet["restart"]["status_writes"] == 0


def test_drift_is_written_back_within_one_interval_and_spec_changes_react_fast(fleet):
    assert fleet["drift"]["worst_over_interval"] <= 1.0 + 0.5 / TINY.resync_interval
    assert fleet["reaction"]["samples"] == 3
    assert fleet["reaction"]["p99_seconds"] < 1.0


def test_cold_start_is_measured_against_a_floor_from_the_same_run(fleet):
    cold = fleet["cold_start"]
    assert 0 < cold["floor_seconds"] <= cold["operator_seconds"] * 1.5
    assert cold["operator_curve"][-1][1] == 6
    assert cold["floor_curve"][-1][1] == 6
    assert fleet["memory"]["operator_rss_mib_peak"] > 20  # the operator process was found and sampled
    assert set(fleet["phase_seconds"]) >= {"floor", "apply", "cold_start", "steady", "baseline", "restart"}


def test_cold_start_records_start_up_and_the_cpu_spent_after_it(fleet):
    cold = fleet["cold_start"]
    assert cold["operator_cpu_seconds"] > 0
    for key in ("startup_seconds", "ready_seen_seconds", "operator_cpu_at_ready_seconds"):
        assert key in cold
    if cold["startup_seconds"] is not None:  # the operator logged `operator.ready`
        assert 0 < cold["startup_seconds"] <= cold["ready_seen_seconds"] + 1.0
        assert 0 < cold["operator_cpu_at_ready_seconds"] <= cold["operator_cpu_seconds"]
        assert cold["operator_cpu_ms_per_pool"] == pytest.approx(
            cold["operator_cpu_after_ready_seconds"] / 6 * 1000
        )
    else:
        assert cold["operator_cpu_ms_per_pool"] is None


def test_the_arm_throttle_counts_no_429_during_the_cold_start(fleet):
    budget = fleet["cold_start"]["arm_budget"]
    if not hasattr(AdminClient, "arm_throttle"):
        assert budget is None
        return
    assert budget["enabled"] is True
    (subscription,) = budget["subscriptions"].values()  # every account in the one subscription
    for kind in ("reads", "writes"):
        assert subscription[kind]["throttled"] == 0
        assert subscription[kind]["allowed"] > 0
        assert 0 < subscription[kind]["min_fraction"] <= 1


def test_extension_health_reads_a_bounded_sample_not_every_node(health):
    assert health["naive_calls_per_observation"] == 25
    assert health["calls_per_observation"] <= 12  # node list + a budget of 10 extension reads
    assert health["failure_detection_seconds"] is not None
    assert health["failure_detection_seconds"] <= 2 * TINY.health_interval


def test_first_coverage_is_decided_within_two_intervals_and_every_observation_is_bounded(health):
    assert health["first_coverage_intervals"] <= 2.0
    assert health["first_coverage_extension_reads"] >= 24  # every node read once, in a burst
    assert health["first_coverage_calls_per_observation"] <= health["max_calls_per_observation"]
    assert health["calls_per_observation"] <= 2 + health["node_budget"]  # steady: list, counts, sample


def test_the_document_judges_each_goal_and_renders(fleet, health, tmp_path: Path):
    doc = report.document([fleet], [health], quick=True, profile=TINY)
    assert set(doc["goals"]) == {
        "reads",
        "drift",
        "restart",
        "reaction",
        "memory",
        "arm_budget",
        "cold_start",
        "cold_start_cpu",
        "extension_health",
        "first_coverage",
    }
    assert doc["goals"]["restart"]["met"] is True
    assert doc["goals"]["reads"]["accounts"] == ACCOUNTS
    assert doc["kube_server"] == "stand-in"  # the default run; envtest / kubeconfig when switched
    assert doc["goals"]["cold_start"]["server"] == "stand-in"
    assert doc["goals"]["cold_start"]["at_pools"] == 6  # 1,000 pools, or the largest size below it
    json.dumps(doc)  # the results file is plain JSON
    text = report.table(doc)
    assert "baseline/operator" in text and "MET  restart" in text and "per account" in text
    table = report.markdown(doc)
    assert "| 6 | 2 |" in table and "- met: restart 0 writes" in table
    assert "Kubernetes API: stand-in" in table
    pytest.importorskip("matplotlib")
    png = plot.render(doc, tmp_path / "latest.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_the_cold_start_goals_are_judged_at_a_thousand_pools_and_the_rest_at_the_largest_fleet(fleet):
    sizes = [{**fleet, "pools": n} for n in (100, 1000, 10000)]
    checks = report.goals(sizes, [], server="envtest")
    assert checks["cold_start"]["at_pools"] == 1000 and checks["cold_start"]["server"] == "envtest"
    assert checks["cold_start_cpu"]["at_pools"] == 1000
    assert {checks[g]["at_pools"] for g in ("reads", "restart", "drift", "reaction", "memory")} == {10000}


def test_the_command_refuses_nonsense_sizes(capsys):
    with pytest.raises(SystemExit):
        cli.parse(["--pools", "ten"])
    assert "comma-separated whole numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse(["--accounts", "0"])
    assert cli.parse(["--accounts", "3"]).accounts == 3
