"""A node core's clock stops while its front end reads sweeps no core takes (a video profile's,
gateway/detector.py `NodeDetector.away`): time not scanned is not silence. A continuous video
carrier read every sweep, then not read for a profile's 1.3 s, counted those seconds as missed
sweeps: the classifier named it bursty (Wi-Fi) until enough sweeps outweighed them, longer than
fusion's hold, and its alert was cleared and raised again (analog_f4_on_5ghz_wifi: F4 two alerts
in one presence)."""
from __future__ import annotations

from dataclasses import replace

from test_gateway_hold import START_KHZ, sweeps
from test_gateway_profiling import DWELL_US, NODE, NORMAL, Node, run as run_profiled, temp_plans

from straja.gateway.detector import NodeDetector, is_drone

AWAY = (3_000_000, 4_300_000)  # the profile's sweeps: the node's plan not read meanwhile


def run(pause: bool) -> list[tuple[float, str, bool]]:
    """(t s, family, held) of a node's observations of steady 20 MHz video over 10 s of sweeps
    0.1 s apart, its plan not read in AWAY; `pause`: the profile's sweeps told (away)."""
    det = NodeDetector(1, {})
    out = []
    for t_us, sweep in sweeps(10.0, seed=3):
        if AWAY[0] <= t_us < AWAY[1]:
            if pause:
                det.away(sweep.front_end, t_us)
            continue
        out += [(o.t_ns / 1e9, o.family, o.held) for o in det.sweep(sweep, t_us, 0)]
    return out


def test_video_is_still_named_video_in_every_sweep_after_a_profile():
    obs = run(pause=True)
    after = [o for o in obs if o[0] >= AWAY[1] / 1e6]
    # every sweep after the profile observes it, named a drone by the classifier (not held),
    # at its own time (the core's paused clock is put back on the observations)
    assert [round(o[0], 1) for o in after] == [round(4.3 + 0.1 * k, 1) for k in range(57)]
    assert all(is_drone(family) and not held for _, family, held in after)


def test_without_the_pause_the_gap_reads_as_missed_sweeps():
    """What the pause fixes: the same gap taken for silence renames the video for seconds."""
    after = [o for o in run(pause=False) if o[0] >= AWAY[1] / 1e6]
    assert sum(not held for _, _, held in after) <= 1  # the others only held (_Naming)


def test_a_video_profiles_sweeps_stop_the_clock_of_the_nodes_plan_core():
    """Through the gateway pipeline: the profile asked of a node after its alert (two sweeps of
    17 channels, gateway/profiling.py) pauses its normal plan's core for as long as they took."""
    node = Node("fm20", 5_745_000, 15.0)
    pipe, _ = run_profiled(node)
    assert len(temp_plans(node)) == 1 and node.plan == NORMAL  # profiled, and back
    core = pipe.detectors[NODE]._latest[0]
    assert core.left_us is None  # its own sweeps again
    # from its first profile sweep to its first normal one again: the two profile sweeps (this
    # node starts a plan's sweep as the plan comes)
    assert core.paused_us == 2 * 17 * DWELL_US


def test_another_plans_sweeps_stop_the_clock_of_the_plan_left():
    """A focus plan's sweeps on the front end (adaptive scanning) go to a core of their own; the
    plan left is paused from the first of them until its own sweeps come back."""
    det = NodeDetector(1, {})
    for t_us, sweep in sweeps(6.0):
        if AWAY[0] <= t_us < AWAY[1]:  # the same front end on other channels meanwhile
            sweep = replace(sweep, start_khz=sweep.start_khz + 1_000)
        det.sweep(sweep, t_us, 0)
    normal, focus = sorted(det._plans.values(), key=lambda st: st.key)
    assert normal.key[1] == START_KHZ and focus.key[1] == START_KHZ + 1_000
    assert normal.paused_us == AWAY[1] - AWAY[0] and normal.left_us is None
    assert focus.paused_us == 0 and focus.left_us == AWAY[1]  # left when the normal came back


def test_a_pause_counts_at_most_the_track_timeout():
    """A focus lasting minutes: the plan left is paused for at most PAUSE_MAX_US (fusion's track
    timeout); the rest of the time away is silence, as what the core held may have gone."""
    from straja.gateway.detector import PAUSE_MAX_US

    away = (1_000_000, 1_000_000 + 3 * PAUSE_MAX_US)
    det = NodeDetector(1, {})
    for t_us, sweep in sweeps(away[1] / 1e6 + 2.0):
        if away[0] <= t_us < away[1]:
            sweep = replace(sweep, start_khz=sweep.start_khz + 1_000)
        det.sweep(sweep, t_us, 0)
    normal = next(st for st in det._plans.values() if st.key[1] == START_KHZ)
    assert normal.paused_us == PAUSE_MAX_US
