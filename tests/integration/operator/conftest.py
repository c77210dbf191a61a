"""The whole product on loopback for each test module: emulator, Kubernetes stand-in, operator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from operator_helpers import FAST

from azbatch_operator.sandbox import Sandbox, SandboxSettings


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxSettings(**FAST)) as running:
        yield running
