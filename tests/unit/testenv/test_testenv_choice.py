"""The one switch (AZBATCH_TEST_KUBECONFIG, else KUBEBUILDER_ASSETS, else the stand-in), and the
sandbox's address of the API for a relay on each."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from azbatch_operator import sandbox
from azbatch_operator.testenv import Server, choose_server, is_real
from azbatch_operator.testenv.certs import TinyCA
from azbatch_operator.testenv.cluster import Connection, connection_from_kubeconfig
from azbatch_operator.testenv.process import BinaryMissingError


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, Server.STAND_IN),
        ({"KUBEBUILDER_ASSETS": ""}, Server.STAND_IN),
        ({"KUBEBUILDER_ASSETS": "  "}, Server.STAND_IN),
        ({"KUBEBUILDER_ASSETS": "/opt/envtest/1.36.0-linux-amd64"}, Server.ENVTEST),
        ({"AZBATCH_TEST_KUBECONFIG": "/home/me/.kube/kind"}, Server.KUBECONFIG),
        (
            {"AZBATCH_TEST_KUBECONFIG": "/home/me/.kube/kind", "KUBEBUILDER_ASSETS": "/opt/envtest"},
            Server.KUBECONFIG,
        ),
        ({"KUBECONFIG": "/home/me/.kube/config"}, Server.STAND_IN),  # a person's own cluster: never
    ],
)
def test_the_server_is_chosen_by_the_environment(env: dict[str, str], expected: Server) -> None:
    assert choose_server(env) is expected
    assert is_real(expected) is (expected is not Server.STAND_IN)


def test_a_sandbox_reads_the_switch_when_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZBATCH_TEST_KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", "/nowhere")
    assert sandbox.Sandbox().server is Server.ENVTEST
    monkeypatch.delenv("KUBEBUILDER_ASSETS")
    made = sandbox.Sandbox()
    assert made.server is Server.STAND_IN and made.real_kube is None


def test_a_relay_to_a_real_server_keeps_the_operators_scheme_trust_and_token(tmp_path: Path) -> None:
    made = sandbox.Sandbox()
    ca = TinyCA()
    operator = Connection("https://127.0.0.1:6443", ca.cert_pem, token="sa-token")
    made.real_kube = SimpleNamespace(operator=operator)
    assert made.kube_address() == ("127.0.0.1", 6443)
    path = made.write_operator_kubeconfig(tmp_path / "via-relay", port=7000)
    assert connection_from_kubeconfig(path) == Connection(
        "https://127.0.0.1:7000", ca.cert_pem, token="sa-token"
    )


def test_a_relay_to_the_stand_in_is_plain_http(tmp_path: Path) -> None:
    made = sandbox.Sandbox()
    made.kube_thread = SimpleNamespace(url="http://127.0.0.1:41357")
    assert made.kube_address() == ("127.0.0.1", 41357)
    path = made.write_operator_kubeconfig(tmp_path / "via-relay", port=7001)
    assert connection_from_kubeconfig(path) == Connection("http://127.0.0.1:7001")


class _Item:
    def __init__(self, *markers: pytest.MarkDecorator) -> None:
        self.own = [m.mark for m in markers]
        self.added: list[pytest.Mark] = []

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return next((m for m in self.own if m.name == name), None)

    def add_marker(self, marker: pytest.MarkDecorator) -> None:
        self.added.append(marker.mark)


def _collection_hook() -> Any:
    spec = importlib.util.spec_from_file_location(
        "tests_root_conftest", Path(__file__).parents[2] / "conftest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pytest_collection_modifyitems


@pytest.mark.parametrize("variable", ["KUBEBUILDER_ASSETS", "AZBATCH_TEST_KUBECONFIG"])
def test_stand_in_only_tests_are_skipped_on_a_real_server_with_their_reason(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = _collection_hook()
    marked = _Item(pytest.mark.standin_only(reason="cuts the stand-in's connections"))
    plain = _Item()
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.delenv("AZBATCH_TEST_KUBECONFIG", raising=False)
    hook(None, [marked, plain])
    assert marked.added == [] and plain.added == []  # the stand-in runs everything
    monkeypatch.setenv(variable, "/somewhere")
    hook(None, [marked, plain])
    (skip,) = marked.added
    assert skip.name == "skip" and "cuts the stand-in's connections" in skip.kwargs["reason"]
    assert plain.added == []


def test_a_sandbox_that_cannot_start_its_server_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KUBEBUILDER_ASSETS naming a folder without the binaries: the error names the binary, and the
    emulator the sandbox had started is stopped again (no thread left behind)."""
    monkeypatch.delenv("AZBATCH_TEST_KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "empty"))
    before = {thread.ident for thread in threading.enumerate()}
    with pytest.raises(BinaryMissingError, match="etcd: no executable"), sandbox.Sandbox():
        pass
    left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
    assert left == []
