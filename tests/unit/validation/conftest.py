"""Fixtures: a valid BatchPool manifest (the Linux Key Vault example) to break one rule at a time."""

from __future__ import annotations

from typing import Any

import pytest
from manifest_edits import load_example


@pytest.fixture
def manifest() -> dict[str, Any]:
    return load_example("keyvault-linux")
