"""A real Kubernetes API for the sandbox: envtest's control plane or an existing cluster, made ready.

`RealCluster(server, workdir, crd).start()`:

1. reaches the API as an admin: the envtest control plane's client certificate (group
   `system:masters`), or the user of the current context of `$AZBATCH_TEST_KUBECONFIG`;
2. waits for the `default` and `kube-system` namespaces (the operator's cluster id is the latter's uid);
3. creates (or replaces) the CRD through the API and waits until it is Established and served;
4. applies the chart's ServiceAccount, ClusterRole/Role and bindings (rendered from
   helm/azbatch-operator by Helm's Go SDK, release namespace `default`, as the sandbox's Lease
   lives there), asks the TokenRequest API for the ServiceAccount's token, and waits until that
   token may list BatchPools: the operator runs as that ServiceAccount, never as the admin;
5. writes `kubeconfig` (the operator's: the token) and `kubeconfig-admin` (the admin's) in `workdir`.

On an existing cluster everything the sandbox created through its admin client is deleted again:
`clean_up()` deletes the objects and namespaces while the operator still runs (so its finalizers
are served), `stop()` strips what finalizers remain and removes the RBAC objects and the CRD it
created. envtest's control plane is simply stopped with its directories.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from azbatch_operator.testenv import KUBECONFIG_ENV, HarnessError, Server
from azbatch_operator.testenv.certs import CertPair
from azbatch_operator.testenv.controlplane import ControlPlane

CHART = Path(__file__).resolve().parents[3] / "helm" / "azbatch-operator"
RELEASE = "azbatch-operator"
OPERATOR_NAMESPACE = "default"  # the sandbox's Lease namespace, so the chart's Roles land there
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")
TOKEN_SECONDS = 24 * 3600
CRD_API = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

Obj = dict[str, Any]
Renderer = Callable[[Path, str], Mapping[str, str]]


class ClusterError(HarnessError):
    """The cluster cannot be used as asked (an unsupported kubeconfig, a CRD that never serves, ...)."""


# -- connections -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """Where the API server is, how to trust it, and who we are to it."""

    server: str
    ca_pem: bytes | None = None
    insecure: bool = False
    client: CertPair | None = None
    token: str | None = None

    def as_user(self, token: str) -> Connection:
        """The same server and trust, authenticated by this bearer token only."""
        return replace(self, client=None, token=token)

    def ssl_context(self, directory: Path) -> ssl.SSLContext:
        """Trust as the kubeconfig says; a client certificate, if any, from files in `directory`."""
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_pem is not None:
            context = ssl.create_default_context(cadata=self.ca_pem.decode())
        else:
            context = ssl.create_default_context()
        if self.client is not None:
            directory.mkdir(parents=True, exist_ok=True)
            cert_file, key_file = directory / "client.crt", directory / "client.key"
            _write_private(cert_file, self.client.cert_pem)
            _write_private(key_file, self.client.key_pem)
            context.load_cert_chain(cert_file, key_file)
        return context

    def kubeconfig(self, name: str, namespace: str = "default") -> Obj:
        cluster: Obj = {"server": self.server}
        if self.insecure:
            cluster["insecure-skip-tls-verify"] = True
        elif self.ca_pem is not None:
            cluster["certificate-authority-data"] = _b64(self.ca_pem)
        user: Obj = {}
        if self.client is not None:
            user["client-certificate-data"] = _b64(self.client.cert_pem)
            user["client-key-data"] = _b64(self.client.key_pem)
        if self.token:
            user["token"] = self.token
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
            "current-context": name,
            "preferences": {},
        }

    def write_kubeconfig(self, path: Path, name: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(path, yaml.safe_dump(self.kubeconfig(name), sort_keys=False).encode())
        return path


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)


def connection_from_kubeconfig(path: Path, context: str | None = None) -> Connection:
    """The current (or named) context's cluster and user. Supported users: client certificates and
    tokens, inline or in files (kind, k3d and envtest write these); exec plugins and auth providers
    are refused, naming the context."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    wanted = context or document.get("current-context")
    if not wanted:
        raise ClusterError(f"{path}: no current-context")

    def named(section: str, name: str) -> Obj:
        for item in document.get(section) or ():
            if item.get("name") == name:
                found: Obj = item.get(section[:-1]) or {}
                return found
        raise ClusterError(f"{path}: no {section[:-1]} named {name!r}")

    ctx = named("contexts", wanted)
    cluster = named("clusters", ctx.get("cluster", ""))
    user = named("users", ctx.get("user", "")) if ctx.get("user") else {}
    base = path.parent

    def material(data_key: str, file_key: str, where: Obj) -> bytes | None:
        if where.get(data_key):
            return base64.b64decode(where[data_key])
        if where.get(file_key):
            return (base / Path(where[file_key]).expanduser()).read_bytes()
        return None

    if "exec" in user or "auth-provider" in user:
        raise ClusterError(
            f"{path}: context {wanted!r} signs in through an exec plugin or auth provider, which the "
            "test harness does not run; use a kubeconfig with a client certificate or a token "
            "(`kind get kubeconfig` writes one)"
        )
    server = str(cluster.get("server") or "")
    if not server.startswith("https://") and not server.startswith("http://"):
        raise ClusterError(f"{path}: cluster of context {wanted!r} has no http(s) server")
    cert = material("client-certificate-data", "client-certificate", user)
    key = material("client-key-data", "client-key", user)
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (base / Path(user["tokenFile"]).expanduser()).read_text(encoding="utf-8").strip()
    return Connection(
        server=server,
        ca_pem=material("certificate-authority-data", "certificate-authority", cluster),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        client=CertPair(cert, key) if cert and key else None,
        token=token or None,
    )


# -- the chart's RBAC ------------------------------------------------------------------------------


def render_chart(chart: Path, namespace: str) -> Mapping[str, str]:
    """`helm template` through Helm's Go SDK (helm-python-sdk, in the dev extra), default values."""
    try:
        import helm_python as helm  # noqa: PLC0415 - only a real-server sandbox needs it
    except ImportError as error:
        raise ClusterError(
            "running the operator with the chart's RBAC needs helm-python-sdk (pip install '.[dev]')"
        ) from error
    rendered: Mapping[str, str] = helm.Chart.load(chart).render(
        {}, name=RELEASE, namespace=namespace, is_install=True
    )
    return rendered


def rbac_manifests(
    chart: Path = CHART, namespace: str = OPERATOR_NAMESPACE, render: Renderer = render_chart
) -> list[Obj]:
    """The chart's ServiceAccount, roles and bindings, in an order a server accepts them."""
    if not chart.is_dir():
        raise ClusterError(f"the Helm chart is not at {chart} (a clone of the repository has it)")
    found: list[Obj] = []
    for path, text in sorted(render(chart, namespace).items()):
        if path.endswith(".txt"):
            continue
        found.extend(doc for doc in yaml.safe_load_all(text) if doc and doc.get("kind") in RBAC_KINDS)
    found.sort(key=lambda doc: RBAC_KINDS.index(doc["kind"]))
    return found


def service_account_of(manifests: Sequence[Obj]) -> tuple[str, str]:
    """(namespace, name) of the one ServiceAccount the chart renders."""
    accounts = [m for m in manifests if m["kind"] == "ServiceAccount"]
    if len(accounts) != 1:
        raise ClusterError(f"the chart renders {len(accounts)} ServiceAccounts, expected one")
    meta = accounts[0]["metadata"]
    return str(meta.get("namespace") or OPERATOR_NAMESPACE), str(meta["name"])


# -- the cluster -----------------------------------------------------------------------------------


def _ref(obj: Mapping[str, Any]) -> Obj:
    meta = obj.get("metadata") or {}
    ref: Obj = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": {"name": meta["name"]}}
    if meta.get("namespace"):
        ref["metadata"]["namespace"] = meta["namespace"]
    return ref


def wait(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            value = predicate()
        except Exception as error:  # an API error while the server settles: try again
            last, value = error, None
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f" (last error: {last})" if last else ""
            raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


class RealCluster:
    """The admin's client (`client`), the operator's kubeconfig (`operator_kubeconfig`), and cleanup."""

    def __init__(
        self,
        server: Server,
        workdir: Path,
        crd: Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        client_factory: Callable[..., Any] | None = None,
        render: Renderer = render_chart,
        chart: Path = CHART,
        timeout: float = 60.0,
    ) -> None:
        if server is Server.STAND_IN:
            raise ValueError("RealCluster is for envtest or a kubeconfig cluster, not the stand-in")
        self.server = server
        self.workdir = workdir
        self.crd = dict(crd)
        self.env = os.environ if env is None else env
        self._client_factory = client_factory
        self._render = render
        self._chart = chart
        self.timeout = timeout
        self.plane: ControlPlane | None = None
        self.admin: Connection | None = None
        self.client: Any = None  # a KubeClient (admin) that records what it creates
        self.operator: Connection | None = None
        self.operator_kubeconfig = workdir / "kubeconfig"
        self.admin_kubeconfig = workdir / "kubeconfig-admin"
        self._created_crd = False
        self._provisioned: list[Obj] = []

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> RealCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self.admin = self._admin_connection()
            self.client = self._client(self.admin, "admin")
            wait(
                lambda: all(self.client.get(_namespace(n)) for n in ("default", "kube-system")),
                timeout=self.timeout,
                what="the default and kube-system namespaces",
            )
            self._install_crd()
            self.operator = self._provision_operator()
            self.operator.write_kubeconfig(self.operator_kubeconfig, "azbatch-operator")
            self.admin.write_kubeconfig(self.admin_kubeconfig, "azbatch-admin")
        except BaseException:
            self.stop()
            raise
        return self

    def _admin_connection(self) -> Connection:
        if self.server is Server.ENVTEST:
            self.plane = ControlPlane(env=self.env)  # in a fresh temp dir, removed on stop
            credentials = self.plane.start()
            return Connection(credentials.server, credentials.ca_pem, client=credentials.client)
        given = self.env[KUBECONFIG_ENV]
        try:
            return connection_from_kubeconfig(Path(given).expanduser())
        except (OSError, yaml.YAMLError) as error:
            raise ClusterError(_unusable_kubeconfig(given, error)) from None

    def _client(self, connection: Connection, who: str) -> Any:
        context = connection.ssl_context(self.workdir / f"tls-{who}")
        if self._client_factory is not None:
            return self._client_factory(connection.server, token=connection.token, ssl_context=context)
        return tracking_client(connection.server, token=connection.token, ssl_context=context)

    def _install_crd(self) -> None:
        name = self.crd["metadata"]["name"]
        existing = self.client.request_or_none("GET", f"{CRD_API}/{name}")
        if existing is None:
            self.client.request("POST", CRD_API, self.crd)
            self._created_crd = True
        else:
            body = {**self.crd, "metadata": {**self.crd["metadata"], **_version_of(existing)}}
            self.client.request("PUT", f"{CRD_API}/{name}", body)
        group = self.crd["spec"]["group"]
        plural = self.crd["spec"]["names"]["plural"]
        versions = [v["name"] for v in self.crd["spec"]["versions"] if v.get("served", True)]

        def established() -> bool:
            crd = self.client.request("GET", f"{CRD_API}/{name}")
            conditions = (crd.get("status") or {}).get("conditions") or ()
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        def served() -> bool:
            for version in versions:
                listing = self.client.request("GET", f"/apis/{group}/{version}")
                if plural not in {r.get("name") for r in listing.get("resources") or ()}:
                    return False
            return True

        wait(established, timeout=self.timeout, what=f"CRD {name} Established")
        wait(served, timeout=self.timeout, what=f"{plural}.{group} in discovery")

    def _provision_operator(self) -> Connection:
        manifests = rbac_manifests(self._chart, OPERATOR_NAMESPACE, self._render)
        for manifest in manifests:
            self.client.apply(manifest)
            self._provisioned.append(_ref(manifest))
        namespace, account = service_account_of(manifests)
        answer = self.client.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS},
            },
        )
        assert self.admin is not None
        operator = self.admin.as_user(str(answer["status"]["token"]))
        as_operator = self._client(operator, "operator")
        group = self.crd["spec"]["group"]
        version = next(v["name"] for v in self.crd["spec"]["versions"] if v.get("storage"))
        plural = self.crd["spec"]["names"]["plural"]
        # RBAC reaches the authorizer through an informer: wait until the token is allowed.
        wait(
            lambda: (
                as_operator.request("GET", f"/apis/{group}/{version}/{plural}") is not None
                and as_operator.request("GET", "/api/v1/namespaces/kube-system") is not None
            ),
            timeout=self.timeout,
            what=f"ServiceAccount {namespace}/{account} allowed by the chart's roles",
        )
        return operator

    # -- stop ------------------------------------------------------------------------------------

    def clean_up(self, timeout: float = 30.0) -> None:
        """On an existing cluster, delete what the tests created, while the operator still runs."""
        if self.server is not Server.KUBECONFIG or self.client is None:
            return
        created = [ref for ref in self.client.created if ref not in self._provisioned]
        for ref in reversed(created):
            self.client.delete(ref)
        with contextlib.suppress(ClusterError):  # stop() strips the finalizers that held them
            wait(
                lambda: all(self.client.get(ref) is None for ref in created),
                timeout=timeout,
                what="the test objects deleted",
                interval=0.2,
            )

    def stop(self) -> None:
        try:
            if self.server is Server.KUBECONFIG and self.client is not None:
                self._remove_leftovers()
        finally:
            if self.plane is not None:
                self.plane.stop()
                self.plane = None

    def _remove_leftovers(self) -> None:
        for ref in reversed(self.client.created):
            current = self.client.get(ref)
            if current is None:
                continue
            if (current.get("metadata") or {}).get("finalizers"):
                self.client.patch(ref, {"metadata": {"finalizers": None}})
            self.client.delete(ref)
        if self._created_crd:
            self.client.request_or_none("DELETE", f"{CRD_API}/{self.crd['metadata']['name']}")


def _unusable_kubeconfig(given: str, error: OSError | yaml.YAMLError) -> str:
    """Why $AZBATCH_TEST_KUBECONFIG cannot be used: the file it names, or one that file names."""
    if isinstance(error, OSError):
        cause = f"cannot read {error.filename or given} ({error.strerror or error})"
    else:
        cause = f"not YAML ({' '.join(str(error).split())})"
    return (
        f"{KUBECONFIG_ENV}={given}: {cause}; point it at the kubeconfig of a running cluster "
        "(`kind get kubeconfig > FILE` writes one)"
    )


def _namespace(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _version_of(obj: Mapping[str, Any]) -> Obj:
    return {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion")}


def tracking_client(url: str, **options: Any) -> Any:
    """The test client (`azbatch_kubemock.KubeClient`) that also records each object it creates."""
    from azbatch_kubemock import KubeApiError, KubeClient  # noqa: PLC0415 - the stand-in's distribution

    class TrackingKubeClient(KubeClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.created: list[Obj] = []

        def create(self, manifest: Mapping[str, Any]) -> Obj:
            result: Obj = super().create(manifest)
            ref = _ref(result if result.get("metadata") else manifest)
            if ref not in self.created:
                self.created.append(ref)
            return result

        def request_or_none(self, method: str, path: str, body: Any = None) -> Any:
            try:
                return self.request(method, path, body)
            except KubeApiError as error:
                if error.code == 404:
                    return None
                raise

    return TrackingKubeClient(url, **options)
