"""A pool whose subscription, resource group or Batch account does not exist is Stalled with the
missing ARM id and what to check, with an event and no Azure write; `plan` says the same instead of
proposing a create."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from azbatch_operator.cli import main
from azbatch_operator.sandbox import Sandbox, emulator_account, pool_manifest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "keyvault-linux.yaml"
NO_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
SUB = emulator_account()["subscriptionId"]
CASES = {
    "subscription": (
        {"subscriptionId": NO_SUBSCRIPTION},
        "SubscriptionNotFound",
        f"/subscriptions/{NO_SUBSCRIPTION}",
        "spec.account.subscriptionId",
    ),
    "group": (
        {"resourceGroup": "no-such-rg"},
        "ResourceGroupNotFound",
        f"/subscriptions/{SUB}/resourceGroups/no-such-rg",
        "spec.account.resourceGroup",
    ),
    "account": (
        {"accountName": "nosuchacct"},
        "AccountNotFound",
        f"/subscriptions/{SUB}/resourceGroups/azbatch-emulator/providers/Microsoft.Batch/batchAccounts/nosuchacct",
        "spec.account.accountName",
    ),
}


def _events_for(sandbox: Sandbox, name: str) -> list[dict[str, Any]]:
    events = sandbox.kube.list_objects("v1", "Event", namespace="default")
    return [e for e in events if (e.get("involvedObject") or {}).get("name") == name]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_missing_parent_stalls_naming_it(sandbox: Sandbox, case: str) -> None:
    change, reason, missing, field = CASES[case]
    name = f"lost-{case}"
    manifest = pool_manifest(name)
    manifest["spec"]["account"] = {**emulator_account(), **change}
    sandbox.admin.reset_counters()
    sandbox.kube.apply(manifest)
    stalled = sandbox.wait_for_condition(name, "Stalled", timeout=60)
    condition = next(c for c in stalled["status"]["conditions"] if c["type"] == "Stalled")
    assert condition["reason"] == reason, condition
    assert missing + " does not exist" in condition["message"], condition
    assert field in condition["message"], condition
    ready = next(c for c in stalled["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert sandbox.admin.management_writes() == 0, "nothing can be created under a missing parent"
    assert any(e["reason"] == reason and missing in e["message"] for e in _events_for(sandbox, name))
    sandbox.kube.delete(manifest)
    sandbox.kube.wait_for(manifest, lambda o: o is None, "deleted", timeout=60)


def test_a_stalled_pool_is_created_once_its_account_exists(sandbox: Sandbox) -> None:
    """Nothing wakes the pool when someone creates the account: it looks again every resync interval."""
    manifest = pool_manifest("late-account")
    manifest["spec"]["account"] = {**emulator_account(), "accountName": "lateacct"}
    sandbox.kube.apply(manifest)
    sandbox.wait_for_condition("late-account", "Stalled", timeout=60, reason="AccountNotFound")
    sandbox.admin.create_account("lateacct", subscription_id=SUB, resource_group="azbatch-emulator")
    sandbox.wait_for_condition("late-account", "Ready", timeout=60)  # the sandbox's interval is 2 s
    sandbox.kube.delete(manifest)
    sandbox.kube.wait_for(manifest, lambda o: o is None, "deleted", timeout=60)


def _example_with(tmp_path: Path, change: dict[str, str]) -> Path:
    documents = list(yaml.safe_load_all(EXAMPLE.read_text()))
    for document in documents:
        if document and document["kind"] == "BatchPool":
            document["spec"]["account"] = {**document["spec"]["account"], **change}
    path = tmp_path / EXAMPLE.name
    path.write_text(yaml.safe_dump_all(copy.deepcopy(documents)))
    return path


def test_live_plan_of_the_example_proposes_a_create(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(EXAMPLE), "-o", "json"]) == 2  # the environment points at the emulator
    plan = json.loads(capsys.readouterr().out)
    assert [a["type"] for a in plan["actions"]] == ["create"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_live_plan_names_the_missing_parent_instead_of_a_create(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    change, reason, missing, field = CASES[case]
    assert main(["plan", "-f", str(_example_with(tmp_path, change))]) == 1
    out, err = capsys.readouterr()
    assert "create" not in out
    assert err.startswith(f"azbatch-operator plan: {reason}: cannot plan pool 'test1'"), err
    assert missing + " does not exist" in err and field in err
