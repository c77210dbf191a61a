"""Manifests, conditions and Azure reads shared by the operator tests (a module of its own: a test
importing `conftest` may get another folder's conftest when both are collected)."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.batch import BatchManagementClient

from azbatch_emulator.sdk import secret_credential
from azbatch_operator.sandbox import Sandbox

FAST = {"time_scale": 300.0, "resync_interval": 2.0, "health_interval": 0.5, "active_requeue": 0.2}


def pool_id(sandbox: Sandbox, name: str) -> str:
    return f"{sandbox.info['account_id']}/pools/{name}"


def azure_pool(sandbox: Sandbox, name: str) -> dict[str, Any] | None:
    """The pool as the Azure portal would show it: read with the unmodified SDK and real tokens."""
    info = sandbox.info
    credential = secret_credential(info)
    client = BatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        connection_verify=info["ca_bundle"],
    )
    try:
        return dict(client.pool.get(info["resource_group"], info["account_name"], name).as_dict())
    except ResourceNotFoundError:
        return None
    finally:
        client.close()
