"""Which Azure errors are worth retrying, and what to tell the user about the others (pure).

One explicit table, in the spirit of Azure Service Operator's error classification: every
error the operator meets is sorted into

- RETRY: transient; try again after a backoff (5xx, conflicts that resolve themselves);
- THROTTLED: 429; wait at least as long as `Retry-After` says;
- STALL: nothing changes until a person acts; the resource gets `Stalled=True` with the
  service's message and the hint below.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Disposition(enum.StrEnum):
    RETRY = "Retry"
    THROTTLED = "Throttled"
    STALL = "Stall"


@dataclass(frozen=True)
class ErrorVerdict:
    disposition: Disposition
    reason: str  # CamelCase, for the condition's reason
    hint: str  # what the user can do; empty when retrying is all there is to do
    delay: float  # seconds before the next attempt (STALL: before looking again)


# Azure error code (management or data plane, compared case-insensitively) -> verdict.
_BY_CODE: dict[str, ErrorVerdict] = {
    # Throttling and transient service trouble.
    "toomanyrequests": ErrorVerdict(Disposition.THROTTLED, "Throttled", "", 30.0),
    "subscriptionrequeststhrottled": ErrorVerdict(Disposition.THROTTLED, "Throttled", "", 30.0),
    "internalservererror": ErrorVerdict(Disposition.RETRY, "AzureUnavailable", "", 15.0),
    "serverbusy": ErrorVerdict(Disposition.RETRY, "AzureUnavailable", "", 15.0),
    "serviceunavailable": ErrorVerdict(Disposition.RETRY, "AzureUnavailable", "", 15.0),
    "operationtimedout": ErrorVerdict(Disposition.RETRY, "AzureUnavailable", "", 15.0),
    # Conflicts that pass on their own.
    "poolbeingdeleted": ErrorVerdict(Disposition.RETRY, "PoolBeingDeleted", "", 10.0),
    "poolisresizing": ErrorVerdict(Disposition.RETRY, "PoolResizing", "", 10.0),
    # A scale change while a resize runs; the convergence never sends one, so this is a race with
    # someone else's resize: look again, and stop the resize first if the target still differs.
    "poolbeingresized": ErrorVerdict(Disposition.RETRY, "PoolResizing", "", 10.0),
    "conditionnotmet": ErrorVerdict(Disposition.RETRY, "Conflict", "", 1.0),
    "anotheroperationinprogress": ErrorVerdict(Disposition.RETRY, "Conflict", "", 10.0),
    # Identity and access: a person must fix the credential or the role assignment.
    "authenticationfailed": ErrorVerdict(
        Disposition.STALL,
        "AuthenticationFailed",
        "Check the operator's Azure credential (workload identity federation or client secret).",
        300.0,
    ),
    "invalidauthenticationtoken": ErrorVerdict(
        Disposition.STALL,
        "AuthenticationFailed",
        "Check AZURE_TENANT_ID, AZURE_AUTHORITY_HOST and AZURE_RESOURCE_MANAGER_AUDIENCE for this cloud.",
        300.0,
    ),
    "expiredauthenticationtoken": ErrorVerdict(Disposition.RETRY, "TokenExpired", "", 5.0),
    "authorizationfailed": ErrorVerdict(
        Disposition.STALL,
        "AuthorizationFailed",
        "Grant the operator's identity a role that can manage pools on the Batch account"
        " (for example Contributor on the account).",
        300.0,
    ),
    "linkedauthorizationfailed": ErrorVerdict(
        Disposition.STALL,
        "AuthorizationFailed",
        "The operator's identity also needs rights on the resources the pool references"
        " (managed identity, subnet, gallery image).",
        300.0,
    ),
    # Where the pool should live does not exist (cloud.errors.missing_parent names the ARM id). It will
    # not appear by itself, but a person may create it: look again at about the default resync interval.
    "subscriptionnotfound": ErrorVerdict(
        Disposition.STALL,
        "SubscriptionNotFound",
        "Check spec.account.subscriptionId: it must be a subscription of the operator's tenant that its"
        " Azure identity can see (az account show --subscription <id>).",
        60.0,
    ),
    "resourcegroupnotfound": ErrorVerdict(
        Disposition.STALL,
        "ResourceGroupNotFound",
        "Check spec.account.resourceGroup: it must exist in that subscription"
        " (az group show --subscription <id> --name <group>).",
        60.0,
    ),
    "parentresourcenotfound": ErrorVerdict(
        Disposition.STALL,
        "AccountNotFound",
        "Check spec.account.accountName: the Batch account must exist in that resource group"
        " (az batch account show --resource-group <group> --name <account>); the operator creates pools,"
        " never accounts.",
        60.0,
    ),
    "accountnotfound": ErrorVerdict(
        Disposition.STALL, "AccountNotFound", "Check spec.account (subscription, group, name).", 60.0
    ),
    # The request itself is wrong: fix the spec.
    "invalidpropertyvalue": ErrorVerdict(Disposition.STALL, "InvalidSpec", "Fix the named property.", 300.0),
    "propertycannotbeupdated": ErrorVerdict(
        Disposition.STALL,
        "PropertyCannotBeUpdated",
        "This property cannot change on a live pool; set spec.policy.updateStrategy or recreate the pool.",
        300.0,
    ),
    "invalidrequestbody": ErrorVerdict(Disposition.STALL, "InvalidSpec", "Fix the spec.", 300.0),
    "missingrequiredproperty": ErrorVerdict(Disposition.STALL, "InvalidSpec", "Add the property.", 300.0),
    "invalidparameter": ErrorVerdict(Disposition.STALL, "InvalidSpec", "Fix the spec.", 300.0),
    "badrequest": ErrorVerdict(Disposition.STALL, "InvalidSpec", "Fix the spec.", 300.0),
    "reservedextensiontype": ErrorVerdict(
        Disposition.STALL,
        "InvalidSpec",
        "CustomScript is reserved for the Batch service; use another extension or a start task.",
        300.0,
    ),
    "unsupportedimage": ErrorVerdict(
        Disposition.STALL,
        "InvalidSpec",
        "Managed images are retired: publish the image to an Azure Compute Gallery and reference it there.",
        300.0,
    ),
    # Limits of the account.
    "poolquotareached": ErrorVerdict(
        Disposition.STALL, "QuotaExceeded", "Raise the account's pool quota or delete unused pools.", 600.0
    ),
    "accountcorequotareached": ErrorVerdict(
        Disposition.STALL,
        "QuotaExceeded",
        "Raise the Batch account's dedicated core quota, or lower targetDedicatedNodes.",
        600.0,
    ),
    "accountlowprioritycorequotareached": ErrorVerdict(
        Disposition.STALL,
        "QuotaExceeded",
        "Raise the account's spot/low-priority core quota, or lower targetLowPriorityNodes.",
        600.0,
    ),
    "accountvmseriescorequotareached": ErrorVerdict(
        Disposition.STALL, "QuotaExceeded", "Raise the account's quota for this VM series.", 600.0
    ),
}

# Resize errors (`resizeOperationStatus.errors[].code`): allocation that stopped short.
_RESIZE: dict[str, ErrorVerdict] = {
    "allocationtimedout": ErrorVerdict(
        Disposition.RETRY,
        "AllocationTimedOut",
        "Allocation did not finish within resizeTimeout; large pools may need several resizes, and"
        " custom-image pools a resizeTimeout of 20-30 minutes.",
        60.0,
    ),
    "allocationfailed": ErrorVerdict(
        Disposition.RETRY,
        "AllocationFailed",
        "Azure could not allocate the nodes. If the pool uses a custom image, the image must exist"
        " for the pool's whole life: a deleted image makes every later allocation fail.",
        120.0,
    ),
    "removenodesfailed": ErrorVerdict(
        Disposition.RETRY,
        "NodesStillBusy",
        "The nodes a scale-down chose were still running tasks when its resizeTimeout ended; the"
        " operator resizes again, and they leave as their tasks finish (nodeDeallocationOption"
        " TaskCompletion). Set scaleSettings.fixedScale.nodeDeallocationOption: Requeue to stop the"
        " tasks instead.",
        60.0,
    ),
    "overconstrainedallocationrequest": ErrorVerdict(
        Disposition.STALL,
        "AllocationFailed",
        "No capacity matches the VM size in this region: choose another vmSize or region.",
        600.0,
    ),
}


def classify(status: int | None, code: str | None) -> ErrorVerdict:
    """Sort an error by its service code first, then by HTTP status; unknown errors are retried."""
    known = _BY_CODE.get((code or "").lower())
    if known is not None:
        return known
    if status == 429:
        return _BY_CODE["toomanyrequests"]
    if status == 401:
        return _BY_CODE["authenticationfailed"]
    if status == 403:
        return _BY_CODE["authorizationfailed"]
    if status in (400, 422):
        return ErrorVerdict(Disposition.STALL, "InvalidSpec", "Fix the spec.", 300.0)
    if status in (409, 412):
        return _BY_CODE["conditionnotmet"]
    return ErrorVerdict(Disposition.RETRY, "AzureError", "", 15.0)


def classify_resize_error(code: str | None) -> ErrorVerdict:
    """A resize error: most are worth another resize after a backoff, as the Batch docs advise."""
    key = (code or "").lower()
    if key in _RESIZE:
        return _RESIZE[key]
    if "quota" in key:
        return classify(None, key) if key in _BY_CODE else _BY_CODE["accountcorequotareached"]
    return ErrorVerdict(Disposition.RETRY, "ResizeError", "", 120.0)


# Resize errors that mean Azure stopped at the resize's own resizeTimeout (growing or shrinking).
_RESIZE_TIMEOUTS = frozenset({"allocationtimedout", "resizetimedout", "removenodesfailed"})


def is_resize_timeout(code: str | None) -> bool:
    """Azure ended a resize at its resizeTimeout (RemoveNodesFailed: node removal did not finish)."""
    return (code or "").lower() in _RESIZE_TIMEOUTS


def retry_delay(verdict: ErrorVerdict, *, retry_after: float | None, attempt: int) -> float:
    """Seconds to wait: never less than Retry-After; exponential backoff capped at ten minutes."""
    backoff = min(verdict.delay * (2 ** max(attempt, 0)), 600.0)
    if verdict.disposition is Disposition.STALL:
        backoff = verdict.delay
    return float(max(backoff, retry_after or 0.0))
