"""The results document: goals checked against ratios measured in the same run, and a printed table."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azbatch_operator.testenv import choose_server

READS_RATIO_GOAL = 20.0
CONVERGENCE_GOAL = 1.1
REACTION_P99_GOAL = 1.0
RSS_GOAL_MIB = 250.0
# A drift made just after a list is seen in the next one, one interval later; writing it back then
# takes a reconcile (the reaction time). The goal allows that much on top of the interval.
ACT_ALLOWANCE = 0.5


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = f"{int(first.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def goals(fleets: Sequence[Mapping[str, Any]], healths: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each goal of issue #7, judged at the largest fleet and pool measured."""
    largest = max(fleets, key=lambda f: f["pools"]) if fleets else None
    checks: dict[str, Any] = {}
    if largest is not None:
        ratio = largest["reads"]["baseline_over_operator"]
        checks["reads"] = {
            "at_pools": largest["pools"],
            "value": ratio,
            "goal": f">= {READS_RATIO_GOAL:g}x fewer ARM reads than the baseline",
            "met": ratio >= READS_RATIO_GOAL,
        }
        drift = largest["drift"]
        checks["drift"] = {
            "at_pools": largest["pools"],
            "value": drift["worst_over_interval"],
            "goal": f"drift written back within one resync interval (+ {ACT_ALLOWANCE:g} s to act on it)",
            "met": max(drift["seconds"]) <= drift["resync_interval"] + ACT_ALLOWANCE,
        }
        writes = largest["restart"]["azure_writes"]
        checks["restart"] = {
            "at_pools": largest["pools"],
            "value": writes,
            "goal": "0 Azure writes on restart",
            "met": writes == 0,
        }
        convergence = largest["cold_start"]["ratio_to_floor"]
        checks["cold_start"] = {
            "at_pools": largest["pools"],
            "value": convergence,
            "goal": f"<= {CONVERGENCE_GOAL:g}x the provisioning floor",
            "met": convergence <= CONVERGENCE_GOAL,
        }
        p99 = largest["reaction"]["p99_seconds"]
        checks["reaction"] = {
            "at_pools": largest["pools"],
            "value": p99,
            "goal": f"p99 < {REACTION_P99_GOAL:g} s",
            "met": p99 < REACTION_P99_GOAL,
        }
        rss = largest["memory"]["operator_rss_mib_peak"]
        checks["memory"] = {
            "at_pools": largest["pools"],
            "value": rss,
            "goal": f"< {RSS_GOAL_MIB:g} MiB",
            "met": rss < RSS_GOAL_MIB,
        }
    if healths:
        per_obs = [h["calls_per_observation"] for h in healths]
        budget_bound = max(h["node_budget"] + 2 for h in healths)  # list page + node counts + budget
        detections = [h["failure_detection_seconds"] for h in healths]
        seen = all(
            d is not None and d <= h["health_interval"] * 1.5
            for d, h in zip(detections, healths, strict=True)
        )
        checks["extension_health"] = {
            "at_nodes": [h["nodes"] for h in healths],
            "value": per_obs,
            "goal": "calls per observation bounded (not linear in nodes); a failure seen within one interval",
            "met": max(per_obs) <= budget_bound and seen,
        }
        coverage = [h.get("first_coverage_intervals") for h in healths]
        if all(c is not None for c in coverage):
            checks["first_coverage"] = {
                "at_nodes": [h["nodes"] for h in healths],
                "value": coverage,
                "goal": "ExtensionsHealthy decided within two health intervals of every node being up",
                "met": max(coverage) <= 2.0,
            }
    return checks


def document(
    fleets: Sequence[Mapping[str, Any]], healths: Sequence[Mapping[str, Any]], *, quick: bool, profile: Any
) -> dict[str, Any]:
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "machine": machine(),
        # Which Kubernetes API the sandboxes ran on: stand-in, envtest (KUBEBUILDER_ASSETS) or
        # kubeconfig (AZBATCH_TEST_KUBECONFIG); docs/real-apiserver.md.
        "kube_server": str(choose_server()),
        "profile": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(profile).items()},
        "goals": goals(fleets, healths),
        "fleets": list(fleets),
        "extension_health": list(healths),
    }


def table(doc: Mapping[str, Any]) -> str:
    lines = [
        f"machine: {doc['machine']['cpu']}, {doc['machine']['cores']} cores, {doc['machine']['memory']}; "
        f"Kubernetes API: {doc.get('kube_server', 'stand-in')}"
    ]
    lines.append("")
    lines.append(
        "pools | ARM reads/h/pool operator | baseline | baseline/operator | cold start s (floor s, ratio)"
        " | restart writes | reaction p50/p99 ms | RSS MiB"
    )
    for f in doc["fleets"]:
        r, c = f["reads"], f["cold_start"]
        cells = [
            f"{f['pools']:>5}",
            f"{r['operator_per_hour_per_pool']:>8.2f}",
            f"{r['baseline_per_hour_per_pool']:>8.1f}",
            f"{r['baseline_over_operator']:>7.1f}x",
            f"{c['operator_seconds']:.1f} ({c['floor_seconds']:.1f}, {c['ratio_to_floor']:.2f}x)",
            f"{f['restart']['azure_writes']}",
            f"{f['reaction']['p50_seconds'] * 1000:.0f}/{f['reaction']['p99_seconds'] * 1000:.0f}",
            f"{f['memory']['operator_rss_mib_peak']:.0f}",
        ]
        lines.append(" | ".join(cells))
    lines.append("")
    lines.append("pools | cold start: operator CPU s | API stand-in CPU s | apply s (not timed)")
    for f in doc["fleets"]:
        c = f["cold_start"]
        cells = [f"{f['pools']:>5}", _seconds(c.get("operator_cpu_seconds"))]
        cells += [_seconds(c.get("api_stand_in_cpu_seconds")), _seconds(c.get("apply_seconds"))]
        lines.append(" | ".join(cells))
    if doc["extension_health"]:
        lines.append("")
        lines.append("nodes | data-plane calls/observation | naive | failure seen after s | first coverage")
        for h in doc["extension_health"]:
            detection = h["failure_detection_seconds"]
            seen = f"{detection:.2f} (interval {h['health_interval']:g})" if detection is not None else "-"
            cells = [
                f"{h['nodes']:>5}",
                f"{h['calls_per_observation']:.1f}",
                f"{h['naive_calls_per_observation']}",
                seen,
                _intervals(h.get("first_coverage_intervals")),
            ]
            lines.append(" | ".join(cells))
    lines.append("")
    for name, check in doc["goals"].items():
        value = check["value"]
        shown = ", ".join(f"{v:.2f}" for v in value) if isinstance(value, list) else f"{value:.2f}"
        lines.append(f"{'MET ' if check['met'] else 'MISS'} {name}: {shown} ({check['goal']})")
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def markdown(doc: Mapping[str, Any]) -> str:
    """The README's tables for a results document (`python -m bench.scale --markdown FILE`)."""
    m = doc["machine"]
    lines = [
        f"{doc['mode'].capitalize()} run of {doc['generated']} on {m['cpu']}, {m['cores']} cores,"
        f" {m['memory']}, Python {m['python']}; resync interval {doc['profile']['resync_interval']:g} s"
        f" standing for 60 s, emulator time x{doc['profile']['time_scale']:g}.",
        "",
        "| pools | ARM reads/hour: operator | baseline | fewer | drift written back | restart writes"
        " | reaction p50 / p99 | cold start (floor) | RSS |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in sorted(doc["fleets"], key=lambda f: f["pools"]):
        r, c, d = f["reads"], f["cold_start"], f["drift"]
        lines.append(
            f"| {f['pools']:,} | {r['operator_per_hour']:,.0f} | {r['baseline_per_hour']:,.0f}"
            f" | {r['baseline_over_operator']:,.0f}x"
            f" | {max(d['seconds']):.1f} s ({d['resync_interval']:g} s interval)"
            f" | {f['restart']['azure_writes']} | {f['reaction']['p50_seconds'] * 1000:.0f} /"
            f" {f['reaction']['p99_seconds'] * 1000:.0f} ms | {c['operator_seconds']:.1f} s"
            f" ({c['floor_seconds']:.1f} s) | {f['memory']['operator_rss_mib_peak']:.0f} MiB |"
        )
    if doc["extension_health"]:
        lines += [
            "",
            "| nodes | data-plane calls per observation | one call per node | failing extension seen"
            " | first coverage decided |",
        ]
        lines.append("| ---: | ---: | ---: | ---: | ---: |")
        for h in doc["extension_health"]:
            seen = h["failure_detection_seconds"]
            shown = "-" if seen is None else f"{seen:.2f} s ({h['health_interval']:g} s interval)"
            coverage = h.get("first_coverage_intervals")
            covered = "-" if coverage is None else f"{coverage:.2f} intervals"
            lines.append(
                f"| {h['nodes']:,} | {h['calls_per_observation']:.0f} | {h['naive_calls_per_observation']:,}"
                f" | {shown} | {covered} |"
            )
    lines += ["", "Goals, judged at the largest size:", ""]
    for name, check in doc["goals"].items():
        value = check["value"]
        shown = ", ".join(f"{v:.2f}" for v in value) if isinstance(value, list) else f"{value:.2f}"
        lines.append(f"- {'met' if check['met'] else '**missed**'}: {name} {shown} ({check['goal']})")
    return "\n".join(lines)


def _intervals(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} intervals"
