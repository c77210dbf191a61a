"""References to Kubernetes Secrets: the only way a secret value enters a BatchPool spec."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field

from azbatch_operator.models.base import ArmModel

INLINE_SECRET_MESSAGE = (
    "inline secret values are refused: put the value in a Kubernetes Secret in the same namespace "
    "and reference it as {secretKeyRef: {name: <secret name>, key: <key>}}"
)


class SecretKeySelector(ArmModel):
    """One key of one Kubernetes Secret in the BatchPool's namespace."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Name of a Secret in the same namespace as the BatchPool.",
    )
    key: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key inside the Secret's data whose value is used.",
    )


def _refuse_inline(value: Any) -> Any:
    """Turn an inline secret (a string, or an object that is not a secretKeyRef) into a clear error."""
    if isinstance(value, dict) and set(value) == {"secretKeyRef"}:
        return value
    if isinstance(value, dict) and "secretKeyRef" in value:
        return value  # let the model name the unknown extra fields
    raise ValueError(INLINE_SECRET_MESSAGE)


def _secret_ref_schema(schema: dict[str, Any]) -> None:
    """In the CRD, an inline object (`protectedSettings: {commandToExecute: ...}`) must reach the CEL rule
    that says to use a Secret: with unknown fields refused, or `secretKeyRef` required, the API server
    answers first with "unknown field" or "Required value", which name no fix. So the node keeps
    unknown fields (the rule refuses the object before anything is stored) and the rule does the
    requiring. The rule reads only the declared `secretKeyRef`, never the unknown content."""
    schema.pop("required", None)
    schema["x-kubernetes-preserve-unknown-fields"] = True
    schema["x-kubernetes-validations"] = [
        {"rule": "has(self.secretKeyRef)", "message": INLINE_SECRET_MESSAGE, "reason": "FieldValueInvalid"},
    ]


class SecretRef(ArmModel):
    """A secret value from a Kubernetes Secret; Azure never returns it and the operator never logs it."""

    model_config = ConfigDict(json_schema_extra=_secret_ref_schema)

    secret_key_ref: SecretKeySelector = Field(
        description="The Secret and key that hold the value (same namespace as the BatchPool)."
    )


SecretValue = Annotated[SecretRef, BeforeValidator(_refuse_inline)]
"""The type of every secret-bearing field: a `SecretRef`; an inline value is refused with the fix."""
