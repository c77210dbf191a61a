"""The operator reads whole collections in pages, as client-go does, so no start-up holds ten
thousand BatchPools in one answer (and a real API server is not asked for one)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from kubernetes import client as k8s
from operator_helpers import FAST

from azbatch_kubemock import KubeClient, KubeStandInThread
from azbatch_operator.kube.api import LIST_PAGE, READ_AGAIN_AFTER_EXPIRY, KubeGateway
from azbatch_operator.sandbox import Sandbox, SandboxSettings, pool_manifest, wait_until

CRD = Path(__file__).resolve().parents[3] / "crds" / "batchpools.azbatch.dev.yaml"
BATCHPOOLS = kmock.resource("azbatch.dev/v1alpha1/batchpools")

pytestmark = pytest.mark.standin_only(reason="counts the requests the stand-in answered")


@pytest.fixture
def kube() -> Iterator[KubeStandInThread]:
    with KubeStandInThread(crds=[yaml.safe_load(CRD.read_text())]) as running:
        yield running


def test_flows_under_way_are_found_on_every_page(kube: KubeStandInThread) -> None:
    client = KubeClient(kube.url)
    for i in range(5):
        created = client.create(pool_manifest(f"pool-{i}"))
        if i in (1, 4):  # one on the first page, one on the last
            client.patch(created, {"status": {"recreate": {"phase": "Draining"}}}, subresource="status")
    gateway = KubeGateway(k8s.Configuration(host=kube.url))

    found = asyncio.run(gateway.pools_in_disruption(page=2))

    assert sorted(name for _, _, name in found) == ["default/pool-1", "default/pool-4"]
    lists = list(kube.kube["get", BATCHPOOLS])
    assert [r.params.get("limit") for r in lists] == ["2", "2", "2"]
    assert [bool(r.params.get("continue")) for r in lists] == [False, True, True]


def test_kopf_lists_the_pools_in_pages_before_it_watches() -> None:
    with Sandbox(SandboxSettings(**FAST)) as sandbox:
        for i in range(3):
            sandbox.kube.apply(sandbox.retarget(pool_manifest(f"paged-{i}")))
        sandbox.stop_operator()
        stand_in = sandbox.kube_thread.kube
        before = len(stand_in["get", BATCHPOOLS])
        sandbox.start_operator()

        def requests_until_the_watch() -> list[Any]:
            requests = list(stand_in["get", BATCHPOOLS])[before:]
            watches = [i for i, r in enumerate(requests) if r.params.get("watch") == "true"]
            return requests[: watches[0]] if watches else []

        lists = wait_until(requests_until_the_watch, timeout=30, what="kopf's watch of BatchPools")
        assert len(lists) >= 2, "the operator's own read of flows under way, and kopf's list"
        assert {r.params.get("limit") for r in lists} == {str(LIST_PAGE)}


def test_a_snapshot_gone_between_pages_starts_the_read_again_then_reads_it_whole(
    kube: KubeStandInThread,
) -> None:
    client = KubeClient(kube.url)
    for i in range(3):
        created = client.create(pool_manifest(f"pool-{i}"))
        if i == 2:  # on the last page, never reached in pages
            client.patch(created, {"status": {"recreate": {"phase": "Deleting"}}}, subresource="status")
    kube.kube.continue_valid_for = -1.0  # etcd compacts at once: every second page is 410 Expired
    gateway = KubeGateway(k8s.Configuration(host=kube.url))

    found = asyncio.run(gateway.pools_in_disruption(page=2))

    assert [name for _, _, name in found] == ["default/pool-2"], "the flow under way keeps its budget"
    lists = list(kube.kube["get", BATCHPOOLS])
    firsts = [r for r in lists if not r.params.get("continue")]
    assert len(firsts) == READ_AGAIN_AFTER_EXPIRY + 1, (
        "read again from the first page a few times, then whole"
    )
    assert firsts[-1].params.get("limit") is None


def test_a_namespaced_operator_reads_the_flows_of_the_namespaces_its_patterns_select(
    kube: KubeStandInThread,
) -> None:
    client = KubeClient(kube.url)
    for namespace in ("team-a", "team-b", "other"):
        client.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        created = client.create(pool_manifest("pool", namespace=namespace))
        client.patch(created, {"status": {"recreate": {"phase": "Draining"}}}, subresource="status")
    gateway = KubeGateway(k8s.Configuration(host=kube.url))

    def flows(*patterns: str) -> list[str]:
        return sorted(name for _, _, name in asyncio.run(gateway.pools_in_disruption(patterns, page=2)))

    assert flows("team-a") == ["team-a/pool"]
    assert flows("team-a", "other") == ["other/pool", "team-a/pool"]
    assert flows("team-*,!team-b") == ["team-a/pool"]  # kopf's syntax: globs, then exclusions
    assert flows("!team-*") == ["other/pool"]  # a leading exclusion implies every other namespace
    assert flows() == ["other/pool", "team-a/pool", "team-b/pool"]
    cluster_wide = [
        r
        for r in kube.kube["get", BATCHPOOLS]
        if "/namespaces/" not in r.url.path and not r.params.get("continue")
    ]
    assert len(cluster_wide) == 1, "only the operator that serves every namespace lists them all"
