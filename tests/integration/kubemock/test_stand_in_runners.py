"""The ways to run the stand-in: async context manager, thread, CLI; and the kubeconfig they write."""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import sys
from typing import Any

import kmock
import kubernetes
import yaml

from azbatch_kubemock import KubeClient, KubeStandIn, KubeStandInThread

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[3]


async def test_async_context_manager_serves_and_stops(widget_crd: dict[str, Any]) -> None:
    async with KubeStandIn() as kube:
        kube.register_crd(widget_crd)
        assert kube.base_url.startswith("http://127.0.0.1:")
        async with kube.servers[0].client.get("/apis/example.dev/v1/namespaces/default/widgets") as response:
            assert (await response.json())["kind"] == "WidgetList"


def test_thread_runner_gives_safe_access_to_the_store(
    kube: KubeStandInThread, client: KubeClient, make_widget: Any
) -> None:
    client.create(make_widget("w1"))
    names = kube.call(
        lambda k: [
            o["metadata"]["name"] for o in k.live_objects(kmock.resource("example.dev/v1/widgets"), None)
        ]
    )
    assert names == ["w1"]


def test_kubeconfig_works_with_the_kubernetes_client(kube: KubeStandInThread, tmp_path: pathlib.Path) -> None:
    path = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="kube-system")
    assert path.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(path.read_text())["contexts"][0]["context"]["namespace"] == "kube-system"
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(path)))
    assert api.read_namespace("kube-system").metadata.uid
    created = api.create_namespaced_config_map("default", {"metadata": {"name": "c"}, "data": {"a": "1"}})
    assert created.metadata.resource_version
    replaced = api.replace_namespaced_config_map(
        "c", "default", {"metadata": {"name": "c"}, "data": {"a": "2"}}
    )
    assert replaced.data == {"a": "2"}


def test_cli_prints_one_ready_line_and_serves(tmp_path: pathlib.Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    crd = PROJECT_ROOT / "crds" / "batchpools.azbatch.dev.yaml"
    command = [
        sys.executable,
        "-m",
        "azbatch_kubemock",
        "serve",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        "--crd",
        str(crd),
        "--token",
        "t0k",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=PROJECT_ROOT / "kubemock"
    ) as server:
        try:
            assert server.stdout is not None
            ready = json.loads(server.stdout.readline())
            assert ready["kubeconfig"] == str(kubeconfig.resolve())
            assert ready["crds"] == ["batchpools.azbatch.dev"]
            assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == ready["url"]
            listing = KubeClient(ready["url"], token="t0k").list_objects("azbatch.dev/v1alpha1", "BatchPool")
            assert listing == []
        finally:
            server.terminate()
    assert server.returncode == 0


def test_cli_refuses_a_file_that_is_not_a_crd(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ConfigMap\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "azbatch_kubemock",
            "serve",
            "--kubeconfig",
            str(tmp_path / "k"),
            "--crd",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=PROJECT_ROOT / "kubemock",
        check=False,
    )
    assert done.returncode == 2
    assert "bad.yaml: expected kind CustomResourceDefinition, got 'ConfigMap'" in done.stderr


async def test_compacted_history_answers_old_watches_with_410_and_stays_bounded(
    widget_crd: dict[str, Any],
) -> None:
    async with KubeStandIn(history_limit=4, versions_kept=3) as kube:
        kube.register_crd(widget_crd)
        client = kube.servers[0].client
        path = "/apis/example.dev/v1/namespaces/default/widgets"
        async with client.post(path, json={"metadata": {"name": "w1"}, "spec": {"size": 0}}) as response:
            first = (await response.json())["metadata"]["resourceVersion"]
        for size in range(1, 10):
            patch = {"spec": {"size": size}}
            headers = {"Content-Type": "application/merge-patch+json"}
            async with client.patch(f"{path}/w1", json=patch, headers=headers) as response:
                assert response.status == 200

        async with client.get(path, params={"watch": "true", "resourceVersion": first}) as response:
            event = json.loads(await response.content.readline())
        assert event["type"] == "ERROR"
        assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
        assert len(kube.objects["example.dev/v1/widgets", "default", "w1"].history) == 3


async def test_a_continue_token_past_compaction_is_410_and_a_new_list_works(
    widget_crd: dict[str, Any],
) -> None:
    async with KubeStandIn(continue_valid_for=0.2) as kube:
        kube.register_crd(widget_crd)
        client = kube.servers[0].client
        path = "/apis/example.dev/v1/namespaces/default/widgets"
        for name in ("w1", "w2", "w3"):
            async with client.post(path, json={"metadata": {"name": name}, "spec": {"size": 0}}) as response:
                assert response.status == 201
        async with client.get(path, params={"limit": "1"}) as response:
            fresh = (await response.json())["metadata"]["continue"]
        async with client.get(path, params={"limit": "1", "continue": fresh}) as response:
            assert response.status == 200
            stale = (await response.json())["metadata"]["continue"]
        await asyncio.sleep(0.3)  # etcd has compacted the list's revision away

        async with client.get(path, params={"limit": "1", "continue": stale}) as response:
            assert response.status == 410
            assert (await response.json())["reason"] == "Expired"
        async with client.get(path, params={"limit": "1"}) as response:
            assert [item["metadata"]["name"] for item in (await response.json())["items"]] == ["w1"]
