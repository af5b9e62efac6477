"""A sub-GHz band's site rate learnt, and a link's rate over it, replayed on a scene's bursts
(docs/measured/sub85.md; not a rule of the detector): a scene run through the gateway
(`straja.eval.scenes.run_scene`, all nodes, adaptive scanning on), every sub-GHz burst centred
in --band-mhz recorded per node and plan; then per node and plan:

- **events**: a run of hits on one scan channel, each within STAY_SWEEPS sweeps of the last on
  it (`_tracks.STAY_WITHIN`), is one event (a long LoRa packet read in consecutive sweeps is one
  packet);
- **the site's rate** λ, events a sweep, learnt in STEP_S steps as the 2.4 GHz band hopper learns
  its cells (`hoppers.BASELINE_SWEEPS`: an EWMA over BASELINE_S, a running mean until then),
  each step LEARN_DELAY_S late (`hoppers.LEARN_DELAY_US`: a link's first hits are not yet the
  site's), tested from START_S after the plan's first hit;
- **the test**, every STEP_S: the last WINDOW_S's n events over their S sweeps as Poisson counts,
  λ + r (r: --rate, a link's hits a sweep) against λ: LLR = n ln((λ + r) / λ) - r S; each run
  of steps at or over a threshold (ln 19 and 3 ln 19) is one excursion (one report).

Printed per node and plan: the learnt λ and the recent rate (medians before --on), the site's
excursions before --on at each threshold, and with --on (a drone's switch-on, s) the first step
at each threshold from then on.

    .venv/bin/python bench/subghz_site_rate.py SCENE --band-mhz LO HI [--seed N] [--on S] [--rate R]

Not run by run_all.py (not a bench_*.py): a tool for a sub-GHz band report.
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "host_tools"))

from straja import _tracks  # noqa: E402
from straja.argtypes import non_negative_float  # noqa: E402
from straja.detect import bursts as detect_bursts, hoppers  # noqa: E402
from straja.eval.scenes import run_scene  # noqa: E402
from straja.gateway import detector  # noqa: E402
from straja.sim.scene import SceneError, load_scene  # noqa: E402

STAY_SWEEPS = _tracks.STAY_WITHIN_REVISITS  # a hit on the last one's channel this soon is a stay
BASELINE_S = 46.0      # hoppers.BASELINE_SWEEPS (256) at the 2.4 GHz plan's ~0.18 s sweeps
LEARN_DELAY_S = hoppers.LEARN_DELAY_US / 1e6
START_S = 15.0         # the test's start after the plan's first hit
WINDOW_S = 5.0         # the recent window (det72, sub75)
STEP_S = 0.25          # learning and test step
THRESHOLDS = (math.log(19), 3 * math.log(19))
LINK_RATE = 0.12       # Crossfire 150 Hz at +10 dB, the lowest link rate measured (docs/detection.md)


def record(scene, lo_khz: float, hi_khz: float) -> dict[tuple, dict]:
    """Per (node id, plan key): {"period_s", "step_khz", "hits": [(t_s, centre_khz)]} of the
    sub-GHz bursts centred in [lo_khz, hi_khz]."""
    plans: dict[tuple, dict] = {}
    now: dict = {"st": None, "node": 0}
    detected, process = detector.NodeDetector.detected, detect_bursts.BurstExtractor.process

    def detected_at(self, st, offset_ns):
        now["st"], now["node"] = st, self.node_id
        return detected(self, st, offset_ns)

    def process_recorded(self, det, power, t_us, duration_us, cut=None):
        out = process(self, det, power, t_us, duration_us, cut)
        st = now["st"]
        if st is not None and st.core.bursts is self and out.size:
            inside = out[(out["centre_khz"] >= lo_khz) & (out["centre_khz"] <= hi_khz)]
            if inside.size:
                plan = plans.setdefault((now["node"], st.key),
                                        {"step_khz": st.core.step_khz, "hits": []})
                # the sweep period as last measured (the pipeline measures it over its first
                # sweeps: 0 at a plan's first hit where that comes in its first sweep)
                plan["period_s"] = st.core.stages.period_us / 1e6
                plan["hits"] += [((t + st.paused_us) / 1e6, f) for t, f in
                                 zip(inside["t_start_us"].tolist(), inside["centre_khz"].tolist())]
        return out

    detector.NodeDetector.detected = detected_at
    detect_bursts.BurstExtractor.process = process_recorded
    try:
        run_scene(scene)
    finally:
        detector.NodeDetector.detected = detected
        detect_bursts.BurstExtractor.process = process
    return plans


def events(hits: list[tuple[float, float]], period_s: float, step_khz: float) -> np.ndarray:
    """The times of the hits that start an event: a hit on a scan channel within STAY_SWEEPS
    sweeps of the last hit on it continues that one's event."""
    last: dict[int, float] = {}
    starts = []
    for t, khz in sorted(hits):
        channel = round(khz / step_khz)
        if t - last.get(channel, -math.inf) > STAY_SWEEPS * period_s:
            starts.append(t)
        last[channel] = t
    return np.array(starts)


def tested(starts: np.ndarray, period_s: float, rate: float) -> np.ndarray:
    """Rows (t_s, learnt rate, recent rate, LLR) of the test at each step, events a sweep."""
    if not starts.size:
        return np.empty((0, 4))
    first = int(starts[0] / STEP_S)
    counts = np.bincount((starts / STEP_S).astype(int) - first)
    delay, window, sweeps_step = round(LEARN_DELAY_S / STEP_S), round(WINDOW_S / STEP_S), STEP_S / period_s
    lam, learnt, rows = 0.0, 0, []
    for k in range(len(counts)):
        if k >= delay:
            learnt += 1
            lam += max(STEP_S / BASELINE_S, 1.0 / learnt) * (counts[k - delay] / sweeps_step - lam)
        t_s = (first + k + 1) * STEP_S
        if (k + 1) * STEP_S < START_S or not learnt or k + 1 < window:
            continue
        n, sweeps = float(counts[k + 1 - window:k + 1].sum()), WINDOW_S / period_s
        site = max(lam, 1e-3)  # (a site learnt silent: one event in 1000 sweeps)
        rows.append((t_s, lam, n / sweeps, n * math.log((site + rate) / site) - rate * sweeps))
    return np.array(rows)


def excursions(rows: np.ndarray, threshold: float) -> int:
    """Runs of consecutive steps at or over the threshold."""
    over = rows[:, 3] >= threshold
    return int(over[0]) + int(np.sum(over[1:] & ~over[:-1])) if over.size else 0


def summary(rows: np.ndarray, on_s: float | None) -> str:
    """One line: before on_s the learnt and recent rates and the excursions a threshold; from
    on_s the first step over each threshold."""
    before = rows[rows[:, 0] < on_s] if on_s is not None else rows
    if not before.size:
        return "first tested after --on"
    text = (f"site {np.median(before[:, 1]):.3f}, recent {np.median(before[:, 2]):.3f} a sweep; "
            f"{before[-1, 0] - before[0, 0] + STEP_S:.0f} s tested before, excursions")
    text += "".join(f" {excursions(before, th)} at {th:.1f}" for th in THRESHOLDS)
    if on_s is not None:
        after = rows[rows[:, 0] >= on_s]
        for th in THRESHOLDS:
            over = after[after[:, 3] >= th]
            text += (f"; first at {th:.1f}: +{over[0, 0] - on_s:.2f} s" if over.size
                     else f"; never at {th:.1f}")
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scene")
    ap.add_argument("--band-mhz", nargs=2, type=non_negative_float, required=True,
                    metavar=("LO", "HI"), help="the band whose bursts are counted, MHz")
    ap.add_argument("--seed", type=int, default=None, help="reseed the scene (straja eval --seed)")
    ap.add_argument("--on", type=non_negative_float, default=None,
                    help="a drone's switch-on, s: excursions counted before, first report after")
    ap.add_argument("--rate", type=non_negative_float, default=LINK_RATE,
                    help=f"a link's hits a sweep over the site's (default {LINK_RATE})")
    args = ap.parse_args(argv)
    lo, hi = args.band_mhz
    if not lo < hi:
        ap.error(f"--band-mhz: LO must be under HI (got {lo:g} {hi:g})")
    if not args.rate > 0:
        ap.error("--rate must be over 0")
    try:
        scene = load_scene(args.scene, seed=args.seed)
    except (OSError, SceneError) as e:
        ap.error(f"{args.scene}: {e}")
    for (node, key), plan in sorted(record(scene, lo * 1e3, hi * 1e3).items()):
        starts = events(plan["hits"], plan["period_s"], plan["step_khz"])
        rows = tested(starts, plan["period_s"], args.rate)
        print(f"node {node} plan {key[1] / 1e3:.0f} MHz x{key[3]}: {len(plan['hits'])} hits, "
              f"{starts.size} events; " + (summary(rows, args.on) if rows.size else "never tested"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
