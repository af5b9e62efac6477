"""The gateway's pure processing, driven by frames made with protocol.encode_frame."""
from __future__ import annotations

import json

import numpy as np

from straja import protocol
from straja.gateway import config, events as ev, record, replay, store
from straja.testing import synth
from straja.gateway.pipeline import Pipeline

T0 = 1_700_000_000_000_000_000
S = 1_000_000_000


def video(start_s=2.0, stop_s=12.0, dbm=-80.0, rise_db_s=2.0):
    return synth.Emitter(5_800_000, 20_000,
                         lambda t: dbm + rise_db_s * (t - start_s) if start_s < t < stop_s else None)


def run(chunks, cfg=None, settle_s=30.0):
    p = Pipeline(cfg or config.GatewayConfig())
    events = []
    replay.feed(p, [record.Record(record.DATA, c.source, c.t_ns, c.data) for c in chunks],
                on_events=events.extend, settle_s=settle_s)
    return p, events


def kinds(events, cls):
    return [e for e in events if isinstance(e, cls)]


def test_one_emitter_seen_by_two_nodes_is_one_alert_raised_once_and_cleared():
    streams = [synth.node_chunks(n, [video()] if n in (1, 2) else [], t0_ns=T0, duration_s=20,
                                 offset_ns=n * 1_000_000) for n in (1, 2, 3)]
    _, events = run(synth.merge(streams))
    raised = kinds(events, ev.AlertRaised)
    assert len(raised) == 1
    alert = raised[0]
    assert alert.family in ("analog_fm_video", "ofdm_video")
    assert {n.node_id for n in alert.nodes} <= {1, 2}  # raised on the first confirmation
    assert alert.lo_khz <= 5_800_000 <= alert.hi_khz
    assert "since" in alert.text
    # raised within a second of the emitter coming on (t = 2 s of node time, booted at 5 s)
    assert alert.t_ns - (T0 + 7 * S) < 1 * S
    updates = kinds(events, ev.AlertUpdated)
    # the other node's observations join the same alert
    assert any("nodes 1, 2" in u.text and u.alert_id == alert.alert_id for u in updates)
    assert len(updates) < 10  # updated on change, not per sweep (the run has ~200 sweeps)
    assert any(u.trend == "approaching" for u in updates)
    assert [e.alert_id for e in kinds(events, ev.AlertCleared)] == [alert.alert_id]
    assert len(kinds(events, ev.TrackStarted)) == 1 and len(kinds(events, ev.TrackEnded)) == 1


def test_noise_and_wifi_raise_no_alert():
    rng = np.random.default_rng(5)
    bursty = rng.random(400) < 0.3
    wifi = synth.Emitter(2_437_000, 20_000, lambda t: -60.0 if bursty[int(t * 10)] else None)
    streams = [synth.node_chunks(n, [wifi] if n == 1 else [], t0_ns=T0, duration_s=30,
                                 band=synth.BAND_2G4) for n in (1, 2)]
    _, events = run(synth.merge(streams))
    assert not kinds(events, ev.AlertEvent)
    assert len(kinds(events, ev.NodeOnline)) == 2


def test_heartbeat_timeout_offline_then_back_online():
    first = synth.node_chunks(4, [], t0_ns=T0, duration_s=5)
    later = [c._replace(t_ns=c.t_ns + 20 * S) for c in synth.node_chunks(4, [], t0_ns=T0,
                                                                         duration_s=5)]
    # the second run is a new boot: STATUS uptime starts again
    _, events = run(first + later, settle_s=0)
    states = [type(e) for e in kinds(events, ev.NodeStatusChange)]
    assert states[:3] == [ev.NodeOnline, ev.NodeOffline, ev.NodeOnline]
    offline = kinds(events, ev.NodeOffline)[0]
    # the deadline, not the check time
    assert offline.t_ns == offline.last_seen_ns + int(config.GatewayConfig().heartbeat_timeout_s * S)


def test_only_the_silent_nodes_go_offline_each_at_its_own_deadline():
    # nodes 1-3 stop after 2, 4 and 6 s; node 4 streams on (deadline checks: a heap, not a scan)
    streams = [synth.node_chunks(n, [], t0_ns=T0, duration_s=2.0 * n if n < 4 else 20)
               for n in range(1, 5)]
    _, events = run(synth.merge(streams), settle_s=0)
    offline = kinds(events, ev.NodeOffline)
    assert [e.node_id for e in offline] == [1, 2, 3]
    timeout = int(config.GatewayConfig().heartbeat_timeout_s * S)
    assert all(e.t_ns == e.last_seen_ns + timeout for e in offline)
    assert sorted(e.node_id for e in kinds(events, ev.NodeOnline)) == [1, 2, 3, 4]


def test_losses_counted_from_sequence_gaps_and_clock_offset_estimated():
    chunks = synth.node_chunks(9, [], t0_ns=T0, duration_s=10, offset_ns=123_456_789)
    kept = [c for i, c in enumerate(chunks) if i % 10 != 5]  # lose every tenth frame
    cfg = config.GatewayConfig(stats_interval_s=5.0)
    p, events = run(kept, cfg, settle_s=0)
    assert len(kinds(events, ev.NodeStats)) == 1  # 5 s into a run of 10 s
    stats = p.nodes[9].stats(p.now_ns, p.seq)
    assert stats.lost == len(chunks) - len(kept)
    # arrival = T0 + node time + offset + delay, delay 50..50.3 ms in synth: the estimate is the
    # smallest arrival - node time, i.e. within the delay's spread of T0 + offset + 50 ms
    expected = T0 + 123_456_789 + 50_000_000
    assert expected <= stats.clock_offset_ns <= expected + 300_000


def test_adaptive_scan_focuses_neighbours_and_restores_their_plan():
    streams = [synth.node_chunks(n, [video()] if n == 1 else [], t0_ns=T0, duration_s=20)
               for n in (1, 2)]
    info = {"front_ends": [{"name": "rx5808", "kind": "rx5808", "band_khz": [5_645_000, 5_945_000]}]}
    normal = [{"front_end": "rx5808", "start_khz": 5_645_000, "stop_khz": 5_945_000,
               "step_khz": 2_000, "dwell_us": 3_000}]  # (151 channels: a sweep of 0.45 s)
    replies = []
    # info and `get plan` when the port opens; `get plan` again at 12 s (the port reopened while
    # focused: the node answers with the focus plan, which must not become its normal plan)
    for seq, t_s, body in ((900, 5.1, json_reply(1, info)), (901, 5.1, json_reply(2, {"plan": normal})),
                           (902, 12.0, json_reply(3, {"plan": [{"front_end": "rx5808"}]}))):
        replies.append(synth.Chunk(T0 + int(t_s * S), "/dev/fake2", protocol.encode_frame(
            protocol.Frame(0, 2, seq, int((t_s - 5) * 1e6), body))))
    _, events = run(synth.merge([*streams, replies]))
    focus, restore = kinds(events, ev.ScanFocus), kinds(events, ev.ScanRestore)
    assert [e.node_id for e in focus] == [2] and focus[0].t_ns < T0 + 12 * S
    entry = focus[0].plan[0]
    assert entry["front_end"] == "rx5808" and entry["dwell_us"] == 3_000
    assert entry["start_khz"] <= 5_800_000 <= entry["stop_khz"]
    assert entry["stop_khz"] - entry["start_khz"] < 100_000  # the suspect band, not the whole
    assert [(e.node_id, list(e.plan)) for e in restore] == [(2, normal)]


def test_focus_plans_are_temporary_refreshed_while_the_alert_lasts_then_restored():
    """The focus goes out as `plan PLAN temp=S` (S = 3 refresh periods), again every
    focus_refresh_s while the alert lasts; the normal plan (a node_plan event, for the store)
    goes back without temp= when it clears. A plan reported while a temporary plan runs is a
    previous gateway's focus: it is never taken as normal, and the normal plan is put back."""
    streams = [synth.node_chunks(n, [video()] if n == 1 else [], t0_ns=T0, duration_s=20)
               for n in (1, 2)]
    info = {"front_ends": [{"name": "rx5808", "kind": "rx5808", "band_khz": [5_645_000, 5_945_000]}]}
    normal = [{"front_end": "rx5808", "start_khz": 5_645_000, "stop_khz": 5_945_000,
               "step_khz": 2_000, "dwell_us": 3_000}]  # (151 channels: a sweep of 0.45 s)
    narrow = [{**normal[0], "start_khz": 5_790_000, "stop_khz": 5_810_000}]
    replies = [synth.Chunk(T0 + int(t_s * S), "/dev/fake2", protocol.encode_frame(
        protocol.Frame(0, 2, seq, int((t_s - 5) * 1e6), body))) for seq, t_s, body in (
            (900, 5.1, json_reply(1, info)),
            (901, 5.1, json_reply(2, {"plan": normal, "temp_plan_s": 0})),
            (902, 30.0, json_reply(3, {"plan": narrow, "temp_plan_s": 9})))]
    p = Pipeline(config.GatewayConfig())
    outs = [(c.t_ns, p.feed(c.source, c.t_ns, c.data)) for c in synth.merge([*streams, replies])]
    sent = [(t, c.args) for t, o in outs for c in o.commands if c.port == "/dev/fake2"]
    events = [e for _, o in outs for e in o.events]
    focus = kinds(events, ev.ScanFocus)
    restore = kinds(events, ev.ScanRestore)
    assert len(focus) == 1 and restore[0].alert_id == focus[0].alert_id
    temp = [(t, a) for t, a in sent if a.endswith(" temp=15")]
    assert temp[0][1] == json.dumps(list(focus[0].plan), separators=(",", ":")) + " temp=15"
    # refreshed every 5 s from the focus until the restore
    gaps = [b - a for (a, _), (b, _) in zip(temp, temp[1:])]
    assert gaps and all(5 * S <= g < 6 * S for g in gaps)
    assert focus[0].t_ns <= temp[0][0] and temp[-1][0] < restore[0].t_ns
    back = [(t, a) for t, a in sent if t >= restore[0].t_ns and a and a.startswith("[")]
    assert back[0][1] == json.dumps(normal, separators=(",", ":"))
    # the 30 s reply (alert cleared): a temporary plan runs that this gateway did not send: restored, not normal
    assert [list(e.plan) for e in kinds(events, ev.NodePlan)] == [normal]
    assert [(e.alert_id, list(e.plan)) for e in restore[1:]] == [("", normal)]
    assert p.planner.normal_plan[2] == normal


def json_reply(request_id, value):
    import json
    return protocol.Reply(request_id, protocol.OK, json.dumps(value))


def test_recording_replays_to_the_same_alerts(tmp_path):
    streams = [synth.node_chunks(n, [video()] if n < 3 else [], t0_ns=T0, duration_s=15)
               for n in (1, 2, 3)]
    chunks = synth.merge(streams)
    path = tmp_path / "run.rec"
    w = record.RecordWriter(path, {"test": True})
    live = Pipeline(config.GatewayConfig())
    live_events = []
    for source in sorted({c.source for c in chunks}):
        w.open(source, chunks[0].t_ns)
        live_events += live.open_source(source, chunks[0].t_ns).events
    for c in chunks:  # split chunks as a port read might: the decoder must not care
        for part in (c.data[:7], c.data[7:]):
            w.data(c.source, c.t_ns, part)
            live_events += live.feed(c.source, c.t_ns, part).events
    w.close()
    header, records = record.read(path)
    assert header == {"test": True}
    replayed = []
    replay.feed(Pipeline(config.GatewayConfig()), records, on_events=replayed.extend)
    assert replayed == live_events
    assert kinds(replayed, ev.AlertRaised)


def test_store_keeps_events_and_derived_tables(tmp_path):
    _, events = run(synth.merge([synth.node_chunks(n, [video()], t0_ns=T0, duration_s=15)
                                 for n in (1, 2)]))
    st = store.Store(tmp_path / "gw.db")
    stored = st.write(events)
    assert [s.id for s in stored] == list(range(1, len(events) + 1))
    assert [s.event for s in stored] == events
    db = st.db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version(db) == len(store.MIGRATIONS)
    (n_alerts, cleared), = db.execute("SELECT COUNT(*), COUNT(cleared_ns) FROM alerts")
    assert (n_alerts, cleared) == (1, 1)
    assert db.execute("SELECT COUNT(*) FROM nodes WHERE online = 0").fetchone()[0] == 2
    got = store.query_events(db, kinds=["alert_raised", "alert_cleared"])
    assert [e["kind"] for e in got] == ["alert_raised", "alert_cleared"]
    last = store.query_events(db, kinds=["node_online", "node_offline"], node_id=1, limit=1)
    assert [e["kind"] for e in last] == ["node_offline"]
    st.close()
    assert store.schema_version(store.connect(tmp_path / "gw.db")) == len(store.MIGRATIONS)


def alert_raised(lo_khz, hi_khz, seer=9, family="analog_fm_video"):
    """An alert seen by node `seer` alone over lo_khz..hi_khz."""
    return ev.AlertRaised(T0, "T1", family, lo_khz, hi_khz, T0, T0, 1,
                          (ev.TrackNode(seer, -70.0, T0, T0),), "a1", "warning", "steady", T0, "",
                          "")


def test_the_nodes_that_see_an_alert_keep_their_plan():
    from straja.gateway.health import NodeHealth
    from straja.gateway.scanplan import ScanPlanner

    fe = {"name": "vid58", "kind": "rx5808", "band_khz": [5645000, 5945000], "settle_us": 25000}
    nodes = {}
    for node_id in (1, 2):
        nodes[node_id] = NodeHealth(node_id, 5 * S)
        nodes[node_id].online = True
        nodes[node_id].info = {"front_ends": [fe]}
    focus = ScanPlanner(config.GatewayConfig()).focus(alert_raised(5775000, 5815000, seer=1),
                                                      nodes, T0)
    assert [e.node_id for e in focus] == [2]


def test_focus_plans_are_ones_the_node_accepts():
    """A focus sweep waits out the front end's settle time and stays within the firmware's 1 s
    sweep limit (an RX5808 settles for 30 ms: 1 MHz steps over 34 MHz would take 1.04 s), and
    reaches the alert's width beyond its band on each side (a video over half the sweep would be
    learnt as the focused node's noise floor: gateway/scanplan.py)."""
    from straja.gateway.scanplan import ScanPlanner

    planner = ScanPlanner(config.GatewayConfig())
    info = {"front_ends": [
        {"name": "env58", "kind": "logdet", "band_khz": [5650000, 5950000], "settle_us": 0},
        {"name": "vid58", "kind": "rx5808", "band_khz": [5645000, 5945000], "settle_us": 30000},
    ]}
    entry = planner._entry(1, info, 5785316, 5819186)
    assert entry["front_end"] == "vid58" and entry["dwell_us"] >= 30000 + 500
    channels = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
    assert channels * entry["dwell_us"] <= 1_000_000
    width = 5819186 - 5785316
    assert entry["start_khz"] == 5785316 - width
    assert entry["stop_khz"] >= 5819186 + width - entry["step_khz"]


def test_focus_keeps_the_running_plans_revisit_within_the_sweep_limit():
    """A node whose running plan (its info reply's) reads the CC2500 twice per channel, in the
    interleaved order, gets a 2.4 GHz focus plan that does too, counting both reads in the 1 s
    limit; a node whose plans have neither gets a focus plan without them."""
    from straja.gateway.health import NodeHealth
    from straja.gateway.scanplan import ScanPlanner

    fe = {"name": "ism24", "kind": "cc2500", "band_khz": [2400000, 2483500], "settle_us": 900}
    running = {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2483475,
               "step_khz": 1325, "dwell_us": 1400, "revisit": 3, "interleave": 1}
    plain = {k: v for k, v in running.items() if k not in ("revisit", "interleave")}
    # 100 kHz steps: 708 channels x 1.4 ms fit 1 s once, not twice
    planner = ScanPlanner(config.GatewayConfig(alerts=config.AlertConfig(focus_step_khz=100)))
    nodes = {}
    for node_id, plan in ((1, [running]), (2, [plain]), (3, None)):
        nodes[node_id] = NodeHealth(node_id, 5 * S)
        nodes[node_id].online = True
        nodes[node_id].info = {"front_ends": [fe], **({"plan": plan} if plan else {})}
    planner.normal_plan[3] = [running]  # no plan in its info (older firmware): `get plan`'s
    alert = alert_raised(2400000, 2483500)
    focus = {e.node_id: e.plan[0] for e in planner.focus(alert, nodes, T0)}
    for node_id in (1, 3):
        entry = focus[node_id]
        assert entry["revisit"] == 3 and entry["interleave"] == 1 and entry["dwell_us"] == 1400
        channels = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
        assert 2 * channels * entry["dwell_us"] <= 1_000_000 < 4 * channels * entry["dwell_us"]
    assert not {"revisit", "interleave"} & set(focus[2]) and focus[2]["dwell_us"] == 1400
    # nodes 1 and 2 never answered `get plan`: their temporary focus plans lapse by themselves
    # (sending [] would store the default plan over whatever they store)
    restore = planner.restore(alert.alert_id, T0 + S)
    assert [(e.node_id, list(e.plan)) for e in restore] == [(3, [running])]


def test_focus_replaces_only_the_band_and_keeps_the_filter_step():
    """A 5.8 GHz video alert focuses the RX5808 entry alone: the node keeps scanning 2.4 GHz and
    sub-GHz (its drone's control link), and the focus never steps finer than the RX5808's 20 MHz
    filter. A running plan known only in brief (a channel list by its length) is not sent back:
    the stored plan is the base."""
    from straja.gateway.health import NodeHealth
    from straja.gateway.scanplan import ScanPlanner

    fes = [{"name": "vid58", "kind": "rx5808", "band_khz": [5645000, 5945000], "settle_us": 25000,
            "filter_khz": 20000},
           {"name": "ism24", "kind": "cc2500", "band_khz": [2400000, 2483500], "settle_us": 900,
            "filter_khz": 812}]
    video = {"front_end": "vid58", "start_khz": 5645000, "stop_khz": 5945000, "step_khz": 10000,
             "dwell_us": 25500}
    ism = {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2483475, "step_khz": 1325,
           "dwell_us": 1400, "revisit": 3}
    listed = {"front_end": "ism24", "channels": [2410000, 2440000, 2470000], "dwell_us": 1400}
    planner = ScanPlanner(config.GatewayConfig())
    nodes = {}
    for node_id, running in ((1, [video, ism]), (2, [video, {"front_end": "ism24", "n_channels": 3,
                                                             "dwell_us": 1400}])):
        nodes[node_id] = NodeHealth(node_id, 5 * S)
        nodes[node_id].online = True
        nodes[node_id].info = {"front_ends": fes, "plan": running}
    planner.normal_plan[2] = [video, listed]
    alert = alert_raised(5775000, 5815000)
    focus = {e.node_id: e.plan for e in planner.focus(alert, nodes, T0)}
    for node_id, other in ((1, ism), (2, listed)):
        entry, kept = focus[node_id]
        assert kept == other
        assert entry["front_end"] == "vid58" and entry["step_khz"] >= 20000
        assert entry["start_khz"] <= 5775000 and entry["stop_khz"] >= 5815000 - entry["step_khz"]


# a node's 2.4 GHz and sub-GHz front ends (info) and the default plan's entries for them
ISM_SUBG_FRONT_ENDS = [
    {"name": "ism24", "kind": "cc2500", "band_khz": [2400000, 2483500], "settle_us": 900,
     "filter_khz": 812},
    {"name": "subg", "kind": "sx1262", "band_khz": [863000, 928000], "settle_us": 300,
     "filter_khz": 0}]
ISM_SUBG_PLAN = [
    {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2483475, "step_khz": 1325,
     "dwell_us": 1400, "revisit": 3},
    {"front_end": "subg", "start_khz": 863000, "stop_khz": 927953, "step_khz": 1031,
     "dwell_us": 800}]


def test_a_hopper_is_focused_on_its_hop_plan_only_where_that_is_narrower_than_the_sweep():
    """A hopping control link is met as often on a sweep of part of its hop set as on the whole
    (gateway/scanplan.py): an ELRS 2.4 GHz link alerted over 2400-2465 MHz (its first hits), or
    over 5 MHz of the band, is not focused on (the neighbours kept their detection, where a focus
    made them lose the link for 13 s in fpv_approach_3km); an EU868 link seen on 2 MHz is,
    on the EU plan's 863-870 MHz in a sub-GHz sweep of 863-928 MHz (the CFAR window of 19
    channels, a third of the 64), an FCC link on 902-928 MHz."""
    from straja.gateway.health import NodeHealth
    from straja.gateway.scanplan import ScanPlanner

    fes, plan = ISM_SUBG_FRONT_ENDS, ISM_SUBG_PLAN
    planner = ScanPlanner(config.GatewayConfig())
    nodes = {2: NodeHealth(2, 5 * S)}
    nodes[2].online, nodes[2].info = True, {"front_ends": fes, "plan": plan}
    for lo, hi, family in ((2399337, 2465587, "lora_fhss"), (2440000, 2445000, "gfsk_fhss")):
        assert planner.focus(alert_raised(lo, hi, seer=1, family=family), nodes, T0) == []
    focus = planner.focus(alert_raised(865000, 867000, seer=1, family="lora_fhss"), nodes, T0)
    entry = focus[0].plan[1]
    assert entry["front_end"] == "subg" and entry["start_khz"] == 863000
    assert (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1 == 19
    planner.restore(None, T0)
    focus = planner.focus(alert_raised(910000, 911000, seer=1, family="gfsk_fhss"), nodes, T0)
    entry = focus[0].plan[1]
    assert entry["start_khz"] == 902000 and entry["stop_khz"] >= 928000 - entry["step_khz"]
    # video on the same part of the 2.4 GHz band is focused on: its channel is fixed
    planner.restore(None, T0)
    assert planner.focus(alert_raised(2399337, 2465587, seer=1, family="ofdm_video"), nodes, T0)


def test_a_focus_keeps_the_cfar_window_and_gains_something_or_is_not_sent():
    """A focus sweep has at least the detector's CFAR window of channels (2 x (8 training + 1
    guard) + 1 = 19 by default), centred on the alert, else the focused node has no noise
    reference and sees nothing; a node whose plan already sweeps the band no coarser and no
    longer (the RX5808 of the default plan: 16 channels at its 20 MHz filter) is not focused."""
    from straja.gateway.scanplan import ScanPlanner

    planner = ScanPlanner(config.GatewayConfig())
    fes = [{"name": "vid58", "kind": "rx5808", "band_khz": [5645000, 5945000], "settle_us": 25000,
            "filter_khz": 20000},
           {"name": "ism24", "kind": "cc2500", "band_khz": [2400000, 2483500], "settle_us": 900,
            "filter_khz": 812}]
    plan = [{"front_end": "vid58", "start_khz": 5645000, "stop_khz": 5945000, "step_khz": 20000,
             "dwell_us": 25500},
            {"front_end": "ism24", "start_khz": 2400000, "stop_khz": 2483475, "step_khz": 1325,
             "dwell_us": 1400, "revisit": 3}]
    info = {"front_ends": fes, "plan": plan}
    assert planner._entry(1, info, 5755000, 5775000) is None
    entry = planner._entry(1, info, 2440000, 2445000)
    assert entry["step_khz"] == 1000 and entry["revisit"] == 3
    assert (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1 == 19
    assert entry["start_khz"] + entry["stop_khz"] == 2440000 + 2445000



def test_a_wide_alert_fills_at_most_a_third_of_its_focus_sweep():
    """A focus restarts the node's noise floor, capped at the sweep's median: a 20 MHz video
    filling the focus sweep (2430-2451 MHz at 1 MHz steps, as before) was learnt as the noise
    and the focused nodes saw bursty pieces of it, named Wi-Fi. Its width is read beside it on
    each side; a hop plan is swept as it is (its hits are sparse: the median stays the noise)."""
    from straja.gateway.scanplan import ScanPlanner

    planner = ScanPlanner(config.GatewayConfig())
    fes, plan = ISM_SUBG_FRONT_ENDS, ISM_SUBG_PLAN
    info = {"front_ends": fes, "plan": plan}
    lo, hi = 2429812, 2451012
    entry = planner._entry(1, info, lo, hi)
    assert entry["start_khz"] <= lo - (hi - lo) and entry["stop_khz"] >= hi + (hi - lo) - 1000
    channels = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
    inside = (hi - lo) // entry["step_khz"] + 1
    assert 3 * inside <= channels + 2
    hop = planner._entry(1, info, 902000, 928000, hopper=True)
    assert (hop["start_khz"], hop["stop_khz"]) == (902000, 928000)

def test_a_drone_pausing_for_less_than_the_track_timeout_is_one_alert():
    """A drone seen for 10 minutes (an observation per 0.4 s sweep) with pauses of 2 s to just
    under the track timeout, each seen again (the core's first burst) before the timeout but
    confirmed up to 3 s later: one fused track, one alert raised, updated, cleared once, a track
    timeout plus the confirmation wait after the drone's last sighting; a drone seen again after
    a longer pause is a new track, which reopens the alert (the same id, within reacquire_s:
    tests/test_gateway_reopen.py)."""
    from straja.gateway.alerts import Alerts
    from straja.gateway.detector import Observation
    from straja.gateway.fusion import Fusion

    cfg = config.GatewayConfig()
    timeout_ns = int(cfg.fusion.track_timeout_s * S)
    end_ns = timeout_ns + int(cfg.fusion.confirm_wait_s * S)
    fusion, alerts = Fusion(cfg.fusion), Alerts(cfg.alerts, cfg.fusion.trend_db)
    events, t, n = [], T0, 0

    def expire(t):
        return [e for track in fusion.expire(t) for e in alerts.track_ended(track, t)]

    while t < T0 + 600 * S:
        n += 1
        gap = 400_000_000 if n % 25 else timeout_ns - [6, 4, 2, 1][n // 25 % 4] * S // 2 - 1
        confirm = 0 if n % 25 else [0, 1, 2, 3][n // 25 % 4] * S  # after the first burst
        events += expire(t + gap + confirm)
        track, _ = fusion.observe(Observation(1 + n % 2, "analog_fm_video", t + gap + confirm,
                                              5_790_000, 5_810_000, -70.0 - (n % 7), t + gap))
        t += gap + confirm
        events += alerts.track_updated(track, t)
    last = t
    for t in (last + end_ns - 1, last + end_ns):
        events += expire(t)
    raised, cleared = kinds(events, ev.AlertRaised), kinds(events, ev.AlertCleared)
    assert len(raised) == 1 and [(c.alert_id, c.t_ns) for c in cleared] == [
        (raised[0].alert_id, last + end_ns)]
    assert kinds(events, ev.AlertUpdated)  # the second node joined the same alert
    track, new = fusion.observe(Observation(1, "analog_fm_video", last + end_ns + S,
                                            5_790_000, 5_810_000, -70.0))
    back = alerts.track_updated(track, track.last_ns)
    assert new and [type(e) for e in back] == [ev.AlertUpdated]
    assert back[0].reopened and back[0].alert_id == raised[0].alert_id


def test_a_link_renamed_by_the_core_stays_one_alert():
    """A link first named a LoRa hopper, then a GFSK one as evidence accumulates (Crossfire
    among US915 devices): one alert, renamed once GFSK is told in more sweeps than LoRa was;
    video at the same time on another band is another alert."""
    from straja.gateway.alerts import Alerts
    from straja.gateway.detector import Observation
    from straja.gateway.fusion import Fusion

    cfg = config.GatewayConfig()
    fusion, alerts = Fusion(cfg.fusion), Alerts(cfg.alerts, cfg.fusion.trend_db)
    events, names = [], []
    for i, family in enumerate(["lora_fhss"] * 3 + ["gfsk_fhss"] * 4):
        for obs in (Observation(1, family, T0 + i * S, 863_000 + i * 500, 868_000, -80.0),
                    Observation(1, "analog_fm_video", T0 + i * S, 5_790_000, 5_810_000, -70.0)):
            track = fusion.observe(obs)[0]
            events += alerts.track_updated(track, obs.t_ns)
        names.append(fusion.tracks[0].family)
    assert names == ["lora_fhss"] * 6 + ["gfsk_fhss"]  # a tie keeps the name
    raised = kinds(events, ev.AlertRaised)
    assert sorted(a.family for a in raised) == ["analog_fm_video", "lora_fhss"]
    renamed = [u for u in kinds(events, ev.AlertUpdated) if u.family == "gfsk_fhss"]
    assert renamed and {u.alert_id for u in renamed} == {raised[0].alert_id}


def test_a_node_observing_a_link_in_more_sweeps_does_not_outvote_the_others():
    """Each node is one witness (elrs915_pauses_us915: the node beside US915 devices observes
    its core track, which gathered their hits too, in every sweep and names it GFSK, the two
    others LoRa in fewer): a control link's name is the family told in the largest share of
    each node's sweeps, summed over its nodes."""
    from straja.gateway.detector import Observation
    from straja.gateway.fusion import Fusion, told_share

    fusion = Fusion(config.GatewayConfig().fusion)
    for i in range(40):
        fusion.observe(Observation(3, "gfsk_fhss", T0 + i * S // 10, 902_000, 928_000, -60.0))
        if i % 4 == 0:
            for node in (1, 2):
                fusion.observe(Observation(node, "lora_fhss", T0 + i * S // 10, 903_000,
                                           927_000, -80.0))
    track = fusion.tracks[0]
    assert sum(sum(c.values()) for c in track.told.values()) == 60  # 40 GFSK to 20 LoRa
    assert track.family == "lora_fhss"
    assert (told_share(track, "lora_fhss"), told_share(track, "gfsk_fhss")) == (2.0, 1.0)


def test_a_control_link_is_named_by_its_most_told_family_video_by_its_latest():
    """A control link's hits split over several core tracks (ELRS EU868 among LoRaWAN devices):
    one of them named GFSK now and then does not rename the link, nor do held observations (the
    classifier did not vouch for them); video takes the core's latest name (its profile names
    it for good: Fusion.name)."""
    from straja.gateway.detector import Observation
    from straja.gateway.fusion import Fusion

    fusion = Fusion(config.GatewayConfig().fusion)
    link = []
    for i in range(12):
        family = "gfsk_fhss" if i % 3 == 2 else "lora_fhss"
        fusion.observe(Observation(1 + i % 2, family, T0 + i * S // 10, 866_000, 869_000, -80.0))
        link.append(fusion.tracks[0].family)
    assert set(link) == {"lora_fhss"} and fusion.tracks[0].told == {
        1: {"lora_fhss": 4, "gfsk_fhss": 2}, 2: {"lora_fhss": 4, "gfsk_fhss": 2}}
    for i in range(12, 22):  # held GFSK names: 8 to 4 still
        fusion.observe(Observation(1, "gfsk_fhss", T0 + i * S // 10, 866_000, 869_000, -80.0,
                                   held=True))
    assert fusion.tracks[0].family == "lora_fhss"
    for family in ("analog_fm_video", "analog_fm_video", "ofdm_video"):
        track, _ = fusion.observe(Observation(1, family, T0 + 3 * S, 5_790_000, 5_810_000, -70.0))
    assert track.family == "ofdm_video" and not track.told


def test_track_trend_follows_each_nodes_power_over_the_window():
    """A track's trend counts the nodes whose power rose (fell) by trend_db over the window;
    each node's trend is kept as its observations come and leave the window."""
    from straja.gateway.detector import Observation
    from straja.gateway.fusion import APPROACHING, LEAVING, STEADY, Fusion

    cfg = config.GatewayConfig().fusion
    fusion = Fusion(cfg)
    step = S // 2
    slopes = {1: 1.0, 2: 1.0, 3: -1.0, 4: 0.0}  # dB a step: two nodes nearer, one farther
    for k in range(40):
        for node, slope in slopes.items():
            track, _ = fusion.observe(Observation(node, "analog_fm_video", T0 + k * step + node,
                                                  5_790_000, 5_810_000, -80.0 + slope * k))
        for seen in track.nodes.values():
            assert seen.last_trend_db == seen.trend_db()
        if k >= 5:  # (newer half of the readings 3 dB over the older half)
            assert track.trend(cfg.trend_db) == APPROACHING
    assert len(track.nodes[1].history) == int(cfg.trend_window_s * S // step) + 1  # the window
    for k in range(40, 80):  # the two nearer nodes fade, the other two hold
        for node in slopes:
            fusion.observe(Observation(node, "analog_fm_video", T0 + k * step + node, 5_790_000,
                                       5_810_000, -80.0 + (39 - (k - 39) if node < 3 else 0)))
    assert track.trend(cfg.trend_db) == LEAVING
    for node in slopes:  # all hold: steady once the window has only flat readings
        for k in range(80, 120):
            fusion.observe(Observation(node, "analog_fm_video", T0 + k * step + node, 5_790_000,
                                       5_810_000, -60.0))
    assert track.trend(cfg.trend_db) == STEADY


class FakeClock:
    """replay's `time`: sleeping moves the clock on, instantly."""

    def __init__(self):
        self.now = 100.0
        self.slept = []

    def monotonic(self):
        return self.now

    def sleep(self, s):
        self.slept.append(s)
        self.now += s


def test_a_paced_replay_does_not_sleep_through_a_jump_in_the_recordings_times(monkeypatch):
    """Three hours without records (the gateway was stopped), then a clock set back by a minute:
    each gap is paced as gap_max_s and reported; the rest keeps its recorded pace, and the
    pipeline still gets the recorded times."""
    clock = FakeClock()
    monkeypatch.setattr(replay, "time", clock)
    times = [T0, T0 + S // 2, T0 + 3 * 3600 * S, T0 + 3 * 3600 * S + S,
             T0 + 3 * 3600 * S - 60 * S, T0 + 3 * 3600 * S - 59 * S]
    fed, gaps = [], []

    class Recorder(Pipeline):
        def feed(self, source, t_ns, data):
            fed.append((t_ns, clock.now))
            return super().feed(source, t_ns, data)

    replay.feed(Recorder(config.GatewayConfig()),
                [record.Record(record.DATA, "a", t, b"") for t in times], speed=2.0,
                gap_max_s=4.0, on_gap=lambda gap_s, t_ns: gaps.append((gap_s, t_ns)))
    assert [t for t, _ in fed] == times
    assert gaps == [(3 * 3600 - 0.5, times[2]), (-61.0, times[4])]
    walls = [w - 100.0 for _, w in fed]  # at speed 2: 0.25 s, a 4 s gap in 2 s, 0.5 s, ...
    assert walls == [0.0, 0.25, 2.25, 2.75, 4.75, 5.25]


def test_an_unpaced_replay_reports_no_gap(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(replay, "time", clock)
    gaps = []
    replay.feed(Pipeline(config.GatewayConfig()),
                [record.Record(record.DATA, "a", t, b"") for t in (T0, T0 + 3600 * S, T0)],
                on_gap=lambda gap_s, t_ns: gaps.append(gap_s))
    assert gaps == [] and clock.slept == []
