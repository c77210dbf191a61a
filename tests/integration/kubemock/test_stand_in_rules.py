"""The pure rules behind the stand-in: write semantics, merge patches, JSONPath, selectors."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azbatch_kubemock import patching, semantics, tables
from azbatch_kubemock.jsonpath import JsonPath, JsonPathError
from azbatch_kubemock.resources import ResourceSpec
from azbatch_kubemock.selectors import SelectorError, parse_field_selector, parse_label_selector

SPEC = ResourceSpec(
    group="example.dev",
    version="v1",
    plural="widgets",
    kind="Widget",
    namespaced=True,
    status_subresource=True,
    custom=True,
)

keys = st.sampled_from(["a", "b", "c", "size", "items"])
scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
bodies = st.dictionaries(keys, values, max_size=3)


def stored(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = semantics.new_object(
        {"metadata": {"name": "w1"}, "spec": spec},
        SPEC,
        url_namespace="default",
        resource_version=2,
        taken=lambda _: False,
    )
    if status is not None:
        obj["status"] = status
    return obj


@given(
    spec=bodies,
    status=bodies,
    new_spec=bodies,
    new_status=bodies,
    labels=st.dictionaries(keys, st.text(max_size=2)),
)
def test_a_status_write_changes_only_status(
    spec: Any, status: Any, new_spec: Any, new_status: Any, labels: Any
) -> None:
    old = stored(spec, status)
    candidate = {"metadata": {"labels": labels}, "spec": new_spec, "status": new_status}
    new = semantics.updated_object(old, candidate, SPEC, to_status=True)
    assert new["status"] == new_status
    assert {k: v for k, v in new.items() if k != "status"} == {k: v for k, v in old.items() if k != "status"}


@given(spec=bodies, status=bodies, new_spec=bodies, new_status=bodies)
def test_a_main_write_keeps_status_and_bumps_generation_only_for_spec(
    spec: Any, status: Any, new_spec: Any, new_status: Any
) -> None:
    old = stored(spec, status)
    candidate = patching.merge_patch(old, {"spec": None, "status": new_status})
    candidate["spec"] = new_spec
    new = semantics.updated_object(old, candidate, SPEC, to_status=False)
    assert new["status"] == status
    assert new["metadata"]["uid"] == old["metadata"]["uid"]
    assert new["metadata"]["generation"] == (1 if new_spec == spec else 2)


@given(target=values, patch=values)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any) -> None:
    result = patching.merge_patch(target, patch)
    if not isinstance(patch, dict):
        assert result == patch
        return
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == value
    untouched = {k: v for k, v in target.items() if k not in patch} if isinstance(target, dict) else {}
    assert all(result[k] == v for k, v in untouched.items())
    assert patching.merge_patch(result, patch) == result  # applying twice changes nothing more


def test_server_owned_metadata_cannot_be_overwritten() -> None:
    old = stored({"size": 1})
    candidate = patching.merge_patch(
        old, {"metadata": {"uid": "forged", "generation": 99, "creationTimestamp": "1999-01-01T00:00:00Z"}}
    )
    new = semantics.updated_object(old, candidate, SPEC, to_status=False)
    assert new == old


def test_renaming_through_a_write_is_refused() -> None:
    old = stored({"size": 1})
    with pytest.raises(semantics.WriteRejectedError, match="does not match the name on the URL"):
        semantics.updated_object(
            old, patching.merge_patch(old, {"metadata": {"name": "w2"}}), SPEC, to_status=False
        )


def test_replacing_a_custom_resource_needs_its_resource_version() -> None:
    old = stored({"size": 1})
    candidate = {"metadata": {"name": "w1"}, "spec": {"size": 2}}
    with pytest.raises(semantics.WriteRejectedError, match="must be specified for an update"):
        semantics.updated_object(old, candidate, SPEC, to_status=False, require_resource_version=True)


def test_json_patch_test_failure_is_distinguished() -> None:
    obj = stored({"size": 1})
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}]
    with pytest.raises(patching.PatchTestFailedError):
        patching.apply_patch(obj, ops, "application/json-patch+json", custom=True)
    with pytest.raises(patching.PatchError):
        patching.apply_patch(
            obj, [{"op": "remove", "path": "/nope"}], "application/json-patch+json", custom=True
        )
    with pytest.raises(patching.UnsupportedPatchTypeError):
        patching.apply_patch(obj, {}, "application/apply-patch+yaml", custom=True)


CONDITIONS = {
    "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Stalled", "status": "True"}]},
    "spec": {"items": [{"name": "a"}, {"name": "b"}], "a.b": 1},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ('.status.conditions[?(@.type=="Ready")].status', ["False"]),
        (".status.conditions[?(@.type!='Ready')].type", ["Stalled"]),
        (".status.conditions[1].type", ["Stalled"]),
        (".status.conditions[-1].status", ["True"]),
        (".spec.items[*].name", ["a", "b"]),
        ("{.spec['a.b']}", [1]),
        ("$.spec.missing", []),
    ],
)
def test_jsonpath_subset(path: str, expected: list[Any]) -> None:
    assert JsonPath.parse(path).find(CONDITIONS) == expected


@pytest.mark.parametrize("path", ["", ".spec..x", ".spec[?(@.a>1)]", "spec"])
def test_jsonpath_outside_the_subset_is_refused(path: str) -> None:
    with pytest.raises(JsonPathError):
        JsonPath.parse(path)


def test_selectors() -> None:
    obj = {
        "metadata": {"name": "n", "labels": {"tier": "gold", "env": "prod"}},
        "involvedObject": {"uid": "u1"},
    }
    assert parse_label_selector("tier=gold,env!=dev")(obj)
    assert parse_label_selector("tier in (gold, silver),env notin (dev),env,!missing")(obj)
    assert not parse_label_selector("tier==silver")(obj)
    assert parse_field_selector("involvedObject.uid=u1,metadata.name!=x")(obj)
    assert not parse_field_selector("involvedObject.uid=u2")(obj)
    with pytest.raises(SelectorError):
        parse_label_selector("tier in gold")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (200, "3m20s"),
        (3600, "60m"),
        (4 * 3600 + 60, "4h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (10 * 86400, "10d"),
    ],
)
def test_ages_read_like_kubectl(seconds: int, text: str) -> None:
    now = datetime.datetime(2026, 1, 10, tzinfo=datetime.UTC)
    since = (now - datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert tables.human_age(since, now) == text


def test_table_defaults_to_name_and_age_without_printer_columns() -> None:
    table = tables.build_table(SPEC, [stored({"size": 1})], resource_version="7")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"][0] == "w1"
