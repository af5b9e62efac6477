"""Decode throughput of the protocol v1 stream decoders: compiled (straja.framing.Decoder) vs the
plain-Python reference (straja.protocol.ReferenceDecoder), in the same run.

    .venv/bin/python bench/bench_framing.py [--mb 2]

The stream is what a busy node sends: 64-, 256- and 1024-channel sweeps (the last one a
5.8 GHz-band scan at 0.5 MHz steps), 512-sample envelope blocks and a STATUS now and then. It is
fed in 64-byte chunks (a USB CDC packet) and 64 KiB chunks (a gateway's large read).
"""
import argparse
import random
import time
from array import array

from straja import protocol as P
from straja.framing import Decoder


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


def throughput(make, stream: bytes, chunk: int, frames: int) -> float:
    """MB/s of the best of three passes (a fresh decoder each time)."""
    best = float("inf")
    for _ in range(3):
        dec = make()
        start = time.perf_counter()
        got = 0
        for i in range(0, len(stream), chunk):
            got += len(dec.feed(stream[i:i + chunk]))
        best = min(best, time.perf_counter() - start)
        assert got == frames and dec.corrupt == 0
    return len(stream) / best / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=2.0, help="stream size in MB")
    args = ap.parse_args()
    stream, frames = make_stream(args.mb)
    print(f"stream: {len(stream) / 1e6:.2f} MB, {frames} frames "
          f"(mean {len(stream) / frames:.0f} B/frame)")
    print(f"{'chunk':>8} | {'reference MB/s':>14} | {'compiled MB/s':>13} | {'ratio':>6}")
    for chunk in (64, 65536):
        ref = throughput(P.ReferenceDecoder, stream, chunk, frames)
        fast = throughput(Decoder, stream, chunk, frames)
        print(f"{chunk:>8} | {ref:>14.2f} | {fast:>13.1f} | {fast / ref:>5.0f}x")


if __name__ == "__main__":
    main()
