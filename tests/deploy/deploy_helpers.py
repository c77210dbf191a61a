"""Paths and helpers for the deployment tests: the chart rendered by Helm's own Go SDK (the engine of
`helm template`), and manifests checked against the Kubernetes schemas."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "azbatch-operator"
KUSTOMIZE_BASE = ROOT / "deploy" / "kustomize" / "base"
GENERATED_CRD = ROOT / "crds" / "batchpools.azbatch.dev.yaml"
RELEASE = "azbatch-operator"
NAMESPACE = "azbatch-system"
KUBE_VERSION = "1.30.0"  # the oldest Kubernetes the chart supports (Chart.yaml kubeVersion)
BIN = Path(sys.executable).parent

Manifest = dict[str, Any]


@cache
def _chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render_chart(values: dict[str, Any] | None = None, *, namespace: str = NAMESPACE) -> dict[str, str]:
    """`helm template` through Helm's Go SDK: template path -> rendered text."""
    return _chart().render(values or {}, name=RELEASE, namespace=namespace, is_install=True)


def manifests_of(rendered: dict[str, str]) -> list[Manifest]:
    return [
        doc
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def find(manifests: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]


def one(manifests: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def validate_against_kubernetes(manifest: Manifest) -> None:
    """Strict schema check (unknown fields are errors) against the oldest supported Kubernetes."""
    kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
