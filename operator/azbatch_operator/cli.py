"""`azbatch-operator` command line: one sub-command per module in `azbatch_operator.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# sub-command -> (module under azbatch_operator.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "run the operator against a Kubernetes cluster (kubeconfig or in-cluster)"),
    "demo": ("demo", "run the whole product locally: Azure emulator, Kubernetes stand-in, operator"),
    "validate": ("validate", "check a BatchPool manifest against the schema and the Azure Batch rules"),
    "plan": ("plan", "show what the operator would do to a pool to make it match a manifest"),
    "crd": ("crd", "print the BatchPool CustomResourceDefinition generated from the models"),
}


class CommandParser(argparse.ArgumentParser):
    """A sub-command's parser. A usage error exits `usage_exit`: argparse's 2, unless the command
    gives 2 a meaning of its own (its module's EXIT_USAGE, as `plan`, whose 2 is "changes planned")."""

    usage_exit = 2

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(self.usage_exit, f"{self.prog}: error: {message}\n")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every sub-command, or with `only`, the full arguments of that one: a command imports just
    its own module (`run` never loads the demo's emulator and stand-in, nor `plan`'s renderer)."""
    parser = argparse.ArgumentParser(
        prog="azbatch-operator",
        description="Keep Azure Batch pools equal to BatchPool resources.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            module = importlib.import_module(f"azbatch_operator.commands.{module_name}")
            module.add_arguments(command_parser)
            command_parser.usage_exit = getattr(module, "EXIT_USAGE", CommandParser.usage_exit)
            command_parser.set_defaults(_module=module, _parser=command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, unknown = build_parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_known_args(argv)
    if unknown:  # argparse leaves these to the top level, which would show its own usage, not the command's
        args._parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    exit_code: int = args._module.run(args)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
