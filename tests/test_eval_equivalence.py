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
    per_channel = [READS_PER_CHANNEL[reader.kinds[n]] + reader.drivers[n].draws_per_tune
                   for n in names]
    want = {}  # sweep number since boot -> codes
    for f in frames:
        k = names.index(reader.profile["front_ends"][f.body.front_end]["name"])
        want[f.body.sweep_id * len(names) + k] = f.body.rssi
    # Replay every sweep from boot on in order (draw order), at the logged instants.
    got, pos, sweep = {}, 0, 0
    while sweep <= max(want):
        k = sweep % len(names)
        codes = bytearray()
        for khz in channels_khz(EVAL_PLAN[k]):
            tunes = [log[pos + i][1] for i in range(reader.drivers[names[k]].draws_per_tune)]
            reads = [t for name, t in log[pos + len(tunes):pos + per_channel[k]]]
            assert all(name == names[k] for name, _ in log[pos:pos + per_channel[k]])
            codes.append(reader.channel(names[k], khz, tunes[0] if tunes else reads[0], reads))
            pos += per_channel[k]
        got[sweep] = bytes(codes)
        sweep += 1
    compared = [s for s in want if s in got]
    assert len(compared) >= 6
    for s in compared:
        assert got[s] == want[s], f"sweep {s} ({names[s % len(names)]}) differs"
    # the emitter of the scene is switched on from 5 s: make sure the codes are not all noise
    assert len({c for s in compared for c in want[s]}) > 5
