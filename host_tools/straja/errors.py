"""The one error type of every `straja` command: what went wrong, how to fix it, the exit code.

Libraries raise StrajaError (or a subclass naming the case); `straja.cli.main` prints the message
and the fix (never a traceback) and exits with the code (README, "Exit codes"; term.EXIT_*).
"""
from __future__ import annotations

from .term import EXIT_FAILED


class StrajaError(Exception):
    """`str(e)` says what went wrong, `fix` what to do about it (the class's FIX unless given),
    `code` the command's exit code (the class's CODE unless given)."""

    CODE = EXIT_FAILED
    FIX = ""  # a subclass's fix, when the raiser gives none

    def __init__(self, message: str, fix: str = "", code: int | None = None):
        super().__init__(message)
        self.fix = fix or self.FIX
        self.code = self.CODE if code is None else code
