"""`python -m azbatch_emulator ...` (same as the `azbatch-emulator` command)."""

import sys

from azbatch_emulator.cli import main

sys.exit(main())
