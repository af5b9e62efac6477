# interpreter: micropython
# Per-frame encode cost of the firmware encoder, viper kernels vs plain bytecode, under MicroPython:
#
#     .venv/bin/micropython bench/bench_firmware_frame.py [--quick]    (or `make bench`)
#
# The plain-bytecode kernels the viper ones in straja_node/frame.py are measured against are made
# here only, from frame.py's own source. Each row is the mean over N frames of FrameWriter calls
# (header, CRC, COBS, write to a null sink), first with frame.py's viper kernels, then with the
# bytecode ones swapped in. The unix port on a PC is much faster than an MCU; the ratio is what
# carries. Figures go to docs/benchmarks.md, "Wire protocol".
import sys

sys.path.insert(0, (__file__.rsplit("/", 1)[0] if "/" in __file__ else ".") + "/../firmware")

import time  # noqa: E402

from straja_node import frame  # noqa: E402
from straja_node.clock import Clock, Stamp  # noqa: E402

QUICK = "--quick" in sys.argv  # (bench/run_all.py --quick: a run that checks it works)
N = 200 if QUICK else 2000
REPEATS = 3 if QUICK else 5
VIPER = "@micropython.viper"


def identity(x):
    return x


def bytecode_kernels():
    """{name: function} of frame.py's viper kernels compiled again as plain bytecode: the same
    source without the @micropython.viper decorator, ptr8/ptr16 being the buffer itself.
    Deriving them (and their names) from the firmware source keeps the two variants the same
    algorithm, whatever kernels frame.py has."""
    with open(frame.__file__) as f:
        lines = f.read().split("\n")
    names = [lines[i + 1][4:lines[i + 1].index("(")] for i, line in enumerate(lines) if line == VIPER]
    ns = {"ptr8": identity, "ptr16": identity}
    exec("\n".join(line for line in lines if line != VIPER), ns)
    return {name: ns[name] for name in names}


class FixedClock(Stamp):
    """Node time that stands still, so that both variants' wire bytes can be compared."""

    def update(self):
        pass


def null_write(buf, n):
    return n


def cases(w):
    codes = bytearray((i * 7) & 0xFF for i in range(1024))
    samples = bytearray(1024)
    return [
        ("sweep 64 ch (104 B)", lambda: w.sweep(0, 0, 1, 5645000, 10000, 300, 19200, 0, 64, codes, 64)),
        ("sweep 256 ch (296 B)", lambda: w.sweep(0, 0, 1, 2400000, 333, 350, 89600, 0, 256, codes, 256)),
        ("sweep 1024 ch (1064 B)", lambda: w.sweep(0, 0, 1, 5645000, 500, 300, 307200, 0, 1024, codes, 1024)),
        ("envelope 512 samples (1060 B)", lambda: w.envelope(3, 0, 1, 100000, 5800000, -22000, 15000, samples, 512)),
        ("status (53 B)", lambda: w.status(1, 2, 0, 1, 100000, 2000, 0, 0, 0xBEEF, 0, b"0.1.0")),
    ]


def per_frame_us(fn):
    """(min, median) over REPEATS of the mean µs per call over N calls (wall time: the unix
    port has no CPU clock; the min is the figure least disturbed by other processes)."""
    fn()
    runs = []
    for _ in range(REPEATS):
        t0 = time.ticks_us()
        for _ in range(N):
            fn()
        runs.append(time.ticks_diff(time.ticks_us(), t0) / N)
    runs.sort()
    return runs[0], runs[REPEATS // 2]


def measure():
    """(per-frame (min, median) µs of each case, the wire bytes of one round of the cases)."""
    w = frame.FrameWriter(null_write, Clock(), 1)
    times = [(name, per_frame_us(fn)) for name, fn in cases(w)]
    wire = bytearray()
    w = frame.FrameWriter(lambda buf, n: wire.extend(buf[:n]), FixedClock(), 1)
    for _, fn in cases(w):
        fn()
    return times, wire


def main():
    viper, wire = measure()
    for name, fn in bytecode_kernels().items():
        setattr(frame, name, fn)
    plain, same = measure()
    assert same == wire, "the bytecode kernels encode differently"
    print("min / median of %d runs of %d frames each" % (REPEATS, N))
    print("| frame | viper us/frame | bytecode us/frame | speed-up (min) |")
    print("|---|---:|---:|---:|")
    for (name, v), (_, p) in zip(viper, plain):
        print("| %s | %.1f / %.1f | %.1f / %.1f | %.1fx |" % (name, v[0], v[1], p[0], p[1], p[0] / v[0]))


main()
