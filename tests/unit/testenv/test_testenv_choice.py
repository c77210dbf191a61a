"""The one switch: AZBATCH_TEST_KUBECONFIG, else KUBEBUILDER_ASSETS, else the stand-in."""

from __future__ import annotations

import pytest

from azbatch_operator import sandbox
from azbatch_operator.testenv import Server, choose_server, is_real


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
