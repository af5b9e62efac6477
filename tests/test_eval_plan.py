"""What the evaluation measures is what a node does out of the box: the firmware's default plan,
computed under the real MicroPython by the real drivers of the virtual board (through its unix
hardware layer and a virtual board server), is the evaluation's EVAL_PLAN, and the evaluation's
fast path settles as long as the drivers. The node's `info` reply carries that running plan and
still fits one REPLY frame."""
from __future__ import annotations

import json
import shutil

import pytest

from straja import protocol
from straja.eval.readings import EVAL_PLAN, _settle_us
from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO, board_profile_path
from straja.vboard import NoiseOnly, VirtualBoard

SCRIPT = REPO / "tests" / "firmware" / "plan_check.py"


@pytest.fixture(scope="module")
def node(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("plan")
    shutil.copy(board_profile_path("virtual"), tmp / "board.json")
    profile = json.loads(board_profile_path("virtual").read_text())
    board = VirtualBoard(profile, NoiseOnly(), str(tmp / "vb.sock")).start()
    try:
        proc = run_micropython(SCRIPT, path=[FIRMWARE], cwd=tmp, timeout=60,
                               env={"STRAJA_VBOARD": str(tmp / "vb.sock")})
    finally:
        board.stop()
    assert board.errors == []
    return json.loads(proc.stdout)


def test_eval_plan_is_the_firmware_default_plan(node):
    by_name = {e["front_end"]: e for e in node["default_plan"]}
    assert [by_name[e["front_end"]] for e in EVAL_PLAN] == EVAL_PLAN
    assert [e["front_end"] for e in EVAL_PLAN] == ["vid58", "ism24", "subg"]


def test_default_plan_follows_the_front_ends_filters_and_sweep_limit(node):
    plan = {e["front_end"]: e for e in node["default_plan"]}
    vid = plan["vid58"]
    assert vid["step_khz"] == 20000 and (vid["stop_khz"] - vid["start_khz"]) // 20000 + 1 == 16
    assert vid["dwell_us"] == node["settle_us"]["rx5808"] + 500 == 25500
    assert plan["ism24"]["revisit"] == 3 and "revisit" not in plan["subg"]
    assert plan["env58"] == {"front_end": "env58", "rate_hz": 10000, "n": 256}
    for e in node["default_plan"]:
        if "step_khz" in e:
            n = (e["stop_khz"] - e["start_khz"]) // e["step_khz"] + 1
            assert n * e["dwell_us"] * (2 if e.get("revisit") else 1) <= 1_000_000


@pytest.mark.parametrize("kind", ["rx5808", "cc2500", "sx126x"])
def test_fast_path_settles_as_the_drivers(node, kind):
    assert _settle_us(kind) == node["settle_us"][kind]


def test_info_reply_carries_the_running_plan_and_fits_a_frame(node):
    status, text = node["info"]
    assert status == protocol.OK
    info = json.loads(text)
    assert info["plan"] == node["default_plan"] and len(info["front_ends"]) == 5
    wire = bytes.fromhex(node["reply_wire"])
    raw = protocol.cobs_decode(wire.strip(b"\x00"))
    assert len(raw) <= protocol.MAX_FRAME
    frame = protocol.decode_frame(raw)  # not cut: the node sent the whole JSON, status OK
    assert frame.body.status == protocol.OK and json.loads(frame.body.text) == info
