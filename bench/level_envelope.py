"""A channel's lower envelope judged per level band, replayed on a scene's 5.8 GHz readings
(docs/measured/late76.md; not a rule of the detector): a scene run through the gateway
(`straja.eval.scenes.run_scene`, all nodes, adaptive scanning on), each RX5808 sweep that reaches
the core's later stages recorded (every channel's reading over the band's floor, the lower median
of the sweep's noise, and whether it was detected); then per node and scan channel, from --after
s on, the first sweep where

- a run of at least STAND_MIN_SWEEPS sweeps stood (detected and read `level` dB or more over the
  floor) at a level band (3 dB steps from STAND_DB) whose past share of such sweeps
  (`up_before`, an EWMA at 1 / HISTORY_SWEEPS unbiased by its start, taken when the run began,
  after HISTORY_MIN_SWEEPS) makes the run a chance of STAND_CHANCE or less (`any`), and
- the same, its readings over the run changing sweep to sweep no more than a clean streak's
  (`steady`: sqrt(sum of squared changes / 2 (n - 1)) at most STREAK_SD_SHARE x STEADY_MAX_SD_DB).

det55's rule (`Pipeline._standing_named`) judges the run at STAND_DB only; the bands above it are
what this replays. Sweeps that never reach the later stages (nothing detected) stood nowhere:
they are counted from the gaps between recorded sweeps, a sweep period apart (the median gap).

    .venv/bin/python bench/level_envelope.py SCENE [--seed N] [--until S] [--after S]

Not run by run_all.py (not a bench_*.py): a tool for a change to the steadiness split.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host_tools"))

from straja.argtypes import non_negative_float  # noqa: E402
from straja.detect import pipeline  # noqa: E402
from straja.detect.classify import STEADY_MAX_SD_DB, STREAK_SD_SHARE  # noqa: E402
from straja.eval.scenes import run_scene  # noqa: E402
from straja.gateway import detector  # noqa: E402
from straja.sim.scene import SceneError, load_scene  # noqa: E402

BAND_STEP_DB = 3.0
N_BANDS = 10  # STAND_DB to 30 dB over the floor
VIDEO_KHZ = 5.6e6  # RX5808 plans start above this


def record(scene, until_s: float | None) -> dict[int, list[tuple]]:
    """Per node id, its 5.8 GHz sweeps that reached the later stages: (t_s, start_khz, step_khz,
    reading dB over the band's floor per bin, detected per bin)."""
    sweeps: dict[int, list[tuple]] = {}
    now = {"node": 0, "t_s": 0.0}
    detected, later = detector.NodeDetector.detected, pipeline.Pipeline._later_stages

    def detected_at(self, st, offset_ns):
        t_us = np.atleast_1d(st.core.stages.t_us)
        now["node"], now["t_s"] = self.node_id, (float(t_us[-1]) + st.paused_us) / 1e6
        return detected(self, st, offset_ns)

    def later_recorded(self, n, n_det, power, det, noise, *rest):
        if self._split is not None and noise is not None and self._start_khz > VIDEO_KHZ:
            for s in range(power.shape[0]):
                floor = np.sort(noise[s].astype(np.float64))[(power.shape[1] - 1) // 2]
                db = 10 * np.log10(np.maximum(power[s].astype(np.float64), 1e-30) / floor)
                sweeps.setdefault(now["node"], []).append(
                    (now["t_s"], self._start_khz, self._step_khz, db, det[s] != 0))
        return later(self, n, n_det, power, det, noise, *rest)

    detector.NodeDetector.detected = detected_at
    pipeline.Pipeline._later_stages = later_recorded
    try:
        run_scene(scene, t_end_s=until_s)
    finally:
        detector.NodeDetector.detected, pipeline.Pipeline._later_stages = detected, later
    return sweeps


def first_passes(sweeps: list[tuple], after_s: float = 0.0) -> list[tuple]:
    """One node's recorded sweeps (record()'s tuples, one plan) -> (freq_mhz, kind, t_s, level_db,
    run, up_before) of the first pass of each kind ('any', 'steady') per bin, in time order."""
    t = np.array([s[0] for s in sweeps])
    period = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    index = {int(round((s[0] - t[0]) / period)): s for s in sweeps}
    n_bins = len(sweeps[0][3])
    freqs_mhz = (sweeps[0][1] + sweeps[0][2] * np.arange(n_bins)) / 1e3
    levels = pipeline.STAND_DB + BAND_STEP_DB * np.arange(1, N_BANDS)
    fresh = 1.0 / pipeline.HISTORY_SWEEPS
    up = np.zeros((len(levels), n_bins))
    run = np.zeros((len(levels), n_bins), np.int64)
    up_before = np.full((len(levels), n_bins), np.nan)
    squares = np.zeros((len(levels), n_bins))
    last_db = np.zeros(n_bins)
    first: dict[tuple, tuple] = {}
    for k in range(max(index) + 1):
        sweep = index.get(k)
        db = sweep[3] if sweep is not None else np.full(n_bins, -np.inf)
        hot = sweep[4] if sweep is not None else np.zeros(n_bins, bool)
        stands = hot[None, :] & (db[None, :] >= levels[:, None])
        if k >= pipeline.HISTORY_MIN_SWEEPS:
            begins = stands & (run == 0)
            up_before[begins] = (up / (1.0 - (1.0 - fresh) ** k))[begins]
        change = np.where(hot, np.abs(db - last_db), 0.0)[None, :]
        squares = np.where(stands & (run > 0), squares + change ** 2, 0.0)
        run = np.where(stands, run + 1, 0)
        last_db = np.where(hot, db, last_db)
        up = np.where(stands, up * (1.0 - fresh) + fresh, up * (1.0 - fresh))
        t_s = t[0] + k * period
        if t_s < after_s:
            continue
        with np.errstate(invalid="ignore"):
            passed = ((run >= pipeline.STAND_MIN_SWEEPS)
                      & (up_before ** run <= pipeline.STAND_CHANCE))
        for band, b in zip(*np.nonzero(passed)):
            sd = np.sqrt(squares[band, b] / (2 * (run[band, b] - 1)))
            found = (t_s, float(levels[band]), int(run[band, b]), float(up_before[band, b]))
            first.setdefault((b, "any"), found)
            if sd <= STREAK_SD_SHARE * STEADY_MAX_SD_DB:
                first.setdefault((b, "steady"), found)
    return sorted(((float(freqs_mhz[b]), kind) + found for (b, kind), found in first.items()),
                  key=lambda row: row[2])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scene")
    ap.add_argument("--seed", type=int, help="run the scene with this seed instead of its own")
    ap.add_argument("--until", type=non_negative_float, help="s of scene run (default: all of it)")
    ap.add_argument("--after", type=non_negative_float, default=0.0,
                    help="passes from this time on (s)")
    args = ap.parse_args(argv)
    try:  # a scene that does not load: a message, exit 2
        scene = load_scene(args.scene, seed=args.seed)
    except SceneError as e:
        ap.error(str(e))
    for node, sweeps in sorted(record(scene, args.until).items()):
        for freq, kind, t_s, level, n, before in first_passes(sweeps, args.after):
            print(f"node {node} {freq:.0f} MHz {kind}: {t_s:.2f} s, {n} sweeps at {level:.0f} dB, "
                  f"up_before {before:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
