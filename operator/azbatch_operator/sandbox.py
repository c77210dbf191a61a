"""The whole product on loopback: Azure emulator, Kubernetes stand-in and the real operator.

Used by `azbatch-operator demo` and the integration tests. Nothing here is a shortcut around the
product: the operator is the same code `azbatch-operator run` starts (in a thread, or as its own
process when a test must kill it), it reaches Kubernetes over HTTP through a kubeconfig, and Azure
over HTTPS through the unmodified SDKs with real tokens, configured by the same environment
variables a cluster deployment uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import importlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
import yaml

from azbatch_operator import logs
from azbatch_operator.config import OperatorConfig, load_config
from azbatch_operator.crd import build_crd
from azbatch_operator.request_budget import KINDS, BudgetLimits
from azbatch_operator.runner import RunOptions, operate
from azbatch_operator.testenv import choose_server, is_real

# The local stand-ins are their own distributions (emulator/, kubemock/ in the repository), not
# dependencies of the operator: a production install has neither, so they are imported only here,
# when a sandbox starts.
STAND_INS = {"azbatch_emulator": "azbatch-emulator", "azbatch_kubemock": "azbatch-kubemock"}
INSTALL_HINT = (
    "the sandbox runs on the local stand-ins, which the operator's distribution does not carry: "
    "from a clone of the repository, `pip install ./emulator ./kubemock` (`make demo` and `make test` "
    "install them into .venv)"
)


class _ExpectedInAThread(logging.Filter):
    """kopf warns that OS signals are ignored when it runs outside the main thread. In a sandbox that
    is the design (the stop flag stops the operator), so the warning would only alarm a reader."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("OS signals are ignored")


_EXPECTED_IN_A_THREAD = _ExpectedInAThread()


class StandInsMissingError(RuntimeError):
    """The emulator or the Kubernetes stand-in is not installed; the message says what to install."""


def missing_stand_ins() -> list[str]:
    """Distributions of the stand-ins that cannot be imported here (empty when both work)."""
    missing = []
    for module, distribution in STAND_INS.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
    return missing


@dataclass
class SandboxSettings:
    time_scale: float = 60.0
    resync_interval: float = 10.0
    health_interval: float = 5.0
    active_requeue: float = 1.0
    resize_retry_backoff: float = 1.0
    operator_in_process: bool = True  # False: a real `azbatch-operator run` subprocess (can be killed)
    emulator_in_process: bool = True  # False: `azbatch-emulator serve` subprocess (can be restarted)
    account_allowlist: Mapping[str, list[str]] | None = None
    leader_election: bool = False  # replicas take turns on the Lease default/azbatch-operator
    namespaces: tuple[str, ...] = ()  # the operator's --namespace patterns (none: every namespace)
    workdir: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # The operator's ARM request budget, in Azure's seconds; None: the operator's default. The emulator
    # refills ARM's buckets on its sped-up clock, so the operator's budget is sped up by time_scale too.
    arm_request_budget: BudgetLimits | None = None


class Sandbox:
    """`with Sandbox() as sandbox:` — everything started; `sandbox.kube` and `sandbox.admin` to poke it."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.workdir = Path()
        self.emulator: Any = None
        self.kube_thread: Any = None
        self.kube: Any = None  # azbatch_kubemock.KubeClient
        self.server = choose_server()  # the stand-in, envtest's binaries or AZBATCH_TEST_KUBECONFIG
        self.real_kube: Any = None  # azbatch_operator.testenv.cluster.RealCluster on a real server
        self.admin_kubeconfig = Path()  # what a person (kubectl) uses; the operator has env["KUBECONFIG"]
        self.admin: Any = None  # azbatch_emulator.admin.AdminClient
        self.info: dict[str, Any] = {}
        self.env: dict[str, str] = {}
        self._operator_thread: threading.Thread | None = None
        self._operator_stop: threading.Event | None = None
        self._operator_process: subprocess.Popen[bytes] | None = None
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Sandbox:
        try:
            self.start()
        except BaseException:
            self.stop()  # what did start (the emulator, a control plane) does not outlive the failure
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        missing = missing_stand_ins()
        if missing:
            raise StandInsMissingError(f"{', '.join(missing)} not installed: {INSTALL_HINT}")
        from azbatch_emulator import EmulatorProcess, EmulatorThread  # noqa: PLC0415
        from azbatch_emulator.admin import AdminClient  # noqa: PLC0415
        from azbatch_kubemock import KubeClient, KubeStandInThread  # noqa: PLC0415

        if not structlog.is_configured():
            logs.configure(json=False, level="INFO")  # to stderr: stdout belongs to the caller
        if self.settings.workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="azbatch-sandbox-")
            self.workdir = Path(self._tempdir.name)
        else:
            self.workdir = self.settings.workdir
            self.workdir.mkdir(parents=True, exist_ok=True)
        if self.settings.emulator_in_process:
            self.emulator = EmulatorThread(
                time_scale=self.settings.time_scale, state_dir=self.workdir / "azure"
            )
        else:
            (self.workdir / "azure").mkdir(exist_ok=True)  # the process logs there before it starts
            self.emulator = EmulatorProcess(
                time_scale=self.settings.time_scale, state_dir=self.workdir / "azure"
            )
        self.info = self.emulator.start()
        self.admin = AdminClient(self.info)
        if is_real(self.server):
            # A real API server (docs/real-apiserver.md): the operator signs in as the chart's
            # ServiceAccount, the tests' client as the admin.
            from azbatch_operator.testenv.cluster import RealCluster  # noqa: PLC0415

            self.real_kube = RealCluster(self.server, self.workdir / "kube", build_crd()).start()
            kubeconfig = self.real_kube.operator_kubeconfig
            self.admin_kubeconfig = self.real_kube.admin_kubeconfig
            self.kube = self.real_kube.client
        else:
            self.kube_thread = KubeStandInThread(crds=[build_crd()]).start()
            kubeconfig = self.kube_thread.kube.write_kubeconfig(self.workdir / "kubeconfig")
            self.admin_kubeconfig = Path(kubeconfig)
            self.kube = KubeClient(self.kube_thread.url)
        self.env = self._environment(Path(kubeconfig))
        self._export(self.env)
        self.start_operator()

    def stop(self) -> None:
        if self.real_kube is not None:
            self.real_kube.clean_up()  # an existing cluster: while the operator serves finalizers
        self.stop_operator()
        if self.kube_thread is not None:
            self.kube_thread.stop()
        if self.real_kube is not None:
            self.real_kube.stop()
        if self.emulator is not None:
            self.emulator.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def _environment(self, kubeconfig: Path) -> dict[str, str]:
        key_file = self.workdir / "digest.key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32), encoding="utf-8")
            key_file.chmod(0o600)
        config_file = self.workdir / "operator.yaml"
        config: dict[str, Any] = {
            "resyncInterval": self.settings.resync_interval,
            "healthInterval": self.settings.health_interval,
            "activeRequeue": self.settings.active_requeue,
            "resizeRetryBackoff": self.settings.resize_retry_backoff,
        }
        if self.settings.account_allowlist is not None:
            config["accountAllowlist"] = dict(self.settings.account_allowlist)
        budget = (self.settings.arm_request_budget or BudgetLimits()).sped_up(self.settings.time_scale)
        config["armRequestBudget"] = {
            kind: {"burst": budget.of(kind).burst, "perSecond": budget.of(kind).per_second} for kind in KINDS
        }
        # Leader election is on by default in `azbatch-operator run`; a sandbox turns it off unless
        # asked (one operator, and a killed one's successor need not wait out the lease).
        config["leaderElection"] = {"enabled": self.settings.leader_election, "leaseNamespace": "default"}
        config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
        info = self.info
        return {
            "KUBECONFIG": str(kubeconfig),
            "AZURE_TENANT_ID": info["tenant_id"],
            "AZURE_CLIENT_ID": info["client_id"],
            "AZURE_CLIENT_SECRET": info["client_secret"],
            "AZURE_AUTHORITY_HOST": info["authority_host"],
            "AZURE_RESOURCE_MANAGER_ENDPOINT": info["management_endpoint"],
            "AZURE_RESOURCE_MANAGER_AUDIENCE": info["management_audience"],
            "SSL_CERT_FILE": info["ca_bundle"],
            "REQUESTS_CA_BUNDLE": info["ca_bundle"],
            "AZBATCH_DIGEST_KEY_FILE": str(key_file),
            "AZBATCH_OPERATOR_CONFIG": str(config_file),
            **self.settings.extra_env,
        }

    def _export(self, env: Mapping[str, str]) -> None:
        for key, value in env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    # -- the operator --------------------------------------------------------------------------

    def start_operator(self) -> None:
        if self.settings.operator_in_process:
            self._start_operator_thread()
        else:
            self._start_operator_process()

    def stop_operator(self) -> None:
        if self._operator_thread is not None and self._operator_stop is not None:
            self._operator_stop.set()
            self._operator_thread.join(timeout=30)
            self._operator_thread = None
        if self._operator_process is not None:
            self._operator_process.send_signal(signal.SIGINT)
            try:
                self._operator_process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._operator_process.kill()
                self._operator_process.wait()
            self._operator_process = None

    def kill_operator(self) -> None:
        """SIGKILL the operator process: no cleanup, no last status write (reliability tests)."""
        if self._operator_process is None:
            raise RuntimeError("kill_operator needs SandboxSettings(operator_in_process=False)")
        self._operator_process.kill()
        self._operator_process.wait()
        self._operator_process = None

    def _start_operator_thread(self) -> None:
        config: OperatorConfig = load_config(None)
        logging.getLogger("kopf._core.reactor.running").addFilter(_EXPECTED_IN_A_THREAD)  # added once
        stop = threading.Event()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                options = RunOptions(namespaces=self.settings.namespaces)
                asyncio.run(operate(config, options, stop_flag=stop, ready_flag=ready))
            except BaseException as error:
                failure.append(error)
                ready.set()

        self._operator_stop = stop
        self._operator_thread = threading.Thread(target=run, name="operator", daemon=True)
        self._operator_thread.start()
        if not ready.wait(30):
            raise RuntimeError("the operator did not become ready within 30 s")
        if failure:
            self._operator_thread = None
            raise RuntimeError(f"the operator failed to start: {failure[0]!r}") from failure[0]

    def _start_operator_process(self) -> None:
        self._operator_process = self.spawn_operator_replica()

    def spawn_operator_replica(
        self, identity: str | None = None, *, health_port: int = 0
    ) -> subprocess.Popen[bytes]:
        """Another `azbatch-operator run` process (with leader election: a standby); the caller stops it.

        Its log is `<workdir>/operator.log`, or `operator-<identity>.log` with an identity (its POD_NAME).
        """
        log = (self.workdir / (f"operator-{identity}.log" if identity else "operator.log")).open("ab")
        replica_env = {"POD_NAME": identity} if identity else {}
        return subprocess.Popen(  # noqa: S603 - our own interpreter, module and a port number
            [
                sys.executable,
                "-m",
                "azbatch_operator",
                "run",
                "--standalone",
                "--metrics-port",
                "0",
                "--health-port",
                str(health_port),
                "--log-format",
                "json",
                *(arg for pattern in self.settings.namespaces for arg in ("--namespace", pattern)),
            ],
            env={**os.environ, **self.env, **replica_env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    # -- the Kubernetes API's address, for a relay between it and the operator ----------------

    def kube_address(self) -> tuple[str, int]:
        """Host and port of the Kubernetes API the operator talks to (the stand-in or a real one)."""
        url = self.real_kube.operator.server if self.real_kube is not None else self.kube_thread.url
        parts = urllib.parse.urlsplit(url)
        return str(parts.hostname), int(parts.port or (443 if parts.scheme == "https" else 80))

    def write_operator_kubeconfig(self, path: Path, *, port: int, host: str = "127.0.0.1") -> Path:
        """The operator's kubeconfig, reaching the API at host:port instead (a relay to
        `kube_address()`): the same scheme, trust and credential."""
        if self.real_kube is not None:
            scheme = urllib.parse.urlsplit(self.real_kube.operator.server).scheme
            moved = dataclasses.replace(self.real_kube.operator, server=f"{scheme}://{host}:{port}")
            written: Path = moved.write_kubeconfig(path, "azbatch-operator")
            return written
        from azbatch_kubemock.kubeconfig import write_kubeconfig  # noqa: PLC0415

        return write_kubeconfig(path, server=f"http://{host}:{port}", token=None)

    # -- conveniences for stories and tests ---------------------------------------------------

    def retarget(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the manifest, unchanged: the emulator's pre-created account is the one the
        examples and `pool_manifest` name (kept for callers written when it was not)."""
        return dict(manifest)

    def apply_file(self, path: str | Path) -> list[dict[str, Any]]:
        applied = []
        for document in yaml.safe_load_all(Path(path).read_text(encoding="utf-8")):
            if document:
                applied.append(self.kube.apply(document))
        return applied

    def pool(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.kube.get(_ref(name, namespace))
        return found

    def wait_for_condition(
        self,
        name: str,
        type_: str,
        status: str = "True",
        *,
        namespace: str = "default",
        timeout: float = 60.0,
        reason: str | None = None,
    ) -> dict[str, Any]:
        def holds(obj: Mapping[str, Any] | None) -> bool:
            for condition in ((obj or {}).get("status") or {}).get("conditions") or ():
                if condition.get("type") == type_ and condition.get("status") == status:
                    return reason is None or condition.get("reason") == reason
            return False

        what = f"{type_}={status}" + (f" ({reason})" if reason else "")
        found: dict[str, Any] = self.kube.wait_for(_ref(name, namespace), holds, what, timeout=timeout)
        return found


def emulator_account() -> dict[str, str]:
    """`spec.account` of the emulator's pre-created Batch account (the one examples/ names)."""
    from azbatch_emulator import settings  # noqa: PLC0415 - the optional `emulator` extra

    return {
        "subscriptionId": settings.DEFAULT_SUBSCRIPTION_ID,
        "resourceGroup": settings.DEFAULT_RESOURCE_GROUP,
        "accountName": settings.DEFAULT_ACCOUNT,
    }


def pool_manifest(name: str, namespace: str = "default", **spec_overrides: Any) -> dict[str, Any]:
    """A small Linux pool with one extension in the emulator's pre-created account, for stories and tests."""
    spec: dict[str, Any] = {
        "account": emulator_account(),
        "vmSize": "STANDARD_D2S_V3",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "ubuntu-24_04-lts",
                    "sku": "server",
                    "version": "latest",
                },
                "nodeAgentSkuId": "batch.node.ubuntu 24.04",
                "extensions": [
                    {
                        "name": "monitor",
                        "type": "AzureMonitorLinuxAgent",
                        "publisher": "Microsoft.Azure.Monitor",
                        "typeHandlerVersion": "1.0",
                        "autoUpgradeMinorVersion": True,
                    }
                ],
            }
        },
        "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 2, "resizeTimeout": "PT15M"}},
    }
    spec.update(copy.deepcopy(spec_overrides))
    return {
        "apiVersion": "azbatch.dev/v1alpha1",
        "kind": "BatchPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def condition(obj: Mapping[str, Any] | None, type_: str) -> dict[str, Any]:
    """The object's status condition of this type ({} when it has none)."""
    for item in ((obj or {}).get("status") or {}).get("conditions") or ():
        if item.get("type") == type_:
            return dict(item)
    return {}


def _ref(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "azbatch.dev/v1alpha1",
        "kind": "BatchPool",
        "metadata": {"name": name, "namespace": namespace},
    }


@contextlib.contextmanager
def sandbox(**settings: Any) -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(**settings)) as running:
        yield running


def wait_until(predicate: Any, *, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
