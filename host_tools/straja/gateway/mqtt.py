"""MQTT output (paho-mqtt 2.x): every stored event, in order, none lost (docs/gateway.md, "MQTT").

Topic tree under `<root>/v1/<site>/<gateway id>/` (docs/hq.md; payload schemas in docs/schemas/):
    status                      "online" / "offline" (retained; "offline" is the last will)
    events/<kind>               every event as stored in SQLite (JSON with its `id`), QoS 1
    nodes/<node id>/status      the node's latest online/offline/restarted event (retained)
    spectrum/<node id>          a thinned sweep of one front end (QoS 0, not stored: live only;
                                at most `spectrum_rate_hz` a second per node)

Events reach the broker through the `mqtt_outbox` table, which `Store.write` fills in the same
transaction as the event itself. This publisher hands rows to paho in id order, at most `window`
unacknowledged at a time, and deletes a row when its PUBACK comes. While the broker is down
nothing is handed over, and paho re-sends what was in flight when the connection comes back
(docs of paho's `Client.publish`: QoS > 0 messages are kept until acknowledged), so the broker
gets every event in order. A gateway restart re-sends the rows left in the outbox: delivery is
at least once, and subscribers can drop repeats by the event `id`.
"""
from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time

import paho.mqtt.client as paho

from . import store
from .config import MqttConfig, topic_level  # (defined there: the commands' parsers check names)
from .events import Event, NodeStatusChange
from .spectrum import Thinner

log = logging.getLogger("straja.gateway.mqtt")

# The topic layout's version: a level of its own, so that a command post can read sites running
# an older and a newer layout side by side.
TOPIC_VERSION = "v1"
def site_topic(topic_root: str, site: str) -> str:
    """Everything one site's gateways publish is under this topic."""
    return f"{topic_root}/{TOPIC_VERSION}/{topic_level(site, 'site')}"


def base_topic(cfg: MqttConfig, gateway_id: str) -> str:
    return f"{site_topic(cfg.topic_root, cfg.site)}/{topic_level(gateway_id, 'gateway_id')}"


def topics_for(cfg: MqttConfig, gateway_id: str):
    """The function the Store calls to route an event to its topics: [(topic, retained)]."""
    base = base_topic(cfg, gateway_id)

    def topics(event: Event) -> list[tuple[str, bool]]:
        out = [(f"{base}/events/{event.kind}", False)]
        if isinstance(event, NodeStatusChange):
            out.append((f"{base}/nodes/{event.node_id}/status", True))
        return out

    return topics


class Publisher:
    """Drains the outbox of the store at `db_path` to the broker, on a thread of its own."""

    def __init__(self, cfg: MqttConfig, gateway_id: str, db_path):
        self.cfg = cfg
        self.base = base_topic(cfg, gateway_id)
        self.status_topic = f"{self.base}/status"
        self.thinner = Thinner(cfg.spectrum_rate_hz, cfg.spectrum_bins)
        self.db = store.connect(db_path)
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2,
                                  client_id=cfg.client_id or f"straja-{gateway_id}",
                                  protocol=paho.MQTTv311, clean_session=True)
        self.client.max_inflight_messages_set(cfg.window)
        self.client.max_queued_messages_set(0)  # the outbox bounds what is handed over
        if cfg.username:
            self.client.username_pw_set(cfg.username, cfg.password or None)
        if cfg.tls:
            self.client.tls_set(ca_certs=cfg.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
        self.client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self._unreachable_logged = False  # one warning per outage, not one per retry
        self.client.on_publish = self._on_publish
        self.connected = threading.Event()
        self._acked: queue.Queue[int] = queue.Queue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._inflight: dict[int, int] = {}   # paho mid -> outbox row id (publisher thread only)
        self._last_handed = 0
        self._flush_s = 0.0
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)

    # -- paho callbacks (paho's network thread) --------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker %s:%s refused the connection: %s (retrying)", self.cfg.host,
                      self.cfg.port, reason_code)
            return
        log.info("connected to the broker %s:%s", self.cfg.host, self.cfg.port)
        self._unreachable_logged = False
        client.publish(self.status_topic, "online", qos=1, retain=True)
        self.connected.set()
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self.connected.is_set() and not self._stop.is_set():
            log.warning("lost the broker %s:%s (%s); events wait in the outbox while it "
                        "reconnects", self.cfg.host, self.cfg.port, reason_code)
        self.connected.clear()

    def _on_connect_fail(self, client, userdata):
        if not self._unreachable_logged:
            log.warning("cannot reach the broker %s:%s; retrying, events wait in the outbox",
                        self.cfg.host, self.cfg.port)
        self._unreachable_logged = True

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        # paho holds its message lock here: hand the mid over rather than take a lock of ours
        self._acked.put(mid)
        self._wake.set()

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> "Publisher":
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()
        self._thread.start()
        return self

    def wake(self) -> None:
        """New rows are in the outbox."""
        self._wake.set()

    def sweep(self, node_id: int, t_ns: int, sweep) -> None:
        """A pipeline sweep tap: a thinned spectrum when one is due, straight to the broker
        (QoS 0: dropped while it is away, never queued in the outbox)."""
        if not self.connected.is_set():
            return
        spectrum = self.thinner.sweep(node_id, t_ns, sweep)
        if spectrum is not None:
            self.client.publish(f"{self.base}/spectrum/{node_id}",
                                json.dumps(spectrum, separators=(",", ":")), qos=0)

    def pending(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM mqtt_outbox").fetchone()[0]

    def stop(self, flush_s: float = 2.0) -> None:
        """Give the broker up to flush_s to take what is waiting, then disconnect cleanly (the
        retained status becomes "offline" by hand, since a clean disconnect fires no will)."""
        self._flush_s = flush_s
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=flush_s + 2)
        if self.connected.is_set():
            self.client.publish(self.status_topic, "offline", qos=1, retain=True).wait_for_publish(1)
        self.client.disconnect()
        self.client.loop_stop()
        if self._thread.is_alive():  # (a connection closed under its user is a crash in sqlite3)
            log.warning("the MQTT outbox thread did not stop in time; its store is left open")
            return
        self.db.close()

    # -- the publisher thread -------------------------------------------------------------------
    def _run(self) -> None:
        stop_at = None
        while True:
            self._wake.wait(0.2)
            self._wake.clear()
            self._delete_acked()
            if self.connected.is_set():
                self._hand_over()
            if self._stop.is_set():
                stop_at = stop_at or time.monotonic() + self._flush_s
                drained = not self._inflight and self._last_handed >= self._max_row()
                if drained or time.monotonic() >= stop_at:
                    return

    def _max_row(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(id), 0) FROM mqtt_outbox").fetchone()[0]

    def _delete_acked(self) -> None:
        rows = []
        while True:
            try:
                mid = self._acked.get_nowait()
            except queue.Empty:
                break
            row = self._inflight.pop(mid, None)
            if row is not None:  # None: the "online" status, published outside the outbox
                rows.append((row,))
        if rows:
            self.db.executemany("DELETE FROM mqtt_outbox WHERE id = ?", rows)

    def _hand_over(self) -> None:
        room = self.cfg.window - len(self._inflight)
        if room <= 0:
            return
        rows = self.db.execute("SELECT id, topic, payload, retain FROM mqtt_outbox WHERE id > ? "
                               "ORDER BY id LIMIT ?", (self._last_handed, room)).fetchall()
        for row_id, topic, payload, retain in rows:
            info = self.client.publish(topic, payload, qos=1, retain=bool(retain))
            self._inflight[info.mid] = row_id
            self._last_handed = row_id
