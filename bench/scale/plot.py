"""One PNG: ARM reads per hour per pool against the baseline, and the convergence curves."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def render(doc: Mapping[str, Any], path: Path) -> Path:
    import matplotlib  # noqa: PLC0415 - the optional `bench` extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fleets = sorted(doc["fleets"], key=lambda f: f["pools"])
    figure, (reads, convergence) = plt.subplots(1, 2, figsize=(13, 5))

    sizes = [f["pools"] for f in fleets]
    reads.plot(sizes, [f["reads"]["baseline_per_hour"] for f in fleets], "o-", label="baseline: GET per pool")
    reads.plot(sizes, [f["reads"]["operator_per_hour"] for f in fleets], "o-", label="azbatch-operator")
    reads.axhline(25 * 3600, color="grey", linestyle=":", label="ARM refill (25 reads/s)")
    reads.set_xscale("log")
    reads.set_yscale("log")
    reads.set_xlabel("pools")
    reads.set_ylabel("ARM reads per hour (60 s resync)")
    reads.set_title("Drift detection cost")
    reads.legend()
    reads.grid(True, which="both", alpha=0.3)

    largest = fleets[-1] if fleets else None
    if largest is not None:
        cold = largest["cold_start"]
        total = largest["pools"]
        for key, label in (
            ("floor_curve", "floor: direct SDK client"),
            ("operator_curve", "azbatch-operator"),
        ):
            curve = cold[key]
            convergence.plot(
                [t for t, _ in curve],
                [n / total * 100 for _, n in curve],
                "-",
                label=label,
                drawstyle="steps-post",
            )
        convergence.set_xlabel("seconds since the start (floor: first PUT; operator: process start)")
        convergence.set_ylabel(f"% of {total} pools Steady / Ready")
        convergence.set_title(f"Cold start, {total} pools (ratio {cold['ratio_to_floor']:.2f}x)")
        convergence.legend()
        convergence.grid(True, alpha=0.3)

    machine = doc["machine"]
    figure.suptitle(
        f"azbatch-operator benchmarks ({doc['mode']}) on {machine['cores']} cores, {machine['cpu']}"
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
