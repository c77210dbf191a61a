"""A pool under a subscription, resource group or Batch account that does not exist: ARM's 404 for
the first missing part of the id, so a client can tell which one is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.identity.aio import ClientSecretCredential
from emulator_helpers import management_client, small_pool

from azbatch_emulator.admin import AdminClient

NO_SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize(
    ("where", "code", "message"),
    [
        ("subscription", "SubscriptionNotFound", f"The subscription '{NO_SUBSCRIPTION}' could not be found."),
        ("group", "ResourceGroupNotFound", "Resource group 'no-such-rg' could not be found."),
        (
            "account",
            "ResourceNotFound",
            "The Resource 'Microsoft.Batch/batchAccounts/nosuchacct' under resource group "
            "'azbatch-emulator' was not found.",
        ),
    ],
)
async def test_a_missing_parent_is_named_by_its_404(
    info: dict[str, Any],
    admin: AdminClient,  # a fresh state
    credential: ClientSecretCredential,
    where: str,
    code: str,
    message: str,
) -> None:
    subscription = NO_SUBSCRIPTION if where == "subscription" else info["subscription_id"]
    group = "no-such-rg" if where == "group" else info["resource_group"]
    account = "nosuchacct" if where == "account" else info["account_name"]
    async with management_client({**info, "subscription_id": subscription}, credential) as mgmt:
        for call in (
            mgmt.pool.get(group, account, "p"),
            mgmt.pool.create(group, account, "p", small_pool(nodes=1)),
            mgmt.pool.update(group, account, "p", {"properties": {"metadata": []}}),
        ):
            with pytest.raises(ResourceNotFoundError) as caught:
                await call
            assert caught.value.status_code == 404
            assert caught.value.error is not None
            assert caught.value.error.code == code
            assert caught.value.error.message.startswith(message)  # then RequestId and Time, as Azure's
        with pytest.raises(ResourceNotFoundError) as listed:
            [pool async for pool in mgmt.pool.list_by_batch_account(group, account)]
        assert listed.value.error is not None and listed.value.error.code == code
