"""The base every spec model shares: camelCase ARM names, unknown fields refused, immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel


class _AcceptsMappings(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _mapping_as_dict(cls, data: Any) -> Any:
        """Take read-only mappings (kopf's Body/Spec views) like dicts, which strict models require."""
        if isinstance(data, Mapping) and not isinstance(data, dict):
            return dict(data)
        return data


class ArmModel(_AcceptsMappings):
    """A part of the pool request body: ARM JSON names as aliases; unknown fields are errors."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        strict=True,  # as the API server: "5" is not an integer, 1 is not a boolean
        frozen=True,
    )


class StatusModel(_AcceptsMappings):
    """A part of `status`: camelCase names; unknown fields are ignored so any status version loads."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
    )
