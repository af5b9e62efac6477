"""The simulator's Remote ID encoder against the gateway's decoder (round trips over the value
ranges, the "unknown" values and the speed multiplier), and a scene's `remote_id` broadcaster as a
node hears it: path loss, packet loss, Location messages from the trajectory."""
import pytest
from hypothesis import given, strategies as st

from straja.remoteid import decode_payload
from straja.sim import remoteid as sim
from straja.sim.scene import SceneError, scene_from_dict

LAT = st.floats(-90, 90).filter(lambda v: abs(v) > 1e-6)
LON = st.floats(-180, 180).filter(lambda v: abs(v) > 1e-6)


@given(lat=LAT, lon=LON, alt=st.one_of(st.none(), st.floats(-999, 31000)),
       speed=st.one_of(st.none(), st.floats(0, 254.25)), direction=st.one_of(st.none(), st.integers(0, 359)),
       vs=st.one_of(st.none(), st.floats(-62, 62)), ts=st.one_of(st.none(), st.floats(0, 3599.9)))
def test_location_round_trip(lat, lon, alt, speed, direction, vs, ts):
    got = decode_payload(sim.advertising(sim.location(lat, lon, alt, speed_horizontal=speed,
                                                      direction=direction, speed_vertical=vs,
                                                      timestamp=ts)))
    assert got["latitude"] == pytest.approx(lat, abs=1e-7) and got["longitude"] == pytest.approx(lon, abs=1e-7)
    assert got["altitude_geo"] == (None if alt is None else pytest.approx(alt, abs=0.25))
    assert got["direction"] == direction
    if speed is None:
        assert got["speed_horizontal"] is None
    else:  # 0.25 m/s steps below 63.75, 0.75 m/s steps (the multiplier) above
        assert got["speed_horizontal"] == pytest.approx(speed, abs=0.125 if speed < 63.75 else 0.375)
    assert got["speed_vertical"] == (None if vs is None else pytest.approx(vs, abs=0.25))
    assert got["timestamp"] == (None if ts is None else pytest.approx(ts, abs=0.051))  # tenths


def test_unknown_position_and_other_messages():
    assert decode_payload(sim.location(None, None, None))["latitude"] is None
    assert decode_payload(sim.basic_id("ABC123", 1, 2))["uas_id"] == "ABC123"
    system = decode_payload(sim.system(44.5, 26.1, 90.0, 1234))
    assert (system["operator_latitude"], system["operator_longitude"], system["operator_altitude_geo"],
            system["system_timestamp"]) == (44.5, 26.1, 90.0, 1234)
    assert decode_payload(sim.operator_id("ROU-OP-1"))["operator_id"] == "ROU-OP-1"
    assert decode_payload(sim.self_id("survey"))["description"] == "survey"


def test_geodetic_and_local_are_inverse():
    lat, lon = sim.to_geodetic(45.0, 25.0, 1200.0, -300.0)
    east, north = sim.to_local(45.0, 25.0, lat, lon)
    assert (east, north) == (pytest.approx(1200.0), pytest.approx(-300.0))


def scene(origin=(45.0, 25.0, 0.0), **extra):
    emitter = {"name": "rid", "kind": "remote_id", "uas_id": "SIM-1", "interval_s": 0.1,
               "trajectory": [[0, 100, 0, 50], [20, 300, 0, 50]], **extra}
    return scene_from_dict({"scene": {"duration_s": 30.0, "origin": list(origin)},
                            "node": [{"name": "n1", "position_m": [0, 0, 2]},
                                     {"name": "far", "position_m": [50000, 0, 2]}],
                            "emitter": [emitter]})


def test_a_node_hears_location_from_the_trajectory_and_a_far_node_nothing():
    s = scene()
    heard = sim.NodeBluetooth(s, "n1").advertisements(0.0, 5.0)
    assert 40 <= len(heard) <= 50  # 100 ms + 0-10 ms advDelay
    messages = [decode_payload(a[4]) for a in heard]
    locations = [(a[0], m) for a, m in zip(heard, messages) if m["type"] == "location"]
    truth = s.emitter("rid").trajectory
    for t, m in locations:
        east, north = sim.to_local(45.0, 25.0, m["latitude"], m["longitude"])
        assert abs(east - truth.position(t)[0]) < 0.5 and abs(north) < 0.5
    assert {m["uas_id"] for m in messages if m["type"] == "basic_id"} == {"SIM-1"}
    assert all(-95 <= a[2] <= -20 for a in heard)
    assert sim.NodeBluetooth(s, "far").advertisements(0.0, 5.0) == []


def test_altitudes_are_above_the_ellipsoid_and_height_above_take_off():
    """A site 300 m above the ellipsoid: a drone 50 m up claims altitude_geo 350 m (WGS84, as
    the gateway's node heights are) and height 50 m; its operator 1.5 m up, 301.5 m."""
    heard = sim.NodeBluetooth(scene(origin=(45.0, 25.0, 300.0), operator_position_m=[0, 0, 1.5]),
                              "n1").advertisements(0.0, 2.0)
    messages = [decode_payload(a[4]) for a in heard]
    location = next(m for m in messages if m["type"] == "location")
    assert (location["altitude_geo"], location["height"], location["height_type"]) == \
        (350.0, 50.0, 0)
    assert next(m for m in messages if m["type"] == "system")["operator_altitude_geo"] == 301.5


def test_packet_loss_and_spoofed_claims():
    lossy = sim.NodeBluetooth(scene(packet_loss=0.5), "n1").advertisements(0.0, 10.0)
    assert 30 <= len(lossy) <= 70
    spoof = scene(claim_offset_m=[5000.0, 0.0, 0.0])
    a = next(a for a in sim.NodeBluetooth(spoof, "n1").advertisements(0.0, 2.0)
             if decode_payload(a[4])["type"] == "location")
    east, _ = sim.to_local(45.0, 25.0, *(decode_payload(a[4])[k] for k in ("latitude", "longitude")))
    assert east > 5000


def test_bad_fields_name_the_field():
    with pytest.raises(SceneError, match="messages"):
        scene(messages="basic_id,nonsense")
    with pytest.raises(SceneError, match="uas_id"):
        scene_from_dict({"scene": {"duration_s": 30.0}, "node": [{"name": "n1", "position_m": [0, 0, 2]}],
                         "emitter": [{"name": "r", "kind": "remote_id", "position_m": [0, 0, 0]}]})


def test_a_nodes_advertisements_are_its_blocks_made_once_and_sliced():
    """NodeBluetooth makes a block's advertisements once (ahead, with prepare, or when first
    polled) and slices them: any window, across block edges too, gets what the broadcasters
    heard in it, in time order."""
    s = scene()
    ble = sim.NodeBluetooth(s, "n1")
    assert ble.prepare(0.3) and not ble.prepare(0.9)  # block 1, once
    for t0, t1 in ((0.0, 0.02), (0.95, 1.05), (1.0, 1.0), (0.5, 2.5), (2.99, 3.0), (4.0, 3.0)):
        whole = sorted((a for em in s.emitters for a in em.heard(ble.rf, t0, t1)),
                       key=lambda a: a[0])
        assert ble.advertisements(t0, t1) == whole, (t0, t1)
    assert ble.advertisements(0.5, 2.5) != []
