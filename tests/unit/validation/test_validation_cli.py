"""`azbatch-operator validate -f MANIFEST`: exit 0 when valid (warnings shown), 1 with every error."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
import yaml
from manifest_edits import EXAMPLES, VMC, edit, load_example

from azbatch_operator.commands import validate as command


def run(*argv: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return command.run(parser.parse_args(list(argv)))


def write(tmp_path: Path, documents: list[dict[str, object]]) -> str:
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


def test_the_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(path) for path in EXAMPLES.glob("*.yaml"))
    assert run(*[arg for file in files for arg in ("-f", file)]) == 0
    out = capsys.readouterr().out
    assert out.count(": valid\n") == len(files)
    assert "BatchPool/autoscale: valid" in out


def test_warnings_are_printed_and_do_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pool = edit(load_example("keyvault-linux"), "spec.identity", {"type": "None"})
    assert run("-f", write(tmp_path, [pool])) == 0
    out = capsys.readouterr().out
    assert f"BatchPool/keyvault-linux: warning: {VMC}.extensions[0]: KeyVaultForLinux reads secrets" in out
    assert "BatchPool/keyvault-linux: valid" in out


def test_every_error_is_printed_with_its_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = load_example("autoscale")
    bad = edit(load_example("autoscale"), "spec.vmSize", 5)
    edit(bad, "spec.taskSlotsPerNode", "two")
    edit(bad, "metadata.name", "broken")
    assert run("-f", write(tmp_path, [good, bad])) == 1
    lines = capsys.readouterr().out.splitlines()
    assert any(line.endswith("BatchPool/autoscale: valid") for line in lines)
    errors = [line for line in lines if "BatchPool/broken: error:" in line]
    assert [line.split(": error: ")[1].split(":")[0] for line in errors] == [
        "spec.vmSize",
        "spec.taskSlotsPerNode",
    ]


def test_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("-f", "/nonexistent/pool.yaml") == 1
    assert (
        capsys.readouterr().out
        == "/nonexistent/pool.yaml: error: cannot read the file: No such file or directory\n"
    )


def test_unreadable_yaml_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("-f", "-", stdin="kind: BatchPool\nspec: [\n", monkeypatch=monkeypatch) == 1
    assert capsys.readouterr().out.startswith("-: error: not valid YAML at line 3")


def test_a_file_without_a_batch_pool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run("-f", write(tmp_path, [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}])) == 1
    )
    assert "no BatchPool document (kind: BatchPool) found" in capsys.readouterr().out


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pool = edit(
        load_example("keyvault-linux"),
        f"{VMC}.extensions.0.type",
        "CustomScript",
    )
    assert run("-f", write(tmp_path, [pool]), "--output", "json") == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["name"] == "keyvault-linux" and report["errors"] is True
    assert report["findings"][0]["path"] == f"{VMC}.extensions[0].type"
    assert report["findings"][0]["severity"] == "error"
