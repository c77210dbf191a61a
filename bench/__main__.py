"""Run every benchmark package under `bench/` (each has a `__main__`), or the ones named.

python -m bench                 # all
python -m bench emulator        # one
python -m bench emulator -- --pools 100   # arguments after `--` go to the benchmark
python -m bench --help          # this, with the benchmarks there are (`python -m bench.NAME --help`: its own)
"""

from __future__ import annotations

import pkgutil
import runpy
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if "--" in argv:
        split = argv.index("--")
        names, passthrough = argv[:split], argv[split + 1 :]
    else:
        names, passthrough = argv, []
    available = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.ispkg)
    if "--help" in names or "-h" in names:
        print(usage(available))
        return 0
    unknown = set(names) - set(available)
    if unknown:
        print(
            f"unknown benchmark(s) {sorted(unknown)}; available: {available} (python -m bench --help)",
            file=sys.stderr,
        )
        return 2
    for name in names or available:
        print(f"== bench.{name}", flush=True)
        sys.argv = [f"bench.{name}", *passthrough]
        try:
            runpy.run_module(f"bench.{name}", run_name="__main__", alter_sys=True)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                return int(exit_.code) if isinstance(exit_.code, int) else 1
    return 0


def usage(available: list[str]) -> str:
    return (
        "usage: python -m bench [NAME ...] [-- ARGS ...]\n\n"
        "Run every benchmark, or the ones named; ARGS after `--` go to each of them.\n"
        f"benchmarks: {', '.join(available)} (`python -m bench.NAME --help` shows a benchmark's own options)"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
