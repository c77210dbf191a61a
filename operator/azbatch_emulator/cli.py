"""`azbatch-emulator` command line (placeholder until the emulator lands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    print("azbatch-emulator: not implemented yet", file=sys.stderr)
    return 1
