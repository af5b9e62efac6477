# Run a sweep plan on a recording fake front end and print what happened, as JSON: every tune
# and reading with its ticks_us, each sweep's t0, the frames sent (hex) and the overruns
# (tests/test_firmware_app.py). MICROPYPATH holds firmware/ and this folder. An optional fourth
# argument, [k, us]: the k-th reading (from 1) takes `us` longer (a slow bus answer).
import json
import sys
from time import ticks_add, ticks_diff, ticks_us

from straja_node.clock import Clock
from straja_node.frame import FrameWriter
from straja_node.scheduler import Scheduler

LOG = []
OUT = []


class Recorder:
    """A tunable front end whose readings differ from one reading to the next (so that the
    lower of two is a choice) and whose third reading is the top code."""

    name = "cc"
    kind = "cc2500"
    band_khz = (2400000, 2483000)
    settle_us = 100

    def __init__(self, stall):
        self.freq = 0
        self.reads = 0
        self.stall = stall

    def tune(self, freq_khz):
        self.freq = freq_khz
        LOG.append(["tune", freq_khz, ticks_us()])

    def rssi_code(self):
        self.reads += 1
        code = 300 if self.reads == 3 else (self.reads * 97 + 13) % 240
        LOG.append(["read", self.freq, ticks_us(), code])
        if self.reads == self.stall[0]:
            end = ticks_add(ticks_us(), self.stall[1])
            while ticks_diff(end, ticks_us()) > 0:
                pass
        return code


def sink(buf, n):
    OUT.append(bytes(buf[:n]))
    return n


def main(plan, cal, sweeps, stall):
    clock = Clock()
    writer = FrameWriter(sink, clock, 7)
    sched = Scheduler([Recorder(stall)], writer, clock)
    sched.set_plan(plan, cal)
    task = sched._tasks[0]
    t0 = None
    while writer.frames_sent < sweeps:
        sched.step()
        if task.t0 != t0 and writer.frames_sent < sweeps:  # a sweep began in this step
            t0 = task.t0
            LOG.append(["start", t0])
    print(json.dumps({"log": LOG, "wire": b"".join(OUT).hex(), "overruns": sched.overruns}))


main(json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]),
     json.loads(sys.argv[4]) if len(sys.argv) > 4 else [0, 0])
