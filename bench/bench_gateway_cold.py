"""Why the live gateway costs several times the replay of the same chunks: the caches.

    .venv/bin/python bench/bench_gateway_cold.py [--nodes 16] [--seconds 10] [--passes 2]

pi_check.py's noise streams (the default plan, hello replies first) go through a fresh gateway's
`handle`, one chunk a frame, in order, as a live gateway handles them, but back to back; then
again with the caches overwritten (an 8 MiB buffer touched, not timed) before every k-th chunk,
as what runs between two rounds of a live gateway (other processes, the kernel, other guests of
the host) overwrites them. Thread CPU a chunk, mean and median, after the first 2 s (the
connects). If the warm figure is the replay's and the cold ones the live figures, the cost a
chunk live is the caches refilled, and chunks a round (k) is what pays it back.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from straja.gateway import config
from straja.gateway.ingest import Gateway
from straja.gateway.pipeline import Pipeline
from straja.gateway.store import Store
from straja.testing.synth import merge

from pi_check import T0, hello, node_chunks  # noqa: E402  (bench/ is this script's folder)

EVICT_BYTES = 8 << 20  # more than this machine's L2 and a Pi 4's (1 MiB)
# k: a live round's chunks (on an idle machine ~4 at 16 nodes; at 128 nodes, rounds on time
# every 4 ms, 128 x 28.6 frames a second x 4 ms = 14.6; every 8 ms, a busy fleet's cadence:
# ingest.BUSY_READ_INTERVAL_S, 29.3)
CASES = ((0, "warm: back to back"), (1, "cold before every chunk"), (2, "cold every 2 chunks"),
         (4, "cold every 4 chunks"), (8, "cold every 8 chunks"), (16, "cold every 16 chunks"),
         (32, "cold every 32 chunks"))


def one_pass(chunks, nodes: int, every: int, folder: Path, evict: np.ndarray) -> np.ndarray:
    """Thread CPU µs of each chunk's handle after the first 2 s; the caches overwritten before
    every `every`-th chunk (0: never)."""
    cfg = config.from_dict({"gateway": {"ports": [], "discover": False,
                                        "db": str(folder / f"{time.time_ns()}.db")}})
    store = Store(cfg.db)
    gateway = Gateway(cfg, Pipeline(cfg), store=store)
    for n in range(1, nodes + 1):
        gateway.handle("open", f"/dev/node{n}", T0, b"")
        gateway.handle("data", f"/dev/node{n}", T0, hello(n))
    times = []
    for i, c in enumerate(chunks):
        if every and i % every == 0:
            evict[::64] += 1  # a write to every cache line
        c0 = time.thread_time_ns()
        gateway.handle("data", c.source, c.t_ns, c.data)
        times.append(time.thread_time_ns() - c0)
    store.close()
    t_s = (np.array([c.t_ns for c in chunks]) - chunks[0].t_ns) / 1e9
    return np.array(times)[t_s >= 2] / 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--passes", type=int, default=2, help="rounds of the cases, in turn")
    args = ap.parse_args()
    if args.nodes < 1 or args.seconds < 3 or args.passes < 1:
        ap.error("need --nodes >= 1, --seconds >= 3 and --passes >= 1")
    rng = np.random.default_rng(1)
    chunks = merge([node_chunks(n, args.seconds, rng) for n in range(1, args.nodes + 1)])
    evict = np.zeros(EVICT_BYTES, np.uint8)
    found: dict[int, list[np.ndarray]] = {every: [] for every, _ in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.passes):
            for every, _ in CASES:
                found[every].append(one_pass(chunks, args.nodes, every, Path(tmp), evict))
    print(f"{args.nodes} nodes x {args.seconds:g} s of noise streams, {args.passes} passes, load "
          f"average {os.getloadavg()[0]:.1f}")
    print("| case | CPU a chunk: mean / median, each pass | vs warm (means / medians) |\n"
          "|---|---|---:|")
    warm = [np.median([f(x) for x in found[0]]) for f in (np.mean, np.median)]
    for every, name in CASES:
        passes = ", ".join(f"{x.mean():.1f} / {np.median(x):.1f} µs" for x in found[every])
        mean, median = (np.median([f(x) for x in found[every]]) / w
                        for f, w in zip((np.mean, np.median), warm))
        print(f"| {name} | {passes} | {mean:.1f}x / {median:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
