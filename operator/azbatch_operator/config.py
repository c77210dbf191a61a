"""The operator's own settings: one documented file (a ConfigMap in the chart), overridable by flags.

```yaml
resyncInterval: 60        # seconds between drift checks (one pool list per account per interval)
healthInterval: 120       # seconds between extension-health observations of a pool
healthNodeBudget: 10      # node extension views read per pool per observation (bounded cost)
healthBurstBudget: 500    # views of nodes not yet seen settled, read per pool per health interval
resizeRetryBackoff: 60    # seconds before resizing again after allocation stopped short (doubles)
accountAllowlist:         # namespace -> Batch account ARM ids it may target ("*": every namespace)
  team-a: ["/subscriptions/.../resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct"]
maxConcurrentRecreates: 1 # pools of one Batch account in a recreate or scale to zero at once
stuckDeleteTimeout: 1800  # seconds a pool may stay Deleting before the resource says Stalled
leaderElection: {enabled: true, leaseName: azbatch-operator, leaseNamespace: <operator namespace>}
digestKeySecret: {name: azbatch-operator-digest-key, namespace: <operator namespace>}
armRequestBudget:         # per subscription, spent before each ARM request (ARM: 250 @ 25/s, 200 @ 10/s)
  reads: {burst: 200, perSecond: 20}
  writes: {burst: 160, perSecond: 8}
  deletes: {burst: 160, perSecond: 8}
```
One operator acts at a time: leader election is on unless turned off (`run --no-leader-election`,
for development). The digest key comes from AZBATCH_DIGEST_KEY_FILE when set; otherwise the operator
keeps it in the Secret `digestKeySecret`, created once with 32 random bytes and shared by every
replica and restart. The operator namespace is POD_NAMESPACE, else the service account's, else the
kubeconfig context's, else `default`.
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

from azbatch_operator.request_budget import KINDS, BudgetLimits, Rate

CONFIG_ENV = "AZBATCH_OPERATOR_CONFIG"
DIGEST_KEY_ENV = "AZBATCH_DIGEST_KEY_FILE"


class ConfigError(ValueError):
    pass


DEFAULT_DIGEST_KEY_SECRET = "azbatch-operator-digest-key"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


@dataclass(frozen=True)
class LeaderElection:
    enabled: bool = True
    lease_name: str = "azbatch-operator"
    lease_namespace: str = "default"


@dataclass(frozen=True)
class SecretName:
    name: str
    namespace: str


@dataclass(frozen=True)
class OperatorConfig:
    resync_interval: float = 60.0
    health_interval: float = 120.0
    health_node_budget: int = 10
    health_burst_budget: int = 500
    active_requeue: float = 5.0
    resize_retry_backoff: float | None = None
    account_allowlist: Mapping[str, tuple[str, ...]] | None = None
    leader_election: LeaderElection = field(default_factory=LeaderElection)
    digest_key: bytes = b""
    digest_key_secret: SecretName = field(
        default_factory=lambda: SecretName(DEFAULT_DIGEST_KEY_SECRET, "default")
    )
    max_concurrent_recreates: int = 1
    stuck_delete_timeout: float = 1800.0
    arm_request_budget: BudgetLimits = field(default_factory=BudgetLimits)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, digest_key: bytes = b"", namespace: str = "default"
    ) -> OperatorConfig:
        known = {
            "maxConcurrentRecreates",
            "stuckDeleteTimeout",
            "digestKeySecret",
            "resyncInterval",
            "healthInterval",
            "healthNodeBudget",
            "healthBurstBudget",
            "activeRequeue",
            "resizeRetryBackoff",
            "accountAllowlist",
            "leaderElection",
            "armRequestBudget",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        allowlist = data.get("accountAllowlist")
        if allowlist is not None and not isinstance(allowlist, Mapping):
            raise ConfigError("accountAllowlist must map a namespace to a list of Batch account ARM ids")
        election = data.get("leaderElection") or {}
        key_secret = data.get("digestKeySecret") or {}
        for key in (
            "resyncInterval",
            "healthInterval",
            "activeRequeue",
            "healthNodeBudget",
            "healthBurstBudget",
            "maxConcurrentRecreates",
            "stuckDeleteTimeout",
        ):
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
                health_burst_budget=int(data.get("healthBurstBudget", 500)),
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
                    enabled=bool(election.get("enabled", True)),
                    lease_name=str(election.get("leaseName", "azbatch-operator")),
                    lease_namespace=str(election.get("leaseNamespace", namespace)),
                ),
                digest_key=digest_key,
                digest_key_secret=SecretName(
                    str(key_secret.get("name", DEFAULT_DIGEST_KEY_SECRET)),
                    str(key_secret.get("namespace", namespace)),
                ),
                max_concurrent_recreates=int(data.get("maxConcurrentRecreates", 1)),
                stuck_delete_timeout=float(data.get("stuckDeleteTimeout", 1800)),
                arm_request_budget=request_budget(data.get("armRequestBudget")),
            )
        except (TypeError, ValueError) as error:
            raise ConfigError(f"invalid operator setting: {error}") from error


def request_budget(data: Any) -> BudgetLimits:
    """`armRequestBudget`: any of reads, writes, deletes, each `{burst, perSecond}`; the rest default."""
    if data is None:
        return BudgetLimits()
    if not isinstance(data, Mapping) or set(data) - set(KINDS):
        raise ConfigError(f"armRequestBudget takes {', '.join(KINDS)}, each {{burst: N, perSecond: N}}")
    defaults = BudgetLimits()
    rates = {}
    for kind in KINDS:
        given = data.get(kind)
        if given is None:
            continue
        if not isinstance(given, Mapping) or set(given) - {"burst", "perSecond"}:
            raise ConfigError(f"armRequestBudget.{kind} takes burst and perSecond, not {given!r}")
        default = defaults.of(kind)
        burst, per_second = given.get("burst", default.burst), given.get("perSecond", default.per_second)
        if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
            raise ConfigError(
                f"armRequestBudget.{kind}.burst must be a whole number of 1 or more, not {burst!r}"
            )
        if not isinstance(per_second, int | float) or isinstance(per_second, bool) or per_second <= 0:
            raise ConfigError(
                f"armRequestBudget.{kind}.perSecond must be a number above 0, not {per_second!r}"
            )
        rates[kind] = Rate(burst, float(per_second))
    return BudgetLimits(**rates)


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
    return OperatorConfig.from_mapping(
        data, digest_key=load_digest_key(env), namespace=operator_namespace(env)
    )


def operator_namespace(env: Mapping[str, str]) -> str:
    """Where the operator's own objects (Lease, digest key Secret) live."""
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or "default"
    except OSError:
        pass
    return _kubeconfig_namespace(env) or "default"


def _kubeconfig_namespace(env: Mapping[str, str]) -> str | None:
    """The current context's namespace, as kubectl reads it (the first file of KUBECONFIG)."""
    path = (env.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")).split(os.pathsep)[0]
    try:
        config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    current = config.get("current-context")
    for context in config.get("contexts") or ():
        if isinstance(context, Mapping) and context.get("name") == current:
            namespace = (context.get("context") or {}).get("namespace")
            return str(namespace) if namespace else None
    return None


def load_digest_key(env: Mapping[str, str]) -> bytes:
    """The HMAC key for secret digests; without one, secret changes cannot be detected across restarts."""
    path = env.get(DIGEST_KEY_ENV)
    return read_digest_key(path, DIGEST_KEY_ENV) if path else b""


def read_digest_key(path: str, source: str) -> bytes:
    """The key in the file `path`, as the operator reads it; `source` (a variable or a flag) says
    in messages where the path came from."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as error:
        raise ConfigError(f"cannot read the digest key {path} ({source}): {error}") from error
    if len(key) < 16:
        raise ConfigError(f"the digest key in {path} ({source}) is too short: use at least 32 random bytes")
    return key
