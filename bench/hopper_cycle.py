"""Whether a per-packet hopper's hits repeat its hop table's cycle (docs/measured/bt74.md): a
scene run through the gateway (`band_levels.record`: its seed, all nodes, adaptive scanning on),
each band hopper stage's counted hits (as `ReferenceBandHoppers` counts them: narrow, in quiet
cells, BLE advertising cells, the mains gate's on-window and a held channel's second read out)
at their exact read times, as the stage's ring keeps them (`protocol.read_slots`, from the
revisit block of the node's plan: docs/firmware.md "Revisit"), not the estimate of
docs/protocol.md (which the mains gate keeps).

A hopper sends channel c at one place of its table's cycle: FlySky AFHDS 2A 16 x 3.85 ms
(61.6 ms), DSMX 23 frames (253 ms at 11 ms, 506 at 22) as a frame's first packet and, 11 frames
and the 4.01 ms pair gap later, as its second, FrSky D16 47 x 9 ms frames (423 ms). Per window
(--windows s, every 0.5 s) and cycle: the pairs of hits on one cell coinciding modulo the cycle
(within the airtime and a read) against the Poisson tail at the pairs' count x their chance,
Bonferroni over cycles and windows, the coinciding pairs on at least 3 cells over more than
MIN_SPAN_KHZ. A pair a whole number of mains periods apart (within the same window) is left out
of both counts: an oven's hits on one cell are on its mains comb, not at independent places of
another cycle, and broke the Poisson tail (docs/measured/bt74.md; left out: cyc90.md). Prints
per stage and cycle the largest -log10 p before --on, the first time after it that -log10 p
reaches --threshold (s after --on, the window, coinciding pairs, expected) and the largest
after. A replay, not a rule: the chance assumes a cell's gaps spread uniformly over the cycle,
while its reads come on the scan's lattice (sweeps ~179 ms apart), which biases it by cycle
(docs/measured/cyc90.md).

    .venv/bin/python bench/hopper_cycle.py SCENE [--until S] [--on S] [--threshold X]
        [--windows 2,4,8] [--seed N]

Not run by run_all.py (not a bench_*.py): a tool for changes to the band hopper.
"""
from argparse import ArgumentTypeError
from typing import NamedTuple

import numpy as np
from scipy.stats import poisson

from band_levels import record, scene_parser
from straja.argtypes import non_negative_float, positive_float
from straja.detect import hoppers
from straja.sim.scene import SceneError, load_scene

STEP_US = 500_000  # the test every 0.5 s of a stage's looks
MIN_CELLS = 3


class Cycle(NamedTuple):
    name: str
    cycle_us: float
    window_us: float        # a packet's airtime and a read: two hits of one channel this close
    lags_us: tuple          # a channel's places in the cycle after its first (DSMX: 11 frames + gap)


CYCLES = (Cycle("flysky", 16 * 3850.0, 1200.0 + 250.0, ()),
          Cycle("dsmx11", 23 * 11000.0, 1280.0 + 250.0, (11 * 11000.0 + 4010.0,)),
          Cycle("dsmx22", 23 * 22000.0, 1280.0 + 250.0, (11 * 22000.0 + 4010.0,)),
          Cycle("frsky", 47 * 9000.0, 4340.0 + 250.0, ()))


def counted_hits(st: dict):
    """Per look: (its end us, the counted hits' read times us, their cells), replaying the
    stage's reference on the recorded reads."""
    live = st["stage"]
    n = live.n_bins
    stage = hoppers.ReferenceBandHoppers(n, float(live.freq_khz[0]),
                                         float(live.freq_khz[1] - live.freq_khz[0]), live.alpha,
                                         live.pfa_cell, live.read_pos,
                                         read_slots=live.read_slots)
    hot = np.zeros(n + 2, np.int8)
    for k, t_s in enumerate(st["t_s"]):
        t0, duration = int(round(t_s * 1e6)), int(st["duration_us"][k])
        for r in range(st["reads"].shape[0]):
            single, held, noise = st["reads"][r, k], st["held"][k], st["noise"][k]
            threshold = stage.alpha * noise
            cells = hoppers.narrow_hits(single, threshold, stage.max_width, hot)
            estimate = t0 + stage.read_pos[cells] * duration // n  # (the mains gate's)
            times = t0 + stage.read_slots[r, cells] * duration // (2 * n)
            keep = ~stage._skip[cells] & ~stage.mains.gated(stage.mains.bins(estimate), r)
            if r > 0:  # a held channel's hit was counted at the first read
                keep &= ~(held[cells] > threshold[cells])
            yield t0 + duration, times[keep], cells[keep]
            stage._look(single, held, noise, t0, duration, r > 0)
        stage.sweeps += 1


def coincidences(t_us: np.ndarray, cells: np.ndarray, freq_khz: np.ndarray,
                 cycle: Cycle) -> tuple[int, float, float]:
    """(coinciding pairs, expected, span of their cells in kHz) of hits on one cell, the pairs
    a whole number of mains periods apart (within the cycle's window) left out."""
    chance = 2 * cycle.window_us * (1 + 2 * len(cycle.lags_us)) / cycle.cycle_us
    places = [0.0, *cycle.lags_us, *(cycle.cycle_us - lag for lag in cycle.lags_us)]
    found, pairs, hit_cells = 0, 0, []
    for cell in np.unique(cells):
        t = t_us[cells == cell].astype(np.float64)
        if t.size < 2:
            continue
        gap = np.abs(t[:, None] - t[None, :])
        usable = np.triu(np.ones(gap.shape, bool), 1)
        for period in hoppers.MAINS_PERIODS_US:
            off = np.mod(gap, period)
            usable &= np.minimum(off, period - off) >= cycle.window_us
        pairs += int(np.count_nonzero(usable))
        apart = np.mod(gap, cycle.cycle_us)
        near = np.zeros(apart.shape, bool)
        for place in places:
            off = np.abs(apart - place)
            near |= np.minimum(off, cycle.cycle_us - off) < cycle.window_us
        k = int(np.count_nonzero(near & usable))
        if k:
            found += k
            hit_cells.append(cell)
    span = float(np.ptp(freq_khz[hit_cells])) if len(hit_cells) >= MIN_CELLS else 0.0
    return found, pairs * chance, span


def replay(st: dict, on_s: float, threshold: float, windows_us: list[float]) -> dict:
    """Per cycle: {"before": max -log10 p, "first": (s after on, window s, pairs, expected) or
    None, "after": max -log10 p}."""
    freq_khz = st["stage"].freq_khz
    tests = len(CYCLES) * len(windows_us)
    out = {c.name: {"before": 0.0, "first": None, "after": 0.0} for c in CYCLES}
    looks: list = []
    last = -np.inf
    for end_us, t_us, cells in counted_hits(st):
        looks.append((end_us, t_us, cells))
        if end_us - last < STEP_US:
            continue
        last = end_us
        for window in windows_us:
            inside = [x for x in looks if x[0] >= end_us - window]
            t = np.concatenate([x[1] for x in inside])
            c = np.concatenate([x[2] for x in inside])
            for cycle in CYCLES:
                found, expected, span = coincidences(t, c, freq_khz, cycle)
                if span <= hoppers.MIN_SPAN_KHZ:
                    continue
                score = -np.log10(max(poisson.sf(found - 1, expected) * tests, 1e-300))
                res = out[cycle.name]
                if end_us < on_s * 1e6:
                    res["before"] = max(res["before"], score)
                    continue
                res["after"] = max(res["after"], score)
                if res["first"] is None and score >= threshold:
                    res["first"] = (round(end_us / 1e6 - on_s, 2), window / 1e6, found,
                                    round(expected, 1))
        looks = [x for x in looks if x[0] >= end_us - max(windows_us)]
    return out


def main() -> None:
    ap = scene_parser(__doc__)
    ap.add_argument("--on", type=non_negative_float, default=0.0,
                    help="s: the drone's switch-on (figures before and after it)")
    ap.add_argument("--threshold", type=positive_float, default=6.0, help="-log10 p of a finding")
    ap.add_argument("--windows", default="2,4,8", help="window lengths, s, comma-separated")
    ap.add_argument("--seed", type=int, help="the scene drawn anew with this seed")
    args = ap.parse_args()
    try:
        windows_us = [positive_float(w) * 1e6 for w in args.windows.split(",")]
    except ArgumentTypeError as e:
        ap.error(f"argument --windows: {e}")
    try:  # a scene that does not load: a message, exit 2
        scene = load_scene(args.scene, seed=args.seed)
    except SceneError as e:
        ap.error(str(e).strip('"'))
    for i, st in enumerate(record(scene, min(args.until, scene.duration_s))):
        res = replay(st, args.on, args.threshold, windows_us)
        print(f"stage {i}: " + "; ".join(
            f"{name} before {r['before']:.1f}, first {r['first']}, after {r['after']:.1f}"
            for name, r in res.items()), flush=True)


if __name__ == "__main__":
    main()
