"""Fixtures: the seed request bodies and the ARM wire examples, as the models must accept them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import seed_bodies


@pytest.fixture(scope="session")
def seed_bodies_json() -> dict[str, dict[str, Any]]:
    raw = seed_bodies.seed_bodies_raw()
    return {
        "linux": json.loads(raw["linux"]),
        "windows": json.loads(seed_bodies.repair_windows_body(raw["windows"])),
    }


@pytest.fixture(scope="session")
def mgmt_create_bodies() -> dict[str, dict[str, Any]]:
    return seed_bodies.mgmt_create_bodies()
