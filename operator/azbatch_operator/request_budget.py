"""ARM's request throttle, kept on the operator's side (pure): a token bucket per subscription and
kind of request, spent before a request is sent.

Azure Resource Manager throttles each subscription with token buckets: reads, writes and deletes
each have a bucket that holds a number of requests and refills at a steady rate (250 reads refilled
25 a second, 200 writes and 200 deletes refilled 10 a second; docs/architecture.md, "ARM's
throttle"). A request that finds its bucket empty gets 429 and must wait. Ten thousand BatchPools
starting together would ask for ten thousand PUTs at once; answered by 429s, the retries spend the
same budget again and every pool of the subscription (other tools' too) stalls behind them.

So the operator keeps its own buckets, smaller and slower than ARM's (`armRequestBudget`, by default
80% of them), and a request waits here for its token first. A waiting request reserves its token:
the bucket goes below zero, and the next request waits behind it, so callers are served in order
and the rate leaving the operator never exceeds `burst + perSecond * t` over any `t` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

KINDS: Final = ("reads", "writes", "deletes")


def kind_of(method: str) -> str:
    """ARM's classes of request: GET and HEAD read, DELETE deletes, everything else writes."""
    verb = method.upper()
    if verb in ("GET", "HEAD"):
        return "reads"
    if verb == "DELETE":
        return "deletes"
    return "writes"


@dataclass(frozen=True)
class Rate:
    burst: int  # requests the bucket holds (sent at once after a quiet spell)
    per_second: float  # requests it refills each second

    def __post_init__(self) -> None:
        if self.burst < 1 or not self.per_second > 0:
            raise ValueError(f"a request budget needs a burst of 1 or more and a positive rate, not {self}")


@dataclass(frozen=True)
class BudgetLimits:
    """Per subscription. The defaults are 80% of ARM's documented buckets: headroom for the other
    clients of the subscription (the portal, the CLI, Terraform) and for the operator's retries."""

    reads: Rate = field(default_factory=lambda: Rate(200, 20.0))
    writes: Rate = field(default_factory=lambda: Rate(160, 8.0))
    deletes: Rate = field(default_factory=lambda: Rate(160, 8.0))

    def of(self, kind: str) -> Rate:
        rate: Rate = getattr(self, kind)
        return rate

    def sped_up(self, factor: float) -> BudgetLimits:
        """The same budget for a world whose clock runs `factor` times faster (the emulator's time
        scale refills ARM's buckets faster by the same factor); burst sizes are counts, unchanged."""
        return replace(
            self,
            **{kind: Rate(self.of(kind).burst, self.of(kind).per_second * factor) for kind in KINDS},
        )


class TokenBucket:
    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self._tokens = float(rate.burst)
        self._updated = now

    def take(self, now: float) -> float:
        """Spend a token for a request at `now`; returns the seconds to wait before sending it."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.rate.burst), self._tokens + elapsed * self.rate.per_second)
        self._updated = max(self._updated, now)
        self._tokens -= 1.0
        if self._tokens >= 0.0:
            return 0.0
        return -self._tokens / self.rate.per_second

    def level(self, now: float) -> float:
        """Tokens left at `now` (negative: requests are waiting for that many)."""
        elapsed = max(0.0, now - self._updated)
        return min(float(self.rate.burst), self._tokens + elapsed * self.rate.per_second)
