"""Known emitters (gateway/known.py): learned by a survey or an operator into real SQLite, no
alert while they stay as they are, an alert when they change."""
from __future__ import annotations

import json

import pytest

from straja import cli
from straja.gateway import config, events as ev, store
from straja.gateway.alerts import Alerts
from straja.gateway.detector import Observation
from straja.gateway.fusion import Fusion
from straja.gateway.known import KnownEmitter, KnownEmitters, added_event
from straja.gateway.pipeline import Pipeline
from straja.paths import SCENES
from straja.sim.scene import load_scene, scene_from_dict
from straja.eval.readings import eval_plan_of
from straja.eval.scenes import run_scene

S = 1_000_000_000
T0 = 1_700_000_000 * S
CAMERAS = SCENES / "analog_camera_fixed_background.toml"
VIDEO = eval_plan_of(("vid58",))  # the cameras' band: the others would only cost time


def kinds(events, cls):
    return [e for e in events if isinstance(e, cls)]


def survey(tmp_path, scene, seconds) -> store.Store:
    """`straja gateway --survey S`'s pipeline over `scene`, its events in a real store."""
    db = store.Store(tmp_path / "gateway.db")
    pipeline = Pipeline(config.GatewayConfig(), surveying=True)
    events = run_scene(scene, pipeline=pipeline, t_end_s=seconds, plan=VIDEO).events
    assert not kinds(events, ev.AlertEvent)  # a survey raises nothing
    db.write(events + pipeline.stop(pipeline.now_ns).events)
    return db


# (these two share the survey: the first to run makes it, within its own time limit)
@pytest.mark.timeout(900)
def test_surveyed_fixed_cameras_alert_no_more(surveyed_cameras):
    """The fixed analog cameras (a baby monitor on F4, a yard camera on A1) alert at once and
    forever without a survey; after a 60 s survey, 5 minutes raise nothing."""
    cameras = load_scene(CAMERAS)
    before = run_scene(cameras, pipeline=Pipeline(config.GatewayConfig()), t_end_s=120,
                       plan=VIDEO).events
    raised = kinds(before, ev.AlertRaised)
    assert raised and raised[0].t_ns < 5 * S
    # (the yard camera's track merges into the baby monitor's: that alert lasts)
    assert raised[0].alert_id not in {c.alert_id for c in kinds(before, ev.AlertCleared)
                                      if c.t_ns < 120 * S}

    after = run_scene(cameras, pipeline=Pipeline(config.GatewayConfig(), known=surveyed_cameras),
                      t_end_s=300, plan=VIDEO).events
    assert kinds(after, ev.TrackStarted) and not kinds(after, ev.AlertEvent)


@pytest.fixture(scope="module")
def surveyed_cameras(tmp_path_factory) -> tuple:
    """The cameras' known emitters after a 60 s survey, made once for the tests that read them
    (KnownEmitter is frozen, and each pipeline copies the list)."""
    db = survey(tmp_path_factory.mktemp("survey"), load_scene(CAMERAS), 60)
    known = db.known_emitters()
    assert known and all(k.source == "survey" for k in known)
    assert any(k.lo_khz <= 5_800_000 <= k.hi_khz for k in known)  # the baby monitor, F4
    assert "analog_fm_video" in {f for k in known for f in k.families}
    return tuple(known)


@pytest.mark.timeout(900)
def test_a_drone_on_a_surveyed_cameras_channel_alerts(surveyed_cameras):
    """A drone's video on the baby monitor's channel, hovering 100 m from node 3, is an alert
    once node 3's 6 s mean power has left the camera's range by POWER_DB."""
    with_drone = scene_from_dict({
        "scene": {"name": "camera_and_drone", "description": "a drone on the camera's channel",
                  "seed": 37, "duration_s": 120.0, "include": [CAMERAS.name]},
        "emitter": [{"name": "drone", "kind": "analog_video", "channel": "F4", "eirp_dbm": 25.0,
                     "position_m": [200.0, 250.0, 40.0], "on": [[40.0, 120.0]]}]}, base=SCENES)
    events = run_scene(with_drone, pipeline=Pipeline(config.GatewayConfig(),
                                                     known=surveyed_cameras),
                       t_end_s=120, plan=VIDEO).events
    raised = kinds(events, ev.AlertRaised)
    assert len(raised) == 1 and 40 * S < raised[0].t_ns < 55 * S
    assert raised[0].lo_khz <= 5_800_000 <= raised[0].hi_khz


def learned(observations):
    """A known emitter learned from a track made of (node, t_s, lo, hi, dbm, family)."""
    fusion = Fusion(config.FusionConfig())
    for node, t_s, lo, hi, dbm, family in observations:
        track, _ = fusion.observe(Observation(node, family, T0 + int(t_s * S), lo, hi, dbm))
    event = added_event(track, track.last_ns, "survey", "survey")
    nodes = {n.node_id: (n.lo_dbm, n.hi_dbm) for n in event.nodes}
    return KnownEmitter(1, event.families, event.lo_khz, event.hi_khz, nodes, "survey")


CAMERA = [(node, i * 0.4, 5_790_000, 5_810_000, dbm + (i % 3), "analog_fm_video")
          for i in range(60) for node, dbm in ((1, -70.0), (2, -80.0))]


@pytest.mark.parametrize("change, alerted", [
    ("same", False),
    ("other class", True),          # a hopper on the camera's channel
    ("moved", True),                # to the next channel, 20 MHz up
    ("much stronger", True),        # 12 dB over the camera's range at node 1 (-69..-68)
    ("much weaker", False),         # 12 dB under: the camera fading, nothing new (known.py)
    ("another node", True),         # seen by node 3, which never saw the camera
    ("a few dB", False),            # fading: 5 dB under its range
])
def test_a_known_emitter_alerts_only_when_it_changes(change, alerted):
    known = learned(CAMERA)
    # the range of its 6 s means, within that of its readings
    assert -70 <= known.dbm[1][0] <= known.dbm[1][1] <= -68
    assert -80 <= known.dbm[2][0] <= known.dbm[2][1] <= -78
    family, lo, nodes = "analog_fm_video", 5_790_000, {1: -69.0, 2: -79.0}
    if change == "other class":
        family = "ofdm_video"
    elif change == "moved":
        lo += 20_000
    elif change == "much stronger":
        nodes[1] = -56.0
    elif change == "much weaker":
        nodes[1] = -81.0
    elif change == "another node":
        nodes[3] = -75.0
    elif change == "a few dB":
        nodes[1] = -74.0
    cfg = config.GatewayConfig()
    fusion = Fusion(cfg.fusion)
    alerts = Alerts(cfg.alerts, cfg.fusion.trend_db, KnownEmitters([known], 6 * S))
    events = []
    for i in range(30):
        for node, dbm in nodes.items():
            obs = Observation(node, family, T0 + i * S // 2, lo, lo + 20_000, dbm)
            events += alerts.track_updated(fusion.observe(obs)[0], obs.t_ns)
    assert bool(kinds(events, ev.AlertRaised)) == alerted, change


def test_an_alert_marked_known_clears_and_alerts_again_when_forgotten(tmp_path, capsys):
    """`straja known add ALERT` learns a stored alert's emitter; the running pipeline, told of
    the store's change, clears that alert after downgrade_s and raises none while it lasts;
    `straja known forget ID` and it alerts again. `list --json` shows them."""
    path = tmp_path / "gateway.db"
    db = store.Store(path)
    cfg = config.GatewayConfig()
    pipeline = Pipeline(cfg)
    fusion_events = []

    def observe(t_s, dbm=-70.0):
        out = []
        for node in (1, 2):
            obs = Observation(node, "analog_fm_video", T0 + int(t_s * S), 5_790_000, 5_810_000,
                              dbm - 10 * (node - 1))
            track, _ = pipeline.fusion.observe(obs)
            out += pipeline.alerts.track_updated(track, obs.t_ns)
        fusion_events.extend(out)
        db.write(out)
        return out

    t = 0.0
    while t < 10:
        observe(t)
        t += 0.4
    [raised] = kinds(fusion_events, ev.AlertRaised)
    assert cli.main(["known", "add", raised.alert_id, "--db", str(path), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["source"] == f"alert {raised.alert_id}" and listed["families"] == ["analog_fm_video"]
    assert db.changed_elsewhere()  # what the running gateway checks
    pipeline.set_known(db.known_emitters())
    while t < 30:
        observe(t)
        t += 0.4
    cleared = kinds(fusion_events, ev.AlertCleared)
    assert [c.alert_id for c in cleared] == [raised.alert_id]
    assert cleared[0].t_ns - T0 <= (10 + cfg.alerts.downgrade_s + 1) * S
    assert len(kinds(fusion_events, ev.AlertRaised)) == 1

    assert cli.main(["known", "forget", str(listed["known_id"]), "--db", str(path)]) == 0
    assert "no known emitters" in capsys.readouterr().out
    pipeline.set_known(db.known_emitters())
    again = observe(t)
    assert [type(e) for e in again] == [ev.AlertRaised] and again[0].alert_id != raised.alert_id
    kinds_stored = [e["kind"] for e in store.query_events(db.db, kinds=("known_added",
                                                                         "known_removed"))]
    assert kinds_stored == ["known_added", "known_removed"]


def test_known_commands_refuse_what_is_not_there(tmp_path, capsys):
    path = tmp_path / "gateway.db"
    store.Store(path).close()
    assert cli.main(["known", "forget", "7", "--db", str(path)]) == 2
    assert "no known emitter 7" in capsys.readouterr().err
    assert cli.main(["known", "add", "A123-1", "--db", str(path)]) == 2
    assert "no alert A123-1" in capsys.readouterr().err


def test_gateway_survey_runs_for_its_seconds_and_lists_what_it_learned(tmp_path, capsys):
    """`straja gateway --survey S` with no node (its port's glob matches none): S seconds,
    nothing learned, said so."""
    path = tmp_path / "gateway.db"
    assert cli.main(["gateway", "--survey", "0.5", "--no-discover", "--port",
                     str(tmp_path / "node*"), "--db", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert store.Store(path).known_emitters() == []


def test_a_running_gateway_follows_the_known_emitters_another_writer_changes(tmp_path):
    from straja.gateway.ingest import Gateway

    path = tmp_path / "gateway.db"
    cfg = config.GatewayConfig(db=str(path))
    gateway = Gateway(cfg, Pipeline(cfg), store=store.Store(path))
    gateway.sync_known()
    assert gateway.pipeline.known.emitters == []
    other = store.Store(path)  # `straja known`, the dashboard
    [added] = other.write([ev.KnownAdded(T0, ("analog_fm_video",), 5_790_000, 5_810_000,
                                         (ev.KnownNode(1, -70.0, -68.0),), "survey", "survey")])
    gateway.sync_known()
    assert [(k.known_id, k.dbm) for k in gateway.pipeline.known.emitters] == [
        (added.id, {1: (-70.0, -68.0)})]
    other.write([ev.KnownRemoved(T0 + S, added.id, "olga")])
    gateway.sync_known()
    assert gateway.pipeline.known.emitters == []
