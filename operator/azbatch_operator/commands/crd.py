"""`azbatch-operator crd`: print the BatchPool CustomResourceDefinition generated from the models."""

from __future__ import annotations

import argparse
import sys

from azbatch_operator.crd import CRD_FILES, render_crd_yaml


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"The same file is kept in {' and '.join(CRD_FILES)}. Apply it server-side, as docs/install.md "
        "does: azbatch-operator crd | kubectl apply --server-side --force-conflicts -f -"
    )


def run(args: argparse.Namespace) -> int:
    del args
    sys.stdout.write(render_crd_yaml())
    return 0
