"""Identities and names of one emulator instance, kept in the state dir across restarts."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

# The pre-created Batch account: the one every manifest in examples/ names (a test keeps them equal),
# so `kubectl apply -f examples/...` against the emulator needs no edit. The same in every state dir.
DEFAULT_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "azbatch-emulator"
DEFAULT_ACCOUNT = "emulatoracct"
DEFAULT_LOCATION = "eastus"
DEFAULT_FEDERATED_SUBJECT = "system:serviceaccount:azbatch-system:azbatch-operator"


@dataclass(frozen=True)
class Identity:
    tenant_id: str
    client_id: str
    client_secret: str
    subscription_id: str = DEFAULT_SUBSCRIPTION_ID
    resource_group: str = DEFAULT_RESOURCE_GROUP
    account_name: str = DEFAULT_ACCOUNT

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Identity:
        """The tenant and client are random per state dir; the account is always the examples' one.

        A state dir written before the account was fixed (a random subscription) is brought in line; its
        old account stays in the store until `azbatch-emulator serve --reset`.
        """
        path = state_dir / "identity.json"
        account = {
            "subscription_id": DEFAULT_SUBSCRIPTION_ID,
            "resource_group": DEFAULT_RESOURCE_GROUP,
            "account_name": DEFAULT_ACCOUNT,
        }
        if path.exists():
            saved = json.loads(path.read_text())
            identity = cls(**{**saved, **account})
            if saved == asdict(identity):
                return identity
        else:
            identity = cls(
                tenant_id=str(uuid.uuid4()),
                client_id=str(uuid.uuid4()),
                client_secret=secrets.token_urlsafe(24),
            )
        path.touch(mode=0o600)
        path.write_text(json.dumps(asdict(identity)))
        return identity


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/azbatch-emulator`, else `~/.local/state/azbatch-emulator`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "azbatch-emulator"
