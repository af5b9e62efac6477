"""The readings a virtual node streams for a scene, without MicroPython and in virtual time.

A virtual node is the firmware's scheduler and drivers talking to the virtual board's chip
models (straja.vboard.chips) over a socket. This module keeps the chip models (the very objects,
with the board's random generator) and replaces the two other parts:

- the scheduler's timing model (firmware/straja_node/scheduler.py): every plan entry scans at
  once, one step at a time, earliest deadline first (ties to the earlier plan entry); channel i
  of a sweep owns the slot [t0 + i dwell, t0 + (i + 1) dwell), is tuned at its start and read
  `settle_us` later, and the next sweep starts when the last slot ends. Steps take no time
  here (on the node they take tens of microseconds, well inside the dwell's spare time);
- the drivers' bus operations and code conversions (firmware/straja_node/drivers/), for the
  sweep front ends: RX5808, CC2500, SX126x.

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
import random
from typing import Iterator, NamedTuple

from ..paths import board_profile_path
from ..protocol import FLAG_REVISIT, Frame, Status, Sweep, encode_frame, revisit_halves
from ..vboard.chips import MODELS
from ..vnode.fleet import scene_rf

RX5808_READS = 4       # drivers/rx5808.py READS: ADC reads averaged per reading
READ_GAP_S = 40e-6     # between two ADC reads of one RX5808 reading (a bus round trip)
STATUS_PERIOD_S = 1.0  # config heartbeat_ms while streaming

# The evaluation's scan plan for the "virtual" board (see docs/evaluation/report.md, "Scan plan"):
# the firmware's default plan (scheduler.default_plan; tests/test_eval_plan.py checks they are
# equal), so a node out of the box does what is measured. The RX5808 steps 20 MHz (its filter:
# a video channel is never more than 10 MHz off a scan channel) at its 25 ms settle (the model's
# tau is 6 ms: 1.6 % of the previous channel's level is left): 16 channels, 0.41 s; the CC2500
# sweeps 2.4 GHz in 64 channels, each read again 3 dwells (4.2 ms) later (revisit: held by
# ELRS's 8-27 ms hops, not by a Bluetooth packet or a Wi-Fi frame); the SX126x sweeps sub-GHz in
# 64 channels in 51 ms, shorter than ELRS 900's hop dwell. The spare SX127x and the envelope
# detector (not detected on by the gateway) are left out.
EVAL_PLAN = [
    {"front_end": "vid58", "start_khz": 5645000, "stop_khz": 5945000, "step_khz": 20000,
     "dwell_us": 25500},
    {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2483475, "step_khz": 1325,
     "dwell_us": 1400, "revisit": 3},
    {"front_end": "subg", "start_khz": 863000, "stop_khz": 927953, "step_khz": 1031,
     "dwell_us": 800},
]


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


def _clamp(code: int) -> int:
    return 0 if code < 0 else 255 if code > 255 else code


class _Rx5808:
    """drivers/rx5808.py: 25-bit synthesizer word, mean of 4 ADC reads mapped by calibration."""

    draws_per_tune = 1  # the chip model evaluates the RSSI voltage it leaves at a retune

    def __init__(self, chip, entry):
        self.chip = chip
        cal = {"rssi_min": 9930, "rssi_max": 23831, "dbm_min": -90, "dbm_max": -20,
               **entry.get("cal", {})}
        self.lo, self.hi = cal["rssi_min"], cal["rssi_max"]
        self.dbm_min, self.dbm_max = cal["dbm_min"], cal["dbm_max"]

    def tune(self, khz, t):
        f_lo = (khz + 500) // 1000 - 479  # IF 479 MHz, low side
        reg = ((f_lo // 64) << 7) | ((f_lo % 64) // 2)
        self.chip.word(0x1 | (1 << 4) | (reg << 5), 25, t)

    def read(self, times):
        v = sum(self.chip.adc(t) for t in times) // len(times)
        lo, hi = self.lo, self.hi
        v = lo if v < lo else hi if v > hi else v
        return _clamp(2 * self.dbm_min + (v - lo) * 2 * (self.dbm_max - self.dbm_min) // (hi - lo)
                      + 280)


class _Cc2500:
    """drivers/cc2500.py: FREQ2..0 = floor(f * 2^16 / 26 MHz), CHANNR 0, 812.5 kHz filter
    (MDMCFG4 0x0D), SRX; RSSI status register, code = RSSI_dec + 280 - 2 RSSI_offset."""

    draws_per_tune = 0

    def __init__(self, chip, entry):
        self.chip = chip
        self.offset_db = entry.get("cal", {}).get("rssi_offset_db", 72)
        for addr, value in ((0x0A, 0x00), (0x10, 0x0D), (0x13, 0x02), (0x14, 0xF8)):
            chip.spi(bytes((addr, value)), 0.0)

    def tune(self, khz, t):
        word = khz * 4096 // 1625
        self.chip.spi(bytes((0x36,)), t)  # SIDLE
        self.chip.spi(bytes((0x40 | 0x0D, word >> 16, (word >> 8) & 0xFF, word & 0xFF)), t)
        self.chip.spi(bytes((0x34,)), t)  # SRX

    def read(self, times):
        v = self.chip.spi(bytes((0xC0 | 0x34, 0)), times[0])[1]
        return _clamp((v - 256 if v >= 128 else v) + 280 - 2 * self.offset_db)


class _Sx126x:
    """drivers/sx126x.py: GFSK, 467 kHz RX bandwidth, SetRfFrequency f * 2^25 / 32 MHz (rounded),
    SetRx continuous; GetRssiInst, code = 280 - RssiInst."""

    draws_per_tune = 0

    def __init__(self, chip, entry):
        self.chip = chip
        chip.spi(bytes((0x8A, 0x00)), 0.0)
        chip.spi(bytes((0x8B, 0x00, 0x50, 0x00, 0x00, 0x09, 0x00, 0x66, 0x66)), 0.0)

    def tune(self, khz, t):
        word = (khz * 131072 + 62) // 125
        self.chip.spi(bytes((0x80, 0x00)), t)
        self.chip.spi(bytes((0x86,)) + word.to_bytes(4, "big"), t)
        self.chip.spi(bytes((0x82, 0xFF, 0xFF, 0xFF)), t)

    def read(self, times):
        return _clamp(280 - self.chip.spi(bytes((0x15, 0, 0)), times[0])[2])


DRIVERS = {"rx5808": _Rx5808, "cc2500": _Cc2500, "sx126x": _Sx126x}
READS_PER_CHANNEL = {"rx5808": RX5808_READS, "cc2500": 1, "sx126x": 1}


def channels_khz(entry: dict) -> list[int]:
    """A plan entry's channel list, as the scheduler builds it."""
    if "channels" in entry:
        return list(entry["channels"])
    n = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
    return [entry["start_khz"] + i * entry["step_khz"] for i in range(n)]


def load_profile(board: str = "virtual") -> dict:
    return json.loads(board_profile_path(board).read_text())


class NodeReader:
    """The sweep front ends of one node of `scene` on `board`, with the chip models of a
    VirtualBoard seeded `seed` (a Fleet seeds each board with its node id)."""

    def __init__(self, scene, node_name: str, board: str = "virtual", seed: int = 0, rf=None):
        self.profile = load_profile(board)
        self.rf = rf if rf is not None else scene_rf(scene, node_name, self.profile)
        self.rng = random.Random(seed)
        self.index = {e["name"]: i for i, e in enumerate(self.profile["front_ends"])}
        self.kinds = {}
        self.drivers = {}
        for e in self.profile["front_ends"]:
            chip = MODELS[e["kind"]](self, e)  # the chip models read board.rf and board.rng
            self.kinds[e["name"]] = e["kind"]
            if e["kind"] in DRIVERS:
                self.drivers[e["name"]] = DRIVERS[e["kind"]](chip, e)

    def channel(self, fe_name: str, khz: int, t_tune: float, read_times) -> int:
        """One channel: tune at t_tune, read at read_times (one per ADC/register read)."""
        self.tune(fe_name, khz, t_tune)
        return self.read(fe_name, read_times)

    def tune(self, fe_name: str, khz: int, t: float) -> None:
        self.drivers[fe_name].tune(khz, t)

    def read(self, fe_name: str, times) -> int:
        return self.drivers[fe_name].read(times)

    def read_times(self, fe_name: str, t: float) -> list[float]:
        return [t + j * READ_GAP_S for j in range(READS_PER_CHANNEL[self.kinds[fe_name]])]

    def sweeps(self, plan: list[dict], t_start: float, t_end: float) -> Iterator[SweepReading]:
        """Run `plan` from t_start as the scheduler times it (all entries at once, earliest
        deadline first), yielding each sweep when it ends, until no sweep starts after t_end."""
        tasks = [_Task(e, self.kinds[e["front_end"]]) for e in plan]
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

    def __init__(self, entry: dict, kind: str):
        self.entry, self.freqs = entry, channels_khz(entry)
        self.slots = slot_channels(len(self.freqs), entry.get("revisit", 0))
        self.second = [len(self.slots)] * len(self.freqs)  # slot of each channel's second read
        seen = set()
        for i, ch in enumerate(self.slots):
            if ch in seen:
                self.second[ch] = i
            seen.add(ch)
        self.flags = FLAG_REVISIT if entry.get("revisit", 0) else 0
        self.settle = entry.get("settle_us", _settle_us(kind))
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


def _settle_us(kind: str) -> int:
    """The drivers' settle_us (drivers/*.py SETTLE_US)."""
    return {"rx5808": 25000, "cc2500": 900, "sx126x": 300}[kind]


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
