"""`azbatch-operator run` on ports already taken (a second operator on one host), or with the removed
`--peering`, says so in one line."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator

import pytest

from azbatch_operator.cli import main
from azbatch_operator.commands import run as run_command
from azbatch_operator.config import OperatorConfig


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something listens on, as a first operator's 9090 or 8080."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything before the ports passes; the operator itself must never start."""
    monkeypatch.setattr(run_command.logs, "configure", lambda **_: None)  # leave the test run's logging alone
    monkeypatch.setattr(run_command, "load_config", lambda _: OperatorConfig.from_mapping({}))
    monkeypatch.setattr(run_command, "load_client_configuration", lambda: None)
    monkeypatch.setattr(run_command, "start_http_server", _never)
    monkeypatch.setattr(run_command, "operate", _never)


def _never(*_: object, **__: object) -> None:
    raise AssertionError("started although the command was refused")


def _args(**ports: int) -> argparse.Namespace:
    defaults = {"metrics_port": 0, "health_port": 0}
    return argparse.Namespace(
        log_format=None,
        verbose=False,
        config=None,
        no_leader_election=False,
        namespace=[],
        peering=None,
        **{**defaults, **ports},
    )


@pytest.mark.usefixtures("offline")
@pytest.mark.parametrize(
    ("port", "flag", "path"),
    [("metrics_port", "--metrics-port", "/metrics"), ("health_port", "--health-port", "/healthz")],
)
def test_a_port_in_use_is_one_line_naming_the_port_and_the_flag(
    taken: int, port: str, flag: str, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command.run(_args(**{port: taken})) == 2
    error = capsys.readouterr().err
    assert error == (
        f"azbatch-operator: port {taken} for {path} is already in use (by another operator on this host, or "
        f"another program): choose another with {flag} PORT, or {flag} 0 to serve no {path}\n"
    )


@pytest.mark.usefixtures("offline")
def test_one_port_for_both_servers_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_command.run(_args(metrics_port=9999, health_port=9999)) == 2
    assert "--metrics-port and --health-port are both 9999" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--peering", "x"], ["--peering=azbatch", "--standalone", "-A"]])
def test_the_removed_peering_is_refused_with_what_to_do_before_anything_starts(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for step in ("load_config", "load_client_configuration", "start_http_server", "operate", "RunOptions"):
        monkeypatch.setattr(run_command, step, _never)
    monkeypatch.setattr(run_command.logs, "configure", _never)
    assert main(["run", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "azbatch-operator: --peering is no longer supported: kopf peering pauses only kopf's own handlers, "
        "not the operator's pool loops; run replicas with leader election instead (on by default; helm value "
        "operator.leaderElection.enabled)\n"
    )


def test_the_help_no_longer_offers_peering(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--peering" not in out
    assert "--standalone no kopf peering: the default, kept for compatibility" in out


def test_the_help_shows_the_default_ports(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "serve /metrics on this port (default: 9090; 0: off)" in out
    assert "serve /healthz on this port (default: 8080; 0: off)" in out


def test_an_unknown_option_shows_the_commands_own_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["validate", "--bogus", "x"])
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: azbatch-operator validate ")
    assert "azbatch-operator validate: error: unrecognized arguments: --bogus" in error
