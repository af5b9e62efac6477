"""One long stream of bench_gateway's synthetic fleet through one gateway, for a sampling
profiler: the nodes connect and the first second streams untimed, then the process says `ready`
on stdout with its pid and waits, so that a profiler attached then sees the stream alone.

    .venv/bin/python bench/gateway_stream.py --nodes 256 --seconds 20 [--video-of-16 0]
        [--wait 1.5] [--fresh]

    perf record -e cpu-clock -F 4000 -p PID -o FILE   (PID: the number after `ready`)

Prints the stream's CPU a sweep (this thread's) and its events digest. --fresh: each block of
64 chunks is made anew (new bytes and int objects) just before it is fed, as a port reader
hands them over, the copy untimed; without it the fleet's own records are read (made at the
start, node by node, each read once in time order). Not run by run_all.py (a tool for
docs/benchmarks.md, "Where the extra cost a node goes at 256 nodes").
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from straja.argtypes import non_negative_float, positive_int
from straja.gateway import config
from straja.gateway.ingest import is_sweep
from straja.gateway.pipeline import Pipeline
from straja.testing.synth import Chunk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_gateway as bg  # noqa: E402

BLOCK = 64  # chunks fed between two clock reads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=positive_int, default=16)
    ap.add_argument("--seconds", type=positive_int, default=20, help="simulated seconds (> 1)")
    ap.add_argument("--video-of-16", type=int, default=0, choices=range(17), metavar="0-16")
    ap.add_argument("--wait", type=non_negative_float, default=1.5,
                    help="seconds between `ready` and the stream")
    ap.add_argument("--fresh", action="store_true", help="each block's chunks made anew")
    args = ap.parse_args()
    if args.seconds < 2:
        ap.error("--seconds must be at least 2 (the first is streamed untimed)")
    fleet = bg.video_fleet(args.nodes, float(args.seconds), 64, Path(tempfile.mkdtemp()),
                           args.video_of_16)
    pipeline = Pipeline(config.GatewayConfig())
    for hello, (status, sweep) in zip(fleet.hellos, fleet.firsts):
        pipeline.open_source(status.source, status.t_ns - 2)
        pipeline.feed(status.source, status.t_ns - 1, hello)
        for c in (status, sweep):
            pipeline.feed(c.source, c.t_ns, c.data)
    first = len(fleet.chunks) // args.seconds
    for c in fleet.chunks[:first]:
        pipeline.feed(c.source, c.t_ns, c.data)
    rest = fleet.chunks[first:]
    sweeps = sum(is_sweep(c.data.strip(b"\0")) for c in rest)
    print("ready", os.getpid(), flush=True)
    time.sleep(args.wait)
    cpu, outputs = 0.0, []
    for k in range(0, len(rest), BLOCK):
        block = rest[k:k + BLOCK]
        if args.fresh:
            block = [Chunk(int(str(c.t_ns)), c.source, bytes(bytearray(c.data))) for c in block]
        c0 = time.thread_time()
        for c in block:
            out = pipeline.feed(c.source, c.t_ns, c.data)
            if out.events or out.commands:
                outputs.append(out)
        cpu += time.thread_time() - c0
    print(f"{args.nodes} nodes, {sweeps} sweeps: {cpu / sweeps * 1e6:.2f} µs a sweep, events "
          f"digest {bg.digest(outputs, pipeline.counts)}", flush=True)


if __name__ == "__main__":
    main()
