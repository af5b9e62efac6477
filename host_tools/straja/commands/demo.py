"""`straja demo`: virtual nodes watch a simulated drone; the gateway finds it and raises alerts.

What `make demo` runs, on embedded defaults: a scene from the catalogue, a few virtual nodes (the
real firmware under MicroPython) watching it, and the gateway reading their serial ports, running
the Cython detection core and storing its events in SQLite. No broker, nothing to configure.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from .. import term
from ..gateway import config as gwconfig
from ..gateway import events as ev
from ..gateway.cli import open_store
from ..cot import CotPublisher, cot_url
from ..vnode import schedstat
from ..sim.cli import scene_argument
from ..signals import deferred_stops, stop_on_signals
from ..vnode.cli import DEFAULT_SCENE, scene_with_nodes
from ..argtypes import listen_address, non_negative_float, positive_int, writable_file

STATS_INTERVAL_S = 5.0  # each node's live line: frames and overruns per second

# How the demo prints each type of gateway event (others are stored, not printed).
SHOWN = {ev.NodeOnline: "green", ev.NodeOffline: "red", ev.NodeRestarted: "yellow",
         ev.AlertRaised: "red", ev.AlertUpdated: "yellow", ev.AlertCleared: "green",
         ev.ScanFocus: "blue", ev.ScanRestore: "blue", ev.NodeStats: "dim"}


# Said once, the first time a node reports overruns (docs/firmware.md, "Timing and overruns";
# docs/virtual-node.md, "Timing").
OVERRUN_MEANING = ("an overrun is a channel whose reading ended after its planned slot: the node "
                   "could not keep up, so the rest of that sweep ran that much later (each "
                   "reading keeps its settle time and dwell; the frame says OVERRUN). A virtual "
                   "node shares this machine's CPUs with the other nodes, the gateway and "
                   "whatever else runs: when the CPUs have nothing to spare (\"short of CPU\": "
                   "a node wants ~0.4 of one), its readings wait for one and come late. With "
                   "CPU to spare, the few left are a virtual node's own: its bus is a socket to "
                   "a board in another process, the two taking turns on one CPU. A board has its "
                   "CPU and its radios to itself")
# the nodes' processes waiting for a CPU this share of the time they had work ...
SHORT_OF_CPU_WAIT = 0.10
# ... while their CPUs had less than this to spare (CPUs' worth of idle time): short of CPU. A
# node's interpreter and board wait for each other's turns, 30-32 % of the time the demo's three
# nodes had work on an idle machine (docs/virtual-node.md "Timing"): a wait with CPUs idle beside
# it is such a turn, not a lack of CPU, as a machine with work for every CPU has none idle.
SHORT_OF_CPU_SPARE = 0.10
REAL_TIME = (os.SCHED_FIFO, os.SCHED_RR)


def descendants(pid: int) -> set[int]:
    """The processes under `pid` (its children, theirs, ...), from /proc."""
    found, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except (OSError, ValueError):
                continue
            todo.extend(children - found)
            found |= children
    return found


def placement(pid: int) -> tuple[frozenset[int], bool] | None:
    """The CPUs process `pid` may run on and whether it runs at a real-time policy (None: gone)."""
    try:
        return frozenset(os.sched_getaffinity(pid)), os.sched_getscheduler(pid) in REAL_TIME
    except OSError:
        return None


class CpuLook(NamedTuple):
    """The virtual nodes' processes between two looks."""
    used: float  # CPUs' worth of time they ran
    waited: float  # share of the time they had work that they waited for a CPU
    spare: float  # CPUs' worth of time their CPUs had for them and gave nobody: the least over
    # the CPU sets they run on (idle; at a real-time policy, what they did not use themselves:
    # ordinary processes never keep them waiting)


class FleetCpu:
    """The CPU the virtual nodes' processes (every process under `root`: the interpreters, the
    boards, the bridges' process) used, waited for and had to spare, between two looks."""

    def __init__(self, root: int):
        self.root = root
        self._last: tuple[float, dict, dict] | None = None
        self.sample()  # from now

    def sample(self) -> CpuLook | None:
        """The nodes' CPU since the last call; None when there is nothing to tell (no
        schedstat, no time)."""
        now = time.monotonic()
        pids = descendants(self.root) | {self.root}
        stats = {pid: schedstat.process(pid) for pid in pids}
        places = {pid: place for pid in pids if (place := placement(pid))}
        idle = {cpus: schedstat.idle_s(cpus) for cpus, _ in set(places.values())}
        last, self._last = self._last, (now, stats, idle)
        if last is None or now <= last[0]:
            return None
        span = now - last[0]
        # only the processes seen both times (a restarted interpreter is a new one)
        ran = {p: (stats[p][0] - last[1][p][0]) / 1e9 / span for p in stats if p in last[1]}
        run = sum(ran.values())
        wait = sum(stats[p][1] - last[1][p][1] for p in ran) / 1e9 / span
        if run <= 0:
            return None
        spares = []
        for cpus, real_time in set(places.values()):
            if real_time:
                spares.append(len(cpus) - sum(ran.get(p, 0.0) for p, (c, _) in places.items()
                                              if c <= cpus))
            elif cpus in last[2]:
                spares.append((idle[cpus] - last[2][cpus]) / span)
        return CpuLook(run, wait / (run + wait), min(spares, default=0.0))


def machine_load(fleet_cpu: CpuLook | None = None) -> str:
    """What makes a virtual node's overruns: the machine's load against its CPUs, and (when
    measured) the CPU the nodes used, how long they waited for one and what their CPUs had to
    spare."""
    text = f"machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    if fleet_cpu is not None:
        used, waited, spare = fleet_cpu
        short = waited >= SHORT_OF_CPU_WAIT and spare < SHORT_OF_CPU_SPARE
        text += (f"; the nodes used {used:.2f} CPU in all and waited for one {100 * waited:.0f} % of "
                 f"the time they had work, their CPUs {max(spare, 0.0):.2f} to spare: "
                 + ("short of CPU" if short else "not short of CPU"))
    return f" ({text})"


def describe(event: ev.Event) -> str:
    what = event.kind.replace("_", " ")
    if isinstance(event, ev.AlertEvent):
        return f"{what.upper()}: {event.text}"
    if isinstance(event, ev.ScanChange):
        return f"{what}: node {event.node_id} for alert {event.alert_id}"
    return f"{what}: node {event.node_id} {getattr(event, 'port', '')}".rstrip()


class NodeRates:
    """Each node's frames and overruns per second between two of its NodeStats events."""

    def __init__(self):
        self.last: dict[int, ev.NodeStats] = {}

    def describe(self, stats: ev.NodeStats) -> str:
        before = self.last.get(stats.node_id)
        self.last[stats.node_id] = stats
        span_s = (stats.t_ns - before.t_ns) / 1e9 if before else 0.0
        if span_s <= 0:
            return (f"node {stats.node_id}: {stats.frames} frames, {stats.lost} lost, up "
                    f"{stats.uptime_s} s, overruns {stats.overruns}")
        overruns = ((stats.overruns or 0) - (before.overruns or 0)) / span_s
        return (f"node {stats.node_id}: {(stats.frames - before.frames) / span_s:5.1f} frames/s, "
                f"{stats.lost - before.lost} lost, up {stats.uptime_s} s, free "
                f"{(stats.mem_free or 0) // 1024} KiB, {overruns:.0f} overruns/s")


class Truth:
    """Where the scene's drones really are, to judge the gateway's positions against:
    `t_origin` is the scene's time 0 on the monotonic clock (the virtual nodes' fleet)."""

    def __init__(self, scene, t_origin: float):
        from ..sim.emitters import DRONE_FAMILY
        self.scene = scene
        self.drones = [em for em in scene.emitters if em.KIND in DRONE_FAMILY]
        self.wall_origin_s = t_origin + time.time() - time.monotonic()

    def describe(self, alert: ev.AlertEvent) -> str:
        """The alert's position and its error against the drone whose link it is (the drone on
        the air in the alert's band at its last observation)."""
        import numpy as np

        from ..eval.scenes import matches
        from ..gateway.position import covers, position_text
        from ..sim.remoteid import to_local
        fields = alert.__dict__
        where = position_text(fields)
        if not where:
            return ""
        t = alert.last_ns / 1e9 - self.wall_origin_s
        drone = next((em for em in self.drones
                      if matches(em, alert.lo_khz, alert.hi_khz, t - 2.0, t + 0.5)), None)
        if drone is None:
            return f"position: {where}"
        truth = drone.trajectory.position(t)
        east, north = to_local(self.scene.origin[0], self.scene.origin[1], alert.latitude,
                               alert.longitude)
        offset = (truth[0] - east, truth[1] - north)
        inside = "inside" if covers(fields, offset) else "OUTSIDE"
        error = (f"error {float(np.hypot(*offset)):.0f} m" if alert.position_kind == "fix" else
                 f"the drone {float(np.hypot(*offset)):.0f} m from the centre")
        return (f"position: {where}; truth ({drone.name}) {truth[0]:.0f} m E, {truth[1]:.0f} m N "
                f"of the scene's origin: {error}, {inside} the 95 % region")


def printer(started: float, truth: Truth | None = None, fleet_cpu: FleetCpu | None = None):
    """The demo's sink: prints the events it shows. `fleet_cpu`: the virtual nodes' CPU, told
    beside overruns."""
    lock = threading.Lock()
    rates = NodeRates()
    told = []  # whether OVERRUN_MEANING was said
    cpu = {"at": -STATS_INTERVAL_S, "last": None}  # the nodes' CPU, looked at once an interval

    def nodes_cpu():
        if fleet_cpu is not None and time.monotonic() - cpu["at"] >= STATS_INTERVAL_S / 2:
            cpu["at"] = time.monotonic()
            cpu["last"] = fleet_cpu.sample()
        return cpu["last"]

    def sink(stored):
        with lock:
            for s in stored:
                colour = SHOWN.get(type(s.event))
                if colour is None:
                    continue
                if isinstance(s.event, ev.NodeStats):
                    text = rates.describe(s.event)
                    used = nodes_cpu()
                    if s.event.overruns:
                        text += machine_load(used)
                    if s.event.overruns and not told:
                        told.append(True)
                        text += f"\n           ({OVERRUN_MEANING})"
                else:
                    text = describe(s.event)
                    where = truth.describe(s.event) if truth and isinstance(
                        s.event, ev.AlertEvent) and not isinstance(s.event, ev.AlertCleared) else ""
                    text += f"\n           {where}" if where else ""
                stamp = f"[{time.monotonic() - started:6.1f} s]"
                print(term.paint(stamp, "dim"), term.paint(text, colour), flush=True)
    return sink


def configure(p) -> None:
    p.description = ("Start virtual nodes on a simulated RF scene with drones in it, and the "
                     "gateway reading them: node status and the alerts it raises, live. Events "
                     "are stored in SQLite (no broker).")
    p.add_argument("--nodes", type=positive_int, default=3, help="number of virtual nodes (default 3)")
    # (no default here: argparse would load the default scene, NumPy and all, on every parse)
    p.add_argument("--scene", type=scene_argument, help="scene file or catalogue name "
                   f"(default {DEFAULT_SCENE})")
    p.add_argument("--duration", type=non_negative_float, default=90.0,
                   help="seconds to run (default 90; 0 = until Ctrl-C)")
    p.add_argument("--db", type=writable_file, help="SQLite event store (default: runs/demo-TIME/events.db)")
    p.add_argument("--web", type=listen_address, metavar="HOST:PORT",
                   help="also serve the live dashboard there (docs/dashboard.md)")
    p.add_argument("--cot", type=cot_url, metavar="URL", help="also send the alerts' positions "
                   "and the nodes to TAK (e.g. udp://239.2.3.1:6969, ATAK's multicast; "
                   "docs/gateway.md, \"Cursor on Target\")")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..gateway.ingest import Gateway
    from ..gateway.pipeline import Pipeline
    from ..vnode.bridge import die_with_parent
    stop_on_signals()  # a `kill` stops the virtual nodes too, as Ctrl-C does
    scene_name = args.scene or DEFAULT_SCENE
    scene = scene_with_nodes(scene_name, args.nodes)  # (before anything is made or started)
    db = Path(args.db or f"runs/demo-{datetime.now():%Y%m%d-%H%M%S}/events.db")
    db.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(db)  # (a file that cannot be one is refused before the nodes start)
    print(term.paint(f"starting {args.nodes} virtual nodes on scene {scene_name!r} ...", "bold"))
    # The nodes run in their own process, as nodes are their own devices: the gateway's work
    # never delays a virtual board's answers to its firmware. SIGTERM stops them cleanly even
    # if this process is killed outright.
    fleet = None
    try:
        with deferred_stops():  # (a Ctrl-C during the fork raised once `fleet` is set)
            fleet = subprocess.Popen([sys.executable, "-m", "straja.cli", "sim", "node", "--json",
                                      "--stream", "--count", str(args.nodes), "--scene", scene_name],
                                     stdout=subprocess.PIPE, text=True,
                                     preexec_fn=lambda: die_with_parent(signal.SIGTERM))
        line = fleet.stdout.readline()
        if not line:
            term.error("the virtual nodes did not start")
            return term.EXIT_FAILED
        started_nodes = json.loads(line)
        print(started_nodes["description"])
        for node in started_nodes["nodes"]:
            print(f"  {node['name']}: node {node['node_id']} on {node['port']}")
        surveyed = scene.gateway_nodes()  # the nodes where the scene puts them
        cfg = gwconfig.from_dict({"gateway": {
            "ports": [n["port"] for n in started_nodes["nodes"]], "discover": False,
            "db": str(db), "stats_interval_s": STATS_INTERVAL_S},
            "nodes": {str(n["node_id"]): surveyed[str(n["node_id"])]
                      for n in started_nodes["nodes"]},
            "cot": {"url": args.cot or ""}})
        started = time.monotonic()
        sinks = [printer(started, Truth(scene, started_nodes["t_origin"]), FleetCpu(fleet.pid))]
        cot = CotPublisher(cfg.cot, cfg.nodes) if args.cot else None
        gateway = Gateway(cfg, Pipeline(cfg), store=store, sinks=sinks + ([cot] if cot else []))
        print(term.paint(f"gateway reading {len(cfg.ports)} nodes; events in {db}", "bold"))
        dashboard = None
        try:
            if args.web:
                from ..web.server import serve  # the `web` extra: only when asked for
                dashboard = serve(cfg, args.web, gateway)
                print(term.paint(f"dashboard: {dashboard.url}", "bold"), flush=True)
            gateway.run(args.duration or None)
        except KeyboardInterrupt:
            gateway.close()
            return term.EXIT_INTERRUPTED
        finally:
            if dashboard:
                dashboard.stop()
            if cot:
                cot.close()
                print(term.paint(f"CoT: {cot.sender.sent} events sent to {args.cot}, "
                                 f"{cot.sender.dropped} dropped", "bold"))
    finally:
        if fleet:
            fleet.terminate()
            fleet.wait(timeout=30)
        store.close()
    print(term.paint(f"demo finished. Its events: straja events --db {db}", "bold"))
    return term.EXIT_OK
