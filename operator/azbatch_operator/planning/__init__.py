"""Planning (pure): which actions make an Azure Batch pool match its BatchPool spec.

``plan(desired, observed, policy)`` compares ``rendering.DesiredPool`` with
``rendering.ObservedPool`` and returns ordered actions; ``decide_ownership`` says whether the
operator may touch a pool at all. docs/planning.md explains the rules.
"""

from azbatch_operator.planning.changes import Change, extension_field
from azbatch_operator.planning.fields import LIVE_PROPERTIES, ZERO_NODE_PROPERTIES, ChangeKind
from azbatch_operator.planning.ownership import Ownership, OwnershipDecision, decide_ownership
from azbatch_operator.planning.plan import Action, ActionType, Plan, adopt, plan

__all__ = [
    "LIVE_PROPERTIES",
    "ZERO_NODE_PROPERTIES",
    "Action",
    "ActionType",
    "Change",
    "ChangeKind",
    "Ownership",
    "OwnershipDecision",
    "Plan",
    "adopt",
    "decide_ownership",
    "extension_field",
    "plan",
]
