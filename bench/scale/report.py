"""The results document: goals checked against ratios measured in the same run, and a printed table."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azbatch_operator.testenv import choose_server

# The goals of issue 15, for a fleet of 10,000 pools over 10 Batch accounts (the largest size
# measured) unless they name another size.
READS_PER_ACCOUNT_GOAL = 60.0  # ARM reads an hour per account, steady: one list per resync interval
REACTION_P99_GOAL = 0.25  # seconds from a spec change to the first ARM write
RSS_GOAL_MIB = 400.0
COLD_START_AT = 1000  # pools; the cold-start goals are judged there (or the largest size below it)
COLD_START_GOAL = 1.5  # x the provisioning floor
CPU_PER_POOL_GOAL_MS = 8.0  # operator CPU from its first watch to all Ready, per pool created
# Zero 429s during the largest cold start, and never below this fraction of any bucket.
BUDGET_HEADROOM_GOAL = 0.1
# A drift made just after a list is seen in the next one, one interval later; writing it back then
# takes a reconcile (the reaction time). The goal allows that much on top of the interval.
ACT_ALLOWANCE = 0.5
BUDGET_KINDS = ("reads", "writes", "deletes")


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


def goals(
    fleets: Sequence[Mapping[str, Any]], healths: Sequence[Mapping[str, Any]], *, server: str = "stand-in"
) -> dict[str, Any]:
    """Each goal of issue 15, at the largest fleet measured (the cold-start goals at 1,000 pools),
    and the extension-health goals at every pool size measured. `met` is None when the run could
    not measure it (an emulator without the ARM throttle, an operator without its ready line)."""
    checks: dict[str, Any] = {}
    if fleets:
        largest = max(fleets, key=lambda f: f["pools"])
        at = {"at_pools": largest["pools"], "accounts": largest.get("accounts", 1)}
        per_account = largest["reads"].get("operator_per_hour_per_account")
        checks["reads"] = {
            **at,
            "value": per_account,
            "unit": "reads/hour",
            "goal": f"<= {READS_PER_ACCOUNT_GOAL:g} ARM reads/hour per Batch account, steady",
            "met": _at_most(per_account, READS_PER_ACCOUNT_GOAL),
        }
        writes = largest["restart"]["azure_writes"]
        checks["restart"] = {
            **at,
            "value": writes,
            "unit": "writes",
            "goal": "0 Azure writes on restart",
            "met": writes == 0,
        }
        drift = largest["drift"]
        checks["drift"] = {
            **at,
            "value": drift["worst_over_interval"],
            "unit": "intervals",
            "goal": f"drift written back within one resync interval (+ {ACT_ALLOWANCE:g} s to act on it)",
            "met": max(drift["seconds"]) <= drift["resync_interval"] + ACT_ALLOWANCE,
        }
        p99 = largest["reaction"]["p99_seconds"]
        checks["reaction"] = {
            **at,
            "value": p99,
            "unit": "s",
            "goal": f"spec change to first ARM write p99 < {REACTION_P99_GOAL * 1000:g} ms",
            "met": p99 < REACTION_P99_GOAL,
        }
        rss = largest["memory"]["operator_rss_mib_peak"]
        checks["memory"] = {
            **at,
            "value": rss,
            "unit": "MiB",
            "goal": f"operator RSS < {RSS_GOAL_MIB:g} MiB",
            "met": rss < RSS_GOAL_MIB,
        }
        checks["arm_budget"] = _budget_check(largest, at)

        cold_fleet = _cold_start_fleet(fleets)
        cold = cold_fleet["cold_start"]
        at_cold = {
            "at_pools": cold_fleet["pools"],
            "accounts": cold_fleet.get("accounts", 1),
            "server": server,
        }
        checks["cold_start"] = {
            **at_cold,
            "value": cold["ratio_to_floor"],
            "unit": "x floor",
            "goal": f"<= {COLD_START_GOAL:g}x the provisioning floor (Kubernetes API: {server})",
            "met": cold["ratio_to_floor"] <= COLD_START_GOAL,
        }
        per_pool = cold.get("operator_cpu_ms_per_pool")
        checks["cold_start_cpu"] = {
            **at_cold,
            "value": per_pool,
            "unit": "ms",
            "goal": f"<= {CPU_PER_POOL_GOAL_MS:g} ms of operator CPU per pool, first watch to all Ready",
            "met": _at_most(per_pool, CPU_PER_POOL_GOAL_MS),
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
        coverage = [float(c) for h in healths if (c := h.get("first_coverage_intervals")) is not None]
        if len(coverage) == len(healths):
            checks["first_coverage"] = {
                "at_nodes": [h["nodes"] for h in healths],
                "value": coverage,
                "goal": "ExtensionsHealthy decided within two health intervals of every node being up",
                "met": max(coverage) <= 2.0,
            }
    return checks


def _at_most(value: float | None, goal: float) -> bool | None:
    return None if value is None else value <= goal


def _cold_start_fleet(fleets: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The fleet of `COLD_START_AT` pools, else the largest below it, else the smallest."""
    below = [f for f in fleets if f["pools"] <= COLD_START_AT]
    if below:
        return max(below, key=lambda f: f["pools"])
    return min(fleets, key=lambda f: f["pools"])


def budget_rows(fleet: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per subscription of the fleet's cold start: 429s and the lowest bucket fraction, per kind."""
    budget = (fleet.get("cold_start") or {}).get("arm_budget") or {}
    rows = []
    for subscription, kinds in sorted((budget.get("subscriptions") or {}).items()):
        row: dict[str, Any] = {"subscription": subscription}
        for kind in BUDGET_KINDS:
            stats = kinds.get(kind) or {}
            row[kind] = {
                "throttled": int(stats.get("throttled", 0)),
                "allowed": int(stats.get("allowed", 0)),
                "min_fraction": stats.get("min_fraction"),
            }
        rows.append(row)
    return rows


def _budget_check(fleet: Mapping[str, Any], at: Mapping[str, Any]) -> dict[str, Any]:
    goal = (
        f"no 429 from ARM's per-subscription throttle during the cold start; every bucket"
        f" above {BUDGET_HEADROOM_GOAL:.0%}"
    )
    budget = (fleet.get("cold_start") or {}).get("arm_budget")
    if not budget or not budget.get("enabled"):
        reason = "no ARM throttle in this emulator" if not budget else "the ARM throttle was off"
        return {**at, "value": None, "unit": "fraction", "goal": goal, "met": None, "note": reason}
    rows = budget_rows(fleet)
    throttled = sum(row[k]["throttled"] for row in rows for k in BUDGET_KINDS)
    fractions = [row[k]["min_fraction"] for row in rows for k in BUDGET_KINDS]
    lowest = min((f for f in fractions if f is not None), default=1.0)  # untouched buckets stay full
    return {
        **at,
        "value": lowest,
        "unit": "fraction",
        "throttled": throttled,
        "goal": goal,
        "met": throttled == 0 and lowest > BUDGET_HEADROOM_GOAL,
    }


def commit() -> str | None:
    """The commit the run measured (with `+` when the working tree had changes), if in a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def document(
    fleets: Sequence[Mapping[str, Any]], healths: Sequence[Mapping[str, Any]], *, quick: bool, profile: Any
) -> dict[str, Any]:
    server = str(choose_server())
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "mode": "quick" if quick else "full",
        "machine": machine(),
        # Which Kubernetes API the sandboxes ran on: stand-in, envtest (KUBEBUILDER_ASSETS) or
        # kubeconfig (AZBATCH_TEST_KUBECONFIG); docs/real-apiserver.md.
        "kube_server": server,
        "profile": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(profile).items()},
        "goals": goals(fleets, healths, server=server),
        "fleets": list(fleets),
        "extension_health": list(healths),
    }


def table(doc: Mapping[str, Any]) -> str:
    """The console summary of a results document."""
    lines = [
        f"machine: {doc['machine']['cpu']}, {doc['machine']['cores']} cores, {doc['machine']['memory']}; "
        f"Kubernetes API: {doc.get('kube_server', 'stand-in')}",
        "",
        "pools | accounts | ARM reads/h operator | per account (busiest) | baseline | baseline/operator"
        " | cold start s (floor s, ratio) | restart writes | reaction p50/p99 ms | RSS MiB",
    ]
    for f in doc["fleets"]:
        r, c = f["reads"], f["cold_start"]
        cells = [
            f"{f['pools']:>5}",
            f"{f.get('accounts', 1):>3}",
            f"{r['operator_per_hour']:>8.0f}",
            f"{_number(r.get('operator_per_hour_per_account'), '.0f')}",
            f"{r['baseline_per_hour']:>8.0f}",
            f"{r['baseline_over_operator']:>7.1f}x",
            f"{c['operator_seconds']:.1f} ({c['floor_seconds']:.1f}, {c['ratio_to_floor']:.2f}x)",
            f"{f['restart']['azure_writes']}",
            f"{f['reaction']['p50_seconds'] * 1000:.0f}/{f['reaction']['p99_seconds'] * 1000:.0f}",
            f"{f['memory']['operator_rss_mib_peak']:.0f}",
        ]
        lines.append(" | ".join(cells))
    lines += [
        "",
        "pools | start-up s | operator CPU s: total | after ready | ms/pool | API stand-in CPU s"
        " | apply s (not timed)",
    ]
    for f in doc["fleets"]:
        c = f["cold_start"]
        cells = [
            f"{f['pools']:>5}",
            _seconds(c.get("startup_seconds")),
            _seconds(c.get("operator_cpu_seconds")),
            _seconds(c.get("operator_cpu_after_ready_seconds")),
            _number(c.get("operator_cpu_ms_per_pool"), ".1f"),
            _seconds(c.get("api_stand_in_cpu_seconds")),
            _seconds(c.get("apply_seconds")),
        ]
        lines.append(" | ".join(cells))
    budget = _budget_lines(doc, markdown=False)
    if budget:
        lines += ["", *budget]
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
        verdict = {True: "MET ", False: "MISS", None: "N/A "}[check["met"]]
        lines.append(f"{verdict} {name}: {_value(name, check)} ({check['goal']}){_where(check)}")
    return "\n".join(lines)


def _budget_lines(doc: Mapping[str, Any], *, markdown: bool) -> list[str]:
    """The per-subscription ARM budget of the largest fleet's cold start, as a table."""
    if not doc["fleets"]:
        return []
    largest = max(doc["fleets"], key=lambda f: f["pools"])
    rows = budget_rows(largest)
    if not rows:
        return []
    limits = ((largest.get("cold_start") or {}).get("arm_budget") or {}).get("limits") or {}
    buckets = ", ".join(
        f"{kind} {limits[kind].get('bucket')} (+{limits[kind].get('refill_per_second')}/s)"
        for kind in BUDGET_KINDS
        if kind in limits
    )
    title = (
        f"ARM throttle during the cold start of {largest['pools']:,} pools, per subscription"
        f" (buckets: {buckets}; refilled on the emulator's clock):"
    )
    header = "subscription | 429s: reads / writes / deletes | lowest bucket level: reads / writes / deletes"
    out = [title, ""]
    if markdown:
        out += [f"| {header} |", "| --- | ---: | ---: |"]
    else:
        out.append(header)
    for row in rows:
        throttled = " / ".join(str(row[k]["throttled"]) for k in BUDGET_KINDS)
        lowest = " / ".join(_percent(row[k]["min_fraction"]) for k in BUDGET_KINDS)
        cells = [row["subscription"], throttled, lowest]
        out.append(f"| {' | '.join(cells)} |" if markdown else " | ".join(cells))
    return out


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


# How each goal's value reads (an unknown goal, as in an older results file: two decimals).
_SHOWN: dict[str, Any] = {
    "reads": lambda v: f"{v:,.0f} reads/hour",
    "restart": lambda v: f"{v} writes",
    "drift": lambda v: f"{v:.2f} intervals",
    "reaction": lambda v: f"{v * 1000:.0f} ms",
    "memory": lambda v: f"{v:.0f} MiB",
    "arm_budget": lambda v: f"lowest bucket {v:.0%}",
    "cold_start": lambda v: f"{v:.2f}x",
    "cold_start_cpu": lambda v: f"{v:.1f} ms",
    "first_coverage": lambda v: f"{v:.2f}",
}


def _value(name: str, check: Mapping[str, Any]) -> str:
    value = check["value"]
    if value is None:
        return "not measured" + (f": {check['note']}" if check.get("note") else "")
    if isinstance(value, list):
        return ", ".join(f"{v:.2f}" for v in value)
    shown = _SHOWN.get(name) if "unit" in check else None
    text = shown(value) if shown is not None else f"{value:.2f}"
    if name == "arm_budget" and "throttled" in check:
        text = f"{check['throttled']} 429s, {text}"
    return str(text)


def _where(check: Mapping[str, Any]) -> str:
    if "at_pools" in check:
        accounts = check.get("accounts")
        return f" at {check['at_pools']:,} pools" + (f" in {accounts} accounts" if accounts else "")
    if "at_nodes" in check:
        return " at " + ", ".join(f"{n:,}" for n in check["at_nodes"]) + " nodes"
    return ""


def markdown(doc: Mapping[str, Any]) -> str:
    """The README's and docs/benchmarks.md's tables for a results document
    (`python -m bench.scale --markdown FILE`)."""
    m = doc["machine"]
    server = doc.get("kube_server", "stand-in")
    lines = [
        f"{doc['mode'].capitalize()} run of {doc['generated']} on {m['cpu']}, {m['cores']} cores,"
        f" {m['memory']}, Python {m['python']}; resync interval {doc['profile']['resync_interval']:g} s"
        f" standing for 60 s, emulator time x{doc['profile']['time_scale']:g}; Kubernetes API: {server}"
        + (f"; commit {doc['commit']}." if doc.get("commit") else "."),
        "",
        "| pools | accounts | ARM reads/hour: operator | per account | baseline | drift written back"
        " | restart writes | reaction p50 / p99 | cold start (floor) | start-up | CPU per pool | RSS |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in sorted(doc["fleets"], key=lambda f: f["pools"]):
        r, c, d = f["reads"], f["cold_start"], f["drift"]
        per_pool = c.get("operator_cpu_ms_per_pool")
        startup = c.get("startup_seconds")
        lines.append(
            f"| {f['pools']:,} | {f.get('accounts', 1)} | {r['operator_per_hour']:,.0f}"
            f" | {_number(r.get('operator_per_hour_per_account'), ',.0f')} | {r['baseline_per_hour']:,.0f}"
            f" | {max(d['seconds']):.1f} s ({d['resync_interval']:g} s interval)"
            f" | {f['restart']['azure_writes']} | {f['reaction']['p50_seconds'] * 1000:.0f} /"
            f" {f['reaction']['p99_seconds'] * 1000:.0f} ms | {c['operator_seconds']:.1f} s"
            f" ({c['floor_seconds']:.1f} s) | {'-' if startup is None else f'{startup:.1f} s'}"
            f" | {'-' if per_pool is None else f'{per_pool:.1f} ms'}"
            f" | {f['memory']['operator_rss_mib_peak']:.0f} MiB |"
        )
    budget = _budget_lines(doc, markdown=True)
    if budget:
        lines += ["", *budget]
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
    lines += ["", "Goals, each judged at the size it names:", ""]
    for name, check in doc["goals"].items():
        verdict = {True: "met", False: "**missed**", None: "not measured"}[check.get("met")]
        lines.append(f"- {verdict}: {name} {_value(name, check)} ({check['goal']}){_where(check)}")
    return "\n".join(lines)


def _intervals(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} intervals"
