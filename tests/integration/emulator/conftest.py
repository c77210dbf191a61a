"""Shared fixtures: one emulator per session (own thread and loop), reset before every test,
and the real Azure SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from azure.batch.aio import BatchClient
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.batch.aio import BatchManagementClient
from emulator_helpers import management_client

from azbatch_emulator import EmulatorThread
from azbatch_emulator.admin import AdminClient

TIME_SCALE = 600.0


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(time_scale=TIME_SCALE) as running:
        yield running


@pytest.fixture(scope="session")
def info(emulator: EmulatorThread) -> dict[str, Any]:
    return emulator.info


@pytest.fixture
def admin(info: dict[str, Any]) -> AdminClient:
    """A fresh emulator state for each test, with the simulated clock paused: tests move time with
    `advance_clock`, so what they see never depends on how busy the machine is."""
    client = AdminClient(info)
    client.reset()
    client.pause_clock()
    return client


@pytest.fixture
async def credential(info: dict[str, Any], admin: AdminClient) -> AsyncIterator[ClientSecretCredential]:
    async with ClientSecretCredential(
        info["tenant_id"],
        info["client_id"],
        info["client_secret"],
        authority=info["authority_host"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    ) as cred:
        yield cred


@pytest.fixture
async def mgmt(
    info: dict[str, Any], credential: ClientSecretCredential
) -> AsyncIterator[BatchManagementClient]:
    async with management_client(info, credential, polling_interval=0.1) as client:
        yield client


@pytest.fixture
async def batch(info: dict[str, Any], credential: ClientSecretCredential) -> AsyncIterator[BatchClient]:
    async with BatchClient(info["batch_endpoint"], credential, connection_verify=info["ca_cert"]) as client:
        yield client
