"""`azbatch-operator demo` installed without a clone, without the stand-ins, or asked for a real
Kubernetes API it cannot have, says what to do (in a line or two, no traceback)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from azbatch_operator.commands import demo
from azbatch_operator.testenv.cluster import ClusterError
from azbatch_operator.testenv.process import missing_binary


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


@pytest.mark.parametrize(
    ("variable", "error"),
    [
        ("KUBEBUILDER_ASSETS", missing_binary("etcd", Path("/tmp/emptyassets/etcd"))),
        ("AZBATCH_TEST_KUBECONFIG", ClusterError("AZBATCH_TEST_KUBECONFIG=/nope: cannot read /nope")),
    ],
)
def test_a_real_api_server_it_cannot_have_is_two_lines_naming_the_variable(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    error: Exception,
) -> None:
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.delenv("AZBATCH_TEST_KUBECONFIG", raising=False)
    monkeypatch.setenv(variable, "/nope")
    monkeypatch.setattr(demo, "missing_stand_ins", list)
    monkeypatch.setattr(demo.logs, "configure", lambda **_: None)
    monkeypatch.setattr(demo.signal, "signal", lambda *_: None)  # leave the test run's handlers alone

    class Unstartable:  # as Sandbox when the control plane or the cluster cannot be had
        def __init__(self, *_: object) -> None: ...

        def __enter__(self) -> None:
            raise error

        def __exit__(self, *_: object) -> None: ...

    monkeypatch.setattr(demo, "Sandbox", Unstartable)
    args = argparse.Namespace(
        examples=tmp_path, time_scale=60.0, workdir=None, no_ui=True, timeout=1.0, keep=False
    )
    assert demo.run(args) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"azbatch-operator demo: {error}",
        f"azbatch-operator demo: {variable} asks for a real Kubernetes API (docs/real-apiserver.md); "
        "unset it to run the demo on the in-repository stand-in",
    ]
