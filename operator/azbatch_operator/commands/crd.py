"""`azbatch-operator crd` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    del args
    print("azbatch-operator crd: not implemented yet", file=sys.stderr)
    return 1
