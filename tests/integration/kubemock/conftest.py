"""Fixtures for the Kubernetes stand-in's own tests: a small CRD, a running stand-in, a client."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest

from azbatch_kubemock.client import KubeClient
from azbatch_kubemock.threaded import KubeStandInThread

# A CRD of our own with what the project's CRD uses: status subresource, printer columns, short names.
WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.dev"},
    "spec": {
        "group": "example.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {
                        "name": "Ready",
                        "type": "string",
                        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                    },
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
            }
        ],
    },
}


def widget(name: str = "w1", *, namespace: str = "default", size: int = 1, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {"size": size},
    }


@pytest.fixture
def make_widget() -> Any:
    """Builds a Widget manifest: ``make_widget("w1", size=2, labels={...})``."""
    return widget


@pytest.fixture
def widget_crd() -> dict[str, Any]:
    return copy.deepcopy(WIDGET_CRD)


@pytest.fixture
def kube(widget_crd: dict[str, Any]) -> Iterator[KubeStandInThread]:
    with KubeStandInThread(crds=[widget_crd]) as running:
        yield running


@pytest.fixture
def client(kube: KubeStandInThread) -> KubeClient:
    return KubeClient(kube.url)


@pytest.fixture
def kubeconfig(
    kube: KubeStandInThread, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> pathlib.Path:
    path = kube.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path
