"""The scan scheduler: runs the scan plan one sweep or envelope block at a time, round-robin.

Every buffer is allocated when the plan is set; `step()` allocates nothing, so the garbage
collector never runs in the middle of a dwell (tests/test_firmware_alloc.py checks it).

Dwell timing follows a fixed schedule: channel i owns the slot [t0 + i*dwell, t0 + (i+1)*dwell).
Each channel is tuned at the start of its slot, read after the front end's settle time, and the
next channel waits for the next slot. A channel whose reading ends after its slot has overrun:
the next dwell is then shorter than planned, and the frame says so (OVERRUN flag, `overruns`
counter) instead of the sweep silently stretching.
"""
from array import array

import micropython
from time import sleep_us, ticks_add, ticks_diff, ticks_us

from .clock import Stamp
from .config import SWEEP_US_MAX, check_entry

OVERRUN = 1
SATURATED = 2
TOP_CODE = 255
# A wait sleeps, then spins for its last SPIN_US: sleep_us overshoots by up to a scheduler
# tick on an OS (~0.1 ms on Linux, the virtual board), and a spin there steals the CPU other
# nodes need; on ESP32/RP2, sleep_us is itself a precise busy-wait for short delays.
SPIN_US = 250
SLEEP_MAX_US = 20000
DEFAULT_SWEEP_CHANNELS = 64
DEFAULT_READ_US = 500  # dwell added to the settle time in the default plan: time to read
DEFAULT_RATE_HZ = 10000
DEFAULT_BLOCK = 256


def wait_until(deadline):
    """Wait for ticks_us() to reach `deadline`: sleep in short pieces (Ctrl-C stays prompt), spin
    for the last stretch (a sleep can overshoot by a scheduler tick)."""
    while True:
        left = ticks_diff(deadline, ticks_us())
        if left <= 0:
            return
        if left > SPIN_US:
            sleep_us(min(left - SPIN_US, SLEEP_MAX_US))


class _Sweep:
    """A plan entry on a tunable front end."""

    def __init__(self, index, fe, entry, cal):
        self.index = index
        self.fe = fe
        lo, hi = fe.band_khz
        if "channels" in entry:
            freqs = entry["channels"]
            self.start_khz = freqs[0]
            # the frame carries start and step: a list that is not evenly spaced sends step 0
            # and the host takes the frequencies from the stored plan
            step = freqs[1] - freqs[0] if len(freqs) > 1 else 0
            for i in range(1, len(freqs)):
                if freqs[i] - freqs[i - 1] != step:
                    step = 0
            self.step_khz = step if step > 0 else 0
        else:
            self.start_khz = entry["start_khz"]
            self.step_khz = entry["step_khz"]
            n = (entry["stop_khz"] - self.start_khz) // self.step_khz + 1
            freqs = [self.start_khz + i * self.step_khz for i in range(n)]
        for f in freqs:
            if f < lo or f > hi:
                raise ValueError("%s: %d kHz outside its band %d..%d" % (fe.name, f, lo, hi))
        self.freqs = array("i", freqs)
        self.n = len(freqs)
        self.dwell_us = entry["dwell_us"]
        self.settle_us = entry.get("settle_us", fe.settle_us)
        if self.settle_us > self.dwell_us:
            raise ValueError("%s: dwell_us %d is shorter than its settle time %d us"
                             % (fe.name, self.dwell_us, self.settle_us))
        self.offset = cal.get("offset", 0)
        self.codes = bytearray(self.n)
        self.sweep_id = 0
        self.t = Stamp()

    @micropython.native  # a quarter less time per channel than bytecode (docs/benchmarks.md)
    def run(self, sched):
        fe = self.fe
        freqs = self.freqs
        codes = self.codes
        dwell = self.dwell_us
        settle = self.settle_us
        offset = self.offset
        flags = 0
        late = 0
        sched.clock.update()
        self.t.copy(sched.clock)
        t0 = ticks_us()
        for i in range(self.n):
            slot = ticks_add(t0, i * dwell)
            fe.tune(freqs[i])
            wait_until(ticks_add(slot, settle))
            code = fe.rssi_code() + offset
            if code >= TOP_CODE:
                code = TOP_CODE
                flags |= SATURATED
            elif code < 0:
                code = 0
            codes[i] = code
            end = ticks_add(slot, dwell)
            if ticks_diff(ticks_us(), end) > 0:
                late += 1
            else:
                wait_until(end)
        duration = ticks_diff(ticks_us(), t0)
        if late:
            flags |= OVERRUN
            sched.overruns += late
        sched.writer.sweep(self.index, flags, self.sweep_id, self.start_khz, self.step_khz, dwell,
                           duration, 0, self.n, codes, self.n, self.t)
        self.sweep_id = (self.sweep_id + 1) & 0xFFFF


class _Block:
    """A plan entry on an envelope (log detector) front end."""

    def __init__(self, index, fe, entry):
        self.index = index
        self.fe = fe
        self.rate_hz = entry["rate_hz"]
        self.n = entry.get("n", DEFAULT_BLOCK)
        self.samples = array("H", bytearray(2 * self.n))
        self.block_id = 0
        self.t = Stamp()

    def run(self, sched):
        sched.clock.update()
        self.t.copy(sched.clock)
        flags = self.fe.read_block(self.samples, self.n, self.rate_hz)
        if flags & OVERRUN:
            sched.overruns += 1
        fe = self.fe
        sched.writer.envelope(self.index, flags, self.block_id, self.rate_hz, fe.centre_khz,
                              fe.slope_udb, fe.intercept_mdbm, self.samples, self.n, self.t)
        self.block_id = (self.block_id + 1) & 0xFFFF


def is_envelope(fe):
    return hasattr(fe, "read_block")


def default_plan(front_ends):
    """The plan used while the config's plan is empty: every front end, across its whole band,
    with as many channels (up to DEFAULT_SWEEP_CHANNELS) as fit a sweep in SWEEP_US_MAX."""
    plan = []
    for fe in front_ends:
        if is_envelope(fe):
            plan.append({"front_end": fe.name, "rate_hz": DEFAULT_RATE_HZ, "n": DEFAULT_BLOCK})
            continue
        lo, hi = fe.band_khz
        dwell = fe.settle_us + DEFAULT_READ_US
        n = max(min(DEFAULT_SWEEP_CHANNELS, SWEEP_US_MAX // dwell), 2)
        step = max((hi - lo) // (n - 1), 1)
        plan.append({"front_end": fe.name, "start_khz": lo, "stop_khz": lo + step * (n - 1),
                     "step_khz": step, "dwell_us": dwell})
    return plan


class Scheduler:
    """Runs a scan plan on `front_ends` (hw.front_ends order), writing frames to `writer`."""

    def __init__(self, front_ends, writer, clock):
        self.front_ends = front_ends
        self.writer = writer
        self.clock = clock
        self.overruns = 0
        self.plan = []
        self._tasks = []
        self._next = 0

    def set_plan(self, plan, cal=None):
        """Build the tasks (and all their buffers) for `plan`; an empty plan means the default.
        `cal`: config["cal"], whose "offset" per front end is added to its RSSI codes (the other
        calibration keys are the drivers', applied by hw.front_ends).

        Raises ValueError, leaving the current plan running, if the plan does not fit the
        front ends (unknown name, frequency outside the band, entry of the wrong kind)."""
        cal = cal or {}
        entries = plan or default_plan(self.front_ends)
        tasks = []
        for k in range(len(entries)):
            e = entries[k]
            check_entry(e, "plan[%d]" % k)
            i = self._find(e["front_end"])
            fe = self.front_ends[i]
            c = cal.get(fe.name, {})
            if is_envelope(fe) != ("rate_hz" in e):
                raise ValueError("plan[%d]: %s takes %s" % (
                    k, fe.name, "rate_hz and n" if is_envelope(fe) else "channels and dwell_us"))
            tasks.append(_Block(i, fe, e) if is_envelope(fe) else _Sweep(i, fe, e, c))
        self._tasks = tasks
        self._next = 0
        self.plan = entries

    def _find(self, name):
        for i in range(len(self.front_ends)):
            if self.front_ends[i].name == name:
                return i
        raise ValueError("no front end " + name)

    def step(self):
        """Run the next sweep or block of the plan; False if there is nothing to run."""
        tasks = self._tasks
        if not tasks:
            return False
        task = tasks[self._next]
        self._next = (self._next + 1) % len(tasks)
        task.run(self)
        return True
