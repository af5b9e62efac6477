"""The `straja` command. Each subcommand lives in its own module with `add_parser(subparsers)`."""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__, term

# Modules that register subcommands, in the order `straja --help` lists them.
COMMAND_MODULES = (
    "straja.doctor",
    "straja.ports",
    "straja.flash",
    "straja.deploy",
    "straja.provision",
    "straja.device",
    "straja.monitor",
    "straja.vnode.cli",
    "straja.gateway.cli",
    "straja.eval.cli",
    "straja.remoteid.cli",
    "straja.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="straja",
        description="Straja: counter-drone RF sensor network tools. "
        "`straja COMMAND --help` explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"straja {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return term.EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
