"""The in-process API: `start_emulator` in both forms, `AsyncAdminClient`, and clean stops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from azure.identity.aio import ClientSecretCredential
from emulator_helpers import management_client, small_pool

from azbatch_emulator import start_emulator
from azbatch_emulator.admin import AsyncAdminClient


def credential_for(info: dict[str, Any]) -> ClientSecretCredential:
    return ClientSecretCredential(
        info["tenant_id"],
        info["client_id"],
        info["client_secret"],
        authority=info["authority_host"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )


def exists(path: str | Path) -> bool:
    return Path(path).exists()


def advertised(state_dir: str | Path) -> bool:
    """Whether a ready document is on disk (what `azbatch-emulator env` reads)."""
    return (Path(state_dir) / "ready.json").exists()


async def test_awaited_emulator_runs_and_removes_its_temporary_state() -> None:
    emulator = await start_emulator(time_scale=600)
    state_dir = emulator.info["state_dir"]
    assert advertised(state_dir)
    await emulator.stop()
    assert not advertised(state_dir)
    assert not exists(state_dir)  # the temporary state dir is gone


async def test_async_admin_client_and_a_persistent_state_dir(tmp_path: Path) -> None:
    async with start_emulator(time_scale=600, state_dir=tmp_path) as emulator:
        info = emulator.info
        async with (
            AsyncAdminClient(info) as admin,
            credential_for(info) as credential,
            management_client(info, credential) as mgmt,
        ):
            await admin.inject_fault("mgmt.pool", "PUT", 503, retry_after=0.01, count=1)
            await mgmt.pool.create(info["resource_group"], info["account_name"], "kept", small_pool(nodes=1))
            assert (await admin.counters())["PUT mgmt.pool"] == 2
            assert await admin.management_writes() == 2
            await admin.advance_clock(3600)
            pool = await mgmt.pool.get(info["resource_group"], info["account_name"], "kept")
            assert pool.properties.current_dedicated_nodes == 1
    assert not advertised(tmp_path)  # a stopped emulator is not advertised
    async with start_emulator(time_scale=600, state_dir=tmp_path) as again:
        assert again.info["client_secret"] == info["client_secret"]
        async with (
            credential_for(again.info) as credential,
            management_client(again.info, credential) as mgmt,
        ):
            pool = await mgmt.pool.get(info["resource_group"], info["account_name"], "kept")
            assert pool.properties.current_dedicated_nodes == 1
            assert pool.properties.allocation_state == "Steady"
