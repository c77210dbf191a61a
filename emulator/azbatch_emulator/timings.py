"""Simulated durations (seconds of simulated time) that drive the pool simulation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timings:
    """Realistic-ish durations: at time_scale=60 a small pool is idle in a few real seconds."""

    allocation_base: float = 60.0
    """Until the first node of a resize appears."""
    allocation_per_node: float = 0.6
    """Extra allocation time per node requested (1,000 nodes take ~11 minutes)."""
    node_creating: float = 60.0
    node_starting: float = 45.0
    extension_provisioning: float = 60.0
    start_task: float = 20.0
    node_leaving: float = 30.0
    deletion_base: float = 60.0
    deletion_per_node: float = 0.5
    stop_resize: float = 10.0
    default_resize_timeout: float = 15 * 60.0
    min_resize_timeout: float = 5 * 60.0
    delete_retry_after: float = 15.0
    """Retry-After of the delete operation, in simulated seconds (converted to real seconds)."""
