"""ARM pool JSON (as ``GET pool`` returns it) -> ObservedPool: comparable state plus live facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from azbatch_operator.rendering.desired import ADOPTED_METADATA, OWNER_METADATA
from azbatch_operator.rendering.normalise import normalise_pool
from azbatch_operator.rendering.secrets import DIGEST_PREFIX


@dataclass(frozen=True)
class ResizeError:
    code: str
    message: str


@dataclass(frozen=True)
class ObservedPool:
    """What Azure says the pool is. ``comparable`` has the same shape as ``DesiredPool.comparable``."""

    comparable: dict[str, Any]
    owner: str | None
    secret_digests: Mapping[str, str] = field(repr=False)
    id: str | None = None
    name: str | None = None
    etag: str | None = None
    provisioning_state: str | None = None
    allocation_state: str | None = None
    current_dedicated_nodes: int = 0
    current_low_priority_nodes: int = 0
    target_dedicated_nodes: int | None = None
    target_low_priority_nodes: int | None = None
    resize_errors: tuple[ResizeError, ...] = ()
    creation_time: str | None = None
    last_modified: str | None = None
    auto_scale: bool = False
    vm_size: str | None = None  # as Azure spells it, for people (comparable holds the normal form)
    metadata: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    adopted: bool = False  # carries the adopted marker: disruption needs the user's approval

    @property
    def is_deleting(self) -> bool:
        return (self.provisioning_state or "").lower() == "deleting"

    @property
    def is_steady(self) -> bool:
        return (self.allocation_state or "steady").lower() == "steady"

    @property
    def current_nodes(self) -> int:
        return self.current_dedicated_nodes + self.current_low_priority_nodes

    @property
    def is_steady_at_zero(self) -> bool:
        """Steady with no nodes: the 2024-07-01+ API then takes zero-node-only changes by PATCH."""
        return self.is_steady and self.current_nodes == 0

    @property
    def targets_zero(self) -> bool:
        """Fixed scale with both targets at zero (what a scale-to-zero leaves behind)."""
        return not self.auto_scale and not self.target_dedicated_nodes and not self.target_low_priority_nodes


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float | str) and str(value).strip() else 0


def _targets(properties: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Targets from fixed scale; for auto scale, from the last resize (the formula's result)."""
    fixed = (properties.get("scaleSettings") or {}).get("fixedScale")
    source = fixed if fixed is not None else properties.get("resizeOperationStatus")
    if source is None:
        return (0, 0) if not (properties.get("scaleSettings") or {}).get("autoScale") else (None, None)
    return _int(source.get("targetDedicatedNodes")), _int(source.get("targetLowPriorityNodes"))


def observe_pool(arm_pool: Mapping[str, Any]) -> ObservedPool:
    """Normalise a pool as ARM returns it (``{"id", "name", "etag", "identity"?, "properties"}``)."""
    properties: Mapping[str, Any] = arm_pool.get("properties") or {}
    metadata = tuple(
        (str(item.get("name", "")), str(item.get("value", ""))) for item in properties.get("metadata") or []
    )
    by_name = dict(metadata)
    errors = (properties.get("resizeOperationStatus") or {}).get("errors") or []
    target_dedicated, target_low_priority = _targets(properties)
    return ObservedPool(
        comparable=normalise_pool(properties, arm_pool.get("identity")),
        owner=by_name.get(OWNER_METADATA),
        secret_digests={k: v for k, v in by_name.items() if k.startswith(DIGEST_PREFIX)},
        id=arm_pool.get("id"),
        name=arm_pool.get("name"),
        etag=arm_pool.get("etag"),
        provisioning_state=properties.get("provisioningState"),
        vm_size=properties.get("vmSize"),
        allocation_state=properties.get("allocationState"),
        current_dedicated_nodes=_int(properties.get("currentDedicatedNodes")),
        current_low_priority_nodes=_int(properties.get("currentLowPriorityNodes")),
        target_dedicated_nodes=target_dedicated,
        target_low_priority_nodes=target_low_priority,
        resize_errors=tuple(
            ResizeError(code=str(e.get("code", "")), message=str(e.get("message", ""))) for e in errors
        ),
        creation_time=properties.get("creationTime"),
        last_modified=properties.get("lastModified"),
        auto_scale=bool((properties.get("scaleSettings") or {}).get("autoScale")),
        metadata=metadata,
        adopted=ADOPTED_METADATA in by_name,
    )
