"""Azure SDK exceptions -> one error value the reconciler can classify (see error_policy)."""

from __future__ import annotations

from dataclasses import dataclass

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)


@dataclass(frozen=True)
class AzureCallError(Exception):
    """A failed Azure call: HTTP status (None when no answer came), service code, message."""

    operation: str
    status: int | None
    code: str | None
    message: str
    retry_after: float | None = None

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status else "no answer"
        return f"{self.operation}: {where} {self.code or ''}: {self.message}".replace("  ", " ")


def translate(operation: str, error: BaseException) -> AzureCallError:
    """Name the operation and keep what the service said; drop everything else."""
    if isinstance(error, ClientAuthenticationError):
        # No token could be had (azure-identity's message names each credential it tried), or the
        # service refused the token it got.
        return AzureCallError(
            operation, error.status_code, "AuthenticationFailed", _first_lines(error.message)
        )
    if isinstance(error, HttpResponseError):
        code = error.error.code if error.error is not None else None
        message = error.error.message if error.error is not None and error.error.message else error.reason
        return AzureCallError(
            operation,
            error.status_code,
            code or error.reason,
            _first_lines(str(message or "")),
            _retry_after(error),
        )
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return AzureCallError(operation, None, "ServiceUnavailable", _first_lines(str(error.message)))
    if isinstance(error, AzureError):
        return AzureCallError(operation, None, type(error).__name__, _first_lines(str(error.message)))
    return AzureCallError(operation, None, type(error).__name__, _first_lines(str(error)))


def _retry_after(error: HttpResponseError) -> float | None:
    headers = getattr(error.response, "headers", None)
    if headers is None:
        return None
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first_lines(text: str, limit: int = 600) -> str:
    """Service messages carry request ids and stack-like tails; keep the human part."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    kept = " ".join(line for line in lines if not line.startswith(("RequestId:", "Time:")))
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"
