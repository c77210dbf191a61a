"""`BatchPool.spec`: the ARM pool `properties` one to one, plus where the pool lives and how changes apply."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from azbatch_operator.models.base import ArmModel
from azbatch_operator.models.durations import Duration
from azbatch_operator.models.pool import (
    MAX_ITEMS,
    MAX_NAME,
    ApplicationPackageReference,
    BatchPoolIdentity,
    DeploymentConfiguration,
    MetadataItem,
    MountConfiguration,
    NetworkConfiguration,
    ScaleSettings,
    StartTask,
    TaskSchedulingPolicy,
    UpgradePolicy,
    UserAccount,
)

POOL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
POOL_NAME_RULES = "1 to 64 characters: letters, digits, hyphens and underscores"


class Account(ArmModel):
    """The Batch account the pool lives in."""

    subscription_id: str = Field(
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        max_length=36,
        description="The Azure subscription id (a GUID).",
    )
    resource_group: str = Field(
        min_length=1,
        max_length=90,
        pattern=r"^[-\w._()]+$",
        description="The resource group of the Batch account.",
    )
    account_name: str = Field(
        pattern=r"^[a-z0-9]{3,24}$",
        max_length=24,
        description="The Batch account name (3 to 24 lowercase letters and digits).",
    )


class Drain(ArmModel):
    """Waiting for running tasks before nodes are removed for a recreate or a scale to zero."""

    enabled: bool = Field(
        default=True,
        description="Shrink with nodeDeallocationOption TaskCompletion, waiting for tasks (default true).",
    )
    timeout: Duration = Field(
        default="PT30M",
        description=(
            "ISO 8601 limit on the wait for running tasks, counted from the start of the recreate, scale to "
            "zero or deletion (default PT30M); Azure is told to keep removing nodes for as long."
        ),
    )
    on_timeout: Literal["Requeue", "Stall"] = Field(
        default="Requeue",
        description=(
            "At the drain timeout: Requeue (default) goes on, and Azure requeues the tasks still running "
            "so they run again on the pool's next nodes; Stall stops and waits for you "
            "(Stalled, DrainTimedOut)."
        ),
    )


class Remediation(ArmModel):
    """Removing bad nodes so Batch replaces them (opt in), like a MachineHealthCheck."""

    enabled: bool = Field(
        default=False,
        description=(
            "Remove nodes whose start task or an extension failed, or that are unusable, with the "
            "data-plane remove-nodes call (default false); the operator then resizes back to the spec."
        ),
    )
    max_unhealthy_percent: int = Field(
        default=40,
        ge=0,
        le=100,
        description=(
            "Above this share of the pool's nodes failing, the cause is the spec or the image, not the "
            "nodes: nothing is removed and status says so (default 40)."
        ),
    )
    max_removals_per_interval: int = Field(
        default=2,
        ge=1,
        le=100,
        description="Nodes removed at most per health interval (default 2).",
    )


class Policy(ArmModel):
    """How the operator applies changes and what it does on deletion."""

    update_strategy: Literal["Recreate", "ScaleToZero"] = Field(
        default="Recreate",
        description=(
            "For changes Azure refuses on a pool with nodes: Recreate (delete and create; default) or "
            "ScaleToZero (resize to 0, patch, resize back)."
        ),
    )
    drain: Drain = Field(
        default_factory=Drain,
        description="Wait for running tasks before removing nodes.",
        json_schema_extra={"default": {}},
    )
    deletion_policy: Literal["Delete", "Orphan"] = Field(
        default="Delete",
        description="On BatchPool deletion: Delete the Azure pool (default) or Orphan it (leave it running).",
    )
    reconcile: Literal["Manage", "Observe"] = Field(
        default="Manage",
        description="Manage: make the pool match the spec (default). Observe: only read and report status.",
    )
    adopt: bool = Field(
        default=False,
        description="Take over an existing pool of the same name that no operator owns (default false).",
    )
    remediation: Remediation = Field(
        default_factory=Remediation,
        description="Remove failing nodes so Batch replaces them (opt in).",
        json_schema_extra={"default": {}},
    )


VM_CONFIGURATION_MESSAGE = (
    "Batch pools need a Virtual Machine Configuration (pools with extensions must use it, and it is the only "
    "kind Batch offers): set spec.deploymentConfiguration.virtualMachineConfiguration with imageReference "
    "and nodeAgentSkuId"
)


class BatchPoolSpec(ArmModel):
    """The desired Azure Batch pool: ARM pool `properties` (api-version 2025-06-01) plus operator fields."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.deploymentConfiguration) && "
                    "has(self.deploymentConfiguration.virtualMachineConfiguration)",
                    "message": VM_CONFIGURATION_MESSAGE,
                },
            ]
        }
    )

    account: Account = Field(description="The Batch account the pool lives in.")
    pool_name: str | None = Field(
        default=None,
        pattern=POOL_NAME_PATTERN,
        max_length=64,
        description=f"The Azure pool name ({POOL_NAME_RULES}); defaults to metadata.name. Immutable.",
    )
    identity: BatchPoolIdentity | None = Field(
        default=None, description="The pool's managed identities (ARM `identity`)."
    )
    policy: Policy = Field(
        default_factory=Policy,
        description="How the operator applies changes and what it does on deletion.",
        json_schema_extra={"default": {}},
    )
    display_name: str | None = Field(
        default=None, max_length=1024, description="The display name of the pool (up to 1024 characters)."
    )
    vm_size: str = Field(
        min_length=1,
        max_length=MAX_NAME,
        description="The size of the pool's virtual machines, e.g. STANDARD_D2S_V3 (the same for all nodes).",
    )
    deployment_configuration: DeploymentConfiguration | None = Field(
        default=None,
        description="The virtual machines of the pool (virtualMachineConfiguration is required).",
    )
    scale_settings: ScaleSettings | None = Field(
        default=None, description="The number of nodes: fixedScale or autoScale."
    )
    inter_node_communication: Literal["Enabled", "Disabled"] | None = Field(
        default=None, description="Whether nodes may talk to each other directly (default Disabled)."
    )
    network_configuration: NetworkConfiguration | None = Field(
        default=None, description="The network configuration of the pool."
    )
    task_slots_per_node: int | None = Field(
        default=None, ge=1, le=256, description="Concurrent task slots per node (default 1)."
    )
    task_scheduling_policy: TaskSchedulingPolicy | None = Field(
        default=None, description="How tasks are distributed across nodes (default Spread)."
    )
    user_accounts: list[UserAccount] | None = Field(
        default=None, max_length=MAX_ITEMS, description="User accounts created on every node."
    )
    metadata: list[MetadataItem] | None = Field(
        default=None,
        max_length=MAX_ITEMS,
        description="Name-value pairs stored with the pool. Names starting with azbatch.dev/ are reserved.",
    )
    start_task: StartTask | None = Field(
        default=None, description="A task run on each node as it joins the pool."
    )
    application_packages: list[ApplicationPackageReference] | None = Field(
        default=None, max_length=10, description="Application packages installed on every node."
    )
    mount_configuration: list[MountConfiguration] | None = Field(
        default=None, max_length=MAX_ITEMS, description="File systems mounted on every node."
    )
    upgrade_policy: UpgradePolicy | None = Field(default=None, description="The upgrade policy of the pool.")
