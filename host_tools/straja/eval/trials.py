"""Detection trials: one drone link switched on near a node of the quiet site, with random
geometry, hop seed and board seed, at a chosen received power; scored against ground truth.

The received power is set through the emitter's EIRP at a random position (its path loss and
shadowing computed by the scene's own model), so that trials span a range of power over the
node's noise floor at switch-on: the SNR one reading of the front end that watches the band could
show, as the scored scenes hear a drone (straja.eval.scenes.Hearing: the share of a transmission
in the front end's channel filter over the noise in that filter).
"""
from __future__ import annotations

import math
import random
from typing import NamedTuple

from ..paths import SCENES
from ..gateway.events import AlertRaised
from ..sim.emitters import drone_family
from ..sim.scene import scene_from_dict
from ..sim.truth import records
from .readings import EVAL_PLAN
from .run import run_session
from .scenes import Hearing, matched_widths
from .score import Outcome, first_alert

NODE = "n1"
SWEEP_LATENCY_S = 0.01  # at least a SWEEP frame's delay from its sweep's end to the gateway
T_ON_S = (4.0, 6.0)   # switch-on time, uniform: the node has learnt its noise floor by then


class Family(NamedTuple):
    name: str
    label: str
    emitter: dict          # scene emitter fields (kind and the kind's own)
    front_end: str         # the board front end watching its band
    target_s: float        # switch-on to confirmed alert within this...
    target_pd: float       # ...in at least this share of trials at TARGET_SNR_DB
    altitude_m: float      # control links at the pilot on the ground, video on the drone

    @property
    def expect(self) -> str:
        """The link family the classifier should name."""
        return drone_family(self.emitter["kind"], self.emitter)


TARGET_SNR_DB = 10.0
FAMILIES = [
    Family("elrs_2g4", "ExpressLRS 2.4 GHz 150 Hz", {"kind": "elrs", "domain": "ISM2G4", "rate": "150"},
           "ism24", 2.0, 0.95, 1.5),
    Family("analog_video", "analog 5.8 GHz video", {"kind": "analog_video"},
           "vid58", 2.0, 0.95, 60.0),
    Family("elrs_900", "ExpressLRS 900 MHz 25 Hz", {"kind": "elrs", "domain": "FCC915", "rate": "25"},
           "subg", 10.0, 0.90, 1.5),
    Family("crossfire", "Crossfire 915 MHz 150 Hz", {"kind": "crossfire", "band": "915", "mode": "150"},
           "subg", 10.0, 0.90, 1.5),
]
VIDEO_CHANNELS = ["R%d" % i for i in range(1, 9)] + ["F%d" % i for i in range(1, 9)]


class Trial(NamedTuple):
    family: Family
    seed: int
    snr_db: float          # wanted power over the noise floor


def dedicated_plan(fam: Family) -> list[dict]:
    """The evaluation plan cut to the one entry watching the family's band: what the node would
    see with a receiver of its own per band (the scan plan's cost in revisit time)."""
    return [e for e in EVAL_PLAN if e["front_end"] == fam.front_end]


def _scene(fam: Family, trial_seed: int, rng: random.Random, eirp: float, t_on: float,
           t_end: float):
    em = {"name": fam.name, **fam.emitter, "eirp_dbm": eirp, "on": [[t_on, t_end + 1.0]]}
    if fam.emitter["kind"] == "elrs":
        em["uid_seed"] = rng.randrange(2 ** 32)
    if fam.emitter["kind"] == "analog_video":
        em["channel"] = rng.choice(VIDEO_CHANNELS)
    d, a = rng.uniform(300.0, 3000.0), rng.uniform(0.0, 2 * math.pi)
    em["position_m"] = [d * math.cos(a), d * math.sin(a), fam.altitude_m]
    data = {"scene": {"name": f"trial_{fam.name}_{trial_seed}", "seed": trial_seed,
                      "duration_s": t_end, "include": ["quiet_rural.toml"]}, "emitter": [em]}
    return scene_from_dict(data, source=f"<trial {fam.name} {trial_seed}>", base=SCENES)


def build(trial: Trial, horizon_s: float):
    """The trial's scene (emitter EIRP set for the wanted power at switch-on), its switch-on time
    from the ground truth, and the received power over the floor actually reached."""
    fam = trial.family
    t_on = random.Random(trial.seed).uniform(*T_ON_S)
    t_end = t_on + horizon_s

    def make(eirp):
        return _scene(fam, trial.seed, random.Random(trial.seed), eirp, t_on, t_end)

    def snr(scene):
        e = len(scene.emitters) - 1
        # its first stream (a link's packets, the video) as sent in its first second
        bw_hz = matched_widths(scene.emitters[e], 0.0, math.inf, t_on, t_on + 1.0)[0]
        return Hearing(scene).snr_at(e, 0, bw_hz, NODE, t_on, fam.front_end)

    probe = make(20.0)
    scene = make(20.0 + trial.snr_db - snr(probe))
    on = [r for r in records(scene, 0.0, t_end, sample_s=t_end) if r["type"] == "on"]
    return scene, on[0]["t0"], snr(scene)


def run_trial(trial: Trial, horizon_s: float, detect: dict | None = None, plan=EVAL_PLAN,
              settled_s: float | None = None):
    """(Outcome, Session, switch-on time) of one trial; the node is switched on at t = 0.
    settled_s: the run ends once the outcome is settled, an alert raised after switch-on and
    the sweeps of settled_s after it read (the first alert is the outcome; the sweeps, the
    baseline's hits within settled_s), not at the horizon."""
    scene, t_on, snr = build(trial, horizon_s)
    until = None
    if settled_s is not None:
        # a frame arrives SWEEP_LATENCY_S after its sweep ends: later ones hold none before
        t_settled = t_on + settled_s + SWEEP_LATENCY_S

        def until(events, t_s):
            return t_s > t_settled and any(isinstance(e, AlertRaised) and e.t_ns / 1e9 >= t_on
                                           for e in events)
    session = run_session(scene, NODE, t_on + horizon_s, seed=trial.seed, detect=detect,
                          plan=plan, until=until)
    t_alert, family = first_alert(session.events, t_on)
    return Outcome(trial.family.name, snr, t_alert, family), session, t_on
