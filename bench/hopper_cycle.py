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
(within the airtime and a read), the coinciding pairs on at least 3 cells over more than
MIN_SPAN_KHZ, Bonferroni over cycles and windows. A pair a whole number of a periodic
resident's period apart is left out of every count: mains periods (an oven's hits on one cell
are at one phase of its mains: cyc90.md) and the 102.4 ms beacon interval of access points
(docs/measured/cyc96.md). The null (--null):
- "lattice" (default): the Poisson tail at the pairs x the share of one cell's read pairs that
  coincide, its reads a sweep (SWEEP_US) apart and the second read of a sweep the plan's revisit
  block later (the scan's lattice, which sets which gaps can coincide: cyc90.md), counted only
  if rarer than at every one of DECOYS decoy cycles (2-20 % from the protocol's, none a whole
  number of mains periods or of a sweep), which share the lattice and a periodic resident's
  comb;
- "decoy": the negative binomial of the decoy cycles' counts' mean and variance;
- "poisson": the Poisson tail at the pairs x their chance if the gaps spread uniformly over
  the cycle (bt74's and cyc90's).
Prints per stage and cycle the largest -log10 p before --on, the first time after it that
-log10 p reaches --threshold (s after --on, the window, coinciding pairs, expected) and the
largest after. A replay, not a rule (docs/measured/cyc96.md).

    .venv/bin/python bench/hopper_cycle.py SCENE [--until S] [--on S] [--threshold X]
        [--windows 2,4,8] [--seed N] [--null lattice|decoy|poisson]

Not run by run_all.py (not a bench_*.py): a tool for changes to the band hopper.
"""
from argparse import ArgumentTypeError
from typing import NamedTuple

import numpy as np
from scipy.stats import nbinom, poisson

from band_levels import record, scene_parser
from straja.argtypes import non_negative_float, positive_float
from straja.detect import hoppers
from straja.sim.scene import SceneError, load_scene

STEP_US = 500_000  # the test every 0.5 s of a stage's looks
MIN_CELLS = 3
DECOYS = 64                     # decoy cycles a protocol's
DECOY_LO, DECOY_HI = 0.02, 0.20  # their distance from it, a share of its cycle
SWEEP_US = 179_250.0            # the CC2500 plan's sweeps start this far apart (cyc90.md)
# an access point's beacons every 100 TU (IEEE 802.11's default, nearly every AP's), 1.9 ms on
# air at 1 Mb/s: 21 of them (2150.4 ms) are 12 sweeps (2151.0) and 8.5 DSMX 11 ms cycles
BEACON_US, BEACON_AIRTIME_US = 102_400.0, 1900.0
READ_US = 250.0                 # a read (the cycles' windows: airtime and a read)


class Cycle(NamedTuple):
    name: str
    cycle_us: float
    window_us: float        # a packet's airtime and a read: two hits of one channel this close
    lags_us: tuple          # a channel's places in the cycle after its first (DSMX: 11 frames + gap)


CYCLES = (Cycle("flysky", 16 * 3850.0, 1200.0 + READ_US, ()),
          Cycle("dsmx11", 23 * 11000.0, 1280.0 + READ_US, (11 * 11000.0 + 4010.0,)),
          Cycle("dsmx22", 23 * 22000.0, 1280.0 + READ_US, (11 * 22000.0 + 4010.0,)),
          Cycle("frsky", 47 * 9000.0, 4340.0 + READ_US, ()))


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


def decoy_cycles(cycle: Cycle) -> np.ndarray:
    """DECOYS cycles spread over DECOY_LO..DECOY_HI either side of the protocol's, none within
    its coincidence window of a whole number of mains periods or of the sweep (or of a half,
    third or quarter of it): they share the scan's lattice of read times and a mains-locked
    resident's comb, and no hopper sends at them."""
    step = np.linspace(DECOY_LO, DECOY_HI, 4 * DECOYS)
    out = []
    for c in cycle.cycle_us * (1 + np.concatenate([-step[::-1], step])):
        near_comb = False
        for period in (*hoppers.MAINS_PERIODS_US, *(SWEEP_US / k for k in (1, 2, 3, 4))):
            off = c % period
            near_comb |= min(off, period - off) < cycle.window_us
        if not near_comb:
            out.append(c)
    return np.array(out)[np.linspace(0, len(out) - 1, DECOYS).round().astype(int)]


def off_combs(gap: np.ndarray, cycle: Cycle) -> np.ndarray:
    """The gaps not a whole number of a periodic resident's period: mains periods (within the
    cycle's window: an oven's hits on one cell are at one phase of its mains) and the beacon
    interval (within a beacon's airtime and a read, or the window if wider)."""
    usable = np.ones(gap.size, bool)
    for period, within in zip((*hoppers.MAINS_PERIODS_US, BEACON_US),
                              (cycle.window_us, cycle.window_us,
                               max(cycle.window_us, BEACON_AIRTIME_US + READ_US))):
        off = np.mod(gap, period)
        usable &= np.minimum(off, period - off) >= within
    return usable


def coinciding(gap: np.ndarray, cycle: Cycle, cycles_us: np.ndarray) -> np.ndarray:
    """(gaps, cycles) bool: the gap within the window of a whole number of each cycle after one
    of a channel's places (its first, and its lags taken at the same share of each cycle)."""
    places = np.array([0.0, *cycle.lags_us, *(cycle.cycle_us - lag for lag in cycle.lags_us)])
    apart = np.mod(gap[:, None], cycles_us[None, :])
    near = np.zeros(apart.shape, bool)
    for place in places[:, None] * (cycles_us / cycle.cycle_us)[None, :]:
        off = np.abs(apart - place[None, :])
        near |= np.minimum(off, cycles_us[None, :] - off) < cycle.window_us
    return near


def coincidences(t_us: np.ndarray, cells: np.ndarray, freq_khz: np.ndarray, cycle: Cycle,
                 cycles_us: np.ndarray) -> tuple[np.ndarray, int, float]:
    """(coinciding pairs at each of cycles_us, the pairs, span in kHz of the cells with pairs
    coinciding at cycles_us[0]) of hits on one cell, the pairs a whole number of mains periods
    apart left out."""
    found, pairs, hit_cells = np.zeros(cycles_us.size, int), 0, []
    for cell in np.unique(cells):
        t = t_us[cells == cell].astype(np.float64)
        if t.size < 2:
            continue
        first, second = np.triu_indices(t.size, 1)
        gap = np.abs(t[first] - t[second])
        gap = gap[off_combs(gap, cycle)]
        pairs += gap.size
        k = np.count_nonzero(coinciding(gap, cycle, cycles_us), axis=0)
        found += k
        if k[0]:
            hit_cells.append(cell)
    span = float(np.ptp(freq_khz[hit_cells])) if len(hit_cells) >= MIN_CELLS else 0.0
    return found, pairs, span


def uniform_chance(cycle: Cycle) -> float:
    """The chance of a pair coinciding if its gap spreads uniformly over the cycle."""
    return 2 * cycle.window_us * (1 + 2 * len(cycle.lags_us)) / cycle.cycle_us


def lattice_chance(cycle: Cycle, cycles_us: np.ndarray, window_us: float,
                   revisit_us: float) -> np.ndarray:
    """At each of cycles_us, the share of one cell's read pairs in the window coinciding: its
    reads come a sweep apart (SWEEP_US), the second read of a sweep revisit_us after the first,
    on the sweeps whose looks end in the window; pairs a whole number of mains periods apart
    out, as coincidences() leaves them out."""
    sweeps = np.arange(int(window_us // SWEEP_US) + 1) * SWEEP_US
    reads = np.sort(np.concatenate([sweeps, sweeps + revisit_us]))
    first, second = np.triu_indices(reads.size, 1)
    gap = reads[second] - reads[first]
    return coinciding(gap[off_combs(gap, cycle)], cycle, cycles_us).mean(axis=0)


def score(found: np.ndarray, pairs: int, cycle: Cycle, null: str, chance: np.ndarray) -> float:
    """-log10 of the chance of found[0] coinciding pairs or more at the protocol's cycle.
    "poisson": the Poisson tail at the pairs x their chance if the gaps spread uniformly over the
    cycle. "decoy": the negative binomial of the decoys' (found[1:]) mean and variance (at least
    Poisson's). "lattice": the Poisson tail at the pairs x the scan's lattice chance at the cycle
    (chance[0]), 0 unless it is rarer than at every decoy (chance[1:]), which share the lattice
    and a mains-locked resident's comb."""
    if null == "poisson":
        return -np.log10(max(poisson.sf(found[0] - 1, pairs * uniform_chance(cycle)), 1e-300))
    if null == "lattice":
        each = -np.log10(np.maximum(poisson.sf(found - 1, np.maximum(pairs * chance, 1e-12)),
                                    1e-300))
        return float(each[0]) if each[0] > each[1:].max() else 0.0
    mean = float(found[1:].mean())
    if mean <= 0.0:
        return 0.0 if found[0] == 0 else np.log10(1 + found.size)
    excess = max(float(found[1:].var(ddof=1)) - mean, mean * 1e-6)
    size = mean * mean / excess
    return -np.log10(max(nbinom.sf(found[0] - 1, size, size / (size + mean)), 1e-300))


def replay(looks, freq_khz: np.ndarray, on_s: float, threshold: float, windows_us: list[float],
           null: str, revisit_us: float) -> dict:
    """Per cycle, over looks ((end us, hits' times us, their cells) in order): {"before": max
    -log10 p, "first": (s after on, window s, coinciding pairs, expected: the Poisson's, the
    decoys' mean or the lattice's) or None, "after": max -log10 p}."""
    tests = len(CYCLES) * len(windows_us)
    cycles_us = {c.name: np.concatenate([[c.cycle_us], [] if null == "poisson" else
                                         decoy_cycles(c)]) for c in CYCLES}
    chance = {(c.name, w): lattice_chance(c, cycles_us[c.name], w, revisit_us)
              for c in CYCLES for w in windows_us} if null == "lattice" else {}
    out = {c.name: {"before": 0.0, "first": None, "after": 0.0} for c in CYCLES}
    kept: list = []
    last = -np.inf
    for end_us, t_us, cells in looks:
        kept.append((end_us, t_us, cells))
        if end_us - last < STEP_US:
            continue
        last = end_us
        for window in windows_us:
            inside = [x for x in kept if x[0] >= end_us - window]
            t = np.concatenate([x[1] for x in inside])
            c = np.concatenate([x[2] for x in inside])
            for cycle in CYCLES:
                found, pairs, span = coincidences(t, c, freq_khz, cycle, cycles_us[cycle.name])
                if span <= hoppers.MIN_SPAN_KHZ:
                    continue
                at = chance.get((cycle.name, window))
                p = score(found, pairs, cycle, null, at) - np.log10(tests)
                res = out[cycle.name]
                if end_us < on_s * 1e6:
                    res["before"] = max(res["before"], p)
                    continue
                res["after"] = max(res["after"], p)
                if res["first"] is None and p >= threshold:
                    if null == "lattice":
                        expected = pairs * at[0]
                    elif null == "decoy":
                        expected = found[1:].mean()
                    else:
                        expected = pairs * uniform_chance(cycle)
                    res["first"] = (round(end_us / 1e6 - on_s, 2), window / 1e6, int(found[0]),
                                    round(float(expected), 1))
        kept = [x for x in kept if x[0] >= end_us - max(windows_us)]
    return out


def main() -> None:
    ap = scene_parser(__doc__)
    ap.add_argument("--on", type=non_negative_float, default=0.0,
                    help="s: the drone's switch-on (figures before and after it)")
    ap.add_argument("--threshold", type=positive_float, default=6.0, help="-log10 p of a finding")
    ap.add_argument("--windows", default="2,4,8", help="window lengths, s, comma-separated")
    ap.add_argument("--seed", type=int, help="the scene drawn anew with this seed")
    ap.add_argument("--null", choices=("lattice", "decoy", "poisson"), default="lattice",
                    help="the count's null: the scan's lattice chance, rarer than at every decoy "
                         "cycle (default); the decoys' counts; the uniform Poisson's")
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
        live = st["stage"]  # a cell's second read, the plan's revisit block of dwells later
        revisit_us = float(np.median(live.read_slots[1] - live.read_slots[0])) * \
            float(np.median(st["duration_us"])) / (2 * live.n_bins)
        res = replay(counted_hits(st), live.freq_khz, args.on, args.threshold, windows_us,
                     args.null, revisit_us)
        print(f"stage {i}: " + "; ".join(
            f"{name} before {r['before']:.1f}, first {r['first']}, after {r['after']:.1f}"
            for name, r in res.items()), flush=True)


if __name__ == "__main__":
    main()
