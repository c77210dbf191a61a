"""Fault injection and call counters, per route name and HTTP method.

Route names are stable identifiers such as `mgmt.pool` or `batch.nodes` (see docs/emulator.md).
"""

from __future__ import annotations

import fnmatch
import itertools
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from azbatch_emulator.errors import ServiceError

WRITE_METHODS = frozenset({"PUT", "PATCH", "DELETE", "POST"})
_ids = itertools.count(1)


@dataclass
class Fault:
    """Answer matching requests with `status` (or drop the connection), after `latency` seconds.

    `route` and `method` are shell-style patterns (`mgmt.*`, `*`); `pool` narrows to one pool name,
    `node` to one compute node id (data-plane node routes, e.g. `batch.nodeExtensions`).
    `count` limits how many requests are hit (None: unlimited); `probability` hits at random.
    `status` 0 with `latency` > 0 only delays the request.
    """

    route: str = "*"
    method: str = "*"
    status: int = 500
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    count: int | None = None
    probability: float = 1.0
    latency: float = 0.0
    drop_connection: bool = False
    pool: str | None = None
    node: str | None = None
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def matches(
        self, route: str, method: str, pool: str | None, rng: random.Random, node: str | None = None
    ) -> bool:
        if self.count is not None and self.hits >= self.count:
            return False
        if not fnmatch.fnmatchcase(route, self.route) or not fnmatch.fnmatchcase(method, self.method.upper()):
            return False
        if self.pool is not None and (pool or "").lower() != self.pool.lower():
            return False
        if self.node is not None and (node or "").lower() != self.node.lower():
            return False
        return self.probability >= 1.0 or rng.random() < self.probability

    def error(self) -> ServiceError:
        default_code = {429: "TooManyRequests", 500: "InternalServerError", 503: "ServerBusy"}.get(
            self.status, "InjectedFault"
        )
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return ServiceError(
            self.status,
            self.code or default_code,
            self.message or f"Injected fault {self.id} (status {self.status}).",
            headers=headers,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(data: Any) -> Fault:
    if not isinstance(data, dict):
        raise ServiceError(
            400, "InvalidRequestBody", "A fault is a JSON object, e.g. {'route': 'mgmt.pool', 'status': 429}."
        )
    known = set(Fault.__dataclass_fields__) - {"id", "hits"}
    unknown = set(data) - known
    if unknown:
        raise ServiceError(
            400, "InvalidRequestBody", f"Unknown fault fields {sorted(unknown)}; known: {sorted(known)}."
        )
    try:
        fault = Fault(**data)
    except TypeError as exc:
        raise ServiceError(400, "InvalidRequestBody", str(exc)) from exc
    if not 0.0 <= fault.probability <= 1.0:
        raise ServiceError(400, "InvalidRequestBody", "'probability' must be between 0 and 1.")
    if fault.status and not 400 <= fault.status <= 599 and not fault.drop_connection:
        raise ServiceError(
            400,
            "InvalidRequestBody",
            "'status' must be an HTTP error status (400-599), or 0 for latency only.",
        )
    return fault


class FaultBook:
    def __init__(self, seed: int | None = None) -> None:
        self.faults: list[Fault] = []
        self._rng = random.Random(seed)  # noqa: S311  (fault sampling, not security)

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def match(self, route: str, method: str, pool: str | None, node: str | None = None) -> Fault | None:
        if not self.faults:
            return None
        for fault in self.faults:
            if fault.matches(route, method, pool, self._rng, node):
                fault.hits += 1
                return fault
        return None


class CallCounters:
    """Requests seen, keyed `"<METHOD> <route>"` (e.g. `"PUT mgmt.pool"`), and, among them, those
    answered with a status worth telling apart, keyed `"<status> <METHOD> <route>"` (`"429 GET mgmt.pool"`:
    throttled by ARM's buckets or by an injected fault)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def record(self, route: str, method: str) -> None:
        self.counts[f"{method} {route}"] += 1

    def record_status(self, route: str, method: str, status: int) -> None:
        self.counts[f"{status} {method} {route}"] += 1

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)

    def reset(self) -> None:
        self.counts.clear()


def management_writes(counts: dict[str, int]) -> int:
    """PUT/PATCH/DELETE/POST calls on management routes: "zero writes to Azure" means this is 0."""
    total = 0
    for key, value in counts.items():
        method, _, route = key.partition(" ")
        if method in WRITE_METHODS and route.startswith("mgmt."):
            total += value
    return total
