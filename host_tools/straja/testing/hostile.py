"""Hostile recordings from a seed (docs/gateway.md, "Fault injection", hard3): the raw streams
of an honest node beside two hostile ones, as `straja gateway --record` writes them, for
`straja replay` and, chunk by chunk on ptys, for a live gateway.

- `/dev/honest`: node 1 sweeping the 5.8 GHz band (testing.synth), every frame as sent.
- `/dev/wild`: node 50 announces one front end (its `info`), then sends valid frames with absurd
  headers: sequence numbers from near the wrap that repeat, jump and go back; `t_us` going back,
  leaping years, at 2^51 - 1 and past it; sweeps whose bin counts, channel counts and first
  channel disagree with themselves, of front ends it does not have, at frequencies outside every
  band, RSSI codes at 0 and 255; LOG, ENVELOPE, REMOTEID and unknown frames; frames with a broken
  CRC; text between the frames (console lines, bytes that are no text), a run of bytes longer
  than any frame.
- `/dev/liar`: node 51 answers `info` and `get plan` with every field in turn of the wrong type,
  huge, negative, NaN or infinite, empty, with unicode or control characters, or a key twice.

`Manifest` says what each stream holds that a gateway must count (the reason names of
`Pipeline.input_counts`), computed from what was generated, independently of the gateway: a
checker compares them. `python -m straja.testing.hostile SEED FILE [--truncate]` writes one.
"""
from __future__ import annotations

import argparse
import collections
import json
import random
from array import array
from dataclasses import dataclass, field

from .. import protocol as P
from ..gateway import record
from ..gateway.detector import REFUSED_BAND, REFUSED_FRONT_END, REFUSED_SEGMENT
from .synth import Chunk, merge, node_chunks

T0 = 1_700_000_000_000_000_000
HONEST, WILD, LIAR = "/dev/honest", "/dev/wild", "/dev/liar"
HONEST_ID, WILD_ID, LIAR_ID = 1, 50, 51
BAND = (5_645_000, 5_945_000)
FRONT_END = {"name": "vid58", "kind": "rx5808", "band_khz": list(BAND), "settle_us": 300,
             "filter_khz": 20_000}
INFO = {"version": "0.1.0", "front_ends": [FRONT_END], "temp_plan_s": 0,
        "plan": [{"front_end": "vid58", "start_khz": BAND[0], "stop_khz": BAND[1],
                  "step_khz": 20_000, "dwell_us": 500}]}
PLAN_REPLY = {"plan": INFO["plan"], "temp_plan_s": 0}
CHANNELS = 16  # the announced plan's
YEAR_US = 365 * 86400 * 10**6
T_US_TOP = (1 << P.T_US_BITS) - 1
# text between frames: console lines (printable ASCII: counted as console text) and bytes that
# are no text (counted as a corrupt frame each, between two delimiters)
CONSOLE = [b"MicroPython v1.22.0 on 2024-01-05; linux [GCC 12.2.0] version\r\n",
           b"Traceback (most recent call last):\r\n  File \"main.py\", line 1\r\n", b"\t \r\n"]
NOT_TEXT = [b"\x1b[2J\x07bell", "caf\u00e9 \u202e".encode(), b"\xff\xfe\x80"]


@dataclass
class Manifest:
    """What the streams hold that a gateway counts, by `Pipeline.input_counts`' names."""
    honest_frames: int = 0
    counts: collections.Counter = field(default_factory=collections.Counter)
    cut_at: int | None = None  # the byte offset of the record a truncated file ends inside


class _Wild:
    """Node 50's frames, with the sequence numbers' outcome kept as docs/protocol.md defines
    it (step = (seq - reference) mod 65536: 0 a duplicate, dropped; 1..32767 progress, k - 1
    lost; above, reordered, passed on without moving the reference)."""

    def __init__(self, rng: random.Random, manifest: Manifest):
        self.rng, self.manifest = rng, manifest
        self.reference: int | None = None
        self.seq, self.t_us = 65530, rng.randrange(2**40)
        self.chunks: list[bytes] = []

    def frame(self, body, *, seq_step: int = 1, t_us: int | None = None,
              crc_broken: bool = False) -> bool:
        """Queue one frame; whether the decoder passes it on (not corrupt, not a duplicate)."""
        self.seq = (self.seq + seq_step) & 0xFFFF
        t_us = self.t_us if t_us is None else t_us
        wire = P.encode_frame(P.Frame(0, WILD_ID, self.seq, t_us, body))
        if crc_broken:
            raw = P.frame_bytes(P.Frame(0, WILD_ID, self.seq, t_us, body))
            wire = b"\0" + P.cobs_encode(raw[:-1] + bytes([raw[-1] ^ 0x5A])) + b"\0"
        self.chunks.append(wire)
        if crc_broken or t_us > T_US_TOP:
            self.manifest.counts["corrupt_frames"] += 1
            return False
        counts = self.manifest.counts
        if self.reference is None:
            self.reference = self.seq
            return True
        step = (self.seq - self.reference) & 0xFFFF
        if step == 0:
            counts["duplicate_frames"] += 1
            return False
        if step < 0x8000:
            counts["lost_frames"] += step - 1
            self.reference = self.seq
        else:
            counts["reordered_frames"] += 1
        return True

    def text(self) -> None:
        if self.rng.random() < 0.5:
            line = self.rng.choice(CONSOLE)
            self.manifest.counts["console_lines"] += line.count(b"\n")
        else:
            line = self.rng.choice(NOT_TEXT)
            self.manifest.counts["corrupt_frames"] += 1
        self.chunks.append(line + b"\0")  # (ended, as by the next frame: text of its own)

    def oversize(self) -> None:
        """More bytes without a delimiter than any frame (and not text): one oversize run."""
        self.chunks.append(bytes(self.rng.randrange(1, 256) for _ in range(P.MAX_ENCODED + 9)))
        self.chunks.append(b"\0")
        self.manifest.counts["oversize_runs"] += 1


def _codes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.choice([[0] * n, [255] * n, [rng.randrange(256) for _ in range(n)]]))


def _plan_sweep(rng: random.Random, **fields) -> P.Sweep:
    """A sweep of the announced plan, fields replaced."""
    sweep = dict(front_end=0, flags=rng.choice([0, P.FLAG_SATURATED]), sweep_id=rng.randrange(
        65536), start_khz=BAND[0], step_khz=20_000, dwell_us=500, duration_us=8000, first=0,
        total=CHANNELS, rssi=_codes(rng, CHANNELS))
    sweep.update(fields)
    return P.Sweep(**sweep)


def bad_sweep(rng: random.Random) -> tuple[P.Sweep, str | None]:
    """A sweep no node could send, and the reason a gateway refuses it (None: a sweep of the
    announced plan with codes at their limits, taken)."""
    case = rng.randrange(8)
    if case == 0:  # more bins than the sweep has channels
        return _plan_sweep(rng, rssi=_codes(rng, CHANNELS + rng.choice([1, 100]))), REFUSED_SEGMENT
    if case == 1:  # a segment past its sweep's end
        return _plan_sweep(rng, first=rng.choice([1, CHANNELS, 65535])), REFUSED_SEGMENT
    if case == 2:
        return _plan_sweep(rng, total=0, rssi=b""), REFUSED_SEGMENT
    if case == 3:  # an odd REVISIT sweep
        return _plan_sweep(rng, flags=P.FLAG_REVISIT | P.FLAG_PAIRS,
                           rssi=_codes(rng, 2 * CHANNELS - 1)), REFUSED_SEGMENT
    if case == 4:  # a front end the node does not have
        return _plan_sweep(rng, front_end=rng.choice([1, 7, 255])), REFUSED_FRONT_END
    if case == 5:  # frequencies outside every band: below, above, past 32 bits' worth
        start, step = rng.choice([(1, 1), (P.MAX_FRAME, 2**32 - 1), (2**32 - 1, 1),
                                  (BAND[1], 20_000), (10_000_000, 1_000)])
        return _plan_sweep(rng, start_khz=start, step_khz=step), REFUSED_BAND
    return _plan_sweep(rng), None


def wild_stream(rng: random.Random, n: int, manifest: Manifest) -> list[bytes]:
    """Node 50's wire chunks (one per frame or piece of text), the manifest counted."""
    wild = _Wild(rng, manifest)
    wild.frame(P.Status(5, 1, 0, 1, 100_000, 50_000, 0, 0, 0, 0, "0.1.0"))
    wild.frame(P.Reply(1, P.OK, json.dumps(INFO)))
    for _ in range(n):
        wild.t_us = min(rng.choice([wild.t_us + 50_000] * 12 + [
            max(wild.t_us - 10**7, 0), wild.t_us + rng.choice([1, 30]) * YEAR_US, 0, T_US_TOP]),
            T_US_TOP)
        kind = rng.randrange(10)
        step = rng.choice([1] * 8 + [0, 2, 1000, 40000, 65535])
        if kind < 5:
            sweep, reason = bad_sweep(rng)
            if wild.frame(sweep, seq_step=step) and reason:
                manifest.counts[reason] += 1
        elif kind == 5:
            wild.frame(_plan_sweep(rng), seq_step=step,
                       t_us=rng.choice([T_US_TOP + 1, 2**63, 2**64 - 1]))
        elif kind == 6:
            wild.frame(_plan_sweep(rng), seq_step=step, crc_broken=True)
        elif kind == 7:
            wild.text()
        elif wild.frame(_other_frame(rng, kind == 9), seq_step=step) and kind == 9:
            manifest.counts["unknown_frames"] += 1
    wild.oversize()
    wild.frame(_plan_sweep(rng))
    return wild.chunks


def _other_frame(rng: random.Random, unknown: bool):
    """A frame of a type no node sends (unknown), or a LOG, ENVELOPE or REMOTEID one with
    fields at their limits."""
    if unknown:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    case = rng.randrange(3)
    if case == 0:
        return P.Log(rng.choice([0, 255]), rng.choice(["\x00\x1b[2J", "\u202eevil", "x" * 1500]))
    if case == 1:
        return P.Envelope(0, 255, 65535, rng.choice([0, 2**32 - 1]), 2**32 - 1, -2**31,
                          2**31 - 1, array("H", [rng.choice([0, 65535])] * rng.choice([0, 1006])))
    return P.RemoteId(255, -128, bytes(6), b"\xfa\xff\x0d" + bytes(rng.randrange(30)))


# Values no field of an `info` or `get plan` reply takes, by the kind of value the field holds
BAD = {
    int: [None, True, "500", [500], {"v": 500}, 1.5, 10**30, 2**64, -1, -2**63, float("nan"),
          float("inf"), float("-inf"), "", "\u0665\u0660\u0660"],
    str: [None, 5, ["vid58"], "", "x" * 1000, "vid\x00", "\x1b[2J", "Vid58", "caf\u00e9",
          "\u202eevil"],
    list: [None, 5, "[]", {"0": 1}, float("nan")],
}
# (path in the reply, the kind of value there); `info`'s, then `get plan`'s
INFO_FIELDS = [(("front_ends",), list), (("front_ends", 0), list),
               (("front_ends", 0, "name"), str), (("front_ends", 0, "kind"), str),
               (("front_ends", 0, "band_khz"), list), (("front_ends", 0, "band_khz", 0), int),
               (("front_ends", 0, "band_khz", 1), int), (("front_ends", 0, "settle_us"), int),
               (("front_ends", 0, "filter_khz"), int), (("plan",), list), (("plan", 0), list),
               (("plan", 0, "front_end"), str), (("plan", 0, "dwell_us"), int),
               (("temp_plan_s",), int)]
PLAN_FIELDS = [(("plan",), list), (("plan", 0), list), (("plan", 0, "front_end"), str),
               *[(("plan", 0, key), int) for key in ("start_khz", "stop_khz", "step_khz",
                                                     "dwell_us")],
               (("temp_plan_s",), int)]


def _replaced(value, path: tuple, new):
    value = json.loads(json.dumps(value))
    inner = value
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = new
    return value


def lie(rng: random.Random) -> str:
    """An `info` or `get plan` reply with one field bad (or a key given twice): JSON text, as
    Python writes NaN and Infinity."""
    good, fields = rng.choice([(INFO, INFO_FIELDS), (PLAN_REPLY, PLAN_FIELDS)])
    if rng.random() < 0.1:  # a key twice: parsers differ on which one counts
        text = json.dumps(good)
        return text[:-1] + ", " + text[1:]
    path, kind = rng.choice(fields)
    bad = rng.choice(BAD[kind])
    if kind is list and path[-1] == 0:  # an entry, not a list: any value that is no object
        bad = rng.choice([None, 5, "vid58", [1]])
    return json.dumps(_replaced(good, path, bad))


def liar_stream(rng: random.Random, n: int, manifest: Manifest) -> list[bytes]:
    """Node 51's frames: its info, then n replies that lie, a good plan report among them."""
    frames = [P.Status(5, 1, 0, 1, 100_000, 50_000, 0, 0, 0, 0, "0.1.0"),
              P.Reply(1, P.OK, json.dumps(INFO))]
    for i in range(n):
        if rng.random() < 0.1:
            frames.append(P.Reply(i, P.OK, json.dumps(PLAN_REPLY)))
        else:
            frames.append(P.Reply(i & 0xFFFF, P.OK, lie(rng)))
            manifest.counts["replies_rejected"] += 1
    return [P.encode_frame(P.Frame(0, LIAR_ID, seq, 5_000_000 + 50_000 * seq, body))
            for seq, body in enumerate(frames)]


def chunks(seed: int, frames: int = 300, duration_s: float = 30.0) -> tuple[list[Chunk], Manifest]:
    """Every source's chunks in arrival order (the honest node's sweeps at 10 Hz for duration_s,
    the hostile streams spread over the same time), and their manifest."""
    rng = random.Random(seed)
    manifest = Manifest()
    honest = node_chunks(HONEST_ID, [], t0_ns=T0, duration_s=duration_s, seed=seed,
                         source=HONEST)
    manifest.honest_frames = len(honest)
    streams = [honest]
    for source, pieces in ((WILD, wild_stream(rng, frames, manifest)),
                           (LIAR, liar_stream(rng, frames // 4, manifest))):
        spacing = int(duration_s * 1e9) // len(pieces)
        streams.append([Chunk(T0 + 10**9 + i * spacing, source, data)
                        for i, data in enumerate(pieces)])
    return merge(streams), manifest


def write(seed: int, path, *, frames: int = 300, truncate: bool = False) -> Manifest:
    """A recording of chunks(seed, frames); `truncate`: cut inside its last record (a crash)."""
    pieces, manifest = chunks(seed, frames)
    writer = record.RecordWriter(path, {"tool": "straja.testing.hostile", "seed": seed})
    for chunk in pieces:
        writer.data(chunk.source, chunk.t_ns, chunk.data)
    writer.close()
    if truncate:
        with open(path, "rb+") as f:
            size = f.seek(0, 2)
            last = record.RECORD.size + len(pieces[-1].data)
            f.truncate(size - last // 2)
        manifest.cut_at = size - last
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m straja.testing.hostile",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("seed", type=int)
    parser.add_argument("file")
    parser.add_argument("--frames", type=int, default=300, help="the wild node's (default 300)")
    parser.add_argument("--truncate", action="store_true", help="cut inside the last record")
    args = parser.parse_args(argv)
    manifest = write(args.seed, args.file, frames=args.frames, truncate=args.truncate)
    print(json.dumps({"honest_frames": manifest.honest_frames, "cut_at": manifest.cut_at,
                      **dict(sorted(manifest.counts.items()))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
