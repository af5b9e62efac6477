"""`straja sim ...`: run virtual nodes (and, from straja.sim, scene tools).

Building the parser imports nothing heavy: the scenes (NumPy), the fleet and pyserial's port
list are imported by the functions that run the commands.
"""
from __future__ import annotations

import json
import sys
import time

from .. import term
from ..argtypes import EXTRA_PORTS_ENV, positive_float, positive_int, writable_folder
from ..errors import StrajaError
from ..signals import stop_on_signals
from ..sim import cli as scene_cli

DEFAULT_SCENE = "demo_incursion"


def configure(sim) -> None:
    sim.description = ("Run virtual nodes (the real firmware under the MicroPython unix port) "
                       "watching a simulated RF scene.")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SIMCOMMAND", required=True)
    p = sim_sub.add_parser("node", help="start virtual nodes and print their serial ports",
                           description="Start virtual nodes, print one line per node with its "
                           "serial port, and run until interrupted (Ctrl-C) or --duration; every "
                           "child process is stopped on exit.")
    p.add_argument("--count", type=positive_int, default=1, help="number of nodes (default 1; with "
                   "--scene, at most the scene's node count)")
    p.add_argument("--scene", type=scene_cli.scene_argument,
                   help=f"scene file or catalogue name (default: {DEFAULT_SCENE})")
    p.add_argument("--workdir", type=writable_folder, help="keep the nodes' flash folders here (default: temporary); "
                   "each start writes the firmware, board.json and config.json again")
    p.add_argument("--stream", action="store_true",
                   help="nodes stream from boot (config stream_on_boot), as the gateway expects")
    p.add_argument("--json", action="store_true", help="print the node list as one JSON object")
    p.add_argument("--duration", type=positive_float, metavar="S", help="stop after S seconds")
    p.set_defaults(func=run_nodes)
    scene_cli.add_subcommands(sim_sub)


def scene_with_nodes(scene_name: str | None, count: int):
    """The scene (file path or catalogue name; default DEFAULT_SCENE), a StrajaError (exit code
    2) when it has fewer than `count` nodes."""
    from ..sim.scene import load_scene
    scene = load_scene(scene_name or DEFAULT_SCENE)
    if count > len(scene.nodes):
        raise StrajaError(f"the scene {scene.name!r} has {len(scene.nodes)} node(s); asked for "
                          f"{count}", "ask for fewer (--count / --nodes), or name a scene with "
                          "more nodes", term.EXIT_USAGE)
    return scene


def start_fleet(count: int, scene_name: str | None, workdir=None, config: dict | None = None):
    """The fleet for `count` nodes of a scene (file path or catalogue name), each node's config
    starting from `config`; a StrajaError (exit code 2) for a bad scene or count."""
    from ..sim.remoteid import NodeBluetooth
    from .fleet import Fleet, NodeSpec, scene_rf
    scene = scene_with_nodes(scene_name, count)
    nodes = list(scene.nodes.values())[:count]
    specs = [NodeSpec(n.name, index + 1, board=n.board, config=dict(config or {}))
             for index, n in enumerate(nodes)]
    fleet = Fleet(specs, lambda name, profile: scene_rf(scene, name, profile), workdir=workdir,
                  bluetooth_for=lambda name: NodeBluetooth(scene, name))
    return scene, fleet.start()


def run_nodes(args) -> int:
    stop_on_signals()
    scene, fleet = start_fleet(args.count, args.scene, args.workdir,
                               config={"stream_on_boot": True} if args.stream else None)
    try:
        rows = [{"name": n.spec.name, "node_id": n.spec.node_id, "port": n.port,
                 "board": n.spec.board, "position_m": list(scene.nodes[n.spec.name].position)}
                for n in fleet.nodes]
        if args.json:
            # t_origin: the scene's time 0 on this machine's monotonic clock (truth for the demo)
            print(json.dumps({"scene": scene.name, "description": scene.description,
                              "nodes": rows, "t_origin": fleet.t_origin}), flush=True)
        else:
            for row in rows:
                print(f"{row['name']}\tnode {row['node_id']}\t{row['port']}")
            print(term.paint(f"{len(rows)} virtual node(s) running scene {scene.name!r}; "
                             "Ctrl-C stops them. For straja ports and node:ID: export "
                             f"{EXTRA_PORTS_ENV}={':'.join(r['port'] for r in rows)}", "dim"),
                  file=sys.stderr)
        sys.stdout.flush()
        end = time.monotonic() + args.duration if args.duration else None
        while end is None or time.monotonic() < end:
            time.sleep(1 if end is None else max(0.0, min(1.0, end - time.monotonic())))
        return term.EXIT_OK
    except KeyboardInterrupt:
        return term.EXIT_INTERRUPTED
    finally:
        fleet.stop()
