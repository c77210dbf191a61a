"""`status.pool` says what the pool was last seen doing: a pass that could not read it (Azure
throttled, a Secret missing, an invalid spec) keeps it; only a pool that cannot exist clears it."""

from __future__ import annotations

from azbatch_operator import reconciler
from azbatch_operator.cloud.errors import AzureCallError
from azbatch_operator.reporting import build_status

SEEN = {"provisioningState": "Succeeded", "allocationState": "Steady", "currentDedicatedNodes": 2}
PREVIOUS = {"observedGeneration": 1, "conditions": [], "pool": SEEN}


def _status(outcome: reconciler._Outcome) -> dict[str, object]:
    return build_status(PREVIOUS, outcome.report, generation=1, now="2026-12-02T00:00:00Z")


def _failure(error: AzureCallError) -> reconciler._Outcome:
    return reconciler._azure_failure(reconciler.PoolMemory(), error, PREVIOUS, "", resync=300.0)


def test_a_pass_that_did_not_read_the_pool_keeps_what_was_seen() -> None:
    throttled = _failure(AzureCallError("GET pool", 429, "TooManyRequests", "slow down", retry_after=5))
    assert _status(throttled)["pool"] == SEEN
    refused = _failure(AzureCallError("GET pool", 403, "AuthorizationFailed", "no role"))
    assert _status(refused)["pool"] == SEEN
    invalid = reconciler._stalled("InvalidSpec", "spec.vmSize: required", PREVIOUS, requeue=300.0)
    assert _status(invalid)["pool"] == SEEN


def test_a_pool_whose_account_does_not_exist_is_not_shown() -> None:
    gone = AzureCallError("GET pool", 404, "ParentResourceNotFound", "no account", missing="/subscriptions/s")
    assert _status(_failure(gone))["pool"] is None
