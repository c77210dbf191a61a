"""BatchPool objects in every phase, with what Argo CD and kstatus (Flux) must say about each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOW = "2026-11-23T03:00:00Z"


def condition(kind: str, status: str, reason: str, message: str = "", generation: int = 3) -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": NOW,
        "observedGeneration": generation,
    }


def batch_pool(
    *conditions: dict[str, Any],
    generation: int = 3,
    observed: int | None = 3,
    reconcile: str = "Manage",
    deleting: bool = False,
    with_status: bool = True,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "render-farm", "namespace": "team-a", "generation": generation}
    if deleting:
        metadata["deletionTimestamp"] = NOW
    pool: dict[str, Any] = {
        "apiVersion": "azbatch.dev/v1alpha1",
        "kind": "BatchPool",
        "metadata": metadata,
        "spec": {"vmSize": "STANDARD_D2S_V3", "policy": {"reconcile": reconcile}},
    }
    if with_status:
        status: dict[str, Any] = {"conditions": list(conditions)}
        if observed is not None:
            status["observedGeneration"] = observed
        pool["status"] = status
    return pool


@dataclass(frozen=True)
class Example:
    name: str
    pool: dict[str, Any]
    argocd: str
    kstatus: str
    message_contains: str = ""


EXTENSIONS_OK = condition("ExtensionsHealthy", "True", "AllSucceeded", "kvext succeeded on 4 of 4 nodes")
NOT_STALLED = condition("Stalled", "False", "Progressing")

EXAMPLES = [
    Example("never seen by the operator", batch_pool(with_status=False), "Progressing", "Current"),
    Example(
        "new generation not yet observed",
        batch_pool(condition("Ready", "True", "Ready", generation=2), generation=3, observed=2),
        "Progressing",
        "InProgress",
        "generation 3",
    ),
    Example(
        "creating",
        batch_pool(
            condition("Ready", "False", "Creating", "pool is being created"),
            condition("Reconciling", "True", "Creating", "pool is being created"),
            NOT_STALLED,
        ),
        "Progressing",
        "InProgress",
        "Creating",
    ),
    Example(
        "resizing",
        batch_pool(
            condition("Ready", "False", "Resizing", "2 of 8 dedicated nodes"),
            condition("Reconciling", "True", "Resizing", "2 of 8 dedicated nodes"),
            NOT_STALLED,
            EXTENSIONS_OK,
        ),
        "Progressing",
        "InProgress",
        "2 of 8",
    ),
    Example(
        "recreating for an extension change",
        batch_pool(
            condition("Ready", "False", "Recreating", "extensions changed: draining"),
            condition("Reconciling", "True", "Recreating", "extensions changed: draining"),
            NOT_STALLED,
        ),
        "Progressing",
        "InProgress",
        "Recreating",
    ),
    Example(
        "ready",
        batch_pool(
            condition("Ready", "True", "Ready", "pool matches generation 3"),
            condition("Reconciling", "False", "Ready"),
            NOT_STALLED,
            EXTENSIONS_OK,
        ),
        "Healthy",
        "Current",
    ),
    Example(
        "ready, extension failing on some nodes",
        batch_pool(
            condition("Ready", "True", "Ready"),
            condition("Reconciling", "False", "Ready"),
            NOT_STALLED,
            condition(
                "ExtensionsHealthy",
                "False",
                "ExtensionFailed",
                "kvext failed on 2 of 4 nodes: set requireInitialSync: false to debug",
            ),
        ),
        "Degraded",
        "Current",
        "requireInitialSync",
    ),
    Example(
        "ready, every node failed its start task",
        batch_pool(
            condition("Ready", "True", "Ready"),
            condition("Reconciling", "False", "Ready"),
            NOT_STALLED,
            EXTENSIONS_OK,
            condition(
                "NodesHealthy",
                "False",
                "StartTaskFailed",
                "The start task failed on 4 of 4 nodes. Node tvm-1: start task exit code 3",
            ),
        ),
        "Degraded",
        "Current",
        "NodesHealthy is False: StartTaskFailed: The start task failed on 4 of 4 nodes",
    ),
    Example(
        "resizing while a node is unusable",
        batch_pool(
            condition("Ready", "False", "Resizing", "2 of 8 dedicated nodes"),
            condition("Reconciling", "True", "Resizing", "2 of 8 dedicated nodes"),
            NOT_STALLED,
            condition("NodesHealthy", "False", "NodesUnusable", "1 of 2 nodes are unusable: tvm-2"),
        ),
        "Degraded",
        "InProgress",
        "NodesHealthy is False: NodesUnusable",
    ),
    Example(
        "nodes and extensions failing together",
        batch_pool(
            condition("Ready", "True", "Ready"),
            condition("Reconciling", "False", "Ready"),
            NOT_STALLED,
            condition("ExtensionsHealthy", "False", "ExtensionFailed", "kvext failed on 1 of 4 nodes"),
            condition("NodesHealthy", "False", "NodesUnusable", "1 of 4 nodes are unusable"),
        ),
        "Degraded",
        "Current",
        "NodesHealthy is False: NodesUnusable: 1 of 4 nodes are unusable; ExtensionsHealthy is False",
    ),
    Example(
        "stalled on an invalid spec",
        batch_pool(
            condition("Ready", "False", "InvalidSpec"),
            condition("Reconciling", "False", "InvalidSpec"),
            condition("Stalled", "True", "InvalidSpec", "CustomScript is reserved for the Batch service"),
        ),
        "Degraded",
        "Failed",
        "CustomScript",
    ),
    Example(
        "stalled on AllocationFailed",
        batch_pool(
            condition("Ready", "False", "AllocationFailed"),
            condition("Stalled", "True", "AllocationFailed", "the pool's image was deleted"),
        ),
        "Degraded",
        "Failed",
        "AllocationFailed",
    ),
    Example(
        "observe only",
        batch_pool(condition("Ready", "True", "Observed"), reconcile="Observe"),
        "Suspended",
        "Current",
        "Observe",
    ),
    Example(
        "being deleted",
        batch_pool(
            condition("Ready", "False", "Deleting"),
            condition("Reconciling", "True", "Deleting", "deleting the Azure pool"),
            deleting=True,
        ),
        "Progressing",
        "Terminating",
        "Deleting",
    ),
]
