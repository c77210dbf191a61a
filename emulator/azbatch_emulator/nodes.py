"""Compute nodes: their state at a simulated instant, and their data-plane JSON.

A node stores only the instants at which things happen to it; its state, start-task info and
extension instance views are computed from the clock when read (no background task per node).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azbatch_emulator.clock import iso
from azbatch_emulator.timings import Timings

BATCH_EXTENSION_NAME = "batchNodeExtension"


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    exit_code: int = 1
    delay: float = 0.0
    """Extra simulated seconds the failing step runs before it fails (e.g. a 20-minute timeout)."""


@dataclass(slots=True)
class Node:
    id: str
    ordinal: int
    dedicated: bool
    appear_at: float
    leave_at: float | None = None
    gone_at: float | None = None
    extension_failures: dict[str, Failure] = field(default_factory=dict)
    start_task_failure: Failure | None = None
    unusable: Failure | None = None
    """A scripted hardware or agent failure: the node turns unusable once it is up."""
    preempted_at: float | None = None
    """When Azure took this spot node back (admin `preempt_nodes`): `preempted` from then on."""
    identity: Any = None
    """The pool identity this node was created with (the pool's `identity` body, or None): a
    changed pool identity reaches only nodes created after the pool was at zero nodes."""
    tasks: list[list[float]] = field(default_factory=list)
    """Simulated job tasks as [start, end] instants (admin `busy_nodes`); a task removed from a
    leaving node (Requeue/Terminate) is dropped from the list."""

    def unfinished_tasks(self, now: float) -> list[list[float]]:
        return [t for t in self.tasks if t[1] > now]

    def running_tasks(self, now: float) -> int:
        return sum(1 for start, end in self.tasks if start <= now < end)

    def finished_tasks(self, now: float) -> int:
        return sum(1 for _, end in self.tasks if end <= now)

    def to_state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ordinal": self.ordinal,
            "dedicated": self.dedicated,
            "appear_at": self.appear_at,
            "leave_at": self.leave_at,
            "gone_at": self.gone_at,
            "extension_failures": {k: vars_of(v) for k, v in self.extension_failures.items()},
            "start_task_failure": vars_of(self.start_task_failure) if self.start_task_failure else None,
            "unusable": vars_of(self.unusable) if self.unusable else None,
            "preempted_at": self.preempted_at,
            "tasks": self.tasks,
            "identity": self.identity,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Node:
        stf = data.get("start_task_failure")
        unusable = data.get("unusable")
        return cls(
            id=data["id"],
            ordinal=data["ordinal"],
            dedicated=data["dedicated"],
            appear_at=data["appear_at"],
            leave_at=data.get("leave_at"),
            gone_at=data.get("gone_at"),
            extension_failures={k: Failure(**v) for k, v in data.get("extension_failures", {}).items()},
            start_task_failure=Failure(**stf) if stf else None,
            unusable=Failure(**unusable) if unusable else None,
            preempted_at=data.get("preempted_at"),
            tasks=[list(t) for t in data.get("tasks", [])],
            identity=data.get("identity"),
        )


def vars_of(failure: Failure) -> dict[str, Any]:
    return {
        "code": failure.code,
        "message": failure.message,
        "exit_code": failure.exit_code,
        "delay": failure.delay,
    }


@dataclass(frozen=True)
class NodeContext:
    """What a node needs to know about its pool to compute its state."""

    timings: Timings
    extensions: list[dict[str, Any]]
    start_task: dict[str, Any] | None
    vm_size: str
    image_reference: dict[str, Any]
    windows: bool
    endpoint: str
    pool_name: str

    @property
    def extensions_ready_offset(self) -> float:
        t = self.timings
        return t.node_creating + t.node_starting + (t.extension_provisioning if self.extensions else 0.0)

    def ready_at(self, node: Node) -> float:
        """When the node's extensions are all done (a slow failure holds the node back)."""
        delays = [f.delay for f in node.extension_failures.values()]
        return node.appear_at + self.extensions_ready_offset + max(delays, default=0.0)

    def idle_at(self, node: Node) -> float | None:
        """When the node is first ready for tasks, or None if it never is (unusable, or its start
        task failed with waitForSuccess)."""
        ready = self.ready_at(node)
        if self.blocking_failure(node):
            return None
        if self.start_task and bool(self.start_task.get("waitForSuccess", True)):
            return None if node.start_task_failure else ready + self.timings.start_task
        return ready

    def blocking_failure(self, node: Node) -> Failure | None:
        """A failed Key Vault extension with requireInitialSync keeps the node from becoming usable
        (as does a scripted unusable node)."""
        if node.unusable is not None:
            return node.unusable
        for ext in self.extensions:
            failure = node.extension_failures.get(ext.get("name", ""))
            if failure and requires_initial_sync(ext):
                return failure
        return None


def requires_initial_sync(extension: dict[str, Any]) -> bool:
    if not str(extension.get("type", "")).lower().startswith("keyvaultfor"):
        return False
    settings = extension.get("settings")
    sms = settings.get("secretsManagementSettings") if isinstance(settings, dict) else None
    return bool(isinstance(sms, dict) and sms.get("requireInitialSync"))


def node_state(node: Node, ctx: NodeContext, now: float) -> tuple[str, float]:
    """(state, since) of the node at `now`, using the data plane's state names.

    An idle node with a task running is `running` (ComputeNodeState: "the Compute Node is running
    one or more Tasks"), also while it waits to leave under TaskCompletion."""
    if node.leave_at is not None and now >= node.leave_at:
        return "leavingpool", node.leave_at
    if node.preempted_at is not None and now >= node.preempted_at:
        return "preempted", node.preempted_at
    state, since = _lifecycle_state(node, ctx, now)
    if state != "idle" or not node.tasks:
        return state, since
    running = [start for start, end in node.tasks if start <= now < end]
    if running:
        return "running", max(since, min(running))
    ended = [end for _, end in node.tasks if end <= now]
    return "idle", max([since, *ended])


def _lifecycle_state(node: Node, ctx: NodeContext, now: float) -> tuple[str, float]:
    t = ctx.timings
    started = node.appear_at + t.node_creating
    if now < started:
        return "creating", node.appear_at
    ready = ctx.ready_at(node)
    if now < ready:
        return "starting", started
    if ctx.blocking_failure(node):
        return "unusable", ready
    if ctx.start_task:
        wait = bool(ctx.start_task.get("waitForSuccess", True))
        done = ready + t.start_task
        if wait and now < done:
            return "waitingforstarttask", ready
        if wait and node.start_task_failure:
            return "starttaskfailed", done
        if wait:
            return "idle", done
    return "idle", ready


def start_task_info(node: Node, ctx: NodeContext, now: float) -> dict[str, Any] | None:
    if not ctx.start_task:
        return None
    begin = ctx.ready_at(node)
    if now < begin or ctx.blocking_failure(node):
        return None
    end = begin + ctx.timings.start_task
    if now < end:
        return {"state": "running", "startTime": iso(begin), "retryCount": 0}
    info: dict[str, Any] = {
        "state": "completed",
        "startTime": iso(begin),
        "endTime": iso(end),
        "retryCount": 0,
    }
    failure = node.start_task_failure
    if failure:
        info["exitCode"] = failure.exit_code
        info["result"] = "failure"
        info["failureInfo"] = {"category": "usererror", "code": failure.code, "message": failure.message}
    else:
        info["exitCode"] = 0
        info["result"] = "success"
    return info


def node_json(node: Node, ctx: NodeContext, now: float) -> dict[str, Any]:
    state, since = node_state(node, ctx, now)
    body: dict[str, Any] = {
        "id": node.id,
        "url": f"{ctx.endpoint}/pools/{ctx.pool_name}/nodes/{node.id}",
        "state": state,
        "schedulingState": "enabled",
        "stateTransitionTime": iso(since),
        "allocationTime": iso(node.appear_at),
        "ipAddress": f"10.0.{node.ordinal // 250 % 250}.{node.ordinal % 250 + 4}",
        "affinityId": f"TVM:{node.id}",
        "vmSize": ctx.vm_size,
        "totalTasksRun": node.finished_tasks(now),
        "totalTasksSucceeded": node.finished_tasks(now),
        "runningTasksCount": node.running_tasks(now),
        "runningTaskSlotsCount": node.running_tasks(now),
        "isDedicated": node.dedicated,
        "virtualMachineInfo": {"imageReference": {**ctx.image_reference, "exactVersion": "latest"}},
    }
    if state not in ("creating", "starting"):
        body["lastBootTime"] = iso(node.appear_at + ctx.timings.node_creating)
        body["nodeAgentInfo"] = {"version": "1.12.0.0", "lastUpdateTime": body["lastBootTime"]}
    if ctx.start_task:
        body["startTask"] = ctx.start_task
        info = start_task_info(node, ctx, now)
        if info:
            body["startTaskInfo"] = info
    errors = node_errors(node, ctx, state)
    if errors:
        body["errors"] = errors
    return body


def node_errors(node: Node, ctx: NodeContext, state: str) -> list[dict[str, Any]]:
    if state == "unusable":
        failure = ctx.blocking_failure(node)
        assert failure is not None
        if failure is node.unusable:
            return [{"code": failure.code, "message": failure.message}]
        return [
            {
                "code": "VMExtensionProvisioningError",
                "message": "One or more VM extensions failed to provision; the node cannot run tasks.",
                "errorDetails": [{"name": "Message", "value": failure.message}],
            }
        ]
    if state == "starttaskfailed" and node.start_task_failure:
        return [{"code": "StartTaskFailed", "message": node.start_task_failure.message}]
    return []


def _status(code: str, level: str, display: str, message: str, at: float) -> dict[str, Any]:
    return {"code": code, "level": level, "displayStatus": display, "message": message, "time": iso(at)}


def batch_node_extension(ctx: NodeContext) -> dict[str, Any]:
    if ctx.windows:
        return {
            "name": BATCH_EXTENSION_NAME,
            "publisher": "Microsoft.Compute",
            "type": "CustomScriptExtension",
            "typeHandlerVersion": "1.10",
            "autoUpgradeMinorVersion": True,
        }
    return {
        "name": BATCH_EXTENSION_NAME,
        "publisher": "Microsoft.Azure.Extensions",
        "type": "CustomScript",
        "typeHandlerVersion": "2.0",
        "autoUpgradeMinorVersion": True,
    }


def _success_message(extension: dict[str, Any], done: float) -> str:
    kind = str(extension.get("type", ""))
    if extension.get("name") == BATCH_EXTENSION_NAME:
        return "Enable succeeded: Enabling and starting agent and controller"
    if kind.lower().startswith("keyvaultfor"):
        return f"Successfully started Key Vault extension service. {iso(done)[:19]}Z"
    return "ExtensionOperation:enable. Status:Success"


def extension_views(node: Node, ctx: NodeContext, now: float) -> list[dict[str, Any]]:
    """The data plane's `BatchNodeVMExtension` list: Batch's own agent extension first."""
    t = ctx.timings
    agent_done = node.appear_at + t.node_creating + t.node_starting / 2
    user_done = node.appear_at + ctx.extensions_ready_offset
    views = [_view(batch_node_extension(ctx), None, agent_done, now)]
    for ext in ctx.extensions:
        public = {k: v for k, v in ext.items() if k != "protectedSettings"}
        failure = node.extension_failures.get(ext.get("name", ""))
        views.append(_view(public, failure, user_done + (failure.delay if failure else 0.0), now))
    return views


def _view(extension: dict[str, Any], failure: Failure | None, done: float, now: float) -> dict[str, Any]:
    name = extension.get("name", "")
    if now < done:
        status = _status(
            "ProvisioningState/transitioning", "Info", "Transitioning", "Enable in progress", now
        )
        provisioning = "Creating"
    elif failure:
        status = _status(failure.code, "Error", "Provisioning failed", failure.message, done)
        provisioning = "Failed"
    else:
        status = _status(
            "ProvisioningState/succeeded",
            "Info",
            "Provisioning succeeded",
            _success_message(extension, done),
            done,
        )
        provisioning = "Succeeded"
    return {
        "provisioningState": provisioning,
        "vmExtension": extension,
        "instanceView": {"name": name, "statuses": [status]},
    }
