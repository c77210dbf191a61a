"""The error table: throttling honours Retry-After, user-fixable errors stall, the rest retry."""

from azbatch_operator.error_policy import Disposition, classify, classify_resize_error, retry_delay


def test_throttling_waits_at_least_retry_after() -> None:
    verdict = classify(429, None)
    assert verdict.disposition is Disposition.THROTTLED
    assert retry_delay(verdict, retry_after=120.0, attempt=0) == 120.0


def test_server_errors_retry_with_growing_backoff_capped() -> None:
    verdict = classify(503, "ServiceUnavailable")
    assert verdict.disposition is Disposition.RETRY
    delays = [retry_delay(verdict, retry_after=None, attempt=n) for n in range(10)]
    assert delays == sorted(delays)
    assert delays[-1] == 600.0


def test_auth_and_spec_errors_stall_with_a_hint() -> None:
    for status, code in [(401, None), (403, "AuthorizationFailed"), (400, "InvalidPropertyValue")]:
        verdict = classify(status, code)
        assert verdict.disposition is Disposition.STALL
        assert verdict.hint


def test_pool_being_deleted_is_transient() -> None:
    assert classify(409, "PoolBeingDeleted").disposition is Disposition.RETRY


def test_codes_compare_case_insensitively() -> None:
    assert classify(409, "poolbeingdeleted") == classify(409, "PoolBeingDeleted")


def test_allocation_failure_names_the_deleted_image_cause() -> None:
    verdict = classify_resize_error("AllocationFailed")
    assert verdict.disposition is Disposition.RETRY
    assert "image" in verdict.hint


def test_quota_resize_errors_stall() -> None:
    assert classify_resize_error("AccountCoreQuotaReached").disposition is Disposition.STALL
