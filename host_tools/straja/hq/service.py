"""The command post: every site's events from the central broker, one store, region tracks, the
dashboard's live state and CoT (docs/hq.md).

`Hq.handle_batch` is the processing of MQTT messages (topics and payloads in, no network), in
one transaction of its store (SQLite or PostgreSQL). `Subscriber` hands it what arrived while
the previous batch was being stored (one message when the load is light, hundreds under a
burst: one commit for all), and
acknowledges the messages (QoS 1, paho's manual acknowledgement) only after the commit, so what
the broker counts as delivered is stored: a command post that stops loses nothing its broker
still queues for its persistent session.

A restarted straja hq rebuilds its live state from its store (`Hq.restore`): every node's latest
status and statistics, every alert as its latest event says (with its acknowledgement), the site
tracks not ended and the region tracks still active or recently ended, under their ids; the
gateways' online status comes back as the broker's retained `status` messages.
"""
from __future__ import annotations

import collections
import contextlib
import json
import logging
import queue
import threading
import time

import paho.mqtt.client as paho

from .. import cot
from ..gateway import events as ev
from ..gateway.mqtt import TOPIC_VERSION
from ..web.hub import ALERT_KINDS, Hub
from . import store as hq_store
from .region import RegionFusion, RegionTrack
from .schemas import required_fields

log = logging.getLogger("straja.hq")
FIELDS = {kind: {"id", *required_fields(cls)} for kind, cls in ev.KINDS.items()}
NODE_STATUS_KINDS = tuple(k for k, cls in ev.KINDS.items() if issubclass(cls, ev.NodeStatusChange))
REGION = "region"  # the site name of the region tracks' alerts on the dashboard
# an alert's position fields the region tracks and the map read: how many numbers each holds
POSITION_FIELDS = {"latitude": 1, "longitude": 1, "claimed_latitude": 1, "claimed_longitude": 1,
                   "operator_latitude": 1, "operator_longitude": 1, "ellipse_m": 3, "ring_m": 2}
MAX_SPECTRUM_BINS = 4096  # channels of a site's thinned sweep, at most (mqtt.spectrum_bins: 128)


class BadMessage(ValueError):
    """A message that is not of the documented layout (docs/hq.md); counted and skipped."""


def qualified(site: str, gateway: str, local) -> str:
    """A node or alert id made unique in the region: site:gateway:id (neither name holds ':')."""
    return f"{site}:{gateway}:{local}"


def region_wide(site: str, gateway: str, event: dict) -> dict:
    """The event as straja hq stores and shows it: with its site and gateway, and node and alert
    ids made unique in the region."""
    out = {**event, "site": site, "gateway": gateway}
    if event.get("node_id") is not None:
        out["node_id"] = qualified(site, gateway, event["node_id"])
    if event.get("alert_id"):
        out["alert_id"] = qualified(site, gateway, event["alert_id"])
    if isinstance(event.get("nodes"), list):
        out["nodes"] = [{**n, "node_id": qualified(site, gateway, n["node_id"])}
                        for n in event["nodes"]]
    return out


def is_int64(value) -> bool:
    """An integer both stores hold (the columns are 64-bit)."""
    return isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63


def parse_event(payload: bytes, kinds) -> dict:
    """The event in a payload, checked to be of one of `kinds` with the fields the command post
    reads; BadMessage saying why not."""
    try:
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadMessage(f"not JSON: {e}") from None
    if not isinstance(event, dict) or event.get("kind") not in kinds:
        raise BadMessage(f"not a {' or '.join(kinds) or 'known'} event as "
                         "docs/schemas/event.json has it")
    missing = FIELDS[event["kind"]] - event.keys()
    if missing:
        raise BadMessage(f"{event['kind']} without {', '.join(sorted(missing))}")
    for key in ("id", "t_ns"):
        if not is_int64(event.get(key)):
            raise BadMessage(f"{key} is not a 64-bit integer")
    if event["kind"] in ALERT_KINDS:
        for key, kind in (("family", str), ("severity", str), ("nodes", list)):
            if not isinstance(event.get(key), kind):
                raise BadMessage(f"{event['kind']} without a valid {key}")
        for key in ("lo_khz", "hi_khz", "first_ns", "last_ns"):
            if not is_int64(event.get(key)):
                raise BadMessage(f"{event['kind']} without a valid {key}")
        if not all(isinstance(n, dict) and "node_id" in n for n in event["nodes"]):
            raise BadMessage(f"{event['kind']} with a node without its node_id")
        for key, size in POSITION_FIELDS.items():  # absent or null: no position
            value = event.get(key)
            if value is not None and not (is_number(value) if size == 1 else (
                    isinstance(value, list) and len(value) == size and all(map(is_number, value)))):
                raise BadMessage(f"{event['kind']} with an invalid {key}")
    return event


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_spectrum(payload: bytes) -> dict:
    """The thinned sweep of a `spectrum/<node id>` message (docs/hq.md); BadMessage if it is
    not one."""
    try:
        spectrum = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadMessage(f"not JSON: {e}") from None
    if not isinstance(spectrum, dict):
        raise BadMessage("a spectrum is a JSON object")
    for key in ("front_end", "t_ns", "start_khz", "stop_khz"):
        if not is_int64(spectrum.get(key)):
            raise BadMessage(f"a spectrum without a valid {key}")
    dbm = spectrum.get("dbm")
    if not (isinstance(dbm, list) and 0 < len(dbm) <= MAX_SPECTRUM_BINS
            and all(map(is_number, dbm))):
        raise BadMessage(f"a spectrum's dbm is 1 to {MAX_SPECTRUM_BINS} numbers")
    return {k: spectrum[k] for k in ("front_end", "t_ns", "start_khz", "stop_khz", "dbm")}


class Hq:
    def __init__(self, db_path, *, topic_root: str = "straja", fusion: RegionFusion | None = None,
                 hub: Hub | None = None, cot_sender: cot.CotSender | None = None):
        self.prefix = f"{topic_root}/{TOPIC_VERSION}/"
        self.store = hq_store.HqStore(db_path)
        self.fusion = fusion or RegionFusion()
        self.hub = hub
        self.cot_sender = cot_sender
        self.lock = threading.Lock()
        self.gateways: dict[tuple[str, str], str] = {}          # (site, gateway) -> status
        self.last_id: dict[tuple[str, str], int] = {}
        self.tracks: dict[str, dict] = {}                        # active site tracks
        self.published: set[str] = set()                         # region tracks shown
        self.counts = collections.Counter()                      # received, stored, repeats, ...

    def restore(self) -> None:
        """The live state of before a restart, from the store (the dashboard is right at once)."""
        live = self.store.live()
        acks = [e for e in live if e["kind"] == "alert_acknowledged"]
        latest = {e["alert_id"]: e for e in live if e["kind"] in ALERT_KINDS}
        for e in live:
            self._track(e)
        for site, gateway, last in self.store.last_ids():
            self.last_id[(site, gateway)] = last
        newest_ns = max((e["last_ns"] for e in latest.values()), default=0)
        for summary in self.store.region_tracks(since_ns=newest_ns - self.fusion.keep_ns):
            members = {k: latest[k] for k in summary["alerts"] if k in latest}
            if members:
                self.published.add(self.fusion.restore(summary, members).region_id)
        if self.hub is not None:
            self.hub.sink_json(e for e in live if e["kind"] != "alert_acknowledged")
            self.hub.sink_json(region_alert(t, max(t.members.values(), key=lambda a: a["t_ns"]),
                                            self.fusion.site_positions)
                               for t in self.fusion.tracks.values())
            self.hub.sink_json(acks)

    def handle(self, topic: str, payload: bytes) -> None:
        self.handle_batch([(topic, payload)])

    def handle_batch(self, messages) -> None:
        """Messages (topic, payload) from the central broker, stored in one transaction; a bad
        one is counted and logged, never raised."""
        received_ns = time.time_ns()
        with self.lock, self.store.transaction():
            events = []
            for topic, payload in messages:
                self.counts["received"] += 1
                with self._skipping(topic):
                    if (event := self._parse(topic, payload)) is not None:
                        events.append((topic, event))
            stored = self.store.add_all([(e["site"], e["gateway"], e) for _, e in events],
                                        received_ns)
            for (topic, event), new in zip(events, stored):
                if not new:
                    self.counts["repeats"] += 1
                    continue
                with self._skipping(topic):
                    self._stored(event)

    @contextlib.contextmanager
    def _skipping(self, topic: str):
        """A message from the network: whatever its content, a bad one is skipped."""
        try:
            yield
        except (BadMessage, KeyError, TypeError, ValueError) as e:
            self.counts["rejected"] += 1
            log.warning("message on %s skipped: %s", topic, e)

    def _parse(self, topic: str, payload: bytes) -> dict | None:
        """The event of a message, region-wide (straja hq's own messages: handled, None)."""
        if not topic.startswith(self.prefix):
            raise BadMessage("not under " + self.prefix)
        site, gateway, *rest = topic[len(self.prefix):].split("/")
        if rest == ["status"]:
            self.gateways[(site, gateway)] = payload.decode(errors="replace")
            return None
        if len(rest) == 2 and rest[0] == "spectrum":
            self._spectrum(qualified(site, gateway, rest[1]), payload)
            return None
        if len(rest) == 2 and rest[0] == "events":
            event = parse_event(payload, (rest[1],) if rest[1] in ev.KINDS else ())
        elif len(rest) == 3 and rest[0] == "nodes" and rest[2] == "status":
            event = parse_event(payload, NODE_STATUS_KINDS)
        else:
            raise BadMessage("not a topic of the v1 layout")
        self.gateways.setdefault((site, gateway), "online")
        return region_wide(site, gateway, event)

    def _stored(self, event: dict) -> None:
        """A site's event, stored: to the order check, the tracks, the dashboard, the region."""
        self.counts["stored"] += 1
        key = (event["site"], event["gateway"])
        if event["id"] < self.last_id.get(key, 0):
            self.counts["out_of_order"] += 1
        self.last_id[key] = max(event["id"], self.last_id.get(key, 0))
        self._track(event)
        if self.hub is not None:
            self.hub.sink_json([event])
        if event["kind"] in ALERT_KINDS:
            self._region(*self.fusion.alert(event["alert_id"], event), event)

    def _spectrum(self, node: str, payload: bytes) -> None:
        """A site's thinned sweep: live only (not stored), to the dashboard's spectra."""
        self.counts["spectra"] += 1
        if self.hub is not None:
            self.hub.publish({"type": "spectrum", **parse_spectrum(payload), "node_id": node})

    def _track(self, event: dict) -> None:
        if event["kind"] == "track_started":
            self.tracks[qualified(event["site"], event["gateway"], event["track_id"])] = event
        elif event["kind"] == "track_ended":
            self.tracks.pop(qualified(event["site"], event["gateway"], event["track_id"]), None)

    def _region(self, track: RegionTrack, merged: list[RegionTrack], cause: dict) -> None:
        self.store.region_track(track.summary())
        for gone in merged:
            self.store.forget_region_track(gone.region_id)
        ended = [g for g in merged if g.region_id in self.published]  # seen before: end them
        self.published.difference_update(g.region_id for g in merged)
        self.published.add(track.region_id)
        if self.hub is not None:
            self.hub.sink_json([region_alert(track, cause, self.fusion.site_positions),
                                *(merged_alert(gone, track, cause) for gone in ended)])
        if self.cot_sender is not None:
            for t, cleared in ((track, not track.active), *((g, True) for g in ended)):
                self._cot(t, cause["t_ns"], cleared)

    def _cot(self, track: RegionTrack, t_ns: int, cleared: bool) -> None:
        position = track.position(self.fusion.site_positions)
        if position is not None:
            self.cot_sender.send(cot.track_event(
                self.cot_sender.cfg, track.region_id, t_ns, position.latitude, position.longitude,
                0.0, position.radius_m or cot.UNKNOWN_ERROR_M,
                track.family, f"{track.lo_khz / 1000:.0f}-{track.hi_khz / 1000:.0f} MHz",
                track.sites, track.severity, cleared=cleared))

    def snapshot(self) -> dict:
        """What straja hq knows now: gateways, region tracks, counts."""
        with self.lock:
            return {"gateways": {f"{s}/{g}": status for (s, g), status in self.gateways.items()},
                    "region_tracks": [t.summary() for t in self.fusion.tracks.values()],
                    "tracks": len(self.tracks), "counts": dict(self.counts)}

    def close(self) -> None:
        """Close the store between batches: a connection closed while the storing thread uses
        it is undefined behaviour in sqlite3 (a segfault seen in CI), and the thread may outlive
        Subscriber.stop's join on a slow disk. A batch after this fails cleanly (closed)."""
        with self.lock:
            self.store.close()


def region_alert(track: RegionTrack, cause: dict, site_positions: dict | None = None) -> dict:
    """A region track as the dashboard lists alerts: one line for what several sites see, at
    the track's position (RegionTrack.position) when one is known."""
    position = track.position(site_positions or {})
    nodes = [n for a in track.members.values() for n in a["nodes"]]
    kind = "alert_cleared" if not track.active else \
        "alert_raised" if len(track.members) == 1 and cause["kind"] == "alert_raised" else "alert_updated"
    band = f"{track.lo_khz / 1000:.0f}-{track.hi_khz / 1000:.0f} MHz"
    return {"kind": kind, "t_ns": cause["t_ns"], "alert_id": qualified(REGION, "hq", track.region_id),
            "site": REGION, "gateway": "hq", "track_id": track.region_id, "family": track.family,
            "lo_khz": track.lo_khz, "hi_khz": track.hi_khz, "first_ns": track.first_ns,
            "last_ns": track.last_ns, "since_ns": track.first_ns,
            "hits": sum(a.get("hits", 0) for a in track.members.values()), "nodes": nodes,
            "severity": track.severity, "trend": cause.get("trend", ""), "label": "region",
            "latitude": position.latitude if position else None,
            "longitude": position.longitude if position else None,
            "radius_m": position.radius_m if position else None,
            "text": f"REGION {track.region_id}: {track.family} on {band}, sites "
                    f"{', '.join(track.sites)}"}


def merged_alert(gone: RegionTrack, into: RegionTrack, cause: dict) -> dict:
    """A region track found to be part of another: its dashboard line ends, pointing there."""
    return {**region_alert(gone, cause), "kind": "alert_cleared",
            "text": f"REGION {gone.region_id}: the same drone as {into.region_id}"}


class Subscriber:
    """The central broker's messages to an Hq: a persistent session (clean_session False, QoS 1),
    so what arrives at the broker while straja hq is away waits for it. Messages are stored in
    batches on a thread of its own and acknowledged once stored."""

    BATCH = 500  # messages in one transaction at most

    def __init__(self, hq: Hq, host: str, port: int, client_id: str = "straja-hq",
                 topic_root: str = "straja", username: str = "", password: str = "",
                 ca_file: str = "", on_failure=lambda: None):
        """on_failure: called (on the storing thread) when storing failed; `error` says why."""
        self.hq = hq
        self.on_failure = on_failure
        self.error: Exception | None = None
        self.topic = f"{topic_root}/{TOPIC_VERSION}/+/+/#"
        self.host, self.port = host, port
        self.connected = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=paho.MQTTv311, clean_session=False, manual_ack=True)
        if username:
            self.client.username_pw_set(username, password or None)
        if ca_file:
            self.client.tls_set(ca_certs=ca_file)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = lambda c, u, msg: self._inbox.put(msg)
        self._failing = self._stopping = False
        self._inbox: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._store, name="hq-store", daemon=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.warning("the broker %s:%d refused: %s", self.host, self.port, reason_code)
            return
        client.subscribe(self.topic, qos=1)
        self.connected.set()
        self._failing = False
        log.info("connected to %s:%d", self.host, self.port)

    def _on_connect_fail(self, client, userdata):
        if not self._failing:  # once per outage: paho retries every few seconds
            log.warning("cannot reach the broker %s:%d; retrying", self.host, self.port)
        self._failing = True

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self.connected.is_set() and not self._stopping:  # (not our own disconnect)
            log.warning("lost the broker %s:%d (%s); reconnecting", self.host, self.port,
                        reason_code)
        self.connected.clear()

    def _store(self) -> None:
        try:
            self._store_batches()
        except Exception as e:  # the store failed (disk full, ...): nothing more is acknowledged
            log.exception("storing failed")
            self.error = e
            self.on_failure()

    def _store_batches(self) -> None:
        while (first := self._inbox.get()) is not None:
            batch = [first]
            while len(batch) < self.BATCH:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            stop = batch[-1] is None
            batch = [m for m in batch if m is not None]
            self.hq.handle_batch([(m.topic, m.payload) for m in batch])
            for m in batch:
                if m.qos:
                    self.client.ack(m.mid, m.qos)
            if stop:
                return

    def start(self) -> "Subscriber":
        self._thread.start()
        self.client.connect_async(self.host, self.port, keepalive=10)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        """Store and acknowledge what arrived, then disconnect."""
        self._inbox.put(None)
        self._thread.join(timeout=10)
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
