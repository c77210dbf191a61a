"""The simulation clock: simulated time runs `time_scale` times faster than real time.

Simulated time is epoch seconds (float) so that timestamps look current. The clock can be
advanced explicitly (admin API), and it can resume from a saved instant after a restart.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class SimClock:
    """Simulated time: `start + (monotonic elapsed) * time_scale + explicit advances`."""

    def __init__(self, time_scale: float, *, start: float | None = None) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        self._origin_sim = time.time() if start is None else start
        self._origin_real = time.monotonic()
        self._advanced = 0.0
        self._paused_at: float | None = None

    def now(self) -> float:
        """Current simulated time, epoch seconds."""
        if self._paused_at is not None:
            return self._paused_at + self._advanced
        return self._origin_sim + (time.monotonic() - self._origin_real) * self.time_scale + self._advanced

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> float:
        """Stop the clock (explicit advances still move it): tests that look at intermediate states."""
        if self._paused_at is None:
            self._paused_at = self.now() - self._advanced
        return self.now()

    def resume(self) -> float:
        """Let the clock run again from where it stands."""
        if self._paused_at is not None:
            self._origin_sim, self._origin_real = self._paused_at, time.monotonic()
            self._paused_at = None
        return self.now()

    def advance(self, seconds: float) -> float:
        """Jump simulated time forward by `seconds`; returns the new simulated time."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._advanced += seconds
        return self.now()

    def real_seconds(self, simulated_seconds: float) -> float:
        """How long `simulated_seconds` take in real time."""
        return max(simulated_seconds, 0.0) / self.time_scale


@functools.lru_cache(maxsize=1 << 16)
def iso(t: float) -> str:
    """RFC 3339 UTC timestamp with a `Z`, as Azure writes them (cached: node timestamps repeat)."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration such as `PT15M`; ValueError if malformed."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as 'PT15M'")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    return (
        parts.get("days", 0.0) * 86400
        + parts.get("hours", 0.0) * 3600
        + parts.get("minutes", 0.0) * 60
        + parts.get("seconds", 0.0)
    )
