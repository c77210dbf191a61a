"""The watch history: per resource, events in resourceVersion order, compacted by count.

A watch resumes from a resourceVersion by reading the events after it; once older events have
been compacted away, a watch from before them is answered ``410 Expired`` (as after etcd's
compaction), and the client re-lists.
"""

from __future__ import annotations

import bisect
import collections
from typing import Any

GVR = tuple[str, str, str]
Event = dict[str, Any]


class EventLog:
    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self._events: dict[GVR, list[tuple[int, Event]]] = collections.defaultdict(list)
        self._compacted: dict[GVR, int] = {}  # the newest resourceVersion dropped, per resource

    def append(self, resource: GVR, resource_version: int, event: Event) -> None:
        events = self._events[resource]
        events.append((resource_version, event))
        if len(events) > self.limit:
            cut = len(events) - self.limit // 2
            self._compacted[resource] = events[cut - 1][0]
            del events[:cut]

    def expired(self, resource: GVR, resource_version: int) -> bool:
        """Whether events after ``resource_version`` may have been dropped already."""
        return resource_version < self._compacted.get(resource, 0)

    def after(self, resource: GVR, resource_version: int) -> list[tuple[int, Event]]:
        """The kept events newer than ``resource_version``, oldest first."""
        events = self._events[resource]
        return events[bisect.bisect_right(events, resource_version, key=lambda entry: entry[0]) :]
