"""The gateway asks a node that sees 5.8 GHz video for a profile of the channel (a temporary plan
at a quarter of its filter), names the track by it before the alert, and puts the normal plan
back (gateway/videoprofile.py). The node here is a small model of one: an RX5808 scanning
5645-5945 MHz at 20 MHz through its 20 MHz filter, answering `plan` commands as the firmware does
(a temporary plan runs at once, a plan without temp= ends it), reading a video emitter through the
filter as the simulator does."""
from __future__ import annotations

import json

import numpy as np
import pytest

from straja import protocol
from straja.detect.video_profile import filter_profile
from straja.gateway import config, events as ev
from straja.gateway.pipeline import Pipeline

PORT = "/dev/fake1"
NODE = 1
FILTER_KHZ = 20_000
DWELL_US = 25_600
FRONT_END = {"name": "vid58", "kind": "rx5808", "band_khz": [5_645_000, 5_945_000],
             "settle_us": 25_000, "filter_khz": FILTER_KHZ}
NORMAL = [{"front_end": "vid58", "start_khz": 5_645_000, "stop_khz": 5_945_000,
           "step_khz": 20_000, "dwell_us": DWELL_US}]
SPECTRA = {"ofdm20": ("rect", 20_000.0, -35.0), "fm20": ("gauss", 20_000.0, -45.0)}
NOISE_DBM = -95.0
PROFILING = config.from_dict({"alerts": {"video_profile": True}})


class Node:
    """The model node: its plan, the commands it got, its frames."""

    def __init__(self, spectrum, centre_khz, snr_db, on_s=2.0, answer="yes", seed=1):
        self.spectrum, self.centre, self.snr_db, self.on_s = spectrum, centre_khz, snr_db, on_s
        self.answer = answer   # "yes": runs plans; "refuse": fails `plan`; "silent": ignores it
        self.rng = np.random.default_rng(seed)
        self.plan, self.temp = NORMAL, False
        self.seq = 0
        self.plans_got: list[tuple[float, str]] = []

    def frame(self, t_s, body):
        self.seq += 1
        return protocol.encode_frame(protocol.Frame(0, NODE, self.seq, int(t_s * 1e6), body))

    def sweep(self, t_s):
        duration, body = self.sweep_body(t_s)
        return duration, self.frame(t_s, body)

    def sweep_body(self, t_s):
        e = self.plan[0]
        freqs = np.arange(e["start_khz"], e["stop_khz"] + 1, e["step_khz"])
        mw = 10 ** (NOISE_DBM / 10) * self.rng.gamma(470, 1 / 470, freqs.size)
        if t_s >= self.on_s:
            share = filter_profile(*SPECTRA[self.spectrum], freqs - self.centre, FILTER_KHZ)
            mw = mw + 10 ** ((NOISE_DBM + self.snr_db) / 10) * share
        codes = protocol.dbm_to_rssi_code(10 * np.log10(mw)).tobytes()
        duration = len(freqs) * e["dwell_us"]
        return duration / 1e6, protocol.Sweep(0, 0, self.seq & 0xFFFF, e["start_khz"],
                                              e["step_khz"], e["dwell_us"], duration, 0,
                                              len(freqs), codes)

    def command(self, t_s, cmd, request_id):
        """The node's answer to a gateway command (bytes, or b"")."""
        if cmd.verb == "info":
            return self.frame(t_s, protocol.Reply(request_id, protocol.OK, json.dumps(
                {"front_ends": [FRONT_END], "plan": self.plan})))
        if cmd.verb == "get":
            return self.frame(t_s, protocol.Reply(request_id, protocol.OK, json.dumps(
                {"plan": NORMAL, "temp_plan_s": 0})))
        if cmd.verb != "plan":
            return b""
        self.plans_got.append((t_s, cmd.args))
        if self.answer == "silent":
            return b""
        if self.answer == "refuse":
            return self.frame(t_s, protocol.Reply(request_id, 2, '{"error": "no"}'))
        text, _, temp = cmd.args.partition(" temp=")
        self.plan, self.temp = json.loads(text), bool(temp)
        return self.frame(t_s, protocol.Reply(request_id, protocol.OK, text))


def run(node: Node, seconds=8.0):
    """The node and a gateway pipeline, commands answered 5 ms after they are sent; a new plan
    starts its sweep at once (the firmware's set_plan restarts the sweeps)."""
    pipe = Pipeline(PROFILING)
    out = pipe.open_source(PORT, 0)
    events, t, request_id = list(out.events), 0.0, 0
    commands = list(out.commands)
    while t < seconds:
        replies = []
        for cmd in commands:
            request_id += 1
            replies.append(node.command(t + 0.005, cmd, request_id))
        plan_before = node.plan
        commands = []
        for data in replies:
            if data:
                o = pipe.feed(PORT, int((t + 0.005) * 1e9), data)
                events += o.events
                commands += o.commands
        if commands or node.plan is not plan_before:
            t += 0.005
            continue  # the plan changed: the sweep in progress is abandoned
        dur, data = node.sweep(t)
        t += dur
        o = pipe.feed(PORT, int(t * 1e9), data)
        events += o.events
        commands = o.commands
    return pipe, events


def first_alert(events):
    return next(e for e in events if isinstance(e, ev.AlertRaised))


def assert_not_profiled(pipe, node, seconds=6.0):
    """The node's sweeps for `seconds` through `pipe`: no plan is asked of it, and the first
    alert keeps the core's name for one lit bin."""
    events, t = [], 0.01
    while t < seconds:
        dur, data = node.sweep(t)
        t += dur
        o = pipe.feed(PORT, int(t * 1e9), data)
        events += o.events
        assert not [c for c in o.commands if c.verb == "plan"]
    assert first_alert(events).family == "analog_fm_video"


@pytest.mark.parametrize("spectrum,family", [("ofdm20", "ofdm_video"), ("fm20", "analog_fm_video")])
def test_the_first_alert_is_named_by_the_profile_and_the_normal_plan_comes_back(spectrum, family):
    """20 MHz video on a scan channel (5745 MHz, one bin lit: the core says analog either way)."""
    node = Node(spectrum, 5_745_000, 15.0)
    pipe, events = run(node)
    alert = first_alert(events)
    assert alert.family == family
    assert alert.t_ns < 4.5e9  # switched on at 2 s: still within the 2 s target, with the profile
    temp = [(t, a) for t, a in node.plans_got if "temp=" in a]
    assert len(temp) == 1  # once per track
    profile = json.loads(temp[0][1].partition(" temp=")[0])[0]
    assert profile["dwell_us"] == DWELL_US  # the front end's settle kept
    assert (profile["start_khz"], profile["stop_khz"], profile["step_khz"]) == (
        5_745_000 - 15_000, 5_745_000 + 15_000, 10_000)  # 1/4 and 3/4 of the filter either side
    back = [a for t, a in node.plans_got if t > temp[0][0]]
    assert back and json.loads(back[0]) == NORMAL and node.plan == NORMAL and not node.temp
    assert not pipe.profiler.pending
    # the node's later observations keep the profile's name: one alert, one family
    assert {e.family for e in events if isinstance(e, (ev.AlertRaised, ev.AlertUpdated))} == {family}


def test_off_by_default_the_cores_name_stands_and_no_plan_is_sent():
    node = Node("ofdm20", 5_745_000, 15.0)
    pipe = Pipeline(config.GatewayConfig())
    pipe.open_source(PORT, 0)
    for cmd in (ev.NodeCommand(PORT, "info"), ev.NodeCommand(PORT, "get", "plan")):
        pipe.feed(PORT, 1_000_000, node.command(0.001, cmd, 1))
    assert_not_profiled(pipe, node)


@pytest.mark.parametrize("answer", ["refuse", "silent"])
def test_a_node_that_refuses_or_never_answers_keeps_the_cores_name(answer):
    node = Node("ofdm20", 5_745_000, 15.0, answer=answer)
    pipe, events = run(node)
    alert = first_alert(events)
    assert alert.family == "analog_fm_video"  # the core's name for one lit bin
    assert alert.t_ns < 5.5e9  # held at most the profile's wait
    assert len([a for _, a in node.plans_got if "temp=" in a]) == 1 and not pipe.profiler.pending


def test_a_node_without_a_known_normal_plan_is_not_asked():
    node = Node("ofdm20", 5_745_000, 15.0)
    pipe = Pipeline(PROFILING)
    pipe.open_source(PORT, 0)
    info = node.command(0.001, ev.NodeCommand(PORT, "info"), 1)
    pipe.feed(PORT, 1_000_000, info)  # info, but no `get plan` reply
    assert_not_profiled(pipe, node)


def test_other_nodes_observations_of_the_channel_wait_for_the_profile_and_take_its_name():
    """One emitter, one family: node 2's observation of the channel node 1 is profiling is held
    with node 1's, both go on named by the profile, and later ones of either node too; node 2 is
    not asked again."""
    from straja.gateway.detector import Observation
    from straja.gateway.videoprofile import VideoProfiler

    profiler = VideoProfiler(8 * 10**9)
    node = Node("ofdm20", 5_745_000, 15.0)
    for t in range(4):  # node 1's normal sweeps, the video on: its floor and last readings
        profiler.normal_sweep(1, node.sweep_body(2.0 + t * 0.41)[1])
    info = {"front_ends": [FRONT_END]}

    def obs(node_id, t_s):
        return Observation(node_id, "analog_fm_video", int(t_s * 1e9), 5_735_000, 5_755_000, -80.0)

    released, commands = profiler.observation(obs(1, 2.0), info, NORMAL, PORT, int(2.0e9))
    assert not released and [c.verb for c in commands] == ["plan"]
    released, commands = profiler.observation(obs(2, 2.1), info, NORMAL, "/dev/fake2", int(2.1e9))
    assert not released and not commands  # held with node 1's, not asked of node 2
    entry = profiler.pending[1].entry
    node.plan = [entry]
    sweep = node.sweep_body(2.5)[1]
    done = profiler.profile_sweep(1, sweep, int(2.7e9), FILTER_KHZ)
    assert done.family == "ofdm_video" and sorted(o.node_id for o in done.held) == [1, 2]
    assert {o.family for o in done.held} == {"ofdm_video"}
    for node_id in (1, 2):
        released, commands = profiler.observation(obs(node_id, 3.0), info, NORMAL, PORT, int(3e9))
        assert [o.family for o in released] == ["ofdm_video"] and not commands


def test_no_profile_where_none_is_finer_or_the_node_would_refuse_its_sweep():
    """A plan stepping the RX5808 at a quarter of its filter already resolves the shape; a
    profile of 4 channels of 300 ms would exceed the firmware's 1 s sweep; a front end with no
    channel filter (a log detector) is not tuned: the observation goes on as it came."""
    from straja.gateway.detector import Observation
    from straja.gateway.videoprofile import VideoProfiler

    obs = Observation(1, "analog_fm_video", 0, 5_735_000, 5_755_000, -80.0)
    fine = [{**NORMAL[0], "step_khz": 5_000}]
    slow = [{**NORMAL[0], "dwell_us": 300_000}]
    untuned = {"front_ends": [{**FRONT_END, "filter_khz": 0}]}
    for info, plan in (({"front_ends": [FRONT_END]}, fine), ({"front_ends": [FRONT_END]}, slow),
                       (untuned, NORMAL)):
        profiler = VideoProfiler(8 * 10**9)
        assert profiler.observation(obs, info, plan, PORT, 0) == ([obs], [])
        assert not profiler.pending


def test_the_floor_is_the_median_of_the_last_normal_sweeps_medians():
    """Normal sweeps are kept as they came (nothing computed a sweep); a profile's floor is the
    median of the medians of the node's last FLOOR_SWEEPS whole normal sweeps."""
    from straja.gateway.videoprofile import FLOOR_SWEEPS, VideoProfiler, _floor
    profiler = VideoProfiler(keep_ns=10**9)
    rng = np.random.default_rng(3)
    sent = []
    for k in range(FLOOR_SWEEPS + 3):
        codes = rng.integers(60, 200, 16, dtype=np.uint8)
        sent.append(codes)
        profiler.normal_sweep(NODE, protocol.Sweep(0, 0, k, 5_645_000, 20_000, DWELL_US,
                                                   16 * DWELL_US, 0, 16, codes.tobytes()))
    floors = profiler._floors[(NODE, 0)]
    want = float(np.median([float(np.median(c)) for c in sent[-FLOOR_SWEEPS:]]))
    assert len(floors) == FLOOR_SWEEPS and _floor(floors) == want
