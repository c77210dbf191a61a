"""A pool's changed identity reaches only nodes created after the pool was at zero nodes
(BatchPoolIdentity in the management spec), as the management client and the admin node view show."""

from __future__ import annotations

from typing import Any

from emulator_helpers import small_pool, wait_until_steady

from azbatch_emulator.admin import AdminClient
from azbatch_emulator.pools import Pool
from azbatch_emulator.timings import Timings

UAI = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"


def identity(name: str) -> dict[str, Any]:
    return {"type": "UserAssigned", "userAssignedIdentities": {UAI + name: {}}}


def scale(dedicated: int) -> dict[str, Any]:
    return {"properties": {"scaleSettings": {"fixedScale": {"targetDedicatedNodes": dedicated}}}}


def node_identities(admin: AdminClient, pool_id: str) -> list[list[str]]:
    return sorted(
        sorted((n["identity"] or {}).get("userAssignedIdentities", {})) for n in admin.pool_nodes(pool_id)
    )


async def test_a_new_identity_reaches_only_nodes_created_after_the_pool_was_empty(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "ident", {**small_pool(nodes=2), "identity": identity("a")})
    wait_until_steady(admin)
    assert node_identities(admin, created.id) == [[UAI + "a"], [UAI + "a"]]
    (node,) = admin.pool_nodes(created.id)[:1]
    assigned = node["identity"]["userAssignedIdentities"][UAI + "a"]
    assert assigned["principalId"] and assigned["clientId"]  # as ARM shows the pool's identity

    patched = await mgmt.pool.update(rg, account, "ident", {"identity": identity("b")})  # a live pool
    assert list(patched.identity.user_assigned_identities) == [UAI + "b"]
    await mgmt.pool.update(rg, account, "ident", scale(3))
    wait_until_steady(admin)
    # The pool never was at zero: the node it grew by has the old identity too.
    assert node_identities(admin, created.id) == [[UAI + "a"]] * 3

    await mgmt.pool.update(rg, account, "ident", scale(0))
    wait_until_steady(admin)
    await mgmt.pool.update(rg, account, "ident", scale(2))
    wait_until_steady(admin)
    assert node_identities(admin, created.id) == [[UAI + "b"]] * 2


async def test_an_identity_set_on_an_empty_pool_applies_to_its_first_nodes(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    created = await mgmt.pool.create(rg, account, "emptyident", small_pool(nodes=0))
    await mgmt.pool.update(rg, account, "emptyident", {"identity": identity("c")})
    await mgmt.pool.update(rg, account, "emptyident", scale(1))
    wait_until_steady(admin)
    assert node_identities(admin, created.id) == [[UAI + "c"]]

    await mgmt.pool.update(rg, account, "emptyident", {"identity": {"type": "None"}})
    await mgmt.pool.update(rg, account, "emptyident", scale(0))
    wait_until_steady(admin)
    await mgmt.pool.update(rg, account, "emptyident", scale(1))
    wait_until_steady(admin)
    (node,) = admin.pool_nodes(created.id)
    assert node["identity"] == {"type": "None"}


def test_identities_and_tasks_survive_persistence_and_old_state_files_load() -> None:
    body = {**small_pool(nodes=2), "identity": identity("a")}
    pool = Pool(arm_id="/subscriptions/s/x/pools/p", name="p", body=body, now=0.0, timings=Timings())
    pool.resize_to(
        0.0, targets=pool.desired_targets(0.0), timeout_seconds=900, free_cores=(1e9, 1e9), scripts=[]
    )
    pool.busy(1000.0, 60, count=1, node_ids=None)
    pool.body["identity"] = identity("b")
    state = pool.to_state()
    again = Pool.from_state(state, Timings())
    assert again.to_state() == state
    assert [n.identity for n in again.nodes] == [identity("a")] * 2
    assert again.node_identity == identity("a")
    assert sum(len(n.tasks) for n in again.nodes) == 1

    old = {k: v for k, v in state.items() if k != "node_identity"}
    old["nodes"] = [{k: v for k, v in n.items() if k not in ("identity", "tasks")} for n in state["nodes"]]
    loaded = Pool.from_state(old, Timings())
    assert [n.identity for n in loaded.nodes] == [identity("b")] * 2  # the pool's, as before
    assert all(n.tasks == [] for n in loaded.nodes)
