"""`azbatch-operator validate -f MANIFEST`: exit 0 when valid (warnings shown), 1 with every error."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
import yaml
from manifest_edits import EXAMPLES, VMC, edit, load_example

from azbatch_operator import cli
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


def test_files_are_positional_as_the_docs_write_them(capsys: pytest.CaptureFixture[str]) -> None:
    linux, windows = str(EXAMPLES / "keyvault-linux.yaml"), str(EXAMPLES / "keyvault-windows.yaml")
    assert run(linux, "-f", windows) == 0
    out = capsys.readouterr().out
    assert f"{linux}: BatchPool/keyvault-linux: valid" in out
    assert f"{windows}: BatchPool/keyvault-windows: valid" in out


def test_a_directory_checks_every_manifest_in_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pool.yml").write_text(yaml.safe_dump(load_example("autoscale")))
    (tmp_path / "pool.json").write_text(json.dumps(edit(load_example("gallery-image"), "spec.vmSize", 5)))
    (tmp_path / "kustomization.yaml").write_text("resources: [pool.yml]\n")
    (tmp_path / "README.md").write_text("not a manifest")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "deep.yaml").write_text(yaml.safe_dump(load_example("keyvault-linux")))
    assert run(str(tmp_path)) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path}/pool.yml: BatchPool/autoscale: valid" in out
    assert f"{tmp_path}/pool.json: BatchPool/gallery-image: error: spec.vmSize" in out
    assert f"{tmp_path}/kustomization.yaml: skipped: no BatchPool document" in out
    assert "README.md" not in out and "deep.yaml" not in out
    assert run("-R", str(tmp_path), "-o", "json") == 1
    reports = json.loads(capsys.readouterr().out)
    assert [Path(r["file"]).name for r in reports] == [
        "kustomization.yaml",
        "deep.yaml",
        "pool.json",
        "pool.yml",
    ]


def test_the_examples_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(EXAMPLES)) == 0
    assert capsys.readouterr().out.count(": valid\n") == len(list(EXAMPLES.glob("*.yaml")))


def test_a_directory_without_a_batch_pool_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
    assert run(str(tmp_path)) == 1
    assert f"{tmp_path}: error: no BatchPool document in any" in capsys.readouterr().out


def test_stdin_as_a_positional_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (EXAMPLES / "autoscale.yaml").read_text()
    assert run("-", stdin=text, monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out == "-: BatchPool/autoscale: valid\n"


def test_no_path_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate"]) == 2
    assert "validate pool.yaml" in capsys.readouterr().err
