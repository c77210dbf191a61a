"""Fault injection and call counters, as seen by azure-core's retry policy."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.batch.aio import BatchClient
from azure.core.exceptions import HttpResponseError
from emulator_helpers import small_pool

from azbatch_emulator.admin import AdminClient, AdminError


async def test_429_with_retry_after_is_retried_and_succeeds(
    info: dict[str, Any], admin: AdminClient, mgmt: Any
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "busy", small_pool(nodes=0))
    admin.reset_counters()
    admin.inject_fault("mgmt.pool", "GET", 429, retry_after=1, count=1)
    started = time.monotonic()
    pool = await mgmt.pool.get(rg, account, "busy")
    assert pool.name == "busy"
    assert time.monotonic() - started >= 0.9  # azure-core waited as told
    assert admin.counters()["GET mgmt.pool"] == 2
    assert admin.faults()[0]["hits"] == 1


async def test_persistent_5xx_surfaces_after_retries(
    info: dict[str, Any], admin: AdminClient, credential: Any
) -> None:
    admin.inject_fault("batch.nodeCounts", "GET", 503, retry_after=0.01, code="ServerBusy")
    async with BatchClient(
        info["batch_endpoint"], credential, connection_verify=info["ca_cert"], retry_total=2
    ) as client:
        with pytest.raises(HttpResponseError) as caught:
            _ = [c async for c in client.list_pool_node_counts()]
    assert caught.value.status_code == 503
    assert "ServerBusy" in str(caught.value)
    assert admin.counters()["GET batch.nodeCounts"] == 3


async def test_dropped_connection_is_retried(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    admin.inject_fault("mgmt.account", "GET", 0, drop_connection=True, count=1)
    account = await mgmt.batch_account.get(info["resource_group"], info["account_name"])
    assert account.name == info["account_name"]
    assert admin.counters()["GET mgmt.account"] == 2


async def test_latency_and_pool_scoped_faults(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "slowpool", small_pool(nodes=0))
    await mgmt.pool.create(rg, account, "fastpool", small_pool(nodes=0))
    admin.inject_fault("mgmt.pool", "GET", 0, latency=0.5, pool="slowpool")
    started = time.monotonic()
    await mgmt.pool.get(rg, account, "slowpool")
    assert time.monotonic() - started >= 0.5
    await mgmt.pool.get(rg, account, "fastpool")
    assert admin.faults()[0]["hits"] == 1  # only the named pool was slowed down


async def test_counters_tell_reads_from_writes(info: dict[str, Any], admin: AdminClient, mgmt: Any) -> None:
    rg, account = info["resource_group"], info["account_name"]
    await mgmt.pool.create(rg, account, "counted", small_pool(nodes=0))
    await mgmt.pool.get(rg, account, "counted")
    counts = admin.counters()
    assert counts["PUT mgmt.pool"] == 1
    assert counts["GET mgmt.pool"] == 1
    assert admin.management_writes() == 1
    admin.reset_counters()
    await mgmt.pool.get(rg, account, "counted")
    assert admin.management_writes() == 0


def test_admin_api_explains_bad_requests(admin: AdminClient) -> None:
    with pytest.raises(AdminError, match="probability"):
        admin.inject_fault("mgmt.pool", "GET", 500, probability=2.0)
    with pytest.raises(AdminError, match="'extension'"):
        admin._call("POST", "/scripts", {"kind": "extension"})
