"""Fixtures for the deployment artefacts: the chart rendered by Helm's own engine, the kustomize
base built by kubectl, and the Argo CD health script in a real Lua 5.1 (Argo CD's dialect)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
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


@pytest.fixture(scope="session")
def default_manifests() -> list[Manifest]:
    return manifests_of(render_chart())


@pytest.fixture(scope="session")
def chart_render() -> Callable[..., list[Manifest]]:
    return lambda values=None, **kw: manifests_of(render_chart(values, **kw))


@pytest.fixture(scope="session")
def kustomize_manifests() -> list[Manifest]:
    built = subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(KUSTOMIZE_BASE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.fixture(scope="session")
def argocd_health() -> Iterator[Callable[[dict[str, Any]], dict[str, str]]]:
    """Runs deploy/argocd/health.lua the way Argo CD does: `obj` global, the script returns `hs`."""
    import lupa.lua51  # noqa: PLC0415 - Argo CD embeds gopher-lua, a Lua 5.1

    runtime = lupa.lua51.LuaRuntime(unpack_returned_tuples=True)
    script = (ROOT / "deploy" / "argocd" / "health.lua").read_text(encoding="utf-8")
    compile_chunk = runtime.eval(
        "function(source) local chunk, err = loadstring(source, 'health.lua');"
        " if chunk == nil then error(err) end; return chunk end"
    )
    compiled = compile_chunk(script)

    def health(obj: dict[str, Any]) -> dict[str, str]:
        runtime.globals().obj = runtime.table_from(obj, recursive=True)
        result = compiled()
        return {"status": result["status"], "message": result["message"]}

    yield health
