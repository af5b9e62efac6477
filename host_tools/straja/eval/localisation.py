"""Monte Carlo evaluation of the localiser: error and 95 % region coverage per condition.

    python -m straja.eval.localisation --out docs/localisation [--quick] [--seed 1]

Truth: the simulator's log-distance path loss (`sim.propagation.path_loss_db`) with the condition's
exponent and shadowing spread, a transmit power drawn from the model's EIRP range and a drone
height of 30-120 m. Each condition is one site: its fixes share a `ShadowingSpread`, as a deployed
gateway's would. Targets (issue 18): square layout, drone inside, 4 dB, exponent as assumed: median
error <= 120 m; drone 500 m outside the square: median <= 25 % of its distance to the centre;
coverage 90-97 % overall and per condition.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
import zlib
from dataclasses import dataclass

import numpy as np

from ..rf import path_loss_db
from ..locate.rss import Localiser, PathLossModel, SiteExponent
from ..locate.flight import FlightFilter
from ..locate.track import Tracker
from .scenes import worker_pool

FREQ_HZ = 5.8e9
# a drone heard on two links (analog video at 5.8 GHz, its control link at 2.4 GHz): each band its
# own transmit power and its own shadowing (docs/scenes.md, "Shadowing")
BAND_FREQS_HZ = (FREQ_HZ, 2.44e9)
CROSS_BAND_CORRELATION = 0.7  # a link's shadowing at the two bands, in the conditions named /rho
BOUND_DRAWS = 20  # Gaussian draws of the Cramer-Rao covariance per fix (its median error)
MAST_M = 6.0
HALF_SIDE_M = 500.0
LAYOUTS = {
    "square": [(-1, -1), (1, -1), (1, 1), (-1, 1)],
    # a fifth node off the square's circumcircle breaks the mirror ambiguity (docs/localisation.md)
    "square+centre": [(-1, -1), (1, -1), (1, 1), (-1, 1), (0, 0)],
}
PLACEMENTS = ("inside", "outside")
# the targets (id -> text, unit), as `straja eval` lists them
TARGETS = {
    "inside_median_m": ("localisation: 4 nodes on a 1 km square, drone inside, 4 dB shadowing: "
                        "median error <= 120 m", "m"),
    "outside_median_relative": ("localisation: drone 500 m outside the square: median error <= "
                                "25 % of its distance to the centre", "share"),
    "coverage_overall": ("localisation: the truth inside the 95 % region in 90-97 % of fixes "
                         "(all square conditions)", "share"),
}
SHADOWING_DB = (2.0, 4.0, 6.0, 8.0)
EXPONENT_ERRORS = (-0.5, 0.0, 0.5)


@dataclass
class Condition:
    layout: str
    placement: str
    shadowing_db: float
    exponent_error: float
    bands: int = 1
    band_correlation: float = 0.0  # of one link's shadowing between the bands (the site estimates it)

    @property
    def name(self) -> str:
        return (f"{self.layout}/{self.placement}/{self.shadowing_db:g}dB/n{self.exponent_error:+g}"
                + (f"/{self.bands}bands" if self.bands > 1 else "")
                + (f"/rho{self.band_correlation:g}" if self.band_correlation else ""))

    def readings(self, nodes: np.ndarray):
        """(node index, band, frequency) of each reading: every node on each band."""
        band = np.repeat(np.arange(self.bands), len(nodes))
        return np.tile(np.arange(len(nodes)), self.bands), band, np.array(BAND_FREQS_HZ)[band]

    def shadowing(self, rng, nodes: int) -> np.ndarray:
        """A shadowing draw (dB) per reading: per node, correlated band_correlation between bands."""
        rho = self.band_correlation
        common = rng.standard_normal(nodes)
        own = rng.standard_normal((self.bands, nodes))
        return self.shadowing_db * (np.sqrt(rho) * common + np.sqrt(1 - rho) * own).ravel()


def _drone_position(rng, placement: str) -> np.ndarray:
    if placement == "inside":
        return rng.uniform(-HALF_SIDE_M, HALF_SIDE_M, 2)
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    edge = direction * HALF_SIDE_M / np.abs(direction).max()  # where the ray leaves the square
    return edge + 500.0 * direction


def _received(nodes, xy, height, exponent, eirp, shadow, freqs, index):
    """Powers (dBm) of the readings: each band's EIRP, the path loss at its frequency, shadowing."""
    d = np.sqrt(((nodes[index, :2] - xy) ** 2).sum(1) + (height - nodes[index, 2]) ** 2)
    return eirp - path_loss_db(d, freqs, exponent) + shadow


def run_condition(cond: Condition, fixes: int, model: PathLossModel, seed: int) -> dict:
    """Single fixes of drones placed at random, and the Cramer-Rao bound at each truth (the
    median error of an unbiased estimator that attains it: a Gaussian draw of its covariance)."""
    rng = np.random.default_rng([seed, zlib.crc32(cond.name.encode())])
    nodes = np.array([(HALF_SIDE_M * x, HALF_SIDE_M * y, MAST_M) for x, y in LAYOUTS[cond.layout]])
    loc = Localiser(nodes, model)
    index, band, freqs = cond.readings(nodes)
    exponent = model.exponent + cond.exponent_error
    truth, est, covered, outlined, radius, parts, bound = [], [], [], [], [], [], []
    for _ in range(fixes):
        xy = _drone_position(rng, cond.placement)
        height = MAST_M + rng.uniform(30, 120)
        eirp = rng.uniform(*model.eirp_dbm, cond.bands)[band]
        shadow = cond.shadowing(rng, len(nodes))
        dbm = _received(nodes, xy, height, exponent, eirp, shadow, freqs, index)
        fix = loc.locate(index, dbm, freqs, band)
        truth.append(xy)
        est.append(fix.east_north)
        covered.append(fix.covers(xy))
        outlined.append(fix.outlined(xy))
        radius.append(fix.radius)
        parts.append(fix.parts)
        crb = loc.cramer_rao(xy, cond.shadowing_db, cond.bands, FREQ_HZ, cond.band_correlation)
        bound.append(np.hypot(*rng.multivariate_normal(np.zeros(2), crb, BOUND_DRAWS).T) / np.hypot(*xy))
    truth, est = np.array(truth), np.array(est)
    err = np.linalg.norm(est - truth, axis=1)
    bound_relative = np.array(bound)                                  # fixes x draws
    bound_m = bound_relative * np.linalg.norm(truth, axis=1)[:, None]
    return {"condition": cond.name, "layout": cond.layout, "placement": cond.placement,
            "shadowing_db": cond.shadowing_db, "exponent_error": cond.exponent_error,
            "bands": cond.bands, "band_correlation": cond.band_correlation,
            "median_error_m": float(np.median(err)),
            "median_relative_error": float(np.median(err / np.linalg.norm(truth, axis=1))),
            "crb_median_error_m": float(np.median(bound_m)),
            "crb_median_relative_error": float(np.median(bound_relative)),
            "coverage": float(np.mean(covered)), "outline_coverage": float(np.mean(outlined)),
            "median_radius95_m": float(np.median(radius)),
            "two_part_share": float(np.mean(np.array(parts) > 1)),
            "errors_m": err.tolist(), "truth": truth.tolist(), "estimates": est.tolist()}


# Tracked drones: an orbit of ORBIT_M at SPEED_MPS about a point placed as above, a fix every
# FIX_EVERY_S for TRACK_S, through the tracker. Shadowing follows the drone: an AR(1) process per
# link with correlation exp(-distance flown / DECORRELATION_M), the exponential model of
# Gudmundson (Electronics Letters 27(23), 1991: decorrelation distances from ~10 m in urban
# microcells to ~500 m in suburban macrocells; 100 m here). (The scene simulator's shadowing is
# correlated in time, `shadowing_tau_s`, not in space: a hovering drone's shadowing changes too.)
SPEED_MPS, ORBIT_M, FIX_EVERY_S, TRACK_S, DECORRELATION_M = 10.0, 150.0, 2.0, 120.0, 100.0
SETTLE_FIXES = 10   # the tracker's first 20 s (it starts from one fix) are not scored
ESTIMATORS = ("fix", "track", "flight", "hybrid")   # run_tracked's columns
# (condition, speed): in flight, and hovering (no new shadowing samples: no gain expected)
TRACKED = [(Condition("square", "inside", 4.0, 0.0), SPEED_MPS),
           (Condition("square", "outside", 4.0, 0.0), SPEED_MPS),
           (Condition("square", "inside", 4.0, -0.5), SPEED_MPS),
           (Condition("square", "inside", 4.0, 0.5), SPEED_MPS),
           (Condition("square", "inside", 4.0, 0.0, 2), SPEED_MPS),
           (Condition("square", "outside", 4.0, 0.0, 2), SPEED_MPS),
           (Condition("square", "inside", 4.0, 0.0), 0.0),
           (Condition("square", "outside", 4.0, 0.0), 0.0)]


def radial_offsets(estimates: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """Each estimate's offset from its truth along the truth's direction from the nodes' centre
    (metres, positive: further out). A fix biased outwards (or inwards, the mirror) is so at
    every fix of a flight, which averaging fixes cannot remove (docs/localisation.md, "What
    limits the tracker inside")."""
    return ((estimates - truths) * truths).sum(-1) / np.linalg.norm(truths, axis=-1)


def run_tracked(cond: Condition, tracks: int, model: PathLossModel, seed: int,
                speed_mps: float = SPEED_MPS, learn_exponent: bool = False) -> dict:
    """Single fixes, the tracker of fixes, the flight filter on the readings and their hybrid
    (the tracker where the filter holds most of its weight inside the nodes' hull, the filter
    beyond: a choice from what a gateway knows), on the same drones (in flight, or hovering with
    speed_mps 0): median error and 95 % coverage of each over the same instants, and the flight
    filter's CPU per update; and the single fixes' bias: the median over drones of the length
    of a flight's mean fix offset (fix minus truth, so the drone's motion is removed: what
    averaging the flight's fixes reaches) and the fixes' median radial offset (`radial_offsets`).
    `learn_exponent`: the site learns its exponent from each flight (`SiteExponent`; measured,
    not the gateway's)."""
    rng = np.random.default_rng([seed, zlib.crc32(("track/" + cond.name).encode())])
    nodes = np.array([(HALF_SIDE_M * x, HALF_SIDE_M * y, MAST_M) for x, y in LAYOUTS[cond.layout]])
    loc = Localiser(nodes, model, exponent=SiteExponent(model) if learn_exponent else None)
    index, band, freqs = cond.readings(nodes)
    rho = np.exp(-speed_mps * FIX_EVERY_S / DECORRELATION_M)
    scored = {name: ([], []) for name in ESTIMATORS}
    distances = []  # of the truth to the centre, at each scored instant
    fixes, truths, flight_offsets = [], [], []  # the scored fixes and truths; per drone
    flight_cpu_s = 0.0
    for drone in range(tracks):
        centre, phase = _drone_position(rng, cond.placement), rng.uniform(0, 2 * np.pi)
        height, eirp = MAST_M + rng.uniform(30, 120), rng.uniform(*model.eirp_dbm, cond.bands)[band]
        shadow = cond.shadowing(rng, len(nodes))
        tracker, flight = Tracker(), FlightFilter(loc, seed=drone)
        first = len(fixes)
        for k in range(int(TRACK_S / FIX_EVERY_S)):
            t = k * FIX_EVERY_S
            angle = phase + speed_mps * t / ORBIT_M
            xy = centre + ORBIT_M * np.array([np.cos(angle), np.sin(angle)])
            dbm = _received(nodes, xy, height, model.exponent + cond.exponent_error, eirp, shadow,
                            freqs, index)
            shadow = rho * shadow + np.sqrt(1 - rho * rho) * cond.shadowing(rng, len(nodes))
            fix = loc.locate(index, dbm, freqs, band)
            tracker.update(t, fix)
            loc.exponent.add(fix, drone)   # no evidence, no change, unless learning
            started = time.process_time()
            flight.update(t, fix, index, dbm, freqs, band)
            flight_cpu_s += time.process_time() - started
            if k >= SETTLE_FIXES:
                distances.append(float(np.hypot(*xy)))
                fixes.append(fix.east_north)
                truths.append(xy)
                hybrid = tracker if flight.share_within_nodes() > 0.5 else flight
                for name, estimate in zip(ESTIMATORS, (fix, tracker, flight, hybrid)):
                    scored[name][0].append(float(np.hypot(*(estimate.east_north - xy))))
                    scored[name][1].append(estimate.covers(xy))
        loc.exponent.end(drone)
        offsets = np.array(fixes[first:]) - np.array(truths[first:])
        flight_offsets.append(float(np.hypot(*offsets.mean(0))))
    out = {"condition": cond.name + ("/hover" if speed_mps == 0 else ""), "tracks": tracks,
           "flight_cpu_ms_per_update": 1e3 * flight_cpu_s / (tracks * int(TRACK_S / FIX_EVERY_S)),
           "fix_flight_offset_m": float(np.median(flight_offsets)),
           "fix_radial_offset_m": float(np.median(radial_offsets(np.array(fixes), np.array(truths))))}
    for name, (errors, covered) in scored.items():
        out[f"{name}_median_error_m"] = float(np.median(errors))
        out[f"{name}_median_relative_error"] = float(np.median(np.array(errors) / distances))
        out[f"{name}_coverage"] = float(np.mean(covered))
    return out


def _run(args) -> dict:
    run, *rest = args
    return run(*rest)


def evaluate(fixes: int = 100, seed: int = 1, model: PathLossModel | None = None,
             layouts=tuple(LAYOUTS), jobs: int = 1) -> dict:
    """Every layout's conditions on one band, the square's on two too, and the tracked flights;
    `jobs` conditions at a time (each draws from its own generator: the same results)."""
    model = model or PathLossModel()
    conditions = [Condition(lay, pl, sh, dn, bands) for lay in layouts
                  for bands in ((1, 2) if lay == "square" else (1,))
                  for pl in PLACEMENTS for sh in SHADOWING_DB for dn in EXPONENT_ERRORS]
    # shadowing measured at two frequencies is highly correlated in some places (docs/scenes.md)
    conditions += [Condition("square", pl, 4.0, 0.0, 2, CROSS_BAND_CORRELATION) for pl in PLACEMENTS
                   if "square" in layouts]
    runs = [(run_condition, cond, fixes, model, seed) for cond in conditions]
    runs += [(run_tracked, cond, max(1, fixes // 5), model, seed, speed) for cond, speed in TRACKED
             if cond.layout in layouts]
    with worker_pool(min(jobs, len(runs))) as pool:
        done = pool.map(_run, runs) if pool else list(map(_run, runs))
    results, tracked = done[:len(conditions)], done[len(conditions):]
    by_name = {r["condition"]: r for r in results}
    inside = by_name["square/inside/4dB/n+0"]
    outside = by_name["square/outside/4dB/n+0"]
    targets = {
        "inside_median_m": (inside["median_error_m"], inside["median_error_m"] <= 120),
        "outside_median_relative": (outside["median_relative_error"],
                                    outside["median_relative_error"] <= 0.25),
    }
    for bands, suffix in ((1, ""), (2, "_2bands")):
        square = [r for r in results if r["layout"] == "square" and r["bands"] == bands
                  and not r["band_correlation"]]
        coverage_all = float(np.mean([r["coverage"] for r in square]))
        targets["coverage_overall" + suffix] = (coverage_all, 0.90 <= coverage_all <= 0.97)
        targets["coverage_conditions_in_90_97" + suffix] = (
            sum(0.90 <= r["coverage"] <= 0.97 for r in square), len(square))
    return {"fixes_per_condition": fixes, "seed": seed, "results": results, "tracked": tracked,
            "targets": targets}


def plot(report: dict, out: pathlib.Path) -> list[pathlib.Path]:
    """Error CDF, coverage per condition and a map of fixes against the truth, as PNGs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    results = report["results"]
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        if r["exponent_error"] == 0 and r["shadowing_db"] in (2.0, 4.0, 8.0) and (
                r["bands"] == 1 or r["shadowing_db"] == 4.0):
            e = np.sort(r["errors_m"])
            ax.plot(e, np.arange(1, len(e) + 1) / len(e), label=r["condition"])
    ax.set(xscale="log", xlabel="error (m)", ylabel="fraction of fixes", title="Localisation error CDF")
    ax.axvline(120, color="k", ls=":", lw=1)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    paths.append(out / "error_cdf.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.bar(range(len(results)), [r["coverage"] for r in results],
           color=["C2" if r["bands"] > 1 else "C0" if r["layout"] == "square" else "C1"
                  for r in results])
    ax.axhspan(0.90, 0.97, color="g", alpha=0.15)
    ax.set_xticks(range(len(results)), [r["condition"] for r in results], rotation=90, fontsize=5)
    ax.set(ylim=(0, 1), ylabel="truth inside the 95 % region", title="95 % region coverage per condition")
    paths.append(out / "coverage.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, name in zip(axes, ("square/inside/4dB/n+0", "square/outside/4dB/n+0")):
        r = next(x for x in results if x["condition"] == name)
        t, e = np.array(r["truth"]), np.array(r["estimates"])
        for a, b in zip(t, e):
            ax.plot([a[0], b[0]], [a[1], b[1]], color="0.7", lw=0.5)
        ax.scatter(*t.T, s=8, label="truth")
        ax.scatter(*e.T, s=8, marker="x", label="fix")
        corners = np.array(LAYOUTS["square"]) * HALF_SIDE_M
        ax.scatter(*corners.T, marker="^", s=60, color="k", label="node")
        ax.set(aspect="equal", xlim=(-2500, 2500), ylim=(-2500, 2500), title=name,
               xlabel="east (m)", ylabel="north (m)")
        ax.legend(fontsize=7)
    paths.append(out / "fixes_map.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return paths


def markdown(report: dict) -> list[str]:
    """The localisation section of `straja eval`'s report (its figures from `plot`)."""
    L = ["", "## Localisation", "",
         f"Monte Carlo of the RF localiser (`straja.eval.localisation`, docs/localisation.md): "
         f"{report['fixes_per_condition']} fixes per condition, seed {report['seed']}. Truth: the "
         "simulator's log-distance path loss with the condition's exponent (the solver assumes "
         f"{PathLossModel().exponent:g}; the truth differs by -0.5, 0 or +0.5) and shadowing, a "
         "transmit power uniform over 0-30 dBm, a drone 30-120 m above 6 m masts, 5.8 GHz. "
         "Layouts: four nodes on a 1 km square, and the same with a fifth at its centre; the "
         "drone uniformly inside the square, or 500 m outside its edge; on one band, or (`/2bands`) "
         "on two with their own transmit powers and shadowing (video at 5.8 GHz and its control "
         "link at 2.4 GHz). Coverage: the truth inside the fix's 95 % region, the likelihood "
         "ratio's (target 90-97 %); outline: inside the ellipses drawn about each place the "
         "powers fit (a point and its mirror: two parts; linearised); radius: the likeliest "
         "part's semi-major axis; two parts: the share of fixes whose outline holds more than one "
         "place. Bound: the median error of an unbiased estimator at the "
         "Cramer-Rao bound (exponent known), for comparison.", "",
         "| condition | median error (bound) | median error / distance to centre (bound) | "
         "95 % coverage (outline) | median 95 % radius | two parts |",
         "|---|---|---|---|---|---|"]
    for r in report["results"]:
        L.append(f"| {r['condition']} | {r['median_error_m']:.0f} m ({r['crb_median_error_m']:.0f} m) | "
                 f"{r['median_relative_error']:.0%} ({r['crb_median_relative_error']:.0%}) | "
                 f"{r['coverage']:.0%} ({r['outline_coverage']:.0%}) | "
                 f"{r['median_radius95_m']:.0f} m | {r['two_part_share']:.0%} |")
    targets = report["targets"]
    L += [""] + [f"Square conditions on {bands} with coverage within 90-97 %: "
                 f"{targets['coverage_conditions_in_90_97' + suffix][0]} of "
                 f"{targets['coverage_conditions_in_90_97' + suffix][1]} (overall "
                 f"{targets['coverage_overall' + suffix][0]:.1%})."
                 for bands, suffix in (("one band", ""), ("two bands", "_2bands"))]
    L += ["",
          f"Drones in flight (`run_tracked`): an orbit of {ORBIT_M:g} m at {SPEED_MPS:g} m/s "
          f"about a point placed as above (`/hover`: hovering there), a fix every "
          f"{FIX_EVERY_S:g} s for {TRACK_S:g} s through the tracker of fixes "
          "(`straja.locate.track`), the flight filter on the powers (`straja.locate.flight`) and "
          "their hybrid (the tracker where the filter's weight is mostly inside the nodes' hull), "
          f"shadowing per link decorrelating over {DECORRELATION_M:g} m flown (Gudmundson's "
          f"exponential model); the first {SETTLE_FIXES * FIX_EVERY_S:g} s not scored. Each cell: "
          "median error (as a share of the distance to the centre), coverage of the 95 % region. "
          "The issue's error targets are judged above, on single fixes (the gateway's position "
          "is its tracker of fixes); these rows are the same targets' conditions tracked: "
          "inside, 4 dB: <= 120 m; outside: <= 25 %. Fixes' bias: the median over drones of "
          "the length of a flight's mean fix offset (fix minus truth: the drone's motion removed, "
          "what averaging the flight's fixes reaches), and the fixes' median offset away from "
          "the centre.", "",
          "| condition | drones | single fixes | tracker of fixes | flight filter | hybrid | "
          "filter CPU a update | fixes' bias: flight mean, outwards |",
          "|---|---|---|---|---|---|---|---|"]
    for r in report["tracked"]:
        L.append(f"| {r['condition']} | {r['tracks']} | "
                 + " | ".join(f"{r[name + '_median_error_m']:.0f} m "
                              f"({r[name + '_median_relative_error']:.0%}), "
                              f"{r[name + '_coverage']:.0%}" for name in ESTIMATORS)
                 + f" | {r['flight_cpu_ms_per_update']:.1f} ms | {r['fix_flight_offset_m']:.0f} m, "
                   f"{r['fix_radial_offset_m']:+.0f} m |")
    L += ["",
          "![error CDF](error_cdf.png)", "![coverage per condition](coverage.png)",
          "![fixes against truth](fixes_map.png)"]
    return L


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m straja.eval.localisation", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path("localisation-eval"))
    ap.add_argument("--quick", action="store_true", help="20 fixes per condition instead of 100")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    report = evaluate(fixes=20 if args.quick else 100, seed=args.seed)
    plot(report, args.out)
    summary = {k: v for k, v in report.items() if k != "results"}
    summary["conditions"] = [{k: v for k, v in r.items() if k not in ("errors_m", "truth", "estimates")}
                             for r in report["results"]]
    (args.out / "results.json").write_text(json.dumps(summary, indent=1))
    for r in summary["conditions"]:
        print(f"{r['condition']:38s} median {r['median_error_m']:6.0f} m "
              f"({100 * r['median_relative_error']:3.0f} %) bound {r['crb_median_error_m']:5.0f} m "
              f"({100 * r['crb_median_relative_error']:3.0f} %)  coverage {100 * r['coverage']:5.1f} % "
              f"(outline {100 * r['outline_coverage']:5.1f} %)  "
              f"r95 {r['median_radius95_m']:7.0f} m  two parts {100 * r['two_part_share']:3.0f} %")
    for r in report["tracked"]:
        print(f"tracked {r['condition']:30s} "
              + "   ".join(f"{name} {r[name + '_median_error_m']:6.0f} m "
                         f"({100 * r[name + '_median_relative_error']:3.0f} %) "
                         f"{100 * r[name + '_coverage']:5.1f} %"
                         for name in ESTIMATORS)
              + f"   filter {r['flight_cpu_ms_per_update']:.1f} ms/update"
              + f"   fixes' flight mean {r['fix_flight_offset_m']:.0f} m, "
              f"outwards {r['fix_radial_offset_m']:+.0f} m")
    met = all(report["targets"][name][1] for name in TARGETS)
    for name, value in report["targets"].items():
        print(f"target {name}: {value}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
