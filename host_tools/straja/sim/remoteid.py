"""Remote ID in scenes: a Bluetooth 4 legacy broadcaster (`kind = "remote_id"`) and what each node
hears of it.

The encoder writes the standard's messages (ASTM F3411-22a / ASD-STAN EN 4709-002 layouts, with the
scale factors and "unknown" values of straja.remoteid.messages, the decoder it is tested against).
Positions in a scene are metres east, north, up of the scene's origin; a broadcaster turns them into
latitude and longitude around its `origin_lat`/`origin_lon` (the scene's `origin` unless set: the
east-north-up frame of straja.locate on the WGS84 ellipsoid, as the gateway converts), and
`to_local` is the inverse for the ground truth.
"""
from __future__ import annotations

import bisect
import functools
from collections import OrderedDict
import math
import struct
import zlib

import numpy as np

from ..locate import GeoPoint, LocalFrame
from ..remoteid import messages as M
from ..remoteid.transports import AD_SERVICE_DATA, REMOTE_ID_APP_CODE, REMOTE_ID_UUID
from .emitters import BLOCK_S, BLEAdvertiser
from .params import Param, ParamError

PROTOCOL_VERSION = 2
MESSAGE_KINDS = ("basic_id", "location", "system", "operator_id", "self_id")
SENSITIVITY_DBM = -95.0  # a BLE 1M receiver's sensitivity
# blocks' receptions kept (each node front end's latest few: time moves forward)
_HEARD_BLOCKS = 64
_ADVERTISED_BLOCKS = 4  # a node's radio reads forward in time: the block read and the next
ADDR_TYPE_RANDOM = 1


@functools.lru_cache(maxsize=16)
def _frame(origin_lat: float, origin_lon: float) -> LocalFrame:
    return LocalFrame(GeoPoint(origin_lat, origin_lon, 0.0))


def to_geodetic(origin_lat: float, origin_lon: float, east_m, north_m):
    """Latitude, longitude (degrees) of a point east/north of the origin (WGS84, straja.locate:
    the gateway's conversion too)."""
    east, north = np.broadcast_arrays(np.asarray(east_m, float), np.asarray(north_m, float))
    lat, lon, _ = _frame(origin_lat, origin_lon).to_geodetic(
        np.stack([east, north, np.zeros_like(east)], axis=-1))
    return lat, lon


def to_local(origin_lat: float, origin_lon: float, lat, lon):
    """East, north (metres) of a latitude, longitude from the origin: to_geodetic's inverse."""
    enu = _frame(origin_lat, origin_lon).to_enu(lat, lon, 0.0)
    return enu[..., 0], enu[..., 1]


def _header(kind: int) -> int:
    return (kind << 4) | PROTOCOL_VERSION


def _latlon(deg: float | None) -> int:
    return 0 if deg is None else int(round(deg * M.LATLON_UNITS_PER_DEGREE))


def _altitude(metres: float | None) -> int:
    if metres is None:
        return 0
    return min(max(int(round((metres - M.ALTITUDE_OFFSET_M) / M.ALTITUDE_STEP_M)), 0), 0xFFFF)


def _text(text: str, size: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > size:
        raise ValueError(f"{text!r} is longer than {size} characters")
    return raw.ljust(size, b"\0")


def basic_id(uas_id: str, id_type: int = 1, ua_type: int = 2) -> bytes:
    return bytes((_header(M.BASIC_ID), (id_type << 4) | ua_type)) + _text(uas_id, 20) + bytes(3)


def location(latitude: float | None, longitude: float | None, altitude_geo: float | None,
             height: float | None = None, speed_horizontal: float | None = None,
             direction: float | None = None, speed_vertical: float | None = None,
             timestamp: float | None = None, status: int = 2, height_type: int = 0,
             altitude_baro: float | None = None, horizontal_accuracy: int = 10) -> bytes:
    """A Location/Vector message; None is the standard's "unknown" for each field."""
    flags = (status << 4) | (height_type << 2)
    if direction is None:
        dir_raw = M.DIRECTION_UNKNOWN - M.DIRECTION_WEST_OFFSET  # 181 with the E/W bit: 361
        flags |= 0x02
    else:
        d = int(round(direction)) % 360
        if d >= M.DIRECTION_WEST_OFFSET:
            flags |= 0x02
            d -= M.DIRECTION_WEST_OFFSET
        dir_raw = d
    if speed_horizontal is None:
        speed_raw, flags = 255, flags | 0x01
    elif speed_horizontal < M.SPEED_MULTIPLIED_OFFSET:
        speed_raw = int(round(speed_horizontal / M.SPEED_STEP))
    else:
        flags |= 0x01
        speed_raw = min(int(round((speed_horizontal - M.SPEED_MULTIPLIED_OFFSET)
                                  / M.SPEED_STEP_MULTIPLIED)), 254)
    if speed_vertical is None:
        vs_raw = int(M.VERTICAL_SPEED_UNKNOWN / M.VERTICAL_SPEED_STEP)
    else:
        vs_raw = int(round(max(-M.VERTICAL_SPEED_MAX, min(M.VERTICAL_SPEED_MAX, speed_vertical))
                           / M.VERTICAL_SPEED_STEP))
    ts_raw = M.TIMESTAMP_UNKNOWN_RAW if timestamp is None else int(round(timestamp * 10)) % 36000
    return struct.pack("<BBBBbiiHHHBBHBB", _header(M.LOCATION), flags, dir_raw, speed_raw, vs_raw,
                       _latlon(latitude), _latlon(longitude), _altitude(altitude_baro),
                       _altitude(altitude_geo), _altitude(height), horizontal_accuracy, 0,
                       ts_raw, 0, 0)


def system(operator_latitude: float | None, operator_longitude: float | None,
           operator_altitude_geo: float | None = None, system_timestamp: int = 0,
           classification_type: int = 1, category_eu: int = 1, class_eu: int = 2,
           operator_location_type: int = 0) -> bytes:
    flags = (classification_type << 2) | operator_location_type
    return struct.pack("<BBiiHBHHBHIB", _header(M.SYSTEM), flags, _latlon(operator_latitude),
                       _latlon(operator_longitude), 1, 0, 0, 0, (category_eu << 4) | class_eu,
                       _altitude(operator_altitude_geo), system_timestamp, 0)


def operator_id(operator: str, operator_id_type: int = 0) -> bytes:
    return bytes((_header(M.OPERATOR_ID), operator_id_type)) + _text(operator, 20) + bytes(3)


def self_id(description: str, desc_type: int = 0) -> bytes:
    return bytes((_header(M.SELF_ID), desc_type)) + _text(description, 23)


def advertising(message: bytes, counter: int = 0) -> bytes:
    """Bluetooth 4 legacy advertising data: the service data AD structure carrying one message."""
    body = bytes((AD_SERVICE_DATA,)) + REMOTE_ID_UUID + bytes((REMOTE_ID_APP_CODE, counter & 0xFF))
    return bytes((len(body) + len(message),)) + body + message


class RemoteIdBroadcaster(BLEAdvertiser):
    """A drone's Bluetooth 4 Remote ID: one message per advertising event, cycling through
    `messages`; its Location messages follow the trajectory (or claim it moved by `claim_offset_m`,
    a spoofer), its System messages the operator's position."""

    KIND = "remote_id"
    DOC = ("Remote ID over Bluetooth 4 legacy advertising: one message per event on 37, 38, 39, "
           "Location from the trajectory.")
    PARAMS = {
        **BLEAdvertiser.PARAMS,
        "interval_s": Param(float, 0.1, lo=0.02, hi=10.24, doc="advertising interval"),
        "uas_id": Param(str, doc="the UAS ID of the Basic ID message (serial number, <= 20 chars)"),
        "id_type": Param(int, 1, lo=0, hi=4, doc="Basic ID type: 1 serial, 2 CAA registration, ..."),
        "ua_type": Param(int, 2, lo=0, hi=15, doc="UA type: 2 helicopter or multirotor, ..."),
        "messages": Param(str, "basic_id,location,system,location,operator_id,location",
                          doc="the message of each event in turn, comma separated: "
                              + ", ".join(MESSAGE_KINDS)),
        "operator_id": Param(str, "", doc="Operator ID message text (empty: none)"),
        "operator_position_m": Param("floats", [0.0, 0.0, 0.0], doc="the operator, [x, y, z] m"),
        "origin_lat": Param(float, None, lo=-89.0, hi=89.0,
                            doc="latitude of the scene's origin (default: the scene's `origin`)"),
        "origin_lon": Param(float, None, lo=-180.0, hi=180.0,
                            doc="longitude of the scene's origin (default: the scene's `origin`)"),
        "claim_offset_m": Param("floats", [0.0, 0.0, 0.0],
                                doc="[dx, dy, dz] added to the position it claims (a spoofer)"),
        "packet_loss": Param(float, 0.0, lo=0.0, hi=1.0,
                             doc="share of advertisements a node misses beyond path loss"),
        "address": Param(str, "", doc="the advertiser's address, 12 hex digits (default: from the name)"),
    }

    def __init__(self, name, params, seed, eirp_dbm, trajectory, schedule, remote=None):
        kinds = [k.strip() for k in params["messages"].split(",")]
        bad = [k for k in kinds if k not in MESSAGE_KINDS]
        if bad:
            raise ParamError("messages", f"unknown message {bad[0]!r} (known: {', '.join(MESSAGE_KINDS)})")
        for key in ("operator_position_m", "claim_offset_m"):
            if len(params[key]) != 3:
                raise ParamError(key, f"must be [x, y, z] in metres (got {params[key]})")
        if len(params["uas_id"]) > 20 or len(params["operator_id"]) > 20:
            raise ParamError("uas_id", "an ID has at most 20 characters")
        # default: a random static address (top bits 11) stable for the emitter's name
        addr = params["address"] or f"c0{zlib.crc32(name.encode()):08x}00"
        try:
            self.address = bytes.fromhex(addr)
        except ValueError:
            self.address = b""
        if len(self.address) != 6:
            raise ParamError("address", f"must be 12 hex digits (got {addr!r})")
        self.kinds = kinds
        self.origin_height_m = 0.0  # the scene origin's height above the ellipsoid (place())
        self._heard = OrderedDict()  # (node, front end, block) -> _reception's, the latest
        super().__init__(name, params, seed, eirp_dbm, trajectory, schedule, remote)

    def place(self, origin) -> None:
        """The scene's origin [latitude, longitude, height], unless this emitter sets its own
        latitude and longitude; its height makes claimed altitudes geodetic (WGS84 HAE)."""
        self.origin_height_m = float(origin[2])
        if self.p["origin_lat"] is None:
            self.p["origin_lat"] = origin[0]
        if self.p["origin_lon"] is None:
            self.p["origin_lon"] = origin[1]

    def claimed(self, t: float) -> tuple[float, float, float]:
        """(latitude, longitude, altitude m above the WGS84 ellipsoid) the drone claims at time t."""
        pos = np.asarray(self.trajectory.position(t), float) + np.asarray(self.p["claim_offset_m"])
        lat, lon = to_geodetic(self.p["origin_lat"], self.p["origin_lon"], pos[0], pos[1])
        return float(lat), float(lon), self.origin_height_m + float(pos[2])

    def message(self, event: int, t: float) -> bytes:
        """The message sent at advertising event number `event`, at time t."""
        p = self.p
        kind = self.kinds[event % len(self.kinds)]
        if kind == "basic_id":
            return basic_id(p["uas_id"], p["id_type"], p["ua_type"])
        if kind == "operator_id":
            return operator_id(p["operator_id"])
        if kind == "self_id":
            return self_id(f"straja sim {self.name}"[:23])
        if kind == "system":
            op = p["operator_position_m"]
            lat, lon = to_geodetic(p["origin_lat"], p["origin_lon"], op[0], op[1])
            return system(float(lat), float(lon), self.origin_height_m + op[2])
        lat, lon, alt = self.claimed(t)
        vel = np.asarray(self.trajectory.position(t + 0.5), float) - np.asarray(
            self.trajectory.position(t - 0.5), float)
        speed = float(math.hypot(vel[0], vel[1]))
        direction = math.degrees(math.atan2(vel[0], vel[1])) % 360 if speed > 0.1 else None
        height = alt - self.origin_height_m  # over the take-off point (height_type 0): the ground
        return location(lat, lon, alt, height=height, speed_horizontal=speed, direction=direction,
                        speed_vertical=float(vel[2]), timestamp=t % 3600)

    def heard(self, rf, t0: float, t1: float):
        """What node front end `rf` (a straja.sim.receiver.NodeRF) receives in [t0, t1): a list of
        (t, addr_type, rssi dBm, address, advertising data), one per advertising event at most
        (a scanner listens on one advertising channel at a time)."""
        out = []
        for k in self.block_range(0, t0, t1):
            starts, events, rx, lost = self._reception(rf, k)
            for i in range(*np.searchsorted(starts, [t0, t1])):
                if not lost[i] and rx[i] >= SENSITIVITY_DBM:
                    out.append((float(starts[i]), ADDR_TYPE_RANDOM, int(round(rx[i])),
                                self.address, advertising(self.message(int(events[i]),
                                                                       float(starts[i])),
                                                          int(events[i]))))
        return out

    def _reception(self, rf, k):
        """(start times, event numbers, received dBm, lost) of block k's advertising events at
        `rf`, made once: a scanner asks for a few milliseconds at a time (the virtual board,
        every 20 ms), and making the whole block's for each ask took a board 0.3-1 ms."""
        key = (rf.node.index, rf.fe_index, k)
        with self._lock:
            got = self._heard.get(key)
        if got is not None:
            return got
        pk = self.block(0, k)
        starts = pk.t0[::3]  # the event's first PDU: events are 3 PDUs, 37, 38, 39
        events = np.rint(starts / self.p["interval_s"]).astype(int)  # per-event numbers
        rng = np.random.default_rng([self.seed, k, rf.node.index, 0xB1E])
        rx = (rf.mean_rx_dbm(self._index(rf), starts, pk.f[::3], 0) if len(starts)
              else np.empty(0))
        rx = rx + rng.normal(0.0, 2.0, len(starts))  # small-scale fading of one PDU
        lost = rng.random(len(starts)) < self.p["packet_loss"]
        got = (starts, events, rx, lost)
        with self._lock:
            self._heard[key] = got
            if len(self._heard) > _HEARD_BLOCKS:
                self._heard.popitem(last=False)
        return got

    def _index(self, rf) -> int:
        return next(i for i, em in enumerate(rf.scene.emitters) if em is self)


class NodeBluetooth:
    """A node's Bluetooth radio in a scene, for the virtual board (straja.vboard.ble): the
    advertisements of every `remote_id` emitter it hears, in time order."""

    def __init__(self, scene, node_name: str):
        self.rf = scene.node(node_name)
        self.broadcasters = [em for em in scene.emitters if isinstance(em, RemoteIdBroadcaster)]
        self._blocks: OrderedDict = OrderedDict()  # block k -> its advertisements, the latest

    def advertisements(self, t0: float, t1: float) -> list:
        out = []
        for k in range(max(math.floor(t0 / BLOCK_S), 0), max(math.floor(t1 / BLOCK_S), -1) + 1):
            heard = self._block(k)
            out += heard[bisect.bisect_left(heard, t0, key=_start):
                         bisect.bisect_left(heard, t1, key=_start)]
        return out

    def prepare(self, t_s: float) -> bool:
        """Make the advertisements of the next block after time t_s, if not made yet (as
        NodeRF.prepare: ahead, while nothing waits for them); False when they are."""
        k = math.floor(t_s / BLOCK_S) + 1
        if k in self._blocks:
            return False
        self._block(k)
        return True

    def _block(self, k: int) -> list:
        """The advertisements starting in block k, made once: their reception and their
        messages (a poll every 20 ms that made an event's took the board ~1 ms)."""
        heard = self._blocks.get(k)
        if heard is None:
            heard = self._blocks[k] = sorted(
                (a for em in self.broadcasters
                 for a in em.heard(self.rf, k * BLOCK_S, (k + 1) * BLOCK_S)), key=_start)
            if len(self._blocks) > _ADVERTISED_BLOCKS:
                self._blocks.popitem(last=False)
        return heard


def _start(advertisement) -> float:
    return advertisement[0]
