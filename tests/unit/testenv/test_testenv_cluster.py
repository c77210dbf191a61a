"""A real API server made ready for the sandbox, with the API answered by a fake client: the CRD
through the API until Established, the chart's RBAC for the operator's ServiceAccount, its token in
the operator's kubeconfig (the admin's credential only in the admin's), and cleanup on a cluster
the sandbox does not own."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml

from azbatch_kubemock import KubeStandInThread
from azbatch_operator.crd import build_crd
from azbatch_operator.testenv import HarnessError, Server
from azbatch_operator.testenv.certs import CertPair, TinyCA
from azbatch_operator.testenv.cluster import (
    CHART,
    ClusterError,
    Connection,
    RealCluster,
    connection_from_kubeconfig,
    rbac_manifests,
    service_account_of,
    tracking_client,
)
from azbatch_operator.testenv.controlplane import Credentials

CA = TinyCA()
ADMIN = CA.client_cert("kind-admin", ["system:masters"])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _kubeconfig(path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kind",
                "cluster": cluster
                or {"server": "https://127.0.0.1:6443", "certificate-authority-data": _b64(CA.cert_pem)},
            },
            {"name": "other", "cluster": {"server": "https://elsewhere"}},
        ],
        "users": [{"name": "kind", "user": user}],
        "contexts": [{"name": "kind-kind", "context": {"cluster": "kind", "user": "kind"}}],
        "current-context": "kind-kind",
    }
    path.write_text(yaml.safe_dump(document))
    return path


# -- kubeconfigs --------------------------------------------------------------------------------------


def test_a_kind_kubeconfig_gives_its_server_ca_and_client_certificate(tmp_path: Path) -> None:
    path = _kubeconfig(
        tmp_path / "config",
        {"client-certificate-data": _b64(ADMIN.cert_pem), "client-key-data": _b64(ADMIN.key_pem)},
    )
    connection = connection_from_kubeconfig(path)
    assert connection == Connection("https://127.0.0.1:6443", CA.cert_pem, client=ADMIN)


def test_files_are_read_relative_to_the_kubeconfig_and_tokens_work(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(CA.cert_pem)
    (tmp_path / "token").write_text("abc.def\n")
    path = _kubeconfig(
        tmp_path / "config",
        {"tokenFile": "token"},
        {"server": "https://10.0.0.1", "certificate-authority": "ca.crt"},
    )
    assert connection_from_kubeconfig(path) == Connection("https://10.0.0.1", CA.cert_pem, token="abc.def")
    insecure = _kubeconfig(
        tmp_path / "insecure", {"token": "t"}, {"server": "https://x", "insecure-skip-tls-verify": True}
    )
    assert connection_from_kubeconfig(insecure).insecure


def test_exec_plugins_are_refused_naming_the_context(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "config", {"exec": {"command": "aws"}})
    with pytest.raises(ClusterError, match="'kind-kind' signs in through an exec plugin"):
        connection_from_kubeconfig(path)


def test_a_connection_writes_a_kubeconfig_that_reads_back(tmp_path: Path) -> None:
    original = Connection("https://127.0.0.1:1234", CA.cert_pem, client=ADMIN)
    path = original.write_kubeconfig(tmp_path / "kc", "admin")
    assert path.stat().st_mode & 0o077 == 0
    assert connection_from_kubeconfig(path) == original
    operator = original.as_user("sa-token")
    document = operator.kubeconfig("azbatch-operator")
    (user,) = document["users"]
    assert user["user"] == {"token": "sa-token"}  # the admin's certificate is not handed on
    assert document["clusters"][0]["cluster"]["certificate-authority-data"] == _b64(CA.cert_pem)


# -- the chart's RBAC ---------------------------------------------------------------------------------


def test_the_operator_gets_the_charts_service_account_roles_and_bindings() -> None:
    manifests = rbac_manifests()  # Helm's Go SDK renders the chart
    kinds = [m["kind"] for m in manifests]
    assert kinds == sorted(
        kinds, key=["ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"].index
    )
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"} == set(kinds)
    namespace, account = service_account_of(manifests)
    assert (namespace, account) == ("default", "azbatch-operator")
    for binding in (m for m in manifests if m["kind"].endswith("Binding")):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
    cluster_role = next(m for m in manifests if m["kind"] == "ClusterRole")
    assert all("*" not in rule["verbs"] for rule in cluster_role["rules"])  # not an admin in disguise


def test_no_chart_no_real_server(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match="Helm chart is not at"):
        rbac_manifests(tmp_path / "nowhere")


# -- the cluster, with the API answered by a fake ------------------------------------------------------


class FakeApi:
    """What the harness asks of the API, answered as a fresh server would; records every call."""

    def __init__(self, *, crd_exists: bool = False, denials: int = 2) -> None:
        self.calls: list[tuple[str, str, str | None]] = []  # (who, method, path)
        self.objects: dict[str, dict[str, Any]] = {}
        self.crd_exists = crd_exists
        self.denials = denials  # the operator's token is refused this often (RBAC propagating)
        self.crd_polls = 0

    def client(self, server: str, *, token: str | None, ssl_context: Any) -> FakeClient:
        return FakeClient(self, "operator" if token == "sa-token" else "admin")


class FakeClient:
    def __init__(self, api: FakeApi, who: str) -> None:
        self.api, self.who = api, who
        self.created: list[dict[str, Any]] = []

    def request(self, method: str, path: str, body: Any = None) -> Any:
        self.api.calls.append((self.who, method, path))
        if self.who == "operator":
            if self.api.denials:
                self.api.denials -= 1
                raise PermissionError("403 Forbidden")
            return {"items": []} if path.endswith("batchpools") else {"metadata": {"uid": "u"}}
        if path.endswith("/token"):
            assert body["kind"] == "TokenRequest"
            return {"status": {"token": "sa-token"}}
        if path.startswith("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"):
            if method == "GET":
                if not self.api.crd_exists:
                    return None
                self.api.crd_polls += 1
                established = "True" if self.api.crd_polls > 2 else "False"
                return {
                    "metadata": {"resourceVersion": "7"},
                    "status": {"conditions": [{"type": "Established", "status": established}]},
                }
            if method == "PUT":
                assert body["metadata"]["resourceVersion"] == "7"
                return body
            if method == "DELETE":
                return {}
        if path == "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" and method == "POST":
            self.api.crd_exists = True
            return body
        if path == "/apis/azbatch.dev/v1alpha1":
            return {"resources": [{"name": "batchpools"}, {"name": "batchpools/status"}]}
        raise AssertionError(f"unexpected {method} {path}")

    def request_or_none(self, method: str, path: str, body: Any = None) -> Any:
        return self.request(method, path, body)

    @staticmethod
    def _key(obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        return f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"

    def get(self, obj: dict[str, Any]) -> Any:
        self.api.calls.append((self.who, "GET", self._key(obj)))
        if obj["kind"] == "Namespace" and obj["metadata"]["name"] in ("default", "kube-system"):
            return obj
        return self.api.objects.get(self._key(obj))

    def apply(self, obj: dict[str, Any]) -> Any:
        return self.create(obj)

    def create(self, obj: dict[str, Any]) -> Any:
        self.api.calls.append((self.who, "POST", self._key(obj)))
        ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": dict(obj["metadata"])}
        self.api.objects[self._key(obj)] = dict(obj)
        self.created.append(ref)
        return obj

    def patch(self, obj: dict[str, Any], patch: dict[str, Any]) -> Any:
        self.api.calls.append((self.who, "PATCH", self._key(obj)))
        self.api.objects[self._key(obj)]["metadata"]["finalizers"] = patch["metadata"]["finalizers"]

    def delete(self, obj: dict[str, Any]) -> Any:
        self.api.calls.append((self.who, "DELETE", self._key(obj)))
        current = self.api.objects.get(self._key(obj))
        if current is not None and not current["metadata"].get("finalizers"):
            del self.api.objects[self._key(obj)]


def _cluster(tmp_path: Path, api: FakeApi, server: Server = Server.KUBECONFIG) -> RealCluster:
    kubeconfig = _kubeconfig(
        tmp_path / "kind",
        {"client-certificate-data": _b64(ADMIN.cert_pem), "client-key-data": _b64(ADMIN.key_pem)},
    )
    return RealCluster(
        server,
        tmp_path / "work",
        build_crd(),
        env={"AZBATCH_TEST_KUBECONFIG": str(kubeconfig)},
        client_factory=api.client,
        timeout=5,
    )


def test_the_crd_is_applied_and_the_operator_runs_as_the_charts_service_account(tmp_path: Path) -> None:
    api = FakeApi()
    cluster = _cluster(tmp_path, api).start()
    admin_calls = [(m, p) for who, m, p in api.calls if who == "admin"]
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert admin_calls.index(("POST", crd)) < admin_calls.index(
        ("POST", "ServiceAccount/default/azbatch-operator")
    )
    assert ("POST", "/api/v1/namespaces/default/serviceaccounts/azbatch-operator/token") in admin_calls
    # The harness waited until the operator's token was allowed (two 403s, then through).
    operator_calls = [p for who, _, p in api.calls if who == "operator"]
    assert operator_calls.count("/apis/azbatch.dev/v1alpha1/batchpools") == 3
    assert "/api/v1/namespaces/kube-system" in operator_calls

    operator = yaml.safe_load(cluster.operator_kubeconfig.read_text())
    assert operator["users"][0]["user"] == {"token": "sa-token"}
    assert operator["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    admin = yaml.safe_load(cluster.admin_kubeconfig.read_text())
    assert admin["users"][0]["user"]["client-certificate-data"] == _b64(ADMIN.cert_pem)
    assert cluster.operator_kubeconfig.stat().st_mode & 0o077 == 0


def test_an_existing_crd_is_replaced_and_waited_for(tmp_path: Path) -> None:
    api = FakeApi(crd_exists=True, denials=0)
    _cluster(tmp_path, api).start()
    name = build_crd()["metadata"]["name"]
    methods = [
        m for who, m, p in api.calls if p == f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
    ]
    assert methods[:2] == ["GET", "PUT"] and methods.count("GET") >= 3  # polled until Established


def test_on_an_existing_cluster_what_the_tests_made_is_removed(tmp_path: Path) -> None:
    api = FakeApi(denials=0)
    cluster = _cluster(tmp_path, api).start()
    client = cluster.client
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    stuck = {
        "apiVersion": "azbatch.dev/v1alpha1",
        "kind": "BatchPool",
        "metadata": {"name": "p", "namespace": "default", "finalizers": ["kopf"]},
    }
    client.create(stuck)
    cluster.clean_up(timeout=0.3)
    assert "BatchPool/default/p" in api.objects  # its finalizer holds it while no operator serves it
    cluster.stop()
    assert api.objects == {}  # the pool (finalizer stripped), the namespace and the chart's RBAC
    assert ("admin", "PATCH", "BatchPool/default/p") in api.calls
    crd_deleted = [c for c in api.calls if c[1] == "DELETE" and "customresourcedefinitions" in (c[2] or "")]
    assert len(crd_deleted) == 1  # it created the CRD, so it removes it


def test_envtest_clusters_are_not_cleaned_object_by_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = FakeApi(denials=0)
    cluster = _cluster(tmp_path, api, Server.ENVTEST)
    stopped: list[bool] = []

    class Plane:
        def __init__(self, **_: Any) -> None: ...

        def start(self) -> Any:
            return Credentials("https://127.0.0.1:1", CA.cert_pem, ADMIN)

        def stop(self) -> None:
            stopped.append(True)

    monkeypatch.setattr("azbatch_operator.testenv.cluster.ControlPlane", Plane)
    cluster.start()
    cluster.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    calls = len(api.calls)
    cluster.clean_up()
    cluster.stop()
    assert len(api.calls) == calls and stopped == [True]  # the whole control plane goes instead


def test_a_failed_start_stops_what_it_started(tmp_path: Path) -> None:
    api = FakeApi(denials=10**6)  # the token is never allowed
    cluster = _cluster(tmp_path, api)
    cluster.timeout = 0.5
    with pytest.raises(ClusterError, match="allowed by the chart's roles"):
        cluster.start()
    assert api.objects == {}  # the RBAC it applied is gone again


@pytest.mark.parametrize(("content", "cause"), [(None, "cannot read"), ("a: [", "not YAML")])
def test_an_unusable_test_kubeconfig_is_a_harness_error_naming_the_variable(
    tmp_path: Path, content: str | None, cause: str
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    if content is not None:
        kubeconfig.write_text(content)
    env = {"AZBATCH_TEST_KUBECONFIG": str(kubeconfig)}
    cluster = RealCluster(Server.KUBECONFIG, tmp_path / "work", build_crd(), env=env, timeout=1)
    with pytest.raises(HarnessError) as raised:  # what the demo command catches: no traceback
        cluster.start()
    assert isinstance(raised.value, ClusterError)
    message = str(raised.value)
    assert message.startswith(f"AZBATCH_TEST_KUBECONFIG={kubeconfig}: {cause}") and "\n" not in message
    assert "kind get kubeconfig" in message


def test_the_stand_in_is_not_a_real_cluster(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not the stand-in"):
        RealCluster(Server.STAND_IN, tmp_path, build_crd())


def test_the_chart_is_the_repositorys() -> None:
    assert (CHART / "Chart.yaml").is_file()
    assert isinstance(ADMIN, CertPair)


def test_the_admin_client_records_what_it_creates() -> None:
    """The real client (`azbatch_kubemock.KubeClient` plus the record), against the stand-in."""

    with KubeStandInThread(crds=[build_crd()]) as kube:
        client = tracking_client(kube.url)
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "team-a"}}
        client.apply(secret)
        client.apply({**secret, "stringData": {"k": "v"}})  # exists: patched, recorded once
        assert client.created == [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "team-a"}},
        ]
        assert client.request_or_none("GET", "/api/v1/namespaces/nowhere") is None
