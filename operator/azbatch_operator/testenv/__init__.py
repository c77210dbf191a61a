"""Which Kubernetes API the sandbox runs on, and the real ones it can start or reach.

- `KUBEBUILDER_ASSETS` (the folder `setup-envtest use -p path` prints): `etcd` and `kube-apiserver`
  from it on loopback, started the way controller-runtime's envtest starts them (`controlplane`);
- `AZBATCH_TEST_KUBECONFIG`: an existing cluster (kind, k3d, ...) through that kubeconfig;
- neither: the in-repository stand-in (`azbatch_kubemock`), as before.

Only `azbatch_operator.sandbox` imports this package (and the demo command, for `HarnessError`): the
operator itself never does (the layers contract in pyproject.toml puts it above the runner).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping

ASSETS_ENV = "KUBEBUILDER_ASSETS"
KUBECONFIG_ENV = "AZBATCH_TEST_KUBECONFIG"


class HarnessError(RuntimeError):
    """The real Kubernetes API the environment asks for cannot be started or reached (a binary
    missing, a kubeconfig unreadable, a server that never answers); the message says what to fix."""


class Server(enum.StrEnum):
    """The kind of Kubernetes API a sandbox talks to (recorded by bench.scale as `kube_server`)."""

    STAND_IN = "stand-in"
    ENVTEST = "envtest"
    KUBECONFIG = "kubeconfig"


def choose_server(env: Mapping[str, str] | None = None) -> Server:
    """The one switch: an explicit cluster first (as envtest's USE_EXISTING_CLUSTER wins over its
    assets), then the envtest binaries, else the stand-in. Empty values count as unset."""
    env = os.environ if env is None else env
    if env.get(KUBECONFIG_ENV, "").strip():
        return Server.KUBECONFIG
    if env.get(ASSETS_ENV, "").strip():
        return Server.ENVTEST
    return Server.STAND_IN


def is_real(server: Server) -> bool:
    return server is not Server.STAND_IN


__all__ = ["ASSETS_ENV", "KUBECONFIG_ENV", "HarnessError", "Server", "choose_server", "is_real"]
