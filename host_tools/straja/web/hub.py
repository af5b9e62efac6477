"""What the dashboard shows, kept up to date from the gateway, and sent to every browser.

The gateway's processing thread calls `sink` (its event sink) and `sweep` (a pipeline sweep tap);
the web server's event loop reads `snapshot()` for a new browser and delivers `publish`ed
messages to each connected one through its own bounded queue (a slow browser loses live
messages, never slows the gateway).

Spectra are thinned here, not in the browser (straja.gateway.spectrum): a row per front end at
most `sweep_rate_hz` times a second per node, at most `max_bins` channels (each group's
strongest). straja hq's hub gets the sites' spectra already thinned, over MQTT.
"""
from __future__ import annotations

import asyncio
import threading
import time

from ..gateway import events as ev
from ..gateway.position import SiteMap
from ..protocol import rssi_code_to_dbm
from ..gateway.spectrum import Thinner

CLIENT_QUEUE = 256  # live messages waiting for one browser; beyond this they are dropped
# the events the live state is made of (the rest is in the history)
NODE_KINDS = ("node_online", "node_offline", "node_restarted", "node_stats")
ALERT_KINDS = ("alert_raised", "alert_updated", "alert_cleared")
RID_KINDS = ("rid_seen", "rid_updated", "rid_lost")  # the Remote ID drones the map draws


def area_alert(event: dict) -> dict:
    """A Remote ID drone inside a protected area (`rid_area_entered`) as a row of the alert list:
    an alert of its own (issue 17), acknowledged like the RF ones, until the drone is lost."""
    who = event["uas_id"] or event["address"]
    return {"alert_id": f"rid-area:{who}:{event['area']}", "area": event["area"],
            "severity": "high", "family": "remote_id", "active": True,
            "raised_ns": event["t_ns"], "t_ns": event["t_ns"],
            "text": f"Remote ID drone {who} inside protected area {event['area']}",
            "nodes": [{"node_id": int(n)} for n in sorted(event["receivers"], key=int)],
            "identified": True, "uas_id": event["uas_id"],
            "claimed_latitude": event["latitude"], "claimed_longitude": event["longitude"],
            "operator_latitude": event["operator_latitude"],
            "operator_longitude": event["operator_longitude"]}


class Hub:
    """`site`: the gateway's nodes in its local frame (gateway/position.py): the map's grid is that
    frame's east and north metres; None (straja hq's region view): `[web] node_positions`.
    `region`: straja hq's hub (the page adds its Region view: every site on a map)."""

    def __init__(self, web_cfg, now=time.monotonic, site: SiteMap | None = None,
                 region: bool = False):
        self.cfg = web_cfg
        self.site = site if site is not None and site.frame is not None else None
        self.region = region
        self.now = now
        self.lock = threading.Lock()
        self.nodes: dict[int, dict] = {}      # node id -> status and latest stats
        self.alerts: dict[str, dict] = {}     # alert id -> latest alert event (JSON), + ack
        self.drones: dict[str, dict] = {}     # UAS ID -> its latest Remote ID event (JSON)
        self.thinner = Thinner(web_cfg.sweep_rate_hz, web_cfg.max_bins, now)
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
            if kind in NODE_KINDS:
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
            if kind in ALERT_KINDS:
                alert = {**self.alerts.get(event["alert_id"], {}), **event, **self._map(event)}
                alert.setdefault("raised_ns", event["t_ns"])
                alert["active"] = kind != "alert_cleared"
                self.alerts[event["alert_id"]] = alert
                return {"type": "alert", "alert": alert}
            if kind in RID_KINDS:
                drone = {**event, **self._map(event), "active": kind != "rid_lost"}
                if drone["active"]:
                    self.drones[event["uas_id"]] = drone
                else:
                    self.drones.pop(event["uas_id"], None)
                    for alert in self.alerts.values():  # its protected-area alerts end with it
                        if alert.get("area") and alert["uas_id"] == event["uas_id"]:
                            alert["active"] = False
                return {"type": "drone", "drone": drone}
            if kind == "rid_area_entered":
                alert = area_alert(event)
                alert.update(self._map(alert))
                self.alerts[alert["alert_id"]] = {**self.alerts.get(alert["alert_id"], {}), **alert}
                return {"type": "alert", "alert": self.alerts[alert["alert_id"]]}
            if kind == "alert_acknowledged":
                alert = self.alerts.get(event["alert_id"])
                if alert is not None:
                    alert["acknowledged"] = {"by": event["by"], "t_ns": event["t_ns"]}
                    return {"type": "alert", "alert": alert}
                return None
        return None  # the rest is in the history

    def sweep(self, node_id: int, t_ns: int, sweep) -> None:
        """The pipeline's sweep tap: assemble, and send a thinned row when one is due."""
        spectrum = self.thinner.sweep(node_id, t_ns, sweep)
        if spectrum is not None:
            self.sweeps_sent += 1
            self.publish({"type": "spectrum", **spectrum})

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
                    "drones": list(self.drones.values()),
                    "positions": self.site.node_grid() if self.site else
                    {str(k): v for k, v in self.cfg.node_positions.items()},
                    "region": self.region}

    def _grid(self, latitude, longitude) -> list[float] | None:
        """A position on the map's grid (east, north metres), None when there is no grid or no
        position."""
        if self.site is None or latitude is None or longitude is None:
            return None
        return self.site.to_grid(latitude, longitude)

    def _map(self, alert: dict) -> dict:
        """Where the map draws an alert's (or a Remote ID drone's) position, in grid metres:
        `position_m` (the fix, or the centre of a locus's or ring's band; its `ellipse_m` and
        `ring_m` are metres already; a drone's claim), and for an identified alert where its
        Remote ID says the drone (`claimed_m`) and its operator (`operator_m`) are."""
        return {"position_m": self._grid(alert.get("latitude"), alert.get("longitude")),
                "claimed_m": self._grid(alert.get("claimed_latitude"),
                                        alert.get("claimed_longitude")),
                "operator_m": self._grid(alert.get("operator_latitude"),
                                         alert.get("operator_longitude"))}

    def ack_event(self, alert_id: str, user: str, t_ns: int,
                  known: bool = False) -> ev.AlertAcknowledged | None:
        """The acknowledgement of an alert the hub has (None for an unknown id); known: its
        emitter is marked known too."""
        with self.lock:
            if alert_id not in self.alerts:
                return None
        return ev.AlertAcknowledged(t_ns, alert_id, user, known)
