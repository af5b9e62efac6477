"""The fast path's short cuts of the scan's driver calls (straja.eval.scanops) read what the
firmware's drivers read on the chip models, byte for byte and at the same instants: the driver
path is the oracle (the evaluation's readings must not change: bench/eval_fast_path_probe.py)."""
import pytest

from straja_node.drivers.cc2500 import CAL_US, FAST_SETTLE_US

from straja.eval.readings import EVAL_PLAN, NODE_COST, NodeReader, StepCost, load_profile
from straja.eval.scanops import Cc2500Scan, DriverScan, Sx126xScan, scan_ops
from straja.paths import SCENES
from straja.sim.scene import load_scene, scene_from_dict
from straja.vboard.vtime import VirtualTimeBoard

LOADED = StepCost(read_us=50, write_us=7, step_us=30, loop_us=25, frame_us=90, wake_us=300)


def _scene(path, seed):
    scene = load_scene(path)
    return scene_from_dict({"scene": {"seed": seed, "duration_s": scene.duration_s,
                                      "include": [path.name]}}, source="<scanops>",
                           base=path.parent)


def _sweeps(scene, node, seed, short_cuts, seconds, cost=None, plan=EVAL_PLAN):
    reader = NodeReader(scene, node, seed=seed, cost=cost, short_cuts=short_cuts)
    return list(reader.sweeps(plan, 0.0, seconds))


@pytest.mark.parametrize("name, node, seed, cost", [
    ("urban_24ghz_background", "n1", 1000, None),
    ("subghz_lora_background", "n2", 1001, None),
    ("elrs_2g4_on_urban_24ghz", "n3", 7, LOADED),
    ("elrs_915_on_subghz_lora", "n1", 12345, LOADED),
    ("crossfire_on_subghz_lora", "n2", 2, None),
])
def test_short_cuts_read_what_the_drivers_read(name, node, seed, cost):
    scene = _scene(SCENES / f"{name}.toml", seed)
    fast = _sweeps(scene, node, seed, True, 1.5, cost)
    plain = _sweeps(scene, node, seed, False, 1.5, cost)
    assert len(fast) > 10
    assert fast == plain  # every sweep's timing, codes, flags and late readings


def test_a_plan_changed_mid_run_and_a_calibrated_offset_read_as_the_drivers_do():
    scene = _scene(SCENES / "elrs_2g4_on_urban_24ghz.toml", 5)
    readers = [NodeReader(scene, "n1", seed=5, short_cuts=s) for s in (True, False)]
    out = []
    for reader in readers:
        reader.drivers["ism24"].calibrate({"rssi_offset_db": 69})
        first = list(reader.sweeps(EVAL_PLAN, 0.0, 0.6))
        narrow = [dict(e, stop_khz=e["start_khz"] + 8 * e["step_khz"]) for e in EVAL_PLAN]
        out.append(first + list(reader.sweeps(narrow, 0.7, 1.2)))
    assert out[0] == out[1]


def test_a_plan_tuned_from_stored_calibration_reads_as_the_drivers_do_after_calibrating():
    """An entry with the CC2500's fast settle (straja_node.plan.stored_tuning): the short cut
    writes the stored FREQ and FSCAL values as the driver does (four writes a tune), and the
    sweeps start once the channels are calibrated (the scheduler's set_plan: SCAL, 900 us each)."""
    scene = _scene(SCENES / "elrs_2g4_on_urban_24ghz.toml", 3)
    fast_entry = [dict(e, dwell_us=450, settle_us=FAST_SETTLE_US, revisit=10)
                  for e in EVAL_PLAN if e["front_end"] == "ism24"]
    fast, plain = (_sweeps(scene, "n2", 3, s, 0.6, plan=fast_entry) for s in (True, False))
    assert len(fast) > 5 and fast == plain
    n = len(fast[0].codes) // 2
    assert fast[0].t_us >= n * CAL_US
    # every slot of 450 us holds its reading: 2n slots a sweep, no overrun
    assert all(r.late == 0 and r.duration_us < 2 * n * 450 + 100 for r in fast)


def test_the_chip_is_left_as_the_driver_leaves_it():
    profile = load_profile()
    boards = [VirtualTimeBoard(profile, None, seed=1) for _ in range(2)]
    for name in ("ism24", "subg"):
        i = [e["name"] for e in profile["front_ends"]].index(name)
        fast_fe, plain_fe = (next(fe for fe in b.front_ends if fe.name == name) for b in boards)
        fast = scan_ops(fast_fe, boards[0], 22, 2)
        plain = DriverScan(plain_fe, boards[1], 22, 2)
        for freq_khz in (fast_fe.band_khz[0], fast_fe.band_khz[1], fast_fe.band_khz[0] + 1234):
            assert fast.tune(0.5, freq_khz) == plain.tune(0.5, freq_khz)
            state = [{k: v for k, v in vars(b.chips[i]).items()
                      if k not in ("board", "rf", "_scatter", "_readers", "tunings")}
                     for b in boards]
            assert state[0] == state[1]


def test_only_a_driver_and_chip_with_a_short_cut_get_one():
    board = VirtualTimeBoard(load_profile(), None, seed=1)
    kinds = {fe.name: type(scan_ops(fe, board, 22, 2)) for fe in board.front_ends}
    assert kinds["ism24"] is Cc2500Scan and kinds["subg"] is Sx126xScan
    assert kinds["vid58"] is DriverScan  # (one tune per 25 ms dwell: not worth one)
    subg = next(fe for fe in board.front_ends if fe.name == "subg")
    subg.busy.fixed = None  # a BUSY pin the model changes: the driver polls it
    assert type(scan_ops(subg, board, 22, 2)) is DriverScan


def test_a_reader_with_other_bus_costs_gets_its_own_scan_calls():
    scene = _scene(SCENES / "subghz_lora_background.toml", 3)
    reader = NodeReader(scene, "n1", seed=3)
    list(reader.sweeps(EVAL_PLAN, 0.0, 0.2))
    reader.cost = NODE_COST.contended(2.0)
    slow = list(reader.sweeps(EVAL_PLAN, 0.3, 0.5))
    plain = NodeReader(scene, "n1", seed=3, short_cuts=False)
    list(plain.sweeps(EVAL_PLAN, 0.0, 0.2))
    plain.cost = NODE_COST.contended(2.0)
    assert slow == list(plain.sweeps(EVAL_PLAN, 0.3, 0.5))
