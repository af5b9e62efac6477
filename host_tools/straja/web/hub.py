"""What the dashboard shows, kept up to date from the gateway, and sent to every browser.

The gateway's processing thread calls `sink` (its event sink) and `sweep` (a pipeline sweep tap);
the web server's event loop reads `snapshot()` for a new browser and delivers `publish`ed
messages to each connected one through its own bounded queue (a slow browser loses live
messages, never slows the gateway).

Spectra are thinned here, not in the browser: a sweep's segments are assembled into one row per
front end, a row is sent at most `sweep_rate_hz` times a second per node, and its channels are
reduced to at most `max_bins` by keeping each group's strongest (a narrow drone link stays
visible).
"""
from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from ..gateway import events as ev
from ..gateway.position import SiteMap
from ..protocol import rssi_code_to_dbm

CLIENT_QUEUE = 256  # live messages waiting for one browser; beyond this they are dropped


def decimate_peaks(values: np.ndarray, max_bins: int) -> np.ndarray:
    """values reduced to at most max_bins by the maximum of consecutive groups."""
    group = -(-len(values) // max_bins)  # ceil
    if group <= 1:
        return values
    padded = np.full(group * -(-len(values) // group), values.min(), dtype=values.dtype)
    padded[:len(values)] = values
    return padded.reshape(-1, group).max(axis=1)


class SpectrumRow:
    """One front end's sweep being assembled from its segments."""

    def __init__(self, start_khz: int, step_khz: int, total: int):
        self.start_khz, self.step_khz = start_khz, step_khz
        self.codes = np.zeros(total, np.uint8)

    def fits(self, sweep) -> bool:
        return (self.start_khz, self.step_khz, len(self.codes)) == \
            (sweep.start_khz, sweep.step_khz, sweep.total)


class Hub:
    """`site`: the gateway's nodes in its local frame (gateway/position.py): the map's grid is that
    frame's east and north metres; None (straja hq's region view): `[web] node_positions`."""

    def __init__(self, web_cfg, now=time.monotonic, site: SiteMap | None = None):
        self.cfg = web_cfg
        self.site = site if site is not None and site.frame is not None else None
        self.now = now
        self.lock = threading.Lock()
        self.nodes: dict[int, dict] = {}      # node id -> status and latest stats
        self.alerts: dict[str, dict] = {}     # alert id -> latest alert event (JSON), + ack
        self.rows: dict[tuple[int, int], SpectrumRow] = {}
        self.last_sent: dict[tuple[int, int], float] = {}
        self.clients: set[asyncio.Queue] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sweeps_sent = 0

    # -- from the gateway's processing thread ------------------------------------------------
    def sink(self, stored) -> None:
        """The gateway's event sink."""
        self.sink_json(s.json() for s in stored)

    def sink_json(self, events) -> None:
        """Events as JSON objects (straja hq feeds the region's this way)."""
        for event in events:
            message = self._apply(event)
            if message:
                self.publish(message)

    def _apply(self, event: dict) -> dict | None:
        kind = event["kind"]
        with self.lock:
            if kind in ("node_online", "node_offline", "node_restarted", "node_stats"):
                node = self.nodes.setdefault(event["node_id"], {"node_id": event["node_id"]})
                if kind == "node_stats":
                    node["stats"] = event
                    node["online"] = event["online"]
                elif kind == "node_restarted":
                    node["last_restart"] = event
                else:
                    node["online"] = kind == "node_online"
                    node["port"] = event["port"]
                node["updated_ns"] = event["t_ns"]
                return {"type": "node", "node": dict(node)}
            if kind in ("alert_raised", "alert_updated", "alert_cleared"):
                alert = {**self.alerts.get(event["alert_id"], {}), **event, **self._map(event)}
                alert.setdefault("raised_ns", event["t_ns"])
                alert["active"] = kind != "alert_cleared"
                self.alerts[event["alert_id"]] = alert
                return {"type": "alert", "alert": alert}
            if kind == "alert_acknowledged":
                alert = self.alerts.get(event["alert_id"])
                if alert is not None:
                    alert["acknowledged"] = {"by": event["by"], "t_ns": event["t_ns"]}
                    return {"type": "alert", "alert": alert}
                return None
        return None  # the rest is in the history

    def sweep(self, node_id: int, t_ns: int, sweep) -> None:
        """The pipeline's sweep tap: assemble, and send a thinned row when one is complete."""
        key = (node_id, sweep.front_end)
        row = self.rows.get(key)
        if row is None or not row.fits(sweep):
            row = self.rows[key] = SpectrumRow(sweep.start_khz, sweep.step_khz, sweep.total)
        held = sweep.held()
        if sweep.first + len(held) > sweep.total:
            return  # a malformed segment: the detector judges the node's data, not the view
        row.codes[sweep.first:sweep.first + len(held)] = held
        if sweep.first + len(held) < sweep.total:
            return
        front_ends = sum(1 for n, _ in self.rows if n == node_id)
        now = self.now()
        if now - self.last_sent.get(key, -1e9) < front_ends / self.cfg.sweep_rate_hz:
            return
        self.last_sent[key] = now
        bins = decimate_peaks(row.codes, self.cfg.max_bins)
        self.sweeps_sent += 1
        self.publish({"type": "spectrum", "node_id": node_id, "front_end": sweep.front_end,
                      "t_ns": t_ns, "start_khz": row.start_khz,
                      "stop_khz": row.start_khz + row.step_khz * (len(row.codes) - 1),
                      "dbm": [round(float(v), 1) for v in rssi_code_to_dbm(bins)]})

    # -- to the browsers -------------------------------------------------------------------
    def publish(self, message: dict) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, message)

    def _deliver(self, message: dict) -> None:
        for queue in self.clients:
            if queue.full():
                continue  # this browser is behind: it catches up with the next messages
            queue.put_nowait(message)

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(CLIENT_QUEUE)
        self.clients.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.clients.discard(queue)

    def snapshot(self) -> dict:
        with self.lock:
            return {"type": "snapshot", "nodes": [dict(n) for _, n in sorted(self.nodes.items())],
                    "alerts": sorted(self.alerts.values(), key=lambda a: -a["raised_ns"]),
                    "positions": self.site.node_grid() if self.site else
                    {str(k): v for k, v in self.cfg.node_positions.items()}}

    def _map(self, alert: dict) -> dict:
        """Where the map draws an alert's position, in grid metres: `position_m` (the fix, or the
        centre of a locus's or ring's band), `ellipse_m` (semi-major, semi-minor, azimuth of the
        major axis clockwise from north, as in the event), `ring_m` (the band's radii)."""
        if self.site is None or alert.get("latitude") is None:
            return {"position_m": None}
        return {"position_m": self.site.to_grid(alert["latitude"], alert["longitude"])}

    def ack_event(self, alert_id: str, user: str, t_ns: int,
                  known: bool = False) -> ev.AlertAcknowledged | None:
        """The acknowledgement of an alert the hub has (None for an unknown id); known: its
        emitter is marked known too."""
        with self.lock:
            if alert_id not in self.alerts:
                return None
        return ev.AlertAcknowledged(t_ns, alert_id, user, known)
