"""The evaluation's fast path (straja.eval.readings: the firmware's drivers on CPython, on a
virtual-time bus) gives the same RSSI codes as a real virtual node (the firmware under MicroPython,
its drivers talking to the virtual board over its socket) for the same scene, board seed and read
instants.

The seam: the virtual node's RF input is wrapped so that every band-power request of its chip
models is logged in order (front end, window end = the instant of the bus operation). Every chip
read makes one such request and one draw sequence from the board's generator, so the log gives
the fast path the exact read instants and their order.

The CC2500 entry revisits (plan key "revisit": 4): its slots follow readings.slot_channels, each
code is the lower of its channel's two readings and the frames carry the REVISIT flag."""
import time

import serial

from straja.eval.readings import EVAL_PLAN, NodeReader, channels_khz, slot_channels
from straja.framing import Decoder
from straja.protocol import FLAG_OVERRUN, FLAG_REVISIT, FLAG_SATURATED, SWEEP
from straja.sim import load_scene
from straja.paths import SCENES
from straja.vnode.fleet import Fleet, NodeSpec, scene_rf

NODE_ID = 1  # Fleet seeds each board's generator with the node id
RUN_S = 4.0
PLAN = [dict(e, revisit=4) if e["front_end"] == "ism24" else e for e in EVAL_PLAN]
# the chip model that makes an RF request at a retune: the RX5808's (the RSSI voltage it leaves)
DRAWS_AT_TUNE = {"vid58"}


class Recorder:
    """An RF input that logs each request (front end, t1) and passes it on."""

    def __init__(self, name, rf, log):
        self.name, self.rf, self.log = name, rf, log

    def band_power_dbm(self, freq_hz, bw_hz, t0_s, t1_s):
        self.log.append((self.name, t1_s))
        return self.rf.band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)


def run_virtual_node(scene):
    log = []

    def rf_for(name, profile):
        return {fe: Recorder(fe, rf, log) for fe, rf in scene_rf(scene, name, profile).items()}

    spec = NodeSpec("n1", NODE_ID, config={"stream_on_boot": True, "plan": PLAN})
    frames = []
    with Fleet([spec], rf_for, t_origin=time.monotonic()) as fleet:
        decoder = Decoder()
        with serial.Serial(fleet.nodes[0].port, 115200, timeout=0.1) as port:
            end = time.monotonic() + RUN_S
            while time.monotonic() < end:
                frames += [f for f in decoder.feed(port.read(4096))
                           if getattr(f, "type", None) == SWEEP]
    return frames, list(log)


def test_fast_path_gives_the_virtual_nodes_codes():
    scene = load_scene(SCENES / "elrs_2g4_alone.toml")
    frames, log = run_virtual_node(scene)
    assert len(frames) >= 6, "the virtual node streamed too few sweeps"

    names = [e["front_end"] for e in PLAN]
    reader = NodeReader(scene, "n1", seed=NODE_ID)
    # the fast path's flags per front end (a sweep of its own reader: the flags do not depend
    # on the readings, except SATURATED, which the replay below adds)
    fast_flags = {r.front_end: r.flags
                  for r in NodeReader(scene, "n1", seed=NODE_ID, rf=reader.rf).sweeps(PLAN, 0, 0)}
    want = {}  # (plan entry, sweep number) -> (codes, flags)
    for f in frames:
        k = names.index(reader.profile["front_ends"][f.body.front_end]["name"])
        # OVERRUN says the node was late (a loaded machine), which the fast path never is
        want[k, f.body.sweep_id] = f.body.rssi, f.body.flags & ~FLAG_OVERRUN
    # Replay the log in order (the draw order: the front ends' steps interleave), each front
    # end's tunes and readings at their logged instants, its channels in slot order.
    freqs = [channels_khz(e) for e in PLAN]
    slots = [slot_channels(len(f), e.get("revisit", 0)) for f, e in zip(freqs, PLAN)]
    codes = [[] for _ in names]  # the readings of each sweep in progress, one per slot
    tuned = [False] * len(names)
    got, pos = {}, 0
    while pos < len(log):
        k = names.index(log[pos][0])
        tune_draws = names[k] in DRAWS_AT_TUNE
        khz = freqs[k][slots[k][len(codes[k])]]
        if tune_draws and not tuned[k]:  # a tune step; its reading comes later
            reader.tune(names[k], khz, log[pos][1])
            tuned[k] = True
            pos += 1
            continue
        n_reads = len(reader.read_times(names[k], 0.0))
        reads = log[pos:pos + n_reads]
        if len(reads) < n_reads:
            break  # the node was stopped in the middle of a reading
        assert all(name == names[k] for name, _ in reads)  # a reading is one step
        times = [t for _, t in reads]
        if not tune_draws:
            reader.tune(names[k], khz, times[0])
        codes[k].append(reader.read(names[k], times))
        tuned[k] = False
        pos += n_reads
        if len(codes[k]) == len(slots[k]):
            lowest, first = {}, {}
            for ch, code in zip(slots[k], codes[k]):
                first.setdefault(ch, code)
                lowest[ch] = min(lowest.get(ch, 255), code)
            fe = reader.index[names[k]]
            flags = fast_flags[fe] | (FLAG_SATURATED if 255 in codes[k] else 0)
            chans = range(len(freqs[k]))  # REVISIT: the held codes, then the first reads
            wire = bytes(lowest[ch] for ch in chans) + (
                bytes(first[ch] for ch in chans) if flags & FLAG_REVISIT else b"")
            got[k, sum(1 for key in got if key[0] == k)] = (wire, flags)
            codes[k] = []
    compared = [s for s in want if s in got]
    assert len(compared) >= 6
    for s in compared:
        assert got[s] == want[s], f"sweep {s[1]} of {names[s[0]]} differs"
    assert {k for k, _ in compared} == set(range(len(names)))
    assert {want[s][1] for s in compared if names[s[0]] == "ism24"} == {FLAG_REVISIT}
    # the emitter of the scene is switched on from 5 s: make sure the codes are not all noise
    assert len({c for s in compared for c in want[s][0]}) > 5
