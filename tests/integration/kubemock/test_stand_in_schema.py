"""The CRD schema and CEL rules applied on writes, as a real API server applies them."""

from __future__ import annotations

import copy
import json
import pathlib
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from azbatch_kubemock import KubeApiError, KubeClient, KubeStandInThread, schema

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[3]

GADGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "port": {"type": "integer"}},
                    },
                },
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "limit": {"x-kubernetes-int-or-string": True},
            },
            "x-kubernetes-validations": [
                {"rule": "!has(self.name) || self.name != 'bad'", "message": "name must not be bad"},
                {
                    "rule": "self.size == oldSelf.size || self.size > oldSelf.size",
                    "message": "size may only grow",
                    "reason": "FieldValueForbidden",
                    "fieldPath": ".size",
                },
            ],
        },
        "status": {
            "type": "object",
            "properties": {"phase": {"type": "string"}, "count": {"type": "integer"}},
        },
    },
}

GADGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.example.dev"},
    "spec": {
        "group": "example.dev",
        "scope": "Namespaced",
        "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": GADGET_SCHEMA},
            }
        ],
    },
}


def gadget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.dev/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "namespace": "default"},
        "spec": spec,
    }


@pytest.fixture
def gadgets() -> Iterator[KubeClient]:
    with KubeStandInThread(crds=[GADGET_CRD]) as kube:
        yield KubeClient(kube.url)


def rejection(client: KubeClient, call: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(KubeApiError) as error:
        call(*args, **kwargs)
    assert (error.value.code, error.value.reason) == (422, "Invalid")
    return error.value.message


def test_defaults_are_applied_and_unknown_fields_pruned(gadgets: KubeClient) -> None:
    created = gadgets.create(gadget(size=1, unknown="x", extra={"kept": {"deep": 1}}, limit="50%"))
    assert created["spec"] == {"size": 1, "color": "red", "extra": {"kept": {"deep": 1}}, "limit": "50%"}

    after_status = gadgets.patch(
        created, {"status": {"phase": "Ready", "notInSchema": 1}}, subresource="status"
    )
    assert after_status["status"] == {"phase": "Ready"}, "a real server drops undeclared status fields"


def test_a_pruned_field_changes_nothing(gadgets: KubeClient) -> None:
    created = gadgets.create(gadget(size=1))
    after = gadgets.patch(created, {"spec": {"unknown": "x"}})
    assert after["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == 1


def test_null_of_a_non_nullable_field_is_pruned_then_defaulted(gadgets: KubeClient) -> None:
    created = gadgets.create(gadget(size=1, color=None))
    assert created["spec"]["color"] == "red"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.size: Required value"),
        (
            {"size": "2"},
            'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"',
        ),
        ({"size": 0}, "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"),
        (
            {"size": 1, "color": "green"},
            'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        ),
        ({"size": 1, "name": "toolong"}, "spec.name: Too long: may not be more than 5 bytes"),
        (
            {"size": 1, "name": "AB"},
            "spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'",
        ),
        ({"size": 1, "tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
        (
            {"size": 1, "ports": [{"name": "a"}, {"name": "a"}]},
            'spec.ports[1]: Duplicate value: {"name":"a"}',
        ),
        ({"size": 1, "limit": 1.5}, "spec.limit: Invalid value"),
        ({"size": 1, "name": "bad"}, 'spec: Invalid value: "object": name must not be bad'),
    ],
)
def test_schema_violations_are_422_with_the_field(
    gadgets: KubeClient, spec: dict[str, Any], message: str
) -> None:
    assert message in rejection(gadgets, gadgets.create, gadget(**spec))


def test_several_violations_are_listed_together(gadgets: KubeClient) -> None:
    message = rejection(gadgets, gadgets.create, gadget(size=0, color="green"))
    assert message.startswith('Gadget.example.dev "g1" is invalid: [')
    assert "spec.size" in message and "spec.color" in message


def test_transition_rules_apply_on_update_only(gadgets: KubeClient) -> None:
    created = gadgets.create(gadget(size=5))  # no oldSelf on create: the transition rule is skipped
    assert gadgets.patch(created, {"spec": {"size": 6}})["spec"]["size"] == 6
    message = rejection(gadgets, gadgets.patch, created, {"spec": {"size": 2}})
    assert message == 'Gadget.example.dev "g1" is invalid: spec.size: Forbidden: size may only grow'


def test_rules_see_every_field_they_may_read_and_unchanged_values_are_ratcheted() -> None:
    """A rule reading `self.<field>` is judged on those fields only (cheap on big objects); one that
    uses the whole value still sees all of it; a value an update leaves alone is not judged again."""
    crd = copy.deepcopy(GADGET_CRD)
    spec_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec_schema["x-kubernetes-validations"] = [
        {"rule": "size(self) <= 3", "message": "at most three fields"},  # the whole map
        {"rule": "self.all(k, k != 'name') || self.name != 'x'", "message": "not x"},  # a macro over it
        {"rule": "!has(self.tags) || self.tags.size() <= 1", "message": "one tag"},  # one field
    ]
    with KubeStandInThread(crds=[crd]) as kube:
        client = KubeClient(kube.url)
        assert "at most three fields" in rejection(client, client.create, gadget(size=1, name="a", tags=[]))
        assert "not x" in rejection(client, client.create, gadget(size=1, name="x"))
        assert "one tag" in rejection(client, client.create, gadget(size=1, tags=["a", "b"]))
        created = client.create(gadget(size=1, tags=["a"]))
        spec_schema["x-kubernetes-validations"].append({"rule": "self.size > 1", "message": "bigger"})
        kube.kube.register_crd(crd)  # a stricter CRD: the stored object breaks the new rule
        patched = client.patch(created, {"status": {"phase": "Ready"}}, subresource="status")
        assert patched["status"] == {"phase": "Ready"}, "the unchanged spec is not judged again"
        assert "bigger" in rejection(client, client.patch, created, {"spec": {"tags": ["b"]}})


def test_status_writes_are_validated_too(gadgets: KubeClient) -> None:
    created = gadgets.create(gadget(size=1))
    assert "status.count" in rejection(
        gadgets, gadgets.patch, created, {"status": {"count": "x"}}, subresource="status"
    )


def test_the_project_examples_are_admitted_and_the_pool_name_is_immutable() -> None:
    with KubeStandInThread(crd_files=[PROJECT_ROOT / "crds" / "batchpools.azbatch.dev.yaml"]) as kube:
        client = KubeClient(kube.url)
        pools = []
        for path in sorted((PROJECT_ROOT / "examples").glob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text()):
                if document:
                    document["metadata"].setdefault("namespace", "default")
                    created = client.create(document)
                    pools += [created] if created["kind"] == "BatchPool" else []
        assert pools, "the project has example BatchPools"
        message = rejection(client, client.patch, pools[0], {"spec": {"poolName": "renamed"}})
        assert "spec.poolName: Forbidden" in message


def test_a_pool_that_exists_keeps_its_account() -> None:
    with KubeStandInThread(crd_files=[PROJECT_ROOT / "crds" / "batchpools.azbatch.dev.yaml"]) as kube:
        client = KubeClient(kube.url)
        manifest = yaml.safe_load((PROJECT_ROOT / "examples" / "keyvault-linux.yaml").read_text())
        manifest["metadata"]["namespace"] = "default"
        pool = client.create(manifest)
        corrected = client.patch(pool, {"spec": {"account": {"accountName": "typofixed"}}})
        assert corrected["spec"]["account"]["accountName"] == "typofixed", "no pool yet: it may be corrected"
        client.patch(pool, {"status": {"pool": {"provisioningState": "Succeeded"}}}, subresource="status")
        message = rejection(client, client.patch, pool, {"spec": {"account": {"accountName": "elsewhere"}}})
        assert "spec.account: Forbidden" in message and "cannot change once its pool exists" in message
        client.patch(pool, {"spec": {"vmSize": "STANDARD_D4S_V3"}})  # the rest of the spec stays editable


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["size", "color", "x", "extra"]), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(spec=json_values, status=json_values)
def test_defaulting_and_pruning_are_idempotent(spec: Any, status: Any) -> None:
    obj = {
        "apiVersion": "example.dev/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": spec,
        "status": status,
    }
    once = schema.default_and_prune(GADGET_SCHEMA, obj)
    assert schema.default_and_prune(GADGET_SCHEMA, once) == once
    assert once["metadata"] == {"name": "g"}


def test_field_validation_strict_refuses_and_warn_reports_unknown_fields(gadgets: KubeClient) -> None:
    path = "/apis/example.dev/v1/namespaces/default/gadgets"
    with pytest.raises(KubeApiError) as error:
        gadgets.request("POST", path, gadget(size=1, shape="round"), params={"fieldValidation": "Strict"})
    assert (error.value.code, error.value.reason) == (400, "BadRequest")
    assert error.value.message == 'strict decoding error: unknown field "spec.shape"'

    request = urllib.request.Request(
        f"{gadgets.url}{path}",
        data=json.dumps(gadget(size=1, shape="round")).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.headers["Warning"] == '299 - "unknown field \\"spec.shape\\""'
    unchanged = gadgets.patch(gadget(), {"spec": {"size": 2}})
    assert unchanged["spec"]["size"] == 2  # and the next answer carries no stale warning:
    with urllib.request.urlopen(f"{gadgets.url}{path}/g1") as response:
        assert response.headers.get("Warning") is None


def test_openapi_v3_lists_every_group_version_with_field_validation(gadgets: KubeClient) -> None:
    index = gadgets.request("GET", "/openapi/v3")["paths"]
    assert {"api/v1", "apis/example.dev/v1", "apis/kopf.dev/v1"} <= set(index)
    document = gadgets.request("GET", index["apis/example.dev/v1"]["serverRelativeURL"].split("?")[0])
    patch = document["paths"]["/apis/example.dev/v1/namespaces/{namespace}/gadgets/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.dev",
        "version": "v1",
        "kind": "Gadget",
    }
    assert {"name": "fieldValidation", "in": "query"}.items() <= patch["parameters"][0].items()
    assert document["components"]["schemas"]["dev.example.v1.Gadget"]["properties"]["spec"]["required"] == [
        "size"
    ]
