"""One definition of each front end's facts: the host's catalogue (straja.frontends) is what the
firmware's drivers declare and do under the real MicroPython, the virtual board's chip models
measure as the catalogue's looks say, the board profiles fit the catalogue, and the evaluation's
plan is the plan a virtual node runs out of the box. The node's `info` reply carries that running
plan and still fits one REPLY frame."""
from __future__ import annotations

import json
import math
import shutil

import pytest

from straja import protocol
from straja.eval.readings import EVAL_FRONT_ENDS, EVAL_PLAN
from straja.frontends import FRONT_ENDS, looks, looks_at
from straja.mp import run_micropython
from straja.paths import FIRMWARE, REPO, board_profile_path
from straja.vboard import NoiseOnly, ToneSource, VirtualBoard, chips
from straja.vboard.vtime import VirtualTimeBoard
from straja_node import clock

SCRIPT = REPO / "tests" / "firmware" / "plan_check.py"
BOARDS = sorted(p.stem for p in (REPO / "hardware" / "boards").glob("*.json"))


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


def test_catalogue_is_what_the_drivers_report_under_micropython(node):
    """The node's info reply (drivers on MicroPython) gives each front end's settle time and
    filter as the catalogue has them (drivers imported on CPython); every kind is covered."""
    info = json.loads(node["info"][1])
    assert {fe["kind"] for fe in info["front_ends"]} == set(FRONT_ENDS)
    for fe in info["front_ends"]:
        known = FRONT_ENDS[fe["kind"]]
        assert fe["settle_us"] == known.settle_us, fe
        assert fe["filter_khz"] == (known.filter_khz or 0), fe  # 0: an envelope front end


def test_eval_plan_is_the_plan_a_virtual_node_runs(node):
    by_name = {e["front_end"]: e for e in node["default_plan"]}
    assert [by_name[name] for name in EVAL_FRONT_ENDS] == EVAL_PLAN
    assert json.loads(node["info"][1])["plan"] == node["default_plan"]


def test_default_plan_follows_the_front_ends_filters_and_sweep_limit(node):
    plan = {e["front_end"]: e for e in node["default_plan"]}
    vid = plan["vid58"]
    assert vid["step_khz"] == FRONT_ENDS["rx5808"].filter_khz == 20000
    assert (vid["stop_khz"] - vid["start_khz"]) // 20000 + 1 == 16
    assert vid["dwell_us"] == FRONT_ENDS["rx5808"].settle_us + 500 == 25500
    ism = plan["ism24"]
    assert ism["dwell_us"] == FRONT_ENDS["cc2500"].settle_us + 500 == 1400
    # the second reading 4.2 ms after the first: 3 dwells of 1.4 ms
    assert ism["revisit"] * ism["dwell_us"] >= FRONT_ENDS["cc2500"].scan_revisit_us == 4200
    assert ism["revisit"] == 3
    assert plan["ism24"]["interleave"] == FRONT_ENDS["cc2500"].scan_interleave == 1
    assert "revisit" not in plan["subg"] and "interleave" not in plan["subg"]
    assert plan["env58"] == {"front_end": "env58", "rate_hz": 10000, "n": 256}
    for e in node["default_plan"]:
        if "step_khz" in e:
            n = (e["stop_khz"] - e["start_khz"]) // e["step_khz"] + 1
            assert n * e["dwell_us"] * (2 if e.get("revisit") else 1) <= 1_000_000


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


@pytest.mark.parametrize("model, kind", [(chips.Cc2500, "cc2500"), (chips.Sx126x, "sx126x"),
                                         (chips.Sx127x, "sx127x")])
def test_looks_are_what_the_chip_models_average(model, kind):
    """An SPI chip's reading averages its filter bandwidth x its window of samples."""
    bw_hz = FRONT_ENDS[kind].filter_khz * 1e3
    assert looks(kind) == pytest.approx(bw_hz * model.WINDOW_S, rel=0.01)


def test_rx5808_looks_are_the_adc_noise_on_the_rssi_slope():
    """The RX5808 model's RSSI pin moves 0.7 V over 70 dB; the ADC's noise on it sets the spread
    of a reading in dB, which a Gamma law of `looks` looks matches: (10 / ln 10 / sigma_dB)^2."""
    (p0, p1), (v0, v1) = chips.Rx5808.DBM, chips.Rx5808.VOLTS
    sigma_db = chips.ADC_NOISE_V / ((v1 - v0) / (p1 - p0))
    assert looks("rx5808") == pytest.approx((10 / math.log(10) / sigma_db) ** 2, rel=0.01)


def test_looks_by_band_and_unknown_kinds():
    assert looks_at(5_800_000) == looks("rx5808") and looks_at(2_440_000) == looks("cc2500")
    assert looks_at(915_000) == min(looks("sx126x"), looks("sx127x"))
    assert looks_at(100_000) == looks("logdet") == looks("nosuchchip") == 1.0


@pytest.mark.parametrize("board", BOARDS)
def test_board_profiles_fit_the_catalogue(board):
    """A profile keeps the board's facts (pins, calibration, the band its module or filter
    passes); its bands lie inside what the kind's chip tunes to."""
    for fe in json.loads(board_profile_path(board).read_text())["front_ends"]:
        known = FRONT_ENDS[fe["kind"]]
        lo, hi = fe.get("band_khz", known.band_khz)
        assert known.tune_khz[0] <= lo < hi <= known.tune_khz[1], (board, fe["name"])


@pytest.mark.parametrize("modulation, dbm, detected", [("lora", -110.0, True), ("", -70.0, False)])
def test_drivers_run_on_cpython_in_virtual_time(modulation, dbm, detected):
    """The SX126x driver's channel activity detection polls, sleeping between polls: on CPython
    its sleeps move straja_node.clock's virtual time and the bus with it, so the chip model's CAD
    finishes (after 4 symbols of SF7 at 500 kHz: 1 ms) and hears LoRa only, as under MicroPython
    (tests/test_vboard.py); the drivers are the profile's, built by the firmware's hw layer."""
    board = VirtualTimeBoard(json.loads(board_profile_path("virtual").read_text()),
                             ToneSource(868.1e6, dbm, modulation=modulation))
    assert [fe.kind for fe in board.front_ends] == [
        e["kind"] for e in board.profile["front_ends"]]
    subg = board.front_ends[2]
    start_us = clock.ticks_us()
    board.at(1.0)
    assert subg.cad(868100) is detected
    waited_us = clock.ticks_diff(clock.ticks_us(), start_us)
    assert 1000 <= waited_us < 2000
    board.at(1.5)
    assert subg.cad(915000) is False


@pytest.mark.parametrize("settle_us, revisit", [(900, 3), (340, 5), (0, 9)])
def test_the_default_plans_revisit_is_a_time_not_a_count_of_dwells(settle_us, revisit):
    """A driver's scan_revisit_us (the CC2500's 4.2 ms: over a Bluetooth 5-slot packet, under an
    ELRS hop) becomes as many dwells as make that time at least, whatever the dwell."""
    from types import SimpleNamespace

    from straja_node.plan import default_plan

    fe = SimpleNamespace(name="x", band_khz=(2400000, 2483500), settle_us=settle_us,
                         filter_khz=812, scan_revisit_us=FRONT_ENDS["cc2500"].scan_revisit_us)
    (entry,) = default_plan([fe])
    assert entry["revisit"] == revisit
    assert (revisit - 1) * entry["dwell_us"] < 4200 <= revisit * entry["dwell_us"]
