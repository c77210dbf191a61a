"""No lost work, end to end: the real operator against an emulator that behaves as Azure does.

Each destructive step is one the user asked for, bounded and told: a new digest key recreates
nothing; adoption takes ownership only until the user approves; one pool of an account is
disrupted at a time; a pool that never converges is recreated once, then Stalled; drains hold to
their timeout on Azure's side too; scale changes never fight a running resize; a revert while
draining cancels; two operators never both act. Every test has a sandbox of its own, so the
emulator's call counters belong to it.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from azure.mgmt.batch import BatchManagementClient
from operator_helpers import FAST, azure_pool, pool_id

from azbatch_emulator.sdk import secret_credential
from azbatch_operator.sandbox import Sandbox, SandboxSettings, condition, pool_manifest, wait_until

RESYNC = FAST["resync_interval"]


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(**FAST)) as running:
        yield running


def _extensions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    vmc = manifest["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"]
    extensions: list[dict[str, Any]] = vmc["extensions"]
    return extensions


def _bump_extension(manifest: dict[str, Any], version: str = "1.1") -> dict[str, Any]:
    changed = copy.deepcopy(manifest)
    _extensions(changed)[0]["typeHandlerVersion"] = version
    return changed


def _props(sandbox: Sandbox, name: str) -> dict[str, Any]:
    """The pool's ARM properties as the SDK reads them ({} when there is no pool)."""
    properties: dict[str, Any] = (azure_pool(sandbox, name) or {}).get("properties") or {}
    return properties


def _created(sandbox: Sandbox, name: str) -> str | None:
    return _props(sandbox, name).get("creationTime")


def _target(sandbox: Sandbox, name: str) -> int | None:
    fixed = (_props(sandbox, name).get("scaleSettings") or {}).get("fixedScale") or {}
    return fixed.get("targetDedicatedNodes")


def _metadata(sandbox: Sandbox, name: str) -> dict[str, str]:
    return {m["name"]: m["value"] for m in _props(sandbox, name).get("metadata") or []}


def _writes(sandbox: Sandbox, method: str, route: str = "mgmt.pool") -> int:
    return int(sandbox.admin.counters().get(f"{method} {route}", 0))


def _events(sandbox: Sandbox, name: str) -> list[str]:
    obj = sandbox.pool(name)
    return [str(e.get("reason")) for e in sandbox.kube.events_for(obj)] if obj else []


def _ready(sandbox: Sandbox, name: str, timeout: float = 60) -> dict[str, Any]:
    return sandbox.wait_for_condition(name, "Ready", timeout=timeout)


def _converged(sandbox: Sandbox, name: str) -> bool:
    obj = sandbox.pool(name) or {}
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    return (
        condition(obj, "Ready").get("status") == "True"
        and not status.get("recreate")
        and status.get("observedGeneration") == generation
    )


# --- a key change is never a spec change ------------------------------------------------------------


def test_another_digest_key_rerecords_digests_and_recreates_nothing(fresh: Sandbox) -> None:
    fresh.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ext", "namespace": "default"},
            "stringData": {"protected": json.dumps({"token": "t0p-s3cret"})},
        }
    )
    with_secret = pool_manifest("key-secret")
    _extensions(with_secret)[0]["protectedSettings"] = {"secretKeyRef": {"name": "ext", "key": "protected"}}
    for manifest in (with_secret, pool_manifest("key-plain")):
        fresh.kube.apply(manifest)
    before = {name: _created(fresh, name) for name in ("key-secret", "key-plain")}
    for name in before:
        _ready(fresh, name)
        before[name] = _created(fresh, name)

    fresh.stop_operator()
    (fresh.workdir / "digest.key").write_text(secrets.token_hex(32), encoding="utf-8")
    fresh.admin.reset_counters()
    fresh.start_operator()

    wait_until(
        lambda: "DigestKeyChanged" in _events(fresh, "key-secret"), timeout=30, what="DigestKeyChanged"
    )
    time.sleep(2 * RESYNC + 1)
    assert _writes(fresh, "PUT") == 0
    assert _writes(fresh, "DELETE") == 0
    assert {name: _created(fresh, name) for name in before} == before
    assert "DigestKeyChanged" not in _events(fresh, "key-plain")  # no secret: nothing to re-record
    for name in before:
        assert _converged(fresh, name), name


# --- adoption takes ownership and nothing else -------------------------------------------------------


def _management(sandbox: Sandbox) -> BatchManagementClient:
    info = sandbox.info
    return BatchManagementClient(
        secret_credential(info),
        info["subscription_id"],
        base_url=info["management_endpoint"],
        connection_verify=info["ca_bundle"],
    )


def test_an_adopted_pool_is_only_tagged_until_the_user_approves_its_recreate(fresh: Sandbox) -> None:
    manifest = pool_manifest("adopted")
    body = {"properties": {k: v for k, v in manifest["spec"].items() if k not in ("account",)}}
    info = fresh.info
    with _management(fresh) as client:  # a pool someone made by hand, with the old extension version
        client.pool.create(info["resource_group"], info["account_name"], "adopted", body)
    wait_until(lambda: _props(fresh, "adopted").get("allocationState") == "Steady", timeout=60)
    created = _created(fresh, "adopted")

    changed = _bump_extension(manifest)
    changed["spec"]["policy"] = {"adopt": True}
    fresh.kube.apply(changed)
    obj = fresh.wait_for_condition("adopted", "Stalled", reason="ApprovalRequired", timeout=60)
    message = condition(obj, "Stalled")["message"]
    assert "azbatch.dev/approve-disruption=" in message and "monitor" in message
    time.sleep(2 * RESYNC)
    assert _created(fresh, "adopted") == created
    assert _target(fresh, "adopted") == 2
    assert _metadata(fresh, "adopted")["azbatch.dev/adopted"] == "true"
    assert _writes(fresh, "DELETE") == 0

    generation = (fresh.pool("adopted") or {})["metadata"]["generation"]
    fresh.kube.patch(
        changed, {"metadata": {"annotations": {"azbatch.dev/approve-disruption": str(generation)}}}
    )
    wait_until(
        lambda: _converged(fresh, "adopted") and _created(fresh, "adopted") != created,
        timeout=90,
        what="adopted pool recreated after approval",
    )
    assert _writes(fresh, "DELETE") == 1
    assert "azbatch.dev/adopted" not in _metadata(fresh, "adopted")


# --- the disruption budget ---------------------------------------------------------------------------


def test_one_pool_of_an_account_is_recreated_at_a_time(fresh: Sandbox) -> None:
    names = ("budget-a", "budget-b", "budget-c")
    manifests = [pool_manifest(name) for name in names]
    for manifest in manifests:
        fresh.kube.apply(manifest)
    for name in names:
        _ready(fresh, name)
    created = {name: _created(fresh, name) for name in names}
    # Node reads slow enough that a pool's pass outlasts its neighbours' short requeues: a pass that
    # ends a recreate must not let the next one start before its own status says it has ended.
    fresh.admin.inject_fault("batch.nodeExtensions", "GET", 0, latency=0.5)
    for manifest in manifests:
        fresh.kube.apply(_bump_extension(manifest))

    most = 0
    waited: set[str] = set()

    def all_recreated(objects: dict[str, dict[str, Any]]) -> bool:
        # Every version of every BatchPool, in the API server's order: what kubectl get -w shows.
        nonlocal most
        statuses = {key.split("/")[1]: obj.get("status") or {} for key, obj in objects.items()}
        most = max(most, sum(1 for status in statuses.values() if status.get("recreate")))
        for key, obj in objects.items():
            if condition(obj, "Reconciling").get("reason") == "WaitingForDisruptionBudget":
                waited.add(key.split("/")[1])
        finished = {
            name
            for name, status in statuses.items()
            if (status.get("lastRecreate") or {}).get("generation") == 2 and not status.get("recreate")
        }
        return finished >= set(names)

    fresh.kube.watch_list_for(
        "azbatch.dev/v1alpha1", "BatchPool", all_recreated, "three pools recreated", timeout=180
    )
    assert most == 1
    assert len(waited) >= 2
    wait_until(
        lambda: all(_converged(fresh, n) and _created(fresh, n) != created[n] for n in names),
        timeout=60,
        what="three pools Ready on their new pools",
    )
    assert _writes(fresh, "DELETE") == 3


def test_a_namespaced_operator_is_not_held_up_by_a_flow_it_does_not_serve() -> None:
    with Sandbox(SandboxSettings(**FAST, namespaces=("default",))) as sandbox:
        sandbox.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "elsewhere"}})
        # Another install of the operator serves `elsewhere`; its pool of the same account is mid-recreate.
        foreign = sandbox.kube.apply(pool_manifest("foreign", namespace="elsewhere"))
        sandbox.kube.patch(foreign, {"status": {"recreate": {"phase": "Draining"}}}, subresource="status")
        mine = pool_manifest("mine")
        sandbox.kube.apply(mine)
        _ready(sandbox, "mine")
        created = _created(sandbox, "mine")
        sandbox.stop_operator()
        sandbox.start_operator()  # seeds its budget from the flows under way it serves, and only those

        sandbox.kube.apply(_bump_extension(mine))
        wait_until(
            lambda: _converged(sandbox, "mine") and _created(sandbox, "mine") != created,
            timeout=90,
            what="the served pool recreated",
        )
        reasons = condition(sandbox.pool("mine") or {}, "Reconciling").get("reason")
        assert reasons != "WaitingForDisruptionBudget"
        assert azure_pool(sandbox, "foreign") is None, "the operator never touched what it does not serve"


# --- the non-convergence brake ---------------------------------------------------------------------


def test_an_echoed_default_the_operator_does_not_know_stops_after_one_recreate(fresh: Sandbox) -> None:
    fresh.kube.apply(pool_manifest("echoes"))
    _ready(fresh, "echoes")
    fresh.admin.reset_counters()
    fresh.admin.add_echoed_default(
        "deploymentConfiguration.virtualMachineConfiguration.licenseType", "Windows_Server", pool="echoes"
    )
    obj = fresh.wait_for_condition("echoes", "Stalled", reason="NotConverging", timeout=120)
    assert "licenseType" in condition(obj, "Stalled")["message"]
    time.sleep(3 * RESYNC)
    assert _writes(fresh, "DELETE") <= 1
    assert _writes(fresh, "PUT") <= 1
    assert "NotConverging" in _events(fresh, "echoes")


# --- drains hold --------------------------------------------------------------------------------------


def _drained_recreate(sandbox: Sandbox, name: str, timeout: str, busy_minutes: float) -> dict[str, int]:
    manifest = pool_manifest(name, policy={"drain": {"timeout": timeout}})
    sandbox.kube.apply(manifest)
    _ready(sandbox, name)
    created = _created(sandbox, name)
    busy = sandbox.admin.busy_nodes(pool_id(sandbox, name), busy_minutes * 60)
    assert len(busy) == 2
    sandbox.admin.reset_counters()
    sandbox.kube.apply(_bump_extension(manifest))
    wait_until(
        lambda: _converged(sandbox, name) and _created(sandbox, name) != created,
        timeout=120,
        what=f"{name} recreated",
    )
    assert _writes(sandbox, "DELETE") == 1
    return sandbox.admin.task_counts(pool_id(sandbox, name))


def test_a_drain_within_its_timeout_loses_no_task(fresh: Sandbox) -> None:
    counts = _drained_recreate(fresh, "drain-long", "PT60M", busy_minutes=40)
    assert counts == {"tasks_requeued": 0, "tasks_terminated": 0}


def test_at_the_drain_timeout_the_recreate_goes_on_and_azure_requeues_the_tasks(fresh: Sandbox) -> None:
    counts = _drained_recreate(fresh, "drain-short", "PT20M", busy_minutes=40)
    assert counts["tasks_requeued"] == 2 and counts["tasks_terminated"] == 0
    assert "DrainTimedOut" in _events(fresh, "drain-short")


def test_scale_to_zero_with_busy_nodes_is_bounded_by_the_drain_timeout(fresh: Sandbox) -> None:
    name = "s2z-busy"
    manifest = pool_manifest(name, policy={"updateStrategy": "ScaleToZero", "drain": {"timeout": "PT20M"}})
    fresh.kube.apply(manifest)
    _ready(fresh, name)
    created = _created(fresh, name)
    fresh.admin.busy_nodes(pool_id(fresh, name), 10 * 3600)  # longer than anyone would wait
    changed = copy.deepcopy(manifest)
    changed["spec"]["vmSize"] = "STANDARD_D4S_V3"
    fresh.kube.apply(changed)
    wait_until(
        lambda: (
            _converged(fresh, name)
            and str(_props(fresh, name).get("vmSize", "")).lower() == "standard_d4s_v3"
        ),
        timeout=120,
        what="scaled to zero, patched and scaled back",
    )
    assert _created(fresh, name) == created
    assert fresh.admin.task_counts(pool_id(fresh, name))["tasks_requeued"] == 2
    assert "DrainTimedOut" in _events(fresh, name)


def test_a_scale_to_zero_paused_by_observe_keeps_its_budget_place(fresh: Sandbox) -> None:
    paused = pool_manifest("paused", policy={"updateStrategy": "ScaleToZero", "drain": {"timeout": "PT60M"}})
    waiting = pool_manifest("waiting")
    for manifest in (paused, waiting):
        fresh.kube.apply(manifest)
        _ready(fresh, manifest["metadata"]["name"])
    fresh.admin.busy_nodes(pool_id(fresh, "paused"), 10 * 3600)
    changed = copy.deepcopy(paused)
    changed["spec"]["vmSize"] = "STANDARD_D4S_V3"
    fresh.kube.apply(changed)
    fresh.wait_for_condition("paused", "Reconciling", timeout=30)
    wait_until(
        lambda: bool(((fresh.pool("paused") or {}).get("status") or {}).get("scaleToZero")),
        timeout=30,
        what="the scale to zero under way",
    )
    changed["spec"]["policy"]["reconcile"] = "Observe"  # the user pauses the operator on this pool
    fresh.kube.apply(changed)
    fresh.kube.apply(_bump_extension(waiting))
    created = _created(fresh, "waiting")

    fresh.wait_for_condition("waiting", "Reconciling", reason="WaitingForDisruptionBudget", timeout=30)
    time.sleep(2 * RESYNC)
    status = (fresh.pool("paused") or {}).get("status") or {}
    assert status.get("scaleToZero"), "the pause says the scale to zero is under way (Azure still drains)"
    assert condition(fresh.pool("waiting") or {}, "Reconciling").get("reason") == "WaitingForDisruptionBudget"
    assert _created(fresh, "waiting") == created and _writes(fresh, "DELETE") == 0


# --- resizes are not fought ---------------------------------------------------------------------------


def test_a_scale_change_during_a_long_resize_stops_it_and_live_fields_still_apply(fresh: Sandbox) -> None:
    name = "long-resize"
    fresh.admin.script_allocation(4 * 3600, pool=name)  # simulated hours: still resizing throughout
    manifest = pool_manifest(name)
    fresh.kube.apply(manifest)
    wait_until(lambda: _created(fresh, name) is not None, timeout=30, what="pool created")
    fresh.admin.reset_counters()
    changed = copy.deepcopy(manifest)
    changed["spec"]["scaleSettings"] = {"fixedScale": {"targetDedicatedNodes": 3}}
    changed["spec"]["metadata"] = [{"name": "team", "value": "render"}]
    fresh.kube.apply(changed)

    wait_until(
        lambda: _metadata(fresh, name).get("team") == "render",
        timeout=30,
        what="metadata patched while the pool resizes",
    )
    wait_until(
        lambda: _target(fresh, name) == 3,
        timeout=60,
        what="the new target, after stopResize",
    )
    counts = fresh.admin.counters()
    assert counts.get("POST mgmt.pool.stopResize", 0) >= 1
    # No 409 PoolBeingResized retry loop: a handful of PATCHes, not one per requeue.
    assert counts.get("PATCH mgmt.pool", 0) <= 4, counts


# --- cancel ------------------------------------------------------------------------------------------


def test_a_revert_while_draining_cancels_the_recreate_and_restores_the_scale(fresh: Sandbox) -> None:
    name = "revert"
    manifest = pool_manifest(name, policy={"drain": {"timeout": "PT60M"}})
    fresh.kube.apply(manifest)
    _ready(fresh, name)
    created = _created(fresh, name)
    fresh.admin.busy_nodes(pool_id(fresh, name), 10 * 3600)
    fresh.admin.reset_counters()
    fresh.kube.apply(_bump_extension(manifest))
    fresh.wait_for_condition(name, "Reconciling", reason="RecreatingDraining", timeout=30)
    fresh.kube.apply(manifest)  # the typo reverted
    wait_until(
        lambda: _converged(fresh, name) and _target(fresh, name) == 2,
        timeout=90,
        what="recreate cancelled and the scale restored",
    )
    assert _writes(fresh, "DELETE") == 0
    assert _created(fresh, name) == created
    assert "RecreateCancelled" in _events(fresh, name)


# --- one actor -----------------------------------------------------------------------------------------


def test_two_operators_with_default_settings_never_both_write() -> None:
    settings = SandboxSettings(**{**FAST, "operator_in_process": False})
    with Sandbox(settings) as running:
        config_file = running.workdir / "operator.yaml"
        config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        config.pop("leaderElection")  # the default: leader election on
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        running.stop_operator()
        first = running.spawn_operator_replica("one")
        time.sleep(3)
        second = running.spawn_operator_replica("two")
        try:
            running.kube.apply(pool_manifest("one-actor"))
            _ready(running, "one-actor")
            time.sleep(2 * RESYNC)
            assert _writes(running, "PUT") == 1
        finally:
            for process in (second, first):  # the standby first: it must not take over and act
                process.terminate()
                process.wait(timeout=30)
        logs = {
            who: (running.workdir / f"operator-{who}.log").read_text(encoding="utf-8")
            for who in ("one", "two")
        }
        assert "azure write" in logs["one"]
        assert "azure write" not in logs["two"]
        assert "standing by" in logs["two"]


def test_deleting_the_batchpool_drains_before_the_pool_is_deleted(fresh: Sandbox) -> None:
    name = "delete-drains"
    manifest = pool_manifest(name, policy={"drain": {"timeout": "PT60M"}})
    fresh.kube.apply(manifest)
    _ready(fresh, name)
    fresh.admin.busy_nodes(pool_id(fresh, name), 30 * 60)
    fresh.admin.reset_counters()
    fresh.kube.delete(manifest)
    wait_until(lambda: fresh.pool(name) is None, timeout=120, what="BatchPool gone after the drain")
    assert _created(fresh, name) is None
    assert fresh.admin.task_counts(pool_id(fresh, name)) == {"tasks_requeued": 0, "tasks_terminated": 0}
    assert _writes(fresh, "DELETE") == 1


def test_a_batchpool_orphaned_mid_drain_leaves_its_pool_at_the_spec_s_scale(fresh: Sandbox) -> None:
    name = "orphan-drain"
    manifest = pool_manifest(name, policy={"deletionPolicy": "Orphan", "drain": {"timeout": "PT60M"}})
    fresh.kube.apply(manifest)
    _ready(fresh, name)
    created = _created(fresh, name)
    fresh.admin.busy_nodes(pool_id(fresh, name), 10 * 3600)
    fresh.kube.apply(_bump_extension(manifest))
    wait_until(lambda: _target(fresh, name) == 0, timeout=60, what="the recreate's drain shrink sent")
    fresh.admin.reset_counters()

    fresh.kube.delete(manifest)  # the user lets the pool go while it drains
    wait_until(lambda: fresh.pool(name) is None, timeout=60, what="BatchPool gone")

    assert _created(fresh, name) == created and _writes(fresh, "DELETE") == 0
    steady = lambda: str(_props(fresh, name).get("allocationState")).lower() == "steady"  # noqa: E731
    wait_until(
        lambda: _target(fresh, name) == 2 and steady(),
        timeout=30,
        what="the pool left at its spec's two nodes, not drained to zero",
    )
    assert "azbatch.dev/owner" not in _metadata(fresh, name)
    assert fresh.admin.task_counts(pool_id(fresh, name)) == {"tasks_requeued": 0, "tasks_terminated": 0}


# --- a drain is decided on the pool as it is now --------------------------------------------------------


def _busy_recreate_drained(sandbox: Sandbox, manifest: dict[str, Any], busy_minutes: float = 40) -> None:
    """Bump the extension of a pool whose two nodes run long tasks: the recreate drains them."""
    name = manifest["metadata"]["name"]
    created = _created(sandbox, name)
    assert len(sandbox.admin.busy_nodes(pool_id(sandbox, name), busy_minutes * 60)) == 2
    sandbox.kube.apply(_bump_extension(manifest))
    wait_until(
        lambda: _converged(sandbox, name) and _created(sandbox, name) != created,
        timeout=120,
        what=f"{name} recreated",
    )
    assert sandbox.admin.task_counts(pool_id(sandbox, name)) == {"tasks_requeued": 0, "tasks_terminated": 0}
    assert "RecreateStarted" in _events(sandbox, name)


# The account's list is taken once a resync: a long one keeps the list the operator took before the
# nodes came, as production's five minutes would.
SLOW_LIST = SandboxSettings(**{**FAST, "resync_interval": 120.0})


def _resize_by_hand(sandbox: Sandbox, name: str, nodes: int) -> None:
    """Someone else resizes the pool (the SDK, as the portal or the CLI would), and it gets there."""
    info = sandbox.info
    with _management(sandbox) as client:
        client.pool.update(
            info["resource_group"],
            info["account_name"],
            name,
            {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": nodes}}}},
        )
    wait_until(
        lambda: (
            _props(sandbox, name).get("currentDedicatedNodes") == nodes
            and _props(sandbox, name).get("allocationState") == "Steady"
        ),
        timeout=60,
        what="the hand resize done",
    )


def test_nodes_added_by_someone_else_since_the_last_list_are_drained() -> None:
    """The account's list may be a resync old. An engineer resizes an idle pool by hand to run an
    urgent job; the user then bumps the extension before the operator lists again. The recreate
    must drain those nodes, not delete the pool under their tasks."""
    with Sandbox(SLOW_LIST) as sandbox:
        name = "hand-resized"
        manifest = pool_manifest(
            name,
            policy={"drain": {"timeout": "PT60M"}},
            scaleSettings={"fixedScale": {"targetDedicatedNodes": 0}},
        )
        sandbox.kube.apply(manifest)
        _ready(sandbox, name)
        _resize_by_hand(sandbox, name, 2)
        _busy_recreate_drained(sandbox, manifest)


def test_nodes_added_by_hand_are_scaled_back_only_as_their_tasks_finish(fresh: Sandbox) -> None:
    """The spec says two nodes; someone resized the pool to four by hand and every node runs a
    40-minute task. Scaling back to the spec must not kill those tasks: Azure's default for a shrink
    is Requeue, so the operator asks for TaskCompletion (policy.drain), and resizes again when
    Azure's resize timeout (15 minutes here) ended the shrink with nodes still busy."""
    name = "hand-grown"
    fresh.kube.apply(pool_manifest(name))
    _ready(fresh, name)
    fresh.stop_operator()  # the hand resize and the tasks, all before the operator looks again
    _resize_by_hand(fresh, name, 4)
    assert len(fresh.admin.busy_nodes(pool_id(fresh, name), 40 * 60)) == 4
    fresh.admin.reset_counters()
    fresh.start_operator()
    wait_until(
        lambda: _props(fresh, name).get("currentDedicatedNodes") == 2 and _converged(fresh, name),
        timeout=120,
        what="scaled back to the spec's two nodes",
    )
    assert fresh.admin.task_counts(pool_id(fresh, name)) == {"tasks_requeued": 0, "tasks_terminated": 0}
    assert _writes(fresh, "PATCH") >= 2, "the shrink, and again after Azure's resize timeout ended it"
    assert _writes(fresh, "DELETE") == _writes(fresh, "PUT") == 0
    assert "ScalingDown" in _events(fresh, name), "the engineer's nodes are not taken back unannounced"
