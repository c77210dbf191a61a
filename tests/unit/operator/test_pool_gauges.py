"""Per-pool series: what Prometheus scrapes, and a deleted pool leaving no ghost behind."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from azbatch_operator.metrics import PoolGauge


def _gauge() -> tuple[PoolGauge, CollectorRegistry]:
    registry = CollectorRegistry()
    return PoolGauge("azbatch_pool_nodes", "Nodes per pool.", ("kind", "which"), registry), registry


def test_a_scrape_shows_each_pools_series_with_all_four_labels() -> None:
    gauge, registry = _gauge()
    gauge.set("team-a", "render", "dedicated", "current", 3)
    gauge.set("team-a", "render", "dedicated", "target", 5)
    gauge.set("team-b", "render", "dedicated", "current", 1)
    gauge.set("team-a", "render", "dedicated", "current", 4)  # a later value replaces the series
    text = generate_latest(registry).decode()
    assert "# TYPE azbatch_pool_nodes gauge" in text
    assert 'azbatch_pool_nodes{kind="dedicated",name="render",namespace="team-a",which="current"} 4.0' in text
    assert 'azbatch_pool_nodes{kind="dedicated",name="render",namespace="team-a",which="target"} 5.0' in text
    assert 'azbatch_pool_nodes{kind="dedicated",name="render",namespace="team-b",which="current"} 1.0' in text
    assert text.count("azbatch_pool_nodes{") == 3
    assert (
        registry.get_sample_value(
            "azbatch_pool_nodes",
            {"namespace": "team-a", "name": "render", "kind": "dedicated", "which": "target"},
        )
        == 5.0
    )


def test_forgetting_a_pool_drops_its_series_and_no_others() -> None:
    gauge, registry = _gauge()
    gauge.set("team-a", "render", "dedicated", "current", 3)
    gauge.set("team-a", "render", "spot", "current", 2)
    gauge.set("team-a", "encode", "dedicated", "current", 7)
    gauge.forget("team-a", "render")
    assert gauge.value("team-a", "render", "dedicated", "current") is None
    assert gauge.value("team-a", "encode", "dedicated", "current") == 7.0
    text = generate_latest(registry).decode()
    assert 'name="render"' not in text and 'name="encode"' in text
    gauge.forget("team-a", "gone")  # a pool that never had a series


def test_a_gauge_with_no_pools_still_names_its_family() -> None:
    _, registry = _gauge()
    assert "# HELP azbatch_pool_nodes Nodes per pool." in generate_latest(registry).decode()
