"""Which namespaces may target which Batch accounts (pure): the operator-level allowlist."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ANY_NAMESPACE = "*"


def account_allowed(namespace: str, account_id: str, allowlist: Mapping[str, Sequence[str]] | None) -> bool:
    """No allowlist: every account. Otherwise the namespace's own entries plus the `*` entries.

    ARM ids compare case-insensitively, as ARM treats them.
    """
    if allowlist is None:
        return True
    allowed = [*allowlist.get(namespace, ()), *allowlist.get(ANY_NAMESPACE, ())]
    wanted = account_id.rstrip("/").lower()
    return any(entry == ANY_NAMESPACE or entry.rstrip("/").lower() == wanted for entry in allowed)


def not_allowed_message(namespace: str, account_id: str) -> str:
    return (
        f"Namespace {namespace!r} may not manage pools in Batch account {account_id}. Ask the operator's"
        " administrators to add it to accountAllowlist for this namespace, or use an allowed account."
    )
