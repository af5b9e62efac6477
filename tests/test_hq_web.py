"""The region's dashboard (straja.web over straja hq's store) and its CoT, fed by two sites'
messages as the central broker delivers them (docs/hq.md, "Dashboard and CoT")."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import paho.mqtt.client as paho
from starlette.testclient import TestClient

from hq_backends import hq_db, postgres_server  # noqa: F401 (fixtures)
from straja.cot import CotConfig, CotSender
from straja.gateway.config import WebConfig
from straja.hq import store as hq_store
from straja.hq.region import RegionFusion
from straja.hq.service import Hq
from straja.hq.web import HqHistory
from straja.web.app import create_app
from straja.web.auth import Authenticator
from straja.web.hub import Hub
from test_gateway_mqtt import Broker, free_port, wait_for

T = 1_700_000_000_000_000_000
S = 1_000_000_000


def messages(site: str, first_s: float, last_s: float):
    """A site gateway's node coming online and its alert raised then cleared, as published."""
    nodes = [{"node_id": 1, "dbm": -70.0, "first_ns": T, "last_ns": T + int(last_s * S)}]
    alert = {"track_id": "T1", "family": "analog_fm_video", "lo_khz": 5_790_000,
             "hi_khz": 5_810_000, "first_ns": T + int(first_s * S), "last_ns": T + int(last_s * S),
             "hits": 4, "nodes": nodes, "alert_id": "A1", "severity": "high", "trend": "steady",
             "since_ns": T + int(first_s * S), "label": "analog FPV video", "text": "HIGH"}
    base = f"straja/v1/{site}/gw"
    return [(f"{base}/events/node_online", {"id": 1, "kind": "node_online", "t_ns": T,
                                            "node_id": 1, "port": "/dev/ttyACM0"}),
            (f"{base}/events/alert_raised", {"id": 2, "kind": "alert_raised",
                                             "t_ns": T + int(first_s * S), **alert}),
            (f"{base}/events/alert_cleared", {"id": 3, "kind": "alert_cleared",
                                              "t_ns": T + int(last_s * S) + 8 * S, **alert})]


def feed(hq, *batches):
    for batch in batches:
        for topic, event in batch:
            hq.handle(topic, json.dumps(event).encode())


def test_the_region_dashboard_shows_every_site_and_the_region_track(hq_db):
    db = hq_db
    hub = Hub(WebConfig())
    hq = Hq(db, hub=hub)
    app = create_app(hub, Authenticator({}), history=HqHistory(db))
    with TestClient(app) as c, c.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "snapshot"
        feed(hq, messages("A", 0, 10))
        live = [ws.receive_json() for _ in range(4)]  # node, alert, region, alert cleared...
        assert live[0] == {"type": "node", "node": {
            "node_id": "A:gw:1", "online": True, "port": "/dev/ttyACM0", "updated_ns": T}}
        assert [m["alert"]["alert_id"] for m in live[1:]] == \
            ["A:gw:A1", "region:hq:" + hq.fusion.by_alert["A:gw:A1"].region_id, "A:gw:A1"]
        feed(hq, messages("B", 12, 20))
        state = c.get("/api/state").json()
        assert [n["node_id"] for n in state["nodes"]] == ["A:gw:1", "B:gw:1"]
        region = [a for a in state["alerts"] if a["alert_id"].startswith("region:")]
        assert len(region) == 1 and "sites A, B" in region[0]["text"]
        assert {n["node_id"] for n in region[0]["nodes"]} == {"A:gw:1", "B:gw:1"}
        history = c.get("/api/events", params={"node": "B:gw:1"}).json()
        assert [(e["kind"], e["site"]) for e in history] == [("node_online", "B")]
        raised = c.get("/api/events", params={"kind": "alert_raised"}).json()
        assert [e["alert_id"] for e in raised] == ["B:gw:A1", "A:gw:A1"]  # newest first
        done = c.post(f"/api/alerts/{region[0]['alert_id']}/ack").json()
        assert done["by"] == "local" and done["site"] == "hq"
        assert c.post("/api/alerts/nowhere:gw:A1/ack").status_code == 404
    acks = hq_store.query(hq_store.connect(db), kinds=["alert_acknowledged"])
    assert [a["alert_id"] for a in acks] == [region[0]["alert_id"]]


def test_region_tracks_go_out_as_cot_at_their_sites_position(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        sender = CotSender(CotConfig(url=f"udp://127.0.0.1:{rx.getsockname()[1]}"))
        fusion = RegionFusion(site_positions={"A": (45.0, 25.0), "B": (45.1, 25.0)})
        hq = Hq(tmp_path / "hq.db", fusion=fusion, cot_sender=sender)
        try:
            feed(hq, messages("A", 0, 10)[:2], messages("B", 12, 20)[:2])
            events = [ET.fromstring(rx.recv(65536)) for _ in range(2)]
        finally:
            sender.close()
    uid = "straja-track-" + hq.fusion.by_alert["A:gw:A1"].region_id
    assert [e.get("uid") for e in events] == [uid, uid]  # one marker, moved
    assert float(events[0].find("point").get("lat")) == 45.0
    assert abs(float(events[1].find("point").get("lat")) - 45.05) < 1e-6  # between A and B
    assert "A, B" in events[1].find("detail/remarks").text


def test_the_command_as_a_process_serves_what_the_broker_brings(tmp_path):
    """`straja hq --broker --db --web` against a real mosquitto; SIGTERM stops it cleanly."""
    broker = Broker(tmp_path, free_port())
    broker.start()
    web = free_port()
    hq = subprocess.Popen([str(Path(sys.executable).with_name("straja")), "hq", "--broker",
                           f"127.0.0.1:{broker.port}", "--db", str(tmp_path / "hq.db"), "--web",
                           f"127.0.0.1:{web}"], stderr=subprocess.PIPE, text=True)
    pub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="site-a")
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()

    def state():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web}/api/state", timeout=2) as r:
                return json.load(r)
        except OSError:
            return {"nodes": []}

    try:
        topic, event = messages("A", 0, 10)[0]
        # published again until straja hq has subscribed (before, the broker drops it); the
        # repeats are one event to it
        assert wait_for(lambda: pub.publish(topic, json.dumps(event), qos=1).wait_for_publish(2)
                        or state()["nodes"], 20)
        assert [n["node_id"] for n in state()["nodes"]] == ["A:gw:1"]
    finally:
        pub.loop_stop()
        hq.send_signal(signal.SIGTERM)
        _, err = hq.communicate(timeout=15)
        broker.stop()
    assert hq.returncode == 0, err
    assert "connected to 127.0.0.1" in err and "'stored': 1" in err and "Traceback" not in err
    assert "lost the broker" not in err  # its own disconnect at the stop is not a loss
