"""Remote ID drones at the gateway (gateway/remoteid.py through the pipeline): REMOTEID frames and
companion lines decoded into a track with ID, positions, operator and receivers; rid_seen,
rid_updated, rid_lost; protected areas; plausibility: a spoof claiming to be far from the node that
hears it strongly, jumps faster than the claimed speed, positions outside physics. Payloads are made
by the simulator's encoder (straja.sim.remoteid), which tests/test_sim_remoteid.py checks."""
import json
from pathlib import Path

import pytest

from straja import protocol as P
from straja.gateway.config import GatewayConfig, NodeConfig, RemoteIdConfig
from straja.gateway.events import RidAreaEntered, RidLost, RidSeen, RidUpdated, to_json
from straja.gateway.pipeline import Pipeline
from straja.gateway.remoteid import RemoteIdTracker
from straja.locate.geo import ground_distance_m
from straja.sim import remoteid as sim

ORIGIN = (45.0, 25.0)
NODE = (45.0, 25.0)
S = 1_000_000_000


def at(east_m, north_m):
    lat, lon = sim.to_geodetic(*ORIGIN, east_m, north_m)
    return float(lat), float(lon)


NODES = {1: NodeConfig(*NODE), 2: NodeConfig(*at(400, 0))}  # [nodes.<id>]


def config(**kw):
    return RemoteIdConfig(**kw)


def service_data(message, counter=0):
    return sim.advertising(message, counter)[2:]  # without length and AD type: the frame's data


def frame_wire(node_id, seq, message, rssi, address=b"\xc0\x01\x02\x03\x04\x05"):
    body = P.RemoteId(1, rssi, address, service_data(message, seq))
    return P.encode_frame(P.Frame(P.REMOTEID, node_id, seq, seq * 1000, body))


def location_at(east, north, speed=5.0, t=0.0):
    return sim.location(*at(east, north), 80.0, speed_horizontal=speed, direction=90, timestamp=t)


def test_node_frames_make_a_drone_with_id_positions_operator_and_receivers():
    pipe = Pipeline(GatewayConfig(remote_id=config(update_min_s=0.0), nodes=NODES))
    events = []
    messages = [sim.basic_id("DRONE-1"), location_at(100, 0), sim.system(*at(-50, -50), 0.0),
                sim.operator_id("ROU-OP-42"), location_at(105, 0)]
    for i, m in enumerate(messages):
        events += pipe.feed("/dev/a", i * S // 2, frame_wire(1, i, m, -70)).events
    rid = [e for e in events if isinstance(e, (RidSeen, RidUpdated))]
    assert isinstance(rid[0], RidSeen) and rid[0].uas_id == "DRONE-1"
    last = rid[-1]
    assert (last.uas_id, last.operator_id, last.address) == ("DRONE-1", "ROU-OP-42", "c0:01:02:03:04:05")
    assert ground_distance_m((last.latitude, last.longitude), at(105, 0)) < 0.5
    assert ground_distance_m((last.operator_latitude, last.operator_longitude), at(-50, -50)) < 0.5
    assert last.receivers == {"1": -70.0} and last.plausible and last.reasons == ()
    assert len(pipe.remote_id.drones["c0:01:02:03:04:05"].positions) == 2
    lost = pipe.tick(13 * S).events  # last heard at 2 s, lost_s 10
    assert [type(e) for e in lost if isinstance(e, RidLost)] == [RidLost]
    assert json.loads(json.dumps(to_json(last)))["kind"] == "rid_updated"


def test_a_spoof_claiming_5_km_away_but_strong_at_a_node_is_flagged():
    tracker = RemoteIdTracker(config(), NODES)
    ad = sim.advertising(location_at(5000, 0), 1)
    events = tracker.heard(0, ad, 1, -45.0, "c0:aa:bb:cc:dd:ee")
    assert not events[-1].plausible
    assert "rssi: -45 dBm at node 1, 5000 m from the claimed position" in events[-1].reasons[0]


def test_a_weak_signal_at_a_node_next_to_the_claim_is_flagged_and_an_honest_one_is_not():
    tracker = RemoteIdTracker(config(), NODES)
    assert tracker.heard(0, sim.advertising(location_at(400, 0)), 1, -80.0, "c0:aa")[-1].plausible
    flagged = tracker.heard(S // 10, sim.advertising(location_at(400, 0)), 2, -110.0, "c0:aa")
    # within update_min_s, but newly implausible: an update at once
    assert not flagged[-1].plausible and flagged[-1].receivers == {"1": -80.0, "2": -110.0}
    assert "at node 2 only 0 m from the claimed position" in flagged[-1].reasons[0]


def test_an_implausible_drone_is_updated_at_most_every_update_min_s():
    """Each advertisement of a spoof strong at a node 5 km from its claim has a reason of its
    own (its RSSI and distance in the text): every one was an update at once, 20 a second
    (hard2: 300 in 14 s from one hostile port). Newly implausible goes out at once; then the
    updates keep to update_min_s (1 s)."""
    tracker = RemoteIdTracker(config(), NODES)
    events = []
    for i in range(21):  # 2 s, the claim and its strength changing with each advertisement
        ad = sim.advertising(location_at(5000 + i, 0), 1)
        events += tracker.heard(i * S // 10, ad, 1, -45.0 + i, "c0:aa:bb:cc:dd:ee")
    assert [type(e) for e in events] == [RidSeen, RidUpdated, RidUpdated]
    assert not events[0].plausible and events[-1].reasons != events[0].reasons


def test_a_jump_faster_than_the_claimed_speed_is_flagged():
    tracker = RemoteIdTracker(config(update_min_s=0.0), NODES)
    tracker.heard(0, sim.advertising(location_at(0, 0, speed=5.0)), address="c0:bb")
    events = tracker.heard(S, sim.advertising(location_at(900, 0, speed=5.0)), address="c0:bb")
    assert events[-1].reasons[0].startswith("jump: moved 900 m in 1.0 s")
    steady = RemoteIdTracker(config(update_min_s=0.0), NODES)
    steady.heard(0, sim.advertising(location_at(0, 0, speed=5.0)), address="c0:cc")
    assert steady.heard(S, sim.advertising(location_at(5, 0, speed=5.0)), address="c0:cc")[-1].plausible


def test_values_outside_physics_are_flagged():
    tracker = RemoteIdTracker(config(), NODES)
    high = sim.location(*at(0, 0), 15000.0, speed_horizontal=5.0)
    events = tracker.heard(0, sim.advertising(high), address="c0:dd")
    assert "altitude 15000 m outside physics" in events[-1].reasons[0]
    airborne_nowhere = sim.location(None, None, 50.0, status=2)
    tracker.heard(0, sim.advertising(airborne_nowhere), address="c0:ee")
    tracker.heard(0, sim.advertising(sim.basic_id("X")), address="c0:ee")
    assert tracker.drones["c0:ee"].reasons == ("location: latitude/longitude invalid or unknown",)


def test_a_protected_area_raises_its_own_event_once_per_entry():
    square = [list(at(-100, -100)), list(at(100, -100)), list(at(100, 100)), list(at(-100, 100))]
    tracker = RemoteIdTracker(config(protected_areas={"stadium": square}, update_min_s=0.0), NODES)
    kinds = []
    for i, east in enumerate((300, 50, 40, 300, 0)):
        kinds += [(e.kind, getattr(e, "area", None))
                  for e in tracker.heard(i * S, sim.advertising(location_at(east, 0, speed=300.0)),
                                         address="c0:ff")]
    entered = [k for k in kinds if k[0] == RidAreaEntered.kind]
    assert entered == [("rid_area_entered", "stadium")] * 2


def test_companion_lines_decode_packs_and_bad_lines_are_counted():
    pipe = Pipeline(GatewayConfig(remote_id=config(), nodes=NODES))
    pack = bytes((0xF2, 25, 2)) + sim.basic_id("WIFI-7") + location_at(20, 20)
    out = pipe.remote_id_line(0, json.dumps({"payload": pack.hex(), "mac": "60:60:1f:00:00:01"}))
    seen = [e for e in out.events if isinstance(e, RidSeen)]
    assert seen and seen[0].uas_id == "WIFI-7" and seen[0].latitude is not None
    for bad in ("not json", '{"payload": "zz"}', '{"payload": "0102"}', '{"node": "x", "payload": "00"}',
                '[1, 2]', json.dumps({"payload": location_at(0, 0).hex()})):
        assert pipe.remote_id_line(0, bad).events == []
    assert pipe.remote_id.errors == 6


def test_gateway_command_reads_a_companion_source(tmp_path):
    """`straja gateway --remoteid-source FILE`: the lines reach the pipeline, and rid_seen,
    rid_updated and rid_lost reach JSON lines, SQLite and MQTT alike."""
    import sqlite3
    import subprocess
    import sys

    from test_gateway_mqtt import Broker, Subscriber, free_port, wait_for

    port = free_port()
    broker = Broker(tmp_path, port)
    broker.start()
    subscriber = Subscriber(port, "straja/#")
    try:
        lines = tmp_path / "rid.jsonl"
        pack = bytes((0xF2, 25, 2)) + sim.basic_id("COMPANION-1") + location_at(10, 10)
        moved = bytes((0xF2, 25, 1)) + location_at(12, 10)
        lines.write_text("\n".join([
            json.dumps({"payload": pack.hex(), "mac": "60:60:1f:00:00:02", "node": 1, "rssi": -70}),
            "not json", json.dumps({"payload": moved.hex(), "mac": "60:60:1f:00:00:02"})]) + "\n")
        settings = tmp_path / "gateway.toml"  # lost at once, every message an update
        settings.write_text("[remote_id]\nlost_s = 0.5\nupdate_min_s = 0.0\n")
        db = tmp_path / "gw.db"
        out = subprocess.run([str(Path(sys.executable).parent / "straja"), "gateway",
                              "--no-discover", "--config", str(settings), "--db", str(db), "--jsonl", "-",
                              "--mqtt-host", "127.0.0.1", "--mqtt-port", str(port),
                              "--duration", "2.5", "--remoteid-source", str(lines)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        kinds = ["rid_seen", "rid_updated", "rid_lost"]
        events = [json.loads(line) for line in out.stdout.splitlines()]
        jsonl = [e for e in events if e["kind"] in kinds]
        assert [e["kind"] for e in jsonl] == kinds
        assert jsonl[0]["uas_id"] == "COMPANION-1" and jsonl[0]["receivers"] == {"1": -70}
        with sqlite3.connect(db) as con:
            stored = [(kind, json.loads(payload)) for kind, payload in con.execute(
                "SELECT kind, payload FROM events WHERE kind LIKE 'rid_%' ORDER BY id")]
        assert [k for k, _ in stored] == kinds
        assert [e["last_seen_ns"] for _, e in stored] == [e["last_seen_ns"] for e in jsonl]
        assert wait_for(lambda: [t.rsplit("/", 1)[1] for t, e in subscriber.events()
                                 if e["kind"] in kinds] == kinds, 10), subscriber.events()
        assert all(e["uas_id"] == "COMPANION-1" for t, e in subscriber.events() if "/rid_" in t)
    finally:
        subscriber.client.loop_stop()
        subscriber.client.disconnect()
        broker.stop()
    missing = subprocess.run([str(Path(sys.executable).parent / "straja"), "gateway", "--no-discover", "--db",
                              str(tmp_path / "gw.db"), "--remoteid-source", str(tmp_path / "none")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_a_companion_source_that_fails_as_it_is_read_is_logged_not_a_traceback(caplog):
    """A Remote ID source whose reading fails (an I/O error; /proc/self/mem is one as root)
    ends that source with an error line: the thread's traceback was printed, the gateway read on
    without a word of why Remote ID stopped."""
    import queue

    from straja.gateway.remoteid import CompanionReader
    items = queue.Queue()
    reader = CompanionReader("/proc/self/mem", items)
    reader.run()  # (returns: the thread ends quietly)
    assert items.empty()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "cannot read the Remote ID source /proc/self/mem (Input/output error): no more Remote "
        "ID from it; the gateway goes on without"]
