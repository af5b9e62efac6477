"""Gateway benchmark: 16 nodes' frames through the processing path (decode, health, detection
core, fusion, alerts, SQLite store), latency from a frame's arrival to its events, and CPU.

Frames are made by `straja.testing.synth` (protocol.encode_frame): each node sweeps 151 channels
over 5.645-5.945 GHz 10 times a second and sends a STATUS every second; a video transmitter
approaches 6 of the nodes. Chunks are fed back to back, each stamped with its arrival time as a
port reader would; the latency of a chunk is the wall time from that moment until its events are
stored. Run: .venv/bin/python bench/bench_gateway.py [--seconds 30] [--nodes 16]
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from straja.gateway import config, store
from straja.gateway.events import AlertEvent
from straja.testing import synth
from straja.gateway.pipeline import Pipeline

T0 = 1_700_000_000_000_000_000


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="simulated seconds of streaming")
    ap.add_argument("--nodes", type=int, default=16)
    args = ap.parse_args()
    video = synth.Emitter(5_800_000, 20_000, lambda t: -85 + t if 3 < t < args.seconds - 5 else None)
    streams = [synth.node_chunks(n, [video] if n <= 6 else [], t0_ns=T0, duration_s=args.seconds,
                                 offset_ns=n * 1_000_000) for n in range(1, args.nodes + 1)]
    chunks = synth.merge(streams)
    with tempfile.TemporaryDirectory() as tmp:
        st = store.Store(Path(tmp) / "gw.db")
        pipeline = Pipeline(config.GatewayConfig())
        lat_all, lat_alert, n_events = [], [], 0
        c0, w0 = cpu_s(), time.perf_counter()
        for c in chunks:
            t_arrival = time.perf_counter_ns()
            events = pipeline.feed(c.source, c.t_ns, c.data).events
            if events:
                st.write(events)
                n_events += len(events)
            lat = time.perf_counter_ns() - t_arrival
            lat_all.append(lat)
            if any(isinstance(e, AlertEvent) for e in events):
                lat_alert.append(lat)
        cpu, wall = cpu_s() - c0, time.perf_counter() - w0
        alerts = st.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        st.close()
    ms = lambda v, q: np.percentile(np.array(v) / 1e6, q)  # noqa: E731
    print(f"nodes {args.nodes}, simulated {args.seconds:.0f} s, frames {len(chunks)}, "
          f"events {n_events}, alerts {alerts}, alert events {len(lat_alert)}")
    print(f"latency arrival->events stored, all frames:  p50 {ms(lat_all, 50):.3f} ms, "
          f"p99 {ms(lat_all, 99):.3f} ms, max {ms(lat_all, 100):.3f} ms")
    if lat_alert:
        print(f"latency arrival->alert stored, alert frames: p50 {ms(lat_alert, 50):.3f} ms, "
              f"p99 {ms(lat_alert, 99):.3f} ms, max {ms(lat_alert, 100):.3f} ms")
    print(f"CPU {cpu:.2f} s for {args.seconds:.0f} s of {args.nodes} nodes: "
          f"{100 * cpu / args.seconds:.1f} % of one core, "
          f"{1000 * cpu / args.seconds / args.nodes:.2f} ms CPU per node-second; wall {wall:.2f} s")


if __name__ == "__main__":
    main()
