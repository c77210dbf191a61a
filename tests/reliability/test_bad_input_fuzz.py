"""Bad input of every kind gets a clear answer, never a crash, never an Azure write, never a stuck finalizer.

Two layers:
- cheap (thousands of inputs): `validation.validate_manifest` never raises, and the reconciler's
  own pass (`reconciler.reconcile` and `reconciler.finalize`, run against recording fakes of Azure
  and Kubernetes) answers every invalid manifest with `Stalled` and a message naming the field,
  with zero Azure writes; Secrets that are missing or whose value is not a JSON object stall the
  same way;
- expensive (a bounded number, one sandbox): fuzzed manifests applied through the Kubernetes API
  are refused at admission with the field named, or reach the operator and stall with the fix;
  deleting them never hangs on the finalizer, and Azure saw no write.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_helpers import FAST, create_secret, extensions_of

from azbatch_kubemock import KubeApiError
from azbatch_operator import validation
from azbatch_operator.config import OperatorConfig
from azbatch_operator.kube.api import SecretUnreadableError
from azbatch_operator.reconciler import PoolMemory, Runtime, finalize, reconcile, resource_document
from azbatch_operator.sandbox import Sandbox, SandboxSettings, condition, pool_manifest, wait_until

# -- what bad input looks like -------------------------------------------------------------------

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    INT64,  # beyond int64: bad_manifests(huge=...), which an API server refuses before the operator
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),  # huge, any script
    st.just("PT0S"),
    st.just("P99999999DT"),
    st.just("../../etc/passwd"),
    st.just("\uff41\uff43\uff43\uff54"),  # full-width "acct": looks like ASCII, is not
    st.just({"secretKeyRef": {"name": "x", "key": "k", "namespace": "kube-system"}}),
    st.lists(INT64, max_size=3),
    st.dictionaries(st.text(max_size=8), INT64, max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


BASE = pool_manifest(
    "fuzzed",
    userAccounts=[
        {"name": "ops", "password": {"secretKeyRef": {"name": "ops-login", "key": "password"}}},
    ],
)
extensions_of(BASE)[0]["protectedSettings"] = {"secretKeyRef": {"name": "ext-secret", "key": "protected"}}
PATHS = [path for path in _paths(BASE) if path and path[0] in ("spec", "metadata")]
# Found by the fuzzer once: a Marketplace image without its publisher passed validate and the CRD, and
# Azure answered the PUT with 400 MissingRequiredProperty. Kept as an explicit example below.
NO_PUBLISHER = copy.deepcopy(BASE)
del NO_PUBLISHER["spec"]["deploymentConfiguration"]["virtualMachineConfiguration"]["imageReference"][
    "publisher"
]
PATHS += [("spec", "unknownField"), ("spec", "policy", "surprise"), ("spec", "scaleSettings", "autoScale")]


@st.composite
def bad_manifests(draw: st.DrawFn, huge: st.SearchStrategy[int] | None = None) -> dict[str, Any]:
    """The example pool with one to three edits: a value replaced by junk, a field removed or added.

    `huge`: also integers beyond int64, which a Kubernetes API server refuses before the operator."""
    junk = JUNK if huge is None else st.one_of(JUNK, huge)
    document = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(PATHS))
        parent: Any = document
        for part in path[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                break
        else:
            if draw(st.booleans()) and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, dict) or (
                isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent)
            ):
                parent[path[-1]] = draw(junk)
    return document


ANY_DOCUMENT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


# -- the cheap layer: the pure validation and the reconciler's pass against recording fakes -------


@settings(max_examples=400, deadline=None)
@given(document=st.one_of(bad_manifests(), ANY_DOCUMENT, bad_manifests(huge=st.integers(min_value=2**63))))
def test_validation_never_raises_and_every_refusal_names_a_field(document: Any) -> None:
    model, findings = validation.validate_manifest(document)
    if model is None:
        assert any(f.severity == "error" for f in findings)
    for finding in findings:
        assert finding.message.strip(), finding
        assert isinstance(finding.path, str)


@dataclass
class RecordingAzure:
    """PoolGateway, NodeGateway and AccountObserver at once: no pool exists; every write is recorded."""

    writes: list[str] = field(default_factory=list)

    async def get(self, account: Any, name: str) -> None:
        return None

    async def pool(self, account: Any, name: str, *, fresh: bool) -> None:
        return None

    def remember(self, account: Any, name: str, pool: Any) -> None:
        return None

    def watch(self, account: Any, name: str, wakeup: Any) -> None:
        return None

    def unwatch(self, account: Any, name: str, wakeup: Any) -> None:
        return None

    async def create(self, account: Any, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self.writes.append(f"PUT {name}")
        return {"name": name, "properties": dict(body.get("properties") or {})}

    async def update(self, account: Any, name: str, body: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        self.writes.append(f"PATCH {name}")
        return {"name": name, "properties": {}}

    async def begin_delete(self, account: Any, name: str) -> None:
        self.writes.append(f"DELETE {name}")


@dataclass
class RecordingKube:
    secrets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    statuses: list[dict[str, Any]] = field(default_factory=list)

    async def cluster_id(self) -> str:
        return "cluster-uid"

    async def read_secret_values(
        self, namespace: str, refs: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        values = {}
        for secret, key in refs:
            data = self.secrets.get((namespace, secret))
            if data is None:
                raise SecretUnreadableError(namespace, secret, key, "missing-secret")
            if key not in data:
                raise SecretUnreadableError(namespace, secret, key, "missing-key")
            values[(secret, key)] = data[key]
        return values

    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        self.statuses.append(dict(status))


def _runtime(kube: RecordingKube, azure: RecordingAzure) -> Runtime:
    config = OperatorConfig(digest_key=b"k" * 32, resync_interval=60.0)
    fakes: Any = azure
    return Runtime(config=config, pools=fakes, nodes=fakes, observer=fakes, kube=kube)  # type: ignore[arg-type]


def _body(document: Any) -> dict[str, Any]:
    """What kopf would hand over: the document plus server-set metadata."""
    body = dict(document) if isinstance(document, dict) else {"spec": document}
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    body["metadata"] = {"name": "fuzzed", **metadata, "uid": "uid-1", "generation": 1, "namespace": "default"}
    return body


def _stalled(kube: RecordingKube) -> dict[str, Any]:
    assert kube.statuses, "no status was written"
    return condition({"status": kube.statuses[-1]}, "Stalled")


def _one_pass(
    document: Any, secrets: dict[tuple[str, str], dict[str, str]]
) -> tuple[RecordingKube, RecordingAzure]:
    kube, azure = RecordingKube(secrets), RecordingAzure()
    runtime = _runtime(kube, azure)
    asyncio.run(reconcile(runtime, PoolMemory(), _body(document), lambda *_: None))
    return kube, azure


GOOD_SECRETS = {
    ("default", "ext-secret"): {"protected": '{"workspaceKey": "k"}'},
    ("default", "ops-login"): {"password": "Pa55-word-1"},
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.one_of(bad_manifests(), bad_manifests(huge=st.integers(min_value=2**63))))
@example(document=NO_PUBLISHER)
def test_an_invalid_manifest_stalls_with_the_field_and_writes_nothing(document: dict[str, Any]) -> None:
    model, findings = validation.validate_manifest(resource_document(_body(copy.deepcopy(document))))
    errors = [f for f in findings if f.severity == "error"]
    kube, azure = _one_pass(document, GOOD_SECRETS)
    if model is None or errors:
        assert azure.writes == []
        stalled = _stalled(kube)
        assert stalled["status"] == "True" and stalled["reason"] == "InvalidSpec"
        assert any(f.path in stalled["message"] for f in errors)
        done = asyncio.run(finalize(_runtime(kube, azure), _body(document), lambda *_: None))
        assert done.done, "the finalizer of an invalid resource must be released at once"
        assert azure.writes == []


@settings(max_examples=150, deadline=None)
@given(
    value=st.one_of(
        st.text(max_size=200),
        st.just("not json"),
        st.just("[1, 2]"),
        st.just('"a string"'),
        st.just("{"),
        st.just("null"),
        st.binary(max_size=50).map(lambda raw: raw.decode("latin-1")),
    ),
    missing=st.sampled_from(["none", "secret", "key"]),
)
def test_secrets_that_are_missing_or_not_json_objects_stall_and_write_nothing(
    value: str, missing: str
) -> None:
    secrets = {("default", "ops-login"): {"password": "Pa55-word-1"}}
    if missing != "secret":
        secrets[("default", "ext-secret")] = {"protected" if missing == "none" else "other": value}
    kube, azure = _one_pass(copy.deepcopy(BASE), secrets)
    stalled = _stalled(kube)
    if missing != "none":
        assert stalled["reason"] == "SecretNotReadable", stalled
        assert "default/ext-secret" in stalled["message"]
        assert azure.writes == []
        return
    try:
        parsed_is_object = isinstance(__import__("json").loads(value), dict)
    except ValueError:
        parsed_is_object = False
    if parsed_is_object:
        assert azure.writes == ["PUT fuzzed"]
    else:
        assert stalled["reason"] == "InvalidSecret", stalled
        assert "protectedSettings" in stalled["message"] or "ext-secret" in stalled["message"]
        assert azure.writes == []
        if len(value) >= 4:
            assert value not in stalled["message"], "the secret's value was echoed into the status"


# -- the expensive layer: applied through the Kubernetes API, one sandbox -------------------------


@pytest.fixture(scope="module")
def applied() -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(**FAST)) as running:
        create_secret(running, "default", "ext-secret", {"protected": "this is not JSON"})
        create_secret(running, "default", "ops-login", {"password": "Pa55-word-1"})
        running.admin.reset_counters()
        yield running


# Refused before any Azure write: the spec, its Secrets, or a fuzzed account that does not exist.
STALL_REASONS = (
    "InvalidSpec",
    "InvalidSecret",
    "SecretNotReadable",
    "SubscriptionNotFound",
    "ResourceGroupNotFound",
    "AccountNotFound",
)


def _settled(sandbox: Sandbox, name: str) -> dict[str, Any]:
    def answered() -> bool:
        obj = sandbox.pool(name) or {}
        return (
            condition(obj, "Stalled").get("status") == "True"
            or condition(obj, "Ready").get("status") == "True"
        )

    wait_until(answered, timeout=60, interval=0.05, what=f"{name} answered")
    found = sandbox.pool(name)
    assert found is not None
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=bad_manifests())
@example(document=NO_PUBLISHER)
def test_applied_bad_manifests_are_refused_or_stalled_and_delete_cleanly(
    applied: Sandbox, document: dict[str, Any]
) -> None:
    name = "fuzzed"
    # Names and namespaces address the request itself (fuzzed in the cheap layer); the body is fuzzed here.
    manifest = {**document, "metadata": {"name": name, "namespace": "default"}}
    applied.admin.reset_counters()
    try:
        applied.kube.create(manifest)
    except KubeApiError as refused:
        assert refused.code in (400, 422), refused
        assert "spec" in str(refused) or "metadata" in str(refused), refused
        assert applied.admin.management_writes() == 0
        return
    _, findings = validation.validate_manifest(manifest)
    valid = not any(f.severity == "error" for f in findings)
    try:
        obj = _settled(applied, name)
        stalled = condition(obj, "Stalled")
        if stalled.get("status") == "True":
            assert stalled["reason"] in STALL_REASONS, stalled
            assert stalled["message"].strip()
            assert applied.admin.management_writes() == 0, "a spec Azure refuses must not reach Azure"
        else:
            assert valid, f"Ready although validation refuses it: {findings}"
    finally:
        applied.kube.delete(manifest)
        applied.kube.wait_for(manifest, lambda o: o is None, "deleted (no finalizer left behind)", timeout=60)


def test_the_operator_still_works_after_the_bad_input(applied: Sandbox) -> None:
    create_secret(applied, "default", "ext-secret", {"protected": '{"workspaceKey": "k"}'})
    manifest = copy.deepcopy(BASE)
    manifest["metadata"]["name"] = "after-the-storm"
    manifest["spec"]["poolName"] = "after-the-storm"
    applied.kube.apply(manifest)
    applied.wait_for_condition("after-the-storm", "Ready", timeout=60)
