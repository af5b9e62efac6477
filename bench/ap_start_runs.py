"""How often a 5 GHz access point's first sweeps at a node read as video (docs/measured/wifi87.md;
not a rule of the detector): a Monte Carlo of the simulator's access point traffic
(`straja.sim.emitters.WiFi`: frames of exponential airtime, mean `frame_s`, capped at 5 ms,
exponential idle gaps setting the load) read through the RX5808's RSSI window
(`straja.vboard.chips.Rx5808.WINDOW_S`, 1 ms), one read a sweep (sweeps ~0.41 s apart, so the
reads are independent). A reading is 1 + f S over the noise (f the share of the window the
frames fill, S the access point's power over the noise), hot over --hot-db.

Printed per load and S: the share of sweeps hot; the odds that a node's first
`classify.STEADY_MIN_BURSTS` reads are all hot and pass `classify._steady`'s early level test
(their scatter from successive changes, as the tracker's `level_sd_db`, as the emitter's own,
`classify._own_sd`, within `classify.STEADY_EARLY_SD_DB`): a start-up run named video; the odds
of 16 and of 64 sweeps hot running (the streak rules' evidence); and, with a second read of the
channel in the same dwell (another fill of the frames), the odds that the start-up run passes
with every read pair within --pair-db (video reads the same twice).

    .venv/bin/python bench/ap_start_runs.py [--loads 0.2 0.3 0.5 0.8] [--levels-db 6 26]
        [--trials 50000] [--hot-db 1.0] [--pair-db 1.0] [--seed 87]

Not run by run_all.py (not a bench_*.py): a tool for the access points' start-up runs.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host_tools"))

from straja.detect import classify  # noqa: E402
from straja.sim.emitters import WiFi  # noqa: E402
from straja.vboard.chips import Rx5808  # noqa: E402

FRAME_CAP_S = 5e-3  # WiFi._generate's cap on a frame's airtime
RUN = classify.STEADY_MIN_BURSTS


def fills(rng, load: float, n: int, frame_s: float, window_s: float) -> np.ndarray:
    """The share of each of n read windows, at random times, the access point's frames fill."""
    idle_s = frame_s * (1 - load) / load
    out = np.empty(n)
    for i in range(n):
        on = rng.random() < load  # a window starts inside a frame with odds the load
        left = rng.exponential(frame_s if on else idle_s)  # memoryless: the rest of that state
        t = filled = 0.0
        while t < window_s:
            step = min(left, window_s - t)
            filled += step if on else 0.0
            t += step
            on = not on
            left = min(rng.exponential(frame_s), FRAME_CAP_S) if on else rng.exponential(idle_s)
        out[i] = filled / window_s
    return out


def start_runs(fill: np.ndarray, level_db: float, hot_db: float) -> tuple[np.ndarray, np.ndarray]:
    """Readings (dB over the noise) of runs of RUN reads (rows) with these fills, and whether
    each run is all hot and passes the early level test."""
    readings = 10 * np.log10(1 + fill * 10 ** (level_db / 10))
    sd = np.sqrt((np.diff(readings, axis=1) ** 2).sum(axis=1) / (2 * (RUN - 1)))
    own = np.array([classify._own_sd(s, last) for s, last in zip(sd, readings[:, -1])])
    named = (readings > hot_db).all(axis=1) & (own <= classify.STEADY_EARLY_SD_DB)
    return readings, named


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", type=float, nargs="+", default=[0.2, 0.3, 0.5, 0.8],
                    help="access points' traffic loads (0 < load < 1)")
    ap.add_argument("--levels-db", type=float, nargs="+", default=[6.0, 26.0],
                    help="the access point's power over the noise, dB")
    ap.add_argument("--trials", type=int, default=50_000, help="start-up runs a load")
    ap.add_argument("--hot-db", type=float, default=1.0,
                    help="a reading hot over this, dB over the noise (CFAR at 470 looks)")
    ap.add_argument("--pair-db", type=float, default=1.0,
                    help="a read pair in one dwell agrees within this, dB")
    ap.add_argument("--seed", type=int, default=87)
    a = ap.parse_args(argv)
    if not all(0 < x < 1 for x in a.loads) or a.trials < 1:
        ap.error("loads must be in (0, 1) and trials at least 1")
    rng = np.random.default_rng(a.seed)
    frame_s, window_s = WiFi.PARAMS["frame_s"].default, Rx5808.WINDOW_S
    print(f"frames {frame_s * 1e3:.2f} ms, read window {window_s * 1e3:.1f} ms, "
          f"{a.trials} runs of {RUN} sweeps a load")
    print("load   S dB   hot share   start-up run named   16 hot   64 hot   named, pairs agree")
    for load in a.loads:
        first = fills(rng, load, a.trials * RUN, frame_s, window_s).reshape(-1, RUN)
        second = fills(rng, load, a.trials * RUN, frame_s, window_s).reshape(-1, RUN)
        for level_db in a.levels_db:
            readings, named = start_runs(first, level_db, a.hot_db)
            again = 10 * np.log10(1 + second * 10 ** (level_db / 10))
            agree = (np.abs(readings - again) <= a.pair_db).all(axis=1)
            hot = float((readings > a.hot_db).mean())
            print(f"{load:4.2f} {level_db:6.1f} {hot:11.3f} {named.mean():20.4f} "
                  f"{hot ** 16:8.1e} {hot ** 64:8.1e} {(named & agree).mean():19.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
