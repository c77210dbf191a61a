"""Every `azbatch-operator`, `azbatch-emulator` and `azbatch-kubemock` command the docs and the chart's
NOTES show works as written: its arguments parse, and the offline ones (validate, crd) succeed.
The docs are self-contained: nothing in README.md or docs/ points outside the repository."""

from __future__ import annotations

import argparse
import io
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from azbatch_emulator import cli as emulator_cli
from azbatch_kubemock import cli as kubemock_cli
from azbatch_operator import cli as operator_cli

REPO = Path(__file__).resolve().parents[2]
SOURCES = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "helm/azbatch-operator/templates/NOTES.txt",
]
PROGRAMS = ("azbatch-operator", "azbatch-emulator", "azbatch-kubemock")
EXAMPLE = "examples/keyvault-linux.yaml"
# Placeholders the docs use in synopses, and what stands for them here.
PLACEHOLDERS = {
    "FILE": EXAMPLE,
    "MANIFEST": EXAMPLE,
    "pool.yaml": EXAMPLE,
    "PATH...": "examples/",
    "PATH": EXAMPLE,
    "POOL.json": "tests/unit/rendering/fixtures/PoolGet_VirtualMachineConfiguration_Extensions.json",
    "NS": "default",
    "DIR": "/nonexistent/azbatch-state",
    "CRD": "crds/batchpools.azbatch.dev.yaml",
    "NAME": "test1",
    "CLUSTER/NS/NAME": "cluster/default/keyvault-linux",
}


def documented_commands() -> Iterator[tuple[str, str]]:
    """(where, command) for every command line and inline code span that runs one of our programs."""
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        in_block = False
        for number, line in enumerate(text.splitlines(), start=1):
            where = f"{source.relative_to(REPO)}:{number}"
            if line.strip().startswith("```"):
                in_block = not in_block
                continue
            candidates = [line.strip().removeprefix("$ ")] if in_block or source.suffix == ".txt" else []
            candidates += re.findall(r"`([^`]+)`", line) if not in_block else []
            for candidate in candidates:
                if "{{" in candidate:
                    continue  # a Helm template expression, not a command
                synopsis = re.sub(r"\[[^\[\]]*\]", "", candidate.split(" #")[0])  # [optional parts]
                for part in re.split(r"\|\||&&|[|;&]|\$\(|\)", synopsis):
                    segment = part.strip().strip('"')
                    if segment.split(" ", 1)[0] in PROGRAMS:
                        yield where, " ".join(segment.split(">")[0].split())


def _argv(command: str) -> list[str]:
    """The command's arguments, with optional [parts] dropped and placeholders filled in."""
    command = command.replace(" \\", " ")
    words = shlex.split(command)[1:]
    return [PLACEHOLDERS.get(word, word) for word in words if word not in ("|", "...")]


class Recorded(Exception):
    """Raised by a stand-in for a command's body: the arguments parsed."""


def _parses(program: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    if program == "azbatch-operator":
        operator_cli.build_parser().parse_args(argv)
    elif program == "azbatch-kubemock":
        kubemock_cli._parser().parse_args(argv)
    else:

        def recorded(*_: Any, **__: Any) -> int:
            raise Recorded

        monkeypatch.setattr(emulator_cli, "serve_command", recorded)
        monkeypatch.setattr(emulator_cli, "env_command", recorded)
        with pytest.raises(Recorded):
            emulator_cli.main(argv)


COMMANDS = sorted(set(documented_commands()))


def test_the_docs_show_commands_to_check() -> None:
    shown = {command.split()[1] for _, command in COMMANDS if len(command.split()) > 1}
    assert {"validate", "plan", "run", "demo", "crd", "env", "serve"} <= shown


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[f"{w} {c}" for w, c in COMMANDS])
def test_a_documented_command_works_as_written(
    where: str, command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    program, argv = command.split(maxsplit=1)[0], _argv(command)
    if not argv:
        pytest.skip("the program's name alone")
    if (
        len(argv) == 1 and program == "azbatch-operator"
    ):  # a mention of the command ("`validate` rejects ...")
        assert argv[0] in operator_cli.COMMANDS, f"{where}: no command {argv[0]!r}"
        return
    try:
        _parses(program, argv, monkeypatch)
    except SystemExit as refused:
        pytest.fail(f"{where}: `{command}` is refused ({refused.code}): {capsys.readouterr().err}")
    if program == "azbatch-operator" and argv[0] in ("validate", "crd"):
        monkeypatch.setattr("sys.stdin", io.StringIO((REPO / EXAMPLE).read_text()))
        assert operator_cli.main(argv) == 0, f"{where}: `{command}` failed:\n{capsys.readouterr()}"


def test_the_docs_are_self_contained() -> None:
    outside = [
        f"{path.relative_to(REPO)}:{number}"
        for path in [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if "../shared" in line
    ]
    assert outside == []


def test_no_test_reads_outside_the_repository() -> None:
    here = Path(__file__).resolve()
    readers = [
        str(path.relative_to(REPO))
        for path in (REPO / "tests").rglob("*.py")
        if path != here and re.search(r"\.\./shared|/work/shared|parent / \"shared\"", path.read_text())
    ]
    assert readers == []


def test_argv_fills_in_a_synopsis() -> None:
    assert _argv("azbatch-operator plan MANIFEST --observed POOL.json") == [
        "plan",
        EXAMPLE,
        "--observed",
        PLACEHOLDERS["POOL.json"],
    ]
    assert isinstance(operator_cli.build_parser(), argparse.ArgumentParser)
