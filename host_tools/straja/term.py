"""Terminal output shared by the commands: colour only on a TTY, JSON for scripts, exit codes."""
from __future__ import annotations

import json
import os
import sys

# Exit codes every `straja` command uses (README, "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1        # the command ran and found something wrong (a check failed, a test failed)
EXIT_USAGE = 2         # bad arguments (argparse's own code)
EXIT_NO_DEVICE = 3     # the port or device could not be opened or did not answer
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "bold": "1", "dim": "2"}


def use_colour(stream=sys.stdout) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, colour: str, stream=sys.stdout) -> str:
    if not use_colour(stream):
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def visible(text: str) -> str:
    """Text a node sent (a Remote ID operator ID, a firmware version, console text), as a line
    of a log or a terminal shows it: what is not printable (control characters: a newline
    would forge a log line, ESC drive the terminal; line separators, bidi overrides) is
    escaped as Python writes it (\\n, \\x1b, \\u202e)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def error(message: str, fix: str | None = None) -> None:
    """A clear error for a person on stderr: what went wrong, then how to fix it."""
    sys.stderr.write(paint("error: ", "red", sys.stderr) + message + "\n")
    if fix:
        sys.stderr.write("  fix: " + fix + "\n")
