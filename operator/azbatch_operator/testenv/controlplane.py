"""etcd and kube-apiserver from `KUBEBUILDER_ASSETS` on loopback, as controller-runtime's envtest runs them.

etcd: `--data-dir` of its own, client and peer URLs on free loopback ports (plain http, as envtest),
`--unsafe-no-fsync=true` when the binary has the flag; healthy when `GET /health` answers 200.

kube-apiserver (1.30+; envtest's defaults, `--insecure-port` long gone):

    --allow-privileged=true            --authorization-mode=RBAC
    --bind-address=127.0.0.1           --cert-dir=DIR (apiserver.crt/.key: the serving pair)
    --client-ca-file=DIR/client-cert-auth-ca.crt
    --disable-admission-plugins=ServiceAccount
    --etcd-servers=http://127.0.0.1:P  --secure-port=P
    --service-account-issuer=https://127.0.0.1:P/
    --service-account-key-file=DIR/sa-signer.crt
    --service-account-signing-key-file=DIR/sa-signer.key
    --service-cluster-ip-range=10.0.0.0/24

healthy when `GET /readyz` answers 200 to the admin (a client certificate, CN `admin`, O
`system:masters`), verified against the serving CA. Arguments are `--name=value`, sorted by name,
as envtest renders them; `extra_args` overrides or adds flags.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from azbatch_operator.testenv.certs import CertPair, TinyCA
from azbatch_operator.testenv.process import (
    BinaryMissingError,
    ControlPlaneError,
    ControlProcess,
    HealthCheck,
    attach_output,
    find_binary,
    free_port,
    has_flag,
    make_directory,
    missing_binary,
    timeouts,
)

HOST = "127.0.0.1"
SERVING_CERT, SERVING_KEY = "apiserver.crt", "apiserver.key"
CLIENT_CA = "client-cert-auth-ca.crt"
SA_CERT, SA_KEY = "sa-signer.crt", "sa-signer.key"
ADMIN_USER, ADMIN_GROUP = "admin", "system:masters"
START_ATTEMPTS = 5  # envtest retries a control plane that fails to start (a port taken meanwhile)


def render_args(values: Mapping[str, str | None]) -> list[str]:
    """`--name=value` sorted by name; a None value drops the flag."""
    return [f"--{name}={value}" for name, value in sorted(values.items()) if value is not None]


def etcd_args(*, client_url: str, peer_url: str, data_dir: Path, no_fsync: bool) -> list[str]:
    values: dict[str, str | None] = {
        "advertise-client-urls": client_url,
        "data-dir": str(data_dir),
        "listen-client-urls": client_url,
        "listen-peer-urls": peer_url,
        "unsafe-no-fsync": "true" if no_fsync else None,
    }
    return render_args(values)


def apiserver_args(
    *,
    etcd_url: str,
    cert_dir: Path,
    port: int,
    host: str = HOST,
    extra: Mapping[str, str | None] | None = None,
) -> list[str]:
    values: dict[str, str | None] = {
        "allow-privileged": "true",
        "authorization-mode": "RBAC",
        "bind-address": host,
        "cert-dir": str(cert_dir),
        "client-ca-file": str(cert_dir / CLIENT_CA),
        "disable-admission-plugins": "ServiceAccount",
        "etcd-servers": etcd_url,
        "secure-port": str(port),
        "service-account-issuer": f"https://{_host_port(host, port)}/",
        "service-account-key-file": str(cert_dir / SA_CERT),
        "service-account-signing-key-file": str(cert_dir / SA_KEY),
        "service-cluster-ip-range": "10.0.0.0/24",
    }
    values.update(extra or {})
    return render_args(values)


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class Credentials:
    """How to reach and trust the API server as one user (the admin here)."""

    server: str
    ca_pem: bytes
    client: CertPair


def client_ssl_context(ca_pem: bytes, client: CertPair | None, directory: Path) -> ssl.SSLContext:
    """Verifies the server against `ca_pem` (hostname included); presents `client` when given.
    The files it reads are written under `directory` (ssl loads client keys from files only)."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    if client is not None:
        directory.mkdir(parents=True, exist_ok=True)
        cert_file, key_file = directory / "client.crt", directory / "client.key"
        _write(cert_file, client.cert_pem)
        _write(key_file, client.key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


@dataclass
class ControlPlane:
    """`start()` etcd then kube-apiserver; `stop()` the API server then etcd, and their directories."""

    root: Path | None = None  # default: a fresh temp dir, removed on stop
    env: Mapping[str, str] | None = None
    extra_apiserver_args: Mapping[str, str | None] = field(default_factory=dict)
    etcd: ControlProcess | None = field(default=None, init=False)
    apiserver: ControlProcess | None = field(default=None, init=False)
    admin: Credentials | None = field(default=None, init=False)
    _own_root: bool = field(default=False, init=False)

    def start(self) -> Credentials:
        if self.root is None:
            self.root = make_directory("k8s_test_framework_")
            self._own_root = True
        failure: ControlPlaneError | None = None
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start_once(self.root / f"attempt-{attempt}")
            except ControlPlaneError as error:
                failure = error
                self._stop_processes()
                if isinstance(error, BinaryMissingError):
                    break
        self.stop()
        assert failure is not None
        raise failure

    def _start_once(self, base: Path) -> Credentials:
        start_timeout, stop_timeout = timeouts(self.env)
        attach = attach_output(self.env)
        etcd_binary = find_binary("etcd", self.env)
        apiserver_binary = find_binary("kube-apiserver", self.env)
        for name, binary in (("etcd", etcd_binary), ("kube-apiserver", apiserver_binary)):
            if not binary.is_file():
                raise missing_binary(name, binary)

        etcd_dir = base / "etcd"
        client_url = f"http://{HOST}:{free_port(HOST)}"
        peer_url = f"http://{HOST}:{free_port(HOST)}"
        self.etcd = ControlProcess(
            name="etcd",
            binary=etcd_binary,
            args=etcd_args(
                client_url=client_url,
                peer_url=peer_url,
                data_dir=etcd_dir / "data",
                no_fsync=has_flag(etcd_binary, "unsafe-no-fsync"),
            ),
            health=HealthCheck(f"{client_url}/health"),
            directory=etcd_dir,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
            attach=attach,
        )
        self.etcd.start()

        cert_dir = base / "kube-apiserver"
        port = free_port(HOST)
        admin = write_certificates(cert_dir, HOST)
        server = f"https://{_host_port(HOST, port)}"
        credentials = Credentials(server=server, ca_pem=admin[0], client=admin[1])
        context = client_ssl_context(credentials.ca_pem, credentials.client, cert_dir / "admin")
        self.apiserver = ControlProcess(
            name="kube-apiserver",
            binary=apiserver_binary,
            args=apiserver_args(
                etcd_url=client_url, cert_dir=cert_dir, port=port, extra=self.extra_apiserver_args
            ),
            health=HealthCheck(f"{server}/readyz", ssl_context=context),
            directory=cert_dir,
            start_timeout=start_timeout,
            stop_timeout=stop_timeout,
            attach=attach,
        )
        self.apiserver.start()
        self.admin = credentials
        return credentials

    def _stop_processes(self) -> None:
        for process in (self.apiserver, self.etcd):
            if process is not None:
                process.stop()
        self.apiserver = self.etcd = None

    def stop(self) -> None:
        try:
            self._stop_processes()
        finally:
            if self._own_root and self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None
                self._own_root = False


def write_certificates(cert_dir: Path, host: str) -> tuple[bytes, CertPair]:
    """The serving pair, the client CA and the service-account signer in `cert_dir`, as the flags
    name them; returns (serving CA PEM, the admin's client pair)."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    serving_ca = TinyCA("azbatch-testenv-serving-ca")
    serving = serving_ca.serving_cert(host)
    _write(cert_dir / SERVING_CERT, serving.cert_pem)
    _write(cert_dir / SERVING_KEY, serving.key_pem)
    client_ca = TinyCA("azbatch-testenv-client-ca")
    _write(cert_dir / CLIENT_CA, client_ca.cert_pem)
    signer = TinyCA("azbatch-testenv-service-accounts").pair()
    _write(cert_dir / SA_CERT, signer.cert_pem)
    _write(cert_dir / SA_KEY, signer.key_pem)
    return serving_ca.cert_pem, client_ca.client_cert(ADMIN_USER, [ADMIN_GROUP])
