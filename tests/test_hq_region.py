"""Region tracks and the command post's processing of messages, without a broker (docs/hq.md)."""
from __future__ import annotations

import json

from hq_backends import hq_db, postgres_server  # noqa: F401 (fixtures)
from straja.hq import store as hq_store
from straja.hq.region import RegionFusion
from straja.locate.geo import ground_distance_m as distance_m
from straja.hq.service import Hq, region_wide

T = 1_700_000_000_000_000_000
S = 1_000_000_000


def alert(site, alert_id, kind="alert_raised", first_s=0.0, last_s=5.0, lo=5_790_000,
          hi=5_810_000, family="analog_fm_video", severity="warning", **extra):
    event = {"kind": kind, "id": 1, "t_ns": T + int(last_s * S), "alert_id": alert_id,
             "track_id": "T1", "family": family, "lo_khz": lo, "hi_khz": hi,
             "first_ns": T + int(first_s * S), "last_ns": T + int(last_s * S), "hits": 3,
             "nodes": [{"node_id": 1, "dbm": -70.0, "first_ns": T, "last_ns": T}],
             "severity": severity, "trend": "steady", "since_ns": T + int(first_s * S),
             "label": "", "text": "", **extra}
    return region_wide(site, "gw", event)


def test_a_drone_crossing_from_a_to_b_is_one_track_even_across_a_short_gap():
    fusion = RegionFusion(handover_s=10)
    a, _ = fusion.alert("A:gw:A1", alert("A", "A1", first_s=0, last_s=20))
    fusion.alert("A:gw:A1", alert("A", "A1", kind="alert_cleared", first_s=0, last_s=20))
    assert not a.active
    b, merged = fusion.alert("B:gw:B1", alert("B", "B1", first_s=26, last_s=40,
                                                family="ofdm_video"))
    assert b is a and a.active and a.sites == ["A", "B"] and a.family == "ofdm_video"
    assert len(fusion.tracks) == 1 and [m.sites for m in merged] == [["B"]]


def test_tracks_found_apart_merge_when_updates_show_they_are_one():
    """B's alert arrives while the command post knows A's only as raised 19 s earlier (the
    gateway sends updates on change): two tracks, until A's clearing gives its last time."""
    fusion = RegionFusion(handover_s=10)
    a, _ = fusion.alert("A:gw:A1", alert("A", "A1", first_s=0, last_s=0))
    b, _ = fusion.alert("B:gw:B1", alert("B", "B1", first_s=19, last_s=19))
    assert b is not a and len(fusion.tracks) == 2
    track, merged = fusion.alert("A:gw:A1", alert("A", "A1", kind="alert_cleared", first_s=0,
                                                  last_s=14))
    assert track is a and merged == [b] and list(fusion.tracks) == [a.region_id]
    assert a.sites == ["A", "B"] and a.active and fusion.by_alert["B:gw:B1"] is a


def test_what_is_not_the_same_drone_is_another_track():
    fusion = RegionFusion(handover_s=10, neighbours={"A": {"B"}, "C": set()},
                          site_positions={"A": (45.0, 25.0), "B": (45.05, 25.0),
                                          "D": (46.0, 25.0)})
    first, _ = fusion.alert("A:gw:1", alert("A", "1"))
    others = [fusion.alert("B:gw:2", alert("B", "2", lo=5_700_000, hi=5_720_000)),  # band
              fusion.alert("B:gw:3", alert("B", "3", family="lora_fhss")),           # link
              fusion.alert("B:gw:4", alert("B", "4", first_s=16, last_s=30)),         # too late
              fusion.alert("C:gw:5", alert("C", "5")),                                # not next
              fusion.alert("D:gw:6", alert("D", "6"))]                                # far
    assert all(t is not first and not merged for t, merged in others)
    assert len(fusion.tracks) == 6
    same, _ = fusion.alert("B:gw:7", alert("B", "7", first_s=2, last_s=9))  # 5.6 km from A
    assert same is first and distance_m((45.0, 25.0), (45.05, 25.0)) < 6000


def test_an_alerts_own_position_beats_its_sites():
    fusion = RegionFusion(max_distance_m=1000, site_positions={"A": (45.0, 25.0), "B": (45.0, 25.0)})
    first, _ = fusion.alert("A:gw:1", alert("A", "1", latitude=45.0, longitude=25.0))
    far, _ = fusion.alert("B:gw:2", alert("B", "2", latitude=45.1, longitude=25.0))
    assert far is not first


def test_messages_are_stored_once_with_region_wide_ids_and_bad_ones_skipped(hq_db):
    hq = Hq(hq_db)
    raised = {k: v for k, v in alert("A", "A9").items() if k not in ("site", "gateway")}
    raised.update(alert_id="A9", nodes=[{"node_id": 2, "dbm": -70.0, "first_ns": T, "last_ns": T}])
    online = {"kind": "node_online", "id": 2, "t_ns": T, "node_id": 2, "port": "/dev/ttyACM0"}
    hq.handle("straja/v1/A/gw/events/alert_raised", json.dumps(raised).encode())
    hq.handle("straja/v1/A/gw/events/alert_raised", json.dumps(raised).encode())  # a repeat
    hq.handle("straja/v1/A/gw/nodes/2/status", json.dumps(online).encode())
    hq.handle("straja/v1/A/gw/events/node_online", json.dumps(online).encode())
    hq.handle("straja/v1/A/gw/status", b"online")
    for topic, payload in [("straja/v1/A/gw/events/node_online", b"{not json"),
                           ("straja/v1/A/gw/events/node_online", json.dumps(raised).encode()),
                           ("straja/v1/A/gw/events/bogus_kind", b'{"kind": "bogus_kind"}'),
                           ("straja/v1/A/gw/junk", b"1"),
                           ("straja/v1/A/gw/events/node_online",
                            json.dumps({**online, "id": "3"}).encode()),
                           ("straja/v1/A/gw/events/alert_raised",
                            json.dumps({**raised, "id": 5, "nodes": None}).encode()),
                           ("straja/v1/A/gw/events/alert_raised",
                            json.dumps({**raised, "id": 6, "nodes": [{"dbm": 1}]}).encode()),
                           ("straja/v1/A/gw/events/node_stats",
                            json.dumps({"kind": "node_stats", "id": 7, "t_ns": T}).encode()),
                           ("straja/v1/A/gw/nodes/2/status", json.dumps(raised).encode()),
                           ("straja/v1/A/gw/nodes/2/status", b"")]:
        hq.handle(topic, payload)
    assert hq.counts == {"received": 15, "stored": 2, "repeats": 2, "rejected": 10}
    stored = hq_store.query(hq.store.db)
    assert [(e["kind"], e["site"], e.get("node_id"), e.get("alert_id")) for e in stored] == [
        ("alert_raised", "A", None, "A:gw:A9"), ("node_online", "A", "A:gw:2", None)]
    assert stored[0]["nodes"][0]["node_id"] == "A:gw:2"
    assert hq.snapshot()["gateways"] == {"A/gw": "online"}
    assert [t["sites"] for t in hq_store.region_tracks(hq.store.db)] == [["A"]]
    assert hq_store.query(hq.store.db, node="A:gw:2", kinds=["node_online"]) == stored[1:]


def test_a_fix_is_the_tracks_position_and_a_ring_widens_the_distance():
    """A ring's centre is a node, the emitter anywhere up to its outer radius from it: two alerts
    25 km apart are one drone when one of them is a ring of 6 km, not when both are fixes."""
    fusion = RegionFusion(max_distance_m=20_000)
    fix = dict(position_kind="fix", latitude=45.0, longitude=25.0, ellipse_m=[300.0, 100.0, 0.0])
    first, _ = fusion.alert("A:gw:1", alert("A", "1", **fix))
    far_fix, _ = fusion.alert("B:gw:2", alert("B", "2", **{**fix, "latitude": 45.225}))
    assert far_fix is not first and distance_m((45.0, 25.0), (45.225, 25.0)) > 25_000
    ring = dict(position_kind="ring", latitude=45.45, longitude=25.0, ring_m=[4000.0, 6000.0])
    joined, _ = fusion.alert("C:gw:3", alert("C", "3", last_s=6, **ring))  # 25 km from B's fix
    assert fusion.by_alert["B:gw:2"] is joined and joined.sites == ["B", "C"] and first.sites == ["A"]
    assert joined.position({}) == (45.225, 25.0, 300.0)  # the fix, though the ring is newer


def test_an_alert_with_a_malformed_position_is_rejected_and_not_stored(tmp_path):
    hq = Hq(tmp_path / "hq.db")
    for bad in ({"latitude": "45"}, {"ellipse_m": [1.0, 2.0]}, {"ring_m": "far"},
                {"operator_longitude": True}):
        raised = {k: v for k, v in alert("A", "A1", **bad).items() if k not in ("site", "gateway")}
        hq.handle("straja/v1/A/gw/events/alert_raised", json.dumps({**raised, "alert_id": "A1"}))
    assert hq.counts == {"received": 4, "rejected": 4} and hq.store.query() == []
