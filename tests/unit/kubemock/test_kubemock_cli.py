"""`azbatch-kubemock --help` names the command a user types."""

from __future__ import annotations

from azbatch_kubemock import cli


def test_the_usage_names_the_installed_command() -> None:
    assert cli._parser().format_usage().startswith("usage: azbatch-kubemock ")
