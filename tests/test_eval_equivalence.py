"""The evaluation's fast path (straja.eval.readings) gives the same RSSI codes as a real virtual
node (the firmware under MicroPython, its drivers talking to the virtual board) for the same scene,
board seed and read instants.

The seam: the virtual node's RF input is wrapped so that every band-power request of its chip
models is logged in order (front end, window end = the instant of the bus operation). Every chip
read makes one such request and one draw sequence from the board's generator, so the log gives
the fast path the exact read instants and their order."""
import time

import serial

from straja.eval.readings import EVAL_PLAN, READS_PER_CHANNEL, NodeReader, channels_khz
from straja.framing import Decoder
from straja.protocol import SWEEP
from straja.sim import load_scene
from straja.paths import SCENES
from straja.vnode.fleet import Fleet, NodeSpec, scene_rf

NODE_ID = 1  # Fleet seeds each board's generator with the node id
RUN_S = 4.0


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

    spec = NodeSpec("n1", NODE_ID, config={"stream_on_boot": True, "plan": EVAL_PLAN})
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

    names = [e["front_end"] for e in EVAL_PLAN]
    reader = NodeReader(scene, "n1", seed=NODE_ID)
    want = {}  # (plan entry, sweep number) -> codes
    for f in frames:
        k = names.index(reader.profile["front_ends"][f.body.front_end]["name"])
        want[k, f.body.sweep_id] = f.body.rssi
    # Replay the log in order (the draw order: the front ends' steps interleave), each front
    # end's tunes and readings at their logged instants.
    freqs = [channels_khz(e) for e in EVAL_PLAN]
    codes = [bytearray() for _ in names]
    tuned = [False] * len(names)
    got, pos = {}, 0
    while pos < len(log):
        k = names.index(log[pos][0])
        drv = reader.drivers[names[k]]
        khz = freqs[k][len(codes[k])]
        if drv.draws_per_tune and not tuned[k]:  # a tune step; its reading comes later
            reader.tune(names[k], khz, log[pos][1])
            tuned[k] = True
            pos += 1
            continue
        n_reads = READS_PER_CHANNEL[reader.kinds[names[k]]]
        reads = log[pos:pos + n_reads]
        if len(reads) < n_reads:
            break  # the node was stopped in the middle of a reading
        assert all(name == names[k] for name, _ in reads)  # a reading is one step
        times = [t for _, t in reads]
        if not drv.draws_per_tune:
            reader.tune(names[k], khz, times[0])
        codes[k].append(reader.read(names[k], times))
        tuned[k] = False
        pos += n_reads
        if len(codes[k]) == len(freqs[k]):
            got[k, sum(1 for key in got if key[0] == k)] = bytes(codes[k])
            codes[k] = bytearray()
    compared = [s for s in want if s in got]
    assert len(compared) >= 6
    for s in compared:
        assert got[s] == want[s], f"sweep {s[1]} of {names[s[0]]} differs"
    assert {k for k, _ in compared} == set(range(len(names)))
    # the emitter of the scene is switched on from 5 s: make sure the codes are not all noise
    assert len({c for s in compared for c in want[s]}) > 5
