"""Per-sweep CPU cost of the firmware's scan scheduler under the MicroPython unix port.

A fake front end whose tune() and rssi_code() do nothing runs sweeps with a 0 us dwell and
settle, so no step waits and the measured sweep time is the scheduler's own work: two steps per
channel (a tune, a reading: the earliest-deadline choice, offset and clamp, slot bookkeeping)
plus encoding and writing the SWEEP frame to a null sink; once with the scheduler's
@micropython.native and once as plain bytecode (the same source with the decorator removed).
Envelope blocks are timed the same way (read_block returns at once).
It also reports the firmware's compiled size (mpy-cross, per architecture) and the RAM the app
holds after import under a 256 KiB heap, from source and from .mpy files.
Run: .venv/bin/python bench/bench_firmware_sweep.py [--quick]  (figures go to docs/benchmarks.md, Firmware)
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from straja.mp import mpy_cross_command, run_micropython
from straja.paths import FIRMWARE

MP_CODE = """
import json
from time import ticks_diff, ticks_us
from straja_node.clock import Clock
from straja_node.frame import FrameWriter
from straja_node.scheduler import Scheduler

class FE:
    name = "fe"
    kind = "bench"
    band_khz = (1, 10000000)
    settle_us = 0
    centre_khz = 0
    slope_udb = -22000
    intercept_mdbm = 15000
    def tune(self, f):
        pass
    def rssi_code(self):
        return 100

class Env(FE):
    def read_block(self, buf, n, rate_hz):
        return 0

def sink(buf, n):
    return n

clock = Clock()
out = {}
for n in (32, 256, 2048):
    sched = Scheduler([FE()], FrameWriter(sink, clock), clock)
    sched.set_plan([{"front_end": "fe", "start_khz": 2400000, "step_khz": 100,
                     "stop_khz": 2400000 + 100 * (n - 1), "dwell_us": 50, "settle_us": 0}])
    task = sched._tasks[0]
    task.dwell_us = 0  # below the config's minimum: no waiting at all
    reps = max(2048 // n, 1) * 20
    sched.step()  # START: the sweeps below each end with END + START, two steps per channel
    t0 = ticks_us()
    for _ in range(reps * 2 * n):
        sched.step()
    out["sweep_%d_us" % n] = ticks_diff(ticks_us(), t0) // reps
    t0 = ticks_us()
    for _ in range(reps):
        sched.writer.sweep(0, 0, 0, 2400000, 100, 1, 1, 0, n, task.codes, n, task.t)
    out["encode_%d_us" % n] = ticks_diff(ticks_us(), t0) // reps
# three front ends at once: the earliest-deadline choice looks at every task
fes = [FE(), FE(), FE()]
for k in range(3):
    fes[k].name = "fe%d" % k
sched = Scheduler(fes, FrameWriter(sink, clock), clock)
sched.set_plan([{"front_end": "fe%d" % k, "start_khz": 2400000, "step_khz": 100,
                 "stop_khz": 2400000 + 100 * 255, "dwell_us": 50, "settle_us": 0}
                for k in range(3)])
for task in sched._tasks:
    task.dwell_us = 0
t0 = ticks_us()
for _ in range(3 * 20 * 2 * 256):
    sched.step()
out["three_256_us"] = ticks_diff(ticks_us(), t0) // 20
sched = Scheduler([Env()], FrameWriter(sink, clock), clock)
sched.set_plan([{"front_end": "fe", "rate_hz": 20000, "n": 1006}])
block = sched._tasks[0]
t0 = ticks_us()
for _ in range(200):
    block.run(sched, t0)
out["block_1006_us"] = ticks_diff(ticks_us(), t0) // 200
print(json.dumps(out))
"""


def measure(path, repeats=3):
    """Best of `repeats` runs (the machine is shared: the minimum is the least disturbed)."""
    runs = [json.loads(run_micropython(MP_CODE, path=[path], heap="256K").stdout)
            for _ in range(repeats)]
    return {k: min(r[k] for r in runs) for k in runs[0]}


def bytecode_copy(out):
    """The firmware with the scheduler's @micropython.native lines removed, in `out`."""
    shutil.copytree(FIRMWARE, out / "fw")
    sched = out / "fw" / "straja_node" / "scheduler.py"
    lines = sched.read_text().splitlines(keepends=True)
    sched.write_text("".join(x for x in lines if x.strip() != "@micropython.native"
                             and not x.strip().startswith("@micropython.native ")))
    return out / "fw"


RAM_CODE = """
import gc
gc.collect()
base = gc.mem_alloc()
from straja_node import app
gc.collect()
print(gc.mem_alloc() - base)
"""


def compile_firmware(arch, out):
    """mpy-cross every firmware module into `out`; the total .mpy bytes."""
    total = 0
    for src in sorted(FIRMWARE.rglob("*.py")):
        dst = (out / src.relative_to(FIRMWARE)).with_suffix(".mpy")
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([mpy_cross_command(), "-march=" + arch, "-o", str(dst), str(src)],
                       check=True)
        total += dst.stat().st_size
    return total


def footprint():
    sources = sum(p.stat().st_size for p in FIRMWARE.rglob("*.py"))
    print("\nfirmware sources: %d bytes in %d files" % (sources, len(list(FIRMWARE.rglob("*.py")))))
    for arch in ("x64", "xtensawin", "armv6m"):
        with tempfile.TemporaryDirectory() as tmp:
            size = compile_firmware(arch, Path(tmp))
            line = "mpy-cross -march=%s: %d bytes of .mpy" % (arch, size)
            if arch == "x64":
                ram = int(run_micropython(RAM_CODE, path=[tmp], heap="256K").stdout)
                line += "; RAM after importing the app from .mpy: %d bytes" % ram
        print(line)
    ram = int(run_micropython(RAM_CODE, path=[FIRMWARE], heap="256K").stdout)
    print("RAM after importing the app from source: %d bytes" % ram)


def report(got):
    print("| sweep channels | per sweep (us) | frame encode (us) "
          "| per channel (us) | per step (us) |")
    print("|---|---|---|---|---|")
    for n in (32, 256, 2048):
        sweep, enc = got["sweep_%d_us" % n], got["encode_%d_us" % n]
        print("| %d | %d | %d | %.2f | %.2f |" % (n, sweep, enc, (sweep - enc) / n,
                                                 (sweep - enc) / n / 2))
    print("three front ends at once, 256 channels each: %.2f us per step (frames included)"
          % (got["three_256_us"] / (3 * 2 * 256)))
    print("envelope block of 1006 samples (scheduler + encode): %d us" % got["block_1006_us"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="one run of each (bench/run_all.py --quick: a check that it works)")
    args = ap.parse_args()
    rounds, repeats = (1, 1) if args.quick else (2, 3)
    # native and bytecode interleaved, so that a change in the machine's load hits both
    runs = {"native": [], "bytecode": []}
    with tempfile.TemporaryDirectory() as tmp:
        plain = bytecode_copy(Path(tmp))
        for _ in range(rounds):
            runs["native"].append(measure(FIRMWARE, repeats))
            runs["bytecode"].append(measure(plain, repeats))
    for name, got in runs.items():
        print("\nscheduler step as %s:" % name)
        report({k: min(r[k] for r in got) for k in got[0]})
    footprint()
    return 0


if __name__ == "__main__":
    sys.exit(main())
