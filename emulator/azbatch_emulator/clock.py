"""The simulation clock and its calendar: durations run `time_scale` times faster than real time,
while every timestamp the emulator writes is a wall-clock instant.

Simulated time is epoch-like seconds (float) used for durations and ordering: node timings,
`resizeTimeout`, busy tasks. It runs `time_scale` times faster than real time, can be paused and
advanced (admin API), and resumes from a saved instant after a restart. What a client sees is the
**calendar**: a list of stretches, each mapping simulated seconds from its start onwards to wall-clock
seconds at 1/`time_scale`. A stretch starts whenever the two clocks part (start, restart, resume,
advance), so the calendar of "now" is always the wall clock, an instant already rendered is rendered
the same forever (stretches only begin at or after "now" and never map below the instant before
them), and no timestamp is in the future. The calendar is kept in the state dir (`calendar.json`),
so a restarted emulator renders earlier instants as before. docs/emulator.md ("Time") explains the
choice.
"""

from __future__ import annotations

import bisect
import contextvars
import datetime as dt
import functools
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)

CALENDAR_FILE = "calendar.json"

# The clock whose calendar `iso` renders with: the one last read (`SimClock.now`) in this context.
# Every request handler reads its emulator's clock before it renders, and each request runs in its
# own asyncio task (its own context), so emulators sharing a process or a loop never mix calendars.
_CURRENT: contextvars.ContextVar[SimClock | None] = contextvars.ContextVar(
    "azbatch_emulator_clock", default=None
)
# Where no clock was read in this context yet: the clock made last (a process runs one emulator).
_LATEST: list[SimClock] = []


@dataclass(frozen=True)
class Stretch:
    """From simulated instant `sim` on, simulated time maps to `wall + (t - sim) / scale`."""

    sim: float
    wall: float
    scale: float

    def wall_at(self, t: float) -> float:
        return self.wall + (t - self.sim) / self.scale


class SimClock:
    """Simulated time (`now`, for durations) and the calendar that renders it (`wall`, `iso`)."""

    def __init__(
        self, time_scale: float, *, start: float | None = None, calendar_file: Path | None = None
    ) -> None:
        if time_scale <= 0:
            raise ValueError(f"time_scale must be > 0, got {time_scale}")
        self.time_scale = time_scale
        self._calendar_file = calendar_file
        self._stretches: list[Stretch] = _load(calendar_file)
        self._starts = [s.sim for s in self._stretches]
        wall = time.time()
        if self._stretches:  # a restart: resume where the saved simulation stood, never before
            last = self._stretches[-1]
            start = max(start if start is not None else wall, last.sim)
            wall = max(wall, self.wall(start))
        elif start is None:
            start = wall
        self._origin_sim = start
        self._origin_real = time.monotonic()
        self._paused_at: float | None = None
        self._begin_stretch(start, wall)
        _LATEST[:] = [self]

    # -- simulated time ---------------------------------------------------------------------

    def now(self) -> float:
        """Current simulated time, epoch-like seconds; makes this clock the one `iso` renders with."""
        if _CURRENT.get() is not self:
            _CURRENT.set(self)
        if self._paused_at is not None:
            return self._paused_at
        return self._origin_sim + (time.monotonic() - self._origin_real) * self.time_scale

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> float:
        """Stop the clock (explicit advances still move it): tests that look at intermediate states.
        The calendar keeps the paused instant; timestamps written meanwhile lag the wall clock."""
        if self._paused_at is None:
            self._paused_at = self.now()
        return self.now()

    def resume(self) -> float:
        """Let the clock run again from where it stands; the calendar takes up the wall clock."""
        if self._paused_at is not None:
            at = self._paused_at
            self._origin_sim, self._origin_real = at, time.monotonic()
            self._paused_at = None
            self._begin_stretch(at, max(time.time(), self.wall(at)))
        return self.now()

    def advance(self, seconds: float) -> float:
        """Jump simulated time forward by `seconds`; returns the new simulated time.

        The jump costs no calendar time: the skipped stretch renders as the instant it began, so
        what the jump brings about is stamped now, not `seconds / time_scale` in the future."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        before = self.now()
        if self._paused_at is not None:
            self._paused_at += seconds
        else:
            self._origin_sim += seconds
        if seconds:
            self._begin_stretch(before + seconds, self.wall(before))
        return self.now()

    def real_seconds(self, simulated_seconds: float) -> float:
        """How long `simulated_seconds` take in real time."""
        return max(simulated_seconds, 0.0) / self.time_scale

    # -- the calendar -----------------------------------------------------------------------

    def wall(self, t: float) -> float:
        """The wall-clock instant (epoch seconds) that simulated instant `t` is rendered as."""
        stretches = self._stretches
        index = max(bisect.bisect_left(self._starts, t) - 1, 0)  # an instant at a start: the one before
        moment = stretches[index].wall_at(t)
        if index + 1 < len(stretches):
            moment = min(moment, stretches[index + 1].wall)
        return moment

    def simulated(self, wall: float) -> float:
        """The simulated instant a wall-clock instant stands for (timestamps that clients send)."""
        walls = [s.wall for s in self._stretches]
        index = max(bisect.bisect_right(walls, wall) - 1, 0)
        stretch = self._stretches[index]
        t = stretch.sim + (wall - stretch.wall) * stretch.scale
        if index + 1 < len(self._stretches):
            t = min(t, self._stretches[index + 1].sim)
        return t

    def iso(self, t: float) -> str:
        """Simulated instant `t` as Azure writes timestamps (RFC 3339 UTC with `Z`), on the calendar."""
        return _format(self.wall(t))

    def parse(self, text: str) -> float:
        """A client's RFC 3339 timestamp as a simulated instant (ValueError if malformed)."""
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return self.simulated(moment.timestamp())

    @property
    def stretches(self) -> tuple[Stretch, ...]:
        return tuple(self._stretches)

    def _begin_stretch(self, sim: float, wall: float) -> None:
        stretch = Stretch(sim, wall, self.time_scale)
        if self._stretches and self._stretches[-1] == stretch:
            return
        self._stretches.append(stretch)
        self._starts = [s.sim for s in self._stretches]
        if self._calendar_file is not None:
            _save(self._calendar_file, self._stretches)


def iso(t: float) -> str:
    """Simulated instant `t` as a timestamp on the calendar of the clock last read in this context
    (`SimClock.now`), else of the clock made last; without any, `t` is taken as a wall-clock instant."""
    clock = _CURRENT.get() or (_LATEST[0] if _LATEST else None)
    return _format(t if clock is None else clock.wall(t))


@functools.lru_cache(maxsize=1 << 16)
def _format(wall: float) -> str:
    """RFC 3339 UTC timestamp with a `Z`, as Azure writes them (cached: node timestamps repeat)."""
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _load(path: Path | None) -> list[Stretch]:
    if path is None or not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [Stretch(float(sim), float(wall), float(scale)) for sim, wall, scale in data["stretches"]]


def _save(path: Path, stretches: list[Stretch]) -> None:
    document = {"stretches": [[s.sim, s.wall, s.scale] for s in stretches]}
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    os.replace(temporary, path)


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
