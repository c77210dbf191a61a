"""The real kopf operator against the stand-in over HTTP: the lifecycle the project relies on."""

from __future__ import annotations

import asyncio
import pathlib
import threading
from collections.abc import Iterator
from typing import Any

import kopf
import pytest

from azbatch_kubemock.client import KubeClient

FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"


class TinyOperator:
    """A kopf operator with one handler of each kind, running in its own thread and loop."""

    def __init__(self, *, peering_name: str | None = None) -> None:
        self.peering_name = peering_name
        self.registry = kopf.OperatorRegistry()
        self.diffs: list[Any] = []
        self.deleted: list[str] = []
        self.stop_flag = threading.Event()
        self.ready_flag = threading.Event()
        self.failure: BaseException | None = None
        resource = ("example.dev", "v1", "widgets")
        on = {"registry": self.registry}

        @kopf.on.startup(**on)
        def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
            settings.watching.server_timeout = 5

        kopf.on.login(**on)(kopf.login_with_kubeconfig)

        @kopf.on.create(*resource, **on)
        def created(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
            kopf.info(body, reason="Created", message=f"size {spec['size']}")
            patch.status["phase"] = "Created"
            patch.status["size"] = spec["size"]

        @kopf.on.update(*resource, **on)
        def updated(body: kopf.Body, diff: kopf.Diff, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
            kopf.info(body, reason="Resized", message=f"size {spec['size']}")
            self.diffs.append([(op, tuple(path), old, new) for op, path, old, new in diff])
            patch.status["size"] = spec["size"]

        @kopf.timer(*resource, interval=0.2, **on)
        def tick(status: kopf.Status, patch: kopf.Patch, **_: Any) -> None:
            patch.status["ticks"] = (status.get("ticks") or 0) + 1

        @kopf.on.delete(*resource, **on)
        def deleted(name: str, **_: Any) -> None:
            self.deleted.append(name)

    def _run(self) -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=self.registry,
                    clusterwide=True,
                    standalone=self.peering_name is None,
                    peering_name=self.peering_name,
                    stop_flag=self.stop_flag,
                    ready_flag=self.ready_flag,
                )
            )
        except BaseException as exc:
            self.failure = exc
            self.ready_flag.set()

    def running(self) -> Iterator[TinyOperator]:
        thread = threading.Thread(target=self._run, name="kopf", daemon=True)
        thread.start()
        assert self.ready_flag.wait(15), "kopf did not become ready"
        assert self.failure is None, f"kopf failed to start: {self.failure!r}"
        try:
            yield self
        finally:
            self.stop_flag.set()
            thread.join(15)
            assert not thread.is_alive(), "kopf did not stop"


@pytest.fixture
def operator(kubeconfig: pathlib.Path) -> Iterator[TinyOperator]:
    yield from TinyOperator().running()


def test_kopf_runs_a_full_lifecycle(operator: TinyOperator, client: KubeClient, make_widget: Any) -> None:
    manifest = make_widget("w1", size=1)
    client.create(manifest)

    created = client.wait_for(
        manifest,
        lambda o: bool(
            o and FINALIZER in o["metadata"].get("finalizers", []) and o.get("status", {}).get("phase")
        ),
        "given kopf's finalizer and a status from the create handler",
    )
    assert created is not None
    assert created["status"]["size"] == 1
    assert created["metadata"]["generation"] == 1, "status and metadata writes must not bump generation"

    client.wait_for(
        manifest, lambda o: bool(o and o["status"].get("ticks", 0) >= 2), "ticked twice by the timer"
    )

    client.patch(manifest, {"spec": {"size": 3}})
    updated = client.wait_for(
        manifest, lambda o: bool(o and o["status"].get("size") == 3), "updated to size 3"
    )
    assert updated is not None and updated["metadata"]["generation"] == 2
    assert [("change", ("spec", "size"), 1, 3)] in operator.diffs

    # kopf posts events in the background; both get distinct names from generateName.
    events = client.wait_for_list(
        lambda: client.events_for(manifest), lambda found: len(found) >= 2, "two events posted"
    )
    assert {(e["reason"], e["message"]) for e in events} == {("Created", "size 1"), ("Resized", "size 3")}
    assert len({e["metadata"]["name"] for e in events}) == 2
    assert all(e["involvedObject"]["uid"] == created["metadata"]["uid"] for e in events)

    client.delete(manifest)
    client.wait_gone(manifest)
    assert operator.deleted == ["w1"]


def test_kopf_peering_keeps_alive_in_a_cluster_peering(kubeconfig: pathlib.Path, client: KubeClient) -> None:
    peering = {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": "azbatch"}}
    client.create(peering)
    for _ in TinyOperator(peering_name="azbatch").running():
        seen = client.wait_for(
            peering, lambda o: bool(o and o.get("status")), "given the operator's keep-alive"
        )
        assert seen is not None
        [(identity, record)] = seen["status"].items()
        assert identity and record["priority"] == 0 and record["lastseen"]
