# The scan scheduler with the real CC2500 driver on a recording fake SPI bus (fakebus.py), under
# MicroPython: a plan entry whose settle_us is under the driver's tunes from stored calibration
# (tests/test_drivers.py checks what this prints, one JSON object).
import gc
import json

import micropython
from time import ticks_add, ticks_diff, ticks_ms

from fakebus import FakeSpi, Log
from straja_node.clock import Clock
from straja_node.drivers.cc2500 import FAST_SETTLE_US, RECAL_MS, Cc2500
from straja_node.frame import FrameWriter
from straja_node.scheduler import Scheduler

FAST = {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2410000, "step_khz": 1000,
        "dwell_us": 450, "settle_us": FAST_SETTLE_US, "revisit": 10, "interleave": 1}
SLOW = {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2410000, "step_khz": 1000,
        "dwell_us": 1400}
OUTSIDE = {"front_end": "ism24", "start_khz": 2300000, "stop_khz": 2310000, "step_khz": 1000,
           "dwell_us": 450, "settle_us": FAST_SETTLE_US}


def sink(buf, n):
    return n


def strobes(items, cmd):
    return sum(1 for t in items if t == [cmd])


def run(sched, writer, frames):
    target = writer.frames_sent + frames
    while writer.frames_sent < target:
        sched.step()


out = {}
log = Log()
spi = FakeSpi(log)
cc = Cc2500("ism24", spi)
clock = Clock()
writer = FrameWriter(sink, clock, 7)
sched = Scheduler([cc], writer, clock)
log.take()
sched.set_plan([SLOW])
out["slow_plan_calibrations"] = strobes(log.take(), 0x33)  # SCAL: none, the chip calibrates
sched.set_plan([FAST])
out["fast_plan_calibrations"] = strobes(log.take(), 0x33)  # one SCAL per channel
out["stored"] = len(cc.index)
try:
    sched.set_plan([OUTSIDE])
except ValueError as e:
    out["refused"] = str(e)
out["refused_calibrations"] = strobes(log.take(), 0x33)  # the plan running keeps its table
out["stored_after_refused"] = sorted(cc.index)
run(sched, writer, 1)
sweep = log.take()
out["sweep_scal"] = strobes(sweep, 0x33)
out["sweep_fscal_writes"] = sum(1 for t in sweep if t[0] == 0x63)  # FSCAL3..1 burst writes
out["sweep_tunes"] = strobes(sweep, 0x34)
log.record = False
cc.cal_ms = ticks_add(ticks_ms(), -RECAL_MS)  # (a first recalibration in the warm-up)
run(sched, writer, 4)  # warm-up: first calls may intern or cache
cc.cal_ms = ticks_add(ticks_ms(), -RECAL_MS)  # the calibration falls due during the run
gc.collect()
micropython.heap_lock()  # any allocation raises MemoryError
try:
    run(sched, writer, 4)
    out["locked_ok"] = True
except MemoryError:
    out["locked_ok"] = False
micropython.heap_unlock()
out["recalibrated"] = ticks_diff(ticks_ms(), cc.cal_ms) < RECAL_MS
log.record = True
log.take()
sched.set_plan([SLOW])  # a plan that does not ask drops the table: nothing left to age
out["stored_after_slow"] = len(cc.index)
out["slow_after_fast"] = log.take()
print(json.dumps(out))
