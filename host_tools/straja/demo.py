"""`straja demo`: virtual nodes watch a simulated drone; their frames, decoded, live.

What `make demo` runs: a scene from the catalogue, a few virtual nodes (the real firmware under
MicroPython) watching it, and the host decoding their streams with the compiled decoder.
"""
from __future__ import annotations

import sys
import time

from . import term
from .link import NodeLink
from .monitor import PortView
from .vnode.cli import DEFAULT_SCENE, start_fleet


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("demo", help="virtual nodes watching a simulated drone, live",
                              description="Start virtual nodes on a simulated RF scene with a "
                              "drone in it and show their decoded frames live.")
    p.add_argument("--nodes", type=int, default=3, help="number of virtual nodes (default 3)")
    p.add_argument("--scene", default=DEFAULT_SCENE, help="scene file or catalogue name "
                   f"(default {DEFAULT_SCENE})")
    p.add_argument("--duration", type=float, default=60.0,
                   help="seconds to run (default 60; 0 = until Ctrl-C)")
    p.set_defaults(func=main)


def main(args) -> int:
    print(term.paint(f"starting {args.nodes} virtual nodes on scene {args.scene!r} ...", "bold"))
    scene, fleet = start_fleet(args.nodes, args.scene)
    views: list[PortView] = []
    try:
        for running in fleet.nodes:
            view = PortView(running.port)
            view.link = NodeLink(running.port, on_frame=view.note)
            views.append(view)
            print(f"  {running.spec.name}: node {running.spec.node_id} on {running.port}")
        for view in views:
            view.link.call("start", timeout=10)
        deadline = time.monotonic() + args.duration if args.duration else None
        redraw = term.use_colour()
        shown = 0
        while deadline is None or time.monotonic() < deadline:
            time.sleep(1.0)
            lines = [line for v in views for line in v.lines()]
            if redraw and shown:
                sys.stdout.write(f"\x1b[{shown}F\x1b[J")
            sys.stdout.write("\n".join(lines) + "\n" + ("" if redraw else "\n"))
            sys.stdout.flush()
            shown = len(lines)
    except KeyboardInterrupt:
        pass
    finally:
        for view in views:
            view.link.close()
        fleet.stop()
    total = sum(v.frames for v in views)
    print(term.paint(f"demo finished: {total} frames decoded from {len(views)} nodes", "bold"))
    return term.EXIT_OK
