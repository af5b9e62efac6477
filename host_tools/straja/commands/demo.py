"""`straja demo`: virtual nodes watch a simulated drone; the gateway finds it and raises alerts.

What `make demo` runs, on embedded defaults: a scene from the catalogue, a few virtual nodes (the
real firmware under MicroPython) watching it, and the gateway reading their serial ports, running
the Cython detection core and storing its events in SQLite. No broker, nothing to configure.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from .. import term
from ..gateway import config as gwconfig
from ..gateway import events as ev
from ..gateway.ingest import Gateway
from ..gateway.pipeline import Pipeline
from ..gateway.store import Store
from ..vnode.cli import DEFAULT_SCENE
from ..argtypes import listen_address, non_negative_float, positive_int, writable_file

# How the demo prints each type of gateway event (others are stored, not printed).
SHOWN = {ev.NodeOnline: "green", ev.NodeOffline: "red", ev.NodeRestarted: "yellow",
         ev.AlertRaised: "red", ev.AlertUpdated: "yellow", ev.AlertCleared: "green",
         ev.ScanFocus: "blue", ev.ScanRestore: "blue", ev.NodeStats: "dim"}


def describe(event: ev.Event) -> str:
    what = event.kind.replace("_", " ")
    if isinstance(event, ev.AlertEvent):
        return f"{what.upper()}: {event.text}"
    if isinstance(event, ev.ScanChange):
        return f"{what}: node {event.node_id} for alert {event.alert_id}"
    if isinstance(event, ev.NodeStats):
        return (f"node {event.node_id}: {event.frames} frames, {event.lost} lost, "
                f"up {event.uptime_s} s, free {event.mem_free // 1024} KiB, "
                f"overruns {event.overruns}")
    return f"{what}: node {event.node_id} {getattr(event, 'port', '')}".rstrip()


def printer(started: float):
    lock = threading.Lock()

    def sink(stored):
        with lock:
            for s in stored:
                colour = SHOWN.get(type(s.event))
                if colour is None:
                    continue
                stamp = f"[{time.monotonic() - started:6.1f} s]"
                print(term.paint(stamp, "dim"), term.paint(describe(s.event), colour), flush=True)
    return sink


def configure(p) -> None:
    p.description = ("Start virtual nodes on a simulated RF scene with drones in it, and the "
                     "gateway reading them: node status and the alerts it raises, live. Events "
                     "are stored in SQLite (no broker).")
    p.add_argument("--nodes", type=positive_int, default=3, help="number of virtual nodes (default 3)")
    p.add_argument("--scene", default=DEFAULT_SCENE, help="scene file or catalogue name "
                   f"(default {DEFAULT_SCENE})")
    p.add_argument("--duration", type=non_negative_float, default=90.0,
                   help="seconds to run (default 90; 0 = until Ctrl-C)")
    p.add_argument("--db", type=writable_file, help="SQLite event store (default: runs/demo-TIME/events.db)")
    p.add_argument("--web", type=listen_address, metavar="HOST:PORT",
                   help="also serve the live dashboard there (docs/dashboard.md)")
    p.set_defaults(func=run)


def run(args) -> int:
    db = Path(args.db or f"runs/demo-{datetime.now():%Y%m%d-%H%M%S}/events.db")
    db.parent.mkdir(parents=True, exist_ok=True)
    print(term.paint(f"starting {args.nodes} virtual nodes on scene {args.scene!r} ...", "bold"))
    # The nodes run in their own process, as nodes are their own devices: the gateway's work
    # never delays a virtual board's answers to its firmware.
    fleet = subprocess.Popen([sys.executable, "-m", "straja.cli", "sim", "node", "--json",
                              "--stream", "--count", str(args.nodes), "--scene", args.scene],
                             stdout=subprocess.PIPE, text=True)
    try:
        line = fleet.stdout.readline()
        if not line:
            term.error("the virtual nodes did not start")
            return term.EXIT_FAILED
        started_nodes = json.loads(line)
        print(started_nodes["description"])
        for node in started_nodes["nodes"]:
            print(f"  {node['name']}: node {node['node_id']} on {node['port']}")
        cfg = gwconfig.from_dict({"gateway": {
            "ports": [n["port"] for n in started_nodes["nodes"]], "discover": False,
            "db": str(db), "stats_interval_s": 15.0},
            # the map shows the nodes where the scene puts them
            "web": {"node_positions": {str(n["node_id"]): n["position_m"][:2]
                                       for n in started_nodes["nodes"]}}})
        store = Store(cfg.db)
        started = time.monotonic()
        gateway = Gateway(cfg, Pipeline(cfg), store=store, sinks=[printer(started)])
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
            store.close()
    finally:
        fleet.terminate()
        fleet.wait(timeout=30)
    print(term.paint(f"demo finished. Its events: straja events --db {db}", "bold"))
    return term.EXIT_OK
