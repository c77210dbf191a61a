"""Every spec field is either an ARM pool property the renderer sends and compares, or the operator's own."""

from __future__ import annotations

from azbatch_operator.models import BatchPoolSpec
from azbatch_operator.rendering.desired import OPERATOR_KEYS
from azbatch_operator.rendering.normalise import WRITABLE_PROPERTIES


def _spec_names() -> set[str]:
    return {field.alias or name for name, field in BatchPoolSpec.model_fields.items()}


def test_every_spec_field_is_an_arm_property_or_an_operator_field() -> None:
    unknown = _spec_names() - WRITABLE_PROPERTIES - OPERATOR_KEYS
    assert unknown == set(), (
        f"teach rendering about {sorted(unknown)}: send it to ARM or list it in OPERATOR_KEYS"
    )


def test_the_operator_fields_exist_in_the_spec() -> None:
    assert _spec_names() >= OPERATOR_KEYS
