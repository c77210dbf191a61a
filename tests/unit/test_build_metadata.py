"""The build metadata agrees with the build backend it asks for."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_an_spdx_license_string_asks_for_a_setuptools_that_reads_it() -> None:
    project = tomllib.loads(PYPROJECT.read_text())
    requires = project["build-system"]["requires"]
    (setuptools,) = [r for r in requires if re.match(r"setuptools\b", r)]
    floor = re.search(r">=\s*(\d+)", setuptools)
    assert floor is not None, setuptools
    if isinstance(project["project"].get("license"), str):  # PEP 639: setuptools 77 or later
        assert int(floor[1]) >= 77, setuptools
