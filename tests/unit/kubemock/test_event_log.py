"""The stand-in's watch history keeps what kube-apiserver's watch cache would keep."""

from __future__ import annotations

from azbatch_kubemock.eventlog import EventLog

WIDGETS = ("example.dev", "v1", "widgets")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(log: EventLog, versions: range) -> None:
    for version in versions:
        log.append(WIDGETS, version, {"type": "MODIFIED", "object": {"v": version}})


def test_a_burst_within_the_fresh_window_is_kept_whole() -> None:
    """Ten thousand pools written four times in a minute: a watcher that fell behind resumes
    from where it was, as on a real API server, instead of being told to list everything again."""
    clock = Clock()
    log = EventLog(clock=clock)
    for version in range(1, 40_001):
        clock.now = version / 1000  # forty seconds in all
        log.append(WIDGETS, version, {"v": version})
    assert not log.expired(WIDGETS, 1)
    assert [v for v, _ in log.after(WIDGETS, 39_998)] == [39_999, 40_000]
    assert len(log.after(WIDGETS, 0)) == 40_000
    assert log.capacity(WIDGETS) == 51_200  # 100 doubled nine times


def test_room_stops_growing_at_the_upper_bound_and_the_oldest_go() -> None:
    log = EventLog(limit=400, clock=Clock())
    write(log, range(1, 1001))
    assert log.capacity(WIDGETS) == 400
    assert log.expired(WIDGETS, 599)
    assert not log.expired(WIDGETS, 600)
    assert [v for v, _ in log.after(WIDGETS, 600)][:2] == [601, 602]
    assert len(log.after(WIDGETS, 0)) == 400


def test_stale_history_does_not_grow_and_then_shrinks_to_the_lower_bound() -> None:
    clock = Clock()
    log = EventLog(clock=clock)
    for version in range(1, 1001):  # one event every 10 s: the oldest of 100 is never fresh
        clock.now = version * 10.0
        log.append(WIDGETS, version, {"v": version})
    assert log.capacity(WIDGETS) == 100
    assert log.expired(WIDGETS, 899)
    assert [v for v, _ in log.after(WIDGETS, 998)] == [999, 1000]

    write(log, range(1001, 1401))  # a burst: room grows to keep it
    assert log.capacity(WIDGETS) >= 400
    assert not log.expired(WIDGETS, 1000)
    for version in range(1401, 2401):  # slow again: once full, the room halves back down
        clock.now += 10.0
        log.append(WIDGETS, version, {"v": version})
    assert log.capacity(WIDGETS) == 100
    assert len(log.after(WIDGETS, 0)) == 100
    assert [v for v, _ in log.after(WIDGETS, 2398)] == [2399, 2400]


def test_every_kept_event_is_served_in_order_across_compactions() -> None:
    log = EventLog(limit=128, lower=8, clock=Clock())
    for version in range(1, 5001):
        log.append(WIDGETS, version, {"v": version})
        kept = log.after(WIDGETS, 0)
        assert [v for v, _ in kept] == list(range(version - len(kept) + 1, version + 1))
        assert [e["v"] for _, e in kept] == [v for v, _ in kept]
    assert not log.expired(WIDGETS, 5000 - 128)
    assert log.expired(WIDGETS, 5000 - 129)


def test_resources_have_their_own_histories() -> None:
    log = EventLog(limit=4, clock=Clock())
    write(log, range(1, 10))
    other = ("", "v1", "configmaps")
    assert not log.expired(other, 0)
    assert log.after(other, 0) == []
    assert log.capacity(other) == 4
