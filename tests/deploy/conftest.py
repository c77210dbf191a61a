"""Fixtures for the deployment artefacts: the chart rendered once per session, the kustomize base
built by kubectl, and the Argo CD health script in a real Lua 5.1 (Argo CD's dialect)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from deploy_helpers import BIN, KUSTOMIZE_BASE, ROOT, Manifest, manifests_of, render_chart


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
