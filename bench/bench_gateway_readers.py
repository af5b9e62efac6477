"""The gateway's port readers alone: CPU per node-second reading N pseudo-terminals that nodes on
the default plan stream into, min / median of repeated passes.

    .venv/bin/python bench/bench_gateway_readers.py [--nodes 16 64] [--seconds 4] [--passes 5]

Each node's stream is pi_check.py's (the firmware's default plan: 27.4 sweeps and a STATUS a
node-second), written frame by frame at its time to the master side of its own pty by a writer
process (its CPU is not the gateway's). The gateway's own `scan_ports` opens the slaves; this
thread runs the gateway's rounds of reads (`PortReaders.round`) and takes what they queue (no
processing: the pipeline's CPU is the gateway benchmarks'). CPU is this thread's inside the
rounds, from the first byte written to the last byte queued; every frame written must be queued.
The node counts run in turn, `--passes` rounds (a load that comes and goes on a shared machine then
falls on every count alike). Latency: wall time from a frame's scheduled write to the reader
queueing it (the writer's own lateness included), p50 / p99 over the passes.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import statistics
import sys
import time

import numpy as np

from straja.gateway import config
from straja.gateway.ingest import Gateway, IngestQueue
from straja.gateway.pipeline import Pipeline
from straja.testing.synth import merge

from pi_check import node_chunks  # noqa: E402  (bench/ is this script's folder)

LEAD_S = 0.3  # the readers are started this long before the first frame is written


def queued_bytes(streams) -> int:
    """The bytes the readers queue for these streams (IngestQueue drops the delimiters that
    open frames)."""
    q = IngestQueue(backlog=1 << 30)
    for s in streams:
        q.data(s[0].source, 0, b"".join(c.data for c in s))
    total = 0
    while True:
        try:
            total += len(q.get()[3])
        except queue.Empty:
            return total


def write_streams(masters: list[int], chunks: list[tuple[float, int, bytes]], t0: float,
                  lags=None) -> None:
    """The writer process: each chunk to its node's pty at its time (t0 on the monotonic clock);
    with `lags` (a float buffer a chunk), each chunk's lateness in seconds once written."""
    for i, (at, node, data) in enumerate(chunks):
        delay = t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        view = memoryview(data)
        while view:
            view = view[os.write(masters[node], view):]
        if lags is not None:
            lags[i] = time.monotonic() - t0 - at


def one_pass(nodes: int, seconds: float, streams, latencies: list[float]) -> float:
    ptys = [os.openpty() for _ in range(nodes)]
    paths = [os.ttyname(slave) for _, slave in ptys]
    first = min(s[0].t_ns for s in streams)
    chunks = [((c.t_ns - first) / 1e9, int(c.source.removeprefix("/dev/node")) - 1, c.data)
              for c in merge(streams)]
    total = queued_bytes(streams)
    cfg = config.GatewayConfig(ports=tuple(paths), discover=False, port_backlog=1 << 20)
    gw = Gateway(cfg, Pipeline(cfg))
    got = 0
    written_at = []
    gw.scan_ports()
    t0 = time.monotonic() + LEAD_S
    writer = multiprocessing.get_context("fork").Process(
        target=write_streams, args=([m for m, _ in ptys], chunks, t0))
    wall0 = time.time_ns() - int((time.monotonic() - t0) * 1e9)  # t0 on the wall clock
    writer.start()
    cpu, give_up = 0.0, time.monotonic() + seconds + 30
    while got < total and time.monotonic() < give_up:
        c0 = time.thread_time()
        gw.reading.round(0.5)
        cpu += time.thread_time() - c0
        while True:  # what the round queued, taken (no processing)
            try:
                kind, _, t_ns, data = gw.queue.get()
            except queue.Empty:
                break
            if kind == "data":
                got += len(data)
                written_at.append(t_ns)
    writer.join()
    gw.close()
    for master, slave in ptys:
        os.close(master)
        os.close(slave)
    if got < total:
        raise SystemExit(f"the reads queued {got} of {total} bytes")
    # a chunk's latency: queued against the latest frame written before it (an upper bound of
    # the frame's own: frames written closer together than a read share it)
    times = np.array([wall0 + int(at * 1e9) for at, _, _ in chunks])
    arrivals = np.array(written_at)
    before = np.searchsorted(times, arrivals, side="right") - 1
    latencies += list((arrivals - times[np.maximum(before, 0)]) / 1e6)
    return cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--seconds", type=float, default=4.0, help="seconds of streaming a pass")
    ap.add_argument("--passes", type=int, default=5, help="passes of each node count")
    args = ap.parse_args()
    if min(args.nodes) < 1 or args.seconds < 1 or args.passes < 1:
        ap.error("need --nodes >= 1, --seconds >= 1 and --passes >= 1")
    rng = np.random.default_rng(1)
    streams = {n: [node_chunks(i, args.seconds, rng) for i in range(1, n + 1)]
               for n in args.nodes}
    latencies = {n: [] for n in args.nodes}
    runs = {n: [] for n in args.nodes}
    for _ in range(args.passes):
        for n in args.nodes:
            runs[n].append(one_pass(n, args.seconds, streams[n], latencies[n]))
    print(f"load average {os.getloadavg()[0]:.1f}; {args.seconds:g} s passes; frames written "
          f"whole at their times")
    print("| nodes | frames a node-second | passes | reader CPU a node-second min / median | "
          "of one core (min) | frame to queued p50 / p99 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.nodes:
        frames = sum(len(s) for s in streams[n]) / n / args.seconds
        per = [1e3 * cpu / args.seconds / n for cpu in runs[n]]
        lat = np.array(latencies[n])
        print(f"| {n} | {frames:.1f} | {len(per)} | {min(per):.3f} / {statistics.median(per):.3f}"
              f" ms | {100 * min(runs[n]) / args.seconds:.1f} % | {np.percentile(lat, 50):.2f} / "
              f"{np.percentile(lat, 99):.2f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
