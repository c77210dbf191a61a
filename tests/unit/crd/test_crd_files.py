"""The CRD files in crds/ and the Helm chart are exactly what the models generate."""

from __future__ import annotations

import argparse

import pytest
import yaml
from crd_examples import REPO

from azbatch_operator.commands import crd as crd_command
from azbatch_operator.crd import CRD_FILES, REGENERATE_HINT, build_crd, render_crd_yaml


@pytest.mark.parametrize("relative", CRD_FILES)
def test_the_checked_in_crd_matches_the_models(relative: str) -> None:
    path = REPO / relative
    assert path.exists(), f"{relative} is missing; regenerate it: {REGENERATE_HINT}"
    assert path.read_text() == render_crd_yaml(), (
        f"{relative} is out of date; regenerate it: {REGENERATE_HINT}"
    )


def test_the_yaml_is_the_crd_document() -> None:
    assert yaml.safe_load(render_crd_yaml()) == build_crd()


def test_the_crd_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    crd_command.add_arguments(parser)
    assert crd_command.run(parser.parse_args([])) == 0
    assert capsys.readouterr().out == render_crd_yaml()


def test_printer_columns_read_paths_the_status_defines() -> None:
    columns = {
        column["name"]: column for column in build_crd()["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert list(columns) == [
        "Ready",
        "VM Size",
        "Nodes",
        "Target",
        "Spot",
        "Spot Target",
        "Nodes Healthy",
        "Extensions",
        "Reason",
        "Age",
    ]
    status = build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"][
        "properties"
    ]
    pool = status["pool"]["properties"]
    for name in ["Nodes", "Target", "Spot", "Spot Target"]:
        field = columns[name]["jsonPath"].rsplit(".", 1)[-1]
        assert pool[field]["type"] == "integer"
    assert status["conditions"]["items"]["properties"]["type"]["type"] == "string"
    assert columns["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
