"""Draining a pool before nodes go (pure): the shrink to send, when to send it again, the deadline.

Every flow that takes nodes away for the operator's own reasons — a recreate, a scale to zero, the
deletion of a BatchPool — drains first when `spec.policy.drain.enabled`: the pool is shrunk to zero
with `nodeDeallocationOption: TaskCompletion`, so running tasks finish and idle nodes leave at once.
The drain is bounded by `spec.policy.drain.timeout`, counted from when the flow started:

- the shrink carries `resizeTimeout` covering what is left of the timeout (at least Azure's minimum
  of 5 minutes), so Azure itself keeps removing nodes for as long as the user allowed, instead of
  its default 15 minutes;
- a shrink that Azure ended before the deadline (someone stopped it, or the timeout was raised
  since) is sent again; one that Azure ended at its own `resizeTimeout` means the time is up,
  on Azure's clock as on ours;
- at the deadline `spec.policy.drain.onTimeout` decides: `Requeue` (the default) lets the flow go
  on and Azure requeues the tasks still running, so they run again on the pool's nodes to come;
  `Stall` stops and waits for the user, nodes still running.

No scale change is sent while a resize runs (Azure answers 409 PoolBeingResized): a resize of the
pool's own (still growing) is stopped first with `stopResize`; our own shrink is waited for.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from azbatch_operator.error_policy import is_resize_timeout
from azbatch_operator.rendering import ObservedPool

DEFAULT_DRAIN_TIMEOUT: Final = timedelta(minutes=30)
MIN_RESIZE_TIMEOUT: Final = timedelta(minutes=5)  # Azure refuses a shorter resizeTimeout (400)
REQUEUE: Final = "Requeue"
STALL: Final = "Stall"


@dataclass(frozen=True)
class DrainRules:
    """`spec.policy.drain`, as the core reads it."""

    enabled: bool = True
    timeout: timedelta = DEFAULT_DRAIN_TIMEOUT
    on_timeout: str = REQUEUE


class DrainMove(enum.Enum):
    SHRINK = "shrink"  # send `DrainPlan.body`
    STOP_RESIZE = "stop-resize"  # a resize of the pool's own is running: stop it before shrinking
    WAIT = "wait"  # Azure is removing nodes
    DONE = "done"  # steady at zero nodes (or no pool)
    DEADLINE = "deadline"  # the drain timeout is over, nodes are left: `on_timeout` decides


@dataclass(frozen=True)
class DrainPlan:
    move: DrainMove
    deadline: datetime
    nodes_left: int
    body: Mapping[str, Any] | None = None  # the shrink, for SHRINK


def drain_next(
    observed: ObservedPool | None,
    rules: DrainRules,
    *,
    started: datetime,
    shrunk_until: datetime | None,
    now: datetime,
) -> DrainPlan:
    """The next move of a drain that started at `started`; `shrunk_until` is the deadline the last
    shrink we sent covered (None: none sent yet)."""
    deadline = started + rules.timeout
    if observed is None:
        return DrainPlan(DrainMove.DONE, deadline, 0)
    nodes = observed.current_nodes
    if nodes == 0 and observed.is_steady:
        return DrainPlan(DrainMove.DONE, deadline, 0)
    if rules.enabled and now >= deadline:
        return DrainPlan(DrainMove.DEADLINE, deadline, nodes)
    if not observed.is_steady:
        if shrinking(observed):
            return DrainPlan(DrainMove.WAIT, deadline, nodes)
        stopping = (observed.allocation_state or "").lower() == "stopping"
        return DrainPlan(DrainMove.WAIT if stopping else DrainMove.STOP_RESIZE, deadline, nodes)
    if not rules.enabled:  # no waiting for tasks: Azure requeues them and the nodes go at once
        return DrainPlan(DrainMove.SHRINK, deadline, nodes, shrink_body(REQUEUE, None))
    if (
        shrinking(observed)
        and shrunk_until is not None
        and shrunk_until >= deadline
        and any(is_resize_timeout(e.code) for e in observed.resize_errors)
    ):
        # Azure ended our shrink at the resizeTimeout that covered the whole drain: time is up.
        return DrainPlan(DrainMove.DEADLINE, deadline, nodes)
    return DrainPlan(DrainMove.SHRINK, deadline, nodes, shrink_body("TaskCompletion", deadline - now))


def shrinking(observed: ObservedPool) -> bool:
    """Fixed scale with both targets at zero: a shrink to zero was sent (by us, or by Azure's delete)."""
    return observed.targets_zero


def shrink_body(deallocation: str, remaining: timedelta | None) -> dict[str, Any]:
    """The PATCH that shrinks a pool to zero nodes, keeping Azure at it for `remaining`."""
    fixed: dict[str, Any] = {
        "targetDedicatedNodes": 0,
        "targetLowPriorityNodes": 0,
        "nodeDeallocationOption": deallocation,
    }
    if remaining is not None:
        fixed["resizeTimeout"] = iso_duration(max(remaining, MIN_RESIZE_TIMEOUT))
    return {"properties": {"scaleSettings": {"fixedScale": fixed}}}


def iso_duration(span: timedelta) -> str:
    """`PT1H2M3S`-style, rounded up to whole seconds (a timeout never shorter than asked)."""
    seconds = int(-(-span.total_seconds() // 1))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or text == "PT" else "")


def deadline_message(nodes: int, rules: DrainRules, what: str) -> str:
    """What happens at the drain deadline, for status and events."""
    timeout = iso_duration(rules.timeout)
    if rules.on_timeout == STALL:
        return (
            f"The drain timeout ({timeout}) passed with {nodes} node(s) still running tasks; "
            f"spec.policy.drain.onTimeout is Stall, so {what} waits for you: let the tasks finish, raise "
            "spec.policy.drain.timeout, or set onTimeout: Requeue to go on (Azure requeues the tasks)."
        )
    return (
        f"The drain timeout ({timeout}) passed with {node_count(nodes)} still running tasks; "
        f"spec.policy.drain.onTimeout is Requeue: {what} goes on, and Azure requeues their tasks."
    )


def node_count(nodes: int) -> str:
    return f"{nodes} node" + ("" if nodes == 1 else "s")
