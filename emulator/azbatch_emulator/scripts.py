"""Scripted outcomes set through the admin API: extension and start-task failures, slow allocation."""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from typing import Any, Literal

from azbatch_emulator.errors import ServiceError

ScriptKind = Literal["extension", "start_task", "unusable", "allocation"]


@dataclass
class Script:
    """One scripted outcome.

    - `extension`: the extension whose name or type equals `extension` fails on the first
      `fail_nodes` nodes of every matching pool (-1: all), with `code` and `message` in its
      instance view, after `provisioning_seconds` more than a normal provisioning (e.g. 1200 to
      act out the 20-minute extension timeout: transitioning all that time).
    - `start_task`: the start task fails on the first `fail_nodes` nodes with `exit_code`.
    - `unusable`: the first `fail_nodes` nodes turn `unusable` once up, their node error carrying
      `code` (default `NodeUnusable`) and `message` (a hardware or agent failure).
    - `allocation`: resizes of matching pools take `allocation_seconds` (simulated) to complete.
    """

    kind: ScriptKind
    pool: str = "*"
    extension: str | None = None
    fail_nodes: int = -1
    code: str | None = None
    """Defaults: `ProvisioningState/failed/0` for extensions, `FailureExitCode` for start tasks."""
    message: str = "Scripted failure"
    exit_code: int = 1
    allocation_seconds: float | None = None
    provisioning_seconds: float = 0.0

    @property
    def failure_code(self) -> str:
        if self.code:
            return self.code
        defaults = {"start_task": "FailureExitCode", "unusable": "NodeUnusable"}
        return defaults.get(self.kind, "ProvisioningState/failed/0")

    def matches_pool(self, pool_name: str) -> bool:
        return fnmatch.fnmatchcase(pool_name.lower(), self.pool.lower())

    def fails(self, ordinal: int) -> bool:
        return self.fail_nodes < 0 or ordinal < self.fail_nodes

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_script(data: Any) -> Script:
    if not isinstance(data, dict):
        raise ServiceError(400, "InvalidRequestBody", "A script is a JSON object with at least 'kind'.")
    kind = data.get("kind")
    if kind not in ("extension", "start_task", "unusable", "allocation"):
        raise ServiceError(
            400,
            "InvalidRequestBody",
            "'kind' must be 'extension', 'start_task', 'unusable' or 'allocation'.",
        )
    if kind == "extension" and not data.get("extension"):
        raise ServiceError(400, "InvalidRequestBody", "An extension script needs 'extension' (name or type).")
    if kind == "allocation" and not isinstance(data.get("allocation_seconds"), int | float):
        raise ServiceError(400, "InvalidRequestBody", "An allocation script needs 'allocation_seconds'.")
    known = set(Script.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ServiceError(
            400, "InvalidRequestBody", f"Unknown script fields {sorted(unknown)}; known: {sorted(known)}."
        )
    try:
        return Script(**data)
    except TypeError as exc:
        raise ServiceError(400, "InvalidRequestBody", str(exc)) from exc
