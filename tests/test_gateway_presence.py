"""One alert per drone presence, end to end: every node of a scene scanned by the fast path
(straja.testing.fastfleet: the firmware's drivers on the virtual board's chip models, in virtual
time), answering the gateway's commands, so adaptive scanning runs as it does by default."""
from __future__ import annotations

from straja.gateway import config, events as ev
from straja.gateway.pipeline import Pipeline
from straja.paths import SCENES
from straja.sim.scene import scene_from_dict
from straja.testing import fastfleet

S = 1e9
# pauses of 2 s up to just under the track timeout (8 s), between ~40 s on the air
PAUSES_S = (2.0, 4.0, 6.0, 7.0, 7.5, 7.9)


def hovering_video_with_pauses(minutes: float) -> tuple:
    on, t, i = [], 5.0, 0
    while t < minutes * 60:
        on.append([t, min(t + 40.0, minutes * 60)])
        t = on[-1][1] + PAUSES_S[i % len(PAUSES_S)]
        i += 1
    scene = scene_from_dict({
        "scene": {"name": "presence", "description": "analog video hovering, with pauses",
                  "seed": 5, "duration_s": minutes * 60, "include": ["quiet_rural.toml"]},
        "emitter": [{"name": "hover", "kind": "analog_video", "channel": "R4",
                     "eirp_dbm": 20.0, "position_m": [200.0, 150.0, 50.0], "on": on}],
    }, base=SCENES)
    return scene, on


def test_ten_minutes_with_pauses_up_to_the_track_timeout_is_one_alert_with_adaptive_scanning():
    """A drone's video on for 10 minutes, off for 2-7.9 s every 40 s, three nodes, the gateway's
    defaults (adaptive scanning on): the neighbours are focused on its band and join the track;
    one alert raised, updated, cleared once after the drone's last transmission."""
    scene, on = hovering_video_with_pauses(10)
    cfg = config.GatewayConfig()
    assert cfg.alerts.adaptive_scan  # the default
    events = fastfleet.run(scene, Pipeline(cfg), on[-1][1] + 1.0, front_ends=("vid58",))
    raised = [e for e in events if isinstance(e, ev.AlertRaised)]
    cleared = [e for e in events if isinstance(e, ev.AlertCleared)]
    assert len(raised) == 1 and [c.alert_id for c in cleared] == [raised[0].alert_id]
    assert cleared[0].t_ns > on[-1][1] * S  # not before the drone stopped
    focus = [e for e in events if isinstance(e, ev.ScanFocus)]
    assert focus and {e.alert_id for e in focus} == {raised[0].alert_id}
    assert {n.node_id for n in cleared[0].nodes} == {1, 2, 3}  # the focused neighbours saw it too
    assert len([e for e in events if isinstance(e, ev.AlertUpdated)]) < 600  # not per sweep
