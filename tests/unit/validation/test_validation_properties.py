"""Rules that must hold for every value, not just the examples."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from manifest_edits import DELETE, edit, load_example

from azbatch_operator.models.spec import POOL_NAME_PATTERN
from azbatch_operator.validation import validate_manifest

RESIZE_TIMEOUT = "spec.scaleSettings.fixedScale.resizeTimeout"


@settings(max_examples=60, deadline=None)
@given(seconds=st.integers(min_value=0, max_value=3 * 3600))
def test_resize_timeout_is_an_error_exactly_below_five_minutes(seconds: int) -> None:
    manifest = edit(load_example("keyvault-linux"), RESIZE_TIMEOUT, f"PT{seconds}S")
    model, findings = validate_manifest(manifest)
    assert model is not None
    errors = [
        finding for finding in findings if finding.path == RESIZE_TIMEOUT and finding.severity == "error"
    ]
    assert bool(errors) == (seconds < 300)


@settings(max_examples=60, deadline=None)
@given(seconds=st.integers(min_value=300, max_value=3 * 3600))
def test_custom_image_fixed_pools_warn_exactly_below_twenty_minutes(seconds: int) -> None:
    manifest = edit(load_example("gallery-image"), RESIZE_TIMEOUT, f"PT{seconds}S")
    findings = validate_manifest(manifest)[1]
    warnings = [finding for finding in findings if finding.path == RESIZE_TIMEOUT]
    assert [finding.severity for finding in warnings] == (["warning"] if seconds < 1200 else [])


@settings(max_examples=80, deadline=None)
@given(name=st.from_regex(POOL_NAME_PATTERN, fullmatch=True))
def test_every_valid_pool_name_is_accepted_as_spec_pool_name_or_metadata_name(name: str) -> None:
    assert validate_manifest(edit(load_example("keyvault-linux"), "spec.poolName", name))[1] == []
    by_metadata = edit(load_example("keyvault-linux"), "spec.poolName", DELETE)
    assert validate_manifest(edit(by_metadata, "metadata.name", name))[1] == []


@settings(max_examples=80, deadline=None)
@given(name=st.text(min_size=1, max_size=70).filter(lambda text: not re.fullmatch(POOL_NAME_PATTERN, text)))
def test_every_invalid_pool_name_is_refused_with_the_rule(name: str) -> None:
    model, findings = validate_manifest(edit(load_example("keyvault-linux"), "spec.poolName", name))
    assert model is None
    assert any(finding.path == "spec.poolName" for finding in findings)
