"""No secret value reaches a log, an event, a status, a metric or the Azure stand-in's storage.

One sandbox runs the scenarios where a secret could slip out — create, a changed protectedSettings
(recreate), a Secret that is not JSON, a missing key, throttling and a failing extension on a
pool that carries secrets, deletion — with every log of the process captured at DEBUG (the
operator, kopf, the Azure SDKs, the Kubernetes client, the Azure emulator and the Kubernetes
stand-in all log through it), then scans everything a person or a tool could read for each secret
value, raw, base64-encoded and JSON-escaped: zero hits.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from reliability_helpers import FAST, create_secret, extensions_of, wait_converged

from azbatch_operator.metrics import REGISTRY
from azbatch_operator.sandbox import Sandbox, SandboxSettings, condition, pool_manifest, wait_until

TOKEN = secrets.token_hex(8)
SECRETS = {
    "protected": json.dumps({"workspaceKey": f"ps-{TOKEN}-first"}),
    "protected-changed": json.dumps({"workspaceKey": f"ps-{TOKEN}-second"}),
    "password": f"pw-{TOKEN}-Aa1!",
    "account-key": base64.b64encode(f"mk-{TOKEN}".encode()).decode(),
    "not-json": f"tok-{TOKEN}-not-json",
}


def _forms(value: str) -> set[str]:
    """The value as it could appear: raw, base64 (a Secret's data), JSON-escaped; inner tokens too."""
    found = {value, base64.b64encode(value.encode()).decode(), json.dumps(value)[1:-1]}
    try:
        inner = json.loads(value)
    except ValueError:
        inner = None
    if isinstance(inner, dict):
        found.update(str(v) for v in inner.values())
    return {form for form in found if len(form) >= 8}


@pytest.fixture(scope="module", params=["operator-in-process", "operator-process"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[Sandbox, Path]]:
    """In process: the operator's logs at DEBUG and its metrics registry are read directly. As its own
    process: `azbatch-operator run --log-format json` as deployed, its output in <workdir>/operator.log."""
    in_process = request.param == "operator-in-process"
    with Sandbox(SandboxSettings(**FAST, operator_in_process=in_process)) as running:
        log_file = running.workdir / "everything.log"
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        try:
            yield running, log_file
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
            handler.close()


def _secret_pool(name: str, secret: str, key: str = "protected") -> dict[str, Any]:
    manifest = pool_manifest(
        name,
        userAccounts=[{"name": "ops", "password": {"secretKeyRef": {"name": secret, "key": "password"}}}],
        mountConfiguration=[
            {
                "azureFileShareConfiguration": {
                    "accountName": "store",
                    "azureFileUrl": "https://store.file.core.windows.net/share",
                    "accountKey": {"secretKeyRef": {"name": secret, "key": "account-key"}},
                    "relativeMountPath": "share",
                }
            }
        ],
    )
    extensions_of(manifest)[0]["protectedSettings"] = {"secretKeyRef": {"name": secret, "key": key}}
    return manifest


def _run_scenarios(sandbox: Sandbox) -> None:
    values = {k: SECRETS[k] for k in ("protected", "password", "account-key", "not-json")}
    create_secret(sandbox, "default", "pool-secrets", values)

    # Create with every kind of secret; throttled and failing extensions on the way.
    sandbox.admin.inject_fault("mgmt.pool", "PUT", 429, retry_after=1, count=2, pool="leaky")
    sandbox.admin.script_extension(
        "AzureMonitorLinuxAgent", fail_nodes=1, message="agent refused", pool="leaky"
    )
    manifest = sandbox.retarget(_secret_pool("leaky", "pool-secrets"))
    sandbox.kube.apply(manifest)
    before = wait_converged(sandbox, "leaky", timeout=90)["status"]["pool"]["creationTime"]
    sandbox.wait_for_condition("leaky", "ExtensionsHealthy", "False", timeout=60)
    sandbox.admin.clear_scripts()

    # The protectedSettings value changes: detected by its keyed digest, applied by a recreate.
    create_secret(sandbox, "default", "pool-secrets", {**values, "protected": SECRETS["protected-changed"]})
    sandbox.kube.patch(manifest, {"metadata": {"annotations": {"touch": "1"}}})  # wake it now

    def recreated() -> bool:
        obj = sandbox.pool("leaky") or {}
        pool = (obj.get("status") or {}).get("pool") or {}
        return condition(obj, "Ready").get("status") == "True" and pool.get("creationTime") not in (
            None,
            before,
        )

    wait_until(recreated, timeout=120, what="the pool recreated for the new protectedSettings")

    # A secret that is not JSON, and a key that does not exist.
    sandbox.kube.apply(sandbox.retarget(_secret_pool("not-json", "pool-secrets", key="not-json")))
    stalled = condition(sandbox.wait_for_condition("not-json", "Stalled", timeout=30), "Stalled")
    assert stalled["reason"] == "InvalidSecret"
    sandbox.kube.apply(sandbox.retarget(_secret_pool("no-key", "pool-secrets", key="absent")))
    stalled = condition(sandbox.wait_for_condition("no-key", "Stalled", timeout=30), "Stalled")
    assert stalled["reason"] == "SecretNotReadable"

    for name in ("leaky", "not-json", "no-key"):
        gone = copy.deepcopy(manifest)
        gone["metadata"]["name"] = name
        sandbox.kube.delete(gone)
        sandbox.kube.wait_gone(gone, timeout=60)


def _everything_readable(sandbox: Sandbox, log_file: Path) -> dict[str, str]:
    kube = sandbox.kube
    pools = kube.list_objects("azbatch.dev/v1alpha1", "BatchPool")
    stored = "\n".join(
        path.read_text(errors="replace")
        for path in (sandbox.workdir / "azure").rglob("*")
        # identity.json and ready.json are the stand-in Entra's own app registration (its client secret)
        if path.is_file()
        and path.suffix in (".json", ".log", "")
        and path.name not in ("ready.json", "identity.json")
    )
    operator_log = sandbox.workdir / "operator.log"
    return {
        "logs": log_file.read_text(encoding="utf-8", errors="replace"),
        "operator.log": operator_log.read_text(errors="replace") if operator_log.exists() else "",
        "events": json.dumps(kube.list_objects("v1", "Event")),
        "status": json.dumps([p.get("status") for p in pools]),
        "annotations": json.dumps([p["metadata"].get("annotations") for p in pools]),
        "metrics": generate_latest(REGISTRY).decode(),
        "azure-storage": stored,
    }


def test_no_secret_value_is_readable_anywhere(captured: tuple[Sandbox, Path]) -> None:
    sandbox, log_file = captured
    _run_scenarios(sandbox)
    readable = _everything_readable(sandbox, log_file)
    assert "InvalidSecret" in readable["events"] and "ExtensionFailed" in readable["events"], "scenarios ran"
    assert "pool-secrets" in readable["logs"], "the logs were captured, with the objects in them"
    if not sandbox.settings.operator_in_process:
        assert '"event": "azure write"' in readable["operator.log"], "the operator process's log was read"
    watched = {name: _forms(value) for name, value in SECRETS.items()}
    watched["azure-client-secret"] = _forms(sandbox.info["client_secret"])
    leaks = [
        f"{secret} ({form[:6]}...) in {place}"
        for secret, forms in watched.items()
        for form in forms
        for place, text in readable.items()
        if form in text
    ]
    assert leaks == []
