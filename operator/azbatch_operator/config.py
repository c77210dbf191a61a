"""The operator's own settings: one documented file (a ConfigMap in the chart), overridable by flags.

```yaml
resyncInterval: 60        # seconds between drift checks (one pool list per account per interval)
healthInterval: 120       # seconds between extension-health observations of a pool
healthNodeBudget: 10      # node extension views read per pool per observation (bounded cost)
resizeRetryBackoff: 60    # seconds before resizing again after allocation stopped short (doubles)
accountAllowlist:         # namespace -> Batch account ARM ids it may target ("*": every namespace)
  team-a: ["/subscriptions/.../resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct"]
leaderElection: {enabled: false, leaseName: azbatch-operator, leaseNamespace: azbatch-system}
```
Azure and Kubernetes connection settings are not here: they use the ecosystem's own environment
variables (azure-identity's AZURE_*, KUBECONFIG), so every tool that knows them works unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_ENV = "AZBATCH_OPERATOR_CONFIG"
DIGEST_KEY_ENV = "AZBATCH_DIGEST_KEY_FILE"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class LeaderElection:
    enabled: bool = False
    lease_name: str = "azbatch-operator"
    lease_namespace: str = "default"


@dataclass(frozen=True)
class OperatorConfig:
    resync_interval: float = 60.0
    health_interval: float = 120.0
    health_node_budget: int = 10
    active_requeue: float = 5.0
    resize_retry_backoff: float | None = None
    account_allowlist: Mapping[str, tuple[str, ...]] | None = None
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    digest_key: bytes = b""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, digest_key: bytes = b"") -> OperatorConfig:
        known = {
            "resyncInterval",
            "healthInterval",
            "healthNodeBudget",
            "activeRequeue",
            "resizeRetryBackoff",
            "accountAllowlist",
            "leaderElection",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        allowlist = data.get("accountAllowlist")
        if allowlist is not None and not isinstance(allowlist, Mapping):
            raise ConfigError("accountAllowlist must map a namespace to a list of Batch account ARM ids")
        election = data.get("leaderElection") or {}
        for key in ("resyncInterval", "healthInterval", "activeRequeue", "healthNodeBudget"):
            value = data.get(key)
            if value is not None and (not isinstance(value, int | float) or value <= 0):
                raise ConfigError(
                    f"{key} must be a number above 0 (seconds; nodes for the budget), not {value!r}"
                )
        try:
            return cls(
                resync_interval=float(data.get("resyncInterval", 60)),
                health_interval=float(data.get("healthInterval", 120)),
                health_node_budget=int(data.get("healthNodeBudget", 10)),
                active_requeue=float(data.get("activeRequeue", 5)),
                resize_retry_backoff=(
                    float(data["resizeRetryBackoff"]) if data.get("resizeRetryBackoff") is not None else None
                ),
                account_allowlist=(
                    {str(ns): tuple(str(a) for a in ids) for ns, ids in allowlist.items()}
                    if allowlist is not None
                    else None
                ),
                leader_election=LeaderElection(
                    enabled=bool(election.get("enabled", False)),
                    lease_name=str(election.get("leaseName", "azbatch-operator")),
                    lease_namespace=str(election.get("leaseNamespace", "default")),
                ),
                digest_key=digest_key,
            )
        except (TypeError, ValueError) as error:
            raise ConfigError(f"invalid operator setting: {error}") from error


def load_config(path: str | None = None, env: Mapping[str, str] | None = None) -> OperatorConfig:
    env = os.environ if env is None else env
    path = path or env.get(CONFIG_ENV)
    data: Mapping[str, Any] = {}
    if path:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read operator config {path}: {error}") from error
        data = loaded or {}
    return OperatorConfig.from_mapping(data, digest_key=load_digest_key(env))


def load_digest_key(env: Mapping[str, str]) -> bytes:
    """The HMAC key for secret digests; without one, secret changes cannot be detected across restarts."""
    path = env.get(DIGEST_KEY_ENV)
    if not path:
        return b""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as error:
        raise ConfigError(f"cannot read the digest key {path} ({DIGEST_KEY_ENV}): {error}") from error
    if len(key) < 16:
        raise ConfigError(f"the digest key in {path} is too short: use at least 32 random bytes")
    return key
