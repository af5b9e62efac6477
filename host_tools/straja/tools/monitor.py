"""What `straja monitor` shows of a node's frames: per-port counts and rates, a bar per sweep,
frames as JSON."""
from __future__ import annotations

import sys
import time
from dataclasses import asdict

import numpy as np

from .. import protocol, term
from ..link import NodeLink

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
            second = body.second()
            if second is not None:  # PAIRS: rssi (held) is the lower of first and second
                fields["rssi_second"] = second.tolist()
    elif isinstance(body, protocol.Envelope):
        fields["samples"] = list(body.samples)
    elif isinstance(body, protocol.RemoteId):  # (bytes are no JSON: as `remoteid decode` takes)
        fields.update(address=body.mac, data=body.data.hex())
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
            out.append(f"    {protocol.MODES.get(st.mode, st.mode)}, "
                       f"fw {term.visible(st.version)}, up "
                       f"{st.uptime_s} s, boot {st.boot_count} "
                       f"({protocol.RESET_CAUSES.get(st.reset_cause, st.reset_cause)}), "
                       f"free {st.mem_free // 1024} KiB, overruns {st.overruns}, "
                       f"dropped {st.frames_dropped}")
        for fe, sw in sorted(self.sweeps.items()):
            dbm = sw.dbm()
            lo = sw.start_khz / 1000
            hi = (sw.start_khz + (max(sw.total, 1) - 1) * sw.step_khz) / 1000
            if not dbm.size:  # a sweep frame without readings (a broken or crafted node)
                out.append(f"    fe{fe} {lo:7.1f}-{hi:7.1f} MHz: a sweep with no readings")
                continue
            peak = int(np.argmax(dbm))
            out.append(f"    fe{fe} {lo:7.1f}-{hi:7.1f} MHz |{bar(dbm)}| peak {dbm[peak]:6.1f} dBm"
                       f" @ {sw.freqs_khz()[peak] / 1000:7.1f} MHz")
        return out
