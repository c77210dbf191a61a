"""Fixtures: the generated CRD and its schema."""

from __future__ import annotations

from typing import Any

import pytest

from azbatch_operator.crd import build_crd


@pytest.fixture(scope="session")
def crd() -> dict[str, Any]:
    return build_crd()


@pytest.fixture(scope="session")
def schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema
