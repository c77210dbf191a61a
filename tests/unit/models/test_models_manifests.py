"""Manifest files: several YAML documents, BatchPools apart from the Secrets they reference."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from azbatch_operator.models import (
    BatchPool,
    FixedScaleSettings,
    ManifestError,
    load_manifests,
    parse_duration,
    secrets_from_documents,
)

POOL = """
apiVersion: azbatch.dev/v1alpha1
kind: BatchPool
metadata: {name: pool-a}
spec:
  account: {subscriptionId: 12345678-1234-1234-1234-123456789012, resourceGroup: rg, accountName: acct}
  vmSize: STANDARD_D2S_V3
"""
PASSWORD = base64.b64encode(b"s3cret").decode()
SECRET = f"""
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
data: {{password: {PASSWORD}}}
stringData: {{token: plain-text}}
"""


def test_pools_and_other_documents_are_split_and_empty_documents_skipped() -> None:
    manifests = load_manifests(f"---\n{POOL}\n---\n---\n{SECRET}")
    assert [document["metadata"]["name"] for document in manifests.pools] == ["pool-a"]
    assert [document["kind"] for document in manifests.others] == ["Secret"]
    assert secrets_from_documents(manifests.others) == {
        ("creds", "password"): "s3cret",
        ("creds", "token"): "plain-text",
    }


def test_pool_name_defaults_to_the_resource_name() -> None:
    pool = BatchPool.model_validate(load_manifests(POOL).pools[0])
    assert pool.pool_name == "pool-a"
    named = load_manifests(POOL.replace("vmSize:", "poolName: azure_pool_1\n  vmSize:")).pools[0]
    assert BatchPool.model_validate(named).pool_name == "azure_pool_1"


def test_policy_defaults_are_the_documented_ones() -> None:
    policy = BatchPool.model_validate(load_manifests(POOL).pools[0]).spec.policy
    assert (policy.update_strategy, policy.deletion_policy, policy.reconcile, policy.adopt) == (
        "Recreate",
        "Delete",
        "Manage",
        False,
    )
    assert (policy.drain.enabled, policy.drain.timeout) == (True, "PT30M")


def test_broken_yaml_says_where() -> None:
    with pytest.raises(ManifestError, match="line 3"):
        load_manifests("a: 1\nb: [\nc: }")


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ManifestError, match="document 2 is a list"):
        load_manifests(f"{POOL}\n---\n- a\n- b\n")


def test_secret_data_must_be_base64() -> None:
    with pytest.raises(ManifestError, match="base64"):
        secrets_from_documents(
            [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "%%"}}]
        )


@given(
    days=st.integers(0, 30),
    hours=st.integers(0, 48),
    minutes=st.integers(0, 120),
    seconds=st.integers(0, 120),
)
def test_iso_durations_parse_to_the_same_timedelta(days: int, hours: int, minutes: int, seconds: int) -> None:
    text = f"P{days}DT{hours}H{minutes}M{seconds}S"
    assert parse_duration(text) == timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    assert FixedScaleSettings(resize_timeout=text).resize_timeout == text


@pytest.mark.parametrize("text", ["", "P", "PT", "15M", "PT15", "P1DT", "PT-5M", "pt15m", "P1Y"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)
    with pytest.raises(ValidationError):
        FixedScaleSettings(resize_timeout=text)
