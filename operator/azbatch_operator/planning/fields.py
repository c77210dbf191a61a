"""How Azure Batch lets each pool property change, and the value that clears a property in a PATCH.

- LIVE: PATCH on a pool with nodes (applicationPackages, certificates, metadata, scaleSettings,
  startTask).
- ZERO_NODES: the 2024-07-01+ API accepts these by PATCH only while the pool is steady at zero
  nodes; otherwise ``policy.updateStrategy`` decides (Recreate, or ScaleToZero: resize to 0, patch,
  resize back). ``identity`` is one of them: Azure accepts a new identity by PATCH on a live
  pool, but only nodes allocated after the pool has shrunk to zero get it (the pool identity's
  documentation), so patching it on a pool with nodes would report success while no node has
  the identity its Key Vault extension needs.
- EXTENSION: any change to ``virtualMachineConfiguration.extensions`` (an extension added, removed,
  or any field of one changed, ``protectedSettings`` included). The seeds say extensions cannot be
  changed on an existing pool, so by default this is a recreate even at zero nodes; with
  ``updateStrategy: ScaleToZero`` it is applied by PATCH at zero nodes like the rest of
  ``deploymentConfiguration``.

A property not listed here is treated as ZERO_NODES: asking for zero nodes is the safe side.
"""

from __future__ import annotations

import enum
from typing import Any, Final


class ChangeKind(enum.Enum):
    LIVE = "live"
    ZERO_NODES = "zero-nodes"
    EXTENSION = "extension"


IDENTITY: Final = "identity"

LIVE_PROPERTIES: Final = frozenset(
    {"applicationPackages", "certificates", "metadata", "scaleSettings", "startTask"}
)

ZERO_NODE_PROPERTIES: Final = frozenset(
    {
        "vmSize",
        "deploymentConfiguration",
        "taskSlotsPerNode",
        "taskSchedulingPolicy",
        "networkConfiguration",
        "userAccounts",
        "mountConfiguration",
        "upgradePolicy",
        "interNodeCommunication",
        "displayName",
        IDENTITY,
    }
)


def kind_of(prop: str) -> ChangeKind:
    return ChangeKind.LIVE if prop in LIVE_PROPERTIES else ChangeKind.ZERO_NODES


# What a PATCH sends to take a property back to "not set": Azure's PATCH leaves absent properties
# unchanged, so removing something from the spec must be said explicitly.
CLEARED_VALUES: Final[dict[str, Any]] = {
    "metadata": [],
    "applicationPackages": [],
    "certificates": [],
    "userAccounts": [],
    "mountConfiguration": [],
    "startTask": {},  # ARM: "an empty object removes the start task from the pool"
    "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 0, "targetLowPriorityNodes": 0}},
    "taskSlotsPerNode": 1,
    "interNodeCommunication": "Disabled",
    "taskSchedulingPolicy": {"nodeFillType": "Spread"},
    "networkConfiguration": {},
    "upgradePolicy": {"mode": "manual"},
    IDENTITY: {"type": "None"},
}
