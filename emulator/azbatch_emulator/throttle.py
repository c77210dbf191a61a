"""Azure Resource Manager's request throttle: token buckets per subscription, principal and kind.

ARM's current (regional) throttling, as "Understand how Azure Resource Manager throttles requests"
describes it: every request that names a subscription takes one token from the bucket of its kind
(reads, writes or deletes) for that subscription and the calling principal, and one from the
subscription's global bucket of that kind (15 times the per-principal limits, shared by all
principals). A bucket refills continuously at its rate up to its size; a request that finds less
than one whole token in either bucket is refused (429) and takes nothing. docs/emulator.md ("ARM
request throttling") says which document says what and what the emulator chose where they are
silent.

Nothing here knows HTTP or clocks: callers pass the instant (emulator seconds, `SimClock.now()`),
so the emulator's speed-up shortens refills like every other duration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

KINDS = ("reads", "writes", "deletes")
GLOBAL_FACTOR = 15
"""The subscription's global limits are this many times the per-principal limits."""
THROTTLED_CODE = "SubscriptionRequestsThrottled"
HEADER_PREFIX = "x-ms-ratelimit-remaining-subscription-"
_PRUNE_AT = 10_000
"""Bucket count above which full buckets are dropped (a full bucket is the same as a new one)."""
_OPERATION = {"reads": "read", "writes": "write", "deletes": "delete"}
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True)
class Limit:
    """A token bucket's size (whole requests) and refill rate (tokens per emulator second)."""

    bucket: int
    refill_per_second: float

    def __post_init__(self) -> None:
        if isinstance(self.bucket, bool) or not isinstance(self.bucket, int) or self.bucket < 1:
            raise ValueError(f"a bucket holds a whole number of requests >= 1, not {self.bucket!r}")
        rate = self.refill_per_second
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not (0 < rate < math.inf):
            raise ValueError(f"the refill rate is a number of tokens per second > 0, not {rate!r}")

    def times(self, factor: int) -> Limit:
        return Limit(self.bucket * factor, float(self.refill_per_second) * factor)

    def to_json(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "refill_per_second": float(self.refill_per_second)}


DEFAULT_LIMITS: Mapping[str, Limit] = {
    "reads": Limit(250, 25.0),
    "writes": Limit(200, 10.0),
    "deletes": Limit(200, 10.0),
}


@dataclass(frozen=True)
class ThrottleSettings:
    """On or off, and the per-principal limits of each kind (the documented ones by default)."""

    enabled: bool = True
    reads: Limit = DEFAULT_LIMITS["reads"]
    writes: Limit = DEFAULT_LIMITS["writes"]
    deletes: Limit = DEFAULT_LIMITS["deletes"]

    def limit(self, kind: str) -> Limit:
        limit: Limit = getattr(self, kind)
        return limit

    def with_limits(self, *, enabled: bool, limits: Mapping[str, Limit | None]) -> ThrottleSettings:
        """These settings with `enabled` and the limits given (None keeps a kind's limit)."""
        changes: dict[str, Any] = {k: v for k, v in limits.items() if v is not None}
        unknown = set(changes) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; the kinds are {', '.join(KINDS)}")
        return replace(self, enabled=enabled, **changes)

    def limits_json(self) -> dict[str, dict[str, Any]]:
        return {kind: self.limit(kind).to_json() for kind in KINDS}


OFF = ThrottleSettings(enabled=False)


def parse_settings(text: str) -> ThrottleSettings:
    """`serve --arm-throttle`: `on` (the documented limits), `off`, or `KIND=BUCKET/REFILL` pairs
    joined by commas (`reads=50/5,writes=20/1`; kinds not named keep the documented limits)."""
    value = text.strip().lower()
    if value in ("on", "default"):
        return ThrottleSettings()
    if value == "off":
        return OFF
    limits: dict[str, Limit | None] = {}
    for part in value.split(","):
        kind, equals, spec = part.strip().partition("=")
        bucket, slash, refill = spec.partition("/")
        if kind not in KINDS or not equals or not slash:
            raise ValueError(
                f"{text!r}: give on, off, or KIND=BUCKET/REFILL pairs joined by commas (KIND one of "
                f"{', '.join(KINDS)}; REFILL tokens per second), e.g. reads=250/25,writes=200/10"
            )
        try:
            limits[kind] = Limit(int(bucket), float(refill))
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from None
    return ThrottleSettings().with_limits(enabled=True, limits=limits)


def kind_of(method: str) -> str:
    """Reads are GET and HEAD, deletes DELETE, writes everything else (PUT, PATCH, POST)."""
    verb = method.upper()
    if verb in ("GET", "HEAD", "OPTIONS"):
        return "reads"
    if verb == "DELETE":
        return "deletes"
    return "writes"


def subscription_of(path: str) -> str | None:
    """The subscription a management path names (`/subscriptions/{id}/...`), in lower case; None for
    tenant-level paths (`/subscriptions`, `/tenants`, `/providers/...`, `/metadata/...`)."""
    segments = _SLASHES.sub("/", path).strip("/").split("/")
    if len(segments) >= 2 and segments[0].lower() == "subscriptions" and segments[1]:
        return segments[1].lower()
    return None


class TokenBucket:
    """`level` tokens (a float: refills accrue continuously), brought up to date by `refill(now)`."""

    __slots__ = ("at", "level", "limit")

    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.level = float(limit.bucket)
        self.at = now

    def refill(self, now: float) -> None:
        if now > self.at:
            self.level = min(
                float(self.limit.bucket), self.level + (now - self.at) * self.limit.refill_per_second
            )
            self.at = now

    @property
    def remaining(self) -> int:
        """Whole requests the bucket still allows (what the remaining-requests headers say)."""
        return math.floor(self.level + 1e-9)

    @property
    def full(self) -> bool:
        return self.level >= self.limit.bucket

    def wait(self) -> float:
        """Emulator seconds until the bucket holds a whole token again (0 if it does)."""
        if self.remaining >= 1:
            return 0.0
        return (1.0 - self.level) / self.limit.refill_per_second


@dataclass(frozen=True)
class Decision:
    """What one request was answered: allowed or not, and what each of its buckets has left."""

    allowed: bool
    kind: str
    subscription: str
    remaining: int
    """The principal's bucket of this kind after the request (header `...-subscription-<kind>`)."""
    global_remaining: int
    """The subscription's global bucket (header `...-subscription-global-<kind>`)."""
    wait: float = 0.0
    """Refused: emulator seconds until both buckets hold a token again."""
    global_limit_hit: bool = False
    """Refused by the global bucket while the principal's own bucket still had a token."""

    def headers(self) -> dict[str, str]:
        return {
            f"{HEADER_PREFIX}{self.kind}": str(self.remaining),
            f"{HEADER_PREFIX}global-{self.kind}": str(self.global_remaining),
        }

    def retry_after(self, time_scale: float) -> int:
        """`Retry-After` in whole wall-clock seconds, at least 1: the wait over the time scale, rounded up."""
        return max(1, math.ceil(self.wait / time_scale - 1e-9))

    def message(self, actor: str, retry_after: int) -> str:
        operation = _OPERATION[self.kind]
        who = "all principals together" if self.global_limit_hit else f"actor '{actor}'"
        return (
            f"Number of '{operation}' requests for subscription '{self.subscription}' {who} exceeded. "
            f"Please try again after '{retry_after}' seconds after additional tokens are available. "
            "Refer to https://aka.ms/arm-throttling for additional information."
        )


@dataclass
class KindStats:
    allowed: int = 0
    throttled: int = 0
    min_remaining: int | None = None

    def record(self, decision: Decision) -> None:
        if decision.allowed:
            self.allowed += 1
        else:
            self.throttled += 1
        if self.min_remaining is None or decision.remaining < self.min_remaining:
            self.min_remaining = decision.remaining


@dataclass
class ArmThrottle:
    """The buckets and the statistics since the last `reset_stats()`; `check` answers one request."""

    settings: ThrottleSettings = field(default_factory=ThrottleSettings)
    _principal: dict[tuple[str, str, str], TokenBucket] = field(default_factory=dict, repr=False)
    _global: dict[tuple[str, str], TokenBucket] = field(default_factory=dict, repr=False)
    _stats: dict[str, dict[str, KindStats]] = field(default_factory=dict, repr=False)

    def configure(self, settings: ThrottleSettings) -> None:
        """New settings; every bucket starts full again (statistics are kept)."""
        self.settings = settings
        self._principal.clear()
        self._global.clear()

    def reset_stats(self) -> None:
        self._stats.clear()

    def check(self, subscription: str, principal: str, method: str, now: float) -> Decision | None:
        """Take a token for this request, or refuse it without taking any; None while turned off."""
        if not self.settings.enabled:
            return None
        kind = kind_of(method)
        subscription = subscription.lower()
        limit = self.settings.limit(kind)
        own = self._bucket(self._principal, (subscription, principal, kind), limit, now)
        shared = self._bucket(self._global, (subscription, kind), limit.times(GLOBAL_FACTOR), now)
        allowed = own.remaining >= 1 and shared.remaining >= 1
        if allowed:
            own.level = max(own.level - 1.0, 0.0)
            shared.level = max(shared.level - 1.0, 0.0)
        decision = Decision(
            allowed=allowed,
            kind=kind,
            subscription=subscription,
            remaining=own.remaining,
            global_remaining=shared.remaining,
            wait=0.0 if allowed else max(own.wait(), shared.wait()),
            global_limit_hit=not allowed and own.remaining >= 1,
        )
        self._stats.setdefault(subscription, {}).setdefault(kind, KindStats()).record(decision)
        return decision

    def _bucket(self, buckets: dict[Any, TokenBucket], key: Any, limit: Limit, now: float) -> TokenBucket:
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= _PRUNE_AT:
                self._prune(buckets, now)
            bucket = buckets[key] = TokenBucket(limit, now)
        bucket.refill(now)
        return bucket

    @staticmethod
    def _prune(buckets: dict[Any, TokenBucket], now: float) -> None:
        for key, bucket in list(buckets.items()):
            bucket.refill(now)
            if bucket.full:
                del buckets[key]

    def snapshot(self, now: float) -> dict[str, Any]:
        """The admin API's document: settings, and per subscription and kind what was allowed,
        throttled and the least headroom left since the last statistics reset."""
        subscriptions: dict[str, Any] = {}
        for subscription, kinds in self._stats.items():
            subscriptions[subscription] = {
                kind: self._kind_json(subscription, kind, kinds.get(kind), now) for kind in KINDS
            }
        return {
            "enabled": self.settings.enabled,
            "limits": self.settings.limits_json(),
            "subscriptions": subscriptions,
        }

    def _kind_json(self, subscription: str, kind: str, stats: KindStats | None, now: float) -> dict[str, int]:
        stats = stats or KindStats()
        lowest = stats.min_remaining
        if lowest is None:  # no request of this kind since the reset: what its buckets hold now
            levels = []
            for (sub, _, k), bucket in self._principal.items():
                if sub == subscription and k == kind:
                    bucket.refill(now)
                    levels.append(bucket.remaining)
            lowest = min(levels, default=self.settings.limit(kind).bucket)
        return {"allowed": stats.allowed, "throttled": stats.throttled, "min_remaining": lowest}
