"""Remote ID drones at the gateway: decoded advertisements become tracks, with plausibility checks
and protected areas (docs/gateway.md, "Remote ID").

Input: a node's REMOTEID frame (its RSSI and advertiser address) or a companion source's line
(JSON: `payload` hex, optional `node`, `rssi`, `mac`), both decoded by straja.remoteid. A Bluetooth 4
broadcaster sends one message per advertisement, so a drone is keyed by its advertiser address
(the messages of one address are one drone) or, for a payload without one, by its UAS ID.

Remote ID is not authenticated. Every check compares what the drone claims with physics and with
what the nodes measured, and its failure is a reason in the drone's events:
- RSSI: free-space loss from the claimed position (with its altitude) to each receiving node
  (positions and antenna heights in the gateway config) bounds what any legal transmitter could
  deliver; much stronger is impossible, much weaker at a node close by is suspicious;
- a jump between two claimed positions faster than the claimed speed allows (plus a margin);
- values outside physics (an invalid latitude/longitude, an altitude or speed no UA reaches).
"""
from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import sys
import threading
import time
from dataclasses import dataclass, field

from .. import term
from ..errors import StrajaError
from ..locate.geo import ground_distance_m
from ..remoteid import RemoteIdError, decode_payload
from .config import RemoteIdConfig
from .events import RidAreaEntered, RidLost, RidSeen, RidUpdated

log = logging.getLogger("straja.gateway")

SPEED_OF_LIGHT_MPS = 299792458.0
BLE_HZ = 2.44e9
MAX_ALTITUDE_M = 10000.0
MAX_SPEED_MPS = 150.0


def free_space_dbm(eirp_dbm: float, d_m: float, hz: float = BLE_HZ) -> float:
    """Received power at d_m from an isotropic transmitter of eirp_dbm at hz (Friis)."""
    return eirp_dbm - 20 * math.log10(4 * math.pi * max(d_m, 1.0) * hz / SPEED_OF_LIGHT_MPS)


def inside(point: tuple[float, float], polygon) -> bool:
    """Point in polygon (ray casting over (latitude, longitude) vertices)."""
    lat, lon = point
    hit = False
    for (a_lat, a_lon), (b_lat, b_lon) in zip(polygon, polygon[1:] + polygon[:1]):
        if (a_lat > lat) != (b_lat > lat):
            if lon < a_lon + (lat - a_lat) * (b_lon - a_lon) / (b_lat - a_lat):
                hit = not hit
    return hit


@dataclass
class RidDrone:
    key: str
    address: str
    first_ns: int
    serial: int  # tells this drone's loss deadlines from those of one its key had before
    uas_id: str = ""
    latitude: float | None = None
    longitude: float | None = None
    altitude_geo: float | None = None
    speed: float | None = None
    operator_latitude: float | None = None
    operator_longitude: float | None = None
    operator_altitude_geo: float | None = None
    operator_id: str = ""
    last_seen_ns: int = 0
    last_fix_ns: int = 0
    receivers: dict = field(default_factory=dict)  # node id -> latest RSSI dBm
    positions: list = field(default_factory=list)  # (t_ns, latitude, longitude, altitude)
    reasons: tuple = ()
    areas: set = field(default_factory=set)
    announced: bool = False
    updated_ns: int = 0


class RemoteIdTracker:
    """Remote ID drones from decoded payloads: `heard(...)` and `expire(t_ns)` return events."""

    def __init__(self, cfg: RemoteIdConfig, nodes: dict | None = None):
        self.cfg = cfg
        # node id -> (latitude, longitude), and its antenna's height: the config's [nodes.<id>]
        self.nodes = {k: (n.latitude, n.longitude) for k, n in (nodes or {}).items()}
        self.heights_m = {k: n.height_m for k, n in (nodes or {}).items()}
        # key -> drone, least recently heard first. Past cfg.max_drones one is forgotten, the
        # least recently heard of those heard only once if any (`_heard_once`, in the order
        # heard): a flood of addresses, each heard once, cannot grow memory nor push out a
        # drone heard twice (a real one sends several advertisements a second)
        self.drones: dict[str, RidDrone] = {}
        self._heard_once: dict[str, None] = {}
        # (when it may be lost, serial, key), one entry per drone: expire() looks only at the
        # drones whose time came (a flood of advertisers, each from another address, once made
        # every chunk scan them all: 2000 of them took 5 s, fuzz1), pushing again those heard
        # since
        self._deadlines: list[tuple[int, int, str]] = []
        self._serials = itertools.count()
        self.errors = 0   # payloads that did not decode or named no drone
        self.evicted = 0  # drones forgotten before lost_s because max_drones were tracked

    def heard(self, t_ns: int, payload: bytes, node_id: int | None = None,
              rssi_dbm: float | None = None, address: str = "") -> list:
        """One payload a node or a companion heard; its events (none for an undecodable one,
        counted in `errors`)."""
        try:
            decoded = decode_payload(payload)
        except RemoteIdError:
            self.errors += 1
            return []
        address = address or decoded.get("source_mac", "")
        messages = decoded.get("messages") or [decoded]
        uas_id = next((m["uas_id"] for m in messages if m.get("type") == "basic_id"), "")
        key = address or uas_id
        if not key:
            self.errors += 1  # nothing to tell its drone by
            return []
        out = []
        drone = self.drones.pop(key, None)
        if drone is None:
            if len(self.drones) >= self.cfg.max_drones:
                out += self._evict(t_ns)
            drone = RidDrone(key, address, t_ns, next(self._serials))
            heapq.heappush(self._deadlines,
                           (t_ns + int(self.cfg.lost_s * 1e9), drone.serial, key))
            self._heard_once[key] = None
        else:
            self._heard_once.pop(key, None)
        self.drones[key] = drone  # now the most recently heard
        drone.last_seen_ns = t_ns
        if node_id is not None and rssi_dbm is not None:
            drone.receivers[node_id] = float(rssi_dbm)
        reasons = list(drone.reasons)
        for m in messages:
            self._apply(drone, m, t_ns, reasons)
        if node_id is not None and rssi_dbm is not None and drone.latitude is not None:
            reasons += self._rssi_reasons(drone, node_id, float(rssi_dbm))
        flagged = tuple(dict.fromkeys(reasons))[-8:]
        # newly implausible goes out at once; more reasons (their texts carry each message's
        # numbers: new with every advertisement of an absurd claim) wait for the next update
        news = bool(flagged) and not drone.reasons
        drone.reasons = flagged
        return out + self._events(drone, t_ns, news)

    def slant_m(self, node_id: int, point: tuple) -> float:
        """Distance from a node's antenna to a point (latitude, longitude, altitude m above the
        WGS84 ellipsoid or None): through the air when the altitude is known (a drone 40 m up
        and 70 m from a mast is 80 m away), else on the ground."""
        ground = ground_distance_m(self.nodes[node_id], point[:2])
        if point[2] is None:
            return ground
        return math.hypot(ground, point[2] - self.heights_m[node_id])

    def heard_line(self, t_ns: int, line: str) -> list:
        """A companion source's JSON line: {"payload": hex, "node": id, "rssi": dBm, "mac": str}."""
        try:
            item = json.loads(line)
            payload = bytes.fromhex(item["payload"])
            node = item.get("node")
            rssi = item.get("rssi")
            if node is not None and not (isinstance(node, int) and 0 <= node <= 0xFFFF) or (
                    rssi is not None and not isinstance(rssi, (int, float))):
                raise ValueError("node must be a node id (0..65535) and rssi a number")
        except (ValueError, KeyError, TypeError, AttributeError):
            self.errors += 1
            return []
        return self.heard(t_ns, payload, node, rssi, str(item.get("mac", "")))

    def expire(self, t_ns: int) -> list:
        lost_ns = int(self.cfg.lost_s * 1e9)
        out = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= t_ns:
            _, serial, key = heapq.heappop(deadlines)
            drone = self.drones.get(key)
            if drone is None or drone.serial != serial:
                continue  # evicted (and perhaps heard again since, as another drone)
            if t_ns - drone.last_seen_ns < lost_ns:  # heard since
                heapq.heappush(deadlines, (drone.last_seen_ns + lost_ns, serial, key))
                continue
            del self.drones[key]
            self._heard_once.pop(key, None)
            if drone.announced:
                out.append(RidLost(t_ns, **self._fields(drone)))
        return out

    def _evict(self, t_ns: int) -> list:
        """Forget a drone to make room (the least recently heard of those heard once, else of
        all); its rid_lost if it was shown."""
        key = next(iter(self._heard_once or self.drones))
        self._heard_once.pop(key, None)
        drone = self.drones.pop(key)
        self.evicted += 1
        if self.evicted == 1 or self.evicted % 10000 == 0:  # said, not once a payload
            log.warning("remote ID: more than %d drones heard within lost_s (%g s): those heard "
                        "only once are forgotten first (%d so far); a flood of addresses?",
                        self.cfg.max_drones, self.cfg.lost_s, self.evicted)
        return [RidLost(t_ns, **self._fields(drone))] if drone.announced else []

    # -- inside

    def _apply(self, drone: RidDrone, m: dict, t_ns: int, reasons: list) -> None:
        kind = m.get("type")
        if kind == "basic_id" and m.get("uas_id"):
            drone.uas_id = m["uas_id"]
        elif kind == "operator_id":
            drone.operator_id = m.get("operator_id", "")
        elif kind == "system" and m.get("operator_latitude") is not None:
            drone.operator_latitude = m["operator_latitude"]
            drone.operator_longitude = m["operator_longitude"]
            drone.operator_altitude_geo = m["operator_altitude_geo"]
        elif kind == "location":
            self._location(drone, m, t_ns, reasons)

    def _location(self, drone: RidDrone, m: dict, t_ns: int, reasons: list) -> None:
        lat, lon, alt, speed = m.get("latitude"), m.get("longitude"), m.get("altitude_geo"), m.get("speed_horizontal")
        if lat is None or lon is None:
            if m.get("status") not in (None, 0):  # airborne without a valid position
                reasons.append("location: latitude/longitude invalid or unknown")
            return
        if alt is not None and not -500.0 <= alt <= MAX_ALTITUDE_M:
            reasons.append(f"location: altitude {alt:.0f} m outside physics")
        if speed is not None and speed > MAX_SPEED_MPS:
            reasons.append(f"location: speed {speed:.0f} m/s outside physics")
        if drone.positions:
            t0, lat0, lon0, _ = drone.positions[-1]
            dt = (t_ns - t0) / 1e9
            d = ground_distance_m((lat0, lon0), (lat, lon))
            allowed = (max(speed or 0.0, drone.speed or 0.0) * self.cfg.speed_factor
                       + self.cfg.jump_margin_m / max(dt, 1e-3))
            if dt > 0 and d / dt > allowed and d > self.cfg.jump_margin_m:
                reasons.append(f"jump: moved {d:.0f} m in {dt:.1f} s, faster than its claimed "
                               f"speed {speed or 0.0:.1f} m/s allows")
        drone.latitude, drone.longitude, drone.altitude_geo, drone.speed = lat, lon, alt, speed
        drone.last_fix_ns = t_ns
        drone.positions.append((t_ns, lat, lon, alt))
        del drone.positions[:-self.cfg.history]

    def _rssi_reasons(self, drone: RidDrone, node_id: int, rssi: float) -> list:
        if node_id not in self.nodes:
            return []
        claim = (drone.latitude, drone.longitude, drone.altitude_geo)
        d = ground_distance_m(self.nodes[node_id], claim[:2])  # on the map, as the reason says
        through_air = self.slant_m(node_id, claim)
        strongest = free_space_dbm(self.cfg.max_eirp_dbm, through_air)
        if rssi > strongest + self.cfg.rssi_margin_db:
            return [f"rssi: {rssi:.0f} dBm at node {node_id}, {d:.0f} m from the claimed position, "
                    f"where at most {strongest:.0f} dBm can arrive"]
        weakest = free_space_dbm(self.cfg.min_eirp_dbm, through_air) - self.cfg.rssi_margin_db
        if d <= self.cfg.near_m and rssi < weakest:
            return [f"rssi: {rssi:.0f} dBm at node {node_id} only {d:.0f} m from the claimed "
                    f"position, where at least {weakest:.0f} dBm arrives"]
        return []

    def _events(self, drone: RidDrone, t_ns: int, news: bool) -> list:
        """rid_seen once there is something to show, then rid_updated at most every
        update_min_s, or at once when it is newly implausible; area entries."""
        out = []
        fields = self._fields(drone)
        if not drone.announced:
            if not drone.uas_id and drone.latitude is None:
                return out  # nothing to show yet
            drone.announced = True
            drone.updated_ns = t_ns
            out.append(RidSeen(t_ns, **fields))
        elif news or t_ns - drone.updated_ns >= int(self.cfg.update_min_s * 1e9):
            drone.updated_ns = t_ns
            out.append(RidUpdated(t_ns, **fields))
        if drone.latitude is not None:
            for name, polygon in self.cfg.protected_areas.items():
                now_in = inside((drone.latitude, drone.longitude), [tuple(p) for p in polygon])
                if now_in and name not in drone.areas:
                    out.append(RidAreaEntered(t_ns, **fields, area=name))
                if now_in:
                    drone.areas.add(name)
                else:
                    drone.areas.discard(name)
        return out

    @staticmethod
    def _fields(drone: RidDrone) -> dict:
        return {"uas_id": drone.uas_id, "address": drone.address, "latitude": drone.latitude,
                "longitude": drone.longitude, "altitude_geo": drone.altitude_geo,
                "speed": drone.speed, "operator_latitude": drone.operator_latitude,
                "operator_longitude": drone.operator_longitude, "operator_id": drone.operator_id,
                "first_ns": drone.first_ns, "last_seen_ns": drone.last_seen_ns,
                "receivers": {str(k): v for k, v in sorted(drone.receivers.items())},
                "plausible": not drone.reasons, "reasons": drone.reasons}


COMPANION = "remoteid"  # the gateway queue's item kind for a companion line


class CompanionReader(threading.Thread):
    """Reads a companion source's JSON lines (a file, or "-": stdin) into the gateway's queue as
    (COMPANION, source, arrival ns, line) items."""

    def __init__(self, source: str, out_queue):
        super().__init__(name="remoteid-source", daemon=True)
        try:
            self.stream = sys.stdin if source == "-" else open(source, encoding="utf-8",
                                                               errors="replace")
        except OSError as e:
            raise StrajaError(f"cannot read the Remote ID source {source}: {e.strerror}",
                              "give an existing file, or - for stdin", term.EXIT_USAGE) from e
        self.source = source
        self.queue = out_queue

    def run(self) -> None:
        try:
            for line in self.stream:
                if line.strip():
                    self.queue.put((COMPANION, self.source, time.time_ns(), line.encode()))
        except OSError as e:  # (a disk's I/O error, a device that fails: the ports read on)
            log.error("cannot read the Remote ID source %s (%s): no more Remote ID from it; the "
                      "gateway goes on without", self.source, e.strerror or e)
