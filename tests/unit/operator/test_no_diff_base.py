"""kopf sees no change in a BatchPool's watch events: the operator reads generations, not diffs."""

from __future__ import annotations

from typing import Any

import kopf

from azbatch_operator.handlers import NoDiffBase


def _body(generation: int, status: dict[str, Any]) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "azbatch.dev/v1alpha1",
            "kind": "BatchPool",
            "metadata": {"name": "p", "namespace": "ns", "generation": generation, "labels": {"a": "b"}},
            "spec": {"vmSize": "standard_d2s_v3", "targetDedicatedNodes": generation},
            "status": status,
        }
    )


def test_the_stored_essence_is_always_the_built_one_so_no_event_looks_like_a_change() -> None:
    """A missing base makes every watch event a creation to kopf, which then copies, compares and
    formats the whole object at every status write, for creation handlers that do not exist."""
    storage = NoDiffBase()
    for body in (_body(1, {}), _body(2, {"phase": "Ready"}), _body(7, {"conditions": [{"type": "Ready"}]})):
        assert storage.fetch(body=body) is not None
        assert storage.fetch(body=body) == storage.build(body=body, extra_fields=["status.phase"])


def test_storing_a_base_writes_nothing_to_the_object() -> None:
    storage = NoDiffBase()
    body = _body(3, {"phase": "Ready"})
    patch = kopf.Patch()
    storage.store(body=body, patch=patch, essence=storage.build(body=body))
    assert not patch
