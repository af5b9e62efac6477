"""The evaluation's fast path (straja.eval.readings: the firmware's drivers on CPython, on a
virtual-time bus, with a model of the app loop's and the scheduler's timing) against a real
virtual node (the firmware under MicroPython, its drivers talking to the virtual board over its
socket) on one scene: a drone link in each band, switched on 1 s after switch-on, until the
node has made SWEEPS sweeps of each front end with them on.

- Timing: each front end's mean sweep duration, and on a loaded machine the overruns per
  second, agree with the fast path's at the virtual node's measured CPU contention
  (StepCost.contended: the virtual node shares this machine's CPUs; a board has its own), where
  the model was fitted; with a CPU of its own the fast path's node keeps its plan, no overruns.
- Readings: the same noise level per front end, the same strongest channel of the steady video
  transmitter, and for the hoppers the same share of hot readings and level of the strongest.

The two do not draw the same random numbers (their read instants differ), so the readings
agree in distribution, not byte for byte."""
import math

import numpy as np
import pytest

from straja_node.plan import default_plan, is_envelope

from straja.eval.readings import (CONTENDED_FIT_MAX, EVAL_PLAN, NODE_COST, NodeReader, StepCost,
                                  channels_khz, load_profile, slot_channels)
from straja.eval.vnodes import run_vnode, sweep_timing
from straja.paths import SCENES
from straja.protocol import FLAG_REVISIT, revisit_reads
from straja.sim.scene import scene_from_dict
from straja.vboard.vtime import VirtualTimeBoard

RUN_S = 30.0  # at most: the node runs until it has SWEEPS of each front end (~8 s unloaded)
SWEEPS = 12
ON_S = 1.0
COMPARED_FROM_S = 2.0  # node time: the links are on, the node's first sweeps are over
EMITTERS = [  # one link per front end, +15-30 dB over the floor at n1 of quiet_rural
    {"name": "elrs_2g4", "kind": "elrs", "domain": "ISM2G4", "rate": "150", "eirp_dbm": 20.0,
     "position_m": [1200.0, 500.0, 1.5]},
    {"name": "video", "kind": "analog_video", "channel": "F4", "eirp_dbm": 25.0,
     "position_m": [300.0, 200.0, 80.0]},
    {"name": "elrs_915", "kind": "elrs", "domain": "FCC915", "rate": "25", "eirp_dbm": 27.0,
     "position_m": [1200.0, 500.0, 1.5]},
]
HOT_CODES = 12  # 6 dB over the front end's median reading
OVERRUNS_COMPARED = (2.5, CONTENDED_FIT_MAX)  # the slowdowns at which overrun rates are compared
# A virtual node's costs as measured with priority on the loaded machine (docs/virtual-node.md,
# "Timing"): medians of 3000 driver calls, a reading 50 us, a tune 5 us (its writes queued); a
# sleep 18 us late, as measured there without timer slack (NODE_COST is about the fastest calls)
MEASURED = StepCost(read_us=50, write_us=2, step_us=15, loop_us=15, frame_us=50, wake_us=18)


def drone_scene():
    data = {"scene": {"name": "equivalence", "seed": 3, "duration_s": 60.0,
                      "include": ["quiet_rural.toml"]},
            "emitter": [dict(e, on=[[ON_S, 60.0]]) for e in EMITTERS]}
    return scene_from_dict(data, source="<equivalence>", base=SCENES)


def enough_sweeps(sweeps) -> bool:
    """SWEEPS of each front end started from COMPARED_FROM_S (a loaded machine takes longer)."""
    counts = {}
    for t_us, body in sweeps:
        if t_us >= COMPARED_FROM_S * 1e6:
            counts[body.front_end] = counts.get(body.front_end, 0) + 1
    return len(counts) == len(EVAL_PLAN) and min(counts.values()) >= SWEEPS


def held_codes(rows):
    """Per front end: the held codes of the sweeps that start from COMPARED_FROM_S, one row per
    sweep; rows: (front end, start us, codes, flags)."""
    out = {}
    for fe, t_us, codes, flags in rows:
        if t_us >= COMPARED_FROM_S * 1e6:
            out.setdefault(fe, []).append(np.frombuffer(revisit_reads(codes, flags)[0], np.uint8))
    return {fe: np.array(v, int) for fe, v in out.items()}


@pytest.mark.realtime
def test_fast_path_times_and_reads_like_a_virtual_node():
    scene = drone_scene()
    node = run_vnode(scene, "n1", RUN_S, enough=enough_sweeps)
    assert node.slowdown >= 1.0, "no CPU accounting (/proc/<pid>/schedstat)"
    cost = NODE_COST.contended(node.slowdown)
    fast = list(NodeReader(scene, "n1", seed=1, cost=cost).sweeps(EVAL_PLAN, 0.0, node.seconds))

    # timing
    want = sweep_timing([(b.front_end, b.duration_us, b.flags) for _, b in node.sweeps])
    got = sweep_timing([(r.front_end, r.duration_us, r.flags) for r in fast])
    assert set(got) == set(want) and len(want) == len(EVAL_PLAN)
    # within the contention the cost model was fitted for, the two agree within 20 %; beyond it
    # (an overloaded machine: the node's timing is then the machine's) only to a factor of 2-3
    fitted = node.slowdown <= CONTENDED_FIT_MAX
    low, high = (0.8, 1.2) if fitted else (0.3, 2.0)
    for fe in want:
        ratio = got[fe].mean_ms / want[fe].mean_ms
        assert low < ratio < high, (
            f"front end {fe}: mean sweep {got[fe].mean_ms:.1f} ms, the node's "
            f"{want[fe].mean_ms:.1f} ms (slowdown {node.slowdown:.2f})")
    # overruns: the model's mean wake-up delay makes them from a slowdown of ~1.7 on; below it the
    # node's come from the machine's scheduling tails (a few ms off a CPU now and then), which it
    # does not model: their rates are compared where both are the load's. The model makes 3-4.5
    # times the node's there (6-8 at a slowdown of 1.9, not compared): it delays every sleep by
    # the mean wake-up delay, where the node's wake-ups are mostly prompt and now and then late
    # (its readings asked ahead, docs/virtual-node.md "Timing", are modelled: readings.py); the
    # same order of magnitude is what holds
    if OVERRUNS_COMPARED[0] <= node.slowdown <= OVERRUNS_COMPARED[1]:
        fast_overruns = sum(r.late for r in fast) / node.seconds
        node_overruns = node.overruns / node.seconds
        assert 0.4 < fast_overruns / node_overruns < 6.0, (fast_overruns, node_overruns)
    # with a CPU of its own the node keeps its plan's timing: the sweeps are nominal and no
    # reading is late (the plan's margins hold the steps' costs)
    reader = NodeReader(scene, "n1", seed=1)
    own_sweeps = list(reader.sweeps(EVAL_PLAN, 0.0, node.seconds))
    assert sum(r.late for r in own_sweeps) == 0
    own = sweep_timing([(r.front_end, r.duration_us, r.flags) for r in own_sweeps])
    for e in EVAL_PLAN:
        nominal = len(slot_channels(len(channels_khz(e)), e.get("revisit", 0))) * e["dwell_us"]
        assert nominal / 1e3 <= own[reader.index[e["front_end"]]].mean_ms < 1.02 * nominal / 1e3

    # readings
    node_codes = held_codes([(b.front_end, t_us, b.rssi, b.flags) for t_us, b in node.sweeps])
    fast_codes = held_codes([(r.front_end, r.t_us, r.codes, r.flags) for r in fast])
    assert {b.flags & FLAG_REVISIT for _, b in node.sweeps if b.front_end == 1} == {FLAG_REVISIT}
    for fe in node_codes:
        a, b = node_codes[fe], fast_codes[fe]
        floor_a, floor_b = np.median(a), np.median(b)
        assert abs(floor_a - floor_b) <= 2, f"front end {fe}: noise {floor_a} vs {floor_b}"
        hot_a, hot_b = a >= floor_a + HOT_CODES, b >= floor_b + HOT_CODES
        assert hot_a.any(), f"front end {fe}: the drone is not seen"
        if fe == 0:  # steady video: the same channel strongest, hot in most sweeps
            strongest = np.argmax(np.median(a, 0))
            assert np.argmax(np.median(b, 0)) == strongest
            assert hot_a[:, strongest].mean() > 0.5 and hot_b[:, strongest].mean() > 0.5
        else:  # hoppers: as many hot readings (rates of rare events, a few tens of them:
            # their log ratio within 3 standard errors, sqrt(1/k_a + 1/k_b)), as strong
            k_a, k_b = int(hot_a.sum()), int(hot_b.sum())
            log_ratio = math.log((k_b / hot_b.size) / (k_a / hot_a.size))
            assert abs(log_ratio) < 3 * math.sqrt(1 / k_a + 1 / k_b), (fe, k_a, hot_a.size, k_b, hot_b.size)
        # as strong: the hot readings' median (a high percentile of all readings falls among
        # a hopper's few tens of hot ones, or below them, by chance)
        top_a, top_b = np.median(a[hot_a]), np.median(b[hot_b])
        assert abs(top_a - top_b) <= 8, f"front end {fe}: hot readings {top_a} vs {top_b}"


def test_the_default_plan_keeps_its_slots_at_a_nodes_measured_costs():
    """What `make demo` runs: the firmware's default plan, every sweep front end of the virtual
    board (the sub-GHz SX127x too, which the evaluation leaves out), keeps every slot at a
    node's measured costs, a CPU to itself: an unloaded machine shows about no overruns. At the
    slowdown measured on this loaded machine it overruns as the demo's nodes do (~2000 a
    second): the machine's load, not the plan's margins nor the virtual board's costs."""
    drivers = VirtualTimeBoard(load_profile(), None).front_ends
    plan = [e for e in default_plan(drivers) if not is_envelope(
        next(d for d in drivers if d.name == e["front_end"]))]
    assert len(plan) == len(EVAL_PLAN) + 1
    scene = drone_scene()
    for cost in (NODE_COST, MEASURED):
        sweeps = list(NodeReader(scene, "n1", seed=1, cost=cost).sweeps(plan, 0.0, 5.0))
        assert {r.front_end for r in sweeps} == {0, 1, 2, 3}
        assert sum(r.late for r in sweeps) == 0, cost
    loaded = NodeReader(scene, "n1", seed=1, cost=NODE_COST.contended(2.5)).sweeps(plan, 0.0, 5.0)
    assert sum(r.late for r in loaded) / 5.0 > 1000
