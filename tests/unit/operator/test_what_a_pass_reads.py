"""Between passes a pool's loop keeps what its passes read of the watched object, not the API
server's bookkeeping (managedFields, kubectl's last-applied copy): ten thousand are held at once."""

from __future__ import annotations

import json
from typing import Any

from azbatch_operator.convergence import APPROVE_ANNOTATION
from azbatch_operator.reconciler import identity_of, resource_document, what_a_pass_reads
from azbatch_operator.sandbox import pool_manifest


def _watched() -> dict[str, Any]:
    body = pool_manifest("p", "ns")
    body["metadata"].update(
        uid="u",
        generation=4,
        resourceVersion="812",
        creationTimestamp="2026-12-02T06:00:00Z",
        deletionTimestamp="2026-12-02T07:00:00Z",
        finalizers=["azbatch.dev/finalizer"],
        annotations={
            APPROVE_ANNOTATION: "4",
            "kubectl.kubernetes.io/last-applied-configuration": json.dumps(pool_manifest("p", "ns")),
        },
        managedFields=[
            {"manager": "kubectl-client-side-apply", "fieldsV1": {"f:spec": {"f:vmSize": {}}}},
            {"manager": "azbatch-operator", "subresource": "status", "fieldsV1": {"f:status": {}}},
        ],
    )
    body["status"] = {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True"}]}
    return body


def test_a_pass_reads_the_same_object_from_the_view() -> None:
    body = _watched()
    view = what_a_pass_reads(body)
    assert identity_of(view) == identity_of(body)
    assert resource_document(view) == resource_document(body)
    assert view["status"] is body["status"] and view["spec"] is body["spec"], "shared, not copied"
    assert view["metadata"]["deletionTimestamp"] == body["metadata"]["deletionTimestamp"]


def test_the_api_servers_bookkeeping_is_not_kept() -> None:
    meta = what_a_pass_reads(_watched())["metadata"]
    assert "managedFields" not in meta
    assert meta.get("annotations") == {APPROVE_ANNOTATION: "4"}, "kubectl's copy of the manifest goes"
    assert "finalizers" not in meta and "creationTimestamp" not in meta


def test_an_object_without_approval_keeps_no_annotations() -> None:
    body = _watched()
    del body["metadata"]["annotations"][APPROVE_ANNOTATION]
    assert "annotations" not in what_a_pass_reads(body)["metadata"]
