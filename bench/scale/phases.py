"""The measurements, each against a fresh Sandbox (emulator and operator as their own processes).

`fleet_run(size, profile)` measures, for one fleet size spread round-robin over `profile.accounts`
Batch accounts of the emulator's one subscription, in this order:
1. the provisioning floor: the same pool bodies PUT directly with the SDK, until all Steady;
2. cold start: the same pools as BatchPools, from nothing to all Ready (operator), with the
   operator's start-up (process start to first watch, from its `operator.ready` log line), its CPU
   from then until all Ready, and the emulator's per-subscription ARM throttle statistics;
3. steady drift-detection reads of the operator over `windows` resync intervals, per account;
4. the Crossplane-style baseline over as many intervals (operator stopped, same emulator);
5. restart: Azure writes, ARM reads and status writes when the operator restarts over the fleet;
6. drift: a pool scaled behind the operator's back, time until it writes it back;
7. reaction: spec change to the first Azure write, one pool at a time, the fleet managed;
8. the operator's RSS (sampled throughout; the peak is reported).

`health_run(nodes, profile)` measures, for one pool of `nodes` nodes: how long after every node is
up ExtensionsHealthy is decided (first coverage, in health intervals: the bounded burst), the
data-plane calls per extension-health observation in the steady state (bounded: the node list, the
shared node counts and the sample), and how long a failing extension on a new node takes to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azbatch_operator.sandbox import Sandbox, SandboxSettings, wait_until
from bench.scale import direct, fleet

PRODUCTION_INTERVAL = 60.0  # the operator's default resyncInterval and the baseline's poll period


@dataclass(frozen=True)
class Profile:
    """How hard to push; `quick()` is the CI smoke size."""

    time_scale: float = 60.0
    resync_interval: float = 10.0  # real seconds; stands for the production 60 s interval
    active_requeue: float = 0.5
    accounts: int = 10  # Batch accounts the fleet is spread over (one subscription)
    windows: int = 3  # resync intervals per read-counting window
    restart_max_intervals: int = 10  # the restart window: 2 intervals, longer while the operator is busy
    pool_nodes: int = 1
    reaction_samples: int = 50
    drift_samples: int = 3
    health_interval: float = 2.0
    health_time_scale: float = 120.0
    health_windows: int = 4
    timeout: float = 900.0  # seconds any one wait may take, plus `timeout_per_pool` for each pool
    timeout_per_pool: float = 0.15
    poll: float = 1.0  # seconds between RSS samples while waiting for the fleet
    workdir: Path | None = None

    def timeout_for(self, pools: int) -> float:
        return self.timeout + self.timeout_per_pool * pools

    @classmethod
    def quick(cls) -> Profile:
        return cls(
            resync_interval=2.0,
            active_requeue=0.3,
            accounts=2,
            windows=2,
            reaction_samples=5,
            drift_samples=1,
            health_interval=1.0,
            health_windows=2,
            timeout=120.0,
            poll=0.25,
        )


@contextlib.contextmanager
def _sandbox(profile: Profile, **overrides: Any) -> Iterator[Sandbox]:
    """A Sandbox in its own work dir. `EmulatorProcess` does not create a missing state dir, so the
    benchmark creates `<workdir>/azure` first (the Sandbox's emulator-as-subprocess path needs it)."""
    access = logging.getLogger("aiohttp.access")  # the stand-in's per-request log: quiet while here,
    level = access.level  # and as it was afterwards (the test run goes on with other tests)
    access.setLevel(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(prefix="azbatch-bench-", dir=profile.workdir) as workdir:
            (Path(workdir) / "azure").mkdir()
            with Sandbox(_settings(profile, workdir=Path(workdir), **overrides)) as sandbox:
                sandbox.kube.timeout = 120.0  # a thousand creates queue up in the stand-in
                yield sandbox
    finally:
        access.setLevel(level)


def _settings(profile: Profile, **overrides: Any) -> SandboxSettings:
    values: dict[str, Any] = {
        "time_scale": profile.time_scale,
        "resync_interval": profile.resync_interval,
        # Production observes health every other resync (healthInterval 120 s, resyncInterval 60 s).
        "health_interval": profile.resync_interval * 2,
        "active_requeue": profile.active_requeue,
        "operator_in_process": False,
        "emulator_in_process": False,
    }
    values.update(overrides)
    return SandboxSettings(**values)


def _stand_in_thread(sandbox: Sandbox) -> int | None:
    """The native id of the thread serving the Kubernetes stand-in (its CPU time is the harness's)."""
    for thread in threading.enumerate():
        if thread.name == "kube-stand-in":
            return thread.native_id
    return None


def _minus(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


def arm_reads(counters: Mapping[str, int]) -> int:
    """Calls that spend the ARM read budget: every GET on a management route (list pages included)."""
    return sum(n for key, n in counters.items() if key.startswith("GET mgmt."))


def data_plane_calls(counters: Mapping[str, int]) -> int:
    return sum(n for key, n in counters.items() if key.split(" ", 1)[-1].startswith("batch."))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[position]


class _Rss:
    def __init__(self) -> None:
        self.peak = 0.0
        self.last: float | None = None
        self.pid: int | None = None  # the operator process (set at each start)

    def sample(self) -> None:
        value = fleet.rss_mib(self.pid or fleet.operator_pid())
        if value is not None:
            self.last = value
            self.peak = max(self.peak, value)


def _operator_pid() -> int | None:
    """The operator process just started (its command line shows once it has exec'd)."""
    try:
        pid: int | None = wait_until(fleet.operator_pid, timeout=10, interval=0.01, what="the operator")
    except TimeoutError:
        return None
    return pid


def _start_operator(sandbox: Sandbox, rss: _Rss) -> tuple[float, int | None, fleet.ReadyProbe]:
    """Start the operator process and follow its log for readiness: (started, pid, probe)."""
    probe = fleet.ReadyProbe(sandbox.workdir / "operator.log")
    started = time.monotonic()
    sandbox.start_operator()
    rss.pid = _operator_pid()
    return started, rss.pid, probe.start(rss.pid, started=started)


def arm_throttle(admin: Any) -> dict[str, Any] | None:
    """The emulator's ARM throttle state and statistics (None from an emulator without one)."""
    if not hasattr(admin, "arm_throttle"):
        return None
    state: dict[str, Any] = admin.arm_throttle()
    return state


def ensure_throttle(admin: Any) -> bool | None:
    """The per-subscription ARM throttle on (the emulator's default); None: the emulator has none."""
    state = arm_throttle(admin)
    if state is None:
        return None
    if not state.get("enabled"):
        admin.set_arm_throttle(enabled=True)
        state = arm_throttle(admin) or {}
    return bool(state.get("enabled"))


def budget_summary(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Per subscription and kind (reads, writes, deletes): requests allowed and throttled (429) and
    the lowest bucket level seen, also as a fraction of the bucket."""
    if state is None:
        return None
    limits = state.get("limits") or {}
    subscriptions: dict[str, Any] = {}
    for subscription, kinds in (state.get("subscriptions") or {}).items():
        row: dict[str, Any] = {}
        for kind, stats in (kinds or {}).items():
            bucket = (limits.get(kind) or {}).get("bucket")
            low = stats.get("min_remaining")
            fraction = low / bucket if bucket and isinstance(low, int | float) else None
            row[kind] = {**stats, "min_fraction": fraction}
        subscriptions[subscription] = row
    return {"enabled": state.get("enabled"), "limits": dict(limits), "subscriptions": subscriptions}


def fleet_run(size: int, profile: Profile, log: Any = print) -> dict[str, Any]:
    count = max(1, min(profile.accounts, size))  # no account without a pool
    result: dict[str, Any] = {"pools": size, "accounts": count}
    timeout = profile.timeout_for(size)
    phase: dict[str, float] = {}
    rss = _Rss()
    with _sandbox(profile) as sandbox:
        info, admin, kube = sandbox.info, sandbox.admin, sandbox.kube
        accounts = fleet.create_accounts(admin, info, count)
        names = [fleet.pool_name(i) for i in range(size)]
        placed = [(fleet.account_of(i, accounts), n) for i, n in enumerate(names)]
        manifests = [fleet.manifest(n, info, nodes=profile.pool_nodes, account=a) for a, n in placed]
        throttled = ensure_throttle(admin)

        # 1. the floor: the same bodies, in the same accounts, straight to the emulator
        mark = time.monotonic()
        floor_bodies = {
            (a, f"floor-{i:04d}"): fleet.arm_body(manifests[i]) for i, (a, _) in enumerate(placed)
        }
        admin.reset_counters()
        floor_seconds, floor_curve = asyncio.run(
            direct.provision_floor(info, floor_bodies, give_up_after=timeout)
        )
        floor_budget = budget_summary(arm_throttle(admin))
        admin.reset()  # floor pools and extra accounts gone; clock, identities and the default account kept
        fleet.create_accounts(admin, info, count)
        ensure_throttle(admin)
        phase["floor"] = time.monotonic() - mark
        log(f"  floor: {size} pools in {count} accounts Steady in {floor_seconds:.1f} s (direct SDK client)")

        # 2. cold start: every BatchPool applied, then the operator started over them. Applying
        # them with the operator running would time the stand-in's admission too (it evaluates
        # the CRD's CEL rules in Python, about 50 creates a second), not the operator.
        sandbox.stop_operator()
        apply_started = time.monotonic()
        fleet.apply_all(kube, manifests)
        apply_seconds = phase["apply"] = time.monotonic() - apply_started
        log(f"  applied {size} BatchPools in {apply_seconds:.1f} s (operator stopped; not timed)")
        admin.reset_counters()
        stand_in = _stand_in_thread(sandbox)
        stand_in_cpu = fleet.cpu_seconds(os.getpid(), stand_in)
        started, operator, probe = _start_operator(sandbox, rss)
        try:
            cold_seconds, cold_curve = fleet.wait_all_ready(
                kube, size, started=started, timeout=timeout, poll=profile.poll, on_poll=rss.sample
            )
            operator_cpu = fleet.cpu_seconds(operator)
        finally:
            ready = probe.stop()
        phase["cold_start"] = time.monotonic() - started
        cpu = {
            "operator_cpu_seconds": operator_cpu,
            "api_stand_in_cpu_seconds": _minus(fleet.cpu_seconds(os.getpid(), stand_in), stand_in_cpu),
            "operator_cpu_at_ready_seconds": ready.cpu_seconds,
            "operator_cpu_after_ready_seconds": _minus(operator_cpu, ready.cpu_seconds),
        }
        after_ready = cpu["operator_cpu_after_ready_seconds"]
        cold_counters = admin.counters()
        budget = budget_summary(arm_throttle(admin))
        log(
            f"  cold start: {size} BatchPools Ready in {cold_seconds:.1f} s; start-up "
            f"{_shown(ready.startup_seconds, 's')}, operator CPU after ready "
            f"{_shown(None if after_ready is None else after_ready / size * 1000, 'ms')} a pool"
        )
        result["cold_start"] = {
            "floor_seconds": floor_seconds,
            "operator_seconds": cold_seconds,
            "ratio_to_floor": cold_seconds / floor_seconds,
            "simulated_provisioning_seconds": 60.0 + 0.6 * profile.pool_nodes,
            "floor_curve": floor_curve,
            "operator_curve": cold_curve,
            "apply_seconds": apply_seconds,
            "startup_seconds": ready.startup_seconds,
            "ready_seen_seconds": ready.seen_after_seconds,
            **cpu,
            "operator_cpu_ms_per_pool": None if after_ready is None else after_ready / size * 1000,
            "arm_reads": arm_reads(cold_counters),
            "arm_writes": admin.management_writes(),
            "arm_throttle_enabled": throttled,
            "arm_budget": budget,
            "floor_arm_budget": floor_budget,
        }

        # 3. the operator's steady reads
        mark = time.monotonic()
        time.sleep(profile.resync_interval * 1.5)  # let creation-time activity settle
        rss.sample()
        operator_reads = _count_window(sandbox, profile, rss)
        phase["steady"] = time.monotonic() - mark
        log(f"  operator: {operator_reads['arm_reads_per_interval']:.1f} ARM reads per interval")

        # 4. the baseline, the operator stopped
        mark = time.monotonic()
        sandbox.stop_operator()
        admin.reset_counters()
        poller = direct.CrossplanePoller(info, placed, interval=profile.resync_interval)
        asyncio.run(poller.run(profile.windows))
        baseline_counters = admin.counters()
        baseline_per_interval = arm_reads(baseline_counters) / profile.windows
        phase["baseline"] = time.monotonic() - mark
        log(
            f"  baseline: {baseline_per_interval:.1f} ARM reads per interval"
            f" ({poller.seconds:.0f} s for {profile.windows} intervals of {profile.resync_interval:g} s)"
        )
        result["reads"] = _reads_summary(
            size, accounts, operator_reads, baseline_per_interval, baseline_counters, poller, profile
        )

        # 5. restart over the unchanged fleet
        mark = time.monotonic()
        result["restart"] = _restart(sandbox, profile, rss, operator_reads["operator_cpu_per_second"])
        phase["restart"] = time.monotonic() - mark
        log(
            f"  restart: {result['restart']['azure_writes']} Azure writes, "
            f"{result['restart']['arm_reads']} ARM reads, {result['restart']['status_writes']} status writes"
            f" in {result['restart']['window_seconds']:.0f} s"
        )

        # 6. drift detection
        mark = time.monotonic()
        result["drift"] = _drift(sandbox, placed, profile, timeout)
        phase["drift"] = time.monotonic() - mark
        log(f"  drift: written back within {max(result['drift']['seconds']):.2f} s")

        # 7. reaction latency
        mark = time.monotonic()
        result["reaction"] = _reaction(sandbox, names, profile, rss)
        phase["reaction"] = time.monotonic() - mark
        log(
            f"  reaction: p50 {result['reaction']['p50_seconds'] * 1000:.0f} ms, "
            f"p99 {result['reaction']['p99_seconds'] * 1000:.0f} ms"
        )
        rss.sample()
        result["memory"] = {"operator_rss_mib_peak": rss.peak, "operator_rss_mib_end": rss.last}
        log(f"  memory: operator RSS peak {rss.peak:.0f} MiB")
    result["phase_seconds"] = phase
    log("  phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in phase.items()))
    return result


def _shown(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


def _restart(sandbox: Sandbox, profile: Profile, rss: _Rss, steady_cpu: float | None) -> dict[str, Any]:
    """Restart the operator over the unchanged fleet and count what it writes.

    The window is two resync intervals from the operator's first watch (from its start without the
    `operator.ready` line), and goes on, up to `restart_max_intervals`, while the operator still
    spends more CPU than it did steady (1.5x, + 5% of a core): a large fleet takes longer than two
    intervals to be walked through, and a window that ended first would miss writes still to come."""
    versions = fleet.resource_versions(sandbox.kube)
    sandbox.admin.reset_counters()
    interval = profile.resync_interval
    started, pid, probe = _start_operator(sandbox, rss)
    limit = 1.5 * (steady_cpu or 0.0) + 0.05
    samples: list[tuple[float, float]] = []
    busy: float | None = None
    try:
        while True:
            time.sleep(min(1.0, interval / 4))
            rss.sample()
            now, cpu = time.monotonic(), fleet.cpu_seconds(pid)
            if cpu is not None:
                samples.append((now, cpu))
            seen = probe.result.seen_after_seconds
            if now - started >= interval * profile.restart_max_intervals:
                break
            if now < started + (seen or 0.0) + interval * 2:
                continue
            earlier = [(t, c) for t, c in samples if t <= now - interval]
            if not earlier or cpu is None:
                break
            busy = (cpu - earlier[-1][1]) / (now - earlier[-1][0])
            if busy <= limit:
                break
    finally:
        ready = probe.stop()
    window = time.monotonic() - started
    counters = sandbox.admin.counters()
    after = fleet.resource_versions(sandbox.kube)
    return {
        "window_seconds": window,
        "startup_seconds": ready.startup_seconds,
        "operator_cpu_per_second_at_end": busy,
        "operator_cpu_per_second_steady": steady_cpu,
        "azure_writes": sandbox.admin.management_writes(),
        "arm_reads": arm_reads(counters),
        "status_writes": sum(1 for n, v in after.items() if versions.get(n) != v),
        "counters": counters,
    }


def _count_window(sandbox: Sandbox, profile: Profile, rss: _Rss) -> dict[str, Any]:
    access = fleet.ArmLog(sandbox.workdir / "azure" / "emulator.log")
    sandbox.admin.reset_counters()
    access.mark()
    started = time.monotonic()
    cpu_before = fleet.cpu_seconds(rss.pid)
    deadline = started + profile.resync_interval * profile.windows
    while time.monotonic() < deadline:
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        rss.sample()
    counters = sandbox.admin.counters()
    by_account = access.reads_by_account()
    cpu = _minus(fleet.cpu_seconds(rss.pid), cpu_before)
    return {
        "arm_reads_per_interval": arm_reads(counters) / profile.windows,
        "azure_writes": sandbox.admin.management_writes(),
        "counters": counters,
        "reads_by_account": by_account,
        "operator_cpu_per_second": None if cpu is None else cpu / (time.monotonic() - started),
    }


def _reads_summary(
    size: int,
    accounts: list[str],
    operator: Mapping[str, Any],
    baseline_per_interval: float,
    baseline_counters: Mapping[str, int],
    poller: direct.CrossplanePoller,
    profile: Profile,
) -> dict[str, Any]:
    per_hour = 3600.0 / PRODUCTION_INTERVAL
    operator_per_hour = operator["arm_reads_per_interval"] * per_hour
    baseline_per_hour = baseline_per_interval * per_hour
    # Reads per account: from the emulator's access log when it accounts for the reads the admin
    # API counted (a request in flight at either end of the window may be in one and not the
    # other), else the mean (the counters are per route, not per account).
    logged = operator.get("reads_by_account")
    total = operator["arm_reads_per_interval"] * profile.windows
    if logged is not None and abs(sum(logged.values()) - total) <= max(1.0, 0.02 * total):
        by_account = {a: logged.get(a.lower(), 0) / profile.windows * per_hour for a in accounts}
        unattributed = logged.get("", 0) / profile.windows * per_hour
        source = "emulator access log"
    else:
        by_account = {a: operator_per_hour / len(accounts) for a in accounts}
        unattributed = 0.0
        source = "mean (ARM reads / accounts)"
    return {
        "interval_stands_for_seconds": PRODUCTION_INTERVAL,
        "accounts": len(accounts),
        "operator_per_interval": operator["arm_reads_per_interval"],
        "baseline_per_interval": baseline_per_interval,
        "operator_per_hour": operator_per_hour,
        "baseline_per_hour": baseline_per_hour,
        "operator_per_hour_per_pool": operator_per_hour / size,
        "baseline_per_hour_per_pool": baseline_per_hour / size,
        "operator_per_hour_by_account": by_account,
        "operator_per_hour_per_account": max(by_account.values()),  # the busiest account
        "operator_per_hour_unattributed": unattributed,  # subscription-level reads (no account)
        "per_account_source": source,
        "logged_reads": None if logged is None else sum(logged.values()),
        "baseline_per_hour_per_account": baseline_per_hour / len(accounts),
        "baseline_over_operator": baseline_per_hour / operator_per_hour
        if operator_per_hour
        else float("inf"),
        "baseline_seconds": poller.seconds,
        "baseline_interval_seconds": profile.resync_interval,
        "operator_writes_while_steady": operator["azure_writes"],
        "operator_cpu_per_second_steady": operator["operator_cpu_per_second"],
        "operator_counters": operator["counters"],
        "baseline_counters": dict(baseline_counters),
    }


def _wait_writes(sandbox: Sandbox, before: int, *, started: float, timeout: float) -> float:
    """Seconds from `started` until the emulator has counted a management write beyond `before`."""
    wait_until(
        lambda: sandbox.admin.management_writes() > before,
        timeout=timeout,
        interval=0.005,
        what="the operator's first Azure write",
    )
    return time.monotonic() - started


def _wait_ready(sandbox: Sandbox, name: str, timeout: float) -> None:
    sandbox.kube.wait_for(
        fleet.ref(name), lambda obj: obj is not None and fleet.is_ready(obj), "Ready", timeout=timeout
    )


def _drift(
    sandbox: Sandbox, placed: list[tuple[str, str]], profile: Profile, timeout: float
) -> dict[str, Any]:
    """Scale a pool behind the operator's back; the time until it writes the spec back."""
    seconds = []
    for account, name in placed[-profile.drift_samples :]:
        _wait_ready(sandbox, name, timeout)
        before = sandbox.admin.management_writes()
        target = profile.pool_nodes + 2
        started = time.monotonic()
        sandbox.admin.drift_pool(
            f"{fleet.account_id(sandbox.info, account)}/pools/{name}",
            {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": target}}}},
        )
        seconds.append(
            _wait_writes(sandbox, before, started=started, timeout=profile.resync_interval * 3 + 10)
        )
        _wait_ready(sandbox, name, timeout)
    return {
        "seconds": seconds,
        "resync_interval": profile.resync_interval,
        "worst_over_interval": max(seconds) / profile.resync_interval,
    }


def _reaction(sandbox: Sandbox, names: list[str], profile: Profile, rss: _Rss) -> dict[str, Any]:
    """Spec change (kube write) to the operator's first Azure write, one pool at a time."""
    latencies = []
    for name in names[: profile.reaction_samples]:
        before = sandbox.admin.management_writes()
        target = profile.pool_nodes + 1
        started = time.monotonic()
        sandbox.kube.patch(
            fleet.ref(name), {"spec": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": target}}}}
        )
        latencies.append(_wait_writes(sandbox, before, started=started, timeout=30))
        rss.sample()
    return {
        "samples": len(latencies),
        "p50_seconds": statistics.median(latencies),
        "p99_seconds": percentile(latencies, 0.99),
        "max_seconds": max(latencies),
        "latencies": latencies,
    }


def health_run(nodes: int, profile: Profile, log: Any = print) -> dict[str, Any]:
    """Data-plane calls per extension-health observation of one pool, and failure detection."""
    with _sandbox(
        profile,
        time_scale=profile.health_time_scale,
        resync_interval=profile.health_interval,
        health_interval=profile.health_interval,
        operator_in_process=True,
    ) as sandbox:
        name = f"health-{nodes}"
        sandbox.admin.reset_counters()
        sandbox.kube.apply(fleet.manifest(name, sandbox.info, nodes=nodes, extension=True))
        sandbox.wait_for_condition(name, "Ready", timeout=profile.timeout)
        # First coverage: from the moment every node is up with its extension provisioned (idle)
        # until ExtensionsHealthy is decided for the whole pool, in health intervals.
        up_at = _all_nodes_idle(sandbox, name, nodes, timeout=profile.timeout)
        sandbox.wait_for_condition(name, "ExtensionsHealthy", "True", timeout=profile.timeout)
        coverage_seconds = max(time.monotonic() - up_at, 0.0)
        coverage_counters = sandbox.admin.counters()
        coverage_reads = coverage_counters.get("GET batch.nodeExtensions", 0)
        coverage_observations = max(1, coverage_counters.get("GET batch.nodes", 0))
        log(
            f"  health: first coverage of {nodes} nodes decided {coverage_seconds:.2f} s after all were up"
            f" ({coverage_seconds / profile.health_interval:.2f} intervals; {coverage_reads} extension reads)"
        )
        time.sleep(profile.health_interval * 2)
        sandbox.admin.reset_counters()
        time.sleep(profile.health_interval * profile.health_windows)
        counters = sandbox.admin.counters()
        observations = max(1, counters.get("GET batch.nodes", 0))
        calls = data_plane_calls(counters)
        per_observation = calls / observations
        log(f"  health: {nodes} nodes, {per_observation:.1f} data-plane calls per observation")

        # A failing extension on a new node of a settled pool is seen within one interval.
        sandbox.admin.script_extension(EXTENSION_NAME, pool=name, message="bench: scripted failure")
        sandbox.kube.patch(
            fleet.ref(name), {"spec": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": nodes + 1}}}}
        )
        seen = sandbox.wait_for_condition(
            name, "ExtensionsHealthy", "False", timeout=profile.timeout * profile.health_time_scale
        )
        # The failure's time is a wall-clock instant (the emulator's timestamps are, at any time
        # scale: docs/emulator.md, "Time"), so the delay is measured on the wall clock.
        now = time.time()
        failed_at = _first_failure_time(seen)
        detection = now - failed_at if failed_at is not None else None
        if detection is not None:
            log(f"  health: failing extension seen {detection:.2f} s after it failed")
    return {
        "nodes": nodes,
        "observations": observations,
        "data_plane_calls": calls,
        "calls_per_observation": per_observation,
        "naive_calls_per_observation": 1 + nodes,
        "node_budget": 10,
        "burst_budget": 500,
        "max_calls_per_observation": 2 + 10 + 500,  # node list, node counts, steady budget, burst
        "first_coverage_seconds": coverage_seconds,
        "first_coverage_intervals": coverage_seconds / profile.health_interval,
        "first_coverage_extension_reads": coverage_reads,
        "first_coverage_calls_per_observation": data_plane_calls(coverage_counters) / coverage_observations,
        "failure_detection_seconds": detection,
        "health_interval": profile.health_interval,
        "counters": counters,
    }


EXTENSION_NAME = fleet.EXTENSION["name"]


def _all_nodes_idle(sandbox: Sandbox, name: str, nodes: int, *, timeout: float) -> float:
    """The monotonic instant every node of the pool was first seen idle (polled)."""
    arm_id = f"{sandbox.info['account_id']}/pools/{name}"

    def idle() -> bool:
        found = sandbox.admin.pool_nodes(arm_id)
        return len(found) >= nodes and all(n["state"] == "idle" for n in found)

    wait_until(idle, timeout=timeout, interval=0.1, what=f"{nodes} nodes idle")
    return time.monotonic()


def _first_failure_time(obj: Mapping[str, Any] | None) -> float | None:
    from datetime import datetime  # noqa: PLC0415

    times = [
        failure.get("time")
        for extension in ((obj or {}).get("status") or {}).get("extensions") or ()
        for failure in extension.get("failures") or ()
        if failure.get("time")
    ]
    if not times:
        return None
    return min(datetime.fromisoformat(str(t).replace("Z", "+00:00")).timestamp() for t in times)
