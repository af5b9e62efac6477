"""`straja monitor`: decoded frames from one or more nodes, live."""
from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import asdict

import numpy as np

from . import protocol, term
from .link import NodeLink
from .serial_port import PortError

BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = " .:-=+*#"


def bar(values_dbm: np.ndarray, width: int = 64, floor: float = -110.0, top: float = -30.0) -> str:
    """One character per group of channels (its strongest), the height its power."""
    if values_dbm.size == 0:
        return ""
    blocks = BLOCKS if (sys.stdout.encoding or "").lower().startswith("utf") else ASCII_BLOCKS
    groups = np.array_split(values_dbm, min(width, values_dbm.size))
    peaks = np.array([g.max() for g in groups])
    levels = np.clip((peaks - floor) / (top - floor), 0, 1) * (len(blocks) - 1)
    return "".join(blocks[int(round(v))] for v in levels)


def frame_json(port: str, frame: protocol.Frame) -> dict:
    body = frame.body
    out = {"port": port, "node_id": frame.node_id, "seq": frame.seq, "t_us": frame.t_us,
           "type": protocol.TYPE_NAMES.get(frame.type, f"0x{frame.type:02x}")}
    if isinstance(body, bytes):
        out["body_hex"] = body.hex()
        return out
    fields = asdict(body)
    if isinstance(body, protocol.Sweep):
        fields["rssi"] = body.held().tolist()
        if body.flags & protocol.FLAG_REVISIT:
            fields["rssi_first"] = body.single().tolist()
    elif isinstance(body, protocol.Envelope):
        fields["samples"] = list(body.samples)
    out.update(fields)
    return out


class PortView:
    """What the monitor keeps of one port: counts, rate, last status, last sweep per front end."""

    def __init__(self, port: str):
        self.port = port
        self.frames = 0
        self.window: list[float] = []
        self.sweeps: dict[int, protocol.Sweep] = {}
        self.link: NodeLink | None = None

    def note(self, frame: protocol.Frame) -> None:
        self.frames += 1
        now = time.monotonic()
        self.window.append(now)
        while self.window and self.window[0] < now - 2.0:
            self.window.pop(0)
        if isinstance(frame.body, protocol.Sweep) and frame.body.first == 0:
            self.sweeps[frame.body.front_end] = frame.body

    @property
    def rate(self) -> float:
        if len(self.window) < 2:
            return 0.0
        span = self.window[-1] - self.window[0]
        return (len(self.window) - 1) / span if span > 0 else 0.0

    def lines(self) -> list[str]:
        c = self.link.counters() if self.link else {}
        st = self.link.last_status if self.link else None
        node = self.link.node_id if self.link and self.link.node_id is not None else "?"
        head = (f"node {node:<5} {self.port:<14} {self.rate:7.1f} frames/s  frames {self.frames:<7}"
                f" lost {c.get('lost', 0):<4} corrupt {c.get('corrupt', 0):<4}"
                f" oversize {c.get('oversize', 0):<3} console {c.get('console_lines', 0)}")
        out = [term.paint(head, "bold")]
        if st:
            out.append(f"    {protocol.MODES.get(st.mode, st.mode)}, fw {st.version}, up "
                       f"{st.uptime_s} s, boot {st.boot_count} "
                       f"({protocol.RESET_CAUSES.get(st.reset_cause, st.reset_cause)}), "
                       f"free {st.mem_free // 1024} KiB, overruns {st.overruns}, "
                       f"dropped {st.frames_dropped}")
        for fe, sw in sorted(self.sweeps.items()):
            dbm = sw.dbm()
            peak = int(np.argmax(dbm)) if dbm.size else 0
            lo = sw.start_khz / 1000
            hi = (sw.start_khz + (sw.total - 1) * sw.step_khz) / 1000
            out.append(f"    fe{fe} {lo:7.1f}-{hi:7.1f} MHz |{bar(dbm)}| peak {dbm[peak]:6.1f} dBm"
                       f" @ {(sw.start_khz + peak * sw.step_khz) / 1000:7.1f} MHz")
        return out


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("monitor", help="decode and show a node's frames live",
                              description="Open serial ports (boards or virtual nodes), decode "
                              "their frames and show them: per-node frame rate, lost and corrupt "
                              "frames, status, and a per-channel bar of the latest sweep of each "
                              "front end.")
    p.add_argument("ports", nargs="+", metavar="PORT", help="serial port(s), e.g. /dev/ttyACM0")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per frame on stdout, then a summary object")
    p.add_argument("--count", type=int, help="stop after this many frames (all ports together)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--start", action="store_true", help="send `start` to each node first")
    p.add_argument("--record", metavar="FILE", help="also keep the raw byte streams, with arrival "
                   "times, for `straja replay` (format: docs/gateway.md, Recordings)")
    p.set_defaults(func=main)


def recorder(path: str, ports: list[str]):
    """An `on_data(port)` factory writing every port's raw bytes to one recording, or None."""
    from .gateway.record import RecordWriter

    writer = RecordWriter(path, {"tool": "straja monitor", "ports": ports})
    lock = threading.Lock()

    def for_port(port: str):
        def on_data(data: bytes) -> None:
            with lock:
                writer.data(port, time.time_ns(), data)
        return on_data
    return writer, for_port


def main(args) -> int:
    views = [PortView(p) for p in args.ports]
    done = threading.Event()
    lock = threading.Lock()
    total = [0]
    writer, on_data_for = recorder(args.record, args.ports) if args.record else (None, None)

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
                    sys.stdout.write(json.dumps(frame_json(view.port, frame)) + "\n")
                if args.count and total[0] >= args.count:
                    done.set()
        return on_frame

    try:
        for view in views:
            view.link = NodeLink(view.port, on_frame=handler(view),
                                 on_data=on_data_for(view.port) if on_data_for else None)
    except PortError as e:
        for view in views:
            if view.link:
                view.link.close()
        if writer:
            writer.close()
        term.error(str(e), e.fix)
        return term.EXIT_NO_DEVICE
    try:
        if args.start:
            for view in views:
                view.link.call("start")
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
        pass
    finally:
        for view in views:
            view.link.close()
        if writer:
            writer.close()
    summary = {v.port: {"node_id": v.link.node_id, "frames": v.frames, **v.link.counters()}
               for v in views}
    if args.json:
        sys.stdout.write(json.dumps({"summary": summary}) + "\n")
    else:
        for port, s in summary.items():
            print(f"{port}: {s['frames']} frames, {s['lost']} lost, {s['corrupt']} corrupt, "
                  f"{s['oversize']} oversize, {s['duplicates']} duplicates")
    if args.count and total[0] < args.count:
        return term.EXIT_FAILED
    return term.EXIT_OK
