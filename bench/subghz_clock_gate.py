"""A sub-GHz link's packet clock as a gate on the GFSK names, replayed (docs/measured/res101.md;
built since, docs/measured/res105.md): a scene run and scored as `straja eval --scene` does
(`straja.eval.scenes.run_scene`, `score_scene`), or the evaluation's +10 dB trials of a family
(`straja.eval.trials.run_trial`), with two wrappers around main's detector:

- every hit a sub-GHz core track takes (`tracks.Tracker.process`) adds the unit phasor of its
  time t modulo each link's packet period P (PERIODS_S), t = its sweep's start plus its
  channel's place in the sweep (t_us + (bin + 0.5) duration_us / n_bins: channels are read in
  order, `eval/readings.py`);
- a sub-GHz track `classify._scanned_hopper` names GFSK FHSS keeps the name only when its
  Rayleigh statistic Z = n R^2 (R the phasors' mean length) reaches --zmin at one period;
  `unknown` otherwise. A link's hits fall within its airtime's share of its cycle (R about
  the sinc of that share: 0.83 at Crossfire 150 Hz's third); hits at random times give Z
  exponential, P(Z >= z) = e^-z a period.

The detector's own clock gate (built by res105: `classify.CLOCK_MIN_Z`, the tracker's
`clock_z`) is switched off while the replay's applies, so --zmin 0 is the detector without the
clock gate (main before res105; the same harness).
Printed: per scene the JSON object of `straja eval --scene --json`; with --trials, each trial's
seed, time to its first alert after switch-on and family, then the count in time and named right.

    .venv/bin/python bench/subghz_clock_gate.py SCENE... [--seed N] [--zmin Z]
    .venv/bin/python bench/subghz_clock_gate.py --trials FAMILY N SEED0 [--zmin Z]

Not run by run_all.py (not a bench_*.py): a tool for a sub-GHz clock rule.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host_tools"))

from straja.argtypes import non_negative_float  # noqa: E402
from straja.detect import classify, pipeline, tracks  # noqa: E402
from straja.eval import scenes, trials  # noqa: E402
from straja.eval.evaluate import EVAL_DETECT  # noqa: E402
from straja.sim.scene import SceneError, load_scene  # noqa: E402

# Packet periods of the sub-GHz links (docs/scenes.md's models): ExpressLRS 900 at 200, 100, 50
# and 25 Hz (common.cpp), Crossfire 150 Hz GFSK and 50 Hz LoRa, FrSky R9 (FrSkyR9_sx1276.ino).
PERIODS_S = np.array([5e-3, 10e-3, 20e-3, 40e-3, 1 / 150, 19.4e-3])
SUBGHZ_KHZ = (800e3, 1000e3)


class ClockGate:
    """The wrappers (installed by `install`): the phasor sums of every sub-GHz core track, by
    (tracker, track id), and the gate on the GFSK names at `zmin`."""

    def __init__(self, zmin: float):
        self.zmin = zmin
        self.sums: dict = {}      # (id(tracker), track id) -> [n, sum cos (K), sum sin (K)]
        self.counted: dict = {}   # (id(tracker), track id) -> its n_bursts last counted
        self.geometry = (1, 0.0)  # (n_bins, sweep duration us) of the sweep being processed
        self.tracker = 0          # id() of the tracker whose tracks are being classified

    def z(self, track_id: int) -> float:
        """The largest Rayleigh statistic over PERIODS_S of a track of the current tracker."""
        s = self.sums.get((self.tracker, track_id))
        return float(((s[1] ** 2 + s[2] ** 2) / s[0]).max()) if s else 0.0

    def count(self, tracker, bursts: np.ndarray) -> None:
        """Add the read time of the hit each sub-GHz track took from `bursts` (its last: one
        sweep a call in the evaluation)."""
        n_bins, duration_us = self.geometry
        read_s = {}
        for b in bursts:
            if SUBGHZ_KHZ[0] < b["centre_khz"] < SUBGHZ_KHZ[1]:
                place = 0.5 * (b["bin_lo"] + b["bin_hi"]) + 0.5
                read_s[(int(b["t_start_us"]), float(b["centre_khz"]))] = (
                    b["t_start_us"] + place * duration_us / n_bins) / 1e6
        if not read_s:
            return
        for row in tracker.snapshot():
            key = (id(tracker), int(row["track_id"]))
            if self.counted.get(key) == int(row["n_bursts"]):
                continue
            self.counted[key] = int(row["n_bursts"])
            t = read_s.get((int(row["t_last_start_us"]), float(row["f_last_khz"])))
            if t is not None:
                s = self.sums.setdefault(key, [0, np.zeros(PERIODS_S.size),
                                               np.zeros(PERIODS_S.size)])
                phase = 2 * np.pi * t / PERIODS_S
                s[0] += 1
                s[1] += np.cos(phase)
                s[2] += np.sin(phase)

    def install(self) -> None:
        """Wrap the pipeline's later stages (the sweep's geometry), its classification (which
        tracker), the tracker (the hits) and the scanned-hopper rule (the gate)."""
        gate = self
        later, class_rows = pipeline.Pipeline._later_stages, pipeline.Pipeline.class_rows
        process, rule = tracks.Tracker.process, classify._scanned_hopper

        def later_stages(pipe, n, n_det, power, det, noise, cut, t_us, duration_us, *rest):
            gate.geometry = (pipe.n_bins, float(duration_us[n - 1]))
            return later(pipe, n, n_det, power, det, noise, cut, t_us, duration_us, *rest)

        def classes(pipe, snap):
            gate.tracker = id(pipe.tracker)
            return class_rows(pipe, snap)

        def tracked(tracker, bursts, t_now_us):
            events = process(tracker, bursts, t_now_us)
            if gate.zmin > 0 and bursts.size:
                gate.count(tracker, bursts)
            return events

        def gated(f, scan, where):
            family, why = rule(f, scan, where)
            if gate.zmin > 0 and where == "subghz" and family == "gfsk_fhss":
                z = gate.z(int(f["track_id"]))
                if z < gate.zmin:
                    return "unknown", why + f"; hits not clocked to a link's packets (Z {z:.1f})"
            return family, why

        classify.CLOCK_MIN_Z = 0.0  # the built gate off: this replay's applies (module doc)
        pipeline.Pipeline._later_stages, pipeline.Pipeline.class_rows = later_stages, classes
        tracks.Tracker.process, classify._scanned_hopper = tracked, gated


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenes", nargs="*", help="scene files, each scored as straja eval --scene")
    ap.add_argument("--seed", type=int, help="every scene run with this seed instead of its own")
    ap.add_argument("--zmin", type=non_negative_float, default=6.0,
                    help="Rayleigh Z a GFSK name needs at one period (0: main's detector)")
    ap.add_argument("--trials", nargs=3, metavar=("FAMILY", "N", "SEED0"),
                    help="the +10 dB trials of FAMILY (straja.eval.trials), seeds SEED0..+N-1")
    args = ap.parse_args(argv)
    if not args.scenes and not args.trials:
        ap.error("give scene files or --trials")
    try:  # a scene that does not load: a message, exit 2, before any is run
        loaded = [load_scene(path, seed=args.seed) for path in args.scenes]
    except SceneError as e:
        ap.error(str(e).strip('"'))
    ClockGate(args.zmin).install()
    for scene in loaded:
        run = scenes.run_scene(scene)
        rows, false_rate, _ = scenes.score_scene(scene, run, scene.name)
        print(json.dumps({"emitters": rows,
                          "false_alerts_per_node_hour": {scene.name: false_rate}}))
    if args.trials:
        name, n, seed0 = args.trials[0], int(args.trials[1]), int(args.trials[2])
        fam = next(f for f in trials.FAMILIES if f.name == name)
        in_time = named = 0
        for seed in range(seed0, seed0 + n):
            out, _, _ = trials.run_trial(trials.Trial(fam, seed, trials.TARGET_SNR_DB),
                                         fam.target_s, EVAL_DETECT)
            ok = out.t_alert_s <= fam.target_s
            in_time += ok
            named += ok and out.predicted == fam.expect
            print(seed, round(out.t_alert_s, 2), out.predicted, flush=True)
        print(f"{name} zmin {args.zmin:g}: {in_time}/{n} in time, {named} named right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
