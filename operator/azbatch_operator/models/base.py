"""The base every spec model shares: camelCase ARM names, unknown fields refused, immutable values."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ArmModel(BaseModel):
    """A part of the pool request body: ARM JSON names as aliases; unknown fields are errors."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,  # as the API server: "5" is not an integer, 1 is not a boolean
        frozen=True,
        use_attribute_docstrings=False,
    )


class StatusModel(BaseModel):
    """A part of `status`: camelCase names; unknown fields are ignored so any status version loads."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
    )
