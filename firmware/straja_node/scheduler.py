"""The scan scheduler: runs every plan entry at once, one short step at a time, earliest
deadline first, so that while one front end settles the others take their readings.

The radios are independent chips on their own buses (the RX5808 on its 3-wire bus and ADC, the
SPI transceivers on their own chip selects), so a retuned RX5808 can settle for 20-30 ms while
the CC2500 and the SX126x sweep dozens of channels. Each sweep entry is a small state machine:
START (stamp the sweep, tune channel 0), READ (the settle deadline has come: take the reading;
the next step is due at the next slot), TUNE (retune at the slot's start), END (the last slot is
over: send the SWEEP frame, then START again). `step()` waits for the task whose deadline is
earliest and runs its step; a wait longer than SLEEP_MAX_US returns to the app's loop instead,
so commands are served and Ctrl-C is seen between steps.

Dwell timing follows a schedule per sweep: slot s owns [t0 + s*dwell, t0 + (s+1)*dwell)
(slot s reads channel s, except in a revisit sweep, below). Its channel is tuned at the slot's
start (or as soon after as the CPU is free), read `settle_us` after that tune, and the next slot
waits for its start. A reading that ends after its slot is an overrun, counted once: the
schedule drops the backlog (the rest of the sweep moves on by the slip, as a periodic timer
skips the periods it missed) rather than running every later slot late until it catches up,
which turned one stall of a few ms into a late reading in each of the next slots (issue 20).
The frame says so (OVERRUN flag, the scheduler's `overruns` and the task's own count), and its
duration_us, measured, includes the slip: the host places reading p at t_us + p * duration_us / n.

A revisit entry ("revisit": m) reads every channel twice and sends both readings: its sweep has
2n slots, channels in blocks of m, each block read twice in a row (b..b+r-1, b..b+r-1, with
r = min(m, n - b)), so only an emitter that stays on a channel for r dwells is in both readings
(docs/firmware.md, "Revisit"). The TUNE step computes its slot's channel: no order table.

An envelope block (log detector) stays one blocking step (the driver samples at a fixed rate
for n / rate_hz seconds: 25.6 ms by default); the next one is due a longest sweep of the plan
after it ends (back to back if the plan has no sweeps). It is planned, so the sweeps under way
pause for it: their remaining slots move on by the block's duration, a reading it delays is not
an overrun, and the sweep's duration_us includes the pause. (Counted as overruns, each block
made the next ~50 readings of every sweep of the default plan late, the 25.6 ms caught up at the
~0.5 ms margin of a dwell: some 370 overruns a second, on a board as on a virtual node.)

A sweep that tunes from stored calibration (the CC2500's `store_channels`, for an entry whose
settle_us is under the driver's: docs/firmware.md, "Fast tuning") gives its channels to the
driver once the plan is valid, and calibrates them again at the end of a sweep when the driver's
`recal_due()`: that calibration is planned work, as an envelope block.

Every buffer is allocated when the plan is set; a step allocates nothing, so the garbage
collector never runs in the middle of a dwell (tests/test_firmware_alloc.py checks it).
"""
from array import array

import micropython
from micropython import const
from time import sleep_us, ticks_add, ticks_diff, ticks_us

from .clock import Stamp
from .config import check_entry
from .limits import ENVELOPE_N_DEFAULT, SLEEP_MAX_US, SWEEP_US_MAX
from .plan import default_plan, is_envelope, stored_tuning
from .wire import (FLAG_INTERLEAVED, FLAG_OVERRUN, FLAG_PAIRS, FLAG_REVISIT, FLAG_SATURATED,
                   RSSI_CODE_MAX, interleave_stride)

# the phases of a sweep task (docs/firmware.md, "Timing and overruns"); const: folded in run()
_START = const(0)
_TUNE = const(1)
_READ = const(2)
_END = const(3)


def wait_until(deadline):
    """Sleep until ticks_us() reaches `deadline`, at most SLEEP_MAX_US away. No spin: on ESP32 and
    RP2 sleep_us is itself a busy-wait, precise to a few us; on the unix port (a virtual node) a
    spin would take the CPU that other nodes and the virtual board need, and the interpreter
    runs without timer slack (straja.vnode.bridge), so a sleep ends when the OS next runs it."""
    while True:
        left = ticks_diff(deadline, ticks_us())
        if left <= 0:
            return
        sleep_us(left)


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
        self.revisit = entry.get("revisit", 0)
        self.slots = 2 * self.n if self.revisit else self.n
        # read position p reads channel p * stride % n (interleaved), else channel p
        self.stride = interleave_stride(self.n) if entry.get("interleave", 0) else 1
        self.order_flags = ((FLAG_REVISIT | FLAG_PAIRS if self.revisit else 0)
                            | (FLAG_INTERLEAVED if self.stride > 1 else 0))
        self.dwell_us = entry["dwell_us"]
        self.settle_us = entry.get("settle_us", fe.settle_us)
        if self.settle_us > self.dwell_us:
            raise ValueError("%s: dwell_us %d is shorter than its settle time %d us"
                             % (fe.name, self.dwell_us, self.settle_us))
        self.offset = cal.get("offset", 0)
        # the first reads, then (revisit) the second reads: the frame carries both
        self.codes = bytearray(2 * self.n if self.revisit else self.n)
        self.sweep_id = 0
        self.t = Stamp()
        self.t0 = ticks_us()
        self.i = 0  # the slot
        self.pos = 0  # its read position
        self.ch = 0  # its channel
        self.flags = 0
        self.late = 0
        self.moved_us = 0  # envelope blocks and late readings: the later slots move on by as much
        self.overruns = 0  # this front end's late readings since the plan was set
        # tuned from stored calibration (the CC2500's, if the entry asks): the channels are
        # stored when the plan is set (store()), calibrated again when that is due
        self.stored = stored_tuning(fe, entry)
        self.restart(ticks_us())

    def store(self):
        """The driver's table of stored calibration: this sweep's channels, or none (an earlier
        plan's dropped) if the entry does not ask for it."""
        if hasattr(self.fe, "store_channels"):
            self.fe.store_channels(self.freqs if self.stored else ())

    def restart(self, now):
        """Begin a new sweep at the next step (a stopped stream leaves sweeps half done)."""
        self.phase = _START
        self.due = now

    def pause(self, us):
        """An envelope block held the CPU for `us`: the rest of this sweep moves on by as much (a
        READ due meanwhile runs next, after a longer settle; a TUNE or END waits for its slot's
        moved start)."""
        if self.phase == _START:
            return
        self.moved_us += us
        if self.phase != _READ:
            self.due = ticks_add(self.due, us)

    @micropython.native  # see docs/benchmarks.md, "Firmware"
    def run(self, sched, now):
        """One step, at or after `self.due` (`now`: ticks_us() when it began)."""
        phase = self.phase
        if phase == _READ:
            code = self.fe.rssi_code() + self.offset
            if code >= RSSI_CODE_MAX:
                code = RSSI_CODE_MAX
                self.flags |= FLAG_SATURATED
            elif code < 0:
                code = 0
            i = self.i
            ch = self.ch
            # the first reading of read position p is in slot b + p <= 2 p, its second
            # (revisit) in slot b + p + r > 2 p
            self.codes[self.n + ch if i > 2 * self.pos else ch] = code
            i += 1
            self.i = i
            end = ticks_add(self.t0, i * self.dwell_us + self.moved_us)
            slip = ticks_diff(ticks_us(), end)
            if slip > 0:  # late: counted, and the later slots move on by the slip
                self.late += 1
                self.moved_us += slip
                end = ticks_add(end, slip)
            self.due = end  # the next slot's start, or the end of the sweep
            self.phase = _TUNE if i < self.slots else _END
            return
        if phase == _END:
            if self.stored and self.fe.recal_due():  # planned, as an envelope block
                self.fe.recalibrate()
                sched.pause(ticks_diff(ticks_us(), now))
            flags = self.flags
            late = self.late
            if late:
                flags |= FLAG_OVERRUN
                sched.overruns += late
                self.overruns += late
            flags |= self.order_flags
            sched.writer.sweep(self.index, flags, self.sweep_id, self.start_khz, self.step_khz,
                               self.dwell_us, ticks_diff(now, self.t0), 0, self.n, self.codes,
                               self.n, self.t)
            self.sweep_id = (self.sweep_id + 1) & 0xFFFF
            phase = _START
        if phase == _START:
            self.i = 0
            self.flags = 0
            self.late = 0
            self.moved_us = 0
            sched.clock.update()
            self.t.copy(sched.clock)
            now = ticks_us()
            self.t0 = now
        s = self.i
        pos = s
        m = self.revisit
        if m:  # positions b..b+r-1 own slots 2b..2b+2r-1 (the blocks before are full: 2m slots)
            b = s // (2 * m) * m
            r = self.n - b
            if r > m:
                r = m
            k = s - 2 * b  # slot k of the block reads position b + k, then b + k - r
            pos = b + k if k < r else b + k - r
        self.pos = pos
        ch = pos * self.stride % self.n
        self.ch = ch
        self.fe.tune(self.freqs[ch])
        self.due = ticks_add(now, self.settle_us)
        self.phase = _READ


class _Block:
    """A plan entry on an envelope (log detector) front end: one blocking step per block."""

    def __init__(self, index, fe, entry):
        self.index = index
        self.fe = fe
        self.rate_hz = entry["rate_hz"]
        self.n = entry.get("n", ENVELOPE_N_DEFAULT)
        self.samples = array("H", bytearray(2 * self.n))
        self.block_id = 0
        self.t = Stamp()
        self.period_us = 0  # set by the scheduler: the plan's longest sweep
        self.overruns = 0
        self.restart(ticks_us())

    def restart(self, now):
        self.due = now

    def run(self, sched, now):
        sched.clock.update()
        self.t.copy(sched.clock)
        flags = self.fe.read_block(self.samples, self.n, self.rate_hz)
        end = ticks_us()
        sched.pause(ticks_diff(end, now))
        if flags & FLAG_OVERRUN:
            sched.overruns += 1
            self.overruns += 1
        fe = self.fe
        sched.writer.envelope(self.index, flags, self.block_id, self.rate_hz, fe.centre_khz,
                              fe.slope_udb, fe.intercept_mdbm, self.samples, self.n, self.t)
        self.block_id = (self.block_id + 1) & 0xFFFF
        self.due = ticks_add(end, self.period_us)  # a longest sweep's time between blocks


def _nothing(deadline=0, reading=-1):
    pass


class Scheduler:
    """Runs a scan plan on `front_ends` (hw.front_ends order), writing frames to `writer`.
    `idle(deadline, reading)` (hw.idle) is called before each sleep, with the deadline slept to
    and the index of the front end the step then reads (-1: no reading): a virtual board then
    takes that reading, at that instant, and handles the bus writes queued so far while the
    node sleeps, not while the step waits for its answer."""

    def __init__(self, front_ends, writer, clock, idle=None):
        self.front_ends = front_ends
        self.writer = writer
        self.clock = clock
        self.idle = idle or _nothing
        self.overruns = 0
        self.plan = []
        self._tasks = []
        self.sweeps = []  # the sweep tasks of _tasks (pause() moves them on)

    def set_plan(self, plan, cal=None):
        """Build the tasks (and all their buffers) for `plan`; an empty plan means the default.
        `cal`: config["cal"], whose "offset" per front end is added to its RSSI codes (the other
        calibration keys are the drivers', applied by hw.front_ends).

        Raises ValueError, leaving the current plan running, if the plan does not fit the
        front ends (unknown name, frequency outside the band, entry of the wrong kind)."""
        cal = cal or {}
        entries = plan or default_plan(self.front_ends)
        tasks = []  # type: list
        sweeps = []
        blocks = []
        for k in range(len(entries)):
            e = entries[k]
            check_entry(e, "plan[%d]" % k)
            i = self._find(e["front_end"])
            fe = self.front_ends[i]
            for t in tasks:  # one radio tunes to one channel at a time
                if t.index == i:
                    raise ValueError("plan[%d]: %s already has a plan entry" % (k, fe.name))
            c = cal.get(fe.name, {})
            if is_envelope(fe) != ("rate_hz" in e):
                raise ValueError("plan[%d]: %s takes %s" % (
                    k, fe.name, "rate_hz and n" if is_envelope(fe) else "channels and dwell_us"))
            if is_envelope(fe):
                blocks.append(_Block(i, fe, e))
                tasks.append(blocks[-1])
            else:
                sweeps.append(_Sweep(i, fe, e, c))
                tasks.append(sweeps[-1])
        longest = 0
        for sw in sweeps:
            longest = max(longest, sw.slots * sw.dwell_us)
        for b in blocks:
            b.period_us = longest
        for sw in sweeps:  # (the plan is valid: the drivers may now take its channels)
            sw.store()
        self._tasks = tasks
        self.sweeps = sweeps
        self.plan = entries

    def pause(self, us):
        """The node held the CPU for `us` on planned work (an envelope block, serving a
        command): the sweeps under way move on by as much instead of overrunning."""
        for sweep in self.sweeps:
            sweep.pause(us)

    def entry_overruns(self):
        """Late readings per plan entry since the plan was set (the `info` reply)."""
        return [t.overruns for t in self._tasks]

    def restart(self):
        """Start every entry afresh (streaming starts again after a stop)."""
        now = ticks_us()
        for t in self._tasks:
            t.restart(now)

    def _find(self, name):
        for i in range(len(self.front_ends)):
            if self.front_ends[i].name == name:
                return i
        raise ValueError("no front end " + name)

    @micropython.native  # see docs/benchmarks.md, "Firmware"
    def step(self):
        """Run the step whose deadline is earliest, after waiting for it; if it is more than
        SLEEP_MAX_US away, only sleep towards it and return (the loop then serves commands).
        False if there is nothing to run."""
        tasks = self._tasks
        if not tasks:
            return False
        task = tasks[0]
        for k in range(1, len(tasks)):
            if ticks_diff(tasks[k].due, task.due) < 0:
                task = tasks[k]
        now = ticks_us()
        left = ticks_diff(task.due, now)
        if left > 0:
            self.idle(task.due, task.index if getattr(task, "phase", -1) == _READ else -1)
            if left > SLEEP_MAX_US:
                sleep_us(min(left - SLEEP_MAX_US, SLEEP_MAX_US))
                return True
            wait_until(task.due)
            now = ticks_us()
        task.run(self, now)
        return True
