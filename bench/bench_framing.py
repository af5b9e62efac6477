"""Decode throughput of the compiled protocol v1 stream decoder (straja.framing.Decoder) against
its peers from PyPI, the `cobs` and `anycrc` packages, same process, same stream, CPU time.

    .venv/bin/python bench/bench_framing.py [--mb 2]

The peer is what a gateway would write with those packages: split the stream at 0x00
(`bytes.split`, a partial frame kept for the next chunk), `cobs.cobs.decode` each frame,
CRC-16/CCITT-FALSE (anycrc's "CRC16-IBM-3740", the same CRC) over all but the last two bytes
compared with them, the header unpacked with `struct` and the body sliced off. Ours does that
and more: the body parsed into its object (Sweep, Envelope, Status, ...) and the sequence
tracked. Before timing, every frame of both is checked equal: header fields and body bytes.

The stream is what a busy node sends: 64-, 256- and 1024-channel sweeps (the last one a
5.8 GHz-band scan at 0.5 MHz steps), 512-sample envelope blocks and a STATUS now and then. It is
fed in 64-byte chunks (a USB CDC packet) and 64 KiB chunks (a gateway's large read). CPU time of
this thread; the peer's and our passes interleaved (one of each a round, bench/timing.py) until
both minima are stable, so a load that comes and goes falls on both alike: min / median of
each, and the ratio by the minima and the median of the rounds' ratios (each round's pair).
"""
import statistics
import argparse
import random
import sys
import time
from array import array
from pathlib import Path

import anycrc
from cobs import cobs

sys.path.insert(0, str(Path(__file__).parent))
from timing import interleaved  # noqa: E402

from straja import protocol as P  # noqa: E402
from straja.framing import Decoder  # noqa: E402

CRC = anycrc.Model("CRC16-IBM-3740")  # CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no XOR
HEADER = P.HEADER_FMT


class PeerDecoder:
    """COBS + CRC + header with the `cobs` and `anycrc` packages: (type, node, seq, t_us, body)."""

    def __init__(self):
        self.tail = b""

    def feed(self, data: bytes) -> list:
        parts = (self.tail + data).split(b"\0")
        self.tail = parts.pop()
        out = []
        for part in parts:
            if not part:
                continue
            try:
                raw = cobs.decode(part)
            except cobs.DecodeError:
                continue
            view = memoryview(raw)
            if (P.HEADER_LEN + P.CRC_LEN <= len(raw) and raw[0] == P.VERSION
                    and CRC.calc(view[:-P.CRC_LEN]) == int.from_bytes(view[-P.CRC_LEN:], "big")):
                _, ftype, node_id, seq, t_us = HEADER.unpack_from(raw)
                out.append((ftype, node_id, seq, t_us, raw[P.HEADER_LEN:-P.CRC_LEN]))
        return out


def make_stream(megabytes: float, seed: int = 1) -> tuple[bytes, int]:
    rnd = random.Random(seed)
    out, seq, t = [], 0, 0
    size = 0
    while size < megabytes * 1e6:
        k = seq % 10
        if k == 9:
            body = P.Status(seq, 1, 0, 1, 100000, 50000, 0, 0, 0xBEEF, 0, "0.1.0")
        elif k in (3, 7):
            body = P.Envelope(3, 0, seq, 100000, 5800000, -22000, 15000,
                              array("H", rnd.choices(range(65536), k=512)))
        else:
            n = (64, 256, 1024)[k % 3]
            body = P.Sweep(k % 3, 0, seq, 5645000, 500, 300, 300 * n, 0, n, rnd.randbytes(n))
        wire = P.encode_frame(P.Frame(P.body_bytes(body)[0], 1, seq & 0xFFFF, t, body))
        out.append(wire)
        size += len(wire)
        seq += 1
        t += 1000
    return b"".join(out), seq


def decode_all(make, stream: bytes, chunk: int) -> list:
    dec = make()
    return [ev for i in range(0, len(stream), chunk) for ev in dec.feed(stream[i:i + chunk])]


def as_tuples(frames: list) -> list:
    return [(f.type, f.node_id, f.seq, f.t_us, P.body_bytes(f.body)[1]) for f in frames]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=2.0, help="stream size in MB")
    ap.add_argument("--budget", type=float, default=4.0,
                    help="CPU seconds of timed passes at most, per chunk size")
    args = ap.parse_args()
    stream, frames = make_stream(args.mb)
    print(f"stream: {len(stream) / 1e6:.2f} MB, {frames} frames "
          f"(mean {len(stream) / frames:.0f} B/frame); CPU time, MB/s min / median")
    print(f"{'chunk':>8} | {'cobs + anycrc MB/s':>18} | {'compiled MB/s':>15} | "
          f"ratio min / paired median")
    for chunk in (64, 65536):
        ours, peer = decode_all(Decoder, stream, chunk), decode_all(PeerDecoder, stream, chunk)
        assert len(ours) == frames and as_tuples(ours) == peer, "outputs differ"
        runs = interleaved({make: lambda make=make: cpu_of(make, stream, chunk)
                            for make in (PeerDecoder, Decoder)}, args.budget)
        (peer_best, peer_med), (ours_best, ours_med) = (
            (len(stream) / min(r) / 1e6, len(stream) / statistics.median(r) / 1e6)
            for r in (runs[PeerDecoder], runs[Decoder]))
        paired = statistics.median(p / o for p, o in zip(runs[PeerDecoder], runs[Decoder]))
        print(f"{chunk:>8} | {peer_best:>8.0f} / {peer_med:<7.0f} | {ours_best:>6.0f} / "
              f"{ours_med:<6.0f} | {ours_best / peer_best:.2f}x / {paired:.2f}x "
              f"({len(runs[Decoder])} rounds)", flush=True)


def cpu_of(make, stream: bytes, chunk: int) -> float:
    t0 = time.thread_time()
    decode_all(make, stream, chunk)
    return time.thread_time() - t0


if __name__ == "__main__":
    main()
