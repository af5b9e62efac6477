"""bench_gateway's video fleet streamed once, to count a sweep's instructions and cache misses at
a node count (perf9, docs/benchmarks.md, "What a node holds, and the 256-node ratio").

    .venv/bin/python bench/gateway_fleet_count.py --nodes 256 --input /tmp/fleet256.pickle
    valgrind --tool=callgrind --toggle-collect=_operator_call --cache-sim=yes \\
        --I1=49152,3,64 --D1=32768,2,64 --LL=1048576,16,64 \\
        .venv/bin/python bench/gateway_fleet_count.py --nodes 256 --input /tmp/fleet256.pickle

The input is bench_gateway.video_fleet's (64 channels, the video on 6 of every 16 nodes). Made
once and kept in `--input` (a pickle; made when the file is absent): making 256 nodes' frames
under valgrind takes longer than the stream. The nodes connect through a fresh gateway (pipeline
and store), then the whole stream goes through it inside `operator.call`, so that callgrind
(`--toggle-collect=_operator_call`) counts the stream alone; no eviction between chunks, so what
a sweep misses is what the other nodes' sweeps pushed out since its node's last one. Prints the
sweeps, the thread CPU a sweep and bench_gateway's events digest (the same as the bench's at
that node count and --seconds). Callgrind's totals over the sweeps printed: a sweep's counts.
"""
from __future__ import annotations

import argparse
import operator
import pickle
import sys
import tempfile
import time
from pathlib import Path

from straja.gateway import config, store
from straja.gateway.pipeline import Pipeline

sys.path.insert(0, str(Path(__file__).parent))
from bench_gateway import digest, feed_chunks, video_fleet  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=10.0, help="simulated seconds of streaming")
    ap.add_argument("--input", type=Path, required=True,
                    help="the fleet's frames (a pickle of this script's; made when absent)")
    args = ap.parse_args()
    if args.nodes < 1 or args.seconds <= 0:
        ap.error("need --nodes >= 1 and --seconds > 0")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.input.exists():
            fleet = video_fleet(args.nodes, args.seconds, 64, Path(tmp))
            args.input.write_bytes(pickle.dumps(
                (args.nodes, args.seconds, fleet.hellos, fleet.firsts, fleet.chunks, fleet.sweeps)))
        nodes, seconds, hellos, firsts, chunks, sweeps = pickle.loads(args.input.read_bytes())
        if (nodes, seconds) != (args.nodes, args.seconds):
            ap.error(f"{args.input} holds {nodes} nodes x {seconds:g} s")
        st = store.Store(Path(tmp) / "gw.db")
        pipeline = Pipeline(config.GatewayConfig())
        for hello, (status, sweep) in zip(hellos, firsts):
            st.write(pipeline.open_source(status.source, status.t_ns - 2).events)
            st.write(pipeline.feed(status.source, status.t_ns - 1, hello).events)
            for c in (status, sweep):
                st.write(pipeline.feed(c.source, c.t_ns, c.data).events)
        c0 = time.thread_time()
        given = operator.call(feed_chunks, pipeline, st, chunks)
        cpu = time.thread_time() - c0
        st.close()
    print(f"{nodes} nodes, {seconds:g} s: {sweeps} sweeps, thread CPU {cpu / sweeps * 1e6:.1f} us "
          f"a sweep; events digest {digest(given, pipeline.counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
