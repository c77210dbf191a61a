"""A Batch pool: its stored body, its resize/deletion timeline and its ARM JSON at any instant.

The simulation is lazy: a resize records when each node appears or leaves, and every read
computes the allocation state and node counts from the clock.
"""

from __future__ import annotations

import copy
import itertools
import re
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from azbatch_emulator.clock import iso
from azbatch_emulator.defaults import EchoedDefault, echo_service_defaults, fill
from azbatch_emulator.errors import ServiceError
from azbatch_emulator.nodes import Failure, Node, NodeContext
from azbatch_emulator.scripts import Script
from azbatch_emulator.timings import Timings

_etag_counter = itertools.count(1)
_CORES = re.compile(r"^(?:standard_|basic_)?[a-z]+?(\d+)", re.IGNORECASE)
_ASSIGN = re.compile(r"^\s*\$(\w+)\s*=\s*(.+?)\s*$")
TIMEOUT_CODES = ("AllocationTimedout", "RemoveNodesFailed")
"""Resize errors that end a resize at its resizeTimeout."""


def new_etag(now: float) -> str:
    return f'W/"0x8D{int(now * 1e6) % 0xFFFFFFFFFFFF:012X}{next(_etag_counter) % 0xFFF:03X}"'


def cores_of(vm_size: str) -> int:
    """vCPUs of a VM size, read from its name (`Standard_D4s_v5` -> 4)."""
    match = _CORES.match(vm_size or "")
    return max(int(match.group(1)), 1) if match else 1


DEALLOCATION_OPTIONS = ("Requeue", "Terminate", "TaskCompletion", "RetainedData")


def deallocation_option(text: str) -> str:
    """The spec's spelling of a node deallocation option (formulas write `taskcompletion`)."""
    wanted = text.strip().lower()
    return next((o for o in DEALLOCATION_OPTIONS if o.lower() == wanted), "Requeue")


def evaluate_formula(formula: str) -> tuple[int, int, str, str]:
    """(dedicated, low priority, results, $NodeDeallocationOption) from an autoscale formula.

    Constant assignments are honoured; anything else yields 0. The option defaults to requeue,
    as ComputeNodeDeallocationOption does everywhere in the spec."""
    values = {"TargetDedicatedNodes": 0, "TargetLowPriorityNodes": 0}
    option = "requeue"
    for statement in re.split(r"[;\n]", formula):
        match = _ASSIGN.match(statement)
        if not match:
            continue
        name, expr = match.groups()
        if name in values and re.fullmatch(r"\d+", expr):
            values[name] = int(expr)
        elif name == "NodeDeallocationOption":
            option = expr.strip()
    results = (
        f"$TargetDedicatedNodes={values['TargetDedicatedNodes']};"
        f"$TargetLowPriorityNodes={values['TargetLowPriorityNodes']};$NodeDeallocationOption={option}"
    )
    return (
        values["TargetDedicatedNodes"],
        values["TargetLowPriorityNodes"],
        results,
        deallocation_option(option),
    )


def scale_targets(props: dict[str, Any]) -> tuple[int, int, str, str]:
    """(dedicated, low priority, resizeTimeout, nodeDeallocationOption) that `props` ask for.

    Pure: reading the targets of a body that is not stored yet (a write being checked) must not
    touch the pool. No scaleSettings means fixed scale at 0 dedicated nodes (ScaleSettings in the
    spec); resizeTimeout defaults to PT15M and nodeDeallocationOption to Requeue."""
    scale = props.get("scaleSettings") or {}
    auto = scale.get("autoScale")
    if isinstance(auto, dict):
        dedicated, low, _, option = evaluate_formula(str(auto.get("formula", "")))
        return dedicated, low, "PT15M", option
    fixed = scale.get("fixedScale") or {}
    return (
        int(fixed.get("targetDedicatedNodes", 0) or 0),
        int(fixed.get("targetLowPriorityNodes", 0) or 0),
        str(fixed.get("resizeTimeout", "PT15M")),
        str(fixed.get("nodeDeallocationOption", "Requeue")),
    )


def autoscaled(props: dict[str, Any]) -> bool:
    return isinstance((props.get("scaleSettings") or {}).get("autoScale"), dict)


def os_mismatch(extension_type: str, *, windows: bool) -> bool:
    """An extension built for the other OS fails with VM agent error 51 (seed 001)."""
    kind = extension_type.lower()
    return kind.endswith("forwindows") if not windows else kind.endswith("forlinux")


def identity_json(identity: Any) -> Any:
    """The pool identity as ARM returns it: each user-assigned identity gains principalId and clientId."""
    result = copy.deepcopy(identity)
    assigned = result.get("userAssignedIdentities") if isinstance(result, dict) else None
    if isinstance(assigned, dict):
        for resource_id, value in assigned.items():
            ids = {
                "principalId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal:{resource_id.lower()}")),
                "clientId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"client:{resource_id.lower()}")),
            }
            assigned[resource_id] = {**ids, **value} if isinstance(value, dict) else ids
    return result


@dataclass
class Resize:
    start: float
    end: float
    target_dedicated: int
    target_low_priority: int
    timeout: str
    deallocation: str = "Requeue"
    errors: list[dict[str, str]] = field(default_factory=list)
    stopping: bool = False


class Pool:
    def __init__(self, *, arm_id: str, name: str, body: dict[str, Any], now: float, timings: Timings) -> None:
        self.arm_id = arm_id
        self.name = name
        self.body = body
        self.timings = timings
        self.created = now
        self.last_modified = now
        self.etag = new_etag(now)
        self.provisioning_since = now
        self.delete_started: float | None = None
        self.delete_done: float | None = None
        self.resize: Resize | None = None
        self.allocation_since = now
        self.nodes: list[Node] = []
        self.next_ordinal = 0
        self.autoscale_run: dict[str, Any] | None = None
        self.node_identity: Any = copy.deepcopy(body.get("identity"))
        """The identity new nodes get. BatchPoolIdentity (management spec): "If the pool identity
        is updated during update an existing pool, only the new vms which are created after the
        pool shrinks to 0 will have the updated identities"; so it follows the body only while
        the pool has no nodes at all."""
        self.extra_defaults: list[EchoedDefault] = []
        """Defaults the admin API added to every read (the store's list, shared by all pools)."""
        self.task_counters: dict[str, int] = {}
        """Job tasks stopped by node removal: `tasks_requeued`, `tasks_terminated` (not persisted,
        like the request counters; the store keeps the dict past the pool's deletion)."""
        self._hash = zlib.crc32(arm_id.lower().encode()) % 10**10

    # --- reading ---------------------------------------------------------------------------
    @property
    def properties(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body.setdefault("properties", {})
        return props

    @property
    def deleting(self) -> bool:
        return self.delete_started is not None

    def deleted(self, now: float) -> bool:
        return self.delete_done is not None and now >= self.delete_done

    def vm_config(self) -> dict[str, Any]:
        dc = self.properties.get("deploymentConfiguration") or {}
        vmc = dc.get("virtualMachineConfiguration") or {}
        return vmc if isinstance(vmc, dict) else {}

    def cores_per_node(self) -> int:
        return cores_of(str(self.properties.get("vmSize", "")))

    def prune(self, now: float) -> None:
        if any(n.gone_at is not None and n.gone_at <= now for n in self.nodes):
            self.nodes = [n for n in self.nodes if n.gone_at is None or n.gone_at > now]

    def present_nodes(self, now: float) -> list[Node]:
        return [n for n in self.nodes if n.appear_at <= now and (n.gone_at is None or n.gone_at > now)]

    def counts(self, now: float) -> tuple[int, int]:
        dedicated = low = 0
        for n in self.nodes:
            if n.appear_at <= now and (n.gone_at is None or n.gone_at > now):
                if n.dedicated:
                    dedicated += 1
                else:
                    low += 1
        return dedicated, low

    def committed(self, dedicated: bool) -> int:
        """Nodes of one kind that hold quota: present or on their way, not leaving."""
        return sum(1 for n in self.nodes if n.dedicated == dedicated and n.leave_at is None)

    def allocation_state(self, now: float) -> str:
        if self.deleting:
            return "Resizing"
        if self.resize and now < self.resize.end:
            return "Stopping" if self.resize.stopping else "Resizing"
        return "Steady"

    def is_steady_and_empty(self, now: float) -> bool:
        return self.allocation_state(now) == "Steady" and self.counts(now) == (0, 0)

    def node_context(self, endpoint: str) -> NodeContext:
        vmc = self.vm_config()
        start_task = self.properties.get("startTask")
        return NodeContext(
            timings=self.timings,
            extensions=list(vmc.get("extensions") or []),
            start_task=start_task if isinstance(start_task, dict) else None,
            vm_size=str(self.properties.get("vmSize", "")).lower(),
            image_reference=dict(vmc.get("imageReference") or {}),
            windows="windows" in str(vmc.get("nodeAgentSkuId", "")).lower(),
            endpoint=endpoint,
            pool_name=self.name,
        )

    # --- scale -----------------------------------------------------------------------------
    def desired_targets(self, now: float) -> tuple[int, int, str, str]:
        """(dedicated, low priority, resizeTimeout, nodeDeallocationOption) from scaleSettings;
        an autoscale pool records the evaluation in `autoScaleRun`."""
        auto = (self.properties.get("scaleSettings") or {}).get("autoScale")
        if isinstance(auto, dict):
            results = evaluate_formula(str(auto.get("formula", "")))[2]
            self.autoscale_run = {"evaluationTime": iso(now), "results": results}
        else:
            self.autoscale_run = None
        return scale_targets(self.properties)

    def resize_to(
        self,
        now: float,
        *,
        targets: tuple[int, int, str, str],
        timeout_seconds: float,
        free_cores: tuple[float, float],
        scripts: list[Script],
    ) -> None:
        """Start a resize towards the targets (quota and timeout decide how far it gets)."""
        self.prune(now)
        if not self.nodes:  # at zero nodes: new nodes get the pool's current identity
            self.node_identity = copy.deepcopy(self.body.get("identity"))
        dedicated, low, timeout, deallocation = targets
        errors: list[dict[str, str]] = []
        allocation = next(
            (s.allocation_seconds for s in scripts if s.kind == "allocation" and s.matches_pool(self.name)),
            None,
        )
        ends = [now]
        for is_dedicated, target, free in ((True, dedicated, free_cores[0]), (False, low, free_cores[1])):
            have = [n for n in self.nodes if n.dedicated == is_dedicated and n.leave_at is None]
            if target < len(have):
                ends.append(
                    self._shrink(now, have, len(have) - target, deallocation, now + timeout_seconds, errors)
                )
                continue
            wanted = target - len(have)
            allowed = int(free // self.cores_per_node())
            if wanted > allowed:
                errors.append(
                    {
                        "code": "AccountCoreQuotaReached"
                        if is_dedicated
                        else "AccountLowPriorityCoreQuotaReached",
                        "message": "The specified account has reached VM core quota limit",
                    }
                )
                wanted = max(allowed, 0)
            if wanted:
                duration = (
                    allocation
                    if allocation is not None
                    else self.timings.allocation_base + self.timings.allocation_per_node * wanted
                )
                ends.append(self._grow(now, wanted, is_dedicated, duration, timeout_seconds, errors, scripts))
        self.resize = Resize(
            start=now,
            end=self._settles_at(now, max(ends)),
            target_dedicated=dedicated,
            target_low_priority=low,
            timeout=timeout,
            deallocation=deallocation,
            errors=errors,
        )
        self.allocation_since = now

    def _settles_at(self, now: float, at_least: float) -> float:
        """When no node is still on its way in or out (an earlier resize may still be running)."""
        pending = [n.appear_at for n in self.nodes if n.appear_at > now]
        pending += [n.gone_at for n in self.nodes if n.gone_at is not None and n.gone_at > now]
        return max([at_least, *pending])

    def _shrink(
        self,
        now: float,
        have: list[Node],
        count: int,
        deallocation: str,
        deadline: float,
        errors: list[dict[str, str]],
    ) -> float:
        """Remove `count` nodes; returns when the last of them is gone.

        Which nodes go is the service's choice ("the Batch service chooses which nodes to remove");
        the emulator picks nodes not allocated yet, then idle nodes (newest first), then the busy
        nodes whose tasks end soonest (**chosen**: the documents are silent). What happens to
        their tasks follows ComputeNodeDeallocationOption: Requeue and Terminate stop the tasks
        and remove the node at once (counted as requeued or terminated); TaskCompletion lets the
        tasks finish, then removes the node; RetainedData does the same (tasks here keep no data
        with a retention period to wait for).

        The resize's resizeTimeout ("the timeout for allocation of compute nodes to the pool or
        removal of compute nodes from the pool") ends a removal that would take longer: at the
        deadline the resize is over, nodes not yet leaving stay (their tasks go on) and the resize
        reports RemoveNodesFailed."""
        doomed = sorted(have, key=lambda n: self._removal_order(n, now))[:count]
        future = {id(n) for n in doomed if n.appear_at > now}
        self.nodes = [n for n in self.nodes if id(n) not in future]
        gone = [self._remove(n, now, deallocation) for n in doomed if id(n) not in future]
        late = [n for n in doomed if n.leave_at is not None and n.leave_at > deadline]
        if not late:
            return max(gone, default=now + self.timings.stop_resize)
        for node in late:
            node.leave_at = node.gone_at = None
        errors.append(
            {
                "code": "RemoveNodesFailed",
                "message": f"{len(late)} of the nodes selected for removal were still running tasks when the "
                "resize timeout was reached; they remain in the pool",
            }
        )
        return max([deadline, *(n.gone_at for n in doomed if n.gone_at is not None)])

    @staticmethod
    def _removal_order(node: Node, now: float) -> tuple[int, float]:
        if node.appear_at > now:
            return 0, -node.appear_at
        unfinished = node.unfinished_tasks(now)
        if not unfinished:
            return 1, -node.appear_at
        return 2, max(end for _, end in unfinished)

    def _remove(self, node: Node, now: float, deallocation: str) -> float:
        """Start removing a present node; returns when it is gone."""
        unfinished = node.unfinished_tasks(now)
        if unfinished and deallocation in ("TaskCompletion", "RetainedData"):
            leave = max(end for _, end in unfinished)
        else:
            self._stop_tasks(
                node, now, "tasks_terminated" if deallocation == "Terminate" else "tasks_requeued"
            )
            leave = now
        node.leave_at, node.gone_at = leave, leave + self.timings.node_leaving
        return node.gone_at

    def _stop_tasks(self, node: Node, now: float, counter: str) -> None:
        unfinished = node.unfinished_tasks(now)
        if unfinished:
            self.task_counters[counter] = self.task_counters.get(counter, 0) + len(unfinished)
            node.tasks = [t for t in node.tasks if t[1] <= now]

    def busy(
        self, now: float, seconds: float, *, count: int | None, node_ids: list[str] | None
    ) -> list[dict[str, Any]]:
        """Run one simulated task of `seconds` on each chosen node (admin `busy_nodes`).

        Eligible: nodes present, not leaving, that are or will be ready for tasks (not unusable,
        not failed in their start task). A task on a node still starting begins once it is idle."""
        ctx = self.node_context("")
        eligible = {
            n.id: n for n in self.present_nodes(now) if n.leave_at is None and ctx.idle_at(n) is not None
        }
        if node_ids is not None:
            present = {n.id for n in self.present_nodes(now)}
            unknown = [i for i in node_ids if i not in present]
            if unknown:
                raise ServiceError(404, "NodeNotFound", f"No such node in pool {self.name}: {unknown}.")
            chosen = [eligible[i] for i in node_ids if i in eligible]
            if len(chosen) < len(node_ids):
                raise ServiceError(
                    409, "NodesNotAvailable", "Some of the nodes are leaving or can never run tasks."
                )
        else:
            ranked = sorted(eligible.values(), key=lambda n: (bool(n.unfinished_tasks(now)), n.ordinal))
            wanted = len(ranked) if count is None else count
            if wanted > len(ranked):
                raise ServiceError(
                    409,
                    "NodesNotAvailable",
                    f"Pool {self.name} has {len(ranked)} nodes that can run tasks, not {wanted}.",
                )
            chosen = ranked[:wanted]
        result = []
        for node in chosen:
            idle = ctx.idle_at(node)
            assert idle is not None
            start = max(now, idle)
            node.tasks.append([start, start + seconds])
            result.append({"id": node.id, "start": start, "end": start + seconds})
        return result

    def preempt(self, now: float, *, count: int | None, node_ids: list[str] | None) -> list[str]:
        """Azure takes spot nodes back (admin `preempt_nodes`): they show `preempted` from now on,
        their tasks requeued (a preempted node's tasks are requeued, like any node removal's
        default). The first `count` spot nodes not already preempted, or `node_ids`."""
        spot = [n for n in self.present_nodes(now) if not n.dedicated and n.leave_at is None]
        if node_ids is not None:
            known = {n.id: n for n in spot}
            unknown = [i for i in node_ids if i not in known]
            if unknown:
                raise ServiceError(404, "NodeNotFound", f"No such spot node in pool {self.name}: {unknown}.")
            chosen = [known[i] for i in node_ids]
        else:
            free = [n for n in spot if n.preempted_at is None]
            chosen = free if count is None else free[:count]
        for node in chosen:
            self._stop_tasks(node, now, "tasks_requeued")
            node.preempted_at = now
        return [n.id for n in chosen]

    def _grow(
        self,
        now: float,
        count: int,
        dedicated: bool,
        duration: float,
        timeout: float,
        errors: list[dict[str, str]],
        scripts: list[Script],
    ) -> float:
        first = min(self.timings.allocation_base, duration)
        deadline = now + timeout
        end = now
        for i in range(count):
            appear = now + first + (duration - first) * (i + 1) / count
            if appear > deadline:
                errors.append(
                    {
                        "code": "AllocationTimedout",
                        "message": "Desired number of dedicated nodes could not be allocated as the resize "
                        "timeout was reached",
                    }
                )
                return deadline
            self.nodes.append(self._new_node(now, appear, dedicated, scripts))
            end = appear
        return end

    def _new_node(self, now: float, appear: float, dedicated: bool, scripts: list[Script]) -> Node:
        ordinal = self.next_ordinal
        self.next_ordinal += 1
        stamp = iso(now)[:19].replace("-", "").replace(":", "").lower()
        node = Node(
            id=f"tvm-{self._hash}_{ordinal + 1}-{stamp}z",
            ordinal=ordinal,
            dedicated=dedicated,
            appear_at=appear,
            identity=copy.deepcopy(self.node_identity),
        )
        extensions = self.vm_config().get("extensions") or []
        windows = "windows" in str(self.vm_config().get("nodeAgentSkuId", "")).lower()
        for ext in extensions:
            if os_mismatch(str(ext.get("type", "")), windows=windows):
                node.extension_failures[ext["name"]] = Failure(
                    "ProvisioningState/failed/51",
                    f"Enable failed: {ext.get('type')} does not support this operating system "
                    f"(error 51, OS not supported). Use the {'Windows' if windows else 'Linux'} variant.",
                    51,
                )
        for script in scripts:
            if not script.matches_pool(self.name) or not script.fails(ordinal):
                continue
            if script.kind == "extension":
                for ext in extensions:
                    if script.extension in (ext.get("name"), ext.get("type")):
                        node.extension_failures[ext["name"]] = Failure(
                            script.failure_code, script.message, delay=script.provisioning_seconds
                        )
            elif script.kind == "start_task":
                node.start_task_failure = Failure(script.failure_code, script.message, script.exit_code)
            elif script.kind == "unusable":
                node.unusable = Failure(script.failure_code, script.message)
        return node

    def stop_resize(self, now: float) -> None:
        """Stop the resize where it stands (ARM "Pool - Stop Resize"): the pool keeps the nodes it
        has, nodes not allocated yet are not, and nodes still waiting to be removed stay (their
        removal had not begun). Nodes already leaving finish leaving: the documents are silent and
        a deallocation under way cannot be taken back. allocationState is Stopping, then Steady,
        and the resize reports ResizeStopped (PoolResizeErrorCodes: "the user stopped the resize
        operation"); timeouts that will now never happen are dropped."""
        if not self.resize or now >= self.resize.end:
            return
        self.nodes = [n for n in self.nodes if n.appear_at <= now]
        for node in self.nodes:
            if node.leave_at is not None and node.leave_at > now:
                node.leave_at = node.gone_at = None
        self.resize.end = self._settles_at(now, now + self.timings.stop_resize)
        self.resize.stopping = True
        self.resize.errors = [e for e in self.resize.errors if e["code"] not in TIMEOUT_CODES]
        self.resize.errors.append(
            {
                "code": "ResizeStopped",
                "message": "Desired number of nodes could not be reached because the resize was stopped",
            }
        )
        self.allocation_since = now

    def start_delete(self, now: float) -> None:
        """Delete the pool: "any Tasks running on existing Compute Nodes are terminated and
        requeued (as if a resize Pool operation had been requested with the default requeue
        option)" (data-plane "Pool - Delete"); nodes waiting to leave under TaskCompletion leave now."""
        self.prune(now)
        self.delete_started = now
        self.provisioning_since = now
        self.delete_done = now + self.timings.deletion_base + self.timings.deletion_per_node * len(self.nodes)
        self.nodes = [n for n in self.nodes if n.appear_at <= now]
        for n in self.nodes:
            if n.leave_at is None or n.leave_at > now:
                self._stop_tasks(n, now, "tasks_requeued")
                n.leave_at = now
                n.gone_at = None
            n.gone_at = min(n.gone_at or self.delete_done, self.delete_done)
        self.resize = None
        self.allocation_since = now

    def touch(self, now: float) -> None:
        self.last_modified = now
        self.etag = new_etag(now)

    # --- rendering -------------------------------------------------------------------------
    def arm_json(self, now: float) -> dict[str, Any]:
        props = copy.deepcopy(self.properties)
        windows = "windows" in str(self.vm_config().get("nodeAgentSkuId", "")).lower()
        echo_service_defaults(props, windows=windows)
        for extra in self.extra_defaults:
            if extra.matches(self.name):
                fill(props, extra.path, extra.value)
        dedicated, low = self.counts(now)
        props.update(
            {
                "provisioningState": "Deleting" if self.deleting else "Succeeded",
                "provisioningStateTransitionTime": iso(self.provisioning_since),
                "allocationState": self.allocation_state(now),
                "allocationStateTransitionTime": iso(
                    self.resize.end if self.resize and now >= self.resize.end else self.allocation_since
                ),
                "creationTime": iso(self.created),
                "lastModified": iso(self.last_modified),
                "currentDedicatedNodes": dedicated,
                "currentLowPriorityNodes": low,
            }
        )
        if self.resize:
            status: dict[str, Any] = {
                "targetDedicatedNodes": self.resize.target_dedicated,
                "targetLowPriorityNodes": self.resize.target_low_priority,
                "resizeTimeout": self.resize.timeout,
                "nodeDeallocationOption": self.resize.deallocation,
                "startTime": iso(self.resize.start),
            }
            if self.resize.errors and now >= self.resize.end:
                status["errors"] = self.resize.errors
            props["resizeOperationStatus"] = status
        if self.autoscale_run:
            props["autoScaleRun"] = self.autoscale_run
        body: dict[str, Any] = {
            "id": self.arm_id,
            "name": self.name,
            "type": "Microsoft.Batch/batchAccounts/pools",
            "etag": self.etag,
            "properties": props,
        }
        if "tags" in self.body:
            body["tags"] = copy.deepcopy(self.body["tags"])
        if "identity" in self.body:
            body["identity"] = identity_json(self.body["identity"])
        return body

    # --- persistence -----------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        return {
            "arm_id": self.arm_id,
            "name": self.name,
            "body": self.body,
            "created": self.created,
            "last_modified": self.last_modified,
            "etag": self.etag,
            "provisioning_since": self.provisioning_since,
            "delete_started": self.delete_started,
            "delete_done": self.delete_done,
            "resize": asdict(self.resize) if self.resize else None,
            "allocation_since": self.allocation_since,
            "nodes": [n.to_state() for n in self.nodes],
            "next_ordinal": self.next_ordinal,
            "autoscale_run": self.autoscale_run,
            "node_identity": self.node_identity,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any], timings: Timings) -> Pool:
        pool = cls(
            arm_id=data["arm_id"], name=data["name"], body=data["body"], now=data["created"], timings=timings
        )
        pool.last_modified = data["last_modified"]
        pool.etag = data["etag"]
        pool.provisioning_since = data["provisioning_since"]
        pool.delete_started = data["delete_started"]
        pool.delete_done = data["delete_done"]
        pool.resize = Resize(**data["resize"]) if data.get("resize") else None
        pool.allocation_since = data["allocation_since"]
        pool.nodes = [Node.from_state(n) for n in data["nodes"]]
        pool.next_ordinal = data["next_ordinal"]
        pool.autoscale_run = data.get("autoscale_run")
        if "node_identity" in data:
            pool.node_identity = data["node_identity"]
        else:  # a state file from before identities were recorded: every node had the pool's
            for node in pool.nodes:
                node.identity = copy.deepcopy(pool.node_identity)
        return pool
