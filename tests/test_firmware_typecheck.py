"""The firmware type-checks against the MicroPython stubs of ESP32 and RP2 (mypy, with the
port's stubs as the whole standard library: tools/typecheck_firmware.py), and that check does
reject code only CPython can run."""
import sys

import pytest

from straja.paths import FIRMWARE, REPO

sys.path.insert(0, str(REPO / "tools"))
import typecheck_firmware as tc  # noqa: E402

PORTS = tc.PORTS

GOOD = """\
import gc
import time
from array import array

import machine
import micropython
from micropython import const

N = const(8)
buf = array("H", bytearray(2 * N))
t0 = time.ticks_us()
pin = machine.Pin(2, machine.Pin.OUT)
gc.collect()
print(time.ticks_diff(time.ticks_us(), t0), gc.mem_free(), micropython.opt_level())
"""

# one line per CPython-only construct, each must give an error on its own line
BAD = """\
import pathlib
from dataclasses import dataclass
import logging
import json
json.dumps({}, sort_keys=True)
import time
time.perf_counter()
import threading
import gc
gc.get_objects()
"""


@pytest.mark.parametrize("port", PORTS)
def test_firmware_typechecks(port):
    code, report = tc.check(port, tc.firmware_paths())
    assert code == 0, report


@pytest.mark.parametrize("port", PORTS)
def test_app_modules_typecheck(port):
    mine = [FIRMWARE / "boot.py", FIRMWARE / "main.py"] + [
        FIRMWARE / "straja_node" / (m + ".py") for m in
        ("__init__", "app", "commands", "config", "safemode", "scheduler", "state", "store")]
    code, report = tc.check(port, mine)
    assert code == 0, report


@pytest.mark.parametrize("port", PORTS)
def test_micropython_code_passes(port, tmp_path):
    (tmp_path / "good.py").write_text(GOOD)
    code, report = tc.check(port, [tmp_path / "good.py"])
    assert code == 0, report


@pytest.mark.parametrize("port", PORTS)
def test_cpython_only_constructs_rejected(port, tmp_path):
    (tmp_path / "bad.py").write_text(BAD)
    code, report = tc.check(port, [tmp_path / "bad.py"])
    assert code == 1
    flagged = {int(line.split(":")[1]) for line in report.splitlines() if ": error:" in line}
    assert flagged == {1, 2, 3, 5, 7, 8, 10}, report
