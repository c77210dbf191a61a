"""Helpers for the emulator's integration tests (imported by name; fixtures live in conftest.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken
from azure.mgmt.batch.aio import BatchManagementClient

from azbatch_emulator.admin import AdminClient

# Copies in the repository of public wire examples (azure-rest-api-specs, MIT) and of seed 001's
# request bodies ("Use extensions with Batch pools"); the unit tests read the same files.
TESTS = Path(__file__).resolve().parents[2]
EXAMPLES = TESTS / "unit" / "rendering" / "fixtures"
SEED_BODIES = TESTS / "unit" / "models" / "fixtures"


def management_client(info: dict[str, Any], credential: Any, **kwargs: Any) -> BatchManagementClient:
    kwargs.setdefault("credential_scopes", [info["management_scope"]])
    return BatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        connection_verify=info["ca_cert"],
        **kwargs,
    )


class StaticToken:
    """An async credential that always presents the same token (to send a crafted one)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> StaticToken:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def small_pool(
    *, nodes: int = 2, extensions: list[dict[str, Any]] | None = None, **properties: Any
) -> dict[str, Any]:
    vmc: dict[str, Any] = {
        "imageReference": {
            "publisher": "Canonical",
            "offer": "ubuntu-24_04-lts",
            "sku": "server",
            "version": "latest",
        },
        "nodeAgentSkuId": "batch.node.ubuntu 24.04",
    }
    if extensions:
        vmc["extensions"] = extensions
    return {
        "properties": {
            "vmSize": "STANDARD_D2S_V3",
            "deploymentConfiguration": {"virtualMachineConfiguration": vmc},
            "scaleSettings": {"fixedScale": {"targetDedicatedNodes": nodes, "targetLowPriorityNodes": 0}},
            **properties,
        }
    }


def key_vault_extension(*, require_initial_sync: bool = True) -> dict[str, Any]:
    return {
        "name": "secretext",
        "type": "KeyVaultForLinux",
        "publisher": "Microsoft.Azure.KeyVault",
        "typeHandlerVersion": "3.0",
        "autoUpgradeMinorVersion": True,
        "settings": {
            "secretsManagementSettings": {
                "pollingIntervalInS": "300",
                "requireInitialSync": require_initial_sync,
                "observedCertificates": ["https://kv.vault.azure.net/secrets/cert"],
            }
        },
        "protectedSettings": {"secret": "do-not-return"},
    }


def wait_until_steady(admin: AdminClient, seconds: float = 3600.0) -> None:
    """Jump the simulated clock far enough for every resize and provisioning step to finish."""
    admin.advance_clock(seconds)
