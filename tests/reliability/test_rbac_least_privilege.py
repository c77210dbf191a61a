"""The Helm chart grants the operator what it needs and nothing more.

What the operator does with the Kubernetes API, and so the only rules it may hold:
- kopf lists and watches BatchPools and PATCHes them (finalizer, annotations); the reconciler
  PATCHes `batchpools/status` (merge patch) — nobody PUTs either;
- kopf POSTs core/v1 Events (never patches them, never uses events.k8s.io);
- the reconciler GETs the Secrets a spec names, one by one — never lists or watches Secrets;
- without a mounted digest key, the operator GETs, and once creates, its digest key Secret in its
  own namespace (the chart limits the GET there to that one name);
- the cluster id is the uid of `kube-system` (GET namespace); kopf lists and watches namespaces
  and CRDs for its discovery;
- leader election GETs, creates and replaces (PUT) one Lease (the operator runs kopf standalone:
  no kopf peering, so no kopf.dev rules).
Reading what one may already list (get, list, watch) adds nothing, except on Secrets. Any other
verb, resource, group or wildcard is extra and fails the test, which names it.

With a `helm` binary in .venv/bin (or on PATH) the chart is rendered for the default values and
for a namespaced install; without one, every rule written in the templates (all branches at once:
the union of what any values could produce) is read from the template text.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "azbatch-operator"
READS = frozenset({"get", "list", "watch"})

# (apiGroup, resource) -> the verbs the operator uses, beyond reads where reads are harmless.
WRITES: dict[tuple[str, str], frozenset[str]] = {
    ("azbatch.dev", "batchpools"): frozenset({"patch"}),
    ("azbatch.dev", "batchpools/status"): frozenset({"patch"}),
    ("", "events"): frozenset({"create"}),
    ("", "namespaces"): frozenset(),
    ("apiextensions.k8s.io", "customresourcedefinitions"): frozenset(),
    ("coordination.k8s.io", "leases"): frozenset({"create", "update"}),
}
ONLY_GET = {("", "secrets")}  # listing or watching Secrets would expose every Secret in scope
NEEDED: dict[tuple[str, str], frozenset[str]] = {
    ("azbatch.dev", "batchpools"): frozenset({"list", "watch", "patch"}),
    ("azbatch.dev", "batchpools/status"): frozenset({"patch"}),
    ("", "events"): frozenset({"create"}),
    ("", "secrets"): frozenset({"get"}),
    ("", "namespaces"): frozenset({"get"}),
}
LEASE_NEEDED = frozenset({"get", "create", "update"})


def _helm() -> str | None:
    local = REPO / ".venv" / "bin" / "helm"
    return str(local) if local.exists() else shutil.which("helm")


def _rendered_rules(helm: str) -> Iterator[dict[str, Any]]:
    for values in ([], ["--set", "watchNamespaces={team-a}"]):
        output = subprocess.run(
            [helm, "template", "azbatch-operator", str(CHART), "--namespace", "azbatch-system", *values],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for document in yaml.safe_load_all(output):
            if document and document.get("kind") in ("Role", "ClusterRole"):
                yield from document.get("rules") or ()


RULE = re.compile(
    r"^(?P<indent>\s*)- apiGroups:\s*(?P<groups>\[.*?\])\s*\n"
    r"(?P=indent)  resources:\s*(?P<resources>\[.*?\])\s*\n"
    r"(?P=indent)  verbs:\s*(?P<verbs>\[.*?\])",
    re.MULTILINE,
)


def _written_rules() -> Iterator[dict[str, Any]]:
    texts = [path.read_text(encoding="utf-8") for path in sorted((CHART / "templates").glob("*"))]
    for text in texts:
        for match in RULE.finditer(text):
            yield {
                "apiGroups": yaml.safe_load(match["groups"]),
                "resources": yaml.safe_load(match["resources"]),
                "verbs": yaml.safe_load(match["verbs"]),
            }
        if "rules:" in text and "apiGroups" in text:
            assert RULE.search(text), "rules in a shape this reader does not know: install helm in .venv"


@pytest.fixture(scope="module")
def granted() -> dict[tuple[str, str], set[str]]:
    if not (CHART / "templates").is_dir():
        pytest.skip(f"the Helm chart's templates do not exist yet ({CHART / 'templates'})")
    helm = _helm()
    rules = list(_rendered_rules(helm) if helm else _written_rules())
    if not rules:
        pytest.skip("the chart grants no RBAC rules yet")
    grants: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        assert not rule.get("nonResourceURLs"), f"non-resource URLs granted: {rule}"
        for group in rule.get("apiGroups") or [""]:
            for resource in rule.get("resources") or ():
                grants.setdefault((group, resource), set()).update(rule.get("verbs") or ())
    return grants


def test_the_chart_grants_nothing_the_operator_does_not_use(granted: dict[tuple[str, str], set[str]]) -> None:
    extra = []
    for (group, resource), verbs in sorted(granted.items()):
        where = f"{group or 'core'}/{resource}"
        if "*" in (group, resource) or "*" in verbs:
            extra.append(f"{where}: wildcard in {sorted(verbs)}")
            continue
        if (group, resource) in ONLY_GET:
            allowed = {"get", "create"}  # create: the operator's own digest key Secret
        elif (group, resource) in WRITES:
            allowed = set(READS | WRITES[(group, resource)])
        else:
            extra.append(f"{where}: not used at all ({sorted(verbs)})")
            continue
        if verbs - allowed:
            extra.append(f"{where}: {sorted(verbs - allowed)} not used (needs {sorted(allowed)} at most)")
    assert extra == [], "RBAC grants more than the operator uses:\n" + "\n".join(extra)


def test_the_chart_grants_everything_the_operator_uses(granted: dict[tuple[str, str], set[str]]) -> None:
    missing = [
        f"{group or 'core'}/{resource}: {sorted(verbs - granted.get((group, resource), set()))}"
        for (group, resource), verbs in NEEDED.items()
        if verbs - granted.get((group, resource), set())
    ]
    lease = granted.get(("coordination.k8s.io", "leases"))
    if lease is not None and LEASE_NEEDED - lease:
        missing.append(f"coordination.k8s.io/leases: {sorted(LEASE_NEEDED - lease)}")
    assert missing == [], "the operator cannot work with this chart:\n" + "\n".join(missing)
