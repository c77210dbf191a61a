"""Whose pool is it? The owner tag (metadata ``azbatch.dev/owner``) decides whether we may write."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from azbatch_operator.rendering import OWNER_METADATA


class OwnershipDecision(enum.Enum):
    OWNED = "owned"  # tagged with our owner id: manage it
    ADOPT = "adopt"  # no owner tag and spec.policy.adopt is true: tag it, then manage it
    FOREIGN = "foreign"  # tagged by another BatchPool or cluster: never touch it
    UNOWNED = "unowned"  # no owner tag and adoption is not allowed: leave it alone


# Condition reasons (CamelCase, as kstatus conditions spell them).
_REASONS = {
    OwnershipDecision.OWNED: "Owned",
    OwnershipDecision.ADOPT: "Adopting",
    OwnershipDecision.FOREIGN: "OwnedByAnother",
    OwnershipDecision.UNOWNED: "AdoptionNotAllowed",
}


@dataclass(frozen=True)
class Ownership:
    """``reason``: a condition reason (CamelCase); ``message``: what it means and what to do."""

    decision: OwnershipDecision
    message: str

    @property
    def reason(self) -> str:
        return _REASONS[self.decision]

    @property
    def allowed(self) -> bool:
        """True when the operator may write to the pool (it owns it, or adopts it now)."""
        return self.decision in (OwnershipDecision.OWNED, OwnershipDecision.ADOPT)


def decide_ownership(observed_owner: str | None, me: str, *, adopt: bool) -> Ownership:
    """``me`` is ``<cluster id>/<namespace>/<name>``; ``observed_owner`` the pool's tag, if any."""
    if observed_owner == me:
        return Ownership(OwnershipDecision.OWNED, f"the pool is owned by this BatchPool ({me})")
    if observed_owner:
        return Ownership(
            OwnershipDecision.FOREIGN,
            f"the pool belongs to {observed_owner} (metadata {OWNER_METADATA}); it is left untouched. "
            "Use another spec.poolName, or remove that owner's BatchPool with deletionPolicy Orphan and "
            "delete the tag before adopting it",
        )
    if adopt:
        return Ownership(
            OwnershipDecision.ADOPT,
            f"the pool has no owner tag and spec.policy.adopt is true: it is adopted and tagged {me}",
        )
    return Ownership(
        OwnershipDecision.UNOWNED,
        "a pool with this name already exists and has no owner tag: set spec.policy.adopt: true to take it "
        "over, or choose another spec.poolName",
    )
