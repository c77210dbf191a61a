"""The planning rules, one situation at a time (docs/planning.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from planning_helpers import RECREATE, SCALE_TO_ZERO, observe, render, types
from strategies import ACCOUNT, OWNER, azure_echo

from azbatch_operator import planning, rendering
from azbatch_operator.models import Policy
from azbatch_operator.planning import ActionType, OwnershipDecision, decide_ownership, extension_field

FIXTURES = Path(__file__).parents[1] / "rendering" / "fixtures"


def _example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


def _spec(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "account": dict(ACCOUNT),
        "poolName": "pool-a",
        "vmSize": "Standard_D2s_v3",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSkuId": "batch.node.ubuntu 24.04",
                "extensions": [
                    {
                        "name": "kvext",
                        "publisher": "Microsoft.Azure.KeyVault",
                        "type": "KeyVaultForLinux",
                        "protectedSettings": {"secretKeyRef": {"name": "kv", "key": "protected"}},
                    }
                ],
            }
        },
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/s/rg/uami": {}}},
        "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 3}},
        "userAccounts": [{"name": "batchuser", "password": {"secretKeyRef": {"name": "users", "key": "pw"}}}],
        "metadata": [{"name": "team", "value": "render"}],
    }
    spec.update(extra)
    return spec


SECRETS = {("kv", "protected"): '{"token": "a"}', ("users", "pw"): "pw-1"}


def _pool(spec: dict[str, Any] | None = None, secrets: dict[Any, str] | None = None, **echo: Any) -> Any:
    return observe(render(spec or _spec(), secrets or SECRETS), **echo)


# ------------------------------------------------------------------------------------------- create


def test_a_missing_pool_is_created() -> None:
    result = planning.plan(render(_spec(), SECRETS), None, RECREATE)
    assert types(result) == ["create"]
    assert "does not exist" in result.actions[0].reasons[0]
    assert not result.is_noop


def test_a_deleting_pool_is_created_again_once_it_is_gone() -> None:
    observed = _pool(provisioning_state="Deleting")
    result = planning.plan(render(_spec(), SECRETS), observed, RECREATE)
    assert types(result) == ["create"]
    assert result.waiting is not None and "Deleting" in result.waiting
    assert not result.is_noop


# ------------------------------------------------------------------------------------------- live


def test_live_changes_patch_only_what_changed() -> None:
    edited = _spec(
        startTask={"commandLine": "/bin/setup"}, scaleSettings={"fixedScale": {"targetDedicatedNodes": 5}}
    )
    result = planning.plan(render(edited, SECRETS), _pool(), RECREATE)
    assert types(result) == ["patch"]
    assert set(result.actions[0].fields) == {"startTask", "scaleSettings"}
    assert result.actions[0].patch == {
        "properties": {
            "scaleSettings": {
                "fixedScale": {"targetDedicatedNodes": 5, "nodeDeallocationOption": "TaskCompletion"}
            },
            "startTask": {"commandLine": "/bin/setup"},
        }
    }


def test_removing_a_start_task_patches_an_empty_object() -> None:
    observed = _pool(_spec(startTask={"commandLine": "/bin/setup"}))
    result = planning.plan(render(_spec(), SECRETS), observed, RECREATE)
    assert result.actions[0].patch == {"properties": {"startTask": {}}}


def test_a_metadata_patch_sends_the_whole_list_with_the_operators_items() -> None:
    desired = render(_spec(metadata=[{"name": "team", "value": "other"}]), SECRETS)
    result = planning.plan(desired, _pool(), RECREATE)
    assert types(result) == ["patch"]
    patch = result.actions[0].patch
    assert patch is not None
    sent = {item["name"]: item["value"] for item in patch["properties"]["metadata"]}
    assert sent["team"] == "other"
    assert sent["azbatch.dev/owner"] == OWNER
    assert {n for n in sent if n.startswith("azbatch.dev/secret-digest.")} == set(desired.secret_digests)


OTHER_IDENTITY = {"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/s/rg/other": {}}}


def test_an_identity_change_on_a_pool_with_nodes_waits_for_zero_nodes() -> None:
    # Azure takes the PATCH, but only nodes allocated after the pool was at zero get the identity.
    edited = _spec(identity=OTHER_IDENTITY)
    assert types(planning.plan(render(edited, SECRETS), _pool(), RECREATE)) == ["recreate"]
    assert types(planning.plan(render(edited, SECRETS), _pool(), SCALE_TO_ZERO)) == ["scale_to_zero", "patch"]


def test_an_identity_change_at_zero_nodes_patches_identity() -> None:
    edited = _spec(identity=OTHER_IDENTITY)
    result = planning.plan(render(edited, SECRETS), _pool(dedicated=0), RECREATE)
    assert types(result) == ["patch"]
    assert result.actions[0].patch == {"properties": {}, "identity": edited["identity"]}


# ------------------------------------------------------------------------------------- zero nodes


def test_a_zero_node_change_on_a_pool_with_nodes_recreates_under_recreate() -> None:
    result = planning.plan(render(_spec(vmSize="Standard_D4s_v3"), SECRETS), _pool(), RECREATE)
    assert types(result) == ["recreate"]
    assert result.actions[0].fields == ("vmSize",)
    assert "3 dedicated" in result.actions[0].reasons[0]
    assert (
        "standard_d2s_v3" in result.actions[0].reasons[1]
        and "standard_d4s_v3" in result.actions[0].reasons[1]
    )


def test_a_pool_steady_at_zero_nodes_takes_a_zero_node_change_by_patch() -> None:
    result = planning.plan(render(_spec(vmSize="Standard_D4s_v3"), SECRETS), _pool(dedicated=0), RECREATE)
    assert types(result) == ["patch"]
    assert result.actions[0].patch == {"properties": {"vmSize": "Standard_D4s_v3"}}


def test_a_pool_resizing_at_zero_nodes_is_not_steady() -> None:
    observed = _pool(dedicated=0, allocation_state="Resizing")
    result = planning.plan(render(_spec(vmSize="Standard_D4s_v3"), SECRETS), observed, RECREATE)
    assert types(result) == ["recreate"]


def test_scale_to_zero_shrinks_then_patches_and_resizes_back() -> None:
    desired = render(_spec(vmSize="Standard_D4s_v3"), SECRETS)
    result = planning.plan(desired, _pool(), SCALE_TO_ZERO)
    assert types(result) == ["scale_to_zero", "patch"]
    shrink, patch = result.actions
    assert shrink.patch == {
        "properties": {
            "scaleSettings": {
                "fixedScale": {
                    "targetDedicatedNodes": 0,
                    "targetLowPriorityNodes": 0,
                    "nodeDeallocationOption": "TaskCompletion",
                }
            }
        }
    }
    assert patch.patch == {
        "properties": {
            "vmSize": "Standard_D4s_v3",
            "scaleSettings": {
                "fixedScale": {"targetDedicatedNodes": 3, "nodeDeallocationOption": "TaskCompletion"}
            },
        }
    }


def _scaled_to(target: int, **fixed: Any) -> dict[str, Any]:
    return _spec(scaleSettings={"fixedScale": {"targetDedicatedNodes": target, **fixed}})


def test_a_scale_down_lets_running_tasks_finish_unless_the_spec_says_otherwise() -> None:
    """Azure's default for a shrink is Requeue (running tasks stopped): never the operator's."""
    grown = _pool(dedicated=5)  # the spec says 3; someone resized the pool to 5 by hand
    for desired, policy, option in (
        (render(_scaled_to(3), SECRETS), None, "TaskCompletion"),
        (render(_scaled_to(2), SECRETS), None, "TaskCompletion"),
        (render(_scaled_to(2), SECRETS), Policy(drain={"enabled": False}), "Requeue"),
        (render(_scaled_to(2, nodeDeallocationOption="Terminate"), SECRETS), None, "Terminate"),
    ):
        result = planning.plan(desired, observe(render(_scaled_to(5), SECRETS), dedicated=5), policy)
        assert types(result) == ["patch"]
        patch = result.actions[0].patch
        assert patch is not None
        assert patch["properties"]["scaleSettings"]["fixedScale"]["nodeDeallocationOption"] == option
    assert types(planning.plan(render(_spec(), SECRETS), grown)) == ["none"], (
        "drift is in the target: nodes over a target the spec shares, with no resize error, are left alone"
    )


def test_a_scale_down_azure_ended_with_nodes_still_busy_is_resized_again() -> None:
    answer = azure_echo(render(_spec(), SECRETS).body, dedicated=5)
    answer["properties"]["resizeOperationStatus"] = {
        "targetDedicatedNodes": 3,
        "errors": [{"code": "RemoveNodesFailed", "message": "2 nodes were still running tasks"}],
    }
    busy = rendering.observe_pool(answer)
    result = planning.plan(render(_spec(), SECRETS), busy)
    assert types(result) == ["resize"]
    patch = result.actions[0].patch
    assert patch is not None
    assert patch["properties"]["scaleSettings"]["fixedScale"] == {
        "targetDedicatedNodes": 3,
        "nodeDeallocationOption": "TaskCompletion",
    }


def test_scale_to_zero_without_drain_requeues_tasks() -> None:
    policy = SCALE_TO_ZERO.model_copy(
        update={"drain": SCALE_TO_ZERO.drain.model_copy(update={"enabled": False})}
    )
    result = planning.plan(render(_spec(vmSize="Standard_D4s_v3"), SECRETS), _pool(), policy)
    assert result.actions[0].patch is not None
    assert (
        result.actions[0].patch["properties"]["scaleSettings"]["fixedScale"]["nodeDeallocationOption"]
        == "Requeue"
    )


def test_scale_to_zero_waits_while_the_pool_shrinks() -> None:
    shrinking = copy.deepcopy(_spec())
    shrinking["scaleSettings"] = {"fixedScale": {"targetDedicatedNodes": 0}}
    observed = _pool(shrinking, dedicated=2, allocation_state="Resizing")
    result = planning.plan(render(_spec(vmSize="Standard_D4s_v3"), SECRETS), observed, SCALE_TO_ZERO)
    assert types(result) == ["patch"]
    assert result.waiting is not None and "zero nodes" in result.waiting


def test_after_scaling_to_zero_the_patch_also_resizes_back() -> None:
    at_zero = _spec(scaleSettings={"fixedScale": {"targetDedicatedNodes": 0}})
    result = planning.plan(render(_spec(vmSize="Standard_D4s_v3"), SECRETS), _pool(at_zero), SCALE_TO_ZERO)
    assert types(result) == ["patch"]
    assert result.actions[0].patch == {
        "properties": {
            "vmSize": "Standard_D4s_v3",
            "scaleSettings": {
                "fixedScale": {"targetDedicatedNodes": 3, "nodeDeallocationOption": "TaskCompletion"}
            },
        }
    }


# ------------------------------------------------------------------------------------- extensions


def test_an_extension_change_recreates_even_at_zero_nodes_by_default() -> None:
    edited = _spec()
    edited["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0][
        "typeHandlerVersion"
    ] = "3.0"
    result = planning.plan(render(edited, SECRETS), _pool(dedicated=0), RECREATE)
    assert types(result) == ["recreate"]
    assert result.actions[0].fields == (extension_field("kvext"),)
    assert "extensions cannot change on an existing pool ('kvext')" in result.actions[0].reasons[0]


def test_a_changed_protected_settings_secret_recreates_naming_the_extension() -> None:
    result = planning.plan(
        render(_spec(), {**SECRETS, ("kv", "protected"): '{"token": "b"}'}), _pool(), RECREATE
    )
    assert types(result) == ["recreate"]
    assert extension_field("kvext") in result.actions[0].fields
    assert any("protected settings of extension 'kvext'" in r for r in result.actions[0].reasons)
    assert all('"b"' not in r for r in result.actions[0].reasons)


def test_a_changed_password_is_a_zero_node_change_of_user_accounts() -> None:
    desired = render(_spec(), {**SECRETS, ("users", "pw"): "pw-2"})
    assert types(planning.plan(desired, _pool(), RECREATE)) == ["recreate"]
    at_zero = planning.plan(desired, _pool(dedicated=0), RECREATE)
    assert types(at_zero) == ["patch"]
    patch = at_zero.actions[0].patch
    assert patch is not None
    assert patch["properties"]["userAccounts"][0]["password"] == "pw-2"
    assert "metadata" in patch["properties"]  # the new digest travels with the change


# --------------------------------------------------------------------------------- digests, adoption


def _without_digests(pool: dict[str, Any]) -> dict[str, Any]:
    items = pool["properties"]["metadata"]
    pool["properties"]["metadata"] = [
        i for i in items if not i["name"].startswith("azbatch.dev/secret-digest.")
    ]
    return pool


def test_an_adopted_pool_without_digests_records_them_without_a_recreate() -> None:
    desired = render(_spec(), SECRETS)
    observed = rendering.observe_pool(_without_digests(azure_echo(desired.body)))
    result = planning.plan(desired, observed, RECREATE)
    assert types(result) == ["patch"]
    assert result.actions[0].fields == ("metadata",)
    assert any("assumed unchanged" in note for note in result.notes)


def test_stale_digests_are_removed_with_a_metadata_patch() -> None:
    desired = render(_spec(), SECRETS)
    pool = azure_echo(desired.body)
    pool["properties"]["metadata"].append({"name": "azbatch.dev/secret-digest.user.gone", "value": "00"})
    result = planning.plan(desired, rendering.observe_pool(pool), RECREATE)
    assert types(result) == ["patch"]
    assert "remove 1 secret digest" in result.actions[0].reasons[0]


def test_unresolved_secrets_are_not_compared_and_their_digests_are_kept() -> None:
    observed = _pool()
    offline = rendering.render_pool(
        _spec(metadata=[]), secrets={}, owner=OWNER, digest_key=b"x" * 16, allow_unresolved=True
    )
    result = planning.plan(offline, observed, RECREATE)
    assert types(result) == ["patch"]
    assert any("not compared" in note for note in result.notes)
    patch = result.actions[0].patch
    assert patch is not None
    kept = {i["name"]: i["value"] for i in patch["properties"]["metadata"]}
    assert (
        kept["azbatch.dev/secret-digest.extension.kvext"]
        == observed.secret_digests["azbatch.dev/secret-digest.extension.kvext"]
    )


def test_an_unowned_pool_gets_the_owner_tag() -> None:
    desired = render(_spec(), SECRETS)
    pool = azure_echo(desired.body)
    pool["properties"]["metadata"] = [
        i for i in pool["properties"]["metadata"] if i["name"] != "azbatch.dev/owner"
    ]
    result = planning.plan(desired, rendering.observe_pool(pool), RECREATE)
    assert types(result) == ["patch"]
    assert "record the owner tag" in result.actions[0].reasons[0]


# ----------------------------------------------------------------------------------------- resize


def _short(pool: dict[str, Any], errors: bool = True) -> dict[str, Any]:
    pool["properties"]["currentDedicatedNodes"] = 1
    if errors:
        pool["properties"]["resizeOperationStatus"] = {
            "targetDedicatedNodes": 3,
            "errors": [{"code": "AllocationTimedout", "message": "timed out"}],
        }
    return pool


def test_a_steady_pool_short_of_its_target_with_resize_errors_is_resized_again() -> None:
    desired = render(_spec(), SECRETS)
    result = planning.plan(desired, rendering.observe_pool(_short(azure_echo(desired.body))), RECREATE)
    assert types(result) == ["resize"]
    assert "AllocationTimedout" in result.actions[0].reasons[0]
    assert result.actions[0].patch == {
        "properties": {
            "scaleSettings": {
                "fixedScale": {"targetDedicatedNodes": 3, "nodeDeallocationOption": "TaskCompletion"}
            }
        }
    }


def test_no_resize_while_allocating_or_without_errors() -> None:
    desired = render(_spec(), SECRETS)
    resizing = _short(azure_echo(desired.body, allocation_state="Resizing"))
    assert planning.plan(desired, rendering.observe_pool(resizing), RECREATE).is_noop
    no_errors = _short(azure_echo(desired.body), errors=False)
    assert planning.plan(desired, rendering.observe_pool(no_errors), RECREATE).is_noop


# ----------------------------------------------------------------------------------- wire examples


def _example_spec() -> dict[str, Any]:
    request = _example("PoolCreate_VirtualMachineConfiguration_Extensions.json")["parameters"]["parameters"]
    return {"account": dict(ACCOUNT), "poolName": "testpool", **request["properties"]}


def test_the_create_example_read_back_needs_only_the_operators_metadata() -> None:
    desired = render(_example_spec())
    observed = rendering.observe_pool(
        _example("PoolCreate_VirtualMachineConfiguration_Extensions.json")["responses"]["200"]["body"]
    )
    result = planning.plan(desired, observed, RECREATE)
    assert types(result) == ["patch"]
    assert result.actions[0].fields == ("metadata",)


def test_the_get_example_observed_against_the_create_example_spec() -> None:
    desired = render(_example_spec())
    observed = rendering.observe_pool(
        _example("PoolGet_VirtualMachineConfiguration_Extensions.json")["responses"]["200"]["body"]
    )
    result = planning.plan(desired, observed, RECREATE)
    assert types(result) == ["recreate"]
    assert set(result.actions[0].fields) == {
        "interNodeCommunication",
        "scaleSettings",
        "taskSchedulingPolicy",
        "taskSlotsPerNode",
        "metadata",
    }
    assert types(planning.plan(desired, observed, SCALE_TO_ZERO)) == ["scale_to_zero", "patch"]


# ------------------------------------------------------------------------------------ plan values


def test_plan_json_never_carries_the_patch_body() -> None:
    result = planning.plan(
        render(_spec(), {**SECRETS, ("users", "pw"): "pw-2"}), _pool(dedicated=0), RECREATE
    )
    text = json.dumps(result.to_json()) + repr(result)
    assert "pw-2" not in text
    assert set(result.to_json()["actions"][0]) == {"type", "fields", "reasons"}


def test_nothing_to_do_is_a_single_none_action() -> None:
    result = planning.plan(render(_spec(), SECRETS), _pool(), RECREATE)
    assert result.is_noop
    assert result.to_json() == {
        "actions": [{"type": "none", "fields": [], "reasons": ["the pool matches the spec"]}]
    }


# -------------------------------------------------------------------------------------- ownership


@pytest.mark.parametrize(
    ("owner", "adopt", "decision", "allowed"),
    [
        (OWNER, False, OwnershipDecision.OWNED, True),
        (None, True, OwnershipDecision.ADOPT, True),
        (None, False, OwnershipDecision.UNOWNED, False),
        ("other-cluster/ns/pool", True, OwnershipDecision.FOREIGN, False),
    ],
)
def test_ownership(owner: str | None, adopt: bool, decision: OwnershipDecision, allowed: bool) -> None:
    result = decide_ownership(owner, OWNER, adopt=adopt)
    assert result.decision is decision
    assert result.allowed is allowed
    assert result.reason.isalpha() and result.reason[0].isupper()


def test_a_foreign_pool_names_its_owner() -> None:
    result = decide_ownership("other-cluster/ns/pool", OWNER, adopt=True)
    assert "other-cluster/ns/pool" in result.message


def test_unowned_without_adoption_says_how_to_adopt() -> None:
    assert "spec.policy.adopt: true" in decide_ownership(None, OWNER, adopt=False).message


def test_action_types_are_the_cli_names() -> None:
    assert [t.value for t in ActionType] == ["none", "create", "patch", "resize", "scale_to_zero", "recreate"]


def test_removing_scale_settings_drains_the_nodes_as_the_policy_says() -> None:
    spec = _spec()
    del spec["scaleSettings"]
    result = planning.plan(render(spec, SECRETS), _pool(), RECREATE)
    assert types(result) == ["patch"]
    patch = result.actions[0].patch
    assert patch is not None
    assert patch["properties"]["scaleSettings"] == {
        "fixedScale": {
            "targetDedicatedNodes": 0,
            "targetLowPriorityNodes": 0,
            "nodeDeallocationOption": "TaskCompletion",
            "resizeTimeout": "PT30M",
        }
    }
    no_drain = planning.plan(render(spec, SECRETS), _pool(), Policy(drain={"enabled": False}))
    fixed = no_drain.actions[0].patch["properties"]["scaleSettings"]["fixedScale"]  # type: ignore[index]
    assert fixed["nodeDeallocationOption"] == "Requeue" and "resizeTimeout" not in fixed
