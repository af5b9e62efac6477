"""The dashboard's live state (web/hub.py) from the gateway's events: Remote ID drones on the map,
and a drone inside a protected area as an alert of its own."""
from __future__ import annotations

from straja.gateway import config
from straja.gateway import events as ev
from straja.gateway.position import SiteMap
from straja.web.hub import Hub

T = 1_700_000_000_000_000_000
S = 1_000_000_000
NODES = {"nodes": {"1": {"latitude": 45.0, "longitude": 25.0, "height_m": 5.0},
                   "2": {"latitude": 45.0, "longitude": 25.01, "height_m": 5.0}}}


def rid(cls, t_ns, **extra):
    return ev.to_json(cls(t_ns, uas_id="1596F3ABC", address="aa:bb:cc:dd:ee:ff", latitude=45.001,
                          longitude=25.002, altitude_geo=120.0, speed=8.0,
                          operator_latitude=45.0, operator_longitude=25.003, operator_id="OP1",
                          first_ns=T, last_seen_ns=t_ns, receivers={"2": -71.0, "1": -80.0},
                          plausible=True, reasons=(), **extra))


def hub() -> Hub:
    cfg = config.from_dict(NODES)
    return Hub(cfg.web, site=SiteMap(cfg.nodes))


def test_a_remote_id_drone_is_on_the_map_in_grid_metres_until_it_is_lost():
    h = hub()
    message = h._apply(rid(ev.RidSeen, T))
    drone = message["drone"]
    assert message["type"] == "drone" and drone["active"]
    x1, y1 = h.snapshot()["positions"]["1"]  # node 1, at 45 N 25 E
    east, north = drone["position_m"]
    assert abs(east - x1 - 157.7) < 1 and abs(north - y1 - 111.1) < 1  # 0.002 deg E, 0.001 N
    ox, oy = drone["operator_m"]
    assert abs(ox - x1 - 236.5) < 1 and abs(oy - y1) < 1
    assert [d["uas_id"] for d in h.snapshot()["drones"]] == ["1596F3ABC"]
    assert h._apply(rid(ev.RidLost, T + 30 * S))["drone"]["active"] is False
    assert h.snapshot()["drones"] == []


def test_a_drone_inside_a_protected_area_is_an_alert_until_it_is_lost():
    h = hub()
    h._apply(rid(ev.RidSeen, T))
    alert = h._apply(rid(ev.RidAreaEntered, T + S, area="prison"))["alert"]
    assert alert["active"] and alert["severity"] == "high" and alert["family"] == "remote_id"
    assert "1596F3ABC" in alert["text"] and "prison" in alert["text"]
    assert [n["node_id"] for n in alert["nodes"]] == [1, 2]
    assert alert["claimed_m"] is not None and alert["operator_m"] is not None
    assert h.ack_event(alert["alert_id"], "duty", T + 2 * S) is not None  # acknowledged like any
    h._apply(rid(ev.RidLost, T + 30 * S))
    assert [a["active"] for a in h.snapshot()["alerts"]] == [False]


def test_a_reopened_alert_is_the_same_dashboard_alert_active_again():
    """An alert cleared when its track ended and reopened on a new track (gateway/alerts.py):
    one alert on the dashboard, its raise time kept, active again, its acknowledgement kept."""
    def alert(cls, t_s, track_id, **extra):
        nodes = (ev.TrackNode(1, -70.0, T, T + int(t_s * S)),)
        return ev.to_json(cls(T + int(t_s * S), track_id, "analog_fm_video", 5_790_000,
                              5_810_000, T, T + int(t_s * S), 3, nodes, "A1-1", "warning",
                              "steady", T, "analog FPV video", "...", **extra))

    h = hub()
    h._apply(alert(ev.AlertRaised, 0, "T1-1"))
    h._apply(ev.to_json(ev.AlertAcknowledged(T + S, "A1-1", "duty", False)))
    h._apply(alert(ev.AlertCleared, 20, "T1-1"))
    assert [a["active"] for a in h.snapshot()["alerts"]] == [False]
    reopened = h._apply(alert(ev.AlertUpdated, 60, "T2-2", reopened=True))["alert"]
    assert [a["alert_id"] for a in h.snapshot()["alerts"]] == ["A1-1"]
    assert reopened["active"] and reopened["reopened"] and reopened["track_id"] == "T2-2"
    assert reopened["raised_ns"] == T and reopened["acknowledged"]["by"] == "duty"
