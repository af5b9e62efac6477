"""The readings a virtual node streams for a scene, without MicroPython and in virtual time.

A virtual node is the firmware's scheduler and drivers talking to the virtual board's chip
models (straja.vboard.chips) over a socket. Here the firmware's real drivers (imported on
CPython) run against the same chip models on a virtual-time bus (straja.vboard.vtime), and one
part is replaced: the scheduler's timing model (firmware/straja_node/scheduler.py). Every plan
entry scans at once, one step at a time, earliest deadline first (ties to the earlier plan
entry); channel i of a sweep owns the slot [t0 + i dwell, t0 + (i + 1) dwell), is tuned at its
start and read `settle_us` later, and the next sweep starts when the last slot ends. Steps take
no time here (on the node they take tens of microseconds, well inside the dwell's spare time),
except that the ADC reads averaged into one reading are READ_GAP_S apart (a bus round trip).

Exactness: every chip read draws from one `random.Random(seed)` (as `VirtualBoard` does), in
the order of the bus operations across all front ends, and the number of draws does not depend
on the RF (the Gamma shape is bw x window). So given the same read instants in the same order,
the readings are the same bytes; tests/test_eval_equivalence.py checks it against a real virtual
node, whose read instants (and their interleaving) it recovers by recording the RF calls of the
virtual board.
"""
from __future__ import annotations

import heapq
import json
from typing import Iterator, NamedTuple

from straja_node.plan import default_plan

from ..frontends import FRONT_ENDS
from ..paths import board_profile_path
from ..protocol import FLAG_REVISIT, Frame, Status, Sweep, encode_frame, revisit_halves
from ..vboard.vtime import VirtualTimeBoard
from ..vnode.fleet import scene_rf

READ_GAP_S = 40e-6     # between two ADC reads of one RX5808 reading (a bus round trip)
STATUS_PERIOD_S = 1.0  # config heartbeat_ms while streaming
# The front ends of the "virtual" board the evaluation scans (see docs/evaluation/report.md, "Scan
# plan"): the spare SX127x and the envelope detector (not detected on by the gateway) are left out.
EVAL_FRONT_ENDS = ("vid58", "ism24", "subg")


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


class SweepReading(NamedTuple):
    front_end: int      # index in the board profile
    sweep_id: int
    t_us: int           # start of the first dwell (node time = scene time)
    entry: dict         # the plan entry, with start_khz/step_khz and the channel list
    duration_us: int
    codes: bytes        # REVISIT: the held codes (lower of two reads), then the first reads
    flags: int = 0      # SWEEP flags (REVISIT for a plan entry with revisit)

    def held(self) -> bytes:
        """The codes the detection core reads (REVISIT: the held ones)."""
        return revisit_halves(self.codes, self.flags)[0]

    def single(self) -> bytes:
        """One reading per channel (REVISIT: the first reads), as a plain scanner's."""
        return revisit_halves(self.codes, self.flags)[1]


def channels_khz(entry: dict) -> list[int]:
    """A plan entry's channel list, as the scheduler builds it."""
    if "channels" in entry:
        return list(entry["channels"])
    n = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
    return [entry["start_khz"] + i * entry["step_khz"] for i in range(n)]


class NodeReader:
    """The front ends of one node of `scene` on `board`: the firmware's drivers on the chip
    models of a virtual-time board seeded `seed` (a Fleet seeds each board with its node id)."""

    def __init__(self, scene, node_name: str, board: str = "virtual", seed: int = 0, rf=None):
        self.profile = load_profile(board)
        self.rf = rf if rf is not None else scene_rf(scene, node_name, self.profile)
        self.board = VirtualTimeBoard(self.profile, self.rf, seed)
        self.index = {e["name"]: i for i, e in enumerate(self.profile["front_ends"])}
        self.drivers = {fe.name: fe for fe in self.board.front_ends}
        self.reads = {fe.name: FRONT_ENDS[fe.kind].reads for fe in self.board.front_ends}

    def tune(self, fe_name: str, khz: int, t: float) -> None:
        self.board.at((t,))
        self.drivers[fe_name].tune(khz)

    def read(self, fe_name: str, times) -> int:
        self.board.at(times)
        return self.drivers[fe_name].rssi_code()

    def read_times(self, fe_name: str, t: float) -> list[float]:
        return [t + j * READ_GAP_S for j in range(self.reads[fe_name])]

    def sweeps(self, plan: list[dict], t_start: float, t_end: float) -> Iterator[SweepReading]:
        """Run `plan` from t_start as the scheduler times it (all entries at once, earliest
        deadline first), yielding each sweep when it ends, until no sweep starts after t_end."""
        tasks = [_Task(e, self.drivers[e["front_end"]]) for e in plan]
        queue = [(round(t_start * 1e6), k) for k in range(len(tasks))]
        heapq.heapify(queue)
        t_last = round(t_end * 1e6)
        while queue:
            t, k = heapq.heappop(queue)
            task = tasks[k]
            name = task.entry["front_end"]
            if task.i == len(task.slots):  # END: the last slot is over
                yield SweepReading(self.index[name], task.sweep_id, task.t0, task.entry,
                                   t - task.t0, bytes(task.codes), task.flags)
                task.sweep_id = (task.sweep_id + 1) & 0xFFFF
                task.i = 0
            if task.reading:  # READ, then wait for the next slot (or the end of the sweep)
                ch = task.slots[task.i]
                code = self.read(name, self.read_times(name, t * 1e-6))
                if task.i < task.second[ch]:
                    task.codes[ch] = code
                else:  # a revisit: the held code, and the first reading after all the held ones
                    task.codes[len(task.freqs) + ch] = task.codes[ch]
                    task.codes[ch] = min(task.codes[ch], code)
                task.i += 1
                task.reading = False
                t_next = task.t0 + task.i * task.dwell
            else:  # START or TUNE
                if task.i == 0:
                    if t > t_last:
                        continue  # no sweep starts after t_end
                    task.t0 = t
                    task.codes = bytearray(len(task.freqs) * (2 if task.flags else 1))
                self.tune(name, task.freqs[task.slots[task.i]], t * 1e-6)
                task.reading = True
                t_next = t + task.settle
            heapq.heappush(queue, (t_next, k))


class _Task:
    """A sweep entry's state in NodeReader.sweeps (integer microseconds)."""

    def __init__(self, entry: dict, fe):
        self.entry, self.freqs = entry, channels_khz(entry)
        self.slots = slot_channels(len(self.freqs), entry.get("revisit", 0))
        self.second = [len(self.slots)] * len(self.freqs)  # slot of each channel's second read
        seen = set()
        for i, ch in enumerate(self.slots):
            if ch in seen:
                self.second[ch] = i
            seen.add(ch)
        self.flags = FLAG_REVISIT if entry.get("revisit", 0) else 0
        self.settle = entry.get("settle_us", fe.settle_us)
        self.dwell = entry["dwell_us"]
        self.sweep_id = 0
        self.i = 0
        self.t0 = 0
        self.reading = False
        self.codes: list[int] = []


def slot_channels(n: int, revisit: int) -> list[int]:
    """The channel read in each dwell slot of a sweep of n channels (the scheduler's order):
    0..n-1, or with `revisit` m, blocks of r = min(m, n - b) channels each read twice in a row
    (b..b+r-1, b..b+r-1), so each channel is read again r dwells after its first reading."""
    if not revisit:
        return list(range(n))
    out = []
    for b in range(0, n, revisit):
        block = list(range(b, min(b + revisit, n)))
        out += block + block
    return out


def wire_chunks(node_id: int, readings, t0_ns: int = 0, delay_ns: int = 1_000_000):
    """(arrival t_ns, wire bytes) of the SWEEP frames for `readings`, with a STATUS frame every
    STATUS_PERIOD_S, each arriving `delay_ns` after the end of its content (a USB transfer)."""
    seq = 0
    next_status = 0
    for r in readings:  # in the order they end, as the node sends them
        out = []
        t_sent = r.t_us + r.duration_us
        if t_sent >= next_status:
            up = t_sent // 1_000_000
            out.append((t_sent, t_sent,
                        Status(up, 1, 0, 1, 100_000, 50_000, 0, 0, 0, 0, "eval")))
            next_status = t_sent + int(STATUS_PERIOD_S * 1e6)
        e = r.entry
        out.append((t_sent, r.t_us,
                    Sweep(r.front_end, r.flags, r.sweep_id, e["start_khz"], e["step_khz"],
                          e["dwell_us"], r.duration_us, 0, len(r.held()), r.codes)))
        for t_us, stamp_us, body in out:
            wire = encode_frame(Frame(0, node_id, seq & 0xFFFF, stamp_us, body))
            seq += 1
            yield t0_ns + t_us * 1000 + delay_ns, wire
