"""Identities and names of one emulator instance, kept in the state dir across restarts."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_RESOURCE_GROUP = "azbatch-emulator"
DEFAULT_ACCOUNT = "emulatoracct"
DEFAULT_LOCATION = "eastus"
DEFAULT_FEDERATED_SUBJECT = "system:serviceaccount:azbatch-system:azbatch-operator"


@dataclass(frozen=True)
class Identity:
    tenant_id: str
    client_id: str
    client_secret: str
    subscription_id: str
    resource_group: str = DEFAULT_RESOURCE_GROUP
    account_name: str = DEFAULT_ACCOUNT

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Identity:
        path = state_dir / "identity.json"
        if path.exists():
            return cls(**json.loads(path.read_text()))
        identity = cls(
            tenant_id=str(uuid.uuid4()),
            client_id=str(uuid.uuid4()),
            client_secret=secrets.token_urlsafe(24),
            subscription_id=str(uuid.uuid4()),
        )
        path.touch(mode=0o600)
        path.write_text(json.dumps(asdict(identity)))
        return identity


def default_state_dir() -> Path:
    """`$XDG_STATE_HOME/azbatch-emulator`, else `~/.local/state/azbatch-emulator`."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "azbatch-emulator"
