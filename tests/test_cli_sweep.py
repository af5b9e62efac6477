"""Every `straja` command and subcommand, found by walking the parser (a new command or option is
covered without a line here), refuses bad arguments while parsing: exit code 2, one `error:` line
naming the argument, no traceback, nothing created, no port opened. The hand-written cases whose
refusal comes after parsing (two arguments that disagree, a file that is not a database) are
tests/test_cli.py's BAD_ARGUMENTS."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from straja import argtypes, cli

STRAJA = str(Path(sys.executable).with_name("straja"))
PARSER = cli.build_parser({name for name, _, _ in cli.COMMANDS})

# Values no checking type lets through for every argument that takes one: not numbers, zero and
# negative counts and durations, not a number at all, paths under a missing folder or under a
# file, an empty word, a name longer than the file system takes (its OSError escaped the path
# types: exit 1, hard5), text IDNA cannot encode. {file} is an existing plain file.
BAD_VALUES = ["abc", "0", "-1", "-2.5", "nan", "inf", "", "/missing/dir/x", "{file}/x", "{file}",
              "99999999999", "99999999999999999999999", "9999-12-31T23:59:59", "h:0",
              "node:abc", "node:0", "serial:", "x" * 300, "caf\u00e9\u202e:1883"]

# Arguments that take any text, and who checks it (all after parsing, before any file is made).
# Any other argument that takes a value must have a checking type or a fixed set of choices.
FREE_TEXT = {
    ("flash-micropython", "IMAGE"): "its kind and presence, checked before the port (exit 2)",
    ("deploy", "--mpy-cross"): "a command: one that does not run is exit 2, before any port",
    ("config", "KEY | KEY=VALUE"): "the node checks every key and value (BAD_ARG, nothing set)",
    ("sim", "check", "scene"): "a scene file or catalogue name: loaded first, exit 2 naming the "
                               "file, line and field",
    ("sim", "truth", "scene"): "as sim check",
    ("events", "--alert"): "an alert id: none matching lists nothing",
    ("known", "add", "alert_id"): "an alert id: one not in the store is exit 2",
    ("remoteid", "decode", "HEX"): "payloads: each one's error is told per input",
    ("eval", "--scene"): "scene files, loaded first: exit 2 naming file, line and field",
}


def _subparsers(parser):
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def commands(parser=PARSER, path=()):
    """(words, parser) of every command that runs: the leaves, and a command whose subcommand
    is optional (`straja hq`)."""
    sub = _subparsers(parser)
    if sub is None or not sub.required:
        yield path, parser
    for name, child in (sub.choices.items() if sub else ()):
        yield from commands(child, (*path, name))


COMMANDS = sorted(commands())


def takes_value(action) -> bool:
    return action.nargs != 0 and not isinstance(action, (argparse._HelpAction,
                                                         argparse._SubParsersAction))


def required(action) -> bool:
    """A word the command cannot run without (argparse marks a "*" positional required too)."""
    return takes_value(action) and action.required and action.nargs not in ("*", "?")


def name_of(action) -> str:
    return action.option_strings[0] if action.option_strings else action.metavar or action.dest


def refused(action, value: str) -> bool:
    """Whether argparse refuses `value` for `action` (its type raises, or it is no choice)."""
    try:
        converted = action.type(value) if action.type else value
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return True
    return bool(action.choices) and converted not in action.choices


# Words tried, in order, where a command needs an argument before the one under test.
FILLERS = ["/dev/nope", "get", "3", "{file}", "demo_incursion", "A", "h:1883"]


FILLER_FOR = {"IMAGE": "{file}"}  # (any text passes its type; the command checks it)


def acceptable(action, fill) -> str:
    if name_of(action) in FILLER_FOR:
        return fill(FILLER_FOR[name_of(action)])
    return next(v for v in map(fill, FILLERS) if not refused(action, v))


def required_words(parser, fill, skip=None) -> list[str]:
    """Words that satisfy `parser`'s required arguments, `skip` (an action) left out."""
    words = []
    for action in parser._actions:
        if action is skip or not required(action):
            continue
        words += [*action.option_strings[:1], acceptable(action, fill)]
    return words


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory with one plain file; stdin is not a terminal."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    (tmp_path / "notes.txt").write_text("not a database, an image or a scene\n")
    return tmp_path


def parse_error(argv: list[str], capsys) -> tuple[int | None, str]:
    """The exit code of a refusal while parsing (None when parsing passed) and stderr."""
    try:
        cli.build_parser({cli.chosen_command(argv)}).parse_args(argv)
    except SystemExit as e:
        return e.code, capsys.readouterr().err
    return None, capsys.readouterr().err


def test_every_argument_that_takes_a_value_is_checked_or_free_text():
    unchecked = []
    for path, parser in COMMANDS:
        for action in filter(takes_value, parser._actions):
            # (a bare int or float has no bounds: 10**30 overflows SQLite, a clock, a port)
            if action.type in (None, str, Path, int, float) and not action.choices:
                name = name_of(action)
                if (*path, name) not in FREE_TEXT:
                    unchecked.append(" ".join((*path, name)))
    assert not unchecked, f"give these a type from straja.argtypes (or say why not): {unchecked}"
    for key in FREE_TEXT:
        assert any(path == key[:-1] and key[-1] in map(name_of, p._actions)
                                    for path, p in COMMANDS), f"FREE_TEXT names nothing: {key}"


@pytest.mark.parametrize("path, parser", COMMANDS, ids=[" ".join(p) or "straja" for p, _ in
                                                       COMMANDS])
def test_bad_values_are_refused_while_parsing_naming_the_argument(path, parser, workdir, capsys):
    def fill(word: str) -> str:
        return word.format(file=workdir / "notes.txt")

    tried = 0
    for action in filter(takes_value, parser._actions):
        before = [] if action.option_strings else required_words(parser, fill, skip=action)
        for value in map(fill, BAD_VALUES):
            if not refused(action, value):
                continue
            if action.option_strings:
                argv = [*path, *required_words(parser, fill), action.option_strings[0], value]
            else:
                argv = [*path, *before[:_position(parser, action)], value]
            code, err = parse_error(argv, capsys)
            tried += 1
            assert code == 2, (argv, err)
            last = err.strip().splitlines()[-1]
            assert last.startswith(f"straja {' '.join(path)}: error: ".replace("  ", " ")), argv
            assert name_of(action) in last or (action.metavar or "") in last \
                or "required" in last, (argv, last)
            assert "Traceback" not in err
    assert sorted(p.name for p in workdir.iterdir()) == ["notes.txt"]  # nothing made
    if any(takes_value(a) and a.type not in (None, str, Path) for a in parser._actions):
        assert tried, path


def _position(parser, action) -> int:
    """How many required positional words come before `action`."""
    positionals = [a for a in parser._actions if takes_value(a) and not a.option_strings]
    return sum(map(required, positionals[:positionals.index(action)]))


@pytest.mark.parametrize("path, parser", COMMANDS, ids=[" ".join(p) or "straja" for p, _ in
                                                       COMMANDS])
def test_unknown_options_and_missing_arguments_exit_2(path, parser, workdir, capsys):
    def fill(word: str) -> str:
        return word.format(file=workdir / "notes.txt")

    code, err = parse_error([*path, *required_words(parser, fill), "--no-such-option"], capsys)
    assert code == 2 and "unrecognized arguments: --no-such-option" in err, err
    if any(map(required, parser._actions)):
        code, err = parse_error(list(path), capsys)
        assert code == 2 and "the following arguments are required" in err, (path, err)
    assert sorted(p.name for p in workdir.iterdir()) == ["notes.txt"]


PORT_COMMANDS = [(path, parser) for path, parser in COMMANDS
                 if any(a.metavar == "PORT" and required(a) for a in parser._actions)]


def test_the_port_commands_are_found():
    assert {p for p, _ in PORT_COMMANDS} == {("info",), ("config",), ("reset",), ("repl",),
                                             ("monitor",), ("provision",), ("flash-micropython",)}


@pytest.mark.parametrize("path, parser", PORT_COMMANDS, ids=[" ".join(p) for p, _ in PORT_COMMANDS])
def test_ports_that_are_not_there_exit_3_with_a_fix(path, parser, workdir, monkeypatch,
                                                    capsys):
    """A port that is not there is not a bad argument but a device that cannot be opened
    (README, "Exit codes"): exit 3, an error naming the port and a fix line."""
    image = workdir / "mp.bin"
    image.write_bytes(b"\xe9" + bytes(15))

    def fill(word: str) -> str:
        return word.format(file=image)

    argv = [*path, *required_words(parser, fill)]
    terminal, typing_end = os.openpty()  # (repl first asks for a terminal to type into)
    with open(typing_end, closefd=False) as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        code = cli.main(argv)
    os.close(terminal)
    os.close(typing_end)
    err = capsys.readouterr().err
    assert code == 3, (argv, err)
    assert "/dev/nope" in err and "fix:" in err and "Traceback" not in err, err
    assert sorted(p.name for p in workdir.iterdir()) == ["mp.bin", "notes.txt"]


def test_a_real_process_refuses_an_unknown_option_of_every_command(tmp_path):
    """The same through the installed `straja` command: one usage and one error line each."""
    for path, _ in COMMANDS:
        done = subprocess.run([STRAJA, *path, "--no-such-option"], capture_output=True,
                              text=True, timeout=60, cwd=tmp_path, stdin=subprocess.DEVNULL)
        assert done.returncode == 2, (path, done.stderr)
        assert "error:" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not list(tmp_path.iterdir())


def test_every_number_argument_has_an_upper_bound():
    """A count or duration past any sensible one (a typo) is refused while parsing, not passed
    on to overflow the clock (time.sleep, Event.wait) or SQLite's integers later."""
    numeric = [(path, action) for path, parser in COMMANDS for action in parser._actions
               if takes_value(action) and getattr(action.type, "__module__", "") ==
               argtypes.__name__ and action.type.__name__ in NUMBER_TYPES]
    assert len(numeric) > 20
    for path, action in numeric:
        for value in ("1e300", "99999999999", "3000000000"):
            assert refused(action, value), (path, name_of(action), value)
    for text in ("1e300", "99999999999"):
        with pytest.raises(argparse.ArgumentTypeError, match="at most"):
            argtypes.positive_float(text) if "e" in text else argtypes.positive_int(text)
    assert argtypes.positive_float("1e9") == 1e9 and argtypes.positive_int("2147483647")


NUMBER_TYPES = {"positive_int", "non_negative_int", "positive_float", "non_negative_float",
                "tcp_port", "node_id"}


@pytest.mark.parametrize("value", ["99999999999999999999999", "9999-12-31T23:59:59",
                                   "1969-12-31T23:59:59"])
def test_times_outside_the_stores_range_are_refused(value, workdir, capsys):
    for option in ("--since", "--until"):
        code, err = parse_error(["events", option, value], capsys)
        assert code == 2 and f"argument {option}: outside 1970..2262" in err, err
