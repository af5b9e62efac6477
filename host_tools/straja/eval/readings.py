"""The readings a virtual node streams for a scene, without MicroPython and in virtual time.

A virtual node is the firmware's scheduler and drivers talking to the virtual board's chip
models (straja.vboard.chips) over a socket. Here the firmware's real drivers (imported on
CPython) run against the same chip models on a virtual-time bus (straja.vboard.vtime), and one
part is replaced: the app loop and the scheduler (firmware/straja_node/app.py, scheduler.py),
modelled step by step with what each step costs on a virtual node (StepCost):

- every pass of the app's loop costs `loop_us` (watchdog feed, command input, tick), then runs
  the step due earliest (the first plan entry of equal deadlines); if it is more than the
  scheduler's SLEEP_MAX_US away the loop only sleeps towards it, and a shorter wait sleeps until
  it, waking `wake_us` late (every sleep does);
- a sweep's slot s owns [t0 + s dwell, t0 + (s + 1) dwell): its TUNE step runs when the slot
  starts or as soon after as the loop is free, its READ step `settle_us` after the TUNE step
  began; a step costs `step_us` plus its driver call's bus operations, `read_us` per read (a
  round trip on the node's socket) and `write_us` per write (one-way there), counted on the
  virtual-time bus, where each operation happens when those before it are done; a READ step
  the loop slept until was asked ahead (the firmware's `hw.idle(deadline, front end)` on a
  virtual node): it reads at its deadline and its first read's round trip passed during the
  sleep, up to the sleep's length;
- a reading that ends after its slot is late (the sweep then carries OVERRUN and `late` counts
  them, as the scheduler's overruns), and the rest of the sweep moves on by the slip (the next
  slot starts when the late reading ends);
- END sends the frame (`frame_us`), and the next sweep starts when that is done.

NODE_COST is a node with a CPU of its own (a board); StepCost.contended gives a virtual node's
on a loaded machine (docs/evaluation/README.md, "Fast path timing");
tests/test_eval_equivalence.py runs a real virtual node and the fast path on one scene, with the
drone on, and checks that their sweep durations, overruns and readings agree.

Every chip read draws from one `random.Random(seed)` (as `VirtualBoard` does), in the order of
the bus operations across all front ends.
"""
from __future__ import annotations

import json
from operator import attrgetter
from typing import Iterator, NamedTuple

from straja_node import hosttime
from straja_node.limits import SLEEP_MAX_US
from straja_node.plan import default_plan, stored_tuning

from ..paths import board_profile_path
from ..protocol import (FLAG_INTERLEAVED, FLAG_OVERRUN, FLAG_PAIRS, FLAG_REVISIT, FLAG_SATURATED,
                        RSSI_CODE_MAX, Frame, Status, Sweep, encode_frame, interleave_stride,
                        revisit_reads)
from ..vboard.vtime import VirtualTimeBoard
from ..vnode.fleet import scene_rf
from .scanops import DriverScan, scan_ops


class StepCost(NamedTuple):
    """What the node's work costs, in microseconds."""
    read_us: int    # a bus read (a socket round trip to the virtual board)
    write_us: int   # a bus write (one-way on the socket)
    step_us: int    # a scheduler step's own interpreter time, besides its bus operations
    loop_us: int    # a pass of the app loop besides the step
    frame_us: int   # encoding and writing a SWEEP frame
    wake_us: int    # a sleep's overshoot: the OS wakes the node this late

    def contended(self, slowdown: float) -> "StepCost":
        """The costs on a machine where the node waits for a CPU: `slowdown` is (time on a CPU
        + time runnable but waiting) / time on a CPU (straja.eval.vnodes measures it); every
        cost is that much longer, and a sleep wakes WAKE_US later per unit of waiting."""
        work = [round(c * slowdown) for c in self[:5]]
        return StepCost(*work, self.wake_us + round((slowdown - 1) * WAKE_US))


# A virtual node with a CPU to itself: a bus read's round trip and a write as measured under
# MicroPython against the virtual board (driver call included), the interpreter's time per step,
# loop and frame; a sleep ends on time, as a board's busy-waiting sleep_us does (an idle virtual
# node's overshoots by ~20 us) (docs/evaluation/README.md, "Fast path timing"); WAKE_US fitted to
# virtual nodes' sweep durations at measured contention. loop_us: 15 -> 8 since the loop's chores
# run every 5 ms, not every turn (the interpreter's CPU 0.23 -> 0.18-0.19 s a second over ~6 700
# turns: ~7 us a turn; docs/virtual-node.md "Timing", fifth round).
NODE_COST = StepCost(read_us=22, write_us=2, step_us=15, loop_us=8, frame_us=50, wake_us=0)
# a contended node's wake-up delay per unit of slowdown (same fit; 250 -> 350 for the cheaper
# node: at slowdowns 1.8-2.8 its mean sweeps within 14 %, where 250 made ism24's 21 % short)
WAKE_US = 350
# the slowdowns the fit covers (within 20 %); beyond, a virtual node is overloaded and its
# timing is the loaded machine's: StepCost.contended is then off by up to a factor of 2
CONTENDED_FIT_MAX = 3.0
STATUS_PERIOD_S = 1.0  # config heartbeat_ms while streaming
# The front ends of the "virtual" board the evaluation scans (see docs/evaluation/report.md, "Scan
# plan"): the spare SX127x and the envelope detector (not detected on by the gateway) are left out.
EVAL_FRONT_ENDS = ("vid58", "ism24", "subg")
# a sweep task's phases (the scheduler's)
_START, _TUNE, _READ, _END = range(4)


def load_profile(board: str = "virtual") -> dict:
    return json.loads(board_profile_path(board).read_text())


def eval_plan(board: str = "virtual") -> list[dict]:
    """The firmware's default plan (straja_node.plan.default_plan) for `board`'s front ends, as
    its drivers declare them, less the front ends the evaluation does not scan: so a node out of
    the box does what is measured."""
    drivers = VirtualTimeBoard(load_profile(board), None).front_ends
    return [e for e in default_plan(drivers) if e["front_end"] in EVAL_FRONT_ENDS]


# The evaluation's plan. The RX5808 steps 20 MHz (its filter: a video channel is never more
# than 10 MHz off a scan channel) at its 25 ms settle (the model's tau is 6 ms: 1.6 % of the
# previous channel's level is left): 16 channels, 0.41 s; the CC2500 sweeps 2.4 GHz in 64
# channels, each read again 3 dwells (4.2 ms) later (revisit: held by ELRS's 8-27 ms hops, not by
# a Bluetooth packet or a Wi-Fi frame); the SX126x sweeps sub-GHz in 64 channels in 51 ms, shorter
# than ELRS 900's hop dwell.
EVAL_PLAN = eval_plan()


def eval_plan_of(front_ends, **changes) -> list[dict]:
    """The evaluation's plan entries of `front_ends` (names of the board's), with `changes`."""
    return [{**e, **changes} for e in EVAL_PLAN if e["front_end"] in front_ends]


class SweepReading(NamedTuple):
    front_end: int      # index in the board profile
    sweep_id: int
    t_us: int           # start of the first dwell (node time = scene time)
    entry: dict         # the plan entry, with start_khz/step_khz and the channel list
    duration_us: int
    codes: bytes        # REVISIT: the first reads, then the second reads
    flags: int = 0      # SWEEP flags (REVISIT and PAIRS for a plan entry with revisit, OVERRUN,
                        # SATURATED)
    late: int = 0       # readings that ended after their slot (the scheduler's overruns)

    def held(self) -> bytes:
        """The codes the detection core reads (REVISIT: the held ones)."""
        return revisit_reads(self.codes, self.flags)[0]

    def single(self) -> bytes:
        """One reading per channel (REVISIT: the first reads), as a plain scanner's."""
        return revisit_reads(self.codes, self.flags)[1]


def channels_khz(entry: dict) -> list[int]:
    """A plan entry's channel list, as the scheduler builds it."""
    if "channels" in entry:
        return list(entry["channels"])
    n = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
    return [entry["start_khz"] + i * entry["step_khz"] for i in range(n)]


class NodeReader:
    """The front ends of one node of `scene` on `board`: the firmware's drivers on the chip
    models of a virtual-time board seeded `seed` (a Fleet seeds each board with its node id),
    scanned on the timing of `cost` (default NODE_COST: a node with a CPU of its own)."""

    def __init__(self, scene, node_name: str, board: str = "virtual", seed: int = 0, rf=None,
                 cost: StepCost | None = None, short_cuts: bool = True):
        """short_cuts: the scan's driver calls through straja.eval.scanops's short cuts where a
        front end has one (the same readings); False: every call through its driver."""
        self.profile = load_profile(board)
        self.rf = rf if rf is not None else scene_rf(scene, node_name, self.profile)
        self.board = VirtualTimeBoard(self.profile, self.rf, seed)
        self.index = {e["name"]: i for i, e in enumerate(self.profile["front_ends"])}
        self.drivers = {fe.name: fe for fe in self.board.front_ends}
        self.cost = cost or NODE_COST
        self.short_cuts = short_cuts
        self._scans = {}  # (front end, bus costs) -> its scan calls (straja.eval.scanops)

    def _scan(self, name: str):
        cost = self.cost
        key = (name, cost.read_us, cost.write_us)
        scan = self._scans.get(key)
        if scan is None:
            make = scan_ops if self.short_cuts else DriverScan
            scan = self._scans[key] = make(self.drivers[name], self.board, *key[1:])
        return scan

    def sweeps(self, plan: list[dict], t_start: float, t_end: float) -> Iterator[SweepReading]:
        """Run `plan` from t_start as the firmware's app loop and scheduler do, in virtual time
        (module docstring), yielding each sweep when it ends, until no sweep starts after t_end."""
        cost = self.cost
        # a step's driver call starts at `now` (its bus operations one after another) and ends
        # after its interpreter time and its bus operations' (what its scan call returns)
        step_us = cost.step_us
        loop_us, wake_us = cost.loop_us, cost.wake_us
        tasks = [_Task(e, self.drivers[e["front_end"]], self._scan(e["front_end"])) for e in plan]
        start = round(t_start * 1e6)
        for task in tasks:  # (_Sweep.store) a sweep tuned from stored calibration calibrates
            if hasattr(task.fe, "store_channels"):  # its channels first; others drop the table
                self.board.at(start * 1e-6, cost.read_us, cost.write_us)
                slept_from = hosttime.now_us
                task.fe.store_channels(task.freqs if stored_tuning(task.fe, task.entry) else ())
                start += self.board.busy_us + hosttime.now_us - slept_from
        for task in tasks:
            task.due = start
        now = tasks[0].due if tasks else 0
        t_last = round(t_end * 1e6)
        while tasks:
            now += loop_us
            task = min(tasks, key=_due)  # the first of equal deadlines, as Scheduler.step
            left = task.due - now
            if left > SLEEP_MAX_US:  # sleep towards it, then the loop again
                now += min(left - SLEEP_MAX_US, SLEEP_MAX_US) + wake_us
                continue
            asked_ahead = left > 0 and task.phase == _READ
            if left > 0:  # sleep until it
                now = task.due + wake_us
            if task.phase == _READ:
                ch = task.ch
                if asked_ahead:  # (hw.idle) read at its deadline, answered during the sleep
                    code, busy_us = task.scan.read(task.due * 1e-6)
                    busy_us -= min(busy_us, cost.read_us, left)
                else:
                    code, busy_us = task.scan.read(now * 1e-6)
                now += step_us + busy_us
                if code >= RSSI_CODE_MAX:
                    task.flags |= FLAG_SATURATED
                if task.i < task.second[ch]:
                    task.codes[ch] = code
                else:  # a revisit: the second reading, after all the first ones
                    task.codes[len(task.freqs) + ch] = code
                task.i += 1
                task.due = task.t0 + task.i * task.dwell + task.moved
                if now > task.due:
                    task.late += 1
                    task.moved += now - task.due
                    task.due = now
                task.phase = _TUNE if task.i < len(task.slots) else _END
                continue
            if task.phase == _END:
                yield SweepReading(self.index[task.name], task.sweep_id, task.t0, task.entry,
                                   now - task.t0, bytes(task.codes), task.sweep_flags(),
                                   task.late)
                task.sweep_id = (task.sweep_id + 1) & 0xFFFF
                now += cost.frame_us
                task.phase = _START
            if task.phase == _START:
                if now > t_last:
                    tasks.remove(task)  # no sweep starts after t_end
                    continue
                task.start(now)
            task.ch = task.slots[task.i]
            task.due = now + task.settle
            now += step_us + task.scan.tune(now * 1e-6, task.freqs[task.ch])
            task.phase = _READ


_due = attrgetter("due")  # (in C: min() over the tasks is the loop's every pass)


class _Task:
    """A sweep entry's state in NodeReader.sweeps (integer microseconds), as scheduler._Sweep."""

    __slots__ = ("entry", "fe", "scan", "name", "freqs", "slots", "second", "order_flags", "settle",
                 "dwell", "sweep_id", "phase", "due", "t0", "i", "ch", "late", "flags", "moved",
                 "codes")

    def __init__(self, entry: dict, fe, scan):
        self.entry, self.fe, self.scan, self.name = entry, fe, scan, entry["front_end"]
        self.freqs = channels_khz(entry)
        self.slots = slot_channels(len(self.freqs), entry.get("revisit", 0),
                                   entry.get("interleave", 0))
        self.second = [len(self.slots)] * len(self.freqs)  # slot of each channel's second read
        seen = set()
        for i, ch in enumerate(self.slots):
            if ch in seen:
                self.second[ch] = i
            seen.add(ch)
        self.order_flags = ((FLAG_REVISIT | FLAG_PAIRS if entry.get("revisit", 0) else 0)
                            | (FLAG_INTERLEAVED if entry.get("interleave", 0)
                               and interleave_stride(len(self.freqs)) > 1 else 0))
        self.settle = entry.get("settle_us", fe.settle_us)
        self.dwell = entry["dwell_us"]
        self.sweep_id = 0
        self.phase = _START
        self.due = self.t0 = self.i = self.ch = self.late = self.flags = 0
        self.moved = 0  # late readings' slips this sweep: its later slots move on by as much
        self.codes = bytearray()

    def start(self, now: int) -> None:
        self.t0 = now
        self.i = self.late = self.flags = self.moved = 0
        self.codes = bytearray(len(self.freqs) * (2 if self.order_flags & FLAG_REVISIT else 1))

    def sweep_flags(self) -> int:
        return self.flags | self.order_flags | (FLAG_OVERRUN if self.late else 0)


def slot_channels(n: int, revisit: int, interleave: int = 0) -> list[int]:
    """The channel read in each dwell slot of a sweep of n channels (the scheduler's order): the
    read positions 0..n-1, or with `revisit` m, blocks of r = min(m, n - b) positions each read
    twice in a row (b..b+r-1, b..b+r-1), so each channel is read again r dwells after its first
    reading; position p reads channel p, or with `interleave` p * interleave_stride(n) % n."""
    stride = interleave_stride(n) if interleave else 1
    if not revisit:
        return [p * stride % n for p in range(n)]
    out = []
    for b in range(0, n, revisit):
        block = [p * stride % n for p in range(b, min(b + revisit, n))]
        out += block + block
    return out


def wire_chunks(node_id: int, readings, t0_ns: int = 0, delay_ns: int = 1_000_000):
    """(arrival t_ns, wire bytes) of the SWEEP frames for `readings`, with a STATUS frame every
    STATUS_PERIOD_S, each arriving `delay_ns` after the end of its content (a USB transfer)."""
    seq = 0
    next_status = 0
    overruns = 0
    for r in readings:  # in the order they end, as the node sends them
        out = []
        t_sent = r.t_us + r.duration_us
        overruns += r.late
        if t_sent >= next_status:
            up = t_sent // 1_000_000
            out.append((t_sent, t_sent,
                        Status(up, 1, 0, 1, 100_000, 50_000, overruns, 0, 0, 0, "eval")))
            next_status = t_sent + int(STATUS_PERIOD_S * 1e6)
        e = r.entry
        out.append((t_sent, r.t_us,
                    Sweep(r.front_end, r.flags, r.sweep_id, e["start_khz"], e["step_khz"],
                          e["dwell_us"], r.duration_us, 0, len(r.single()), r.codes)))
        for t_us, stamp_us, body in out:
            wire = encode_frame(Frame(0, node_id, seq & 0xFFFF, stamp_us, body))
            seq += 1
            yield t0_ns + t_us * 1000 + delay_ns, wire
