"""Two-band fixes in the gateway (gateway/position.py, Positioner.partner): a drone's video and
control-link tracks joined into one fix when their powers say one place, reported on both alerts;
never two drones' links. Tracks made by hand from the path-loss model on the 1 km square, and
scenes through the gateway (fast path)."""
from __future__ import annotations

import numpy as np
import pytest

from straja.gateway import config
from straja.gateway.fusion import NodeSeen, Track
from straja.gateway.position import Positioner, SiteMap, covers, moved, position_text
from straja.rf import path_loss_db
from straja.sim.remoteid import to_geodetic, to_local

S = 1_000_000_000
ORIGIN = (45.0, 25.0)
SQUARE_M = {1: (-500, -500), 2: (500, -500), 3: (500, 500), 4: (-500, 500)}
VIDEO = ("analog_fm_video", 5790_000, 5810_000)
CONTROL = ("gfsk_fhss", 2400_000, 2480_000)


def site() -> SiteMap:
    tables = {}
    for node_id, (east, north) in SQUARE_M.items():
        lat, lon = to_geodetic(*ORIGIN, east, north)
        tables[str(node_id)] = {"latitude": float(lat), "longitude": float(lon), "height_m": 6.0}
    return SiteMap(config.from_dict({"nodes": tables}).nodes)


def link_track(track_id, link, drone_en, eirp_dbm, shadowing, first_s=5.0, t_s=10.0,
               height_m=60.0) -> Track:
    """A track of one link (VIDEO or CONTROL) whose nodes measured the model's power from
    drone_en plus `shadowing` (dB per node)."""
    family, lo_khz, hi_khz = link
    t_ns = int(t_s * S)
    track = Track(track_id, family, lo_khz, hi_khz, int(first_s * S), t_ns, hits=5)
    for k, (node_id, (east, north)) in enumerate(SQUARE_M.items()):
        d = np.hypot(np.hypot(drone_en[0] - east, drone_en[1] - north), height_m - 6.0)
        dbm = float(eirp_dbm - path_loss_db(d, (lo_khz + hi_khz) * 500.0, 2.2) + shadowing[k])
        seen = NodeSeen(int(first_s * S), t_ns, dbm)
        seen.history.extend([(t_ns - S, dbm), (t_ns, dbm)])
        track.nodes[node_id] = seen
    return track


def positioner_of(tracks: list) -> Positioner:
    return Positioner(site(), tracks=lambda: tracks)


def truth_offset(position: dict, drone_en) -> tuple[float, float]:
    east, north = to_local(*ORIGIN, position["latitude"], position["longitude"])
    return drone_en[0] - float(east), drone_en[1] - float(north)


def test_one_drones_video_and_control_make_one_fix_reported_on_both_alerts():
    rng = np.random.default_rng(5)
    drone = (120.0, -260.0)
    video = link_track("T1-1", VIDEO, drone, 25.0, 3.0 * rng.standard_normal(4))
    control = link_track("T1-2", CONTROL, drone, 20.0, 3.0 * rng.standard_normal(4), first_s=6.0)
    positioner = positioner_of([video, control])
    assert positioner.partner(video) is control and positioner.partner(control) is video
    of_video = positioner.locate(video, 10 * S)
    of_control = positioner.locate(control, 10 * S)
    assert of_video["position_with"] == "T1-2" and of_control["position_with"] == "T1-1"
    assert of_video["position_kind"] == of_control["position_kind"] == "fix"
    # one tracker for both: the second alert's fix is the first's (a second fix at the same
    # instant shares all its shadowing and moves nothing)
    assert truth_offset(of_control, drone) == pytest.approx(truth_offset(of_video, drone), abs=1.0)
    assert covers(of_video, truth_offset(of_video, drone))
    assert "two bands with track T1-2" in position_text(of_video)
    assert list(positioner.trackers) == ["T1-1+T1-2"]


def test_two_bands_hold_the_drone_in_their_ellipse_over_shadowing_draws():
    """The two-band fixes' regions are honest on the square (as the evaluation's two-band
    conditions): the truth inside in >= 85 % of 40 independent drones."""
    rng = np.random.default_rng(11)
    inside = joined = 0
    for k in range(40):
        drone = tuple(rng.uniform(-500, 500, 2))
        video = link_track(f"T{k}-1", VIDEO, drone, rng.uniform(0, 30), 4.0 * rng.standard_normal(4))
        control = link_track(f"T{k}-2", CONTROL, drone, rng.uniform(0, 30),
                             4.0 * rng.standard_normal(4))
        position = positioner_of([video, control]).locate(video, 10 * S)
        joined += position["position_with"] == control.track_id
        inside += covers(position, truth_offset(position, drone))
    assert joined >= 36 and inside >= 34, (joined, inside)  # the 99 % test keeps ~all pairs


@pytest.mark.parametrize("video_at, control_at", [
    ((-450.0, -450.0), (450.0, 450.0)),    # near opposite corners
    ((-450.0, 450.0), (450.0, -450.0)),
    ((-450.0, -450.0), (450.0, -450.0)),   # near two nodes of one side
])
def test_two_drones_links_are_not_joined(video_at, control_at):
    """Another drone's control link that appeared with this one's video: its powers do not fit
    one place with the video's (no shadowing, so what the test sees is the geometry). Powers
    alone tell only such places apart (near different nodes): docs/localisation.md measures how
    often one check joins two drones; the time gates and the refusal for good do the rest."""
    video = link_track("T1-1", VIDEO, video_at, 25.0, np.zeros(4))
    control = link_track("T1-2", CONTROL, control_at, 20.0, np.zeros(4))
    positioner = positioner_of([video, control])
    assert positioner.partner(video) is None and positioner.partner(control) is None
    assert positioner.locate(video, 10 * S)["position_with"] == ""


def test_a_pair_that_once_did_not_fit_is_never_joined():
    """Two drones far apart, then (the control link's drone having flown over) at one place:
    refused for good once their powers disagreed; a new track of that link may join."""
    video = link_track("T1-1", VIDEO, (-450.0, -450.0), 25.0, np.zeros(4))
    apart = link_track("T1-2", CONTROL, (450.0, 450.0), 20.0, np.zeros(4))
    tracks = [video, apart]
    positioner = positioner_of(tracks)
    assert positioner.partner(video) is None
    tracks[1] = link_track("T1-2", CONTROL, (-450.0, -450.0), 20.0, np.zeros(4))
    assert positioner.partner(video) is None  # now alike, but refused
    tracks[1] = link_track("T1-3", CONTROL, (-450.0, -450.0), 20.0, np.zeros(4))
    assert positioner.partner(video) is tracks[1]
    positioner.track_ended(video)
    assert not positioner.refused


def test_links_that_did_not_appear_together_or_are_not_heard_together_are_not_joined():
    drone = (100.0, 100.0)
    video = link_track("T1-1", VIDEO, drone, 25.0, np.zeros(4), first_s=5.0)
    late = link_track("T1-2", CONTROL, drone, 20.0, np.zeros(4), first_s=40.0, t_s=10.0)
    assert positioner_of([video, late]).partner(video) is None  # 35 s apart: not together
    gone = link_track("T1-3", CONTROL, drone, 20.0, np.zeros(4), first_s=5.0, t_s=-20.0)
    assert positioner_of([video, gone]).partner(video) is None  # not heard for 30 s
    twin = link_track("T1-4", VIDEO, drone, 20.0, np.zeros(4))
    assert positioner_of([video, twin]).partner(video) is None  # the same link: not a pair


def test_of_two_control_links_the_one_that_fits_is_joined_each_link_once():
    rng = np.random.default_rng(2)
    drone, other = (200.0, 150.0), (-250.0, -350.0)
    video = link_track("T1-1", VIDEO, drone, 25.0, 2.0 * rng.standard_normal(4))
    mine = link_track("T1-2", CONTROL, drone, 18.0, 2.0 * rng.standard_normal(4))
    theirs = link_track("T1-3", ("lora_fhss", 868_000, 869_000), other, 20.0,
                        2.0 * rng.standard_normal(4))
    positioner = positioner_of([video, theirs, mine])
    assert positioner.partner(video) is mine and positioner.partner(theirs) is None


def test_power_mismatch_needs_three_common_nodes_and_grows_with_the_places_distance():
    positioner = positioner_of([])
    video = positioner.powers(link_track("T1-1", VIDEO, (-400.0, -400.0), 25.0, np.zeros(4)))
    near = positioner.powers(link_track("T1-2", CONTROL, (-350.0, -350.0), 20.0, np.zeros(4)))
    far = positioner.powers(link_track("T1-3", CONTROL, (400.0, 400.0), 20.0, np.zeros(4)))
    assert positioner.power_mismatch(video, near) < 0.1 < 1 < positioner.power_mismatch(video, far)
    two = (video[0][:2], video[1][:2])
    assert positioner.power_mismatch(two, near) is None


def test_a_pair_starts_from_the_tracks_own_track_and_is_forgotten_with_either():
    rng = np.random.default_rng(4)
    drone = (-150.0, 250.0)
    video = link_track("T1-1", VIDEO, drone, 25.0, 3.0 * rng.standard_normal(4))
    tracks = [video]
    positioner = positioner_of(tracks)
    alone = positioner.locate(video, 10 * S)
    assert alone["position_with"] == "" and list(positioner.trackers) == ["T1-1"]
    control = link_track("T1-2", CONTROL, drone, 20.0, 3.0 * rng.standard_normal(4), t_s=12.0)
    video.last_ns = 12 * S
    tracks.append(control)
    joined = positioner.locate(video, 12 * S)
    assert joined["position_with"] == "T1-2" and moved(alone, joined)  # a change worth telling
    assert sorted(positioner.trackers) == ["T1-1", "T1-1+T1-2"]
    assert positioner.trackers["T1-1+T1-2"].t_s == 12.0
    positioner.track_ended(control)
    assert list(positioner.trackers) == ["T1-1"]


# -- scenes through the gateway (fast path: the firmware's sweeps, the real pipeline) ---------
def run_alerts(name: str, t_end_s: float | None = None):
    """(scene, alert events) of a scene's nodes through a gateway configured with its node
    positions, scanning video, 2.4 GHz and sub-GHz."""
    from straja.eval.readings import eval_plan_of
    from straja.eval.scenes import run_scene
    from straja.gateway.pipeline import Pipeline
    from straja.sim.scene import load_scene

    scene = load_scene(name)
    run = run_scene(scene, pipeline=Pipeline(config.from_dict({"nodes": scene.gateway_nodes()})),
                    t_end_s=t_end_s, plan=eval_plan_of(("vid58", "ism24", "subg")))
    return scene, run.alerts


def drone_of(alert) -> str:
    """two_drones_two_links: drone "a" is video on F4 (5800 MHz) and ELRS 2.4 GHz, "b" video
    on R1 (5658 MHz) and ELRS 868 MHz."""
    centre_mhz = (alert.lo_khz + alert.hi_khz) / 2000
    return "a" if centre_mhz > 5700 or 2000 < centre_mhz < 3000 else "b"


@pytest.mark.timeout(900)
def test_each_drones_links_are_joined_never_across_drones():
    """two_drones_two_links' first 12 s: two drones switched on together at 5 s, each heard on
    its video and its control link. Each drone's two tracks make its fixes; no fix joins one
    drone's link with the other's. (All four tracks are joined by 10 s; 12 s leaves a margin,
    and each scene-second costs seconds of CPU in the suite.)"""
    _, alerts = run_alerts("two_drones_two_links", t_end_s=12.0)
    drone_of_track = {a.track_id: drone_of(a) for a in alerts}
    joined = [a for a in alerts if a.position_with]
    assert all(drone_of_track.get(a.position_with) == drone_of(a) for a in joined)
    for drone in "ab":  # both of its alerts carry the two-band fix
        assert {a.track_id for a in joined if drone_of(a) == drone} == \
            {t for t, d in drone_of_track.items() if d == drone}, drone
