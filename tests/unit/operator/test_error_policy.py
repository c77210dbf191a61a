"""The error table: throttling honours Retry-After, user-fixable errors stall, the rest retry."""

import pytest

from azbatch_operator.cloud.errors import AzureCallError, missing_parent
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


# -- a pool's missing subscription, resource group or account (cloud.errors.missing_parent) --------

SUB, GROUP, ACCOUNT = "0000", "rg", "acct"
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Batch/batchAccounts/{ACCOUNT}"


def _404(code: str, message: str, operation: str = "GET pool") -> AzureCallError:
    return AzureCallError(operation, 404, code, message)


@pytest.mark.parametrize(
    ("error", "reason", "missing"),
    [
        (
            _404("SubscriptionNotFound", f"The subscription '{SUB}' could not be found."),
            "SubscriptionNotFound",
            f"/subscriptions/{SUB}",
        ),
        (
            _404("ResourceGroupNotFound", f"Resource group '{GROUP}' could not be found."),
            "ResourceGroupNotFound",
            f"/subscriptions/{SUB}/resourceGroups/{GROUP}",
        ),
        (
            _404(
                "ResourceNotFound",
                f"The Resource 'Microsoft.Batch/batchAccounts/{ACCOUNT}' under resource group "
                f"'{GROUP}' was not found.",
            ),
            "AccountNotFound",
            ACCOUNT_ID,
        ),
        (
            _404(
                "ParentResourceNotFound", "Failed to perform 'read' on batchAccounts/pools: parent not found."
            ),
            "AccountNotFound",
            ACCOUNT_ID,
        ),
    ],
)
def test_a_missing_parent_stalls_naming_its_arm_id(error: AzureCallError, reason: str, missing: str) -> None:
    named = missing_parent(error, SUB, GROUP, ACCOUNT, parent_only=False)
    assert named is not None and named.missing == missing
    assert f"{missing} does not exist" in str(named)
    verdict = classify(named.status, named.code)
    assert (verdict.disposition, verdict.reason) == (Disposition.STALL, reason)
    assert "spec.account." in verdict.hint
    assert verdict.delay <= 60.0, "look again about once a resync interval: someone may create it"


def test_a_missing_pool_is_not_a_missing_parent() -> None:
    for message in (
        "The specified pool does not exist.",
        f"The Resource 'Microsoft.Batch/batchAccounts/{ACCOUNT}/pools/p' under resource group '{GROUP}' "
        "was not found.",
    ):
        assert missing_parent(_404("PoolNotFound", message), SUB, GROUP, ACCOUNT, parent_only=False) is None
    # ... but a 404 to a create or to the account's pool list can only be about a parent
    created = missing_parent(_404("NotFound", "Not found", "PUT pool"), SUB, GROUP, ACCOUNT, parent_only=True)
    assert created is not None and created.missing == ACCOUNT_ID
    assert (
        missing_parent(
            AzureCallError("GET pool", 500, "InternalServerError", "x"), SUB, GROUP, ACCOUNT, parent_only=True
        )
        is None
    )
