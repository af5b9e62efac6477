"""Gateway benchmark: nodes' frames through the whole processing path (decode, health, detection
core, fusion, alerts, SQLite store) at 16, 64 and 256 nodes: CPU per sweep, latency from a
chunk's arrival to its events, and the cost of a node connect and of a plan change.

    .venv/bin/python bench/bench_gateway.py [--seconds 10] [--nodes 16 64 256] [--bins 64]
        [--scene-nodes 16] [--scene-seconds 20]

Frames are made by `straja.testing.synth` (protocol.encode_frame): each node sweeps `--bins`
channels over 5.645-5.945 GHz (an RX5808, 470 looks) 10 times a second and sends a STATUS every
second; a video transmitter approaches 6 of every 16 (the same share of the nodes at every node
count, so that the cost per node compares like with like). Each node first answers the gateway's hello as
a real one does: its `info` reply (front-end kinds: the gateway designs the multi-look CFAR
tables from them) and its `get plan` reply. Chunks are fed back to back, each stamped with its
arrival time as a port reader would.

The cyclic garbage collector (`--gc`): on, as the gateway runs it; off during the timed stream
(its share of the cost); or frozen (`gc.collect()` then `gc.freeze()` once the nodes have
connected and the warm stream gone through: the objects alive then are never walked again).
Whatever the mode, the collector's runs in each timed stream and their CPU (gc.callbacks) are
printed: its share of a sweep's cost at each node count.

Events digest: of every event and command the timed stream gave, and the pipeline's counts
(every pass must give the same: the bench stops otherwise); the same digest before and after a
change of the processing code says it kept the gateway's behaviour on this input.

Figures: CPU time of this thread (`time.thread_time`) over the whole stream, divided by the
sweeps (cost); each node count's stream goes through a fresh gateway again and again, the node
counts in turn, until every count's minimum is stable (bench/timing.py): min / median of the
passes, so a load that comes and goes on a shared machine falls on every count alike; and
against the first count, the median (quartiles) of each round's ratio of the two passes a sweep
(bench/timing.paired: a slow spell of the machine falls within a round on both, where it can
move one count's minimum or median alone, the longest passes meeting it most often). Latency:
wall time from a chunk's hand-over to its events stored, in passes of their own after those
(`--latency-passes`: the clock reads a chunk are not in the CPU figure). A node
connect (port opened, hello, info and plan replies, first STATUS and sweep: its core made) and a
plan change (a sweep of a plan not seen before: a new core) are timed per node, CPU, min / median;
the first connect of a run designs the tables, the others find them cached.

Emitters (`--scene-nodes`, default 16; none: skipped): the demo scene (`make demo`: an FPV
drone's video and its pilot's ExpressLRS handset, a Remote ID survey drone's video, a farm's
Wi-Fi, a Bluetooth headset) watched from a grid of masts 300 m apart, as bench_gateway_live.py
runs it, each node's front ends read by the evaluation's fast path (straja.eval.readings: the
firmware's drivers on the virtual board's chip models) on the firmware's default plan as
pi_check.py runs it (EVAL_PLAN: RX5808, CC2500, SX126x); `--scene-seconds` from switch-on.
Each node answers the hello with the `info` and `get plan` replies its firmware gives; the first
SCENE_WARM_S seconds (every front end's first sweeps: its core made) are streamed untimed, the
rest timed as above: the processing the live gateway's thread does with emitters on the air,
without its port readers. Making that input is slow (the fast path reads every chip
model: about 2 minutes for 16 nodes x 20 s on an idle core); it is made once a run.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from straja_node.plan import scanning

from straja.eval.readings import EVAL_PLAN, NodeReader, wire_chunks
from straja.gateway import config, store
from straja.gateway.events import AlertEvent
from straja.gateway.ingest import is_sweep
from straja.gateway.pipeline import Pipeline
from straja.protocol import REPLY, Frame, Reply, Sweep, encode_frame
from straja.sim.scene import load_scene
from straja.testing import synth

sys.path.insert(0, str(Path(__file__).parent))
import timing  # noqa: E402
from bench_gateway_live import grid_scene  # noqa: E402

T0 = 1_700_000_000_000_000_000
VIDEO_OF_16 = 6  # nodes of every 16 the video transmitter approaches: the same share at any count
BAND_LO, BAND_HI = 5_645_000, 5_945_000
INFO = {"front_ends": [{"name": "vid58", "kind": "rx5808", "band_khz": [BAND_LO, BAND_HI],
                        "settle_us": 300, "filter_khz": 20_000}]}


def band(bins: int) -> tuple[int, int, int]:
    step = (BAND_HI - BAND_LO) // (bins - 1)
    return BAND_LO, BAND_LO + step * (bins - 1), step


def hello_replies(node_id: int, info: dict, plan: list[dict]) -> bytes:
    """The node's answers to the gateway's hello: info, then get plan (request ids 1, 2)."""
    texts = (json.dumps({**info, "plan": plan}), json.dumps({"plan": plan}))
    return b"".join(encode_frame(Frame(REPLY, node_id, 60000 + i, 4_000_000, Reply(i + 1, 0, t)))
                    for i, t in enumerate(texts))


def video_hello(node_id: int, bins: int) -> bytes:
    lo, hi, step = band(bins)
    return hello_replies(node_id, INFO, [{"front_end": "vid58", "start_khz": lo, "stop_khz": hi,
                                          "step_khz": step}])


def other_plan_sweep(node_id: int, bins: int) -> bytes:
    """A sweep of a plan the node has not run before (a focus: half the step, same channels)."""
    lo, _, step = band(bins)
    codes = bytes(np.full(bins, 40, np.uint8))
    return encode_frame(Frame(0, node_id, 61000, 4_500_000,
                              Sweep(0, 0, 1, lo, step // 2, 500, 50_000, 0, bins, codes)))


def digest(outputs: list, counts: dict) -> str:
    """A short digest of the outputs' events and commands (their reprs: every field) and the
    pipeline's counts."""
    h = hashlib.sha256(repr(sorted(counts.items())).encode())
    for out in outputs:
        for item in out.events + out.commands:
            h.update(repr(item).encode())
    return h.hexdigest()[:12]


def feed_chunks(pipeline: Pipeline, st: store.Store, chunks: list) -> list:
    """Feed the chunks, storing their events: the outputs with events or commands (a few, to
    be digested untimed)."""
    given = []
    for c in chunks:
        out = pipeline.feed(c.source, c.t_ns, c.data)
        if out.events:
            st.write(out.events)
            given.append(out)
        elif out.commands:
            given.append(out)
    return given


def check_passes(fleet: "Fleet") -> None:
    """Every pass of a fleet raised the same alerts and gave the same events (else the figures
    are not of one processing)."""
    assert len(set(fleet.alerts)) == 1, f"passes raised different alerts: {fleet.alerts}"
    assert len(set(fleet.digests)) == 1, f"passes gave different events: {fleet.digests}"


def ms_pct(values, q) -> float:
    return float(np.percentile(np.array(values) / 1e6, q))


class Fleet:
    """One node count's input, streamed through a fresh gateway (pipeline and store) on each
    pass; what every pass measured is kept. Each node connects with its hello replies and its
    first chunks (`firsts`: a STATUS and a sweep); `warm` (all nodes' chunks, merged in time)
    is streamed untimed, then `chunks`, timed."""

    def __init__(self, folder: Path, hellos: list[bytes], firsts: list, chunks: list,
                 warm: list = (), bins: int = 64, gc_mode: str = "on"):
        self.n_nodes, self.bins, self.folder, self.gc_mode = len(hellos), bins, folder, gc_mode
        self.hellos, self.firsts, self.warm, self.chunks = hellos, firsts, warm, chunks
        self.sweeps = sum(is_sweep(c.data.strip(b"\0")) for c in chunks)
        self.connect, self.plan_change, self.lat_all, self.lat_alert = [], [], [], []
        self.cpu_alert = []  # CPU of the alert chunks (their wall latency includes preemption)
        self.alerts = []
        self.gc_cpu, self.gc_runs = [], []  # of each timed pass: the collector's CPU and runs
        # of each timed pass: a digest of every event and command the stream gave, and the
        # pipeline's counts (the same in every pass, and before and after a change of the code)
        self.digests = []

    def stream(self, latency: bool = False) -> float:
        """One pass: connect every node, stream, change every node's plan. Returns the CPU
        seconds of the stream alone. latency: each chunk's latency (and an alert chunk's CPU)
        taken too, which costs clock reads a chunk: a pass of its own, not a timed one."""
        path = self.folder / f"gw{self.n_nodes}.db"
        for stale in self.folder.glob(path.name + "*"):
            stale.unlink()
        st = store.Store(path)
        pipeline = Pipeline(config.GatewayConfig())
        for hello, (status, sweep) in zip(self.hellos, self.firsts):
            c0 = time.thread_time()
            st.write(pipeline.open_source(status.source, status.t_ns - 2).events)
            st.write(pipeline.feed(status.source, status.t_ns - 1, hello).events)
            for c in (status, sweep):
                st.write(pipeline.feed(c.source, c.t_ns, c.data).events)
            self.connect.append(time.thread_time() - c0)
        for c in self.warm:
            st.write(pipeline.feed(c.source, c.t_ns, c.data).events)
        if self.gc_mode == "freeze":
            gc.collect()
            gc.freeze()
        elif self.gc_mode == "off":
            gc.disable()
        collector = Collections()
        c0 = time.thread_time()
        try:
            if latency:
                self._stream_timed(pipeline, st)
            else:
                gc.callbacks.append(collector)
                given = feed_chunks(pipeline, st, self.chunks)
            cpu = time.thread_time() - c0
        finally:
            if collector in gc.callbacks:
                gc.callbacks.remove(collector)
            gc.enable()
            gc.unfreeze()
        if not latency:
            self.digests.append(digest(given, pipeline.counts))
            self.gc_cpu.append(collector.cpu)
            self.gc_runs.append(collector.runs)
        t_end = self.chunks[-1].t_ns
        for n, (status, _) in enumerate(self.firsts, 1):
            c0 = time.thread_time()
            st.write(pipeline.feed(status.source, t_end + n, other_plan_sweep(n, self.bins)).events)
            self.plan_change.append(time.thread_time() - c0)
        self.alerts.append(st.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
        st.close()
        return cpu

    def _stream_timed(self, pipeline: Pipeline, st: store.Store) -> None:
        lat_all, lat_alert = self.lat_all, self.lat_alert
        for c in self.chunks:
            t_arrival, c_arrival = time.perf_counter_ns(), time.thread_time_ns()
            events = pipeline.feed(c.source, c.t_ns, c.data).events
            if events:
                st.write(events)
            lat = time.perf_counter_ns() - t_arrival
            lat_all.append(lat)
            if any(isinstance(e, AlertEvent) for e in events):
                lat_alert.append(lat)
                self.cpu_alert.append(time.thread_time_ns() - c_arrival)


class Collections:
    """A gc.callbacks entry: the cyclic collector's runs and their CPU (this thread's) while it
    is registered (a timed stream: its share of the pass, in the pass's CPU too)."""

    def __init__(self):
        self.runs, self.cpu, self._start = 0, 0.0, 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.thread_time()
        else:
            self.runs += 1
            self.cpu += time.thread_time() - self._start


def video_fleet(n_nodes: int, seconds: float, bins: int, folder: Path,
                video_of_16: int = VIDEO_OF_16, gc_mode: str = "on") -> Fleet:
    """Synthetic nodes sweeping the video band, a video transmitter approaching video_of_16 of
    every 16."""
    video = synth.Emitter(5_800_000, 20_000, lambda t: -85 + t if 3 < t < seconds - 5 else None)
    streams = [synth.node_chunks(n, [video] if (n - 1) % 16 < video_of_16 else [], t0_ns=T0,
                                 duration_s=seconds, band=band(bins), offset_ns=n * 1_000_000)
               for n in range(1, n_nodes + 1)]
    return Fleet(folder, [video_hello(n, bins) for n in range(1, n_nodes + 1)],
                 [s[:2] for s in streams], synth.merge(s[2:] for s in streams), bins=bins,
                 gc_mode=gc_mode)


SCENE_WARM_S = 2  # seconds of a scene's stream before the timing starts


def scene_fleet(n_nodes: int, seconds: float, folder: Path, gc_mode: str = "on") -> Fleet:
    """The demo scene on a grid of n_nodes masts (module docstring, "Emitters")."""
    scene = load_scene(grid_scene(n_nodes, folder))
    hellos, streams = [], []
    for n, name in enumerate(scene.nodes, 1):
        reader = NodeReader(scene, name, seed=n)
        info = scanning(reader.board.front_ends, EVAL_PLAN, 0)  # the firmware's `info` of them
        hellos.append(hello_replies(n, info, EVAL_PLAN))
        source, t0_ns = f"/dev/node{n}", T0 + n * 1_000_000
        streams.append([synth.Chunk(t_ns, source, data) for t_ns, data
                        in wire_chunks(n, reader.sweeps(EVAL_PLAN, 0.0, seconds), t0_ns)])
    rest = synth.merge(s[2:] for s in streams)
    start = next((i for i, c in enumerate(rest) if c.t_ns >= T0 + SCENE_WARM_S * 10**9), len(rest))
    return Fleet(folder, hellos, [s[:2] for s in streams], rest[start:], rest[:start],
                 gc_mode=gc_mode)


def emitters(node_counts: list[int], seconds: float, budget: float, folder: Path,
             gc_mode: str) -> None:
    """The emitters case's table: CPU a sweep with the demo scene on the air."""
    fleets = {n: scene_fleet(n, seconds, folder, gc_mode) for n in node_counts}
    runs = timing.interleaved({n: f.stream for n, f in fleets.items()}, budget)
    print(f"Emitters: the demo scene from switch-on, {seconds:.0f} s (the first {SCENE_WARM_S} "
          "s untimed), each node the firmware's default plan read by the evaluation's fast "
          f"path; each node count streamed {len(runs[node_counts[0]])} times; gc {gc_mode}; "
          "load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| nodes | sweeps | sweeps a node-second | CPU a sweep min / median "
          "| CPU a node-second min | alerts | events digest |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for n, f in fleets.items():
        check_passes(f)
        node_s = n * (f.chunks[-1].t_ns - f.chunks[0].t_ns) / 1e9
        print(f"| {n} | {f.sweeps} | {f.sweeps / node_s:.1f} "
              f"| {min(runs[n]) / f.sweeps * 1e6:.1f} / "
              f"{statistics.median(runs[n]) / f.sweeps * 1e6:.1f} µs "
              f"| {1e3 * min(runs[n]) / node_s:.2f} ms | {f.alerts[0]} | {f.digests[0]} |",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="simulated seconds of streaming")
    ap.add_argument("--nodes", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--bins", type=int, default=64, help="channels a sweep")
    ap.add_argument("--video-of-16", type=int, default=VIDEO_OF_16, choices=range(17),
                    metavar="0-16", help="nodes of every 16 the video transmitter approaches "
                    "(0: every sweep quiet)")
    ap.add_argument("--budget", type=float, default=10.0,
                    help="CPU seconds of streaming passes at most, all node counts together")
    ap.add_argument("--latency-passes", type=int, default=3,
                    help="passes (each node count) that take each chunk's latency, after the "
                    "timed ones")
    ap.add_argument("--scene-nodes", type=int, nargs="*", default=[16],
                    help="node counts of the emitters case (none: skipped)")
    ap.add_argument("--scene-seconds", type=float, default=20.0,
                    help="scene seconds from switch-on in the emitters case")
    ap.add_argument("--gc", choices=("on", "off", "freeze"), default="on",
                    help="the cyclic garbage collector during the timed streams (module "
                    "docstring)")
    args = ap.parse_args()
    if args.latency_passes < 1:
        ap.error("--latency-passes must be at least 1")
    if args.scene_seconds < SCENE_WARM_S + 1 or min(args.scene_nodes, default=1) < 1:
        ap.error(f"need --scene-seconds >= {SCENE_WARM_S + 1} and --scene-nodes >= 1")
    with tempfile.TemporaryDirectory() as tmp:
        if args.scene_nodes:
            emitters(args.scene_nodes, args.scene_seconds, args.budget, Path(tmp), args.gc)
        fleets = {n: video_fleet(n, args.seconds, args.bins, Path(tmp), args.video_of_16, args.gc)
                  for n in args.nodes}
        runs = timing.interleaved({n: f.stream for n, f in fleets.items()}, args.budget)
        for _ in range(args.latency_passes):
            for f in fleets.values():
                f.stream(latency=True)
    print(f"{args.bins} bins a sweep, 10 sweeps/s and a STATUS/s a node, the video on "
          f"{args.video_of_16} of every 16 nodes, {args.seconds:.0f} s simulated; gc {args.gc}; "
          "CPU = this thread's, each node count streamed through a fresh gateway "
          f"{len(runs[args.nodes[0]])} times, node counts in turn; load average "
          f"{os.getloadavg()[0]:.1f}")
    first_n = args.nodes[0]
    print(f"| nodes | sweeps | CPU a sweep min / median | vs {first_n} nodes min / median "
          "| paired median (quartiles) | GC a sweep, runs a pass (median) | of one core "
          "| latency p50 / p99 | alerts | events digest | connect min / median (first) "
          "| plan change min / median |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    first = fleets[first_n].connect[0]
    base = None
    for n, f in fleets.items():
        check_passes(f)
        per_sweep = (min(runs[n]) / f.sweeps * 1e6, statistics.median(runs[n]) / f.sweeps * 1e6)
        base = base or per_sweep
        # each round's pass against the first count's of the same round, a sweep to a sweep
        paired = [r * fleets[first_n].sweeps / f.sweeps
                  for r in timing.paired(runs[first_n], runs[n])]
        con, pc = f.connect, f.plan_change
        print(f"| {n} | {f.sweeps} | {per_sweep[0]:.1f} / {per_sweep[1]:.1f} µs "
              f"| {per_sweep[0] / base[0]:.2f} / {per_sweep[1] / base[1]:.2f} "
              f"| {paired[0]:.2f} ({paired[1]:.2f}-{paired[2]:.2f}) "
              f"| {statistics.median(f.gc_cpu) / f.sweeps * 1e6:.2f} µs, "
              f"{statistics.median(f.gc_runs):g} "
              f"| {100 * min(runs[n]) / args.seconds:.1f} % "
              f"| {ms_pct(f.lat_all, 50):.3f} / {ms_pct(f.lat_all, 99):.2f} ms | {f.alerts[0]} "
              f"| {f.digests[0]} "
              f"| {1e3 * min(con[1:] or con):.2f} / {1e3 * statistics.median(con):.2f} ms"
              f"{f' ({1e3 * first:.1f} ms)' if f is fleets[first_n] else ''} "
              f"| {1e3 * min(pc):.2f} / {1e3 * statistics.median(pc):.2f} ms |", flush=True)
    for n, f in fleets.items():
        if f.lat_alert:
            print(f"{n} nodes, alert chunks ({len(f.lat_alert)} over all passes): arrival -> "
                  f"stored p50 {ms_pct(f.lat_alert, 50):.2f} ms, max {max(f.lat_alert) / 1e6:.2f} "
                  f"ms; their CPU p50 {ms_pct(f.cpu_alert, 50):.2f} ms, max "
                  f"{max(f.cpu_alert) / 1e6:.2f} ms")


if __name__ == "__main__":
    main()
