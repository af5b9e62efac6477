"""Typed gateway events: their JSON is the one docs/gateway.md lists, made by one serialiser."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from straja.gateway import events as ev

DOC = Path(__file__).resolve().parents[1] / "docs" / "gateway.md"
T = 1_700_000_000_000_000_000


def test_json_of_events_is_the_documented_one():
    assert json.loads(ev.dumps(ev.NodeOnline(T, 7, "/dev/ttyACM0"), 12)) == \
        {"id": 12, "kind": "node_online", "t_ns": T, "node_id": 7, "port": "/dev/ttyACM0"}
    assert ev.dumps(ev.PortClosed(T, "/dev/ttyACM0", None)) == \
        '{"kind":"port_closed","node_id":null,"port":"/dev/ttyACM0","t_ns":%d}' % T
    nodes = (ev.TrackNode(1, -61.5, T - 5, T), ev.TrackNode(2, -70.0, T - 3, T - 1))
    alert = ev.AlertRaised(T, "T1-1", "analog_fm_video", 5_790_000, 5_810_000, T - 5, T, 4, nodes,
                           "A1-1", "high", "approaching", T - 5, "analog FPV video", "HIGH: ...")
    assert ev.to_json(alert) == {
        "kind": "alert_raised", "t_ns": T, "track_id": "T1-1", "family": "analog_fm_video",
        "lo_khz": 5_790_000, "hi_khz": 5_810_000, "first_ns": T - 5, "last_ns": T, "hits": 4,
        "nodes": [{"node_id": 1, "dbm": -61.5, "first_ns": T - 5, "last_ns": T},
                  {"node_id": 2, "dbm": -70.0, "first_ns": T - 3, "last_ns": T - 1}],
        "alert_id": "A1-1", "severity": "high", "trend": "approaching", "since_ns": T - 5,
        "label": "analog FPV video", "text": "HIGH: ...", "identified": False, "uas_id": "",
        "operator_id": "", "claimed_latitude": None, "claimed_longitude": None,
        "operator_latitude": None, "operator_longitude": None, "position_kind": "",
        "latitude": None, "longitude": None, "ellipse_m": None, "ring_m": None,
        "position_with": "", "reopened": False}
    plan = ({"front_end": "vid58", "start_khz": 5_780_000, "stop_khz": 5_820_000},)
    assert ev.dumps(ev.ScanFocus(T, 3, "A1-1", plan)) == (
        '{"alert_id":"A1-1","kind":"scan_focus","node_id":3,"plan":[{"front_end":"vid58",'
        '"start_khz":5780000,"stop_khz":5820000}],"t_ns":%d}' % T)
    assert ev.Stored(alert, 5).json() == {"id": 5, **ev.to_json(alert)}


def _names(text: str) -> set[str]:
    return set(re.findall(r"`(\w+)`", text))


def test_documented_event_table_is_the_event_types():
    """Every row of the doc's event table names kinds that exist, with exactly their fields."""
    table = DOC.read_text().split("## Events", 1)[1].split("\n## ", 1)[0]
    track_fields = {f.name for f in dataclasses.fields(ev.TrackEvent)} - {"t_ns"}
    node_fields = {f.name for f in dataclasses.fields(ev.TrackNode)}
    documented = set()
    for row in re.findall(r"^\| (`.*?) \| (.*?) \|$", table, re.M):
        kinds = _names(re.sub(r"\(.*?\)", "", row[0]))
        nested = re.search(r"\[\{(.*?)\}\]", row[1])
        fields = _names(re.sub(r"\[\{.*?\}\]|\(.*?\)", "", row[1]))
        if "the track fields" in row[1]:
            fields |= track_fields
        classes = [ev.KINDS[k] for k in kinds]
        assert fields == {f.name for c in classes for f in dataclasses.fields(c)} - {"t_ns"}, row
        if nested:
            assert _names(nested.group(1)) == node_fields
        documented |= kinds
    assert documented == set(ev.KINDS)


def test_output_gathers_events_and_commands():
    out = ev.Output([ev.PortOpened(T, "/dev/a")])
    out += ev.Output([ev.PortClosed(T, "/dev/a", 1)], [ev.NodeCommand("/dev/a", "start")])
    assert [e.kind for e in out.events] == ["port_opened", "port_closed"]
    assert out.commands == [ev.NodeCommand("/dev/a", "start", None)]
