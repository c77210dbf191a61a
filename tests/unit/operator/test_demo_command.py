"""`azbatch-operator demo` installed without a clone or without the stand-ins says what to do."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from azbatch_operator.commands import demo


def test_without_the_examples_folder_it_says_where_the_manifests_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "lib" / "python3.11" / "examples"  # where a wheel install used to look
    monkeypatch.setattr(demo, "EXAMPLES_CANDIDATES", (site, tmp_path / "cwd" / "examples"))
    args = argparse.Namespace(examples=None)
    assert demo._examples(args.examples) is None
    error = capsys.readouterr().err
    assert "the example manifests are the examples/ folder of the repository" in error
    assert "pass --examples DIR" in error and str(site) in error


def test_a_given_examples_folder_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo._examples(tmp_path / "nope") is None
    assert "no folder" in capsys.readouterr().err
    assert demo._examples(tmp_path) == tmp_path


def test_without_the_stand_ins_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "missing_stand_ins", lambda: ["azbatch-emulator"])
    monkeypatch.setattr(demo.logs, "configure", lambda **_: None)  # leave the test run's logging alone
    args = argparse.Namespace(examples=None)
    assert demo.run(args) == 1
    error = capsys.readouterr().err
    assert "azbatch-emulator not installed" in error
    assert "pip install ./emulator ./kubemock" in error
