"""CoT events and the sender against real sockets on 127.0.0.1 (UDP listener, TCP receiver that
goes away and comes back); the XML is also decoded with takproto, an independent TAK library."""
import datetime as dt
import socket
import threading
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from straja.cot import CotConfig, CotSender, sensor_event, track_event

T0 = 1_780_000_000_000_000_000


def _parse_time(text):
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def _track(cfg, t_ns, cleared=False, lat=45.1):
    return track_event(cfg, "T7", t_ns, lat, 25.2, 300.0, 180.0, "analog FPV video",
                       "5790-5810 MHz", [1, 2, 3], "critical", (180.0, 90.0, 30.0), cleared)


def _check_schema(root):
    assert root.tag == "event" and root.get("version") == "2.0"
    for name in ("uid", "type", "how", "time", "start", "stale"):
        assert root.get(name), name
    start, stale = _parse_time(root.get("start")), _parse_time(root.get("stale"))
    assert stale >= start
    point = root.find("point")
    assert -90 <= float(point.get("lat")) <= 90 and -180 <= float(point.get("lon")) <= 180
    for name in ("hae", "ce", "le"):
        float(point.get(name))
    assert root.find("detail") is not None


def test_track_event_fields_and_mapping():
    cfg = CotConfig(url="udp://127.0.0.1:6969")
    root = ET.fromstring(_track(cfg, T0))
    _check_schema(root)
    assert root.get("type") == "a-u-A-M-F-Q" and root.get("how") == "m-g"
    assert root.get("uid") == "straja-track-T7"
    assert float(root.find("point").get("ce")) == 180.0
    assert (_parse_time(root.get("stale")) - _parse_time(root.get("start"))).total_seconds() == 30
    remarks = root.find("detail/remarks").text
    for part in ("critical", "analog FPV video", "5790-5810 MHz", "1, 2, 3"):
        assert part in remarks
    hostile = ET.fromstring(_track(CotConfig(url="udp://127.0.0.1:1", affiliation="hostile"), T0))
    assert hostile.get("type") == "a-h-A-M-F-Q"
    cleared = ET.fromstring(_track(cfg, T0 + 10**9, cleared=True))
    assert cleared.get("stale") == cleared.get("start") and cleared.get("uid") == root.get("uid")
    sensor = ET.fromstring(sensor_event(cfg, 4, T0, 45.0, 25.0, 210.0))
    assert sensor.get("type") == "a-f-G-E-S" and sensor.get("uid") == "straja-node-4"


@pytest.mark.parametrize("bad", [dict(affiliation="enemy"), dict(url="http://x:1"),
                                 dict(url="239.2.3.1:6969"), dict(queue_size=0)])
def test_config_rejects_bad_values_clearly(bad):
    with pytest.raises(ValueError):
        CotConfig(**bad)


def test_takproto_decodes_the_xml():
    takproto = pytest.importorskip("takproto")
    xml = _track(CotConfig(url="udp://127.0.0.1:1"), T0)
    msg = takproto.parse_proto(takproto.xml2proto(xml, takproto.TAKProtoVer.MESH))
    event = msg.cotEvent
    assert event.uid == "straja-track-T7" and event.type == "a-u-A-M-F-Q" and event.how == "m-g"
    assert event.lat == pytest.approx(45.1) and event.lon == pytest.approx(25.2)
    assert event.ce == pytest.approx(180.0)
    assert event.staleTime - event.startTime == 30_000


def test_udp_listener_receives_updates_and_final_clear():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        cfg = CotConfig(url=f"udp://127.0.0.1:{rx.getsockname()[1]}")
        sender = CotSender(cfg)
        try:
            for k in range(5):
                sender.send(_track(cfg, T0 + k * 10**9, lat=45.1 + k * 1e-4))
            sender.send(_track(cfg, T0 + 6 * 10**9, cleared=True))
            got = [ET.fromstring(rx.recv(65536)) for _ in range(6)]
        finally:
            sender.close()
    for root in got:
        _check_schema(root)
    assert {r.get("uid") for r in got} == {"straja-track-T7"}
    assert [float(r.find("point").get("lat")) for r in got[:5]] == pytest.approx(
        [45.1 + k * 1e-4 for k in range(5)])
    assert got[-1].get("stale") == got[-1].get("start") and "CLEARED" in got[-1].find("detail/remarks").text
    assert sender.sent == 6 and sender.dropped == 0


class _TcpReceiver:
    """Accepts one connection at a time and collects complete events."""

    def __init__(self, port=0):
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.events, self.conn = [], None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            self.conn, _ = self.sock.accept()
        except OSError:
            return
        buf = b""
        while True:
            try:
                data = self.conn.recv(65536)
            except OSError:
                break
            if not data:
                break
            buf += data
            while b"</event>" in buf:
                one, buf = buf.split(b"</event>", 1)
                self.events.append(ET.fromstring(one + b"</event>"))

    def close(self):
        if self.conn:
            self.conn.shutdown(socket.SHUT_RDWR)
            self.conn.close()
        self.sock.close()
        self.thread.join(2)


def _wait(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_tcp_receiver_goes_away_and_comes_back():
    first = _TcpReceiver()
    cfg = CotConfig(url=f"tcp://127.0.0.1:{first.port}", queue_size=8, reconnect_s=0.1,
                    reconnect_max_s=0.2)
    sender = CotSender(cfg)
    try:
        sender.send(_track(cfg, T0))
        assert _wait(lambda: len(first.events) == 1)
        first.close()  # TAK server gone: the caller keeps sending, never blocked
        slowest = 0.0
        for k in range(100):
            start = time.perf_counter()
            sender.send(_track(cfg, T0 + (k + 1) * 10**9))
            slowest = max(slowest, time.perf_counter() - start)
            time.sleep(0.005)
        assert slowest < 0.05
        assert sender.dropped >= 100 - cfg.queue_size - 2  # bounded queue: the excess counted
        second = _TcpReceiver(first.port)  # back on the same port
        try:
            sender.send(_track(cfg, T0 + 200 * 10**9, cleared=True))
            assert _wait(lambda: any(e.get("stale") == e.get("start") for e in second.events))
            assert sender.connects >= 2
            assert {e.get("uid") for e in second.events} == {"straja-track-T7"}
        finally:
            sender.close()
            second.close()
    finally:
        sender.close()


# -- the gateway's CoT: a scene's alerts through the pipeline, then to a UDP listener --------

SCENE_S = 70.0


@pytest.fixture(scope="module")
def scene_run():
    """demo_incursion's three nodes (fast path, video plan) through a gateway configured with
    the scene's node positions: (scene, alert events)."""
    from straja.eval.readings import eval_plan_of
    from straja.eval.scenes import run_scene
    from straja.gateway import config
    from straja.gateway.pipeline import Pipeline
    from straja.sim.scene import load_scene

    scene = load_scene("demo_incursion")
    run = run_scene(scene, pipeline=Pipeline(config.from_dict({"nodes": scene.gateway_nodes()})),
                    t_end_s=SCENE_S, plan=eval_plan_of(("vid58",), step_khz=10_000))
    return scene, run.alerts


def _truth(scene, lo_khz, t_s):
    """The scene position (east, north) of the drone whose video is at lo_khz at t_s."""
    name = "fpv_video" if lo_khz > 5700_000 else "survey_video"  # F4 5800 MHz, R1 5658 MHz
    return scene.emitter(name).trajectory.position(t_s)[:2]


def test_a_scene_runs_cot_reaches_a_udp_listener_with_the_truth_inside(scene_run):
    from straja.cot import CotPublisher
    from straja.gateway.events import Stored
    from straja.gateway.position import covers
    from straja.sim.remoteid import to_local

    takproto = pytest.importorskip("takproto")
    scene, alerts = scene_run
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        cfg = CotConfig(url=f"udp://127.0.0.1:{rx.getsockname()[1]}", stale_s=12.0)
        publisher = CotPublisher(cfg, {})
        try:
            publisher([Stored(a) for a in alerts])
            sent = [a for a in alerts if a.position_kind]
            got = [rx.recv(65536) for _ in sent]
        finally:
            publisher.close()
    assert len(sent) >= 20 and publisher.sender.dropped == 0
    by_alert = {}
    inside = fixes = 0
    for alert, xml in zip(sent, got):
        root = ET.fromstring(xml)
        _check_schema(root)
        assert root.get("type") == "a-u-A-M-F-Q" and root.get("how") == "m-g"
        assert root.get("uid") == f"straja-alert-{alert.alert_id}"
        by_alert.setdefault(alert.alert_id, set()).add(root.get("uid"))
        event = takproto.parse_proto(takproto.xml2proto(xml, takproto.TAKProtoVer.MESH)).cotEvent
        assert event.uid == root.get("uid") and event.lat == pytest.approx(alert.latitude, abs=1e-6)
        point = root.find("point")
        east, north = to_local(*scene.origin[:2], float(point.get("lat")), float(point.get("lon")))
        truth = _truth(scene, alert.lo_khz, alert.last_ns / 1e9)
        offset = (truth[0] - float(east), truth[1] - float(north))
        shape = root.find("detail/shape/ellipse")
        if alert.position_kind == "fix":  # the truth inside the ellipse the XML gives
            fixes += 1
            region = {"position_kind": "fix", "ellipse_m": [float(shape.get(k))
                                                           for k in ("major", "minor", "angle")]}
            assert float(point.get("ce")) == pytest.approx(alert.ellipse_m[0], abs=0.1)
        else:  # a band of distances about the point, ce its outer radius
            assert shape is None and float(point.get("ce")) == pytest.approx(alert.ring_m[1], abs=0.1)
            region = {"position_kind": alert.position_kind, "ring_m": alert.ring_m}
        inside += covers(region, offset)
    assert all(len(uids) == 1 for uids in by_alert.values())  # one marker per alert
    assert fixes >= 20 and inside / len(sent) >= 0.85, (inside, len(sent))
    last = {}
    for xml in got:
        root = ET.fromstring(xml)
        last[root.get("uid")] = root
    for root in last.values():  # each track ends with the clear
        assert root.get("stale") == root.get("start")
        assert "CLEARED" in root.find("detail/remarks").text


class _Collect:
    def __init__(self):
        self.events, self.sent, self.dropped = [], 0, 0

    def send(self, xml):
        self.events.append(ET.fromstring(xml))

    def close(self, timeout_s=0):
        pass


def test_markers_are_refreshed_while_active_and_nodes_are_sensor_points(scene_run):
    from straja.cot import CotPublisher
    from straja.gateway import config
    from straja.gateway.events import Stored

    scene, alerts = scene_run
    nodes = config.from_dict({"nodes": scene.gateway_nodes()}).nodes
    raised = next(a for a in alerts if a.kind == "alert_raised" and a.position_kind)
    sender = _Collect()
    publisher = CotPublisher(CotConfig(url="udp://127.0.0.1:1", stale_s=0.3), nodes,
                             sender=sender)
    try:
        publisher([Stored(raised)])
        assert _wait(lambda: sum(e.get("uid") == f"straja-alert-{raised.alert_id}"
                                 for e in sender.events) >= 3, timeout=5)
        cleared = next(a for a in alerts if a.kind == "alert_cleared"
                       and a.alert_id == raised.alert_id)
        publisher([Stored(cleared)])
        count = len(sender.events)
        time.sleep(0.4)  # more than one refresh period: a cleared track is not sent again
        assert all(e.get("uid") != f"straja-alert-{raised.alert_id}"
                   for e in sender.events[count:])
    finally:
        publisher.close()
    sensors = [e for e in sender.events if e.get("type") == "a-f-G-E-S"]
    assert {e.get("uid") for e in sensors} == {"straja-node-1", "straja-node-2", "straja-node-3"}
    for e in sensors:
        node = nodes[int(e.get("uid").rsplit("-", 1)[1])]
        assert float(e.find("point").get("lat")) == pytest.approx(node.latitude, abs=1e-7)
    refreshed = [e for e in sender.events if e.get("uid") == f"straja-alert-{raised.alert_id}"]
    times = [_parse_time(e.get("time")) for e in refreshed[:-1]]
    assert times == sorted(times) and len(set(times)) == len(times)  # sent again, time now


def test_a_reopened_alert_moves_the_same_marker():
    """An alert reopened on a new track (its emitter back within reacquire_s,
    gateway/alerts.py) is one marker: its uid is the alert's, and it is refreshed again."""
    from straja.cot import CotPublisher
    from straja.gateway import events as ev

    nodes = (ev.TrackNode(1, -70.0, T0, T0),)

    def alert(cls, t_s, track_id, **fields):
        return cls(T0 + int(t_s * 1e9), track_id, "analog_fm_video", 5_790_000, 5_810_000,
                   T0, T0, 3, nodes, "A1-1", "warning", "steady", T0, "analog FPV video",
                   "...", position_kind="ring", latitude=45.1, longitude=25.2,
                   ring_m=(100.0, 900.0), **fields)

    sender = _Collect()
    publisher = CotPublisher(CotConfig(url="udp://127.0.0.1:1", stale_s=0.3), {}, sender=sender)
    try:
        publisher([ev.Stored(alert(ev.AlertRaised, 0, "T1-1")),
                   ev.Stored(alert(ev.AlertCleared, 20, "T1-1")),
                   ev.Stored(alert(ev.AlertUpdated, 60, "T2-2", reopened=True))])
        assert _wait(lambda: len(sender.events) >= 5, timeout=5)  # refreshed once reopened
    finally:
        publisher.close()
    assert {e.get("uid") for e in sender.events} == {"straja-alert-A1-1"}
    assert "CLEARED" in sender.events[1].find("detail/remarks").text
    assert "CLEARED" not in sender.events[-1].find("detail/remarks").text


def test_gateway_and_demo_refuse_a_bad_cot_url(capsys):
    from straja import cli

    for command in (["gateway", "--cot", "http://x:1"], ["demo", "--cot", "udp:/x"],
                    ["gateway", "--cot", "udp://x"], ["gateway", "--cot", "tcp://x:99999"],
                    ["demo", "--cot", "tls://:8089"]):
        with pytest.raises(SystemExit) as e:  # refused while parsing, before anything starts
            cli.main(command)
        assert e.value.code == 2 and "CoT URL" in capsys.readouterr().err


def test_a_replay_sends_its_alerts_to_a_udp_listener(tmp_path, video_recording):
    """`straja replay --cot`: a recording of two nodes (with [nodes] positions in the config) that
    hear one video; the listener gets its locus or ring, the same uid each time, and the clear."""
    from straja import cli

    recording = video_recording
    cfg = tmp_path / "gateway.toml"
    cfg.write_text("[nodes.1]\nlatitude = 45.0\nlongitude = 25.0\nheight_m = 5.0\n"
                   "[nodes.2]\nlatitude = 45.0\nlongitude = 25.005\nheight_m = 5.0\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        url = f"udp://127.0.0.1:{rx.getsockname()[1]}"
        assert cli.main(["replay", str(recording), "--config", str(cfg), "--cot", url,
                         "--jsonl", str(tmp_path / "events.jsonl")]) == 0
        got = []
        while True:
            try:
                got.append(ET.fromstring(rx.recv(65536)))
            except socket.timeout:
                break
    tracks = [e for e in got if e.get("type") == "a-u-A-M-F-Q"]
    assert tracks and len({e.get("uid") for e in tracks}) == 1
    for e in tracks:
        _check_schema(e)
        assert "RF locus" in e.find("detail/remarks").text or "RF ring" in e.find("detail/remarks").text
    assert tracks[-1].get("stale") == tracks[-1].get("start")  # the clear
    assert {e.get("uid") for e in got if e.get("type") == "a-f-G-E-S"} == {
        "straja-node-1", "straja-node-2"}
