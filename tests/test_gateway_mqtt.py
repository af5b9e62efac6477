"""MQTT output against a real mosquitto on 127.0.0.1, stopped (or killed) and restarted mid-run:
the subscriber must receive every stored event, in order, exactly as stored in SQLite."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from straja.gateway import config, events, mqtt, store

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto with its state on disk after every change, so that even a kill -9 keeps the
    subscriber's session and the messages queued for it. Started as root, mosquitto drops to
    the user `mosquitto`, which could not write its persistence file in the test's folder: it
    is told to stay the user it was started as."""

    def __init__(self, tmp: Path, port: int):
        self.data = tmp / "mosquitto-data"
        self.data.mkdir()
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence true\npersistence_location {self.data}/\n"
                             "autosave_interval 1\nautosave_on_changes true\n"
                             + ("user root\n" if os.geteuid() == 0 else ""))
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=5)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=5)


class Subscriber:
    """A persistent session (clean_session False, QoS 1), so nothing queued for it is lost while
    the broker restarts with persistence on."""

    def __init__(self, port: int, topic: str):
        self.got: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-sub",
                                  clean_session=False)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_message = self._msg
        self.client.reconnect_delay_set(0.2, 0.5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _msg(self, client, userdata, msg):
        with self.lock:
            self.got.append((msg.topic, msg.payload, msg.retain))

    def events(self):
        with self.lock:
            return [(t, json.loads(p)) for t, p, _ in self.got if "/events/" in t]


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def node_event(i, online=True):
    t_ns, node_id, port = 1_700_000_000_000_000_000 + i, i % 3 + 1, f"/dev/ttyACM{i % 3}"
    return events.NodeOnline(t_ns, node_id, port) if online else \
        events.NodeOffline(t_ns, node_id, port, t_ns - 3_000_000_000)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("down", ["stop", "kill"])
def test_broker_down_mid_run_loses_nothing_and_keeps_order(tmp_path, down):
    port = free_port()
    broker = Broker(tmp_path, port)
    broker.start()
    cfg = config.MqttConfig(host="127.0.0.1", port=port, keepalive_s=2)
    db_path = tmp_path / "gw.db"
    st = store.Store(db_path, topics=mqtt.topics_for(cfg, "gw1"))
    sub = Subscriber(port, "straja/v1/site/gw1/#")
    pub = mqtt.Publisher(cfg, "gw1", db_path).start()
    try:
        assert wait_for(pub.connected.is_set, 5)
        st.write([node_event(i) for i in range(50)])
        pub.wake()
        assert wait_for(lambda: len(sub.events()) >= 50, 10)
        assert wait_for(lambda: (broker.data / "mosquitto.db").exists(), 5), "no persistence"
        getattr(broker, down)()
        assert wait_for(lambda: not pub.connected.is_set(), 10)
        # events while the broker is down are spooled in the outbox
        st.write([node_event(i, online=False) for i in range(50, 120)])
        pub.wake()
        time.sleep(0.5)
        assert pub.pending() >= 70
        broker.start()
        assert wait_for(lambda: len(sub.events()) >= 120 * 1, 20)
        assert wait_for(lambda: pub.pending() == 0, 10)
    finally:
        pub.stop()
        sub.client.loop_stop()
        sub.client.disconnect()
        broker.stop()
    stored = store.query_events(st.db)
    received = sub.events()
    # at least once: drop repeats by the event id, then it is exactly the store, in order
    seen, unique = set(), []
    for topic, event in received:
        if event["id"] not in seen:
            seen.add(event["id"])
            unique.append((topic, event))
    assert [e for _, e in unique] == stored
    assert all(t == f"straja/v1/site/gw1/events/{e['kind']}" for t, e in unique)
    # node status is retained: a late subscriber gets each node's latest
    assert any(t == "straja/v1/site/gw1/nodes/1/status" for t, _, _ in sub.got)


@pytest.mark.timeout(60)
def test_outbox_survives_a_gateway_restart_and_last_will(tmp_path):
    port = free_port()
    broker = Broker(tmp_path, port)
    cfg = config.MqttConfig(host="127.0.0.1", port=port, keepalive_s=2)
    db_path = tmp_path / "gw.db"
    st = store.Store(db_path, topics=mqtt.topics_for(cfg, "gw2"))
    st.write([node_event(i) for i in range(10)])  # written while no broker exists at all
    pub = mqtt.Publisher(cfg, "gw2", db_path).start()
    time.sleep(0.3)
    pub.stop(flush_s=0.2)  # the gateway stops before it could publish
    assert store.connect(db_path).execute("SELECT COUNT(*) FROM mqtt_outbox").fetchone()[0] == 20
    broker.start()
    try:
        sub = Subscriber(port, "straja/v1/site/gw2/#")
        pub = mqtt.Publisher(cfg, "gw2", db_path).start()
        assert wait_for(lambda: len(sub.events()) >= 10, 10)
        assert wait_for(lambda: pub.pending() == 0, 10)
        assert [e["id"] for _, e in sub.events()] == list(range(1, 11))
        status = [p for t, p, _ in sub.got if t == "straja/v1/site/gw2/status"]
        assert status[-1] == b"online"
        pub.stop()
        assert wait_for(lambda: [p for t, p, _ in sub.got if t == "straja/v1/site/gw2/status"][-1]
                        == b"offline", 5)
        sub.client.loop_stop()
        sub.client.disconnect()
    finally:
        broker.stop()
