"""Fixtures of the reliability suite; helpers live in reliability_helpers.py (imported unambiguously)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reliability_helpers import FAST

from azbatch_operator.sandbox import Sandbox, SandboxSettings


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """The whole product on loopback, shared by one module: the operator in-process, fast clocks."""
    with Sandbox(SandboxSettings(**FAST)) as running:
        yield running
