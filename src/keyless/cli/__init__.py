"""The `keyless` command. Each subcommand lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

# Subcommand modules, in the order `keyless --help` lists them.
_COMMANDS = ("server", "credentials", "policy", "trail", "env", "run", "instances", "demo", "doctor")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="keyless", description="A local AWS for IAM roles, instance profiles and IMDS.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"keyless.cli.{name}")
        except ModuleNotFoundError as exc:  # a subcommand still being built
            if exc.name != f"keyless.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    return int(args.func(args) or 0)
