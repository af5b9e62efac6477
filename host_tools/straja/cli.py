"""The `straja` command.

Commands are registered from one table (name, help, the function that configures its parser);
only the chosen command's module is imported, so `straja --help` starts without NumPy, pyserial
or the gateway. A command module imports those only in the function that runs the command, so
that its `--help` and argument errors come at once too (tests/test_cli.py). Every error a command raises is a StrajaError: printed with its fix (no
traceback), and the process exits with its code.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from typing import NoReturn

from . import __version__, term
from .errors import StrajaError
from .signals import stop_asked, stop_on_ctrl_c

# (name, help, "module:function configuring its parser"), in the order `straja --help` lists them.
COMMANDS = (
    ("doctor", "check this machine can run Straja", "straja.commands.doctor:configure"),
    ("ports", "list serial ports and the nodes on them", "straja.commands.ports:configure"),
    ("flash-micropython", "put MicroPython itself on a blank board (local image)",
     "straja.commands.flash:configure"),
    ("deploy", "put the Straja firmware on nodes (only what changed, atomically)",
     "straja.commands.deploy:configure"),
    ("provision", "blank board to tested node, recorded in the fleet inventory",
     "straja.commands.provision:configure"),
    ("info", "what runs on a node: MicroPython, firmware, node id",
     "straja.commands.device:configure_info"),
    ("config", "read or change a node's configuration", "straja.commands.device:configure_config"),
    ("reset", "restart a node", "straja.commands.device:configure_reset"),
    ("repl", "a plain terminal to the node's REPL", "straja.commands.device:configure_repl"),
    ("monitor", "decode and show a node's frames live", "straja.commands.monitor:configure"),
    ("sim", "virtual nodes and RF scenes", "straja.vnode.cli:configure"),
    ("gateway", "run the gateway service: read nodes, raise alerts",
     "straja.gateway.cli:configure_gateway"),
    ("events", "list and filter the gateway's stored events",
     "straja.gateway.cli:configure_events"),
    ("replay", "feed a recording through the gateway pipeline",
     "straja.gateway.cli:configure_replay"),
    ("known", "the site's known emitters (no alerts): list, forget, learn an alert's",
     "straja.gateway.cli:configure_known"),
    ("remoteid", "Remote ID (ASTM F3411 / EN 4709-002) tools", "straja.remoteid.cli:configure"),
    ("eval", "evaluate detection quality and speed against ground truth",
     "straja.eval.cli:configure"),
    ("demo", "virtual nodes, a simulated drone and the gateway, live",
     "straja.commands.demo:configure"),
    ("web-password", "hash a dashboard password for the gateway config",
     "straja.web.cli:configure"),
    ("hq", "the command post: many sites through bridged MQTT brokers",
     "straja.commands.hq:configure"),
)


def configurer(target: str):
    """The function a COMMANDS entry names ("module:function"), its module imported now; a
    StrajaError if the command needs a package an extra brings (a Pi gateway installs only
    `straja[gateway]`)."""
    module, _, function = target.partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as e:
        raise_missing_extra(e)


def raise_missing_extra(e: ModuleNotFoundError) -> NoReturn:
    """A StrajaError naming the package an extra brings, for a command that imports it (as it
    is parsed, or as it runs: a command's heavy imports are made when it runs, so its --help
    works without them); `e` itself when the missing module is Straja's own."""
    if (e.name or "").partition(".")[0] in ("straja", "straja_node"):
        raise e
    raise StrajaError(f"this command needs the Python package {e.name!r}, which is not "
                      "installed", "install the extra that brings it: pip install "
                      "'straja[gateway]', 'straja[tools]' or 'straja[eval]' (README)",
                      term.EXIT_USAGE) from e


def chosen_command(argv: list[str]) -> str | None:
    """The command `argv` runs: its first word that is not an option (`straja` itself takes
    only --help and --version)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(load: frozenset[str] | set[str] = frozenset()) -> argparse.ArgumentParser:
    """The parser, with the commands named in `load` configured in full; the others are only
    listed (their help line), which is all `straja --help` shows of them."""
    parser = argparse.ArgumentParser(
        prog="straja",
        description="Straja: counter-drone RF sensor network tools. "
        "`straja COMMAND --help` explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"straja {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, target in COMMANDS:
        command_parser = subparsers.add_parser(name, help=help_text)
        if name in load:
            configurer(target)(command_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    stop_on_ctrl_c()
    try:
        return run_command(sys.argv[1:] if argv is None else list(argv))
    except Exception:
        if stop_asked():  # a Ctrl-C turned into another error as it was raised (straja.signals)
            return term.EXIT_INTERRUPTED
        raise


def run_command(argv: list[str]) -> int:
    try:
        args = build_parser({chosen_command(argv)}).parse_args(argv)
        try:
            return args.func(args)
        except ModuleNotFoundError as e:
            raise_missing_extra(e)
    except StrajaError as e:
        term.error(str(e), e.fix)
        return e.code
    except KeyboardInterrupt:
        return term.EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`straja events | head -1`): it has what it wanted. Later writes,
        # including the interpreter's final flush, go nowhere instead of raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return term.EXIT_OK
    except OSError as e:
        where = f" ({_shown(e.filename)})" if e.filename else ""
        if e.errno in NAMING_ERRORS:  # (a path named, or made of a name given: a port's)
            term.error(f"{e.strerror}{where}", "shorten the name, or mend the links: the path "
                       "cannot be used as it is")
            return term.EXIT_USAGE
        # the machine's, not the command's: a full disk, an I/O error on a file it writes
        term.error(f"{e.strerror or e}{where}", "check the disk and the file named: the "
                   "command stopped there")
        return term.EXIT_FAILED


# OSErrors of a path as it was named, not of the machine: a name longer than the file system
# takes, a loop of symbolic links
NAMING_ERRORS = (errno.ENAMETOOLONG, errno.ELOOP)


def _shown(filename) -> str:
    text = str(filename)
    return text if len(text) <= 120 else f"{text[:100]}... ({len(text)} characters)"


if __name__ == "__main__":
    sys.exit(main())
