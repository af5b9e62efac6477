"""`straja eval --scene` credits an alert to a drone only where the drone's transmissions explain
the hits the alert was made of (straja.eval.scenes.Evidence): hand-built hits against a scene's
truth, and the hits a run records."""
from types import SimpleNamespace

import numpy as np
import pytest

from straja.eval.scenes import (EXPLAINED_SHARE, HEARD_MARGIN_DB, READ_TIME_S, Evidence, Hearing,
                                RecordingDetector, SceneRun, alert_emitters, evidence_window,
                                matches, run_scene, score_scene)
from straja.detect.site_rate import BandReport
from straja.frontends import FRONT_ENDS
from straja.gateway import config
from straja.gateway.pipeline import Pipeline
from straja.gateway.events import TrackNode
from straja.paths import SCENES
from straja.sim import load_scene
from straja.sim.propagation import thermal_noise_dbm

# quiet_rural's nodes (n1 at the origin, n2 400 m east); a FrSky pilot 300 m from n1, an access
# point on channel 1 beside n1 (its band over the FrSky's lower channels), an R4 video 600 m off
SITE = f"""
[scene]
name = "drone_beside_residents"
seed = 12
duration_s = 30.0
include = ["{SCENES / 'quiet_rural.toml'}"]

[[emitter]]
name = "frsky"
kind = "frsky"
eirp_dbm = 20.0
position_m = [300.0, 0.0, 1.5]

[[emitter]]
name = "office_ap"
kind = "wifi"
channel = 1
traffic_load = 0.5
position_m = [30.0, 20.0, 3.0]

[[emitter]]
name = "fpv"
kind = "analog_video"
channel = "R4"
position_m = [600.0, 0.0, 60.0]
"""
NODE_IDS = {"n1": 1, "n2": 2, "n3": 3}
STEP_KHZ = 406   # the 2.4 GHz plan's scan step: half of it widens a hit's extent either side


def _site(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(SITE)
    return load_scene(path)


def _run(hits: list) -> SceneRun:
    """A run whose one track T1 was made of `hits`: (node id, t s, lo kHz, hi kHz, dBm)."""
    evidence = Evidence()
    evidence.hits["T1"] = {(n, t, t, lo, hi, dbm): t for n, t, lo, hi, dbm in hits}
    steps = {n: [(2_400_000, 2_483_000, STEP_KHZ), (5_645_000, 5_945_000, 20_000)]
             for n in NODE_IDS}
    return SceneRun([], [], NODE_IDS, {}, steps, evidence)


def _alert(family: str, lo_khz: int, hi_khz: int, hits: list) -> SimpleNamespace:
    """The alert event of track T1 over its hits' times, at their nodes."""
    times = [h[1] for h in hits]
    nodes = tuple(TrackNode(n, -80.0, 0, 0) for n in sorted({h[0] for h in hits}))
    return SimpleNamespace(track_id="T1", family=family, lo_khz=lo_khz, hi_khz=hi_khz,
                           first_ns=round(min(times) * 1e9), last_ns=round(max(times) * 1e9),
                           t_ns=round(max(times) * 1e9), nodes=nodes)


def _packets(em, t0: float, t1: float, n: int) -> list:
    """(mid time s, centre kHz) of n of emitter em's transmissions in [t0, t1]."""
    pk = em.window(0, t0, t1)
    return [(float(a + b) / 2, float(f) / 1e3) for a, b, f in zip(pk.t0, pk.t1, pk.f)][:n]


def _silent_channels(em, t0: float, t1: float, n: int) -> list:
    """(time s, centre kHz) at n times in [t0, t1] on one of emitter em's channels where it sends
    nothing within a reading's time of then, nor on the channels beside it."""
    pk = em.window(0, t0 - 1.0, t1 + 1.0)
    channels = np.unique(pk.f)
    out = []
    for t in np.linspace(t0, t1, n):
        near = (pk.t1 > t - READ_TIME_S - 0.01) & (pk.t0 < t + READ_TIME_S + 0.01)
        busy = pk.f[near]
        free = [f for f in channels if np.all(np.abs(busy - f) > 2e6)]
        out.append((float(t), float(free[0]) / 1e3))
    return out


def _credited(scene, run, alert) -> set:
    return {scene.emitters[i].name for i in alert_emitters(scene, run, Hearing(scene), alert)}


def test_a_sites_alert_while_a_drone_is_on_and_heard_is_not_the_drones(tmp_path):
    """det62's case: an alert over the drone's band at a node that hears it, its hits at times
    and channels where the drone sent nothing (the residents'): false, not the drone's."""
    scene = _site(tmp_path)
    frsky = scene.emitter("frsky")
    hits = [(1, t, f - 100, f + 100, -85.0) for t, f in _silent_channels(frsky, 10.0, 12.0, 30)]
    alert = _alert("gfsk_fhss", 2_400_000, 2_480_000, hits)
    # what the scorer went by before: the drone on in the band then, and heard at the node
    assert matches(frsky, alert.lo_khz, alert.hi_khz, *evidence_window(alert), "gfsk_fhss")
    assert Hearing(scene).snr_db(scene.emitters.index(frsky), 0, 1e6, "n1",
                                 *evidence_window(alert)) > -HEARD_MARGIN_DB + 20
    assert "frsky" not in _credited(scene, _run(hits), alert)


def test_an_alert_made_of_the_drones_packets_is_the_drones(tmp_path):
    scene = _site(tmp_path)
    frsky = scene.emitter("frsky")
    hits = [(1, t, f - 100, f + 100, -70.0) for t, f in _packets(frsky, 10.0, 12.0, 30)]
    assert "frsky" in _credited(scene, _run(hits), _alert("gfsk_fhss", 2_400_000, 2_480_000, hits))


def test_a_per_packet_hoppers_alert_on_one_hit_is_credited_by_that_hit(tmp_path):
    scene = _site(tmp_path)
    frsky = scene.emitter("frsky")
    (t, f), = _packets(frsky, 10.0, 10.1, 1)
    packet = [(2, t, f - 100, f + 100, -80.0)]
    assert "frsky" in _credited(scene, _run(packet), _alert("gfsk_fhss", 2_400_000, 2_480_000,
                                                             packet))
    (t, f), = _silent_channels(frsky, 10.0, 10.0, 1)
    elsewhere = [(2, t, f - 100, f + 100, -80.0)]
    assert "frsky" not in _credited(scene, _run(elsewhere),
                                    _alert("gfsk_fhss", 2_400_000, 2_480_000, elsewhere))


def test_a_drone_heard_by_several_nodes_keeps_its_alert_where_one_nodes_hits_are_clutter(
        tmp_path):
    """n1's hits (most of the track's) are the residents', n2's the drone's: the drone's."""
    scene = _site(tmp_path)
    frsky = scene.emitter("frsky")
    clutter = [(1, t, f - 100, f + 100, -75.0) for t, f in _silent_channels(frsky, 10.0, 12.0, 40)]
    drone = [(2, t, f - 100, f + 100, -80.0) for t, f in _packets(frsky, 10.0, 12.0, 10)]
    hits = clutter + drone
    assert "frsky" in _credited(scene, _run(hits), _alert("gfsk_fhss", 2_400_000, 2_480_000, hits))
    # and a node whose drone hits are under EXPLAINED_SHARE of its own does not make it
    mixed = [(2, t, lo, hi, p) for _, t, lo, hi, p in clutter[:len(drone) + 1]] + drone
    assert len(drone) / len(mixed) < EXPLAINED_SHARE
    assert "frsky" not in _credited(scene, _run(mixed), _alert("gfsk_fhss", 2_400_000, 2_480_000,
                                                               mixed))


def test_a_reading_far_stronger_than_the_video_arrives_with_is_not_the_videos(tmp_path):
    """Video under an access point: a continuous video is on every channel it covers at every
    time, so only the level tells its readings from a stronger emitter's over it."""
    scene = _site(tmp_path)
    fpv = scene.emitters.index(scene.emitter("fpv"))   # R4, 5769 MHz
    hearing = Hearing(scene)
    snr = hearing.snr_at(fpv, 0, 20e6, "n1", 10.0)
    floor = thermal_noise_dbm(FRONT_ENDS["rx5808"].filter_khz * 1e3, 12.0)  # quiet_rural's NF
    video_dbm = floor + 10 * np.log10(1 + 10 ** (snr / 10))
    assert snr > 0

    def hits(dbm):
        return [(1, t, 5_760_000, 5_780_000, dbm) for t in np.linspace(10.0, 12.0, 20)]
    own, stronger = hits(video_dbm + 3.0), hits(video_dbm + 25.0)
    assert "fpv" in _credited(scene, _run(own), _alert("analog_fm_video", 5_760_000, 5_780_000,
                                                       own))
    assert "fpv" not in _credited(scene, _run(stronger),
                                  _alert("analog_fm_video", 5_760_000, 5_780_000, stronger))


def test_a_scene_run_records_the_hits_each_alerts_track_was_made_of():
    scene = load_scene(SCENES / "frsky_alone.toml")   # on from 5 s
    run = run_scene(scene, t_end_s=14.0)
    raised = [a for a in run.alerts if a.kind == "alert_raised"]
    assert raised
    for a in raised:  # its hits then, in its band; the track's at the nodes that saw it
        node, t0, t1, lo, hi, _, known = run.evidence._columns(a.track_id)
        w0, w1 = evidence_window(a)
        then = (t1 >= w0) & (t0 <= w1) & (known <= a.t_ns / 1e9)
        assert then.any() and set(node) <= {n.node_id for n in run.alerts[-1].nodes}
        assert (hi[then] >= a.lo_khz - STEP_KHZ).all() and (lo[then] <= a.hi_khz + STEP_KHZ).all()
    row = score_scene(scene, run, "frsky")[0][0]
    assert row["alerted"] and row["family_ok"]


def test_a_hopper_reported_beside_a_window_pile_is_made_of_its_own_hits():
    """A FrSky at +30 dB on from switch-on beside an access point on channel 1 (hop80): its
    band hopper, reported beside the window's pile of the access point's frames, is made of
    its own hits (report_hits), not the pile's: its alert's updates named GFSK are credited to
    it and the family scored is GFSK; taken with the pile's hits, under half of them were the
    FrSky's, the updates credited to a BLE tag and the alert scored LoRa, its first leaning
    name (docs/measured/hop102.md)."""
    scene = load_scene(SCENES / "variants" / "hop80_frsky_p30_start_ap1.toml")
    run = run_scene(scene, t_end_s=8.0)
    rows = {r["name"]: r for r in score_scene(scene, run, "hop80")[0]}
    assert rows["frsky"]["alerted"] and rows["frsky"]["family"] == "gfsk_fhss"


def test_a_neighbours_burst_reaching_into_a_videos_extent_is_not_its_hit():
    """20 MHz OFDM at 5865 MHz and R8 at 5917 MHz: each node reads 5845-5885 and 5875-5935, two
    bursts sharing a bin, one track each. The OFDM's burst is not a hit of the R8's track
    (it made half its hits: a drone's own alert at the edge of the share)."""
    scene = load_scene(SCENES / "variants" / "ofdm_5865_and_analog_r8_together.toml")
    run = run_scene(scene, t_end_s=12.0)
    r8 = [a for a in run.alerts if 5_905_000 <= (a.lo_khz + a.hi_khz) / 2 <= 5_930_000]
    assert r8
    _, _, _, lo, hi, _, _ = run.evidence._columns(r8[0].track_id)
    assert len(lo) and ((lo + hi) / 2 > 5_890_000).all()
    assert "fpv_r8" in {scene.emitters[i].name for i in alert_emitters(scene, run, Hearing(scene),
                                                                       r8[0])}


def _raised_then_joined(scene, raise_s: float) -> SceneRun:
    """A run whose one alert A1 (track T1) was raised at raise_s on the residents' hits and
    updated on the FrSky's packets from 18 s (its first event matched to the FrSky)."""
    site = [(1, t, 2_411_000, 2_413_000, -75.0) for t in np.linspace(raise_s - 1.0, raise_s, 10)]
    drone = [(1, t, f - 100, f + 100, -70.0)
             for t, f in _packets(scene.emitter("frsky"), 18.0, 20.0, 30)]
    raised, updated = (SimpleNamespace(alert_id="A1", **vars(_alert("gfsk_fhss", 2_400_000,
                                                                     2_480_000, hits)))
                       for hits in (site, site + drone))
    run = _run(site + drone)
    return run._replace(alerts=[raised, updated])


def test_a_sites_alert_raised_before_the_drone_was_on_is_not_the_drones(tmp_path):
    """sub75's busy sub-GHz sites: one track gathers the residents, its alert is raised on them,
    and a drone switched on later joins it; the operator was told nothing new. Not the drone's
    alert, and a false one; the same alert raised after its switch-on is the drone's."""
    path = tmp_path / "late.toml"
    path.write_text(SITE.replace("position_m = [300.0, 0.0, 1.5]",
                                 "position_m = [300.0, 0.0, 1.5]\non = [[15.0, 30.0]]"))
    scene = load_scene(path)
    rows, false_rate, rate = score_scene(scene, _raised_then_joined(scene, 13.0), "late")
    frsky = next(r for r in rows if r["name"] == "frsky")
    assert not frsky["alerted"] and false_rate == rate > 0
    run = _raised_then_joined(scene, 16.0)
    rows, false_rate, _ = score_scene(scene, run, "late")
    frsky = next(r for r in rows if r["name"] == "frsky")
    assert frsky["alerted"] and false_rate == 0.0
    assert frsky["time_to_alert_s"] == round(run.alerts[1].t_ns / 1e9 - 15.0, 3)


def test_the_hits_are_recorded_by_the_detectors_an_attached_pipeline_makes():
    """Evidence.attach has the pipeline make its node detectors RecordingDetectors (a slotted
    NodeDetector takes no methods of its own to wrap), their hits in the evidence's; a pipeline
    that made some before is refused, not half recorded."""
    pipe, evidence = Pipeline(config.GatewayConfig()), Evidence()
    evidence.attach(pipe)
    detector = pipe._detector(1, SimpleNamespace(info=None))
    assert isinstance(detector, RecordingDetector) and detector.made is evidence._made
    late = Pipeline(config.GatewayConfig())
    late.detectors[1] = late._detector(1, SimpleNamespace(info=None))
    with pytest.raises(ValueError):
        Evidence().attach(late)


def test_a_band_reports_hits_are_its_events_bursts_start_to_end():
    """A band report's event is a burst whose stated start is up to a sweep from the packet read
    in it (sub98: the late R9 915's events 9-17 ms from its packets' centres): recorded as a
    point at its start, a 7.84 ms packet was missed; each hit spans its burst, as a core track's."""
    pipe, evidence = Pipeline(config.GatewayConfig()), Evidence()
    evidence.attach(pipe)
    detector = pipe._detector(1, SimpleNamespace(info=None))
    start_us, end_us, khz = 80_000_000, 80_021_600, 919_000.0
    report = BandReport("gfsk_fhss", 80_250_000, start_us, 70_000_000, khz - 500, khz + 500,
                        1e-10, 0.2, 1000.0, np.array([[start_us, khz, 1e-10, end_us]], float))
    obs = detector._band_report(report, 0)
    (node, t0, t1, lo, hi, _), = evidence._made[id(obs)]
    assert (node, t0, t1, lo, hi) == (1, start_us / 1e6, end_us / 1e6, khz - 500, khz + 500)
