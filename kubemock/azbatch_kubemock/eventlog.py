"""The watch history: per resource, events in resourceVersion order, sized as kube-apiserver's
watch cache sizes its own.

A watch resumes from a resourceVersion by reading the events after it; once older events have
been dropped, a watch from before them is answered ``410 Expired`` and the client re-lists.

The API server does not keep a fixed number of events. Its watch cache (``watch_cache.go`` in
``k8s.io/apiserver``) starts each resource at room for 100 and, when it is full:
- doubles the room while even its oldest event is younger than 75 seconds, up to 102,400;
- halves it (not below 100) once the newest quarter of its events is older than 75 seconds;
- otherwise drops the oldest event.
So a burst (ten thousand objects written several times each within a minute) is kept whole, and a
watcher that fell behind in it resumes where it was instead of listing everything again; a fixed,
smaller history would make a client re-list where a real server would not.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GVR = tuple[str, str, str]
Event = dict[str, Any]

LOWER_BOUND = 100  # the watch cache's defaultLowerBoundCapacity
UPPER_BOUND = 100 * 1024  # its defaultUpperBoundCapacity
FRESH = 75.0  # its eventFreshDuration, in seconds


@dataclass
class _History:
    capacity: int
    versions: list[int] = field(default_factory=list)  # resourceVersions, from `start` on
    recorded: list[float] = field(default_factory=list)  # when each event was recorded
    events: list[Event] = field(default_factory=list)
    start: int = 0  # entries before it are dropped (cut off in bulk, not one at a time)
    compacted: int = 0  # the newest resourceVersion dropped

    def __len__(self) -> int:
        return len(self.versions) - self.start

    def drop_oldest(self, count: int) -> None:
        self.start += count
        self.compacted = self.versions[self.start - 1]
        if self.start > len(self.versions) // 2:  # amortised: each entry is moved at most once
            for column in (self.versions, self.recorded, self.events):
                del column[: self.start]
            self.start = 0


class EventLog:
    def __init__(
        self,
        *,
        limit: int = UPPER_BOUND,
        lower: int = LOWER_BOUND,
        fresh: float = FRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit  # the most events kept per resource
        self.lower = min(lower, limit)
        self.fresh = fresh
        self.clock = clock
        self._histories: dict[GVR, _History] = {}

    def capacity(self, resource: GVR) -> int:
        history = self._histories.get(resource)
        return self.lower if history is None else history.capacity

    def append(self, resource: GVR, resource_version: int, event: Event) -> None:
        history = self._histories.setdefault(resource, _History(self.lower))
        now = self.clock()
        if len(history) >= history.capacity:
            self._resize(history, now)
        if len(history) >= history.capacity:
            history.drop_oldest(len(history) - history.capacity + 1)
        history.versions.append(resource_version)
        history.recorded.append(now)
        history.events.append(event)

    def _resize(self, history: _History, now: float) -> None:
        """Grow a full history whose oldest event is fresh; shrink one whose newest quarter is stale."""
        if now - history.recorded[history.start] < self.fresh:
            history.capacity = min(history.capacity * 2, self.limit)
        elif now - history.recorded[-max(1, history.capacity // 4)] > self.fresh:
            history.capacity = max(history.capacity // 2, self.lower)
            if len(history) > history.capacity:
                history.drop_oldest(len(history) - history.capacity)

    def expired(self, resource: GVR, resource_version: int) -> bool:
        """Whether events after ``resource_version`` may have been dropped already."""
        history = self._histories.get(resource)
        return history is not None and resource_version < history.compacted

    def after(self, resource: GVR, resource_version: int) -> list[tuple[int, Event]]:
        """The kept events newer than ``resource_version``, oldest first."""
        history = self._histories.get(resource)
        if history is None:
            return []
        first = bisect.bisect_right(history.versions, resource_version, lo=history.start)
        return list(zip(history.versions[first:], history.events[first:], strict=True))
