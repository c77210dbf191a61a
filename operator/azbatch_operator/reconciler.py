"""One reconcile of one BatchPool: gather inputs, ask the pure core, carry out its one step.

The order is the safety argument:
1. validate the spec — an invalid spec stops here, before any Azure call;
2. check the namespace may use the account, read the Secrets, render the desired pool;
3. read the live pool (the account's shared list, or its own GET while work is under way);
4. refuse pools owned by someone else, adopt only when the policy says so;
5. plan, choose the next step; announce multi-step flows in `status.recreate` *before* acting;
6. make at most one Azure write, then report status, events and metrics.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from azbatch_operator import convergence, health, node_health, planning, rendering, tenancy, validation
from azbatch_operator.cloud.clients import AccountRef
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.cloud.nodes import NodeGateway
from azbatch_operator.cloud.observer import AccountObserver
from azbatch_operator.cloud.pools import PoolGateway
from azbatch_operator.conditions import ExtensionsVerdict, Phase, Progress
from azbatch_operator.config import OperatorConfig
from azbatch_operator.convergence import (
    APPROVE_ANNOTATION,
    Guards,
    NotConverging,
    RecreateState,
    ScaleDownState,
    Step,
    StepKind,
    Tunables,
    after_create,
    health_is_counts,
    next_step,
    remediation_blocked,
    settled_quietly,
    takes_nodes_away,
    unapplied,
    waiting_for_budget,
)
from azbatch_operator.disruption import BUDGET_REASON, DisruptionBudget
from azbatch_operator.draining import DrainRules
from azbatch_operator.error_policy import Disposition, classify, retry_delay
from azbatch_operator.kube.api import KubeGateway, SecretUnreadableError
from azbatch_operator.logs import get_logger, redact, remember_secret_values
from azbatch_operator.metrics import (
    DISRUPTION_WAITS,
    EXTENSION_NODES,
    NODE_REMOVALS,
    NODE_STATES,
    NOT_CONVERGING,
    POOL_NODES,
    POOLS,
    RECONCILE_SECONDS,
    RECONCILES,
    RECREATES,
    REMEDIATION_SHORT_CIRCUITS,
    TIME_TO_READY,
    forget_pool,
)
from azbatch_operator.models import BatchPool, parse_duration
from azbatch_operator.reporting import Report, build_status, phase_of, status_changed
from azbatch_operator.wakeup import Wakeup


class EventSink(Protocol):
    def __call__(self, type_: str, reason: str, message: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Quiet:
    """What a pass read that found a Ready pool with nothing to do, and when to look again."""

    identity: Identity
    account: AccountRef
    pool_name: str
    raw: Mapping[str, Any]
    requeue: float = 0.0
    # Node health is all counts (no extensions, no remediation, every node healthy): a health
    # observation that finds the account's shared counts for the pool unchanged has nothing to tell.
    counts_only: bool = False
    counts: Any = None


@dataclass(slots=True)  # one a pool: without slots its attribute dict alone is 1.4 KB
class PoolMemory:
    """What the operator remembers about one BatchPool between reconciles (in process only)."""

    wakeup: Wakeup = field(default_factory=Wakeup)
    status: dict[str, Any] | None = None  # what we last wrote: fresher than the watched body
    # Read the pool by its own GET next time. Not on the first pass: the account's shared list (at most
    # one resync old) serves it, so a restart over N pools costs one list, not a burst of N GETs.
    fresh: bool = False
    records: dict[str, health.NodeRecord] = field(default_factory=dict)
    health_due: float = 0.0
    health_nodes: int = 0  # the nodes Azure showed at the last health observation
    burst_window: tuple[float, int] = (0.0, 0)  # (start, first-coverage reads spent in this health interval)
    nodes_seen: dict[str, Any] | None = None  # status.nodes observed this pass (None: not observed)
    nodes_verdict: ExtensionsVerdict | None = None  # NodesHealthy
    removal_window: tuple[float, int] = (0.0, 0)  # (start, nodes removed in this health interval)
    removed: dict[str, float] = field(default_factory=dict)  # node id -> when remediation removed it
    remediation: dict[str, Any] | None = None  # status.nodes.remediation
    verdict: ExtensionsVerdict | None = None
    resize_attempts: int = 0  # resizes after allocation stopped short, for this generation
    last_resize_at: float | None = None
    resize_generation: int | None = None
    retries: int = 0
    first_seen: dict[int, float] = field(default_factory=dict)
    watching: tuple[AccountRef, str] | None = None  # the pool whose list changes wake this loop
    ready_generation: int | None = None
    warned_generation: int | None = None
    last_reason: str | None = None
    not_converging: NotConverging | None = None  # a patch of this generation that did not take
    deleting_since: datetime | None = None  # first seen Deleting (a delete we did not send)
    approval_seen: str | None = None  # the approve-disruption annotation last read or woken for
    generation_seen: int | None = None  # metadata.generation last read or woken for (None: not yet)
    node_gauges: dict[tuple[str, str], int] = field(default_factory=dict)  # what NODE_STATES shows
    quiet_read: Quiet | None = None  # this pass found nothing to do, having read this
    quiet: Quiet | None = None  # the last pass found nothing to do and wrote nothing
    validated: tuple[int | None, BatchPool | None, list[validation.Finding]] | None = None
    rendered: tuple[Any, rendering.DesiredPool] | None = None  # (generation, owner, key, secrets), desired


@dataclass
class Runtime:
    config: OperatorConfig
    pools: PoolGateway
    nodes: NodeGateway
    observer: AccountObserver
    kube: KubeGateway
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    monotonic: Callable[[], float] = time.monotonic
    phases: dict[str, str] = field(default_factory=dict)  # uid -> phase, for the azbatch_pools gauge
    phase_counts: dict[str, int] = field(default_factory=dict)  # phase -> pools in it
    credential_summary: str = ""  # which Azure credentials are tried, for authentication failures
    # Steady pools look again after 90-100% of the resync interval, at random: pools created
    # together would otherwise wake together every interval (a thousand reconciles at once).
    jitter: Callable[[], float] = lambda: random.uniform(0.9, 1.0)  # noqa: S311 - not for secrets
    budget: DisruptionBudget = field(default_factory=DisruptionBudget)
    deletion_shrinks: dict[str, datetime] = field(default_factory=dict)  # uid -> deadline the shrink covered
    last_told: dict[str, str] = field(default_factory=dict)  # uid -> the last Stalled reason a deletion told

    @property
    def tunables(self) -> Tunables:
        return Tunables(
            active_requeue=self.config.active_requeue,
            steady_requeue=self.config.resync_interval * self.jitter(),
            resize_backoff=self.config.resize_retry_backoff,
        )


@dataclass(frozen=True, slots=True)
class Identity:
    namespace: str
    name: str
    uid: str
    generation: int | None
    approved_generation: str | None = None  # the approve-disruption annotation, as written


def identity_of(body: Mapping[str, Any]) -> Identity:
    meta = body.get("metadata") or {}
    generation = meta.get("generation")
    approval = (meta.get("annotations") or {}).get(APPROVE_ANNOTATION)
    return Identity(
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
        str(meta.get("uid", "")),
        int(generation) if generation is not None else None,
        str(approval).strip() if approval is not None else None,
    )


# What a pass reads of a watched object's metadata (the rest is the API server's bookkeeping).
_PASS_METADATA = ("name", "namespace", "uid", "generation", "resourceVersion", "deletionTimestamp")


def what_a_pass_reads(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a watched BatchPool its passes read, kept between passes instead of the whole
    object: ten thousand are held at once. Left out are what a real API server adds to every
    object, `managedFields` (a nested mapping per field of spec and status, for each writer: often
    larger than the spec itself) and kubectl's `last-applied-configuration` (the manifest again,
    as a string), with every other annotation but approval. The spec and status are the watched
    object's own, not copies."""
    meta = body.get("metadata") or {}
    kept: dict[str, Any] = {key: meta[key] for key in _PASS_METADATA if key in meta}
    approval = (meta.get("annotations") or {}).get(APPROVE_ANNOTATION)
    if approval is not None:
        kept["annotations"] = {APPROVE_ANNOTATION: approval}
    view = {key: body[key] for key in ("apiVersion", "kind", "spec", "status") if key in body}
    view["metadata"] = kept
    return view


def resource_document(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of the watched object the models describe (server-managed metadata left out)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")},
        # Not a mapping: handed over as it is, so validation names it instead of this pass crashing.
        "spec": dict(spec) if isinstance(spec, Mapping) else spec,
    }


def account_of(resource: BatchPool) -> AccountRef:
    account = resource.spec.account
    return AccountRef(account.subscription_id, account.resource_group, account.account_name)


async def owner_id(runtime: Runtime, ident: Identity) -> str:
    return f"{await runtime.kube.cluster_id()}/{ident.namespace}/{ident.name}"


@dataclass
class _Outcome:
    report: Report
    requeue: float
    result: str  # metrics label: success, requeue, error, stalled


async def reconcile(
    runtime: Runtime, memory: PoolMemory, body: Mapping[str, Any], events: EventSink
) -> float:
    """One pass; returns the seconds until the next one (unless woken earlier by a change)."""
    ident = identity_of(body)
    started = runtime.monotonic()
    _drop_caught_up_status(memory, body)
    if ident.generation is not None:
        memory.first_seen.setdefault(ident.generation, started)
    quiet = await _still_quiet(runtime, memory, ident)
    if quiet is not None:
        RECONCILES.labels("success").inc()
        return quiet.requeue
    memory.quiet = memory.quiet_read = None
    log = get_logger(namespace=ident.namespace, name=ident.name, generation=ident.generation)
    previous = memory.status if memory.status is not None else dict(body.get("status") or {})
    try:
        outcome = await _reconcile(runtime, memory, body, ident, previous, events, log)
    except AzureCallError as error:
        outcome = _azure_failure(
            memory, error, previous, runtime.credential_summary, resync=runtime.config.resync_interval
        )
    if outcome.report.progress.reason != BUDGET_REASON:
        runtime.budget.withdraw(ident.uid)
    new_status = build_status(previous, outcome.report, generation=ident.generation, now=_iso(runtime.now()))
    wrote = status_changed(previous, new_status)
    if wrote:
        await runtime.kube.patch_status(ident.namespace, ident.name, new_status)
        memory.status = new_status
    if not outcome.report.in_flow:
        runtime.budget.ended(ident.uid)  # only now that the status says so
    if memory.quiet_read is not None:
        _settle(memory, None if wrote else replace(memory.quiet_read, requeue=outcome.requeue))
    _tell_transitions(memory, outcome.report.progress, events, log)
    _record_metrics(runtime, memory, ident, outcome, new_status, started)
    return outcome.requeue


def _drop_caught_up_status(memory: PoolMemory, body: Mapping[str, Any]) -> None:
    """Forget the status we last wrote once the watched object shows it (as the API server stores a
    merge patch: without its nulls): one copy a pool, not two, at about 4 KB each. Until then ours
    is the fresher one, and it is kept."""
    if memory.status is not None and not status_changed(body.get("status"), memory.status):
        memory.status = None


def _settle(memory: PoolMemory, quiet: Quiet | None) -> None:
    """A pass that found nothing to do: the next ones compare their reads to it (`quiet`; None
    after a pass that wrote, which is never quiet: the next pass plans once more). Neither needs
    the spec, so the validated model and the rendered pool are let go (the bulk of a pool's memory
    of its own, and a cold start ends with every pool in this state at once; validating and
    rendering again, when a pass must plan, costs a fraction of a ms)."""
    memory.quiet = quiet
    memory.validated = memory.rendered = None


async def _quiet_read(
    runtime: Runtime,
    memory: PoolMemory,
    ident: Identity,
    account: AccountRef,
    pool_name: str,
    spec: Any,
    raw: Mapping[str, Any],
) -> Quiet:
    """What a pass that settled quietly read (`_still_quiet` compares the next pass's reads to it)."""
    verdict = memory.nodes_verdict
    counts_only = health_is_counts(
        extensions=bool(_expected_extensions(spec)),
        remediation=spec.policy.remediation.enabled,
        nodes_healthy=None if verdict is None else verdict.status == "True",
    )
    counts = None
    if counts_only:
        try:
            counts = await runtime.observer.node_counts(account, pool_name)
        except AzureCallError:
            counts_only = False
    return Quiet(ident, account, pool_name, raw, counts_only=counts_only, counts=counts)


async def _still_quiet(runtime: Runtime, memory: PoolMemory, ident: Identity) -> Quiet | None:
    """The last pass's outcome when nothing it read can have changed: the same generation and
    approval, the same pool in the account's shared list, and no health observation due. A
    steady pool's resync then costs a dict lookup and a comparison, not a plan: ten thousand
    steady pools are ten thousand such passes an interval. Pools with Secrets always run the
    whole pass (a rotated value is only seen by reading it), and so does any pass that wrote."""
    quiet = memory.quiet
    if quiet is None or quiet.identity != ident:
        return None
    health_due = runtime.monotonic() >= memory.health_due
    if health_due and not quiet.counts_only:
        return None
    try:
        # The shared lists keep an unchanged item's object from list to list: `is` is the usual answer.
        listed = await runtime.observer.pool(quiet.account, quiet.pool_name, fresh=False)
        if listed is not quiet.raw and listed != quiet.raw:
            return None
        if health_due:
            counts = await runtime.observer.node_counts(quiet.account, quiet.pool_name)
            if counts is not quiet.counts and counts != quiet.counts:
                return None
    except AzureCallError:  # the whole pass reports it
        return None
    if health_due:
        memory.health_due = runtime.monotonic() + runtime.config.health_interval
    return quiet


def _validated(
    memory: PoolMemory, ident: Identity, body: Mapping[str, Any]
) -> tuple[BatchPool | None, list[validation.Finding]]:
    """The spec validated once per generation: the API server bumps the generation at every spec
    change, so passes of one generation (status writes, resyncs) validate the same spec again."""
    cached = memory.validated
    if cached is not None and ident.generation is not None and cached[0] == ident.generation:
        return cached[1], cached[2]
    resource, findings = validation.validate_manifest(resource_document(body))
    memory.validated = (ident.generation, resource, list(findings))
    return resource, list(findings)


def _rendered(
    memory: PoolMemory,
    ident: Identity,
    spec: Any,
    secrets: Mapping[tuple[str, str], str],
    owner: str,
    digest_key: bytes,
) -> rendering.DesiredPool:
    """The desired pool, rendered again only when the generation or a Secret value changed."""
    key = (ident.generation, owner, digest_key, tuple(sorted(secrets.items())))
    cached = memory.rendered
    if cached is not None and ident.generation is not None and cached[0] == key:
        return cached[1]
    desired = rendering.render_pool(spec, secrets=secrets, owner=owner, digest_key=digest_key)
    memory.rendered = (key, desired)
    return desired


async def _reconcile(
    runtime: Runtime,
    memory: PoolMemory,
    body: Mapping[str, Any],
    ident: Identity,
    previous: Mapping[str, Any],
    events: EventSink,
    log: Any,
) -> _Outcome:
    resource, findings = _validated(memory, ident, body)
    errors = [f for f in findings if f.severity == "error"]
    if resource is None or errors:
        message = "Invalid spec (no Azure call made): " + "; ".join(f"{f.path}: {f.message}" for f in errors)
        return _stalled("InvalidSpec", message, previous, requeue=runtime.config.resync_interval)
    warnings = [f for f in findings if f.severity == "warning"]
    if warnings and memory.warned_generation != ident.generation:
        memory.warned_generation = ident.generation
        for finding in warnings:
            events("Warning", "SpecWarning", f"{finding.path}: {finding.message}")

    account = account_of(resource)
    if not tenancy.account_allowed(ident.namespace, account.arm_id, runtime.config.account_allowlist):
        return _stalled(
            "AccountNotAllowed",
            tenancy.not_allowed_message(ident.namespace, account.arm_id),
            previous,
            requeue=runtime.config.resync_interval,
        )
    spec = resource.spec
    refs = rendering.secret_refs(spec)
    try:
        secrets = await runtime.kube.read_secret_values(ident.namespace, [(r.name, r.key) for r in refs])
    except SecretUnreadableError as problem:
        return _stalled("SecretNotReadable", str(problem), previous, requeue=30.0)
    remember_secret_values(secrets.values())
    owner = await owner_id(runtime, ident)
    try:
        desired = _rendered(memory, ident, spec, secrets, owner, runtime.config.digest_key)
    except rendering.SecretValueError as error:
        return _stalled("InvalidSecret", redact(str(error)), previous, requeue=30.0)

    pool_name = resource.pool_name
    _watch(runtime, memory, account, pool_name)
    recreate = RecreateState.from_dict(previous.get("recreate"))
    raw = await runtime.observer.pool(account, pool_name, fresh=memory.fresh)
    decided = _decide(runtime, memory, ident, previous, spec, desired, owner, raw, recreate)
    if isinstance(decided, _Decided) and not memory.fresh and takes_nodes_away(decided.step):
        # Decided on the account's list, which may be a resync old: nodes that came since would go
        # with their tasks. Decide again on the pool as Azure has it now (its own GET).
        memory.fresh = True
        raw = await runtime.observer.read_now(account, pool_name)
        decided = _decide(runtime, memory, ident, previous, spec, desired, owner, raw, recreate)
    if isinstance(decided, _Outcome):
        return decided
    observed, step = decided.observed, _within_budget(runtime, account, ident, decided.step)
    observed, stuck = await _carry_out(
        runtime,
        memory,
        account,
        pool_name,
        step,
        observed,
        previous,
        ident,
        events,
        log,
        replan=lambda pool: planning.plan(desired, pool, spec.policy),
    )
    if stuck is not None:
        step = _not_converging(memory, stuck, step, events, log)
    step = after_create(step, observed, runtime.tunables)
    if raw is not None and settled_quietly(step, fresh=memory.fresh, secrets=bool(refs), recreate=recreate):
        memory.quiet_read = await _quiet_read(runtime, memory, ident, account, pool_name, spec, raw)
    memory.retries = 0
    if step.progress.phase is Phase.READY:
        memory.resize_attempts, memory.last_resize_at = 0, None
    extensions, verdict = await _observe_health(
        runtime,
        memory,
        account,
        pool_name,
        spec,
        observed,
        events,
        labels=(ident.namespace, ident.name),
        busy=remediation_blocked(step, observed),
    )
    last_recreate = (
        {"generation": ident.generation, "finished": _iso(runtime.now())} if step.finished_recreate else None
    )
    report = Report(
        step.progress,
        observed,
        step.recreate,
        extensions,
        verdict,
        step.scale_down,
        last_recreate,
        nodes=memory.nodes_seen,
        nodes_verdict=memory.nodes_verdict,
    )
    result = "stalled" if step.progress.phase is Phase.STALLED else "success"
    return _Outcome(report, step.requeue_after, result)


@dataclass(frozen=True)
class _Decided:
    observed: rendering.ObservedPool | None
    step: Step


def _decide(
    runtime: Runtime,
    memory: PoolMemory,
    ident: Identity,
    previous: Mapping[str, Any],
    spec: Any,
    desired: rendering.DesiredPool,
    owner: str,
    raw: Mapping[str, Any] | None,
    recreate: RecreateState | None,
) -> _Decided | _Outcome:
    """The pass's next step from what it read (or the outcome that ends the pass before one)."""
    observed = rendering.observe_pool(raw) if raw is not None else None
    scale_down = ScaleDownState.from_dict(previous.get("scaleToZero"))
    decision = None
    if observed is not None and recreate is None:
        decision = planning.decide_ownership(observed.owner, owner, adopt=spec.policy.adopt)
        if not decision.allowed:
            return _stalled(
                decision.reason,
                decision.message,
                previous,
                observed=observed,
                requeue=runtime.config.resync_interval,
            )
    plan = _plan(
        desired, observed, spec.policy, adopting=decision is not None and decision.reason == "Adopting"
    )
    if spec.policy.reconcile == "Observe":
        return _observe_only(plan, observed, previous, runtime)

    if memory.resize_generation != ident.generation:  # a new spec is a new chance to allocate
        memory.resize_generation, memory.resize_attempts, memory.last_resize_at = ident.generation, 0, None
    memory.deleting_since = _deleting_since(memory, observed, runtime.now())
    step = next_step(
        plan,
        desired,
        observed,
        recreate,
        drain=_drain_rules(spec),
        resize_attempts=memory.resize_attempts,
        since_last_resize=(
            runtime.monotonic() - memory.last_resize_at if memory.last_resize_at is not None else None
        ),
        now=runtime.now(),
        guards=_guards(runtime, memory, ident, observed, previous),
        scale_down=scale_down,
        tunables=runtime.tunables,
    )
    return _Decided(observed, step)


def _plan(
    desired: rendering.DesiredPool, observed: rendering.ObservedPool | None, policy: Any, *, adopting: bool
) -> planning.Plan:
    if adopting and observed is not None:
        return planning.adopt(desired, observed, policy)  # ownership, and nothing else
    return planning.plan(desired, observed, policy)


def _drain_rules(spec: Any) -> DrainRules:
    drain = spec.policy.drain
    return DrainRules(
        enabled=drain.enabled, timeout=parse_duration(drain.timeout), on_timeout=drain.on_timeout
    )


def _guards(
    runtime: Runtime,
    memory: PoolMemory,
    ident: Identity,
    observed: rendering.ObservedPool | None,
    previous: Mapping[str, Any],
) -> Guards:
    last = previous.get("lastRecreate") or {}
    generation = last.get("generation") if isinstance(last, Mapping) else None
    return Guards(
        generation=ident.generation,
        resource=f"{ident.name} -n {ident.namespace}",
        adopted=observed is not None and observed.adopted,
        approved=ident.generation is not None and ident.approved_generation == str(ident.generation),
        last_recreate_generation=int(generation) if isinstance(generation, int) else None,
        not_converging=memory.not_converging,
        stuck_delete_after=timedelta(seconds=runtime.config.stuck_delete_timeout),
        deleting_since=memory.deleting_since,
    )


def _deleting_since(
    memory: PoolMemory, observed: rendering.ObservedPool | None, now: datetime
) -> datetime | None:
    if observed is None or not observed.is_deleting:
        return None
    return memory.deleting_since or now


def _within_budget(runtime: Runtime, account: AccountRef, ident: Identity, step: Step) -> Step:
    """Destructive flows start only within the account's disruption budget; flows under way keep it."""
    budget = runtime.budget
    if step.starts_disruption:
        admission = budget.request(account.arm_id, ident.uid, f"{ident.namespace}/{ident.name}")
        if not admission.admitted:
            DISRUPTION_WAITS.inc()
            return waiting_for_budget(admission.message(account.account_name), runtime.tunables)
    elif step.disruptive:
        budget.hold(account.arm_id, ident.uid, f"{ident.namespace}/{ident.name}")
    return step  # a flow that ends keeps its place until its status is written (`reconcile`)


def _not_converging(
    memory: PoolMemory, stuck: NotConverging, step: Step, events: EventSink, log: Any
) -> Step:
    """A PATCH Azure took but did not apply: stop writing it (next pass stalls through the guards)."""
    memory.not_converging = stuck
    text = stuck.message("after it was patched")
    events("Warning", "NotConverging", text)
    NOT_CONVERGING.labels("patch").inc()
    log.warning("patch did not take", fields=list(stuck.fields))
    return replace(step, progress=Progress(Phase.STALLED, "NotConverging", text), requeue_after=600.0)


def _watch(runtime: Runtime, memory: PoolMemory, account: AccountRef, pool_name: str) -> None:
    """Be woken when the account's next list shows this pool changed (the account can be edited)."""
    if memory.watching != (account, pool_name):
        stop_watching(runtime, memory)
        runtime.observer.watch(account, pool_name, memory.wakeup)
        memory.watching = (account, pool_name)


def stop_watching(runtime: Runtime, memory: PoolMemory) -> None:
    """Stop waking this BatchPool's loop on list changes (its loop is ending)."""
    if memory.watching is not None:
        runtime.observer.unwatch(*memory.watching, memory.wakeup)
        memory.watching = None


async def _carry_out(
    runtime: Runtime,
    memory: PoolMemory,
    account: AccountRef,
    pool_name: str,
    step: Step,
    observed: rendering.ObservedPool | None,
    previous: Mapping[str, Any],
    ident: Identity,
    events: EventSink,
    log: Any,
    replan: Callable[[rendering.ObservedPool], planning.Plan],
) -> tuple[rendering.ObservedPool | None, NotConverging | None]:
    """The one Azure write the step asks for (status first when it announces a flow's step).

    Returns the pool as the write left it and, after a PATCH, the fields Azure's answer still
    shows different (a patch that did not take)."""
    for notice in step.notices:
        events(notice.type, notice.reason, notice.message)
        if notice.reason == "NotConverging":
            NOT_CONVERGING.labels("recreate").inc()
    if step.kind is StepKind.WAIT:
        memory.fresh = step.progress.phase is Phase.RECONCILING
        return observed, None
    memory.fresh = True
    if step.kind is StepKind.RECORD:
        await _record(runtime, memory, step, observed, previous, ident)
        if step.counts_as_recreate and step.recreate is not None:
            RECREATES.labels(_reason_label(step.recreate.fields)).inc()
            events("Normal", "RecreateStarted", f"Recreating pool {pool_name}: {step.recreate.reason}")
        if step.starts_disruption and step.scale_down is not None:
            events("Normal", "ScalingToZero", step.progress.message)
        log.info("flow step recorded", phase=step.recreate.phase if step.recreate else None)
        return observed, None
    pools = runtime.pools
    if step.kind is StepKind.CREATE:
        result, made = await _create(runtime, account, pool_name, step, log)
        if made:
            events("Normal", "Created", f"Created pool {pool_name} in {account.account_name}.")
        else:
            events(
                "Normal",
                "PoolFound",
                f"Pool {pool_name} already exists in {account.account_name} (made meanwhile, not created by "
                "this resource): nothing was written; the next pass decides whether it may be managed.",
            )
    elif step.kind is StepKind.PATCH:
        result = await pools.update(
            account, pool_name, step.body or {}, etag=observed.etag if observed else None
        )
        fields = ", ".join(step.action.fields) if step.action else "properties"
        events("Normal", "Patched", f"Updated {fields} in place (no recreate).")
    elif step.kind in (StepKind.RESIZE, StepKind.DRAIN):
        result = await pools.update(account, pool_name, step.body or {})
        if step.kind is StepKind.RESIZE and step.action is not None:
            memory.resize_attempts += 1
            memory.last_resize_at = runtime.monotonic()
        events("Normal", "Resizing", step.progress.message)
    elif step.kind is StepKind.STOP_RESIZE:
        result = await pools.stop_resize(account, pool_name)
        events("Normal", "StoppingResize", step.progress.message)
    else:  # DELETE
        await pools.begin_delete(account, pool_name)
        runtime.observer.wrote(account, pool_name)
        events("Normal", "Deleting", f"Deleting pool {pool_name} to recreate it.")
        log.info("pool delete started", pool=pool_name)
        return observed, None
    runtime.observer.remember(account, pool_name, result)
    log.info("azure write", step=step.kind.value, pool=pool_name)
    after = rendering.observe_pool(result)
    stuck = None
    if step.kind is StepKind.PATCH and step.action is not None:
        stuck = unapplied(step.action, replan(after), ident.generation)
    return after, stuck


async def _record(
    runtime: Runtime,
    memory: PoolMemory,
    step: Step,
    observed: rendering.ObservedPool | None,
    previous: Mapping[str, Any],
    ident: Identity,
) -> None:
    """Write the new step before doing it: a crash now resumes at this step."""
    report = Report(step.progress, observed, step.recreate, None, memory.verdict, step.scale_down)
    status = build_status(previous, report, generation=ident.generation, now=_iso(runtime.now()))
    await runtime.kube.patch_status(ident.namespace, ident.name, status)
    memory.status = status


async def _create(
    runtime: Runtime, account: AccountRef, pool_name: str, step: Step, log: Any
) -> tuple[dict[str, Any], bool]:
    """The pool as the PUT left it, and whether this PUT made it."""
    try:
        return await runtime.pools.create(account, pool_name, step.body or {}), True
    except AzureCallError as error:
        if error.status in (409, 412):
            # It exists after all (our own earlier PUT, or someone else's): look again, act next pass.
            existing = await runtime.pools.get(account, pool_name)
            if existing is not None:
                log.info("pool already exists; re-reading it", pool=pool_name)
                return existing, False
        raise


def _observe_only(
    plan: planning.Plan,
    observed: rendering.ObservedPool | None,
    previous: Mapping[str, Any],
    runtime: Runtime,
) -> _Outcome:
    """Write nothing to Azure; a flow under way is paused, not ended (as in any pass that does not
    reach the core): its status stays, and with it its budget place (Azure may still be draining)."""
    if plan.is_noop:
        progress = Progress(Phase.OBSERVING, "InSync", "Observe only: the pool matches the spec.")
    else:
        summary = "; ".join(f"{a.type}: {', '.join(a.fields) or '-'}" for a in plan.actions)
        progress = Progress(
            Phase.OBSERVING, "Drifted", f"Observe only (policy.reconcile=Observe); would do: {summary}"
        )
    report = _keeping_flows(progress, observed, previous, unread=False)
    return _Outcome(report, runtime.config.resync_interval, "success")


async def _observe_health(
    runtime: Runtime,
    memory: PoolMemory,
    account: AccountRef,
    pool_name: str,
    spec: Any,
    observed: rendering.ObservedPool | None,
    events: EventSink,
    *,
    labels: tuple[str, str] = ("", ""),  # namespace and name, for metrics
    busy: str | None = None,  # why no node may be removed now (remediation)
) -> tuple[tuple[dict[str, Any], ...] | None, ExtensionsVerdict | None]:
    """Bounded: the account's shared node counts, one node list when nodes fail or extensions are
    expected, and at most `healthNodeBudget` (+ the first-coverage burst) extension reads per interval.

    Extension health is returned; node health is left in `memory.nodes_seen` / `nodes_verdict`."""
    memory.nodes_seen = None
    expected = _expected_extensions(spec)
    if observed is None or observed.is_deleting:
        return None, memory.verdict
    due = _health_due(runtime, memory, observed)
    if due is None:
        return None, memory.verdict
    log = get_logger(pool=pool_name)
    counts = await _shared_node_counts(runtime, account, pool_name, observed, between_intervals=not due)
    failing_counted = counts is None or any(
        counts[kind][state] for kind in counts for state in node_health.FAILING
    )
    remediation = spec.policy.remediation
    nodes: list[health.NodeSummary] | None = None
    if observed.current_nodes > 0 and (expected or failing_counted or remediation.enabled):
        try:
            nodes = await runtime.nodes.list_nodes(account, pool_name)
        except AzureCallError as error:
            log.warning("node list not read", error=str(error))
            return None, memory.verdict
    elif observed.current_nodes == 0:
        nodes = []
    if expected and nodes:
        try:
            burst = _burst_allowance(runtime, memory)
            candidates = set(health.burst_candidates(nodes, memory.records)[:burst])
            chosen = health.choose_nodes(
                nodes, memory.records, runtime.config.health_node_budget, burst=burst
            )
            views, failed_reads = await runtime.nodes.extensions(account, pool_name, chosen)
        except AzureCallError as error:
            log.warning("extension health not read", error=str(error))
            return None, memory.verdict
        start, spent = memory.burst_window
        memory.burst_window = (start, spent + len(candidates))
        unreadable = {node_id: redact(error) for node_id, error in failed_reads.items()}
        if unreadable:
            log.warning(
                "extension views not read", nodes=len(unreadable), first=next(iter(unreadable.values()))
            )
        inspected = {node_id: health.parse_node_extensions(raw) for node_id, raw in views.items()}
        memory.records = health.remember(
            memory.records, nodes, inspected, now=_iso(runtime.now()), unreadable=unreadable
        )
    else:
        memory.records = {}
    report = health.summarize(expected, memory.records, len(nodes or ()))
    _observe_nodes(memory, labels, pool_name, observed.current_nodes, counts, nodes, events)
    if not remediation.enabled:
        memory.remediation = None
    elif nodes is not None:
        await _remediate(runtime, memory, account, pool_name, spec, nodes, events, labels, busy)
    if memory.nodes_seen is not None:
        memory.nodes_seen["remediation"] = memory.remediation
    unsettled = (
        report.verdict.status != "True"
        or any(r.unsettled for r in memory.records.values())
        or (memory.nodes_verdict is not None and memory.nodes_verdict.status != "True")
    )
    interval = runtime.config.active_requeue * 2 if unsettled else runtime.config.health_interval
    memory.health_due = runtime.monotonic() + interval
    if report.verdict.status == "False" and (memory.verdict is None or memory.verdict.status != "False"):
        events("Warning", "ExtensionFailed", report.verdict.message)
    memory.verdict = report.verdict
    return report.extensions, report.verdict


def _health_due(runtime: Runtime, memory: PoolMemory, observed: rendering.ObservedPool) -> bool | None:
    """`node_health.observation_due` for this pass; an observation due records the nodes it saw."""
    due = node_health.observation_due(
        now=runtime.monotonic(),
        due_at=memory.health_due,
        nodes=observed.current_nodes,
        nodes_last=memory.health_nodes,
    )
    if due is not None:
        memory.health_nodes = observed.current_nodes
    return due


async def _shared_node_counts(
    runtime: Runtime,
    account: AccountRef,
    pool_name: str,
    observed: rendering.ObservedPool,
    *,
    between_intervals: bool = False,
) -> dict[str, dict[str, int]] | None:
    """The pool's node counts from the account's shared node-counts call (None: not at hand).

    Between intervals (the pool's first nodes) a pool not in the counts yet is counted as none,
    which NodesHealthy tells as not counted yet: not looked for by a node list per pool, which a
    cold start of thousands would send at once."""
    if observed.current_nodes == 0:
        return node_health.counts_from_nodes(())
    try:
        raw = await runtime.observer.node_counts(account, pool_name, nodes=observed.current_nodes)
    except AzureCallError as error:
        get_logger(pool=pool_name).warning("node counts not read", error=str(error))
        return None
    if raw is None and between_intervals:
        return node_health.counts_from_nodes(())
    return node_health.counts_from_service(raw)


def _observe_nodes(
    memory: PoolMemory,
    labels: tuple[str, str],
    pool_name: str,
    pool_nodes: int,
    counts: dict[str, dict[str, int]] | None,
    nodes: list[health.NodeSummary] | None,
    events: EventSink,
) -> None:
    """status.nodes and NodesHealthy: from the node list when it was read (fresh), else the counts."""
    if nodes is not None:
        counts = node_health.counts_from_nodes(nodes)
    if counts is None:
        return
    # A node list is the pool as it is now; only the shared counts can lag behind Azure's pool.
    report = node_health.assess(
        counts, nodes, pool_name=pool_name, pool_nodes=0 if nodes is not None else pool_nodes
    )
    previous = memory.nodes_verdict
    if report.verdict.status == "False" and (previous is None or previous.status != "False"):
        events("Warning", report.verdict.reason, report.verdict.message)
    memory.nodes_verdict = report.verdict
    memory.nodes_seen = report.status
    for kind, states in report.counts.items():
        for state, count in states.items():
            # A series per pool, kind and state exists once that state has had nodes: ten thousand
            # pools times twenty states of zeros would be most of the operator's memory.
            if memory.node_gauges.get((kind, state), 0) != count:
                NODE_STATES.set(*labels, kind, state, count)
                memory.node_gauges[(kind, state)] = count


async def _remediate(
    runtime: Runtime,
    memory: PoolMemory,
    account: AccountRef,
    pool_name: str,
    spec: Any,
    nodes: list[health.NodeSummary],
    events: EventSink,
    labels: tuple[str, str],
    busy: str | None,
) -> None:
    """spec.policy.remediation: remove failing nodes (a bounded number per interval) so Batch
    replaces them, or say why none (short-circuited above maxUnhealthyPercent, or waiting)."""
    policy = spec.policy.remediation
    present = {n.node_id for n in nodes}
    memory.removed = {node_id: at for node_id, at in memory.removed.items() if node_id in present}
    start, spent = memory.removal_window
    now = runtime.monotonic()
    if now - start >= runtime.config.health_interval:
        start, spent = now, 0
    members = [n for n in nodes if n.state.lower() != "leavingpool"]
    expected = bool(_expected_extensions(spec))
    waiting_states = health.NOT_UP_NODE_STATES | {"waitingforstarttask"}

    def undecided(node: health.NodeSummary) -> bool:
        state = node.state.lower()
        if state in ("starttaskfailed", "unusable"):
            return False
        record = memory.records.get(node.node_id)
        return state in waiting_states or (expected and (record is None or not record.final))

    decision = node_health.plan_remediation(
        node_health.remediation_candidates(members, memory.records, memory.removed),
        len(members),
        max_unhealthy_percent=policy.max_unhealthy_percent,
        max_removals=policy.max_removals_per_interval - spent,
        blocked=busy,
        undecided=sum(1 for n in members if undecided(n)),
    )
    previous = memory.remediation or {}
    state: dict[str, Any] = {
        "reason": decision.reason,
        "message": decision.message,
        "removedNodes": previous.get("removedNodes"),
        "lastRemovalTime": previous.get("lastRemovalTime"),
        "removedTotal": previous.get("removedTotal"),
    }
    if decision.reason == "ShortCircuited" and previous.get("reason") != "ShortCircuited":
        events("Warning", "RemediationShortCircuited", decision.message)
        REMEDIATION_SHORT_CIRCUITS.labels(*labels).inc()
    if decision.remove:
        drain = _drain_rules(spec)
        option = "TaskCompletion" if drain.enabled else "Requeue"
        ids = [c.node_id for c in decision.remove]
        for candidate in decision.remove:  # told before the nodes go, as every destructive step is
            events(
                "Normal",
                "RemovingNode",
                f"Removing node {candidate.node_id} ({candidate.cause}) so Batch replaces it"
                f" (nodeDeallocationOption {option}).",
            )
        try:
            await runtime.nodes.remove_nodes(
                account,
                pool_name,
                ids,
                deallocation=option,
                resize_timeout=max(drain.timeout, timedelta(minutes=5)),
            )
        except AzureCallError as error:
            state["reason"], state["message"] = (
                "Waiting",
                redact(f"Removing {', '.join(ids)} failed: {error}"),
            )
            events("Warning", "NodeRemovalFailed", f"{state['message']} Asked again next health interval.")
            get_logger(pool=pool_name).warning("node removal failed", error=str(error))
        else:
            memory.fresh = True  # the removal is a resize: read the pool itself next pass
            runtime.observer.wrote(account, pool_name)
            memory.removal_window = (start, spent + len(ids))
            for candidate in decision.remove:
                memory.removed[candidate.node_id] = now
                NODE_REMOVALS.labels(*labels, candidate.kind).inc()
            state["removedNodes"] = ids
            state["lastRemovalTime"] = _iso(runtime.now())
            state["removedTotal"] = int(previous.get("removedTotal") or 0) + len(ids)
            get_logger(pool=pool_name).info("nodes removed", nodes=ids, option=option)
    else:
        memory.removal_window = (start, spent)
    memory.remediation = state


def _burst_allowance(runtime: Runtime, memory: PoolMemory) -> int:
    """First-coverage reads left in this health interval (`healthBurstBudget` per interval)."""
    start, spent = memory.burst_window
    now = runtime.monotonic()
    if now - start >= runtime.config.health_interval:
        memory.burst_window = start, spent = (now, 0)
    return max(runtime.config.health_burst_budget - spent, 0)


def _expected_extensions(spec: Any) -> list[health.ExpectedExtension]:
    deployment = spec.deployment_configuration
    vm = deployment.virtual_machine_configuration if deployment is not None else None
    extensions = (vm.extensions or []) if vm is not None else []
    return [health.ExpectedExtension(e.name, e.type, e.type_handler_version) for e in extensions]


def _stalled(
    reason: str,
    message: str,
    previous: Mapping[str, Any],
    *,
    requeue: float,
    observed: rendering.ObservedPool | None = None,
    unread: bool = True,
) -> _Outcome:
    progress = Progress(Phase.STALLED, reason, message)
    return _Outcome(_keeping_flows(progress, observed, previous, unread=unread), requeue, "stalled")


def _keeping_flows(
    progress: Progress,
    observed: rendering.ObservedPool | None,
    previous: Mapping[str, Any],
    *,
    unread: bool = True,
) -> Report:
    """A report for a pass that did not reach the core: the flows under way are kept as they were,
    and so is what the pool was last seen doing, unless the pass read it (or it cannot exist)."""
    recreate = RecreateState.from_dict(previous.get("recreate"))
    scale_down = ScaleDownState.from_dict(previous.get("scaleToZero"))
    kept = unread and observed is None
    return Report(progress, observed, recreate, None, None, scale_down, unread=kept)


def _azure_failure(
    memory: PoolMemory,
    error: AzureCallError,
    previous: Mapping[str, Any],
    credentials: str,
    *,
    resync: float,
) -> _Outcome:
    verdict = classify(error.status, error.code)
    memory.fresh = True
    text = redact(str(error))
    if verdict.disposition is Disposition.STALL:
        message = f"{text} {verdict.hint}".strip()
        if verdict.reason == "AuthenticationFailed" and credentials:
            message += f" Credentials tried: {credentials}."
        # A missing subscription, group or account may be created by someone: look again every interval.
        requeue = min(verdict.delay, resync) if error.missing else verdict.delay
        # No subscription, group or account: no pool either (status.pool goes).
        return _stalled(verdict.reason, message, previous, requeue=requeue, unread=error.missing is None)
    delay = retry_delay(verdict, retry_after=error.retry_after, attempt=memory.retries)
    memory.retries += 1
    progress = Progress(Phase.RECONCILING, verdict.reason, f"Retrying in {int(delay)}s: {text}")
    result = "requeue" if verdict.disposition is not Disposition.RETRY or memory.retries < 5 else "error"
    return _Outcome(_keeping_flows(progress, None, previous), delay, result)


def _tell_transitions(memory: PoolMemory, progress: Progress, events: EventSink, log: Any) -> None:
    if progress.reason == memory.last_reason:
        return
    memory.last_reason = progress.reason
    log.info("progress", phase=progress.phase.value, reason=progress.reason, message=progress.message)
    if progress.phase is Phase.STALLED:
        events("Warning", progress.reason, progress.message)
    elif progress.phase is Phase.READY:
        events("Normal", "Ready", progress.message)


def _record_metrics(
    runtime: Runtime,
    memory: PoolMemory,
    ident: Identity,
    outcome: _Outcome,
    status: Mapping[str, Any],
    started: float,
) -> None:
    RECONCILES.labels(outcome.result).inc()
    RECONCILE_SECONDS.observe(runtime.monotonic() - started)
    set_phase(runtime, ident.uid, phase_of(status))
    pool = status.get("pool") or {}
    for kind, prefix in (("dedicated", "Dedicated"), ("lowPriority", "LowPriority")):
        for which in ("current", "target"):
            value = pool.get(f"{which}{prefix}Nodes")
            if value is not None:
                POOL_NODES.set(ident.namespace, ident.name, kind, which, value)
    for extension in status.get("extensions") or ():
        for state in ("succeeded", "failed", "transitioning"):
            count = (extension.get("nodes") or {}).get(state, 0)
            EXTENSION_NODES.set(ident.namespace, ident.name, extension.get("name", ""), state, count)
    generation = ident.generation
    if (
        generation is not None
        and runtime.phases[ident.uid] == "Ready"
        and memory.ready_generation != generation
        and generation in memory.first_seen
    ):
        memory.ready_generation = generation
        TIME_TO_READY.observe(runtime.monotonic() - memory.first_seen[generation])


def set_phase(runtime: Runtime, uid: str, phase: str | None) -> None:
    """Record a pool's phase (None: gone) and move it between the azbatch_pools counts: a change
    touches two gauges, never a walk over every pool (ten thousand pools, three changes each)."""
    if not runtime.phase_counts:  # every phase has a series from the first pass on, zeros included
        runtime.phase_counts.update(dict.fromkeys(("Ready", "Reconciling", "Stalled", "Unknown"), 0))
        for name in runtime.phase_counts:
            POOLS.labels(name).set(0)
    old = runtime.phases.pop(uid, None)
    if phase is not None:
        runtime.phases[uid] = phase
    if old == phase:
        return
    for gone in (old,) if old is not None else ():
        runtime.phase_counts[gone] -= 1
        POOLS.labels(gone).set(runtime.phase_counts[gone])
    if phase is not None:
        runtime.phase_counts[phase] = runtime.phase_counts.get(phase, 0) + 1
        POOLS.labels(phase).set(runtime.phase_counts[phase])


def _reason_label(fields: tuple[str, ...]) -> str:
    """Low-cardinality recreate reason: the top-level property group of the first field."""
    if not fields:
        return "unknown"
    first = fields[0]
    if "extensions" in first:
        return "extensions"
    return first.split(".")[0].split("[")[0] or "unknown"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Finalization:
    done: bool
    message: str
    delay: float = 5.0


async def finalize(runtime: Runtime, body: Mapping[str, Any], events: EventSink) -> Finalization:
    """The BatchPool is being deleted: delete, orphan or leave its pool, per policy and ownership.

    A pool is deleted only when this resource owns it, manages it, and deletionPolicy is Delete.
    """
    ident = identity_of(body)
    runtime.budget.withdraw(ident.uid)  # going away, it waits for no recreate, nor holds up those that do
    resource, _ = validation.validate_manifest(resource_document(body))
    if resource is None:
        events(
            "Warning",
            "PoolLeft",
            "The spec is invalid, so no pool is known to belong to it: nothing deleted.",
        )
        forget(runtime, ident)
        return Finalization(True, "invalid spec")
    policy = resource.spec.policy
    if policy.reconcile == "Observe":
        events("Normal", "PoolLeft", "policy.reconcile is Observe: the Azure pool is left as it is.")
        forget(runtime, ident)
        return Finalization(True, "observe only")
    account = account_of(resource)
    pool_name = resource.pool_name
    try:
        raw = await runtime.pools.get(account, pool_name)
    except AzureCallError as error:
        if error.missing is None:
            raise
        # No subscription, group or account: no pool can be there, and waiting would never end.
        events("Normal", "PoolLeft", f"{error.missing} does not exist, nor pool {pool_name}: none deleted.")
        forget(runtime, ident)
        return Finalization(True, "parent gone")
    if raw is None:
        forget(runtime, ident)
        return Finalization(True, "pool gone")
    observed = rendering.observe_pool(raw)
    owner = await owner_id(runtime, ident)
    if observed.owner != owner:
        events("Normal", "PoolLeft", f"Pool {pool_name} is not owned by this resource: left as it is.")
        forget(runtime, ident)
        return Finalization(True, "not ours")
    leaving = _Leaving(body, ident, account, pool_name, observed, resource, events)
    if policy.deletion_policy == "Orphan":
        return await _orphan_pool(runtime, leaving)
    return await _delete_pool(runtime, leaving)


@dataclass(frozen=True)
class _Leaving:
    """A BatchPool on its way out, and the pool it owns, as the finalizer found them."""

    body: Mapping[str, Any]
    ident: Identity
    account: AccountRef
    pool_name: str
    observed: rendering.ObservedPool
    resource: BatchPool
    events: EventSink


async def _orphan_pool(runtime: Runtime, leaving: _Leaving) -> Finalization:
    """deletionPolicy Orphan: let the pool go, as its spec had it (a drain under way is stopped)."""
    account, pool_name, events = leaving.account, leaving.pool_name, leaving.events
    status = leaving.body.get("status") or {}
    step = convergence.orphaning_step(
        leaving.observed,
        RecreateState.from_dict(status.get("recreate")),
        ScaleDownState.from_dict(status.get("scaleToZero")),
        rendering.spec_document(leaving.resource.spec).get("scaleSettings"),
    )
    if step.kind is StepKind.STOP_RESIZE:
        await runtime.pools.stop_resize(account, pool_name)
        events("Normal", "StoppingResize", step.progress.message)
    if step.kind is not StepKind.PATCH:
        return Finalization(False, step.progress.message, runtime.config.active_requeue)
    await runtime.pools.update(account, pool_name, step.body or {})
    for notice in step.notices:
        events(notice.type, notice.reason, notice.message)
    forget(runtime, leaving.ident)
    return Finalization(True, "orphaned")


async def _delete_pool(runtime: Runtime, leaving: _Leaving) -> Finalization:
    """deletionPolicy Delete: drain as the policy says (from the BatchPool's deletion), then DELETE."""
    body, ident, account, pool_name = leaving.body, leaving.ident, leaving.account, leaving.pool_name
    observed, resource, events = leaving.observed, leaving.resource, leaving.events
    now = runtime.now()
    requested = _deletion_time(body) or now
    step = convergence.deletion_step(
        observed,
        _drain_rules(resource.spec),
        requested=requested,
        shrunk_until=runtime.deletion_shrinks.get(ident.uid),
        now=now,
        guards=Guards(stuck_delete_after=timedelta(seconds=runtime.config.stuck_delete_timeout)),
    )
    for notice in step.notices:
        events(notice.type, notice.reason, notice.message)
    if step.kind is StepKind.DELETE:
        await runtime.pools.begin_delete(account, pool_name)
        runtime.deletion_shrinks.pop(ident.uid, None)
        events("Normal", "Deleting", f"Deleting pool {pool_name} (deletionPolicy Delete).")
    elif step.kind is StepKind.DRAIN:
        await runtime.pools.update(account, pool_name, step.body or {})
        runtime.deletion_shrinks[ident.uid] = requested + _drain_rules(resource.spec).timeout
        events("Normal", "Draining", step.progress.message)
    elif step.kind is StepKind.STOP_RESIZE:
        await runtime.pools.stop_resize(account, pool_name)
    if step.progress.phase is Phase.STALLED and runtime.last_told.get(ident.uid) != step.progress.reason:
        runtime.last_told[ident.uid] = step.progress.reason
        events("Warning", step.progress.reason, step.progress.message)
    return Finalization(False, step.progress.message, runtime.config.active_requeue)


def _deletion_time(body: Mapping[str, Any]) -> datetime | None:
    stamp = (body.get("metadata") or {}).get("deletionTimestamp")
    if not stamp:
        return None
    try:
        return convergence.parse_time(str(stamp))
    except ValueError:
        return None


def forget(runtime: Runtime, ident: Identity) -> None:
    set_phase(runtime, ident.uid, None)
    runtime.deletion_shrinks.pop(ident.uid, None)
    runtime.last_told.pop(ident.uid, None)
    runtime.budget.release_everywhere(ident.uid)
    forget_pool(ident.namespace, ident.name)
