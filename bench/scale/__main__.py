"""The operator at scale, side by side with a Crossplane-style baseline and the provisioning floor.

    python -m bench.scale            # full: 10 to 10,000 pools over 10 accounts; 10 to 1,000-node health
    python -m bench.scale --quick    # CI smoke: small sizes over 2 accounts, about a minute and a half
    python -m bench.scale --pools 10,100 --nodes 10 --out /tmp/r.json --no-plot

Writes `bench/results/latest.json` (and `latest.png`) unless told otherwise; see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.scale import phases, report

RESULTS = Path(__file__).resolve().parent.parent / "results"


def _sizes(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("sizes must be at least 1")
    return values


def _count(text: str) -> int:
    values = _sizes(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one whole number, got {text!r}")
    return values[0]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI smoke: small sizes, short windows")
    parser.add_argument("--pools", type=_sizes, help="fleet sizes (default 10,100,1000,10000; quick 5,20)")
    parser.add_argument(
        "--accounts",
        type=_count,
        help="Batch accounts (one subscription) the pools are spread over round-robin (default 10; quick 2)",
    )
    parser.add_argument("--nodes", type=_sizes, help="health pool sizes (default 10,100,1000; quick 10,40)")
    parser.add_argument("--resync", type=float, help="real seconds standing for the 60 s resync interval")
    parser.add_argument("--time-scale", type=float, help="emulator speed-up for the fleet runs")
    parser.add_argument("--reaction-samples", type=int, help="spec changes timed at each fleet size")
    parser.add_argument(
        "--out", type=Path, default=None, help="results JSON (default bench/results/latest.json)"
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS",
        help="print the README tables of a results file, run nothing",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    if args.markdown is not None:
        print(report.markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return 0
    profile = phases.Profile.quick() if args.quick else phases.Profile()
    if args.resync is not None:
        profile = replace(profile, resync_interval=args.resync)
    if args.time_scale is not None:
        profile = replace(profile, time_scale=args.time_scale)
    if args.reaction_samples is not None:
        profile = replace(profile, reaction_samples=args.reaction_samples)
    if args.accounts is not None:
        profile = replace(profile, accounts=args.accounts)
    pools = args.pools or ([5, 20] if args.quick else [10, 100, 1000, 10000])
    nodes = args.nodes if args.nodes is not None else ([10, 40] if args.quick else [10, 100, 1000])
    out = args.out or RESULTS / "latest.json"

    started = time.monotonic()
    fleets = []
    for size in pools:
        print(f"== fleet of {size} pools over {max(1, min(profile.accounts, size))} accounts", flush=True)
        fleets.append(phases.fleet_run(size, profile, log=_log))
    healths = []
    for count in nodes:
        print(f"== extension health, one pool of {count} nodes", flush=True)
        healths.append(phases.health_run(count, profile, log=_log))
    doc = report.document(fleets, healths, quick=args.quick, profile=profile)
    doc["seconds"] = time.monotonic() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(report.table(doc))
    print(f"results: {out}")
    if not args.no_plot:
        from bench.scale import plot  # noqa: PLC0415 - matplotlib is the optional `bench` extra

        print(f"plot: {plot.render(doc, out.with_suffix('.png'))}")
    return 0


def _log(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    sys.exit(main())
