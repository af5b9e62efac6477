"""An alert asks whether its position moved (gateway/alerts.py, `moved`) only of a position
solved since the one last told: one told as it is has not moved, whatever the observations
between two solves (most of them)."""
from straja.gateway import config
from straja.gateway.alerts import Alerts
from straja.gateway.detector import Observation
from straja.gateway.events import AlertRaised
from straja.gateway.fusion import Fusion

S = 1_000_000_000
T0 = 1_700_000_000 * S


def test_a_position_told_as_it_is_is_not_asked_whether_it_moved():
    cfg = config.GatewayConfig()
    fusion, solved, asked = Fusion(cfg.fusion), [], []

    def locate(track, t_ns):
        solved.append(t_ns)
        return {"position_kind": ""}

    def moved(old, new):
        asked.append((old, new))
        return False

    alerts = Alerts(cfg.alerts, cfg.fusion.trend_db, locate=locate, moved=moved)
    events = []
    for i in range(40):
        obs = Observation(1, "analog_fm_video", T0 + i * S // 2, 5_790_000, 5_810_000, -70.0)
        events += alerts.track_updated(fusion.observe(obs)[0], obs.t_ns)
    assert [type(e) for e in events][:1] == [AlertRaised]
    raised_at = next(i for i in range(40) if T0 + i * S // 2 == solved[0])
    assert len(solved) > 2  # solved again every update_min_s
    assert asked and all(old is not new for old, new in asked)
    assert len(asked) < 40 - raised_at - 1  # not at every observation
