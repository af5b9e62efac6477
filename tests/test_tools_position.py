"""Surveyed node positions on the technician's side: `straja provision --position` (parsed while
the arguments are, before any port is opened), the inventory's newest record, the gateway config
table it prints, and how `straja info` and `straja events` show positions."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from straja.commands.device import describe_position, info_rows
from straja.commands.provision import position
from straja.gateway import config
from straja.gateway.position import position_text
from straja.tools.provision import latest_record, nodes_table

STRAJA = str(Path(sys.executable).with_name("straja"))


def test_position_argument_and_its_gateway_table():
    place = position("45.0031234, 25.0012345, 84")
    assert place == {"latitude": 45.0031234, "longitude": 25.0012345, "height_m": 84.0}
    table = nodes_table(12, place)
    node = config.from_dict(tomllib.loads(table)).nodes[12]
    assert (node.latitude, node.longitude, node.height_m) == (45.0031234, 25.0012345, 84.0)
    for bad in ("45.1", "north,east", "95,25,3"):
        with pytest.raises(argparse.ArgumentTypeError):
            position(bad)


def test_a_bad_position_is_refused_before_any_port_is_opened():
    r = subprocess.run([STRAJA, "provision", "/dev/nonexistent", "--node-id", "3", "--position",
                        "45.1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "LAT,LON or LAT,LON,HEIGHT" in r.stderr
    assert "Traceback" not in r.stderr


def test_the_inventorys_newest_record_of_a_node(tmp_path):
    inventory = tmp_path / "inventory.jsonl"
    old = {"node_id": 3, "position": {"latitude": 45.0, "longitude": 25.0, "height_m": 80.0}}
    new = {"node_id": 3, "position": {"latitude": 45.5, "longitude": 25.5, "height_m": 90.0}}
    other = {"node_id": 4, "position": None}
    inventory.write_text("\n".join(json.dumps(r) for r in (old, other)) + "\n{cut\n"
                         + json.dumps(new) + "\n")
    assert latest_record(inventory, 3) == new and latest_record(inventory, 4) == other
    assert latest_record(inventory, 5) is None and latest_record(tmp_path / "none", 3) is None
    assert describe_position(new["position"]) == "45.500000, 25.500000, 90.0 m (inventory)"
    assert describe_position(None).startswith("not surveyed (straja provision")
    rows = dict(info_rows({"port": "p", "micropython": "1.24.1", "machine": "m", "mpy": None,
                           "firmware": "0.1", "firmware_hash": "h", "board": "virtual",
                           "node_id": 3, "position": new["position"], "running": None}))
    assert rows["position"] == describe_position(new["position"])


def test_events_show_positions():
    stats = {"kind": "node_stats", "node_id": 2, "latitude": 45.1, "longitude": 25.2,
             "height_m": 84.0}
    assert position_text(stats) == "at 45.100000, 25.200000, 84.0 m"
    assert position_text({**stats, "latitude": None}) == ""
    ring = {"kind": "alert_raised", "position_kind": "ring", "latitude": 45.1, "longitude": 25.2,
            "ring_m": [120.0, 900.0], "ellipse_m": None}
    assert position_text(ring) == "RF ring: 120-900 m from a node at 45.100000, 25.200000 (95 %)"


def test_sim_node_stops_by_itself_after_its_duration():
    start = time.monotonic()
    r = subprocess.run([STRAJA, "sim", "node", "--count", "1", "--duration", "2"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "node 1" in r.stdout
    assert time.monotonic() - start < 30
