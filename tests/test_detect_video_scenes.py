"""5.8 GHz video through the evaluation's fast path and the gateway (issue 15), on catalogue
scenes cut short: the video scanner's plan only (the other bands would only cost time)."""
from __future__ import annotations

import pytest

from straja.eval.readings import eval_plan_of
from straja.eval.scenes import run_scene
from straja.gateway.events import AlertRaised
from straja.paths import SCENES
from straja.sim.scene import load_scene

VIDEO = eval_plan_of(("vid58",))
S = 1_000_000_000


def raised(name: str, t_end_s: float) -> list[AlertRaised]:
    run = run_scene(load_scene(SCENES / f"{name}.toml"), t_end_s=t_end_s, plan=VIDEO)
    return [a for a in run.alerts if isinstance(a, AlertRaised)]


@pytest.mark.parametrize("name, on_s, mhz", [
    # R4 (5769 MHz) beside an access point on Wi-Fi channel 149 (5745 MHz): missed before the
    # steadiness split, its bursts joined the access point's track (named Wi-Fi)
    ("analog_video_on_urban_24ghz", 5.0, 5769.0),
    ("analog_video_alone", 5.0, 5769.0),
])
def test_analog_video_beside_wifi_alerts_within_2_s_as_analog(name, on_s, mhz):
    alerts = raised(name, on_s + 4.0)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.family == "analog_fm_video"
    assert on_s * S < alert.t_ns <= (on_s + 2.0) * S
    assert alert.lo_khz <= mhz * 1000 <= alert.hi_khz


def test_busy_5ghz_wifi_raises_nothing_after_boot():
    """Access points on channels 149-165 at 20/40/80 MHz (load up to 0.9): none named video in
    the first 30 s (before issue 15's work: OFDM video about 5 s after boot)."""
    assert raised("wifi_5ghz_149_165_background", 30.0) == []


def test_weak_video_far_away_is_named_within_2_s():
    """fpv_approach_3km's video, 3 km out and a few dB over the noise on a quiet channel, on
    from switch-on: 4 steady readings will do (a weak track needs 8 only where its channel was
    busy before or it was cut from a wider run)."""
    alerts = raised("fpv_approach_3km", 4.0)
    assert [a.family for a in alerts] == ["analog_fm_video"]
    assert alerts[0].t_ns <= 2.0 * S
