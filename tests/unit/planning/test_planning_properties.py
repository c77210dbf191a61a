"""Rules that must hold for every valid spec (hypothesis).

- A pool created from a spec and read back from Azure plans nothing.
- Any single change to an extension plans a recreate that names the extension (default policy).
- Changes confined to live-patchable properties never plan a recreate or a scale to zero.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from planning_helpers import RECREATE, SCALE_TO_ZERO, observe, render, types
from strategies import json_objects, referenced_keys, secret_refs, secret_values, short_names, specs

from azbatch_operator import planning, validation
from azbatch_operator.models import BatchPoolSpec
from azbatch_operator.planning import LIVE_PROPERTIES, ZERO_NODE_PROPERTIES, ActionType, extension_field
from azbatch_operator.rendering.secrets import NO_SECRETS

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def specs_with_secrets(draw: st.DrawFn) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    spec = draw(specs())
    return spec, draw(secret_values(spec))


@PROPERTY_SETTINGS
@given(specs())
def test_generated_specs_are_valid(spec: dict[str, Any]) -> None:
    errors = [f for f in validation.validate(BatchPoolSpec.model_validate(spec)) if f.severity == "error"]
    assert errors == []


@PROPERTY_SETTINGS
@given(
    specs_with_secrets(), st.integers(0, 3), st.integers(0, 2**16), st.sampled_from([RECREATE, SCALE_TO_ZERO])
)
def test_a_pool_read_back_after_create_plans_nothing(
    case: tuple[dict[str, Any], dict[tuple[str, str], str]], nodes: int, seed: int, policy: Any
) -> None:
    spec, secrets = case
    desired = render(spec, secrets)
    result = planning.plan(desired, observe(desired, dedicated=nodes, seed=seed), policy)
    assert result.is_noop, result.to_json()
    assert result.notes == ()


def _extensions(spec: dict[str, Any]) -> list[dict[str, Any]]:
    vmc: dict[str, Any] = spec["deploymentConfiguration"]["virtualMachineConfiguration"]
    extensions: list[dict[str, Any]] = vmc.setdefault("extensions", [])
    return extensions


@st.composite
def extension_edits(
    draw: st.DrawFn,
) -> tuple[dict[str, Any], dict[Any, str], dict[str, Any], dict[Any, str], str]:
    """(spec, secrets, spec', secrets', name of the one extension that differs)."""
    spec, secrets = draw(specs_with_secrets())
    edited, new_secrets = copy.deepcopy(spec), dict(secrets)
    existing = _extensions(edited)
    edit = draw(
        st.sampled_from(
            [
                "add",
                "remove",
                "version",
                "auto-upgrade",
                "automatic-upgrade",
                "settings",
                "protected",
                "secret",
            ]
        )
    )
    if edit == "add" or not existing:
        name = draw(short_names.filter(lambda n: n not in {e["name"] for e in existing}))
        existing.append(
            {"name": name, "publisher": "Microsoft.Azure.Monitor", "type": "AzureMonitorLinuxAgent"}
        )
        return spec, secrets, edited, new_secrets, name
    index = draw(st.integers(0, len(existing) - 1))
    target = existing[index]
    name = target["name"]
    if edit == "remove":
        del existing[index]
    elif edit == "version":
        target["typeHandlerVersion"] = draw(
            st.sampled_from(["1.1", "4.0", "9.9"]).filter(lambda v: v != target.get("typeHandlerVersion"))
        )
    elif edit == "auto-upgrade":
        target["autoUpgradeMinorVersion"] = not target.get("autoUpgradeMinorVersion", False)
    elif edit == "automatic-upgrade":
        target["enableAutomaticUpgrade"] = not target.get("enableAutomaticUpgrade", False)
    elif edit == "settings":
        new = draw(json_objects)
        assume((new or None) != (target.get("settings") or None))
        target["settings"] = new
    elif edit == "protected":  # add or drop the protectedSettings reference
        if "protectedSettings" in target:
            del target["protectedSettings"]
        else:
            target["protectedSettings"] = draw(secret_refs())
            new_secrets.update(draw(secret_values(edited)))
            ref = target["protectedSettings"]["secretKeyRef"]
            new_secrets[(ref["name"], ref["key"])] = json.dumps(draw(json_objects))
    else:  # same reference, new Secret value
        assume("protectedSettings" in target)
        ref = target["protectedSettings"]["secretKeyRef"]
        new_value = json.dumps(draw(json_objects))
        assume(json.loads(new_value) != json.loads(secrets[(ref["name"], ref["key"])]))
        new_secrets[(ref["name"], ref["key"])] = new_value
    return spec, secrets, edited, new_secrets, name


@PROPERTY_SETTINGS
@given(extension_edits(), st.integers(0, 3))
def test_every_extension_change_plans_a_recreate_naming_it(
    case: tuple[dict[str, Any], dict[Any, str], dict[str, Any], dict[Any, str], str], nodes: int
) -> None:
    spec, secrets, edited, new_secrets, name = case
    observed = observe(render(spec, secrets), dedicated=nodes)
    result = planning.plan(render(edited, new_secrets), observed, RECREATE)
    assert types(result) == ["recreate"], result.to_json()
    assert extension_field(name) in result.actions[0].fields
    assert any(repr(name) in reason for reason in result.actions[0].reasons)


@PROPERTY_SETTINGS
@given(extension_edits(), st.integers(1, 5))
def test_scale_to_zero_applies_an_extension_change_at_zero_nodes(
    case: tuple[dict[str, Any], dict[Any, str], dict[str, Any], dict[Any, str], str], target: int
) -> None:
    spec, secrets, edited, new_secrets, name = case
    for document in (spec, edited):
        document["scaleSettings"] = {"fixedScale": {"targetDedicatedNodes": target}}
    desired = render(edited, new_secrets)
    busy = planning.plan(desired, observe(render(spec, secrets)), SCALE_TO_ZERO)
    assert types(busy) == ["scale_to_zero", "patch"], busy.to_json()
    assert extension_field(name) in busy.actions[0].fields
    shrinking = planning.plan(
        desired, observe(_at_zero_target(render(spec, secrets)), dedicated=1), SCALE_TO_ZERO
    )
    assert types(shrinking) == ["patch"] and shrinking.waiting, shrinking.to_json()
    idle = planning.plan(desired, observe(render(spec, secrets), dedicated=0), SCALE_TO_ZERO)
    assert types(idle) == ["patch"], idle.to_json()
    assert extension_field(name) in idle.actions[0].fields
    patch = idle.actions[0].patch
    assert patch is not None
    assert patch["properties"]["deploymentConfiguration"] == desired.properties["deploymentConfiguration"]


def _at_zero_target(desired: Any) -> Any:
    """The pool after the operator asked for zero nodes (what scale_to_zero leaves behind)."""
    desired.properties["scaleSettings"] = {"fixedScale": {"targetDedicatedNodes": 0}}
    return desired


def _auto_scale(spec: dict[str, Any]) -> bool:
    return "autoScale" in (spec.get("scaleSettings") or {})


@st.composite
def live_edits(draw: st.DrawFn) -> tuple[dict[str, Any], dict[Any, str], dict[str, Any]]:
    """(spec, secrets, spec') where spec' differs only in live-patchable properties."""
    spec, secrets = draw(specs_with_secrets())
    edited = copy.deepcopy(spec)
    for prop in draw(
        st.sets(
            st.sampled_from(["metadata", "startTask", "scaleSettings", "applicationPackages"]),
            min_size=1,
        )
    ):
        if prop == "metadata":
            edited["metadata"] = [
                {"name": n, "value": "changed"} for n in draw(st.lists(short_names, max_size=3, unique=True))
            ]
        elif prop == "startTask":
            edited["startTask"] = {"commandLine": draw(st.sampled_from(["/bin/false", "echo new"]))}
        elif prop == "scaleSettings":
            edited["scaleSettings"] = {"fixedScale": {"targetDedicatedNodes": draw(st.integers(0, 30))}}
        elif prop == "applicationPackages":
            edited.pop("applicationPackages", None)
    return spec, secrets, edited


@PROPERTY_SETTINGS
@given(live_edits(), st.integers(0, 3), st.sampled_from([RECREATE, SCALE_TO_ZERO]))
def test_live_changes_never_recreate_or_scale_to_zero(
    case: tuple[dict[str, Any], dict[Any, str], dict[str, Any]], nodes: int, policy: Any
) -> None:
    spec, secrets, edited = case
    result = planning.plan(render(edited, secrets), observe(render(spec, secrets), dedicated=nodes), policy)
    assert set(types(result)) <= {"patch", "none"}, result.to_json()
    for action in result.actions:
        if action.type is ActionType.PATCH:
            assert action.patch is not None
            assert set(action.patch["properties"]) <= LIVE_PROPERTIES
            assert "identity" not in action.patch


ZERO_NODE_EDITS = (
    "vmSize",
    "taskSlotsPerNode",
    "interNodeCommunication",
    "taskSchedulingPolicy",
    "displayName",
    "userAccounts",
    "mountConfiguration",
    "upgradePolicy",
    "imageReference",
    "identity",
)


def _zero_node_edit(spec: dict[str, Any], edit: str) -> dict[str, Any]:
    edited = copy.deepcopy(spec)
    if edit == "vmSize":
        edited["vmSize"] = "Standard_E64s_v5"
    elif edit == "taskSlotsPerNode":
        edited["taskSlotsPerNode"] = 64
    elif edit == "interNodeCommunication":
        edited["interNodeCommunication"] = (
            "Disabled" if spec.get("interNodeCommunication") == "Enabled" else "Enabled"
        )
    elif edit == "taskSchedulingPolicy":
        fill = (spec.get("taskSchedulingPolicy") or {}).get("nodeFillType", "Spread")
        edited["taskSchedulingPolicy"] = {"nodeFillType": "Pack" if fill == "Spread" else "Spread"}
    elif edit == "displayName":
        edited["displayName"] = "a brand new display name"
    elif edit == "userAccounts":
        edited["userAccounts"] = [
            *spec.get("userAccounts", []),
            {"name": "zzznew", "password": {"secretKeyRef": {"name": "new", "key": "pw"}}},
        ]
    elif edit == "mountConfiguration":
        edited["mountConfiguration"] = [
            *spec.get("mountConfiguration", []),
            {"nfsMountConfiguration": {"source": "nfs://10.0.0.9/zzz", "relativeMountPath": "zzznew"}},
        ]
    elif edit == "upgradePolicy":
        mode = (spec.get("upgradePolicy") or {}).get("mode", "manual")
        edited["upgradePolicy"] = {"mode": "rolling" if mode != "rolling" else "manual"}
    elif edit == "identity":
        edited["identity"] = {
            "type": "UserAssigned",
            "userAssignedIdentities": {"/subscriptions/s/resourceGroups/rg/providers/x/zzz-new": {}},
        }
    else:
        vmc = edited["deploymentConfiguration"]["virtualMachineConfiguration"]
        vmc["imageReference"] = {"publisher": "Canonical", "offer": "another-offer", "sku": "server"}
    return edited


@PROPERTY_SETTINGS
@given(specs_with_secrets(), st.sampled_from(ZERO_NODE_EDITS), st.integers(1, 3))
def test_zero_node_changes_recreate_a_busy_pool_and_patch_an_idle_one(
    case: tuple[dict[str, Any], dict[tuple[str, str], str]], edit: str, nodes: int
) -> None:
    spec, secrets = case
    edited = _zero_node_edit(spec, edit)
    desired = render(edited, {**secrets, ("new", "pw"): "new-password"})
    busy = planning.plan(desired, observe(render(spec, secrets), dedicated=nodes), RECREATE)
    assert types(busy) == ["recreate"], busy.to_json()
    assert any(field.split(".")[0] in ZERO_NODE_PROPERTIES for field in busy.actions[0].fields)
    idle = planning.plan(desired, observe(render(spec, secrets), dedicated=0), RECREATE)
    assert types(idle)[0] == "patch", idle.to_json()
    assert ActionType.RECREATE not in {a.type for a in idle.actions}


@PROPERTY_SETTINGS
@given(specs(), st.integers(1, 3))
def test_no_secret_value_reaches_comparable_reprs_or_plan_json(spec: dict[str, Any], nodes: int) -> None:
    secrets = {
        (name, key): json.dumps({"value": f"SECRET-{index}-c0ffee"})
        for index, (name, key, _) in enumerate(_refs(spec))
    }
    desired = render(spec, secrets)
    observed = observe(desired, dedicated=nodes)
    changed = render(
        _zero_node_edit(spec, "vmSize"), {k: v.replace("c0ffee", "beef") for k, v in secrets.items()}
    )
    shown = json.dumps(desired.comparable) + repr(desired) + repr(observed) + json.dumps(observed.comparable)
    for policy in (RECREATE, SCALE_TO_ZERO):
        result = planning.plan(changed, observed, policy)
        shown += json.dumps(result.to_json()) + repr(result)
    assert "SECRET-" not in shown
    keyed = [d.rpartition(".")[2] for d in desired.secret_digests.values() if d != NO_SECRETS]
    assert all(digest not in shown for digest in [*keyed, *desired.legacy_digests.values()])


def _refs(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    return list({(n, k): (n, k, f) for n, k, f in referenced_keys(spec)}.values())
