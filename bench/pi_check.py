"""How many nodes running the default scan plan one core of this machine serves: run it on the
gateway's Raspberry Pi (docs/benchmarks.md, "On a Raspberry Pi").

    .venv/bin/python bench/pi_check.py [--nodes 32] [--seconds 20] [--scale 1|pi4] [--live-seconds 60]
        [--live-nodes 16 [64 128]] [--live-noise]

Each synthetic node runs the firmware's default plan of the virtual board (straja.eval.readings
EVAL_PLAN: RX5808 16 channels a 0.41 s sweep, CC2500 64 channels read twice, SX126x 64 channels
in 51 ms), answers the gateway's hello with its `info` and `get plan` replies, and sends a STATUS
a second; noise as each chip measures it (its looks). Everything goes through the gateway's
processing path (decode, health, detection, fusion, alerts, SQLite store). CPU is this thread's
(`time.thread_time`) in steady state: the first WARM_S seconds (each front end's first sweeps,
its detection core made) are not timed; the stream goes through a fresh gateway again until
the minimum is stable (bench/timing.py): min / median a sweep, the rest from the minimum. --scale
multiplies the CPU measured here: 1 on the Pi itself; `pi4` estimates a Pi 4 core from this
machine by the n-body yardstick measured in the same run (bench/yardstick.py: a Pi 4's published
figure over this machine's now; the table prints both). Nodes a core serves = one core's second over the
CPU a node costs per second, at full load and at half load (the headroom a gateway keeps for
bursts, alerts and MQTT).

With emitters (`--scene-nodes`, default 4; 0: skipped): the same figures with the demo scene on
the air (bench_gateway.py's emitters case: a drone's video and control link, a survey drone,
Wi-Fi, Bluetooth, read by the evaluation's fast path on each node's default plan), after its
first SCENE_WARM_S seconds. Making that input takes a while (minutes on a Pi): it is made once.

Then the live cross-check (bench_gateway_live.py, `--live-seconds`, 0 to skip; `--live-noise`:
this file's noise streams written at the plan's times, each node its own pty, instead of virtual
nodes): for each of `--live-nodes` (e.g. 16 64 128, run in turn), that many virtual nodes (the
real firmware under MicroPython, in another process at nice 19) on the demo scene, an FPV drone
flying in, streaming to the real gateway; its CPU a node-second with the emitters' bursts, tracks
and alerts, split into the processing and the rounds of reads (one thread does both), in steady
state (from bench_gateway_live.WARM_S seconds on: the connects before are a one-off cost), the
chunks a round of reads, and the nodes a core serves at the cost measured AT that count (a round
holds more chunks the more nodes send, and a chunk costs less the more chunks share a round's
cold caches: a count's figure is not another's), and whether the count itself is served (its
CPU at the plan's rate under the core). A fleet that sent under STARVED of the plan's frames is
said starved, not scaled up. The gateway runs on a CPU of its own and the fleet on the others
(`--live-shared`: on any), as a Pi's nodes are other devices. The same calls are then replayed
through a fresh gateway at once: the processing of the same chunks in a warm cache, without the
fleet's processes between them (here 16 interpreters and their boards share the gateway's cores;
a Pi gateway's nodes are other devices).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from straja.argtypes import node_id, non_negative_float, non_negative_int, positive_float
from straja.detect.noise import mw_to_dbm
from straja.eval.readings import EVAL_PLAN
from straja.frontends import looks as kind_looks
from straja.gateway import config, store
from straja.gateway.pipeline import Pipeline
from straja.protocol import (FLAG_REVISIT, REPLY, Frame, Reply, Status, Sweep, dbm_to_rssi_code,
                             encode_frame)
from straja.gateway.ingest import is_sweep
from straja.testing.synth import Chunk, merge

sys.path.insert(0, str(Path(__file__).parent))
import bench_gateway_live as live  # noqa: E402
import yardstick  # noqa: E402
from bench_gateway import SCENE_WARM_S, scene_fleet  # noqa: E402
from timing import interleaved  # noqa: E402

T0 = 1_700_000_000_000_000_000
KINDS = {"vid58": "rx5808", "ism24": "cc2500", "subg": "sx126x"}
NOISE_DBM = -95.0
VARIANTS = 16  # noise sweeps made per front end, cycled (making them is not what is measured)
WARM_S = 2     # seconds of stream before the timing starts
STARVED = 0.5  # a live fleet sending under this share of the plan's frames is starved


def plan_sweeps():
    """(front end index, entry, channels, sweep period us) of each default-plan entry."""
    out = []
    for i, e in enumerate(EVAL_PLAN):
        n = (e["stop_khz"] - e["start_khz"]) // e["step_khz"] + 1
        reads = 2 if e.get("revisit") else 1
        out.append((i, e, n, n * e["dwell_us"] * reads))
    return out


def hello(node_id: int) -> bytes:
    info = {"front_ends": [{"name": e["front_end"], "kind": KINDS[e["front_end"]],
                            "band_khz": [e["start_khz"], e["stop_khz"]]} for e in EVAL_PLAN],
            "plan": EVAL_PLAN}
    texts = (json.dumps(info), json.dumps({"plan": EVAL_PLAN}))
    return b"".join(encode_frame(Frame(REPLY, node_id, 60000 + i, 1, Reply(i + 1, 0, t)))
                    for i, t in enumerate(texts))


def node_chunks(node_id: int, seconds: float, rng) -> list[Chunk]:
    source, frames = f"/dev/node{node_id}", []
    for fe, e, n, period_us in plan_sweeps():
        looks = kind_looks(KINDS[e["front_end"]])
        reads = 2 if e.get("revisit") else 1
        variants = [dbm_to_rssi_code(NOISE_DBM + mw_to_dbm(rng.gamma(looks, 1 / looks, n * reads)))
                    .tobytes() for _ in range(VARIANTS)]
        flags = FLAG_REVISIT if reads == 2 else 0
        for k in range(int(seconds * 1e6 // period_us)):
            frames.append((1_000_000 + k * period_us, Sweep(fe, flags, k & 0xFFFF, e["start_khz"],
                           e["step_khz"], e["dwell_us"], period_us, 0, n, variants[k % VARIANTS])))
    frames += [(1_000_000 + s * 1_000_000, Status(5 + s, 1, 0, 1, 100_000, 50_000, 0, 0, 0, 0,
                                                  "0.1.0")) for s in range(int(seconds))]
    frames.sort(key=lambda f: f[0])
    offset = T0 + node_id * 1_000_000
    return [Chunk(offset + t_us * 1000 + 2_000_000, source,
                  encode_frame(Frame(0, node_id, seq & 0xFFFF, t_us, body)))
            for seq, (t_us, body) in enumerate(frames)]


def scene_rows(n_nodes: int, seconds: float, scale: float) -> list[tuple[str, str]]:
    """The table's rows of the emitters case (module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        fleet = scene_fleet(n_nodes, seconds, Path(tmp))
        runs = interleaved({"scene": fleet.stream}, budget_s=10.0, min_runs=3)["scene"]
    timed_s = (fleet.chunks[-1].t_ns - fleet.chunks[0].t_ns) / 1e9
    per_node_s = min(runs) * scale / timed_s / n_nodes
    return [("with emitters: nodes simulated", f"{n_nodes} x {timed_s:.0f} s of the demo scene "
                                               f"(after {SCENE_WARM_S} s), best of {len(runs)}"),
            ("with emitters: sweeps a node-second", f"{fleet.sweeps / n_nodes / timed_s:.1f}"),
            ("with emitters: CPU a sweep, min / median",
             f"{1e6 * min(runs) * scale / fleet.sweeps:.1f} / "
             f"{1e6 * statistics.median(runs) * scale / fleet.sweeps:.1f} us"),
            ("with emitters: CPU a node-second", f"{1e3 * per_node_s:.3f} ms"),
            ("with emitters: nodes one core serves (50 % load)", f"{0.5 / per_node_s:.0f}")]


def planned_frames() -> float:
    """Frames a node-second the default plan sends: its sweeps and a STATUS a second."""
    return sum(1e6 / period for *_, period in plan_sweeps()) + 1


def at_plan_rate(cpu_node_s: float, sent: float) -> float | None:
    """The gateway's CPU a node-second at the plan's frame rate, from `cpu_node_s` at the `sent`
    frames a node-second of a live run: a fleet that sent fewer (more virtual nodes than this
    machine runs in real time) slows every front end alike, so the CPU a frame carries over. None
    when it sent under STARVED of the plan's: its rounds then hold fewer chunks each, so a frame
    costs more (cold caches, docs/benchmarks.md) and the node's fixed costs (ticks, STATUS) are
    spread over fewer frames; scaled up by the missing frames that is not the plan's cost."""
    planned = planned_frames()
    if sent < STARVED * planned:
        return None
    return cpu_node_s * max(1.0, planned / sent)


def live_rows(r: dict, scale: float, noise: bool) -> list[tuple[str, str]]:
    """The table's rows of one live run of r["nodes"] nodes (module docstring), CPU scaled by
    `scale`."""
    nodes = r["nodes"]
    total, thread, reading, replayed = (scale * live.per_node_ms(r, r[k]) / 1e3
                                        for k in ("cpu", "processing", "reads", "replayed"))
    processing = thread - reading
    lat = r["alert_ms"]
    sent = r["frames"] / r["wall"] / nodes
    at_plan = at_plan_rate(total, sent)
    fleet = (f"noise streams (--live-noise), {live.writer_lag(r)}" if noise else
             "virtual nodes on the demo scene")
    head = f"live, {nodes} nodes"
    rows = [(f"{head}: {fleet}", f"{r['wall']:.0f} s, {sent:.1f} frames a node-second (the "
             f"plan's {planned_frames():.1f}), {live.chunks_a_round(r):.1f} chunks a round of "
             f"reads, {lat.size} alert events, load average {r['load']:.1f} before"
             + (", the gateway on a CPU of its own" if r["apart"] else "")),
            (f"{head}: gateway CPU a node-second", f"{1e3 * total:.3f} ms"),
            (f"{head}: of which processing / rounds of reads (one thread)",
             f"{1e3 * processing:.3f} / {1e3 * reading:.3f} ms"),
            (f"{head}: the same chunks' processing replayed at once (warm caches)",
             f"{1e3 * replayed:.3f} ms: the live thread took {processing / replayed:.1f}x"),
            (f"{head}: alert p99 (wall, not scaled)",
             f"{np.percentile(lat, 99):.2f} ms" if lat.size else "no alert")]
    if at_plan is None:
        starved = f"fleet starved ({sent:.1f} frames a node-second): not a figure"
        return rows + [(f"{head}: gateway CPU a node-second at the plan's frame rate", starved),
                       (f"{head}: nodes one core serves at the plan's rate", starved)]
    used = nodes * at_plan
    fit = live.on_time(r)
    if fit:
        a, b, per_round, idle = fit
        idle *= scale * max(1.0, planned_frames() / sent)
        fitted = (f"{1e3 * idle:.3f} ms a node-second (a round {scale * a:.0f} us + "
                  f"{scale * b:.1f} us a chunk, {per_round:.1f} chunks a round): "
                  f"{1 / idle:.0f} / {0.5 / idle:.0f} nodes a core (100 % / 50 % load)")
    else:
        fitted = "too few rounds to fit"
    return rows + [
        (f"{head}: at rounds on time (every {live.interval_ms(r):g} ms: an idle "
         "gateway's cadence), fitted", fitted),
        (f"{head}: gateway CPU a node-second at the plan's frame rate", f"{1e3 * at_plan:.3f} ms"),
        (f"{head}: nodes one core serves at the plan's rate, at this count (100 % / 50 % load)",
         f"{1 / at_plan:.0f} / {0.5 / at_plan:.0f}"),
        (f"{head}: served by one core", f"{'yes' if used < 1 else 'NO'}: {100 * used:.0f} % "
                                        "of the core at the plan's rate")]


def scale_arg(text: str) -> float | str:
    """--scale: `pi4`, or a factor > 0."""
    return text if text == "pi4" else positive_float(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # (each synthetic node has its own node id: 1..65535)
    ap.add_argument("--nodes", type=node_id, default=32)
    ap.add_argument("--seconds", type=positive_float, default=20.0,
                    help="simulated seconds of streaming")
    ap.add_argument("--scale", type=scale_arg, default=1.0,
                    help="multiply the measured CPU by this: 1 on the Pi itself, or pi4 (a Pi 4 "
                         "core's n-body yardstick over this machine's, measured now)")
    ap.add_argument("--scene-nodes", type=non_negative_int, default=4,
                    help="nodes of the emitters case (0: skipped)")
    ap.add_argument("--scene-seconds", type=positive_float, default=12.0,
                    help="scene seconds from switch-on in the emitters case")
    ap.add_argument("--live-seconds", type=non_negative_float, default=60.0,
                    help="seconds of the live cross-check (0: none)")
    ap.add_argument("--live-nodes", type=node_id, nargs="+", default=[16],
                    help="node counts of the live cross-check, run in turn (with --live-noise "
                         "100 or more: the count a Pi is to serve)")
    ap.add_argument("--live-shared", action="store_true",
                    help="let the live fleet share the gateway's CPU (default: the gateway on a "
                         "CPU of its own, the fleet on the others, as on a Pi whose nodes are "
                         "other devices)")
    ap.add_argument("--live-noise", action="store_true",
                    help="the live cross-check fed this file's noise streams at the plan's rate "
                         "by a writer process instead of virtual nodes (bench_gateway_live "
                         "--noise: no emitters; for a machine too loaded for the virtual fleet)")
    args = ap.parse_args()
    if args.seconds < WARM_S + 2:
        ap.error(f"need --seconds >= {WARM_S + 2}")
    if args.scene_seconds < SCENE_WARM_S + 1:
        ap.error(f"need --scene-seconds >= {SCENE_WARM_S + 1}")
    rng = np.random.default_rng(1)
    streams = [node_chunks(n, args.seconds, rng) for n in range(1, args.nodes + 1)]
    chunks = merge(streams)
    # the first WARM_S: every front end's first sweeps, whose detection cores (and, once per
    # process, their threshold tables) are made then; steady state is what is timed
    start = next(i for i, c in enumerate(chunks) if c.t_ns >= chunks[0].t_ns + WARM_S * 1e9)
    timed = chunks[start:]
    sweeps = sum(is_sweep(c.data.strip(b"\0")) for c in timed)
    seconds = (timed[-1].t_ns - timed[0].t_ns) / 1e9

    def stream() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            st = store.Store(Path(tmp) / "gw.db")
            pipeline = Pipeline(config.GatewayConfig())
            for n, s in enumerate(streams, 1):
                pipeline.open_source(s[0].source, s[0].t_ns - 2)
                st.write(pipeline.feed(s[0].source, s[0].t_ns - 1, hello(n)).events)
            for c in chunks[:start]:
                st.write(pipeline.feed(c.source, c.t_ns, c.data).events)
            c0 = time.thread_time()
            for c in timed:
                events = pipeline.feed(c.source, c.t_ns, c.data).events
                if events:
                    st.write(events)
            cpu = time.thread_time() - c0
            st.close()
        return cpu
    # the yardstick in turn with the stream: a load that comes and goes falls on both
    timed_runs = interleaved({"stream": stream, "yardstick": yardstick.run}, budget_s=10.0,
                             min_runs=3)
    runs = timed_runs["stream"]
    nbody_us = 1e6 * min(timed_runs["yardstick"]) / yardstick.STEPS
    if args.scale == "pi4":
        args.scale = yardstick.PI4_NBODY_US / nbody_us
    cpu = min(runs) * args.scale
    cpu_median = statistics.median(runs) * args.scale
    per_node_s = cpu / seconds / args.nodes
    print(f"machine: {platform.machine()} {platform.processor() or ''}, Python "
          f"{sys.version.split()[0]}; CPU scale applied: {args.scale:.2f}")
    print(yardstick.line(nbody_us))
    print("default plan a node: " + ", ".join(
        f"{e['front_end']} {n} ch / {p / 1e3:.0f} ms" for _, e, n, p in plan_sweeps()))
    rows = [("nodes simulated", f"{args.nodes} x {seconds:.0f} s timed (after {WARM_S} s), "
                                f"best of {len(runs)} passes"),
            ("sweeps a node-second", f"{sweeps / args.nodes / seconds:.1f}"),
            ("CPU a sweep, min / median of the passes",
             f"{1e6 * cpu / sweeps:.1f} / {1e6 * cpu_median / sweeps:.1f} us"),
            ("CPU a node-second", f"{1e3 * per_node_s:.3f} ms"),
            ("nodes one core serves (100 % load)", f"{1 / per_node_s:.0f}"),
            ("nodes one core serves (50 % load)", f"{0.5 / per_node_s:.0f}")]
    if args.scene_nodes:
        rows += scene_rows(args.scene_nodes, args.scene_seconds, args.scale)
    if args.live_seconds:
        for nodes in args.live_nodes:
            r = live.measure(nodes, args.live_seconds, apart=not args.live_shared,
                             noise=args.live_noise)
            rows += live_rows(r, args.scale, args.live_noise)
    print("| figure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
