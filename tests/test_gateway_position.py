"""Node positions in the gateway config ([nodes.<id>]), the position fields of alert events
(gateway/position.py: fix, locus, ring from a fused track's per-node powers) and their place on the
dashboard's map grid (web/hub.py), on tracks made by hand from the path-loss model."""
from __future__ import annotations

import numpy as np
import pytest

from straja.gateway import config
from straja.gateway.fusion import NodeSeen, Track
from straja.gateway.position import (Positioner, SiteMap, covers, locus_band, moved,
                                     position_text)
from straja.rf import path_loss_db
from straja.sim.remoteid import to_geodetic, to_local
from straja.sim.scene import load_scene
from straja.web.hub import Hub

S = 1_000_000_000
ORIGIN = (45.0, 25.0)
FREQ_HZ = 5.8e9
# four nodes on a 1 km square, 6 m masts
SQUARE_M = {1: (-500, -500), 2: (500, -500), 3: (500, 500), 4: (-500, 500)}


def nodes_config(positions_m=SQUARE_M, height_m=6.0) -> dict:
    tables = {}
    for node_id, (east, north) in positions_m.items():
        lat, lon = to_geodetic(*ORIGIN, east, north)
        tables[str(node_id)] = {"latitude": float(lat), "longitude": float(lon),
                                "height_m": height_m}
    return config.from_dict({"nodes": tables}).nodes


def track_at(drone_en, nodes_m, eirp_dbm=20.0, height_m=60.0, exponent=2.2, t_ns=10 * S,
             shadowing=None) -> Track:
    """A 5.8 GHz video track whose nodes measured the model's power from drone_en."""
    track = Track("T1-1", "analog_fm_video", 5790_000, 5810_000, t_ns - 5 * S, t_ns, hits=5)
    for k, (node_id, (east, north)) in enumerate(nodes_m.items()):
        d = np.hypot(np.hypot(drone_en[0] - east, drone_en[1] - north), height_m - 6.0)
        dbm = float(eirp_dbm - path_loss_db(d, FREQ_HZ, exponent))
        if shadowing is not None:
            dbm += shadowing[k]
        seen = NodeSeen(t_ns - 5 * S, t_ns, dbm)
        seen.history.extend([(t_ns - S, dbm), (t_ns, dbm)])
        track.nodes[node_id] = seen
    return track


def truth_offset(position: dict, drone_en) -> tuple[float, float]:
    east, north = to_local(*ORIGIN, position["latitude"], position["longitude"])
    return drone_en[0] - float(east), drone_en[1] - float(north)


# -- the config ----------------------------------------------------------------------------
def test_nodes_tables_are_read_with_their_defaults():
    cfg = config.from_dict({"nodes": {"7": {"latitude": 45.1, "longitude": 25.2, "height_m": 310,
                                            "azimuth_deg": 90, "beamwidth_deg": 60,
                                            "gain_db": {"vid58": -3.5}}}})
    node = cfg.nodes[7]
    assert (node.latitude, node.longitude, node.height_m) == (45.1, 25.2, 310.0)
    assert (node.azimuth_deg, node.beamwidth_deg, node.gain_db) == (90.0, 60.0, {"vid58": -3.5})
    plain = config.from_dict({"nodes": {"1": {"latitude": 45, "longitude": 25}}}).nodes[1]
    assert plain.height_m == 0.0 and plain.beamwidth_deg == 360.0 and plain.gain_db == {}


@pytest.mark.parametrize("nodes, words", [
    ({"1": {"longitude": 25.0}}, "config.nodes.1: latitude is required"),
    ({"1": {"latitude": 95.0, "longitude": 25.0}}, "config.nodes.1: latitude must be -90..90"),
    ({"x": {"latitude": 45.0, "longitude": 25.0}}, "config.nodes.x: a node id is a number"),
    ({"1": {"latitude": "45", "longitude": 25.0}}, "config.nodes.1.latitude: expected a number"),
    ({"1": {"latitude": 45.0, "longitude": 25.0, "height": 3}}, "unknown key 'height'"),
    ({"1": {"latitude": 45.0, "longitude": 25.0, "gain_db": {"vid58": "a lot"}}},
     "gain_db.vid58 must be a number"),
    ({"1": {"latitude": 45.0, "longitude": 25.0, "azimuth_deg": 400}}, "azimuth_deg must be"),
    ({"1": 45.0}, "config.nodes.1: expected a table"),
])
def test_bad_nodes_tables_are_clear_errors(nodes, words):
    with pytest.raises(config.ConfigError) as e:
        config.from_dict({"nodes": nodes})
    assert words in str(e.value)


def test_a_scenes_nodes_are_its_gateway_nodes():
    """The demo and the evaluation take node positions from the scene: its origin, its metres."""
    scene = load_scene("demo_incursion")
    nodes = config.from_dict({"nodes": scene.gateway_nodes()}).nodes
    assert sorted(nodes) == [1, 2, 3]
    for node_id, node in zip(nodes, scene.nodes.values()):
        east, north = to_local(*scene.origin[:2], nodes[node_id].latitude, nodes[node_id].longitude)
        assert (float(east), float(north)) == pytest.approx(tuple(node.position[:2]), abs=1e-6)
        assert nodes[node_id].height_m == pytest.approx(scene.origin[2] + node.position[2])


def test_the_remote_id_broadcaster_takes_the_scenes_origin():
    scene = load_scene("demo_incursion")
    rid = next(em for em in scene.emitters if em.KIND == "remote_id")
    assert (rid.p["origin_lat"], rid.p["origin_lon"]) == scene.origin[:2]


# -- fix, locus, ring ----------------------------------------------------------------------
def test_four_nodes_give_a_fix_whose_ellipse_holds_the_drone():
    positioner = Positioner(SiteMap(nodes_config()))
    drone = (150.0, -220.0)
    position = positioner.locate(track_at(drone, SQUARE_M), 10 * S)
    assert position["position_kind"] == "fix" and position["ring_m"] is None
    offset = truth_offset(position, drone)
    assert np.hypot(*offset) < 20  # no shadowing: the model's own powers
    major, minor, azimuth = position["ellipse_m"]
    assert 0 < minor <= major and 0 <= azimuth < 180
    assert covers(position, offset)
    assert position_text(position).startswith("RF fix ")


def test_shadowed_fixes_are_tracked_and_the_tracker_forgets_an_ended_track():
    positioner = Positioner(SiteMap(nodes_config()))
    rng = np.random.default_rng(3)
    drone = (-100.0, 300.0)
    inside = 0
    for k in range(10):
        track = track_at(drone, SQUARE_M, t_ns=(10 + 2 * k) * S,
                         shadowing=4.0 * rng.standard_normal(4))
        position = positioner.locate(track, (10 + 2 * k) * S)
        inside += covers(position, truth_offset(position, drone))
    assert "T1-1" in positioner.trackers and inside >= 8
    positioner.track_ended(track)
    assert "T1-1" not in positioner.trackers


def test_two_nodes_give_a_locus_band_holding_the_drone_not_a_point():
    two = {1: SQUARE_M[1], 2: SQUARE_M[2]}
    positioner = Positioner(SiteMap(nodes_config(two)))
    drone = (-350.0, -300.0)  # much nearer node 1: an Apollonius circle around it
    position = positioner.locate(track_at(drone, two), 10 * S)
    assert position["position_kind"] == "locus" and position["ellipse_m"] is None
    inner, outer = position["ring_m"]
    assert 0 <= inner < outer
    assert covers(position, truth_offset(position, drone))


def test_two_nodes_at_equal_power_give_the_stronger_nodes_ring():
    two = {1: SQUARE_M[1], 2: SQUARE_M[2]}
    positioner = Positioner(SiteMap(nodes_config(two)))
    drone = (0.0, 200.0)  # on the perpendicular bisector: the locus is a line
    position = positioner.locate(track_at(drone, two), 10 * S)
    assert position["position_kind"] == "ring"
    assert covers(position, truth_offset(position, drone))


def test_one_node_gives_a_ring_around_it():
    one = {3: SQUARE_M[3]}
    positioner = Positioner(SiteMap(nodes_config(one)))
    drone = (800.0, 900.0)
    position = positioner.locate(track_at(drone, one), 10 * S)
    assert position["position_kind"] == "ring"
    east, north = to_local(*ORIGIN, position["latitude"], position["longitude"])
    assert (float(east), float(north)) == pytest.approx(SQUARE_M[3], abs=0.5)  # centred on it
    assert covers(position, truth_offset(position, drone))


def test_nodes_without_positions_or_long_gone_give_no_position():
    positioner = Positioner(SiteMap(nodes_config({1: SQUARE_M[1]})))
    track = track_at((0.0, 0.0), {5: (0, 0)})  # node 5 has no [nodes.5]
    assert positioner.locate(track, 10 * S)["position_kind"] == ""
    track = track_at((0.0, 0.0), {1: SQUARE_M[1]})
    track.nodes[1].last_ns = 0  # seen last long before the track's last observation
    assert positioner.locate(track, 10 * S)["position_kind"] == ""


def test_a_front_ends_gain_offset_is_taken_off_its_power():
    nodes = nodes_config()
    tables = {str(k): {"latitude": n.latitude, "longitude": n.longitude, "height_m": n.height_m,
                       **({"gain_db": {"vid58": 10.0}} if k == 1 else {})}
              for k, n in nodes.items()}
    boosted = config.from_dict({"nodes": tables}).nodes
    track = track_at((100.0, 100.0), SQUARE_M)
    track.nodes[1].history = type(track.nodes[1].history)(
        (t, d + 10.0) for t, d in track.nodes[1].history)  # node 1 has a 10 dB amplifier
    plain = Positioner(SiteMap(boosted)).powers(track)[1]
    corrected = Positioner(SiteMap(boosted), front_end=lambda node_id, khz: "vid58").powers(track)[1]
    assert corrected[0] == pytest.approx(plain[0] - 10.0) and corrected[1:] == plain[1:]


def test_locus_band_is_none_for_a_line():
    positioner = Positioner(SiteMap(nodes_config({1: SQUARE_M[1], 2: SQUARE_M[2]})))
    locus = positioner.localiser.locate([0, 1], [-60.0, -60.0])
    assert locus_band(locus) is None


def test_a_position_moved_only_beyond_its_uncertainty():
    base = {"position_kind": "fix", "latitude": 45.0, "longitude": 25.0,
            "ellipse_m": (200.0, 100.0, 30.0), "ring_m": None}
    lat, lon = to_geodetic(45.0, 25.0, 0.0, 50.0)
    near = {**base, "latitude": float(lat), "longitude": float(lon)}
    lat, lon = to_geodetic(45.0, 25.0, 0.0, 120.0)
    far = {**base, "latitude": float(lat), "longitude": float(lon)}
    assert not moved(base, near) and moved(base, far)
    assert moved(base, {**base, "position_kind": "ring", "ring_m": (10.0, 900.0)})
    assert moved({}, base)


# -- the dashboard's map -------------------------------------------------------------------
def test_the_map_grid_is_the_site_frame():
    site = SiteMap(nodes_config())
    hub = Hub(config.WebConfig(), site=site)
    grid = hub.snapshot()["positions"]
    assert set(grid) == {"1", "2", "3", "4"}
    # the frame's origin is the nodes' mean: the square is centred, 1 km a side
    assert grid["3"][0] - grid["1"][0] == pytest.approx(1000.0, abs=1.0)
    assert grid["3"][1] - grid["1"][1] == pytest.approx(1000.0, abs=1.0)
    lat, lon = to_geodetic(*ORIGIN, 120.0, -80.0)
    alert = {"kind": "alert_raised", "alert_id": "A1", "t_ns": 1, "latitude": float(lat),
             "longitude": float(lon), "position_kind": "fix", "ellipse_m": [90.0, 40.0, 10.0]}
    hub.sink_json([alert])
    shown = hub.alerts["A1"]
    assert shown["position_m"] == pytest.approx([120.0, -80.0], abs=1.0)
    assert shown["ellipse_m"] == [90.0, 40.0, 10.0]
    no_site = Hub(config.WebConfig())
    no_site.sink_json([alert])
    assert no_site.alerts["A1"]["position_m"] is None and no_site.snapshot()["positions"] == {}


@pytest.mark.parametrize("east, north", [(3000.0, 0.0), (0.0, 3000.0), (2000.0, -2000.0)])
def test_ground_distance_is_the_site_frames(east, north):
    """The Remote ID checks' distance (WGS84) agrees with the local frame's to centimetres over a
    site's kilometres, in every direction (a sphere's mean radius errs by up to 0.5 %)."""
    from straja.locate.geo import ground_distance_m

    lat, lon = to_geodetic(*ORIGIN, east, north)
    assert ground_distance_m(ORIGIN, (float(lat), float(lon))) == pytest.approx(np.hypot(east, north),
                                                                         abs=0.05)


def test_node_stats_carry_the_surveyed_position():
    from straja.gateway.events import NodeStats
    from straja.gateway.pipeline import Pipeline
    from straja.testing import synth

    cfg = config.from_dict({"gateway": {"stats_interval_s": 1.0},
                            "nodes": {"1": {"latitude": 45.1, "longitude": 25.2, "height_m": 9.0}}})
    pipe = Pipeline(cfg)
    stats = []
    chunks = synth.merge([synth.node_chunks(n, [], t0_ns=1_700_000_000 * S, duration_s=3.0)
                          for n in (1, 2)])  # node 2 has no [nodes.2]
    for c in chunks:
        stats += [e for e in pipe.feed(c.source, c.t_ns, c.data).events
                  if isinstance(e, NodeStats)]
    by_node = {e.node_id: e for e in stats}
    assert (by_node[1].latitude, by_node[1].longitude, by_node[1].height_m) == (45.1, 25.2, 9.0)
    assert (by_node[2].latitude, by_node[2].longitude, by_node[2].height_m) == (None, None, None)


def test_an_identified_fix_is_checked_against_the_remote_id_claim():
    positioner = Positioner(SiteMap(nodes_config()))
    drone = (150.0, -220.0)
    position = positioner.locate(track_at(drone, SQUARE_M), 10 * S)
    lat, lon = to_geodetic(*ORIGIN, *drone)
    honest = {"claimed_latitude": float(lat), "claimed_longitude": float(lon)}
    text = positioner.claim_check(position, honest)
    assert text.startswith("RF fix ") and text.endswith("(inside the fix's 95 % ellipse)")
    lat, lon = to_geodetic(*ORIGIN, 5000.0, 0.0)  # a claim 5 km east: outside
    assert "OUTSIDE" in positioner.claim_check(position, {"claimed_latitude": float(lat),
                                                          "claimed_longitude": float(lon)})
    assert positioner.claim_check(position, {}) == ""  # unidentified: nothing to compare
    ring = {**position, "position_kind": "ring"}
    assert positioner.claim_check(ring, honest) == ""
