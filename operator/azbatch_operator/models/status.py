"""`BatchPool.status`: kstatus-compliant, written by the operator only. Never holds secrets or digests."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from azbatch_operator.models.base import StatusModel

MAX_CONDITIONS = 16
MAX_FAILURE_SAMPLE = 10
MAX_STATUS_EXTENSIONS = 50
MAX_RESIZE_ERRORS = 20
MAX_MESSAGE = 32768

ConditionStatus = Literal["True", "False", "Unknown"]
RecreatePhase = Literal["Draining", "Deleting", "Creating"]


class Condition(StatusModel):
    """One condition (Ready, Reconciling, Stalled, ExtensionsHealthy, NodesHealthy), as metav1.Condition
    spells it."""

    type: str = Field(
        max_length=316,
        description="The condition type: Ready, Reconciling, Stalled, ExtensionsHealthy, NodesHealthy.",
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(max_length=1024, description="A CamelCase reason for the last transition.")
    message: str = Field(default="", max_length=MAX_MESSAGE, description="Human-readable details.")
    last_transition_time: str = Field(
        description="RFC 3339 time the status last changed (kept while the status stays the same)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this condition was computed from."
    )


class ResizeErrorStatus(StatusModel):
    """An error of the last resize, as Azure reports it."""

    code: str = Field(description="The Azure error code, e.g. AllocationTimedout.")
    message: str = Field(default="", description="The Azure error message.")


class PoolStatus(StatusModel):
    """What Azure reports about the pool."""

    id: str | None = Field(default=None, description="The ARM resource id of the pool.")
    provisioning_state: str | None = Field(default=None, description="Succeeded or Deleting.")
    allocation_state: str | None = Field(default=None, description="Steady, Resizing or Stopping.")
    vm_size: str | None = Field(default=None, description="The VM size Azure reports.")
    current_dedicated_nodes: int | None = Field(default=None, description="Dedicated nodes now in the pool.")
    target_dedicated_nodes: int | None = Field(
        default=None, description="Dedicated nodes the pool is sized to."
    )
    current_low_priority_nodes: int | None = Field(default=None, description="Spot/low-priority nodes now.")
    target_low_priority_nodes: int | None = Field(
        default=None, description="Spot/low-priority nodes targeted."
    )
    resize_errors: list[ResizeErrorStatus] | None = Field(
        default=None, max_length=MAX_RESIZE_ERRORS, description="Errors of the current or last resize."
    )
    etag: str | None = Field(default=None, description="The pool's ETag at the last read.")
    last_modified: str | None = Field(default=None, description="RFC 3339 time Azure last modified the pool.")
    creation_time: str | None = Field(default=None, description="RFC 3339 time Azure created the pool.")


class ExtensionNodeCounts(StatusModel):
    """How many nodes report each provisioning outcome for one extension."""

    succeeded: int = Field(default=0, ge=0, description="Nodes where the extension provisioned.")
    failed: int = Field(default=0, ge=0, description="Nodes where the extension failed.")
    transitioning: int = Field(default=0, ge=0, description="Nodes still provisioning it (or not reporting).")
    total: int = Field(default=0, ge=0, description="Nodes counted.")


class ExtensionFailure(StatusModel):
    """One node's failure of an extension (a bounded sample is kept)."""

    node_id: str = Field(description="The compute node id.")
    code: str | None = Field(
        default=None, description="The instance-view status code, e.g. ProvisioningState/failed/0."
    )
    level: str | None = Field(default=None, description="The status level: Error, Warning or Info.")
    message: str | None = Field(default=None, description="The status message, with advice where known.")
    time: str | None = Field(default=None, description="RFC 3339 time of the status, when reported.")


class ExtensionStatus(StatusModel):
    """The health of one extension across the pool's nodes."""

    name: str = Field(description="The extension name from the spec.")
    type: str | None = Field(default=None, description="The extension type.")
    type_handler_version: str | None = Field(default=None, description="The handler version.")
    nodes: ExtensionNodeCounts = Field(
        default_factory=ExtensionNodeCounts, description="Per-outcome node counts."
    )
    failures: list[ExtensionFailure] | None = Field(
        default=None, max_length=MAX_FAILURE_SAMPLE, description="A sample of failing nodes (at most 10)."
    )


class NodeStateCounts(StatusModel):
    """Nodes by state, as the data plane's node counts report them (states with no node left out)."""

    total: int = Field(default=0, ge=0, description="Nodes of this kind in the pool.")
    idle: int | None = Field(default=None, ge=0, description="Ready for tasks, none running.")
    running: int | None = Field(default=None, ge=0, description="Running tasks.")
    creating: int | None = Field(default=None, ge=0, description="VM being allocated.")
    starting: int | None = Field(default=None, ge=0, description="Booting (extensions provisioning).")
    waiting_for_start_task: int | None = Field(
        default=None, ge=0, description="Running a start task with waitForSuccess."
    )
    start_task_failed: int | None = Field(
        default=None, ge=0, description="The start task failed (waitForSuccess): no tasks run here."
    )
    unusable: int | None = Field(
        default=None, ge=0, description="Cannot run tasks (e.g. a failed extension)."
    )
    preempted: int | None = Field(default=None, ge=0, description="Spot nodes Azure took back.")
    leaving_pool: int | None = Field(default=None, ge=0, description="Being removed.")
    offline: int | None = Field(default=None, ge=0, description="Scheduling disabled by the service.")
    rebooting: int | None = Field(default=None, ge=0, description="Rebooting.")
    reimaging: int | None = Field(default=None, ge=0, description="Reimaging.")
    unknown: int | None = Field(default=None, ge=0, description="Lost contact with the node.")
    deallocated: int | None = Field(default=None, ge=0, description="Deallocated.")
    deallocating: int | None = Field(default=None, ge=0, description="Being deallocated.")
    upgrading_os: int | None = Field(
        default=None, ge=0, alias="upgradingOS", description="Upgrading its operating system."
    )


class NodeFailure(StatusModel):
    """A failing node (a bounded sample is kept) with the cause Azure gives."""

    node_id: str = Field(description="The compute node id.")
    state: str = Field(description="startTaskFailed or unusable, as the data plane spells it.")
    dedicated: bool | None = Field(default=None, description="False for a spot node.")
    start_task_exit_code: int | None = Field(default=None, description="The start task's exit code.")
    code: str | None = Field(default=None, description="The start task failure code or the node error code.")
    message: str | None = Field(default=None, description="Azure's message for it.")


class RemediationStatus(StatusModel):
    """What remediation (spec.policy.remediation) last decided."""

    reason: str = Field(description="Removing, ShortCircuited, Waiting, Disabled or NothingToRemove.")
    message: str = Field(default="", description="What was done or why nothing was.")
    removed_nodes: list[Annotated[str, Field(max_length=256)]] | None = Field(
        default=None, max_length=100, description="The nodes removed by the last removal."
    )
    last_removal_time: str | None = Field(default=None, description="RFC 3339 time of the last removal.")
    removed_total: int | None = Field(
        default=None, ge=0, description="Nodes removed since the operator started."
    )


class NodesStatus(StatusModel):
    """The pool's nodes: counts by state for dedicated and spot nodes, and the failing ones."""

    dedicated: NodeStateCounts | None = Field(default=None, description="Dedicated nodes by state.")
    spot: NodeStateCounts | None = Field(default=None, description="Spot (low-priority) nodes by state.")
    failures: list[NodeFailure] | None = Field(
        default=None, max_length=MAX_FAILURE_SAMPLE, description="A sample of failing nodes (at most 10)."
    )
    remediation: RemediationStatus | None = Field(
        default=None, description="Set when spec.policy.remediation is enabled."
    )


class RecreateStatus(StatusModel):
    """A recreate in progress, stored so a restarted operator resumes at the right step."""

    phase: RecreatePhase = Field(description="Draining, Deleting or Creating.")
    reason: str = Field(default="", description="Why the pool is recreated.")
    fields: list[Annotated[str, Field(max_length=256)]] | None = Field(
        default=None, max_length=100, description="The spec fields that forced it."
    )
    started: str | None = Field(default=None, description="RFC 3339 time the recreate started.")
    pool_creation_time: str | None = Field(
        default=None,
        description="creationTime of the pool being replaced: only that pool is deleted, never a newer one.",
    )
    drain_deadline: str | None = Field(
        default=None,
        description="RFC 3339 time the drain timeout ends (spec.policy.drain.onTimeout says what then).",
    )
    shrunk_until: str | None = Field(
        default=None, description="The drain deadline the last shrink's resizeTimeout covered."
    )
    delete_requested: str | None = Field(
        default=None, description="RFC 3339 time the old pool's DELETE was sent."
    )


class ScaleToZeroStatus(StatusModel):
    """A scale to zero in progress (updateStrategy ScaleToZero), stored so a restart resumes it."""

    started: str = Field(description="RFC 3339 time the scale to zero started.")
    fields: list[Annotated[str, Field(max_length=256)]] | None = Field(
        default=None, max_length=100, description="The spec fields that need zero nodes."
    )
    drain_deadline: str | None = Field(default=None, description="RFC 3339 time the drain timeout ends.")
    shrunk_until: str | None = Field(
        default=None, description="The drain deadline the last shrink's resizeTimeout covered."
    )
    requeued: bool | None = Field(
        default=None, description="True once the drain timed out and the rest was shrunk with Requeue."
    )


class LastRecreateStatus(StatusModel):
    """The last recreate that finished: at most one recreate runs per generation."""

    generation: int | None = Field(default=None, ge=0, description="The metadata.generation it applied.")
    finished: str | None = Field(default=None, description="RFC 3339 time it finished.")


class BatchPoolStatus(StatusModel):
    """The observed state of a BatchPool. Dump with `model_dump(exclude_none=True)` (camelCase by default)."""

    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation the operator last acted on."
    )
    conditions: list[Condition] | None = Field(
        default=None,
        max_length=MAX_CONDITIONS,
        description="Ready, Reconciling, Stalled, ExtensionsHealthy, NodesHealthy.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    pool: PoolStatus | None = Field(default=None, description="What Azure reports about the pool.")
    extensions: list[ExtensionStatus] | None = Field(
        default=None, max_length=MAX_STATUS_EXTENSIONS, description="Per-extension health across the nodes."
    )
    nodes: NodesStatus | None = Field(
        default=None, description="The nodes by state, the failing ones and what remediation did."
    )
    recreate: RecreateStatus | None = Field(default=None, description="Set while a recreate runs.")
    scale_to_zero: ScaleToZeroStatus | None = Field(
        default=None, description="Set while a scale to zero runs (updateStrategy ScaleToZero)."
    )
    last_recreate: LastRecreateStatus | None = Field(
        default=None, description="The last recreate that finished (one per generation at most)."
    )
