"""ARM-style path canonicalisation: type and action segments case-insensitive, slashes collapsed,
names untouched (the emulator's routes are matched against the canonical form)."""

from __future__ import annotations

import pytest

from azbatch_emulator.routing import canonical_path, plane_of

SUB = "/subscriptions/s1"
ACCOUNT = f"{SUB}/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct"


@pytest.mark.parametrize(
    ("sent", "routed"),
    [
        (f"{SUB}/resourcegroups/rg/providers/microsoft.batch//BATCHACCOUNTS/acct", ACCOUNT),
        ("//SUBSCRIPTIONS/s1/resourceGroups/rg/Providers/Microsoft.Batch/batchaccounts/acct", ACCOUNT),
        (f"{ACCOUNT}/POOLS/Pools/STOPRESIZE", f"{ACCOUNT}/pools/Pools/stopResize"),  # a pool named Pools
        (f"{ACCOUNT}/listkeys", f"{ACCOUNT}/listKeys"),
        (f"{SUB}/PROVIDERS/microsoft.batch/BatchAccounts", f"{SUB}/providers/Microsoft.Batch/batchAccounts"),
        ("//metadata/endpoints", "/metadata/endpoints"),
        ("/batch/acct/POOLS/p1/Resize", "/batch/acct/pools/p1/resize"),
        ("/batch/acct/pools/Nodes/nodes", "/batch/acct/pools/Nodes/nodes"),  # a pool named Nodes
        ("/tenant-id/oauth2/v2.0/token", "/tenant-id/oauth2/v2.0/token"),
    ],
)
def test_canonical_path(sent: str, routed: str) -> None:
    assert canonical_path(sent) == routed


@pytest.mark.parametrize(
    ("path", "plane"),
    [
        ("/subscriptions/x/nothing", "mgmt"),
        ("/no/such/thing", "mgmt"),
        ("/batch/acct/jobs", "batch"),
        ("/_admin/nope", "admin"),
        ("/tenant/oauth2/v2.0/nope", "entra"),
        ("/tenant/v2.0/.well-known/nope", "entra"),
    ],
)
def test_unrouted_paths_get_their_planes_404(path: str, plane: str) -> None:
    assert plane_of(path) == plane
