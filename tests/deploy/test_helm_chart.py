"""The Helm chart, linted and rendered by Helm's own Go SDK and checked against the Kubernetes schemas
and against the operator's real command line and settings parser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import helm_python as helm
import pytest
import yaml
from deploy_helpers import (
    CHART,
    GENERATED_CRD,
    NAMESPACE,
    Manifest,
    find,
    one,
    render_chart,
    validate_against_kubernetes,
)

from azbatch_operator.cli import build_parser
from azbatch_operator.config import DIGEST_KEY_ENV, OperatorConfig

Render = Callable[..., list[Manifest]]
ACCOUNT = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct"
POOL_RULES = {
    ("azbatch.dev", "batchpools"): {"get", "list", "watch", "patch"},
    ("azbatch.dev", "batchpools/status"): {"get", "patch"},
    ("", "events"): {"create"},
    ("", "secrets"): {"get"},
}
CLUSTER_READS = {
    ("", "namespaces"): {"get", "list", "watch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"list", "watch"},
}
LEASES = {("coordination.k8s.io", "leases"): {"get", "list", "watch", "create", "update"}}


def grants(role: Manifest) -> dict[tuple[str, str], set[str]]:
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        assert "resourceNames" not in rule or rule["resourceNames"]
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    return granted


def container(manifests: list[Manifest]) -> dict[str, Any]:
    deployment = one(manifests, "Deployment")
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def env_of(manifests: list[Manifest]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(manifests).get("env", [])}


def run_args(manifests: list[Manifest]) -> Any:
    """The container's arguments, parsed by the operator's own `azbatch-operator` parser."""
    return build_parser().parse_args(container(manifests)["args"])


def test_helm_lint_strict_finds_nothing() -> None:
    report = helm.lint(CHART, strict=True, kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and problems == []


def test_every_default_manifest_is_valid_kubernetes(default_manifests: list[Manifest]) -> None:
    kinds = sorted(m["kind"] for m in default_manifests)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "ConfigMap",
            "Deployment",
            "Role",
            "Role",
            "RoleBinding",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    )
    for manifest in default_manifests:
        validate_against_kubernetes(manifest)


def test_every_option_renders_valid_kubernetes(chart_render: Render) -> None:
    manifests = chart_render(
        {
            "watchNamespaces": ["team-a", "team-b"],
            "operator": {"accountAllowlist": {"team-a": [ACCOUNT]}, "verbose": True},
            "azure": {
                "workloadIdentity": {"enabled": False},
                "clientId": "c",
                "tenantId": "t",
                "clientSecret": {"existingSecret": "sp"},
                "caBundle": {"configMap": "corp-ca"},
                "authorityHost": "https://login.microsoftonline.us/",
            },
            "digestKey": {"existingSecret": "my-key"},
            "image": {"digest": "sha256:" + "a" * 64},
            "extraEnv": [{"name": "TZ", "value": "UTC"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
            "imagePullSecrets": [{"name": "regcred"}],
            "priorityClassName": "system-cluster-critical",
        }
    )
    for manifest in manifests:
        validate_against_kubernetes(manifest)
    assert container(manifests)["image"] == "ghcr.io/azbatch-operator/azbatch-operator@sha256:" + "a" * 64


def test_the_chart_ships_the_generated_crd_unchanged() -> None:
    (crd,) = helm.Chart.load(CHART).crds
    assert crd["data"] == GENERATED_CRD.read_text(encoding="utf-8")
    assert yaml.safe_load(crd["data"])["metadata"]["name"] == "batchpools.azbatch.dev"


def test_all_namespaces_gets_exactly_the_contracts_cluster_rules(default_manifests: list[Manifest]) -> None:
    assert grants(one(default_manifests, "ClusterRole")) == CLUSTER_READS | POOL_RULES
    lease = one(default_manifests, "Role", "azbatch-operator-leader-election")
    assert grants(lease) == LEASES
    assert lease["metadata"]["namespace"] == NAMESPACE
    assert run_args(default_manifests).all_namespaces


def test_watched_namespaces_get_a_role_each_and_no_cluster_wide_secrets(chart_render: Render) -> None:
    manifests = chart_render({"watchNamespaces": ["team-a", "team-b"]})
    assert grants(one(manifests, "ClusterRole")) == CLUSTER_READS
    roles = {
        r["metadata"]["namespace"]: grants(r)
        for r in find(manifests, "Role")
        if not r["metadata"]["name"].endswith(("leader-election", "digest-key"))
    }
    assert roles == {"team-a": POOL_RULES, "team-b": POOL_RULES}
    bindings = {b["metadata"]["namespace"] for b in find(manifests, "RoleBinding")}
    assert bindings == {"team-a", "team-b", NAMESPACE}
    assert run_args(manifests).namespace == ["team-a", "team-b"]


@pytest.mark.parametrize("peering", ["azbatch", "default"])
def test_setting_the_removed_peering_fails_with_what_to_do(peering: str) -> None:
    values = {"operator": {"peering": peering}}
    helm.Chart.load(CHART).validate_schema(values)  # not a schema error: the chart says why, below
    with pytest.raises(helm.HelmError) as refused:
        render_chart(values)
    assert (
        "operator.peering is no longer supported: kopf peering pauses only kopf's own handlers, not the "
        "operator's pool loops; remove it and run replicas with leader election instead (on by default; "
        "operator.leaderElection.enabled)"
    ) in str(refused.value)


def test_an_empty_peering_left_from_an_old_values_file_still_renders(chart_render: Render) -> None:
    assert run_args(chart_render({"operator": {"peering": ""}})).peering is None


def test_no_render_asks_for_peering(chart_render: Render) -> None:
    for values in ({}, {"watchNamespaces": ["team-a"]}, {"operator": {"leaderElection": {"enabled": False}}}):
        manifests = chart_render(values)
        for role in find(manifests, "ClusterRole") + find(manifests, "Role"):
            assert not {group for group, _ in grants(role)} & {"kopf.dev"}, role["metadata"]["name"]
        args = container(manifests)["args"]
        assert not [a for a in args if "peering" in a], args
        assert run_args(manifests).peering is None


def test_no_role_ever_grants_wildcards_or_secret_listing(chart_render: Render) -> None:
    for values in ({}, {"watchNamespaces": ["a"]}):
        for role in find(chart_render(values), "ClusterRole") + find(chart_render(values), "Role"):
            for (group, resource), verbs in grants(role).items():
                assert "*" not in verbs and resource != "*" and group != "*"
                if resource == "secrets":
                    assert not verbs & {"list", "watch"}, (
                        "listing or watching Secrets would expose every secret"
                    )
                    # create: only the operator's own digest key Secret, in the release namespace
                    assert verbs == {"get"} or role["metadata"]["name"].endswith("digest-key")


def test_leader_election_off_drops_the_lease_role(chart_render: Render) -> None:
    manifests = chart_render({"operator": {"leaderElection": {"enabled": False}}})
    assert [r["metadata"]["name"] for r in find(manifests, "Role")] == ["azbatch-operator-digest-key"]
    assert (
        yaml.safe_load(one(manifests, "ConfigMap")["data"]["config.yaml"])["leaderElection"]["enabled"]
        is False
    )


def test_the_settings_file_is_read_by_the_operators_own_parser(chart_render: Render) -> None:
    manifests = chart_render(
        {"operator": {"resyncInterval": 30, "accountAllowlist": {"team-a": [ACCOUNT], "*": []}}}
    )
    configmap = one(manifests, "ConfigMap")
    config = OperatorConfig.from_mapping(yaml.safe_load(configmap["data"]["config.yaml"]))
    assert config.resync_interval == 30
    assert config.account_allowlist == {"team-a": (ACCOUNT,), "*": ()}
    assert config.leader_election.enabled
    assert config.leader_election.lease_namespace == NAMESPACE
    mount = next(m for m in container(manifests)["volumeMounts"] if m["name"] == "config")
    assert run_args(manifests).config == mount["mountPath"]
    assert mount["mountPath"] == "/etc/azbatch-operator/config.yaml"


def test_a_settings_change_rolls_the_pods(chart_render: Render) -> None:
    def checksum(values: dict[str, Any]) -> str:
        pod = one(chart_render(values), "Deployment")["spec"]["template"]
        return str(pod["metadata"]["annotations"]["checksum/config"])

    assert checksum({}) != checksum({"operator": {"resyncInterval": 120}})


def test_ports_probes_and_service_agree_with_the_command_line(default_manifests: list[Manifest]) -> None:
    args = run_args(default_manifests)
    ports = {p["name"]: p["containerPort"] for p in container(default_manifests)["ports"]}
    assert ports == {"metrics": args.metrics_port, "health": args.health_port}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container(default_manifests)[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    service = one(default_manifests, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    pod_labels = one(default_manifests, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()


def test_the_pod_is_locked_down(default_manifests: list[Manifest]) -> None:
    pod = one(default_manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(default_manifests)["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
    assert "emptyDir" in tmp
    assert {"name": "tmp", "mountPath": "/tmp"} in container(default_manifests)["volumeMounts"]
    assert container(default_manifests)["resources"]["limits"]["memory"]


def test_the_digest_key_is_the_operators_own_secret_never_rendered(default_manifests: list[Manifest]) -> None:
    # A rendered random key would rotate at every `helm template` (Argo CD, Flux): the operator
    # creates the Secret itself, once, and every replica reads it.
    assert find(default_manifests, "Secret") == []
    pod = one(default_manifests, "Deployment")["spec"]["template"]["spec"]
    assert all(v["name"] != "digest-key" for v in pod["volumes"])
    assert DIGEST_KEY_ENV not in env_of(default_manifests)
    config = yaml.safe_load(one(default_manifests, "ConfigMap")["data"]["config.yaml"])
    assert config["digestKeySecret"] == {"name": "azbatch-operator-digest-key", "namespace": NAMESPACE}
    role = one(default_manifests, "Role", "azbatch-operator-digest-key")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": ["azbatch-operator-digest-key"],
        "verbs": ["get"],
    } in role["rules"]
    assert {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]} in role["rules"]


def test_two_renders_are_identical_so_a_sync_never_rotates_the_key() -> None:
    assert render_chart() == render_chart()


def test_an_existing_digest_key_secret_is_mounted_and_read_from_a_file(chart_render: Render) -> None:
    manifests = chart_render({"digestKey": {"existingSecret": "my-key"}})
    assert find(manifests, "Secret") == []
    assert not [m for m in find(manifests, "Role") if m["metadata"]["name"].endswith("digest-key")]
    pod = one(manifests, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "digest-key")
    assert volume["secret"]["secretName"] == "my-key"
    # The kubelet writes Secret files as root with group fsGroup: the non-root operator reads them by group.
    assert volume["secret"]["defaultMode"] & 0o040 and not volume["secret"]["defaultMode"] & 0o007
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    mount = next(m for m in container(manifests)["volumeMounts"] if m["name"] == "digest-key")
    assert env_of(manifests)[DIGEST_KEY_ENV] == f"{mount['mountPath']}/key"
    assert "digestKeySecret" not in yaml.safe_load(one(manifests, "ConfigMap")["data"]["config.yaml"])


def test_the_disruption_budget_and_stuck_delete_bound_are_chart_values(chart_render: Render) -> None:
    manifests = chart_render({"operator": {"maxConcurrentRecreates": 3, "stuckDeleteTimeout": 600}})
    config = yaml.safe_load(one(manifests, "ConfigMap")["data"]["config.yaml"])
    assert config["maxConcurrentRecreates"] == 3 and config["stuckDeleteTimeout"] == 600


def test_workload_identity_labels_and_annotates(chart_render: Render) -> None:
    manifests = chart_render({"azure": {"clientId": "11111111-2222", "tenantId": "tenant"}})
    account = one(manifests, "ServiceAccount")
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == "11111111-2222"
    assert account["metadata"]["annotations"]["azure.workload.identity/tenant-id"] == "tenant"
    pod = one(manifests, "Deployment")["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["serviceAccountName"] == account["metadata"]["name"]
    assert "AZURE_CLIENT_SECRET" not in env_of(manifests)


def test_a_client_secret_comes_from_a_secret_reference(chart_render: Render) -> None:
    manifests = chart_render(
        {
            "azure": {
                "workloadIdentity": {"enabled": False},
                "clientId": "c",
                "tenantId": "t",
                "clientSecret": {"existingSecret": "sp", "key": "password"},
            }
        }
    )
    env = env_of(manifests)
    assert env["AZURE_CLIENT_SECRET"] == {"secretKeyRef": {"name": "sp", "key": "password"}}
    assert (env["AZURE_CLIENT_ID"], env["AZURE_TENANT_ID"]) == ("c", "t")
    pod = one(manifests, "Deployment")["spec"]["template"]
    assert "azure.workload.identity/use" not in pod["metadata"]["labels"]


def test_sovereign_cloud_and_private_ca_use_the_azure_identity_names(chart_render: Render) -> None:
    manifests = chart_render(
        {
            "azure": {
                "authorityHost": "https://login.microsoftonline.us/",
                "resourceManagerEndpoint": "https://management.usgovcloudapi.net/",
                "resourceManagerAudience": "https://management.core.usgovcloudapi.net/",
                "caBundle": {"configMap": "corp-ca", "key": "bundle.pem"},
            }
        }
    )
    env = env_of(manifests)
    assert env["AZURE_AUTHORITY_HOST"] == "https://login.microsoftonline.us/"
    assert env["AZURE_RESOURCE_MANAGER_ENDPOINT"] == "https://management.usgovcloudapi.net/"
    assert env["AZURE_RESOURCE_MANAGER_AUDIENCE"] == "https://management.core.usgovcloudapi.net/"
    mount = next(m for m in container(manifests)["volumeMounts"] if m["name"] == "ca-bundle")
    assert env["SSL_CERT_FILE"] == f"{mount['mountPath']}/bundle.pem"


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        (
            {"azure": {"clientSecret": {"existingSecret": "sp"}, "clientId": "c", "tenantId": "t"}},
            "exclusive",
        ),
        (
            {"azure": {"workloadIdentity": {"enabled": False}, "clientSecret": {"existingSecret": "sp"}}},
            "needs azure.clientId and azure.tenantId",
        ),
    ],
)
def test_contradictory_credentials_fail_with_what_to_do(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmError, match=complaint):
        render_chart(values)


@pytest.mark.parametrize(
    "values",
    [
        {"watchNamespce": ["team-a"]},  # a typo must not silently watch every namespace
        {"watchNamespaces": ["team-*"]},  # Roles need exact names
        {"operator": {"accountAllowlist": {"team-a": ["acct"]}}},  # not an ARM id
        {"operator": {"resyncInterval": 0}},
        {"image": {"digest": "latest"}},
        {"metrics": {"port": 70000}},
    ],
)
def test_the_values_schema_refuses_bad_values(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        helm.Chart.load(CHART).validate_schema(values)


def test_the_service_monitor_scrapes_the_metrics_service(chart_render: Render) -> None:
    manifests = chart_render(
        {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}}
    )
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [NAMESPACE]
    assert find(chart_render(), "ServiceMonitor") == []


def test_notes_say_how_to_check_it_works() -> None:
    notes = render_chart({"azure": {"clientId": "c"}})["azbatch-operator/templates/NOTES.txt"]
    assert f"kubectl -n {NAMESPACE} rollout status deployment/azbatch-operator" in notes
    assert "kubectl get crd batchpools.azbatch.dev" in notes
    assert "WARNING" not in notes
    assert "azure.clientId is empty" in render_chart()["azbatch-operator/templates/NOTES.txt"]


def test_an_upgrade_starts_the_new_pod_before_the_old_leader_stops(default_manifests: list[Manifest]) -> None:
    # The new pod passes its probes as a standby; the old leader releases the Lease as it stops
    # (tests/reliability/test_leader_election.py), so a rollout never leaves the pools unwatched.
    strategy = one(default_manifests, "Deployment")["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
