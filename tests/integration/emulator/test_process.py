"""`azbatch-emulator serve` as a subprocess: ready line, `env`, and state across a kill/restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.batch import BatchManagementClient

from azbatch_emulator import EmulatorProcess
from azbatch_emulator.admin import AdminClient
from azbatch_emulator.cli import environment


def sync_client(info: dict[str, Any]) -> BatchManagementClient:
    credential = ClientSecretCredential(
        info["tenant_id"],
        info["client_id"],
        info["client_secret"],
        authority=info["authority_host"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )
    return BatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        credential_scopes=[info["management_scope"]],
        connection_verify=info["ca_cert"],
        retry_total=0,
    )


BODY = {
    "properties": {
        "vmSize": "STANDARD_D2S_V3",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSkuId": "batch.node.ubuntu 24.04",
            }
        },
        "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 3}},
    }
}


def test_pools_and_simulation_survive_a_kill_and_restart(tmp_path: Path) -> None:
    with EmulatorProcess(state_dir=tmp_path, time_scale=60) as process:
        info = process.info
        client = sync_client(info)
        created = client.pool.create(info["resource_group"], info["account_name"], "survivor", BODY)
        assert created.properties.allocation_state == "Resizing"
        process.restart(kill=True)
        assert process.info["port"] == info["port"]
        assert process.info["client_secret"] == info["client_secret"]
        # The same client (same token, same CA) keeps working after the restart.
        again = client.pool.get(info["resource_group"], info["account_name"], "survivor")
        assert again.etag == created.etag
        AdminClient(process.info).advance_clock(3600)
        steady = client.pool.get(info["resource_group"], info["account_name"], "survivor")
        assert steady.properties.allocation_state == "Steady"
        assert steady.properties.current_dedicated_nodes == 3
        process.extra_args = ["--reset"]
        process.restart()
        with pytest.raises(ResourceNotFoundError):
            client.pool.get(info["resource_group"], info["account_name"], "survivor")


def test_env_prints_the_ecosystem_variables(tmp_path: Path) -> None:
    with EmulatorProcess(state_dir=tmp_path) as process:
        result = subprocess.run(
            [sys.executable, "-m", "azbatch_emulator", "env", "--state-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        exported = dict(
            line.removeprefix("export ").split("=", 1)
            for line in result.stdout.splitlines()
            if line.startswith("export ")
        )
        key_file = exported.pop("AZBATCH_DIGEST_KEY_FILE")  # for `azbatch-operator run`, made once
        assert Path(key_file) == tmp_path / "digest.key"
        assert Path(key_file).stat().st_mode & 0o777 == 0o600 and len(Path(key_file).read_bytes()) >= 32
        again = subprocess.run(
            [sys.executable, "-m", "azbatch_emulator", "env", "--state-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert again.stdout == result.stdout, "the same key (and everything else) every time"
        assert exported == environment(process.info)
        assert set(exported) == {
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_AUTHORITY_HOST",
            "AZURE_RESOURCE_MANAGER_ENDPOINT",
            "AZURE_RESOURCE_MANAGER_AUDIENCE",
            "SSL_CERT_FILE",
            "REQUESTS_CA_BUNDLE",
        }
        assert exported["AZURE_RESOURCE_MANAGER_AUDIENCE"] == "https://management.azure.com/"
    missing = subprocess.run(
        [sys.executable, "-m", "azbatch_emulator", "env", "--state-dir", str(tmp_path), "--wait", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1
    assert "azbatch-emulator serve" in missing.stderr


def test_env_waits_for_an_emulator_still_starting(tmp_path: Path) -> None:
    """`azbatch-emulator serve &` then at once `eval "$(azbatch-emulator env)"`, as the README writes."""
    serve = subprocess.Popen(
        [sys.executable, "-m", "azbatch_emulator", "serve", "--quiet", "--state-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        env = subprocess.run(
            [sys.executable, "-m", "azbatch_emulator", "env", "--state-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert env.returncode == 0, env.stderr
        assert "export AZURE_RESOURCE_MANAGER_ENDPOINT=" in env.stdout
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_request_log_never_carries_secrets(tmp_path: Path) -> None:
    with EmulatorProcess(state_dir=tmp_path) as process:
        info = process.info
        client = sync_client(info)
        body = {
            **BODY,
            "properties": {**BODY["properties"], "userAccounts": [{"name": "u", "password": "pw-SECRET"}]},
        }
        client.pool.create(info["resource_group"], info["account_name"], "logged", body)
        client.pool.begin_delete(info["resource_group"], info["account_name"], "logged").result()  # sync LRO
        with pytest.raises(ResourceNotFoundError):
            client.pool.get(info["resource_group"], info["account_name"], "logged")
    log = (tmp_path / "emulator.log").read_text()
    assert "PUT /subscriptions/" in log
    for secret in (info["client_secret"], "pw-SECRET", "Bearer", "eyJ"):
        assert secret not in log
    assert "pw-SECRET" not in "".join(p.read_text() for p in (tmp_path / "pools").glob("*.json"))


CLIENT_FROM_ENVIRONMENT = """
import asyncio, os, sys
from azure.identity import ClientSecretCredential as SyncCredential
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.batch import BatchManagementClient as SyncClient
from azure.mgmt.batch.aio import BatchManagementClient

def kwargs():
    return dict(authority=os.environ["AZURE_AUTHORITY_HOST"], disable_instance_discovery=True)

def args():
    return os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"]

scope = os.environ["AZURE_RESOURCE_MANAGER_AUDIENCE"] + ".default"
base = os.environ["AZURE_RESOURCE_MANAGER_ENDPOINT"]
sub, rg, account = sys.argv[1:4]

async def main():
    async with ClientSecretCredential(*args(), **kwargs()) as cred:
        async with BatchManagementClient(cred, sub, base_url=base, credential_scopes=[scope]) as client:
            print((await client.batch_account.get(rg, account)).name)

asyncio.run(main())
sync = SyncClient(SyncCredential(*args(), **kwargs()), sub, base_url=base, credential_scopes=[scope])
print(sync.batch_account.get(rg, account).name)
"""


def test_clients_configured_only_by_the_env_output_work(tmp_path: Path) -> None:
    """`eval "$(azbatch-emulator env)"` is all a client needs: no connection_verify, no special code."""
    with EmulatorProcess(state_dir=tmp_path) as process:
        info = process.info
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "SSL_", "REQUESTS_"))}
        env.update(environment(info))
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                CLIENT_FROM_ENVIRONMENT,
                info["subscription_id"],
                info["resource_group"],
                info["account_name"],
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [info["account_name"], info["account_name"]]
