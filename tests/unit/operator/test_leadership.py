"""Lease rules: a replica takes the lease only when it is free, its own, or not renewed in time."""

from datetime import UTC, datetime, timedelta

from azbatch_operator.leadership import claim, may_take, parse_lease, release

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def lease(holder: str | None, renewed_seconds_ago: float, duration: int = 15) -> dict[str, object]:
    renewed = (NOW - timedelta(seconds=renewed_seconds_ago)).isoformat().replace("+00:00", "Z")
    return {"holderIdentity": holder, "renewTime": renewed, "leaseDurationSeconds": duration}


def test_free_or_own_lease_can_be_taken() -> None:
    assert may_take(parse_lease(None), "a", NOW)
    assert may_take(parse_lease(lease("a", 1)), "a", NOW)


def test_a_live_holder_keeps_the_lease() -> None:
    assert not may_take(parse_lease(lease("b", 5)), "a", NOW)


def test_an_expired_holder_loses_it() -> None:
    assert may_take(parse_lease(lease("b", 16)), "a", NOW)


def test_taking_over_counts_a_transition_and_renewing_does_not() -> None:
    taken = claim(parse_lease(lease("b", 30)), "a", NOW, timedelta(seconds=15))
    assert taken["holderIdentity"] == "a"
    assert taken["leaseTransitions"] == 1
    assert "acquireTime" in taken
    renewed = claim(parse_lease({**lease("a", 1), "leaseTransitions": 1}), "a", NOW, timedelta(seconds=15))
    assert renewed["leaseTransitions"] == 1
    assert "acquireTime" not in renewed


def test_a_released_lease_is_free_at_once_for_anyone() -> None:
    released = release(parse_lease(lease("a", 1)), NOW)
    assert may_take(parse_lease(released), "b", NOW)
    taken = claim(parse_lease(released), "b", NOW, timedelta(seconds=15))
    assert taken["holderIdentity"] == "b" and taken["leaseDurationSeconds"] == 15
