"""What the stand-in supplies on top of kmock, checked over HTTP as kopf and kubectl see it."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest

from azbatch_kubemock import CrdError, KubeApiError, KubeClient, KubeStandInThread

WIDGETS = "/apis/example.dev/v1/namespaces/default/widgets"


def status_of(error: pytest.ExceptionInfo[KubeApiError]) -> tuple[int, str]:
    return error.value.code, error.value.reason


def test_create_fills_server_owned_metadata(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1")
    del manifest["metadata"]["namespace"]  # taken from the URL, as the API server does
    created = client.request("POST", WIDGETS, manifest)
    meta = created["metadata"]
    assert meta["namespace"] == "default"
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["resourceVersion"].isdigit()
    assert meta["generation"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert (created["apiVersion"], created["kind"]) == ("example.dev/v1", "Widget")


def test_namespace_in_body_must_match_the_url(client: KubeClient, make_widget: Any) -> None:
    with pytest.raises(KubeApiError) as error:
        client.request("POST", WIDGETS, make_widget("w1", namespace="other"))
    assert status_of(error) == (400, "BadRequest")


def test_resource_version_grows_on_every_write_but_not_on_a_no_op(
    client: KubeClient, make_widget: Any
) -> None:
    manifest = make_widget("w1")
    versions = [int(client.create(manifest)["metadata"]["resourceVersion"])]
    versions.append(
        int(client.patch(manifest, {"metadata": {"labels": {"a": "b"}}})["metadata"]["resourceVersion"])
    )
    versions.append(
        int(client.patch(manifest, {"status": {"x": 1}}, subresource="status")["metadata"]["resourceVersion"])
    )
    versions.append(int(client.patch(manifest, {"spec": {"size": 2}})["metadata"]["resourceVersion"]))
    assert versions == sorted(set(versions)), versions
    unchanged = client.patch(manifest, {"spec": {"size": 2}})
    assert int(unchanged["metadata"]["resourceVersion"]) == versions[-1]


def test_generation_counts_spec_changes_only(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1")
    client.create(manifest)
    client.patch(manifest, {"metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}}})
    client.patch(manifest, {"status": {"phase": "Ready"}}, subresource="status")
    assert client.get(manifest)["metadata"]["generation"] == 1  # type: ignore[index]
    client.patch(manifest, {"spec": {"size": 5}})
    assert client.get(manifest)["metadata"]["generation"] == 2  # type: ignore[index]


def test_status_subresource_isolates_status_from_spec(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1", size=1)
    manifest["status"] = {"phase": "ignored on create"}
    assert "status" not in client.create(manifest)

    after_main = client.patch(manifest, {"spec": {"size": 2}, "status": {"phase": "ignored on main"}})
    assert "status" not in after_main and after_main["spec"]["size"] == 2

    after_status = client.patch(
        manifest, {"spec": {"size": 9}, "status": {"phase": "Ready"}}, subresource="status"
    )
    assert after_status["status"] == {"phase": "Ready"}
    assert after_status["spec"]["size"] == 2


def test_generate_name_gives_unique_names(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("")
    manifest["metadata"] = {"generateName": "w-", "namespace": "default"}
    names = {client.create(manifest)["metadata"]["name"] for _ in range(5)}
    assert len(names) == 5
    assert all(re.fullmatch(r"w-[a-z0-9]{5}", name) for name in names)


def test_name_or_generate_name_is_required(client: KubeClient) -> None:
    with pytest.raises(KubeApiError) as error:
        client.request("POST", WIDGETS, {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {}})
    assert status_of(error) == (422, "Invalid")
    assert "name or generateName is required" in error.value.message


def test_failed_resource_version_test_in_json_patch_is_422(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1")
    created = client.create(manifest)
    fresh = created["metadata"]["resourceVersion"]
    client.patch(manifest, {"metadata": {"labels": {"moved": "on"}}})
    add_finalizer = {"op": "add", "path": "/metadata/finalizers", "value": ["example.dev/f"]}
    path = f"{WIDGETS}/w1"

    with pytest.raises(KubeApiError) as error:
        client.request(
            "PATCH",
            path,
            [{"op": "test", "path": "/metadata/resourceVersion", "value": fresh}, add_finalizer],
            content_type="application/json-patch+json",
        )
    assert status_of(error) == (422, "Invalid")

    current = client.get(manifest)["metadata"]["resourceVersion"]  # type: ignore[index]
    test = {"op": "test", "path": "/metadata/resourceVersion", "value": current}
    patched = client.request("PATCH", path, [test, add_finalizer], content_type="application/json-patch+json")
    assert patched["metadata"]["finalizers"] == ["example.dev/f"]


def test_stale_resource_version_in_a_merge_patch_is_a_conflict(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1")
    client.create(manifest)
    with pytest.raises(KubeApiError) as error:
        client.patch(manifest, {"metadata": {"resourceVersion": "1"}, "spec": {"size": 3}})
    assert status_of(error) == (409, "Conflict")
    assert "the object has been modified" in error.value.message


def test_delete_with_finalizers_only_marks_until_the_last_is_removed(
    client: KubeClient, make_widget: Any
) -> None:
    manifest = make_widget("w1", finalizers=["example.dev/a", "example.dev/b"])
    client.create(manifest)

    marked = client.delete(manifest)
    assert marked is not None and marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["generation"] == 2  # as the API server does when deletion starts
    assert client.get(manifest) is not None

    with pytest.raises(KubeApiError) as error:
        client.patch(
            manifest, {"metadata": {"finalizers": ["example.dev/a", "example.dev/b", "example.dev/c"]}}
        )
    assert status_of(error) == (422, "Invalid")

    client.patch(manifest, {"metadata": {"finalizers": ["example.dev/b"]}})
    assert client.get(manifest) is not None
    client.patch(manifest, {"metadata": {"finalizers": []}})
    assert client.get(manifest) is None


def test_delete_without_finalizers_removes_at_once(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1")
    client.create(manifest)
    assert client.delete(manifest) is not None
    assert client.get(manifest) is None
    assert client.delete(manifest) is None  # 404 the second time


def test_list_has_kind_api_version_and_resource_version(client: KubeClient, make_widget: Any) -> None:
    client.create(make_widget("b"))
    last = client.create(make_widget("a"))
    listing = client.request("GET", WIDGETS)
    assert (listing["apiVersion"], listing["kind"]) == ("example.dev/v1", "WidgetList")
    assert listing["metadata"]["resourceVersion"] == last["metadata"]["resourceVersion"]
    assert [item["metadata"]["name"] for item in listing["items"]] == ["a", "b"]


def test_list_honours_label_and_field_selectors(client: KubeClient, make_widget: Any) -> None:
    client.create(make_widget("a", labels={"tier": "gold"}))
    client.create(make_widget("b", labels={"tier": "silver"}))
    client.create(make_widget("c"))

    def names(**selectors: str) -> list[str]:
        return [o["metadata"]["name"] for o in client.list_objects("example.dev/v1", "Widget", **selectors)]

    assert names(label_selector="tier=gold") == ["a"]
    assert names(label_selector="tier in (gold,silver)") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name!=a") == ["b", "c"]


def pages(client: KubeClient, limit: int, **params: str) -> list[dict[str, Any]]:
    """Every page of the widgets list, following `continue` as client-go's pager does."""
    served = [client.request("GET", WIDGETS, params={"limit": str(limit), **params})]
    while served[-1]["metadata"]["continue"]:
        token = served[-1]["metadata"]["continue"]
        served.append(
            client.request("GET", WIDGETS, params={"limit": str(limit), "continue": token, **params})
        )
    return served


def test_a_list_with_a_limit_comes_in_pages_that_say_what_remains(
    client: KubeClient, make_widget: Any
) -> None:
    for name in "edcba":
        client.create(make_widget(name))
    served = pages(client, 2)
    assert [[o["metadata"]["name"] for o in page["items"]] for page in served] == [
        ["a", "b"],
        ["c", "d"],
        ["e"],
    ]
    assert [page["metadata"].get("remainingItemCount") for page in served] == [3, 1, None]
    assert len({page["metadata"]["resourceVersion"] for page in served}) == 1
    assert client.request("GET", WIDGETS, params={"limit": "0"})["metadata"]["continue"] == ""
    assert len(client.request("GET", WIDGETS, params={"limit": "0"})["items"]) == 5


def test_later_pages_show_the_collection_as_the_first_page_found_it(
    client: KubeClient, make_widget: Any
) -> None:
    """One consistent snapshot, as etcd serves a paged list: what changed after the first page is
    seen by the watch from the list's resourceVersion, not by the later pages."""
    for name in "abcd":
        client.create(make_widget(name, size=1))
    first = client.request("GET", WIDGETS, params={"limit": "2"})
    client.patch(make_widget("c"), {"spec": {"size": 2}})
    client.delete(make_widget("d"))
    client.create(make_widget("e"))
    rest = client.request("GET", WIDGETS, params={"limit": "10", "continue": first["metadata"]["continue"]})
    assert [(o["metadata"]["name"], o["spec"]["size"]) for o in rest["items"]] == [("c", 1), ("d", 1)]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    now = client.request("GET", WIDGETS)["items"]
    assert [(o["metadata"]["name"], o["spec"]["size"]) for o in now] == [
        ("a", 1),
        ("b", 1),
        ("c", 2),
        ("e", 1),
    ]


def test_pages_of_a_filtered_list_do_not_count_what_remains(client: KubeClient, make_widget: Any) -> None:
    for name in "abcde":
        client.create(make_widget(name, labels={"tier": "gold" if name != "c" else "silver"}))
    served = pages(client, 2, labelSelector="tier=gold")
    assert [[o["metadata"]["name"] for o in page["items"]] for page in served] == [["a", "b"], ["d", "e"]]
    assert all("remainingItemCount" not in page["metadata"] for page in served)


def test_a_continue_token_that_is_not_one_is_a_bad_request(client: KubeClient, make_widget: Any) -> None:
    client.create(make_widget("a"))
    for token in ("not base64!", "eyJ2IjoieCJ9", "e30"):
        with pytest.raises(KubeApiError) as error:
            client.request("GET", WIDGETS, params={"limit": "1", "continue": token})
        assert status_of(error) == (400, "BadRequest")
        assert "continue key is not valid" in str(error.value)


def test_table_answer_uses_the_printer_columns(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1", size=4)
    client.create(manifest)
    client.patch(
        manifest,
        {
            "status": {
                "conditions": [{"type": "Other", "status": "False"}, {"type": "Ready", "status": "True"}]
            }
        },
        subresource="status",
    )
    request = urllib.request.Request(
        f"{client.url}{WIDGETS}",
        headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    with urllib.request.urlopen(request) as response:
        table = json.loads(response.read())
    assert (table["apiVersion"], table["kind"]) == ("meta.k8s.io/v1", "Table")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Ready", "Age"]
    [row] = table["rows"]
    assert row["cells"][:3] == ["w1", 4, "True"]
    assert re.fullmatch(r"\d+s", row["cells"][3])
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "w1"


def test_not_found_and_already_exists_are_status_objects(client: KubeClient, make_widget: Any) -> None:
    with pytest.raises(KubeApiError) as error:
        client.request("GET", f"{WIDGETS}/nope")
    assert error.value.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'widgets.example.dev "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "example.dev", "kind": "widgets"},
        "code": 404,
    }

    client.create(make_widget("w1"))
    with pytest.raises(KubeApiError) as error:
        client.create(make_widget("w1"))
    assert status_of(error) == (409, "AlreadyExists")
    assert error.value.message == 'widgets.example.dev "w1" already exists'


def test_objects_need_an_existing_namespace(client: KubeClient, make_widget: Any) -> None:
    with pytest.raises(KubeApiError) as error:
        client.create(make_widget("w1", namespace="missing"))
    assert status_of(error) == (404, "NotFound")
    assert error.value.message == 'namespaces "missing" not found'


def test_undeclared_resources_are_404(client: KubeClient) -> None:
    with pytest.raises(KubeApiError) as error:
        client.request("GET", "/apis/example.dev/v1/namespaces/default/gadgets")
    assert status_of(error) == (404, "NotFound")


def test_strategic_merge_patch_is_refused_for_custom_resources_only(
    client: KubeClient, make_widget: Any
) -> None:
    manifest = make_widget("w1")
    client.create(manifest)
    with pytest.raises(KubeApiError) as error:
        client.request(
            "PATCH",
            f"{WIDGETS}/w1",
            {"spec": {"size": 2}},
            content_type="application/strategic-merge-patch+json",
        )
    assert status_of(error) == (415, "UnsupportedMediaType")

    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": {"a": "1"},
    }
    client.create(config)
    patched = client.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/c",
        {"data": {"b": "2"}},
        content_type="application/strategic-merge-patch+json",
    )
    assert patched["data"] == {"a": "1", "b": "2"}


def test_builtins_for_kopf_exist(client: KubeClient) -> None:
    kube_system = client.request("GET", "/api/v1/namespaces/kube-system")
    assert re.fullmatch(r"[0-9a-f-]{36}", kube_system["metadata"]["uid"])
    assert kube_system["status"] == {"phase": "Active"}
    for api_version, kind in [
        ("v1", "Event"),
        ("v1", "Secret"),
        ("v1", "ConfigMap"),
        ("coordination.k8s.io/v1", "Lease"),
        ("kopf.dev/v1", "ClusterKopfPeering"),
        ("kopf.dev/v1", "KopfPeering"),
    ]:
        assert client.list_objects(api_version, kind) == []


def test_discovery_shows_short_names_and_status_subresource(client: KubeClient) -> None:
    resources = {r["name"]: r for r in client.request("GET", "/apis/example.dev/v1")["resources"]}
    assert resources["widgets"]["shortNames"] == ["wg"]
    assert resources["widgets"]["namespaced"] is True
    assert "widgets/status" in resources


def test_posting_a_crd_serves_its_resource(client: KubeClient, widget_crd: dict[str, Any]) -> None:
    crd = json.loads(json.dumps(widget_crd).replace("widget", "gadget").replace("Widget", "Gadget"))
    crd["spec"]["names"]["shortNames"] = ["gd"]
    client.create(crd)
    gadget = {
        "apiVersion": "example.dev/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1", "namespace": "default"},
    }
    assert client.create(gadget)["metadata"]["generation"] == 1


def test_a_token_is_required_when_configured(widget_crd: dict[str, Any]) -> None:
    with KubeStandInThread(crds=[widget_crd], token="s3cret") as kube:
        with pytest.raises(KubeApiError) as error:
            KubeClient(kube.url).request("GET", "/api/v1/namespaces")
        assert status_of(error) == (401, "Unauthorized")
        assert KubeClient(kube.url, token="s3cret").request("GET", "/api/v1/namespaces")["items"]


def test_bad_printer_column_path_is_refused_with_its_location(widget_crd: dict[str, Any]) -> None:
    widget_crd["spec"]["versions"][0]["additionalPrinterColumns"][0]["jsonPath"] = ".spec.items[?(@.a>1)]"
    with pytest.raises(CrdError, match=r"spec.versions\[0\].additionalPrinterColumns\[0\].jsonPath"):
        KubeStandInThread(crds=[widget_crd]).kube.register_crd(widget_crd)


def read_watch(client: KubeClient, query: str) -> list[dict[str, Any]]:
    """All events of a watch that the server ends by its timeoutSeconds."""
    with urllib.request.urlopen(f"{client.url}{WIDGETS}?watch=true&{query}", timeout=10) as response:
        return [json.loads(line) for line in response if line.strip()]


def test_watch_resumes_after_a_resource_version(client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1")
    created = client.create(manifest)
    client.create(make_widget("w2"))
    client.patch(manifest, {"spec": {"size": 7}})

    since = created["metadata"]["resourceVersion"]
    events = read_watch(client, f"resourceVersion={since}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w2"),
        ("MODIFIED", "w1"),
    ]
    assert events[1]["object"]["spec"]["size"] == 7


def test_watch_without_a_version_starts_with_the_current_state(client: KubeClient, make_widget: Any) -> None:
    client.create(make_widget("w1", labels={"pick": "me"}))
    client.create(make_widget("w2"))
    events = read_watch(client, "timeoutSeconds=1&labelSelector=pick%3Dme")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "w1")]


def test_initial_events_end_with_a_bookmark_when_asked(client: KubeClient, make_widget: Any) -> None:
    client.create(make_widget("w1"))
    events = read_watch(
        client,
        "timeoutSeconds=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    )
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_deleting_a_namespace_deletes_its_content_then_itself(client: KubeClient, make_widget: Any) -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    assert client.create(namespace)["spec"] == {"finalizers": ["kubernetes"]}
    plain = make_widget("plain", namespace="team")
    held = make_widget("held", namespace="team", finalizers=["example.dev/f"])
    client.create(plain)
    client.create(held)

    terminating = client.delete(namespace)
    assert terminating is not None and terminating["status"] == {"phase": "Terminating"}
    assert client.get(plain) is None
    assert client.get(held)["metadata"]["deletionTimestamp"]  # type: ignore[index]
    with pytest.raises(KubeApiError) as error:
        client.create(make_widget("late", namespace="team"))
    assert status_of(error) == (403, "Forbidden")
    assert "being terminated" in error.value.message

    client.patch(held, {"metadata": {"finalizers": []}})
    assert client.get(held) is None
    assert client.get(namespace) is None


def test_secret_string_data_is_folded_into_data(client: KubeClient) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"kept": "a2VwdA==", "replaced": "b2xk"},
        "stringData": {"replaced": "new", "added": "p@ss"},
    }
    created = client.create(secret)
    assert "stringData" not in created and created["type"] == "Opaque"
    assert created["data"] == {"kept": "a2VwdA==", "replaced": "bmV3", "added": "cEBzcw=="}
    patched = client.patch(secret, {"stringData": {"added": "other"}})
    assert patched["data"]["added"] == "b3RoZXI=" and "stringData" not in patched
