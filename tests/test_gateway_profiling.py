"""Once a 5.8 GHz video alert is raised, the gateway asks the node that sees it for a profile of the
channel (a temporary plan at an eighth of its filter), updates the alert with the family the
profile tells, and puts the normal plan back (gateway/profiling.py). The node here is a small model
of one: an RX5808 scanning 5645-5945 MHz at 20 MHz through its 20 MHz filter, answering `plan`
commands as the firmware does (a temporary plan runs at once, a plan without temp= ends it),
reading a video emitter through the filter as the simulator does."""
from __future__ import annotations

import json
import subprocess
import sys

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
SPECTRA = {"ofdm20": ("rect", 20_000.0, -35.0), "ofdm10": ("rect", 10_000.0, -35.0),
           "ofdm40": ("rect", 40_000.0, -35.0), "fm20": ("gauss", 20_000.0, -45.0)}
NOISE_DBM = -95.0
PROFILING = config.GatewayConfig()  # the profile is on by default


class Node:
    """The model node: its plan, the commands it got, its frames."""

    def __init__(self, spectrum, centre_khz, snr_db, on_s=2.0, answer="yes", seed=1,
                 node_id=NODE, access_point=None):
        self.spectrum, self.centre, self.snr_db, self.on_s = spectrum, centre_khz, snr_db, on_s
        self.answer = answer   # "yes": runs plans; "refuse": fails `plan`; "silent": ignores it
        self.node_id = node_id
        # (centre kHz, dB over the noise, share of readings its frames light[, its spectrum:
        # SPECTRA's, ofdm20 unless given]): a busy access point beside the video
        self.access_point = access_point
        self.rng = np.random.default_rng(seed)
        self.plan, self.temp = NORMAL, False
        self.seq = 0
        self.plans_got: list[tuple[float, str]] = []

    def frame(self, t_s, body):
        self.seq += 1
        return protocol.encode_frame(protocol.Frame(0, self.node_id, self.seq, int(t_s * 1e6),
                                                    body))

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
        if self.access_point is not None:
            centre, snr_db, busy, *spectrum = self.access_point
            lit = self.rng.random(freqs.size) < busy
            mw = mw + lit * 10 ** ((NOISE_DBM + snr_db) / 10) * filter_profile(
                *SPECTRA[(spectrum or ["ofdm20"])[0]], freqs - centre, FILTER_KHZ)
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


def run(node: Node, seconds=8.0, cfg=PROFILING):
    """The node and a gateway pipeline, commands answered 5 ms after they are sent; a new plan
    starts its sweep at once (the firmware's set_plan restarts the sweeps)."""
    pipe = Pipeline(cfg)
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


def temp_plans(node):
    return [(t, json.loads(a.partition(" temp=")[0])) for t, a in node.plans_got if "temp=" in a]


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


@pytest.mark.parametrize("spectrum,centre_khz,family", [
    ("ofdm20", 5_745_000, "ofdm_video"), ("ofdm10", 5_747_500, "ofdm_video"),
    ("fm20", 5_745_000, "analog_fm_video")])
def test_the_alert_comes_at_once_and_is_updated_with_the_profiles_family(spectrum, centre_khz,
                                                                           family):
    """Video on or near a scan channel (5745 MHz, one bin lit: the core says analog either
    way; 10 MHz of OFDM a half profile step off the scan channel, where 5 MHz steps read it
    like FM): the alert is raised when it is without the profile, with the core's name; the
    profile (17 channels, +-20 MHz in 2.5 MHz steps) is asked once, the normal plan comes back,
    and the same alert is updated with the profile's family, kept to the end."""
    node = Node(spectrum, centre_khz, 15.0)
    pipe, events = run(node)
    alert = first_alert(events)
    _, unprofiled = run(Node(spectrum, centre_khz, 15.0),
                        cfg=config.from_dict({"alerts": {"video_profile": False}}))
    assert alert.family == "analog_fm_video" and alert.t_ns == first_alert(unprofiled).t_ns
    temp = temp_plans(node)
    assert len(temp) == 1 and temp[0][0] >= alert.t_ns / 1e9  # once per track, after the alert
    profile = temp[0][1][0]
    assert profile["dwell_us"] == DWELL_US  # the front end's settle kept
    assert (profile["start_khz"], profile["stop_khz"], profile["step_khz"]) == (
        5_745_000 - 20_000, 5_745_000 + 20_000, 2_500)
    back = [a for t, a in node.plans_got if t > temp[0][0]]
    assert back and json.loads(back[0]) == NORMAL and node.plan == NORMAL and not node.temp
    assert not pipe.profiler.pending
    alerts = [e for e in events if isinstance(e, ev.AlertEvent)]
    assert [e for e in alerts if not isinstance(e, ev.AlertUpdated)] == [alert]  # one alert
    assert {e.alert_id for e in alerts} == {alert.alert_id}
    told = [e for e in alerts if e.family == family]
    if family != alert.family:  # told in the update that follows the profile, within a second
        assert isinstance(told[0], ev.AlertUpdated) and told[0].t_ns - alert.t_ns < 1e9
    assert all(e.family == family for e in alerts[alerts.index(told[0]):])  # never named back


def test_off_the_cores_name_stands_and_no_plan_is_sent():
    node = Node("ofdm20", 5_745_000, 15.0)
    pipe = Pipeline(config.from_dict({"alerts": {"video_profile": False}}))
    pipe.open_source(PORT, 0)
    for cmd in (ev.NodeCommand(PORT, "info"), ev.NodeCommand(PORT, "get", "plan")):
        pipe.feed(PORT, 1_000_000, node.command(0.001, cmd, 1))
    assert_not_profiled(pipe, node)


@pytest.mark.parametrize("answer", ["refuse", "silent"])
def test_a_node_that_refuses_or_never_answers_keeps_the_cores_name_and_its_plan(answer):
    node = Node("ofdm20", 5_745_000, 15.0, answer=answer)
    pipe, events = run(node)
    assert {e.family for e in events if isinstance(e, ev.AlertEvent)} == {"analog_fm_video"}
    temp = temp_plans(node)
    assert len(temp) == 1 and not pipe.profiler.pending
    # the normal plan is sent back: at the refusal, or when the profile's wait is over
    assert [json.loads(a) for t, a in node.plans_got if t > temp[0][0]][:1] == [NORMAL]


def test_a_node_without_a_known_normal_plan_is_not_asked():
    node = Node("ofdm20", 5_745_000, 15.0)
    pipe = Pipeline(PROFILING)
    pipe.open_source(PORT, 0)
    info = node.command(0.001, ev.NodeCommand(PORT, "info"), 1)
    pipe.feed(PORT, 1_000_000, info)  # info, but no `get plan` reply
    assert_not_profiled(pipe, node)


def test_a_profile_names_its_track_for_good_and_updates_its_alert_at_once():
    """The profile's family stays the track's whatever the core names its later observations,
    from any node; the alert's update does not wait update_min_s."""
    from straja.gateway.alerts import Alerts
    from straja.gateway.detector import Observation
    from straja.gateway.fusion import Fusion

    cfg = config.GatewayConfig()
    fusion, alerts = Fusion(cfg.fusion), Alerts(cfg.alerts, cfg.fusion.trend_db)

    def observe(node_id, t_s, family="analog_fm_video"):
        track, _ = fusion.observe(Observation(node_id, family, int(t_s * 1e9), 5_735_000,
                                              5_755_000, -80.0))
        return track, alerts.track_updated(track, int(t_s * 1e9))

    track, out = observe(1, 2.0)
    assert [type(e) for e in out] == [ev.AlertRaised]
    t_ns = int(2.3e9)  # within update_min_s of the raise
    assert fusion.name(track.track_id, "ofdm_video") is track and track.family == "ofdm_video"
    [update] = alerts.track_updated(track, t_ns, renamed=True)
    assert isinstance(update, ev.AlertUpdated) and update.family == "ofdm_video"
    for node_id, t_s in ((1, 2.4), (2, 2.5), (1, 9.0)):
        same, out = observe(node_id, t_s)
        assert same is track and track.family == "ofdm_video"
        assert all(e.family == "ofdm_video" for e in out)
    assert fusion.name("T-gone", "ofdm_video") is None


def test_no_profile_where_none_is_finer_or_the_node_would_refuse_its_sweep():
    """A plan stepping the RX5808 at a quarter of its filter already resolves the shape; a
    profile of 17 channels of 150 ms would exceed the firmware's 1 s sweep; a front end with no
    channel filter (a log detector) is not tuned; a channel 20 MHz from the band's edge has no
    room for the profile; a node reading a profile is not asked another."""
    from straja.gateway.profiling import VideoProfiler

    fine = [{**NORMAL[0], "step_khz": 5_000}]
    slow = [{**NORMAL[0], "dwell_us": 150_000}]
    info = {"front_ends": [FRONT_END]}
    untuned = {"front_ends": [{**FRONT_END, "filter_khz": 0}]}
    for inf, plan, lo in ((info, fine, 5_735_000), (info, slow, 5_735_000),
                          (untuned, NORMAL, 5_735_000), (info, NORMAL, 5_645_000)):
        profiler = VideoProfiler()
        assert profiler.ask("T1", lo, lo + 20_000, 1, -80.0, inf, plan, PORT, 0) is None
        assert not profiler.pending
    profiler = VideoProfiler()
    assert profiler.ask("T1", 5_735_000, 5_755_000, 1, -80.0, info, NORMAL, PORT, 0) is not None
    assert profiler.ask("T2", 5_835_000, 5_855_000, 1, -80.0, info, NORMAL, PORT, 0) is None
    assert profiler.pending[1].track_id == "T1"


def test_the_floor_is_the_median_of_the_last_normal_sweeps_medians():
    """Normal sweeps are kept as they came (nothing computed a sweep); a profile's floor is the
    median of the medians of the node's last FLOOR_SWEEPS whole normal sweeps."""
    from straja.gateway.profiling import FLOOR_SWEEPS, VideoProfiler, _floor
    profiler = VideoProfiler()
    rng = np.random.default_rng(3)
    sent = []
    for k in range(FLOOR_SWEEPS + 3):
        codes = rng.integers(60, 200, 16, dtype=np.uint8)
        sent.append(codes)
        profiler.normal_sweep(NODE, protocol.Sweep(0, 0, k, 5_645_000, 20_000, DWELL_US,
                                                   16 * DWELL_US, 0, 16, codes.tobytes()))
    floors = profiler._floors[NODE][0]
    want = float(np.median([float(np.median(c)) for c in sent[-FLOOR_SWEEPS:]]))
    assert len(floors) == FLOOR_SWEEPS and _floor(floors) == want


def test_a_profile_imports_nothing_on_its_first_use():
    """NumPy imports numpy.ma lazily inside its median and unique of floats (40 ms on this
    machine): a gateway's first video profile, whose verdict updates an alert, must not pay it."""
    script = """
import sys
import numpy as np
from straja import protocol
from straja.gateway.pipeline import Pipeline
from straja.gateway.profiling import _floor
from straja.detect.video_profile import video_profile_family
before = set(sys.modules)
codes = np.arange(60, 76, dtype=np.uint8).tobytes()
_floor([protocol.Sweep(0, 0, k, 5_645_000, 20_000, 500, 8000, 0, 16, codes) for k in range(4)])
offsets = np.arange(-20_000, 20_001, 2_500)
video_profile_family(offsets, 12.0 - 0.03 * np.abs(offsets / 1000) ** 1.5, 20_000)
print(sorted(set(sys.modules) - before))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_coarse_scan_adds_no_reading_past_the_profiles_reach():
    """A normal plan stepping five filters (100 MHz): its readings within (filter + step) / 2
    would reach 60 MHz either side, its channels 50 MHz off the centre with them; only those
    within the profile's own +-20 MHz join it (the fit refuses a profile over 4 filters wide),
    and the profile is told."""
    from straja.gateway.profiling import FLOOR_SWEEPS, VideoProfiler
    coarse = [{**NORMAL[0], "start_khz": 5_695_000, "step_khz": 100_000, "stop_khz": 5_895_000}]
    node = Node("ofdm20", 5_745_000, 15.0)
    profiler = VideoProfiler()
    for _ in range(FLOOR_SWEEPS):
        node.plan = coarse
        profiler.normal_sweep(NODE, node.sweep_body(3.0)[1])
    assert profiler.ask("T1", 5_735_000, 5_755_000, NODE, -80.0, {"front_ends": [FRONT_END]},
                        coarse, PORT, 0) is not None
    node.plan = [profiler.pending[NODE].entry]
    assert profiler.profile_sweep(NODE, node.sweep_body(3.5)[1], FILTER_KHZ) is None
    done = profiler.profile_sweep(NODE, node.sweep_body(4.0)[1], FILTER_KHZ)
    assert done.family == "ofdm_video", done.reason
    assert "34 readings" in done.reason  # 2 x 17, none of the scan's


def run_nodes(nodes, seconds=10.0):
    """Several model nodes, each on its own port, and one gateway pipeline: each node's frames
    in time order, commands answered 5 ms after they are sent (as `run`)."""
    pipe = Pipeline(PROFILING)
    ports = {f"/dev/fake{node.node_id}": node for node in nodes}
    events, commands, request_id = [], [], 0
    for port in ports:
        out = pipe.open_source(port, 0)
        events += out.events
        commands += out.commands
    clock = {port: 0.0 for port in ports}
    while min(clock.values()) < seconds:
        while commands:
            cmd = commands.pop(0)
            node = ports[cmd.port]
            request_id += 1
            t = clock[cmd.port] = clock[cmd.port] + 0.005
            data = node.command(t, cmd, request_id)
            if data:
                out = pipe.feed(cmd.port, int(t * 1e9), data)
                events += out.events
                commands += out.commands
        port = min(clock, key=clock.get)
        dur, data = ports[port].sweep(clock[port])
        clock[port] += dur
        out = pipe.feed(port, int(clock[port] * 1e9), data)
        events += out.events
        commands += out.commands
    return pipe, events


def test_a_node_that_cannot_tell_passes_the_profile_to_the_next_node_seeing_it():
    """10 MHz of OFDM seen strongest by node 1, beside a busy access point whose frames light
    the profile's readings on the video's low skirt at random (cannot tell there), and 9 dB
    weaker by node 2, clear: node 2 is asked next, tells OFDM, and the one alert is updated; each
    node is asked once and gets its normal plan back."""
    busy = Node("ofdm10", 5_747_500, 20.0, node_id=1, access_point=(5_730_000, 30.0, 0.5))
    clear = Node("ofdm10", 5_747_500, 11.0, node_id=2, seed=2)
    pipe, events = run_nodes([busy, clear])
    alert = first_alert(events)
    assert alert.family == "analog_fm_video" and alert.nodes[0].node_id == 1
    assert max(alert.nodes, key=lambda n: n.dbm).node_id == 1
    assert len(temp_plans(busy)) == 1 and len(temp_plans(clear)) == 1
    assert temp_plans(clear)[0][0] > temp_plans(busy)[0][0]   # after node 1 could not tell
    for node in (busy, clear):
        assert node.plan == NORMAL and not node.temp
    alerts = [e for e in events if isinstance(e, ev.AlertEvent)]
    assert {e.alert_id for e in alerts} == {alert.alert_id}
    assert alerts[-1].family == "ofdm_video" and not pipe.profiler.pending


def test_no_node_is_asked_twice_and_the_cores_name_stands_when_none_can_tell():
    """Both nodes beside busy access points, node 2 come to see the track after node 1 could
    not tell: each is asked once, in turn (node 2 when its observation updates the alert), and
    the alert keeps the core's name. (Whether a profile can tell is the access points' draws
    in its readings: node 2's seed is one whose profile cannot, whenever it is asked; with seed
    2 it is asked at 7.8 s since classify's switch-on streak rule, 6.6 s before, and its draws
    there tell OFDM.)"""
    nodes = [Node("ofdm10", 5_747_500, 20.0 - i, node_id=i + 1, seed=seed,
                  access_point=(5_730_000, 30.0, 0.5)) for i, seed in enumerate((1, 3))]
    pipe, events = run_nodes(nodes, seconds=14.0)
    assert [len(temp_plans(node)) for node in nodes] == [1, 1]
    assert temp_plans(nodes[1])[0][0] > temp_plans(nodes[0])[0][0]
    assert {e.family for e in events if isinstance(e, ev.AlertEvent)} == {"analog_fm_video"}
    assert not pipe.profiler.pending


def test_the_nodes_asked_are_kept_while_the_alert_stands():
    """A profile that cannot tell keeps its track's asked nodes and their readings of it (never
    asked again until they read it PROFILE_RISE_DB stronger, nor two at once); a family told, or
    the alert cleared, forgets them."""
    from straja.gateway.profiling import PROFILE_RISE_DB, VideoProfiler
    info = {"front_ends": [FRONT_END]}
    profiler = VideoProfiler()

    def ask(node_id, track_id="T1", dbm=-85.0):
        return profiler.ask(track_id, 5_735_000, 5_755_000, node_id, dbm, info, NORMAL, PORT, 0)

    assert ask(1) is not None and ask(2) is None  # one node at a time
    assert profiler.refused(1).family == "unknown" and profiler.untold == {"T1": {1: -85.0}}
    assert ask(1, dbm=-85.0 + PROFILE_RISE_DB - 0.5) is None and ask(2) is not None
    profiler.refused(2)
    assert profiler.untold == {"T1": {1: -85.0, 2: -85.0}} and ask(3) is not None
    profiler.refused(3)
    assert ask(1, dbm=-85.0 + PROFILE_RISE_DB) is not None  # node 1 reads it stronger now
    profiler.refused(1)
    assert profiler.untold["T1"][1] == -85.0 + PROFILE_RISE_DB and ask(1) is None
    assert ask(2) is None and ask(3) is None
    assert ask(2, dbm=-80.0) is not None
    profiler._end(2, "ofdm_video", "told")
    assert not profiler.untold
    assert ask(1, "T2") is not None and profiler.refused(1)
    assert profiler.untold == {"T2": {1: -85.0}}
    profiler.alert_cleared("T2")
    assert not profiler.untold


def test_video_inside_a_busy_wide_access_point_is_told_by_the_node_beside_it():
    """A node reading a busy 80 MHz access point whole (5745-5805 MHz, its level swinging with
    its traffic, one bin cold now and then) bounds what another node's weak view of the same
    channel can be: a track there is held (wide_bursty_node names the node); video beside it,
    in one run with it but hot and steady at its own centre, is not; nor is a channel read
    inside a run no wider than a video channel."""
    from straja.gateway.profiling import FLOOR_SWEEPS, VideoProfiler
    rng = np.random.default_rng(5)
    beside, far = VideoProfiler(), VideoProfiler()
    for k in range(FLOOR_SWEEPS):
        codes = rng.integers(58, 62, 16)  # the floor, 0.5 dB codes
        codes[5:9] = 100 + rng.integers(-8, 9, 4)  # the access point: +-4 dB with its traffic
        codes[9:11] = 90  # 40 MHz video at 5835 MHz, steady
        if k == 2:
            codes[7] = 60  # a part of the access point's channel cold in one sweep
        far_codes = rng.integers(58, 62, 16)
        far_codes[6:8] = 70  # the far node: 5765-5785 MHz only, steady
        for profiler, c in ((beside, codes), (far, far_codes)):
            profiler.normal_sweep(NODE, protocol.Sweep(0, 0, k, 5_645_000, 20_000, DWELL_US,
                                                       16 * DWELL_US, 0, 16,
                                                       c.astype(np.uint8).tobytes()))
    assert beside.wide_bursty_node(5_765_000, 5_805_000) == NODE
    assert beside.wide_bursty_node(5_815_000, 5_855_000) is None
    assert far.wide_bursty_node(5_765_000, 5_805_000) is None
    assert beside.wide_bursty_node(2_400_000, 2_480_000) is None  # outside its sweeps
    # a last sweep of another plan (fewer channels): not one grid, nothing told
    beside.normal_sweep(NODE, protocol.Sweep(0, 0, 9, 5_645_000, 20_000, DWELL_US,
                                             8 * DWELL_US, 0, 8, bytes(range(60, 68))))
    assert beside.wide_bursty_node(5_765_000, 5_805_000) is None


@pytest.mark.parametrize("far_view, held", [
    ("video", False),        # 10 dB over the floor, the access point's channel there at +2 dB
    ("weak", True),          # 3 dB over the floor: a weak view, a piece of it as likely
    ("access_point", True),  # its channel read alike across its width: a piece of it
    ("swinging", True),      # standing out in some sweeps only: its frames, not a channel
])
def test_a_track_standing_out_of_the_access_points_channel_at_another_node_is_not_held(
        far_view, held):
    """Video inside a busy 80 MHz access point's channel (5745-5805 MHz, read whole and swinging
    by the node beside it) is raised where a node seeing the track reads it a video channel's
    reading (hot in each sweep, steady), not weak, and standing 3 dB over its own readings of
    the rest of that channel: an access point reads alike across its channel at any one node,
    so it is another emitter. Held where that node's view is weak, or reads the channel alike
    across its width, or stands out only in some sweeps (det46)."""
    from straja.gateway.profiling import FLOOR_SWEEPS, VideoProfiler
    rng = np.random.default_rng(7)
    far = 2
    profiler = VideoProfiler()
    for k in range(FLOOR_SWEEPS):
        codes = rng.integers(58, 62, 16)  # the floor, 0.5 dB codes
        codes[5:9] = 100 + rng.integers(-8, 9, 4)  # the access point: +-4 dB with its traffic
        far_codes = rng.integers(58, 62, 16)
        far_codes[5:9] = 64  # the access point's channel there, 2 dB over the floor
        far_codes[5] = {"video": 80, "weak": 66, "access_point": 64,
                        "swinging": 80 if k % 2 else 64}[far_view]  # 5745 MHz
        for node, c in ((NODE, codes), (far, far_codes)):
            profiler.normal_sweep(node, protocol.Sweep(0, 0, k, 5_645_000, 20_000, DWELL_US,
                                                       16 * DWELL_US, 0, 16,
                                                       c.astype(np.uint8).tobytes()))
    views = {far: (5_745_000, 5_745_000), NODE: (5_725_000, 5_765_000)}
    assert profiler.wide_bursty_node(5_725_000, 5_765_000) == NODE
    assert (profiler.wide_bursty_node(5_725_000, 5_765_000, views) is None) != held


def test_video_named_by_its_standing_block_is_observed_and_profiled_there():
    """20 MHz OFDM at 5785 MHz, on from 8 s, under a 40 MHz access point's frames (5775-5815
    MHz, 35 dB over the noise in half the readings of each of its two scan channels): the core
    names the one channel standing under the frames video (Pipeline._standing_named), and the
    observation, the alert and the profile are of that channel (5775-5795 MHz, the profile
    +-20 MHz around 5785), not of the access point's run (5775-5815 MHz and wider, centred
    between its channels, where the profile reads the access point's flat top)."""
    node = Node("ofdm20", 5_785_000, 20.0, on_s=8.0, access_point=(5_795_000, 35.0, 0.5, "ofdm40"))
    pipe, events = run(node, seconds=40.0)
    alert = first_alert(events)
    assert (alert.lo_khz, alert.hi_khz) == (5_775_000, 5_795_000)
    temp = temp_plans(node)
    assert temp and (temp[0][1][0]["start_khz"], temp[0][1][0]["stop_khz"]) == (
        5_785_000 - 20_000, 5_785_000 + 20_000)

