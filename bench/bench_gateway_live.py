"""Gateway latency with 16 virtual nodes streaming: the real firmware under MicroPython on 16
pseudo-terminals, watching the demo scene (an FPV drone flying in) from a 4 x 4 grid of masts,
and the real gateway reading all 16 ports (port readers, compiled decoder, detection core,
fusion, alerts, SQLite). Latency: from the moment a port reader took a chunk of bytes off its
port to the moment the alert events that chunk caused were committed to SQLite. CPU: the
gateway process's own (the nodes run in another process, as nodes are other devices). The fleet
(its process, the virtual boards and the MicroPython interpreters it starts) runs at nice
FLEET_NICE: on the shared cores the gateway is served first, as it would be on its own Pi, so
what is measured is the gateway's latency, not the fleet's competition for the CPU.
Run: .venv/bin/python bench/bench_gateway_live.py [--seconds 60] [--nodes 16] [--fleet-nice 19]
[--apart]
(--fleet-nice: on a machine whose other jobs leave a fleet at nice 19 starved, a lower nice that
still ranks the fleet after the gateway; the frames a node-second it prints tell a starved fleet.
--apart: the gateway on the first CPU alone and the fleet on the others, as a gateway whose nodes
are other devices runs: no interpreter or board between its chunks to take its caches)
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import numpy as np

from straja.gateway import config, ingest
from straja.gateway.events import AlertEvent
from straja.gateway.ingest import Gateway
from straja.gateway.pipeline import Pipeline
from straja.gateway.store import Store
from straja.paths import SCENES

FLEET_NICE = 19


def grid_scene(nodes: int, folder: Path) -> Path:
    """The demo scene with its three nodes replaced by a square grid of `nodes` masts."""
    scene = tomllib.loads((SCENES / "demo_incursion.toml").read_text())
    template = tomllib.loads((SCENES / "quiet_rural.toml").read_text())
    side = int(np.ceil(np.sqrt(nodes)))
    scene["scene"]["include"] = []
    scene["propagation"] = template["propagation"]
    scene["node"] = []
    for i in range(nodes):
        node = copy.deepcopy(template["node"][0])
        node["name"] = f"m{i + 1}"
        node["position_m"] = [300.0 * (i % side), 300.0 * (i // side), 3.0]
        scene["node"].append(node)
    path = folder / "grid.json"
    path.write_text(json.dumps(scene))
    return path


def time_every_chunk(gateway, calls: list) -> tuple[list[int], list[tuple[int, int, int]]]:
    """Latency of every chunk of bytes, not only of those that raise alerts (there are few); and
    for the alert chunks, (waited in the queue, handled: wall, and CPU), ns: where the time went.
    Every call of the gateway's handle is kept in `calls`, to be replayed (replayed_cpu_s)."""
    latencies: list[int] = []
    alert_parts: list[tuple[int, int, int]] = []
    handle = gateway.handle

    def timed(kind, path, t_ns, data):
        calls.append((kind, path, t_ns, data))
        start, c0 = time.time_ns(), time.thread_time_ns()
        out = handle(kind, path, t_ns, data)
        if kind == "data":
            end = time.time_ns()
            latencies.append(end - t_ns)
            if any(isinstance(e, AlertEvent) for e in out.events):
                alert_parts.append((start - t_ns, end - start, time.thread_time_ns() - c0))
        return out
    gateway.handle = timed
    return latencies, alert_parts


def time_readers() -> list[float]:
    """The port reading thread's own CPU seconds, taken as its loop ends."""
    cpus: list[float] = []
    run = ingest.PortReaders._run

    def timed(readers):
        run(readers)
        cpus.append(time.thread_time())
    ingest.PortReaders._run = timed
    return cpus


def replayed_cpu_s(calls: list, folder: Path, passes: int = 3) -> float:
    """The processing thread's CPU for the same calls (ports opened, chunks, ticks) replayed at
    once through a fresh gateway with its store, no port to write to: the least of `passes`.
    Live, the gateway's thread wakes for each chunk among the fleet's processes (their caches'
    and the scheduler's cost on it); replayed, it runs them back to back in a warm cache."""
    runs = []
    for n in range(passes):
        cfg = config.from_dict({"gateway": {"ports": [], "discover": False,
                                            "db": str(folder / f"replay{n}.db")}})
        store = Store(cfg.db)
        gateway = Gateway(cfg, Pipeline(cfg), store=store)
        c0 = time.thread_time()
        for call in calls:
            gateway.handle(*call)
        runs.append(time.thread_time() - c0)
        store.close()
    return min(runs)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def split_cpus(apart: bool) -> tuple[set[int] | None, set[int] | None]:
    """(the gateway's CPUs, the fleet's): with `apart` on a machine of 2 CPUs or more, the first
    for the gateway alone and the others for the fleet; else (None, None): any CPU."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not apart or len(allowed) < 2:
        return None, None
    return {allowed[0]}, set(allowed[1:])


def measure(nodes: int, seconds: float, fleet_nice: int = FLEET_NICE, apart: bool = False) -> dict:
    """A live run: `nodes` virtual nodes (at nice `fleet_nice`; with `apart`, on other CPUs than
    the gateway's: split_cpus) streaming to the real gateway for `seconds`; its figures (CPU in
    seconds, latencies in ms)."""
    load = os.getloadavg()[0]  # before the fleet starts: the other jobs on this machine
    gateway_cpus, fleet_cpus = split_cpus(apart)

    def fleet_start():
        os.nice(fleet_nice)
        if fleet_cpus:
            os.sched_setaffinity(0, fleet_cpus)  # (its interpreters and boards inherit it)

    with tempfile.TemporaryDirectory(prefix="straja-gwlive-") as tmp:
        tmp = Path(tmp)
        fleet = subprocess.Popen([sys.executable, "-m", "straja.cli", "sim", "node", "--json",
                                  "--stream", "--count", str(nodes),
                                  "--scene", str(grid_scene(nodes, tmp))],
                                 stdout=subprocess.PIPE, text=True, preexec_fn=fleet_start)
        mine = os.sched_getaffinity(0) if gateway_cpus else None
        try:
            if gateway_cpus:
                os.sched_setaffinity(0, gateway_cpus)  # this process: all the gateway's threads
            ports = [n["port"] for n in json.loads(fleet.stdout.readline())["nodes"]]
            # the default config (node_stats every 30 s, as a Pi runs it): the frames are
            # counted from the pipeline's node health at the end, not from node_stats rows
            cfg = config.from_dict({"gateway": {"ports": ports, "discover": False,
                                                "db": str(tmp / "gw.db")}})
            store = Store(cfg.db)
            readers = time_readers()  # before the gateway makes its reading thread
            gateway = Gateway(cfg, Pipeline(cfg), store=store)
            calls: list = []
            every_chunk, alert_parts = time_every_chunk(gateway, calls)
            c0, w0, p0 = cpu_s(), time.monotonic(), time.thread_time()
            gateway.run(seconds)  # this thread: the processing (pipeline, store)
            cpu, wall = cpu_s() - c0, time.monotonic() - w0
            processing = time.thread_time() - p0
            frames = sum(h.frames for h in gateway.pipeline.nodes.values())
            alerts = store.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
            store.close()
        finally:
            if mine:
                os.sched_setaffinity(0, mine)
            fleet.terminate()
            fleet.wait(timeout=60)
        replayed = replayed_cpu_s(calls, tmp)
    return {"nodes": nodes, "load": load, "wall": wall, "cpu": cpu, "processing": processing,
            "apart": gateway_cpus is not None,
            "replayed": replayed,
            "readers": sum(readers), "frames": frames, "alerts": alerts,
            "alert_ms": np.array(gateway.latencies_ns) / 1e6,
            "chunk_ms": np.array(every_chunk) / 1e6, "alert_parts": alert_parts}


def per_node_ms(r: dict, cpu_s: float) -> float:
    """CPU seconds of a run as ms a node-second."""
    return 1000 * cpu_s / r["wall"] / r["nodes"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--fleet-nice", type=int, default=FLEET_NICE, choices=range(1, 20),
                    metavar="1-19", help="the fleet's nice value (above the gateway's 0)")
    ap.add_argument("--apart", action="store_true",
                    help="the gateway on the first CPU alone, the fleet on the others")
    args = ap.parse_args()
    r = measure(args.nodes, args.seconds, args.fleet_nice, args.apart)
    lat, chunks, wall, cpu = r["alert_ms"], r["chunk_ms"], r["wall"], r["cpu"]
    where = "; the gateway on a CPU of its own, the fleet on the others" if r["apart"] else ""
    print(f"{args.nodes} virtual nodes at nice {args.fleet_nice}, the gateway at nice "
          f"{os.nice(0)}{where}; load average {r['load']:.1f} before the fleet started")
    print(f"{args.nodes} virtual nodes, {wall:.0f} s, {r['frames']} frames received "
          f"({r['frames'] / wall / args.nodes:.1f} a node-second; the default plan sends "
          "about 28), "
          f"{chunks.size} chunks read, {r['alerts']} alerts, {lat.size} alert events")
    print(f"every chunk, arrival to processed and stored: p50 {np.percentile(chunks, 50):.2f} ms, "
          f"p99 {np.percentile(chunks, 99):.2f} ms, max {chunks.max():.2f} ms")
    if lat.size:
        print(f"alert latency, arrival to stored: p50 {np.percentile(lat, 50):.2f} ms, "
              f"p99 {np.percentile(lat, 99):.2f} ms, max {lat.max():.2f} ms "
              f"(target p99 < 20 ms: {'met' if np.percentile(lat, 99) < 20 else 'NOT met'})")
        waited, handled, cpu_ns = (np.array(p) / 1e6 for p in zip(*r["alert_parts"]))
        print(f"alert chunks ({waited.size}), max: waited in the queue {waited.max():.2f} ms, "
              f"handled {handled.max():.2f} ms wall of which {cpu_ns.max():.2f} ms CPU; "
              f"the slowest: waited {waited[handled.argmax()]:.2f}, handled "
              f"{handled.max():.2f}, CPU {cpu_ns[handled.argmax()]:.2f} ms")
    print(f"gateway CPU: {cpu:.2f} s in {wall:.0f} s = {100 * cpu / wall:.1f} % of one core, "
          f"{per_node_ms(r, cpu):.2f} ms per node-second; of which the processing thread "
          f"{r['processing']:.2f} s ({per_node_ms(r, r['processing']):.2f} ms per node-second), "
          f"the port reading thread {r['readers']:.2f} s ({per_node_ms(r, r['readers']):.2f} ms "
          f"per node-second), the rest {cpu - r['processing'] - r['readers']:.2f} s")
    print(f"the same calls replayed through a fresh gateway at once (warm caches, no fleet "
          f"between chunks): {r['replayed']:.2f} s ({per_node_ms(r, r['replayed']):.2f} ms per "
          f"node-second): the live processing thread took {r['processing'] / r['replayed']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
