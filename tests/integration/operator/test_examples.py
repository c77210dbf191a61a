"""Every file in examples/ applies unchanged to the stand-ins and becomes Ready: the emulator's
pre-created account is the one the examples name, nothing rewrites them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from azbatch_emulator import settings
from azbatch_operator.sandbox import Sandbox, emulator_account

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILES = sorted(EXAMPLES.glob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def test_the_examples_name_the_emulators_account(sandbox: Sandbox) -> None:
    assert emulator_account() == {
        "subscriptionId": sandbox.info["subscription_id"],
        "resourceGroup": sandbox.info["resource_group"],
        "accountName": sandbox.info["account_name"],
    }
    assert sandbox.info["subscription_id"] == settings.DEFAULT_SUBSCRIPTION_ID
    for path in FILES:
        for document in documents(path):
            if document["kind"] == "BatchPool":
                assert document["spec"]["account"] == emulator_account(), path.name


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_each_example_applied_unchanged_becomes_ready(sandbox: Sandbox, path: Path) -> None:
    pools = []
    for document in documents(path):
        sandbox.kube.apply(document)  # as `kubectl apply -f examples/<file>` sends it
        if document["kind"] == "BatchPool":
            pools.append(document["metadata"]["name"])
    assert pools, f"{path.name} holds no BatchPool"
    for name in pools:
        ready = sandbox.wait_for_condition(name, "Ready", timeout=90)
        assert ready["status"]["pool"]["id"].startswith(sandbox.info["account_id"] + "/pools/")
