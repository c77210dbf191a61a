"""The project's examples and the seed's request body: rendered, read back from Azure, nothing to do."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from planning_helpers import RECREATE, observe, render, types
from strategies import ACCOUNT, azure_echo

from azbatch_operator import planning, rendering
from azbatch_operator.models import load_manifests, secrets_from_documents
from azbatch_operator.validation import has_errors, validate_manifest

ROOT = Path(__file__).parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SEED_BODY = Path(__file__).parents[1] / "rendering" / "fixtures" / "seed-001-linux-body.json"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_reads_back_as_nothing_to_do(path: Path) -> None:
    manifests = load_manifests(path.read_text())
    secrets = secrets_from_documents(manifests.others)
    for document in manifests.pools:
        resource, findings = validate_manifest(document)
        assert resource is not None and not has_errors(findings)
        for ref in rendering.secret_refs(resource.spec):  # examples without Secret documents
            secrets.setdefault((ref.name, ref.key), '{"example": true}')
        desired = render(resource.spec.model_dump(by_alias=True, exclude_none=True), secrets)
        for seed in range(3):
            result = planning.plan(desired, observe(desired, name=resource.pool_name, seed=seed), RECREATE)
            assert result.is_noop, (path.name, result.to_json())


def _seed() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(SEED_BODY.read_text())
    return body


def test_the_seed_body_is_what_the_operator_sends() -> None:
    seed = _seed()
    properties = copy.deepcopy(seed["properties"])
    for extension in properties["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"]:
        del extension["protectedSettings"]  # the seed's empty {}: no protected settings
    desired = render(
        {"account": ACCOUNT, "poolName": seed["name"], "identity": seed["identity"], **properties}
    )
    sent = {k: v for k, v in desired.properties.items() if k != "metadata"}
    assert sent == properties
    assert desired.body["identity"] == seed["identity"]
    assert desired.pool_name == "test1"


def test_the_seed_pool_read_back_with_nodes_plans_nothing_and_an_extension_edit_recreates() -> None:
    seed = _seed()
    properties = copy.deepcopy(seed["properties"])
    extensions = properties["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"]
    for extension in extensions:
        del extension["protectedSettings"]
    spec = {"account": ACCOUNT, "poolName": "test1", "identity": seed["identity"], **properties}
    desired = render(spec)
    observed = rendering.observe_pool(azure_echo(desired.body, name="test1"))
    assert observed.current_dedicated_nodes == 1
    assert planning.plan(desired, observed, RECREATE).is_noop
    extensions[0]["settings"]["secretsManagementSettings"]["requireInitialSync"] = False
    edited = planning.plan(render(spec), observed, RECREATE)
    assert types(edited) == ["recreate"]
    assert "requireInitialSync" in " ".join(edited.actions[0].reasons)
