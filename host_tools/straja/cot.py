"""Cursor on Target: CoT XML events for TAK (ATAK, WinTAK, TAK Server) and a sender that never
blocks its caller.

Events follow the CoT base schema (`event` with `point` and `detail`), as docs/gateway.md maps:
a drone track is `a-<affiliation>-A-M-F-Q` (an unmanned aircraft; `u` unknown by default, `h`
hostile when configured), a node is a sensor point `a-f-G-E-S`, `how` is `m-g` (machine-generated),
`ce` the 95 % radius in metres (9999999 = unknown, the CoT convention), `le` unknown. A cleared
track is sent once more with `stale` = `start` = now, which makes TAK clients drop the marker.

The sender runs pytak's transports (`udp://`, multicast `udp://239.2.3.1:6969`, `tcp://`,
`tls://`) in its own thread and event loop. `send()` puts an event on a bounded queue and returns at
once; when the queue is full the oldest event is dropped and counted, and a lost connection is
reopened with backoff, the events that could not be written counted as dropped too.
"""
from __future__ import annotations

import argparse
import collections
import configparser
import importlib.util
import datetime as dt
import threading
import time
import urllib.parse
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace

from . import term
from .errors import StrajaError
from .gateway.events import AlertEvent

UNKNOWN_ERROR_M = 9999999.0  # CoT: ce/le unknown
AFFILIATIONS = {"unknown": "u", "hostile": "h", "suspect": "s", "neutral": "n", "friend": "f"}
DRONE_TYPE = "a-{}-A-M-F-Q"   # air, military fixed wing, drone (UAV): as open counter-drone tools
SENSOR_TYPE = "a-f-G-E-S"     # friendly ground equipment, sensor
HOW = "m-g"


def cot_url(text: str) -> str:
    """A command line's TAK URL (argparse type): refused while parsing when not one."""
    try:
        CotConfig(url=text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if not text:
        raise argparse.ArgumentTypeError("an empty CoT URL")
    return text


def _tak_url_ok(url: str) -> bool:
    """udp://, tcp:// or tls://, a host and a port in 1-65535."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return False
    return parts.scheme in ("udp", "tcp", "tls") and bool(parts.hostname) and port is not None \
        and port > 0


def _time(t_ns: int) -> str:
    return dt.datetime.fromtimestamp(t_ns / 1e9, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def event_xml(uid: str, cot_type: str, t_ns: int, stale_ns: int, lat: float, lon: float,
              hae_m: float, ce_m: float = UNKNOWN_ERROR_M, callsign: str = "",
              remarks: str = "", ellipse: tuple[float, float, float] | None = None) -> bytes:
    """One CoT event as UTF-8 XML bytes."""
    event = ET.Element("event", version="2.0", uid=uid, type=cot_type, how=HOW,
                       time=_time(t_ns), start=_time(t_ns), stale=_time(stale_ns))
    ET.SubElement(event, "point", lat=f"{lat:.7f}", lon=f"{lon:.7f}", hae=f"{hae_m:.1f}",
                  ce=f"{min(ce_m, UNKNOWN_ERROR_M):.1f}", le=f"{UNKNOWN_ERROR_M:.1f}")
    detail = ET.SubElement(event, "detail")
    if callsign:
        ET.SubElement(detail, "contact", callsign=callsign)
    if ellipse is not None:  # the 95 % ellipse, as ATAK's shape detail: major, minor, angle
        ET.SubElement(detail, "shape").append(ET.Element(
            "ellipse", major=f"{ellipse[0]:.1f}", minor=f"{ellipse[1]:.1f}", angle=f"{ellipse[2]:.1f}"))
    if remarks:
        ET.SubElement(detail, "remarks").text = remarks
    return ET.tostring(event, encoding="utf-8", xml_declaration=True)


MULTICAST_URL = "udp://239.2.3.1:6969"  # the ATAK default


@dataclass(frozen=True)
class CotConfig:
    url: str = ""                # "" CoT off; udp://HOST:PORT (MULTICAST_URL), tcp://, tls://
    affiliation: str = "unknown"
    uid_prefix: str = "straja"
    stale_s: float = 30.0        # the gateway's track timeout: a marker stales when updates stop
    queue_size: int = 256
    reconnect_s: float = 1.0     # first reconnect delay, doubling to reconnect_max_s
    reconnect_max_s: float = 30.0
    pytak: dict = field(default_factory=dict)  # extra pytak settings: PYTAK_TLS_CLIENT_CERT, ...
    node_refresh_s: float = 60.0  # the nodes' sensor points sent again this often

    def __post_init__(self):
        if self.affiliation not in AFFILIATIONS:
            raise ValueError(f"CoT affiliation {self.affiliation!r} is not one of "
                             f"{', '.join(AFFILIATIONS)}")
        if self.url and not _tak_url_ok(self.url):
            raise ValueError(f"CoT URL {self.url!r} is not udp://, tcp:// or tls://HOST:PORT")
        if self.queue_size < 1 or self.stale_s <= 0:
            raise ValueError("CoT queue_size and stale_s must be positive")


def track_event(cfg: CotConfig, track_id: str, t_ns: int, lat: float, lon: float, hae_m: float,
                ce_m: float, family: str, band: str, nodes: list, severity: str,
                ellipse: tuple[float, float, float] | None = None, cleared: bool = False,
                what: str = "track") -> bytes:
    """A drone track's event: the uid depends only on the track id (`what`: "alert" for an
    alert's id), so every update moves the same marker; `cleared` sends it stale at once (TAK
    removes it)."""
    stale_ns = t_ns if cleared else t_ns + int(cfg.stale_s * 1e9)
    remarks = (f"{'CLEARED ' if cleared else ''}{severity}: {family} on {band}, "
               f"nodes {', '.join(str(n) for n in nodes)}")
    return event_xml(f"{cfg.uid_prefix}-{what}-{track_id}", DRONE_TYPE.format(AFFILIATIONS[cfg.affiliation]),
                     t_ns, stale_ns, lat, lon, hae_m, ce_m, f"drone {track_id}", remarks, ellipse)


def sensor_event(cfg: CotConfig, node_id: int, t_ns: int, lat: float, lon: float, hae_m: float,
                 stale_s: float = 300.0) -> bytes:
    """A node as a sensor point (surveyed position, so ce = 1 m)."""
    return event_xml(f"{cfg.uid_prefix}-node-{node_id}", SENSOR_TYPE, t_ns,
                     t_ns + int(stale_s * 1e9), lat, lon, hae_m, 1.0, f"straja node {node_id}",
                     f"Straja RF sensor node {node_id}")


class CotSender:
    """Sends CoT events from its own thread; `send` never blocks and never raises on network loss."""

    def __init__(self, cfg: CotConfig):
        if not cfg.url:
            raise ValueError("CoT needs a URL: udp://, tcp:// or tls://HOST:PORT")
        if importlib.util.find_spec("pytak") is None:  # (its thread would fail unseen)
            raise StrajaError("Cursor on Target needs pytak, in the `gateway` extra",
                              "pip install 'straja[gateway]' (make installs it)", term.EXIT_USAGE)
        import asyncio  # (here, not at the top: `straja gateway --help` checks --cot with cot_url)

        self.cfg = cfg
        self._queue: collections.deque[bytes] = collections.deque()
        self._lock = threading.Lock()
        self.sent = self.dropped = self.connects = 0
        self._loop = asyncio.new_event_loop()
        self._wake = asyncio.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),),
                                        name="cot-sender", daemon=True)
        self._thread.start()

    def send(self, event: bytes) -> None:
        with self._lock:
            if len(self._queue) >= self.cfg.queue_size:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(event)
        self._loop.call_soon_threadsafe(self._wake.set)

    def close(self, timeout_s: float = 2.0) -> None:
        """Send what is queued (within timeout_s), then stop the thread."""
        self._stopping = True
        self._loop.call_soon_threadsafe(self._wake.set)
        self._thread.join(timeout_s)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    async def _run(self) -> None:
        import asyncio

        with warnings.catch_warnings():
            # pytak warns on import that aiohttp is missing: only its TAK Server certificate
            # enrolment needs it, which Straja does not use (tls:// takes the files given)
            warnings.filterwarnings("ignore", message=".*aiohttp.*", category=UserWarning)
            import pytak  # optional dependency (the gateway extra)

        section = configparser.ConfigParser()
        # udp+wo: pytak otherwise also binds a receiving socket on the destination port
        url = self.cfg.url.replace("udp://", "udp+wo://", 1)
        section["cot"] = {"COT_URL": url, "TAK_PROTO": "0", **self.cfg.pytak}
        config = section["cot"]
        delay = self.cfg.reconnect_s
        while not (self._stopping and not self.pending):
            try:
                reader, writer = await pytak.protocol_factory(config)
            except (OSError, asyncio.TimeoutError):
                if self._stopping:
                    break
                await self._sleep(delay)
                delay = min(delay * 2, self.cfg.reconnect_max_s)
                continue
            self.connects += 1
            delay = self.cfg.reconnect_s
            worker = pytak.TXWorker(asyncio.Queue(), config, writer)
            try:
                await self._drain(worker, reader)
            except (OSError, ConnectionError):
                pass
            finally:
                close = getattr(writer, "close", None)
                if close:
                    close()

    async def _drain(self, worker, reader) -> None:
        """Write queued events until the connection fails (raise) or the sender stops (return)."""
        while True:
            if reader is not None and getattr(reader, "at_eof", lambda: False)():
                raise ConnectionResetError("TAK peer closed the connection")
            with self._lock:
                event = self._queue.popleft() if self._queue else None
            if event is None:
                if self._stopping:
                    return
                self._wake.clear()
                await self._sleep(0.2)
                continue
            try:
                await worker.send_data(event)
            except (OSError, ConnectionError):
                self.dropped += 1
                raise ConnectionResetError("TAK write failed")
            self.sent += 1

    async def _sleep(self, seconds: float) -> None:
        import asyncio

        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass


def alert_event(cfg: CotConfig, alert: AlertEvent) -> bytes | None:
    """The CoT event of a gateway alert event with a position (None without one): a fix at its
    estimate with `ce` its 95 % semi-major axis and the ellipse; a locus or a ring at the centre
    of its band with `ce` the band's outer radius (the drone is within it). A cleared alert is the
    marker's final event. The marker is the alert's, not its track's: a reopened alert (its
    emitter back on a new track, gateway/alerts.py) moves the same marker."""
    if alert.latitude is None:
        return None
    if alert.position_kind == "fix":
        ce, ellipse = alert.ellipse_m[0], alert.ellipse_m
        # a fix from the drone's video and control link together (docs/localisation.md)
        where = f"RF fix, two bands with {alert.position_with}" if alert.position_with else "RF fix"
    else:
        ce, ellipse = alert.ring_m[1], None
        where = (f"RF {alert.position_kind}: {alert.ring_m[0]:.0f}-{alert.ring_m[1]:.0f} m from "
                 f"the point")
    band = f"{alert.lo_khz / 1000:.0f}-{alert.hi_khz / 1000:.0f} MHz"
    identity = f"; Remote ID {alert.uas_id}" if alert.identified else "; UNIDENTIFIED"
    return track_event(cfg, alert.alert_id, alert.t_ns, alert.latitude,
                       alert.longitude, 0.0, ce, alert.label, band,
                       [n.node_id for n in alert.nodes], f"{alert.severity} ({where}{identity})",
                       ellipse, cleared=alert.kind == "alert_cleared", what="alert")


class CotPublisher:
    """The gateway's CoT output, a sink of its events (`Gateway.sinks`): each alert event with a
    position moves its track's marker, a cleared alert sends the final event, and the nodes with
    surveyed positions (`nodes`: node id -> NodeConfig) are sensor points. An active alert's marker
    is sent again every stale_s / 3 (its last position, time now) so that it stales only when the
    gateway stops; the nodes' points every `node_refresh_s`. (The gateway's config makes
    `stale_s` its track end, track_timeout_s + confirm_wait_s, unless set.)"""

    def __init__(self, cfg: CotConfig, nodes: dict, sender=None, clock=time.time_ns):
        self.cfg, self.nodes, self.clock = cfg, nodes, clock
        self.sender = sender or CotSender(cfg)
        self.active: dict[str, object] = {}  # alert id -> its latest event with a position
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="cot-refresh", daemon=True)
        self._thread.start()

    def __call__(self, stored) -> None:
        for s in stored:
            event = s.event
            if not isinstance(event, AlertEvent):
                continue
            with self._lock:
                if event.kind == "alert_cleared":
                    self.active.pop(event.alert_id, None)
                elif event.latitude is not None:
                    self.active[event.alert_id] = event
            xml = alert_event(self.cfg, event)
            if xml is not None:
                self.sender.send(xml)

    def send_nodes(self) -> None:
        now = self.clock()
        for node_id, node in self.nodes.items():
            self.sender.send(sensor_event(self.cfg, node_id, now, node.latitude, node.longitude,
                                          node.height_m, stale_s=3 * self.cfg.node_refresh_s))

    def _refresh(self) -> None:
        period = self.cfg.stale_s / 3
        next_nodes = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_nodes:
                self.send_nodes()
                next_nodes = time.monotonic() + self.cfg.node_refresh_s
            if self._stop.wait(period):
                break
            with self._lock:
                latest = list(self.active.values())
            now = self.clock()
            for event in latest:
                self.sender.send(alert_event(self.cfg, replace(event, t_ns=now)))

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop refreshing; send what is queued (within timeout_s)."""
        self._stop.set()
        self._thread.join(timeout_s)
        self.sender.close(timeout_s)
