"""Lists in pages, as the API server serves them: ``limit`` and ``continue``.

A list asked with ``limit`` gets at most that many items, in key order (namespace, then name), and
when more remain a ``metadata.continue`` token. The token carries the first page's resourceVersion
and the last key served, so every later page shows the collection as it was when the first page
was served (one consistent snapshot, as etcd serves it), and ``remainingItemCount`` says how many
are left (only when no selector filters the list, as the API server does). A token the server
cannot read is a 400; one whose snapshot etcd has compacted away is a 410 Expired, and the client
lists again.

The token's shape is the API server's: URL-safe base64, without padding, of
``{"v": "meta.k8s.io/v1", "rv": <resourceVersion>, "start": "<namespace>/<name>\\u0000"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from azbatch_kubemock import errors

TOKEN_VERSION = "meta.k8s.io/v1"

Key = tuple[str, str]  # (namespace or "", name): the order of the API server's keys


def key_of(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return (meta.get("namespace") or "", meta["name"])


@dataclass(frozen=True)
class Continue:
    resource_version: int
    after: Key  # the last key served: the next page starts after it


def encode(resource_version: int, last: Key) -> str:
    namespace, name = last
    start = f"{namespace}/{name}\x00" if namespace else f"{name}\x00"
    document = json.dumps({"v": TOKEN_VERSION, "rv": resource_version, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def decode(token: str) -> Continue:
    """The token's snapshot and position; a 400 naming the fault when it is not one of ours."""
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        version, resource_version, start = document["v"], document["rv"], document["start"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc
    if version != TOKEN_VERSION:
        raise errors.bad_request(
            f"continue key is not valid: server does not recognize this version: {version}"
        )
    if not isinstance(resource_version, int) or resource_version <= 0:
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        )
    if not isinstance(start, str) or not start.endswith("\x00"):
        raise errors.bad_request("continue key is not valid: encoded start key is malformed")
    namespace, _, name = start[:-1].rpartition("/")
    return Continue(resource_version, (namespace, name))


def limit_of(raw: str | None) -> int | None:
    """The page size asked for (None or 0: everything, as the API server reads them)."""
    if raw in (None, ""):
        return None
    try:
        limit = int(raw)
    except ValueError as exc:
        raise errors.bad_request(f"invalid limit: {raw!r}") from exc
    return limit if limit > 0 else None


def expired() -> errors.ApiError:
    return errors.ApiError(
        status=410,
        reason="Expired",
        message=(
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter."
        ),
    )


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    token: str  # "" on the last page
    remaining: int  # items after this page


def page_of(items: Sequence[dict[str, Any]], limit: int | None, resource_version: int) -> Page:
    """The first `limit` of `items` (already in key order and filtered), and where the next starts."""
    if limit is None or len(items) <= limit:
        return Page(list(items), "", 0)
    served = list(items[:limit])
    return Page(served, encode(resource_version, key_of(served[-1])), len(items) - limit)


@dataclass
class Snapshots:
    """The collections that paged lists began on, by (resource, namespace, resourceVersion), kept
    as long as etcd would keep their revision; older ones are gone, and their tokens answer 410."""

    valid_for: Callable[[], float]  # seconds, read at every use (a test can shorten it)
    clock: Callable[[], float] = time.monotonic
    _kept: dict[tuple[Any, str | None, int], tuple[float, list[dict[str, Any]]]] = field(default_factory=dict)

    def keep(
        self, resource: Any, namespace: str | None, resource_version: int, items: list[dict[str, Any]]
    ) -> None:
        self._forget_old()
        self._kept.setdefault((resource, namespace, resource_version), (self.clock(), items))

    def read(self, resource: Any, namespace: str | None, resource_version: int) -> list[dict[str, Any]]:
        self._forget_old()
        kept = self._kept.get((resource, namespace, resource_version))
        if kept is None:
            raise expired()
        return kept[1]

    def _forget_old(self) -> None:
        oldest = self.clock() - self.valid_for()
        for key in [key for key, (taken, _) in self._kept.items() if taken < oldest]:
            del self._kept[key]
