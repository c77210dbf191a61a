"""Smoke test of `python -m bench.scale`: every measurement runs end to end at a tiny size, and the
properties the benchmark exists to show hold there too (they are size-independent by design)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from bench.scale import __main__ as cli
from bench.scale import phases, plot, report

TINY = replace(phases.Profile.quick(), resync_interval=1.5, reaction_samples=3, timeout=60.0, poll=1.0)


@pytest.fixture(scope="module")
def fleet() -> dict:
    return phases.fleet_run(6, TINY, log=lambda _: None)


@pytest.fixture(scope="module")
def health() -> dict:
    return phases.health_run(24, TINY, log=lambda _: None)


def test_steady_drift_detection_reads_one_list_per_interval_where_the_baseline_reads_every_pool(fleet):
    reads = fleet["reads"]
    assert reads["baseline_per_interval"] == pytest.approx(6, abs=1)
    assert reads["operator_per_interval"] <= 1.5  # one list page per account (+ at most a stray GET)
    assert reads["operator_writes_while_steady"] == 0
    assert reads["baseline_over_operator"] >= 4


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
        "cold_start",
        "reaction",
        "memory",
        "extension_health",
        "first_coverage",
    }
    assert doc["goals"]["restart"]["met"] is True
    assert doc["kube_server"] == "stand-in"  # the default run; envtest / kubeconfig when switched
    json.dumps(doc)  # the results file is plain JSON
    text = report.table(doc)
    assert "baseline/operator" in text and "MET  restart" in text
    table = report.markdown(doc)
    assert "| 6 |" in table and "- met: restart 0.00" in table
    pytest.importorskip("matplotlib")
    png = plot.render(doc, tmp_path / "latest.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_the_command_refuses_nonsense_sizes(capsys):
    with pytest.raises(SystemExit):
        cli.parse(["--pools", "ten"])
    assert "comma-separated whole numbers" in capsys.readouterr().err
