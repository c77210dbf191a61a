"""deploy/kustomize/base, built by `kubectl kustomize`: valid Kubernetes, and the chart's defaults."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from deploy_helpers import (
    GENERATED_CRD,
    KUSTOMIZE_BASE,
    NAMESPACE,
    Manifest,
    one,
    validate_against_kubernetes,
)

HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


def without_helm_bookkeeping(manifest: Manifest) -> Manifest:
    """The chart's manifest as kustomize would have it: no Helm labels, no config checksum."""
    manifest = copy.deepcopy(manifest)
    metas = [manifest["metadata"]]
    if manifest["kind"] == "Deployment":
        metas.append(manifest["spec"]["template"]["metadata"])
    for meta in metas:
        for label in HELM_ONLY_LABELS:
            meta.get("labels", {}).pop(label, None)
        meta.get("annotations", {}).pop("checksum/config", None)
        if meta.get("annotations") == {}:
            del meta["annotations"]
    return manifest


def key(manifest: Manifest) -> tuple[str, str, str]:
    return manifest["kind"], manifest["metadata"].get("namespace", ""), manifest["metadata"]["name"]


def test_every_kustomize_manifest_is_valid_kubernetes(kustomize_manifests: list[Manifest]) -> None:
    for manifest in kustomize_manifests:
        validate_against_kubernetes(manifest)


def test_the_base_equals_the_charts_defaults(
    kustomize_manifests: list[Manifest], default_manifests: list[Manifest]
) -> None:
    from_helm = {key(m): without_helm_bookkeeping(m) for m in default_manifests if m["kind"] != "Secret"}
    from_kustomize = {
        key(m): m for m in kustomize_manifests if m["kind"] not in ("Namespace", "CustomResourceDefinition")
    }
    assert sorted(from_kustomize) == sorted(from_helm)
    for name, manifest in from_helm.items():
        assert from_kustomize[name] == manifest, f"{name} differs from the chart's default render"


def test_the_base_ships_the_generated_crd_and_its_namespace(kustomize_manifests: list[Manifest]) -> None:
    assert (KUSTOMIZE_BASE / GENERATED_CRD.name).read_text(encoding="utf-8") == GENERATED_CRD.read_text(
        encoding="utf-8"
    ), f"refresh the copy: cp {GENERATED_CRD.relative_to(GENERATED_CRD.parents[1])} deploy/kustomize/base/"
    crd = one(kustomize_manifests, "CustomResourceDefinition")
    assert "namespace" not in crd["metadata"]
    namespace = one(kustomize_manifests, "Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_digest_key_is_left_to_the_operator(kustomize_manifests: list[Manifest]) -> None:
    assert [m for m in kustomize_manifests if m["kind"] == "Secret"] == []
    pod: dict[str, Any] = one(kustomize_manifests, "Deployment")["spec"]["template"]["spec"]
    assert all(v["name"] != "digest-key" for v in pod["volumes"])
    config = yaml.safe_load(one(kustomize_manifests, "ConfigMap")["data"]["config.yaml"])
    assert config["digestKeySecret"] == {"name": "azbatch-operator-digest-key", "namespace": NAMESPACE}
    role = next(
        m for m in kustomize_manifests if m["kind"] == "Role" and m["metadata"]["name"].endswith("digest-key")
    )
    assert {
        "apiGroups": [""],
        "resources": ["secrets"],
        "resourceNames": ["azbatch-operator-digest-key"],
        "verbs": ["get"],
    } in role["rules"]
