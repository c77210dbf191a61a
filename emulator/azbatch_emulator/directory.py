"""The subscriptions and resource groups the emulator knows: those that hold an account (the
pre-created account's always), as ARM's Microsoft.Resources reads and the account lists see them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from azbatch_emulator.errors import ServiceError
from azbatch_emulator.settings import DEFAULT_LOCATION

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator


def subscription_ids(emu: Emulator) -> list[str]:
    ids = {emu.identity.subscription_id.lower(): emu.identity.subscription_id}
    for account in emu.store.accounts.values():
        ids.setdefault(account.subscription_id.lower(), account.subscription_id)
    return sorted(ids.values(), key=str.lower)


def resource_groups(emu: Emulator, subscription: str) -> list[tuple[str, str]]:
    """(name, location) of the resource groups of a subscription, by name."""
    found: dict[str, tuple[str, str]] = {}
    ident = emu.identity
    if ident.subscription_id.lower() == subscription.lower():
        found[ident.resource_group.lower()] = (ident.resource_group, DEFAULT_LOCATION)
    for account in emu.store.accounts.values():
        if account.subscription_id.lower() == subscription.lower():
            found.setdefault(account.resource_group.lower(), (account.resource_group, account.location))
    return sorted(found.values(), key=lambda g: g[0].lower())


def subscription(emu: Emulator, wanted: str) -> str:
    """The subscription id as registered, or 404 SubscriptionNotFound."""
    for sub in subscription_ids(emu):
        if sub.lower() == wanted.lower():
            return sub
    raise ServiceError(404, "SubscriptionNotFound", f"The subscription '{wanted}' could not be found.")


def resource_group(emu: Emulator, sub: str, wanted: str) -> tuple[str, str]:
    """(name, location) of a resource group, or 404 ResourceGroupNotFound."""
    for name, location in resource_groups(emu, sub):
        if name.lower() == wanted.lower():
            return name, location
    raise ServiceError(404, "ResourceGroupNotFound", f"Resource group '{wanted}' could not be found.")
