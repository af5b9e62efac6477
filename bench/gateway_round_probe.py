"""Where a live gateway round's CPU goes, and what a chunk's processing is made of (gw30,
docs/benchmarks.md, "Fewer wake-ups at 100 nodes and more").

    .venv/bin/python bench/gateway_round_probe.py [--nodes 64 128] [--seconds 15]

For each node count: a live run of bench_gateway_live.measure (noise streams, the gateway on a
CPU of its own) whose rounds are split by thread CPU into the reads (`PortReaders.round`: the
wait's return, each ready port's read and split, the queueing), the first chunk handled and the
others, per round of the steady state; then, in this process with no ports, the same nodes'
streams handled back to back (`Gateway.handle`) against the compiled part of it alone (each
chunk's `Decoder.feed` and the pipeline's lane, `Lane.take`): the Python around the
detection core and the core's own cost a chunk at that count.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import bench_gateway_live as live
from pi_check import T0, hello, node_chunks
from straja.gateway import config, ingest
from straja.gateway.pipeline import Pipeline
from straja.gateway.store import Store
from straja.testing.synth import merge

PASSES = 3  # of the in-process case, the least kept


def split_rounds(gateway: ingest.Gateway, rows: list) -> None:
    """Appends (monotonic s, reads' CPU, first chunk's, the others', chunks) to rows for each
    round of `gateway` that read something (its thread CPU, ns)."""
    reading, handle, take = gateway.reading, gateway.handle, gateway.take
    round_of: dict = {}

    def timed_round(timeout_s):
        c0 = time.thread_time_ns()
        ready = reading_round(timeout_s)
        round_of.update(reads=time.thread_time_ns() - c0, first=0, others=0, chunks=0,
                        at=time.monotonic())
        return ready

    def timed_handle(kind, path, t_ns, data):
        c0 = time.thread_time_ns()
        out = handle(kind, path, t_ns, data)
        if kind == "data" and round_of:
            round_of["others" if round_of["chunks"] else "first"] += time.thread_time_ns() - c0
            round_of["chunks"] += 1
        return out

    def timed_take():
        took = take()
        if took and round_of:
            rows.append((round_of["at"], round_of["reads"], round_of["first"],
                         round_of["others"], round_of["chunks"]))
        return took
    reading_round = reading.round
    reading.round, gateway.handle, gateway.take = timed_round, timed_handle, timed_take


def live_split(nodes: int, seconds: float) -> str:
    rows: list = []
    gateway_init = ingest.Gateway.__init__

    def init(self, *args, **kwargs):
        gateway_init(self, *args, **kwargs)
        split_rounds(self, rows)
    ingest.Gateway.__init__ = init
    try:
        r = live.measure(nodes, seconds, apart=True, noise=True)
    finally:
        ingest.Gateway.__init__ = gateway_init
    a = np.array(rows, float)
    a = a[a[:, 0] >= a[0, 0] + live.WARM_S]  # the steady state
    reads, first, others = (a[:, i] / 1e3 for i in (1, 2, 3))
    chunks = a[:, 4]
    several = chunks > 1
    return (f"{nodes} nodes live, load {r['load']:.1f}: {len(a)} rounds, {chunks.mean():.1f} "
            f"chunks a round; medians a round: reads {np.median(reads):.0f} us, the first chunk "
            f"{np.median(first):.1f} us, each other "
            f"{np.median(others[several] / (chunks[several] - 1)):.1f} us; the thread "
            f"{live.per_node_ms(r, r['processing']):.3f} ms a node-second")


def in_process(nodes: int, seconds: float) -> str:
    chunks = merge([node_chunks(n, seconds, np.random.default_rng(n)) for n in range(1, nodes + 1)])
    warm_until = chunks[0].t_ns + 2_000_000_000  # each front end's first sweeps, not timed
    whole, compiled = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(PASSES):
            for only_compiled, runs in ((False, whole), (True, compiled)):
                cfg = config.from_dict({"gateway": {"ports": [], "discover": False,
                                                    "db": str(Path(tmp) / f"{n}{only_compiled}.db")}})
                gateway = ingest.Gateway(cfg, Pipeline(cfg), store=Store(cfg.db))
                pipeline = gateway.pipeline
                for node in range(1, nodes + 1):
                    gateway.handle("open", f"/dev/node{node}", T0, b"")
                    gateway.handle("data", f"/dev/node{node}", T0, hello(node))
                timed = [c for c in chunks if c.t_ns >= warm_until]
                for c in chunks[:len(chunks) - len(timed)]:
                    gateway.handle("data", c.source, c.t_ns, c.data)
                c0 = time.thread_time()
                if only_compiled:
                    lane, decoders = pipeline._lane, pipeline.decoders
                    for c in timed:
                        lane.take(decoders[c.source].feed(c.data), 0, c.source, c.t_ns)
                else:
                    for c in timed:
                        gateway.handle("data", c.source, c.t_ns, c.data)
                runs.append(1e6 * (time.thread_time() - c0) / len(timed))
                gateway.store.close()
    return (f"{nodes} nodes in process, least of {PASSES}: Gateway.handle {min(whole):.1f} us a "
            f"chunk, of which the decoder and the lane {min(compiled):.1f} us")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--seconds", type=float, default=15.0)
    args = ap.parse_args()
    if min(args.nodes) < 1 or args.seconds < 3:
        ap.error("need --nodes >= 1 and --seconds >= 3")
    for nodes in args.nodes:
        print(live_split(nodes, args.seconds))
        print(in_process(nodes, min(args.seconds, 6.0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
