"""ISO 8601 durations as the ARM API writes them (`PT15M`, `P1DT2H`)."""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, Field

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
# The same grammar for the CRD (RE2 has no named groups in k8s patterns that we rely on, keep it plain).
DURATION_PATTERN = r"^P([0-9]+W)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+(\.[0-9]+)?S)?)?$"


@functools.lru_cache(maxsize=1024)  # every pass reads the spec's few durations again
def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration (weeks, days, hours, minutes, seconds); raise ValueError with the fix."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration: write it like PT15M (15 minutes), PT1H30M or P1D"
        )
    parts = {name: float(value) for name, value in match.groupdict().items() if value is not None}
    return timedelta(**parts)


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[
    str,
    Field(pattern=DURATION_PATTERN, max_length=64),
    AfterValidator(_check_duration),
]
"""An ISO 8601 duration kept as written (the renderer sends it to ARM unchanged)."""
