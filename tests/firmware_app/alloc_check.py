# Run the scan scheduler with fake front ends and report the heap used per step
# (tests/test_firmware_alloc.py). MICROPYPATH holds firmware/ and this folder.
import gc
import json
import sys

import micropython

import fakehw
from straja_node.clock import Clock
from straja_node.frame import FrameWriter
from straja_node.scheduler import Scheduler

PLAN = [
    # a revisit entry (61 channels in blocks of 4, the last of 1) beside a plain one
    {"front_end": "cc", "start_khz": 2400000, "stop_khz": 2420000, "step_khz": 333,
     "dwell_us": 150, "revisit": 4},
    {"front_end": "rx", "channels": [5658000, 5695000, 5732000, 5769000, 5806000, 5843000,
                                     5880000, 5917000], "dwell_us": 300},
    {"front_end": "logdet", "rate_hz": 20000, "n": 512},
]
CAL = {"cc": {"offset": 4}}
BYTES = [0]


def sink(buf, n):
    BYTES[0] += n
    return n


def run_until(sched, writer, frames):
    """Step the scheduler until `frames` more frames are out (a step is a tune, a reading, or
    a block or frame: several steps per frame)."""
    target = writer.frames_sent + frames
    while writer.frames_sent < target:
        sched.step()


def main(frames):
    clock = Clock()
    writer = FrameWriter(sink, clock, 7)
    sched = Scheduler(fakehw.front_ends({}), writer, clock)
    sched.set_plan(PLAN, CAL)
    run_until(sched, writer, 6)  # warm-up: first calls may intern or cache
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    run_until(sched, writer, frames)
    grown = gc.mem_alloc() - before
    micropython.heap_lock()
    locked_ok = True
    try:
        run_until(sched, writer, frames)
    except MemoryError:
        locked_ok = False
    micropython.heap_unlock()
    gc.enable()
    print(json.dumps({ "grown": grown, "locked_ok": locked_ok,
                      "frames": writer.frames_sent, "bytes": BYTES[0],
                      "overruns": sched.overruns}))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
