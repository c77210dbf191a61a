"""One PNG: against fleet size, ARM reads per hour (operator and baseline), cold start (operator and
the provisioning floor) and the operator's memory; and the cold-start curves of the largest fleet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.scale import report


def render(doc: Mapping[str, Any], path: Path) -> Path:
    import matplotlib  # noqa: PLC0415 - the optional `bench` extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fleets = sorted(doc["fleets"], key=lambda f: f["pools"])
    figure, ((reads, cold), (memory, curves)) = plt.subplots(2, 2, figsize=(13, 10))
    sizes = [f["pools"] for f in fleets]
    server = doc.get("kube_server", "stand-in")

    reads.plot(sizes, [f["reads"]["baseline_per_hour"] for f in fleets], "o-", label="baseline: GET per pool")
    reads.plot(sizes, [f["reads"]["operator_per_hour"] for f in fleets], "o-", label="azbatch-operator")
    reads.plot(
        sizes,
        [report.READS_PER_ACCOUNT_GOAL * f.get("accounts", 1) for f in fleets],
        "k_:",
        label=f"goal: {report.READS_PER_ACCOUNT_GOAL:g} per account",
    )
    reads.axhline(25 * 3600, color="grey", linestyle="--", label="ARM refill (25 reads/s)")
    _log_axes(reads, "ARM reads per hour (60 s resync)", "Steady drift detection: ARM reads")

    cold.plot(
        sizes, [f["cold_start"]["floor_seconds"] for f in fleets], "o-", label="floor: direct SDK client"
    )
    cold.plot(sizes, [f["cold_start"]["operator_seconds"] for f in fleets], "o-", label="azbatch-operator")
    cold.plot(
        sizes,
        [f["cold_start"]["floor_seconds"] * report.COLD_START_GOAL for f in fleets],
        "k_:",
        label=f"goal: {report.COLD_START_GOAL:g}x the floor",
    )
    _log_axes(cold, "seconds to all pools Steady / Ready", f"Cold start (Kubernetes API: {server})")

    memory.plot(
        sizes, [f["memory"]["operator_rss_mib_peak"] for f in fleets], "o-", label="operator RSS, peak"
    )
    memory.axhline(
        report.RSS_GOAL_MIB, color="black", linestyle=":", label=f"goal: < {report.RSS_GOAL_MIB:g} MiB"
    )
    memory.set_xscale("log")
    memory.set_ylim(bottom=0)
    memory.set_xlabel("pools")
    memory.set_ylabel("MiB")
    memory.set_title("Operator memory")
    memory.legend()
    memory.grid(True, which="both", alpha=0.3)

    largest = fleets[-1] if fleets else None
    if largest is not None:
        cold_start = largest["cold_start"]
        total = largest["pools"]
        for key, label in (
            ("floor_curve", "floor: direct SDK client"),
            ("operator_curve", "azbatch-operator"),
        ):
            curve = cold_start[key]
            curves.plot(
                [t for t, _ in curve],
                [n / total * 100 for _, n in curve],
                "-",
                label=label,
                drawstyle="steps-post",
            )
        ready = cold_start.get("ready_seen_seconds")
        if ready is not None:
            curves.axvline(ready, color="grey", linestyle=":", label="operator ready (first watch)")
        curves.set_xlabel("seconds since the start (floor: first PUT; operator: process start)")
        curves.set_ylabel(f"% of {total:,} pools Steady / Ready")
        curves.set_title(f"Cold start, {total:,} pools (ratio {cold_start['ratio_to_floor']:.2f}x)")
        curves.legend()
        curves.grid(True, alpha=0.3)

    machine = doc["machine"]
    figure.suptitle(
        f"azbatch-operator benchmarks ({doc['mode']}) on {machine['cores']} cores, {machine['cpu']}"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _log_axes(axes: Any, ylabel: str, title: str) -> None:
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("pools")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend()
    axes.grid(True, which="both", alpha=0.3)
