"""`straja monitor`: decoded frames from one or more nodes, live (straja.tools.monitor)."""
from __future__ import annotations

import json
import sys
import threading
import time

from typing import TYPE_CHECKING

from .. import protocol, term
from ..errors import StrajaError
from ..gateway.record import RecordWriter
from ..argtypes import (add_force_option, port_name, positive_float, positive_int,
                        recording_file, refuse_to_replace)

if TYPE_CHECKING:
    from ..link import NodeLink


def configure(p) -> None:
    p.description = ("Open serial ports (boards or virtual nodes), decode their frames and show "
                     "them: per-node frame rate, lost and corrupt frames, status, and a "
                     "per-channel bar of the latest sweep of each front end.")
    p.add_argument("ports", nargs="+", metavar="PORT", type=port_name,
                   help="serial port(s), e.g. /dev/ttyACM0, serial:USBSERIAL or node:ID")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per frame on stdout, then a summary object")
    p.add_argument("--count", type=positive_int, help="stop after this many frames (all ports together)")
    p.add_argument("--duration", type=positive_float, help="stop after this many seconds")
    p.add_argument("--start", action="store_true", help="send `start` to each node first")
    p.add_argument("--record", metavar="FILE", type=recording_file,
                   help="also keep the raw byte streams, with arrival times, for `straja replay` "
                   "(format: docs/gateway.md, Recordings)")
    add_force_option(p, "--record")
    p.set_defaults(func=run)


def recorder(path: str, ports: list[str]):
    """An `on_data(port)` factory writing every port's raw bytes to one recording, or None."""
    writer = RecordWriter(path, {"tool": "straja monitor", "ports": ports})
    lock = threading.Lock()

    def for_port(port: str):
        def on_data(data: bytes) -> None:
            with lock:
                writer.data(port, time.time_ns(), data)
        return on_data
    return writer, for_port


def start(link: NodeLink) -> None:
    """Send `start`; a StrajaError when no Straja firmware answers it."""
    try:
        link.call("start")
    except (TimeoutError, protocol.CommandError) as e:
        raise StrajaError(f"{link.serial.port}: the Straja firmware did not start ({e})",
                          f"check what runs there: straja info {link.serial.port}; put the "
                          "firmware on it: straja deploy " + link.serial.port,
                          term.EXIT_NO_DEVICE) from e


def run(args) -> int:
    from ..link import NodeLink  # (pyserial, and NumPy for the views)
    from ..serial_port import PortError
    from ..tools.monitor import PortView, frame_json
    from ..tools.ports import resolve
    refuse_to_replace(args.record, "--record", args.force)
    views = [PortView(resolve(p)) for p in args.ports]
    done = threading.Event()
    reader_left = threading.Event()  # stdout's reader is gone (`straja monitor --json P | head`)
    lock = threading.Lock()
    total = [0]
    writer, on_data_for = recorder(args.record, [v.port for v in views]) if args.record \
        else (None, None)

    def handler(view: PortView):
        def on_frame(frame):
            if isinstance(frame.body, protocol.Reply):
                return
            with lock:
                if done.is_set():
                    return
                view.note(frame)
                total[0] += 1
                if args.json:
                    try:
                        sys.stdout.write(json.dumps(frame_json(view.port, frame)) + "\n")
                    except BrokenPipeError:
                        reader_left.set()
                        done.set()
                if args.count and total[0] >= args.count:
                    done.set()
        return on_frame

    try:
        for view in views:
            view.link = NodeLink(view.port, on_frame=handler(view),
                                 on_data=on_data_for(view.port) if on_data_for else None)
    except PortError:  # straja.cli prints it, with its fix
        for view in views:
            if view.link:
                view.link.close()
        if writer:
            writer.close()
        raise
    interrupted = False
    try:
        if args.start:
            for view in views:
                start(view.link)
        deadline = time.monotonic() + args.duration if args.duration else None
        redraw = not args.json and term.use_colour()
        shown = 0
        while not done.wait(0.5 if redraw else 1.0):
            if deadline and time.monotonic() > deadline:
                break
            if not all(v.link.alive for v in views):
                term.error("a port stopped answering (unplugged?)")
                return term.EXIT_NO_DEVICE
            if not args.json:
                lines = [line for v in views for line in v.lines()]
                if redraw and shown:
                    sys.stdout.write(f"\x1b[{shown}F\x1b[J")
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
                shown = len(lines)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for view in views:
            view.link.close()
        if writer:
            writer.close()
    if reader_left.is_set():
        raise BrokenPipeError  # (from the reader thread: straja.cli ends quietly, exit 0)
    summary = {v.port: {"node_id": v.link.node_id, "frames": v.frames, **v.link.counters()}
               for v in views}
    if args.json:
        sys.stdout.write(json.dumps({"summary": summary}) + "\n")
    else:
        for port, s in summary.items():
            print(f"{port}: {s['frames']} frames, {s['lost']} lost, {s['corrupt']} corrupt, "
                  f"{s['oversize']} oversize, {s['duplicates']} duplicates"
                  + (f", {s['unasked_replies']} replies to no command" if s['unasked_replies']
                     else ""))
    if interrupted:
        return term.EXIT_INTERRUPTED
    if args.count and total[0] < args.count:
        return term.EXIT_FAILED
    return term.EXIT_OK
