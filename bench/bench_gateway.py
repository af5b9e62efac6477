"""Gateway benchmark: nodes' frames through the whole processing path (decode, health, detection
core, fusion, alerts, SQLite store) at 16, 64 and 256 nodes: CPU per sweep, latency from a
chunk's arrival to its events, and the cost of a node connect and of a plan change.

    .venv/bin/python bench/bench_gateway.py [--seconds 20] [--nodes 16 64 256] [--bins 64]

Frames are made by `straja.testing.synth` (protocol.encode_frame): each node sweeps `--bins`
channels over 5.645-5.945 GHz (an RX5808, 470 looks) 10 times a second and sends a STATUS every
second; a video transmitter approaches 6 of them. Each node first answers the gateway's hello as
a real one does: its `info` reply (front-end kinds: the gateway designs the multi-look CFAR
tables from them) and its `get plan` reply. Chunks are fed back to back, each stamped with its
arrival time as a port reader would.

Figures: CPU time of this thread (`time.thread_time`) over the whole stream, divided by the
sweeps (cost); wall time from a chunk's hand-over to its events stored (latency). A node
connect (port opened, hello, info and plan replies, first STATUS and sweep: its core made) and a
plan change (a sweep of a plan not seen before: a new core) are timed per node, CPU, min / median;
the first connect of a run designs the tables, the others find them cached.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from straja.gateway import config, store
from straja.gateway.events import AlertEvent
from straja.gateway.pipeline import Pipeline
from straja.protocol import REPLY, Frame, Reply, Sweep, encode_frame
from straja.testing import synth

T0 = 1_700_000_000_000_000_000
BAND_LO, BAND_HI = 5_645_000, 5_945_000
INFO = {"front_ends": [{"name": "vid58", "kind": "rx5808", "band_khz": [BAND_LO, BAND_HI],
                        "settle_us": 300, "filter_khz": 20_000}]}


def band(bins: int) -> tuple[int, int, int]:
    step = (BAND_HI - BAND_LO) // (bins - 1)
    return BAND_LO, BAND_LO + step * (bins - 1), step


def hello_replies(node_id: int, bins: int) -> bytes:
    """The node's answers to the gateway's hello: info, then get plan (request ids 1, 2)."""
    lo, hi, step = band(bins)
    plan = [{"front_end": "vid58", "start_khz": lo, "stop_khz": hi, "step_khz": step}]
    texts = (json.dumps({**INFO, "plan": plan}), json.dumps({"plan": plan}))
    return b"".join(encode_frame(Frame(REPLY, node_id, 60000 + i, 4_000_000, Reply(i + 1, 0, t)))
                    for i, t in enumerate(texts))


def other_plan_sweep(node_id: int, bins: int) -> bytes:
    """A sweep of a plan the node has not run before (a focus: half the step, same channels)."""
    lo, _, step = band(bins)
    codes = bytes(np.full(bins, 40, np.uint8))
    return encode_frame(Frame(0, node_id, 61000, 4_500_000,
                              Sweep(0, 0, 1, lo, step // 2, 500, 50_000, 0, bins, codes)))


def ms_pct(values, q) -> float:
    return float(np.percentile(np.array(values) / 1e6, q))


def run(n_nodes: int, seconds: float, bins: int) -> dict:
    video = synth.Emitter(5_800_000, 20_000, lambda t: -85 + t if 3 < t < seconds - 5 else None)
    streams = [synth.node_chunks(n, [video] if n <= 6 else [], t0_ns=T0, duration_s=seconds,
                                 band=band(bins), offset_ns=n * 1_000_000)
               for n in range(1, n_nodes + 1)]
    firsts = [s[:2] for s in streams]  # its first STATUS and sweep
    chunks = synth.merge(s[2:] for s in streams)
    sweeps = n_nodes * (int(seconds * 10) - 1)
    with tempfile.TemporaryDirectory() as tmp:
        st = store.Store(Path(tmp) / "gw.db")
        pipeline = Pipeline(config.GatewayConfig())
        connect = []
        for n, (status, sweep) in enumerate(firsts, 1):
            c0 = time.thread_time()
            st.write(pipeline.open_source(status.source, status.t_ns - 2).events)
            st.write(pipeline.feed(status.source, status.t_ns - 1, hello_replies(n, bins)).events)
            for c in (status, sweep):
                st.write(pipeline.feed(c.source, c.t_ns, c.data).events)
            connect.append(time.thread_time() - c0)
        lat_all, lat_alert, n_events = [], [], 0
        c0, w0 = time.thread_time(), time.perf_counter()
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
        cpu, wall = time.thread_time() - c0, time.perf_counter() - w0
        t_end = chunks[-1].t_ns
        plan_change = []
        for n, (status, _) in enumerate(firsts, 1):
            c0 = time.thread_time()
            st.write(pipeline.feed(status.source, t_end + n, other_plan_sweep(n, bins)).events)
            plan_change.append(time.thread_time() - c0)
        alerts = st.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
        st.close()
    return dict(nodes=n_nodes, chunks=len(chunks), sweeps=sweeps, cpu=cpu, wall=wall,
                events=n_events, alerts=alerts, lat_all=lat_all, lat_alert=lat_alert,
                connect=connect, plan_change=plan_change)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated seconds of streaming")
    ap.add_argument("--nodes", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--bins", type=int, default=64, help="channels a sweep")
    args = ap.parse_args()
    print(f"{args.bins} bins a sweep, 10 sweeps/s and a STATUS/s a node, {args.seconds:.0f} s "
          "simulated; CPU = this thread's")
    print(f"{'nodes':>5} | {'sweeps':>6} | {'CPU/sweep us':>12} | {'per node vs first':>17} | "
          f"{'% core':>6} | {'latency p50/p99 ms':>18} | {'alerts':>6} | "
          f"{'connect ms min/med (1st)':>24} | {'plan change ms min/med':>22}")
    base = None
    for n in args.nodes:
        r = run(n, args.seconds, args.bins)
        per_sweep = r["cpu"] / r["sweeps"] * 1e6
        base = base or per_sweep
        con, pc = r["connect"], r["plan_change"]
        print(f"{n:>5} | {r['sweeps']:>6} | {per_sweep:>12.1f} | {per_sweep / base:>16.2f}x | "
              f"{100 * r['cpu'] / args.seconds:>6.1f} | "
              f"{ms_pct(r['lat_all'], 50):>8.3f} / {ms_pct(r['lat_all'], 99):<7.3f} | "
              f"{r['alerts']:>6} | {1e3 * min(con[1:] or con):>7.2f} / "
              f"{1e3 * statistics.median(con):<5.2f} ({1e3 * con[0]:.1f}) | "
              f"{1e3 * min(pc):>9.2f} / {1e3 * statistics.median(pc):<9.2f}", flush=True)
        if r["lat_alert"]:
            print(f"      alert chunks ({len(r['lat_alert'])}): arrival -> stored p50 "
                  f"{ms_pct(r['lat_alert'], 50):.3f} ms, p99 {ms_pct(r['lat_alert'], 99):.3f} ms")


if __name__ == "__main__":
    main()
