"""Who may act (pure): the rules of a coordination.k8s.io Lease, as client-go's leader election uses them.

A replica may take the lease when nobody holds it, when it already holds it, or when the holder
has not renewed it within its lease duration. Every write carries the resourceVersion it read,
so two replicas racing for an expired lease cannot both win: the API server refuses the second.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass
class Standing:
    """Whether this replica may still act. Set once, for good, when it can no longer prove it
    leads: from then on another replica may, and this one sends Azure nothing more."""

    lost: bool = False


@dataclass(frozen=True)
class LeaseRecord:
    holder: str | None
    renewed: datetime | None
    duration: timedelta
    transitions: int


def parse_lease(spec: Mapping[str, Any] | None) -> LeaseRecord:
    spec = spec or {}
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    return LeaseRecord(
        holder=spec.get("holderIdentity") or None,
        renewed=_parse(renewed) if isinstance(renewed, str) else renewed,
        duration=timedelta(seconds=int(spec.get("leaseDurationSeconds") or 15)),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def may_take(record: LeaseRecord, me: str, now: datetime) -> bool:
    if record.holder in (None, "", me):
        return True
    return record.renewed is None or now - record.renewed > record.duration


def claim(record: LeaseRecord, me: str, now: datetime, duration: timedelta) -> dict[str, Any]:
    """The Lease spec that records `me` as holder, renewed now."""
    taking_over = record.holder != me
    spec: dict[str, Any] = {
        "holderIdentity": me,
        "leaseDurationSeconds": int(duration.total_seconds()),
        "renewTime": _format(now),
        "leaseTransitions": record.transitions + (1 if taking_over and record.holder else 0),
    }
    if taking_over:
        spec["acquireTime"] = _format(now)
    return spec


def release(record: LeaseRecord, now: datetime) -> dict[str, Any]:
    """The Lease spec a leader writes as it shuts down: nobody holds it, so a standby takes it on
    its next poll instead of waiting out the lease duration (client-go's ReleaseOnCancel)."""
    return {
        "holderIdentity": None,
        "leaseDurationSeconds": 1,
        "renewTime": _format(now),
        "leaseTransitions": record.transitions,
    }


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _format(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
