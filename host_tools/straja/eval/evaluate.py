"""The whole evaluation: detection trials, background-only runs, the fixed-threshold baseline,
the CFAR false-alarm check and the benchmarks' speed figures, as one JSON-able dict."""
from __future__ import annotations

import functools
import math
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..detect import cfar
from ..detect.noise import codes_to_mw
from ..gateway.events import AlertRaised
from ..paths import REPO, SCENES
from ..sim.scene import load_scene
from . import localisation, remoteid as remote_id, score
from .readings import EVAL_PLAN, load_profile
from .run import run_session
from .scenes import score_scenes, worker_pool
from .trials import FAMILIES, TARGET_SNR_DB, Trial, dedicated_plan, run_trial
from .vnodes import compare as vnode_compare

# Detector settings of the evaluation (docs/evaluation/report.md, "Settings"): the gateway's
# defaults (Pfa 1e-6, thresholds designed for each front end's looks: straja.frontends.LOOKS),
# with the looks taken from the sweep's band since the fast path sends no info reply.
EVAL_DETECT = {"looks_by_band": True}
BACKGROUNDS = ["urban_24ghz_background", "subghz_lora_background", "quiet_rural"]
NODES = ["n1", "n2", "n3"]
# The catalogue's scenes scored whole (straja.eval.scenes, docs/scenes.md): every drone link alone
# and on a background of its band, and every busy background.
CATALOGUE_PATTERNS = ("*_alone.toml", "*_on_*.toml", "*_background.toml")
SUB_GHZ_HZ = 1e9          # a link below this is a sub-GHz one: its alert target is 10 s
SCENE_ALERTS_PER_PRESENCE = 1.2
QUICK_REMOTE_ID_S = 60.0  # `make eval` runs the Remote ID scenes this long (within 10 minutes)
# The targets `make eval` fails on (ids: see targets()): the 11 of the trials and background
# runs, and those of the catalogue scenes the detector met when they came in (docs/evaluation/
# README.md, "Gated targets"); the others are reported, met or missed, without failing CI.
GATED = frozenset({
    "elrs_2g4/pd", "elrs_2g4/class", "analog_video/pd", "analog_video/class", "elrs_900/pd",
    "elrs_900/class", "crossfire/pd", "crossfire/class", "background/urban_24ghz_background",
    "background/subghz_lora_background", "background/quiet_rural",
    "scene/analog_video_alone analog_video/alert", "scene/analog_video_alone analog_video/class",
    "scene/crossfire_alone crossfire/alert", "scene/crossfire_alone crossfire/class",
    "scene/dji_ofdm_alone dji/alert", "scene/dji_ofdm_alone dji/class",
    "scene/elrs_2g4_alone elrs_2g4/alert",
    "scene/elrs_2g4_alone elrs_2g4/class", "scene/elrs_868_alone elrs_868/alert",
    "scene/elrs_915_alone elrs_915/alert", "scene/ocusync_24_alone ocusync_24/alert",
    "scene/ocusync_24_alone ocusync_24/class", "scene/ocusync_58_alone ocusync_58/alert",
    "scene/ocusync_58_alone ocusync_58/class", "scene/bluetooth_ble_background/false",
    "scene/eu868_lorawan_meshtastic_background/false", "scene/microwave_ovens_background/false",
    "scene/subghz_lora_background/false",
    "scene/crossfire_on_subghz_lora crossfire/alert", "scene/crossfire_on_subghz_lora crossfire/class",
    "scene/elrs_868_on_subghz_lora elrs_868/alert", "scene/elrs_915_on_subghz_lora elrs_915/alert",
})


def plain_plan(fam) -> list[dict]:
    """The evaluation plan without revisits: one reading per channel."""
    return [{k: v for k, v in e.items() if k != "revisit"} for e in EVAL_PLAN]


# Diagnostic variants, run on +10 dB trials: what the results would be with another setting
VARIANTS = [
    ("1-look thresholds (a front end of unknown kind)", lambda fam: EVAL_PLAN, {}),
    ("plain sweeps (no revisit: one reading per channel)", plain_plan, EVAL_DETECT),
    ("the family's band only (a receiver per band)", dedicated_plan, EVAL_DETECT),
]
BASELINE_K = 2          # consecutive sweeps above the threshold, as hobby detectors debounce
SNR_RANGE_DB = (-6.0, 26.0)


@dataclass
class Settings:
    curve_trials: int = 120       # per family, power uniform over SNR_RANGE_DB
    target_trials: int = 100      # per family, at TARGET_SNR_DB
    hours: float = 3.0            # node-hours per background scene
    segment_s: float = 600.0      # one background run: a node switched on for this long
    seed: int = 1
    jobs: int = 2
    detect: dict | None = None
    quick: bool = False
    scenes: list | None = None    # background scene files (default BACKGROUNDS)
    catalogue: bool = True        # score the catalogue's scenes whole (CATALOGUE_PATTERNS)
    speed: bool = True            # run the benchmarks for the speed section
    vnode_trials: int = 5         # per family, of the +10 dB trials: also on virtual nodes
    variants: bool = True         # the diagnostic variants (not targets: the quick run skips them)
    localisation_fixes: int = 100  # per condition of the localisation's Monte Carlo
    remote_id: bool = True        # the Remote ID row (the catalogue's Remote ID scenes, whole;
                                  # quick: their first QUICK_REMOTE_ID_S)


def _trial_job(args):
    trial, horizon, detect, plan = args
    outcome, session, t_on = run_trial(trial, horizon, detect, plan, trial.family.target_s)
    fe = _fe_index(trial.family.front_end)
    ends, tops = session.peaks[fe]
    return outcome, t_on, ends, tops, fe


def _background_job(args):
    path, node, seed, seconds, detect = args
    quiet = path.stem == "quiet_rural"
    session = run_session(load_scene(path, seed=seed), node, seconds, seed=seed, detect=detect,
                          keep_codes=quiet)
    alerts = [e for e in session.events if isinstance(e, AlertRaised)]
    return path.stem, node, seconds, alerts, session.peaks, list(session.codes.values())


def _codes_floor_check(peaks_codes, pfa):
    """CFAR (the pipeline's CA design) on the quiet scene's node sweeps."""
    d = cfar.design("ca", pfa, 8, 1)
    cells = alarms = 0
    for codes in peaks_codes:
        det = cfar.cfar_freq(codes_to_mw(codes), d)
        cells += det.size
        alarms += int(det.sum())
    return cells, alarms


def cfar_check(quiet_sweeps, n_cells: int, seed: int) -> list[dict]:
    """Measured CFAR false-alarm rate against design: on exponential noise (the design's
    assumption) and on the nodes' own quiet-site readings."""
    rng = np.random.default_rng(seed)
    rows = []
    for pfa in (1e-2, 1e-3):
        d = cfar.design("ca", pfa, 8, 1)
        noise = rng.standard_exponential((n_cells // 256, 256)).astype(np.float32)
        k = int(cfar.cfar_freq(noise, d).sum())
        n = noise.size
        rows.append({"input": "exponential noise", "pfa": pfa, "cells": n, "alarms": k,
                     "measured": k / n, "ci": score.wilson(k, n)})
    for pfa in (1e-2, 1e-6):
        n, k = _codes_floor_check(quiet_sweeps, pfa)
        rows.append({"input": "node readings, quiet site", "pfa": pfa, "cells": n, "alarms": k,
                     "measured": k / n if n else math.nan, "ci": score.wilson(k, n)})
    return rows


SPEED_FIGURES = {  # (benchmark, label, pattern of its output line)
    "gateway alert latency p50 / p99 (ms)": ("gateway", r"alert frames: p50 ([\d.]+) ms, p99 ([\d.]+) ms"),
    "gateway latency, all frames, p50 / p99 (ms)": ("gateway", r"all frames:\s+p50 ([\d.]+) ms, p99 ([\d.]+) ms"),
    "gateway CPU per node (ms per node-second)": ("gateway", r"([\d.]+) ms CPU per node-second"),
    "core pipeline, batch of 1024-bin sweeps (M bins/s, 1 node)": ("detect", r"^pipeline\s+1024\s+([\d.]+)"),
    "core CA-CFAR, batch of 1024-bin sweeps (M bins/s, 1 node)": ("detect", r"^CFAR freq CA\s+1024\s+([\d.]+)"),
    "core pipeline, live 256-bin sweeps (M bins/s)": ("detect", r"^pipeline\s+([\d.]+)\s+[\d.]+\s+\d+x$"),
}


def speed_figures(runs: dict) -> list[tuple[str, str]]:
    """The headline figures picked from the benchmarks' output ("?" if a line is missing)."""
    rows = []
    for label, (bench, pattern) in SPEED_FIGURES.items():
        m = re.search(pattern, runs.get(bench, {}).get("output", ""), re.M)
        rows.append((label, " / ".join(m.groups()) if m else "?"))
    return rows


def speed(quick: bool) -> dict:
    """The benchmarks' own output (bench/), run briefly."""
    out = {}
    runs = {"gateway": ["bench/bench_gateway.py", "--seconds", "10" if quick else "30"],
            "detect": ["bench/bench_detect.py", "--quick"]}
    for name, cmd in runs.items():
        t = time.perf_counter()
        p = subprocess.run([sys.executable, *cmd], cwd=REPO, capture_output=True, text=True,
                           timeout=300)
        out[name] = {"command": ".venv/bin/python " + " ".join(cmd), "output": p.stdout.strip(),
                     "ok": p.returncode == 0, "seconds": round(time.perf_counter() - t, 1)}
    return out


PROGRESS_EVERY_S = 30.0  # how often a long batch of runs says how far it is


def _map(pool, fn, items, what: str, log) -> list:
    """fn over items (in the pool's workers, or here without one), in order; every
    PROGRESS_EVERY_S how many are done and the time left."""
    results = []
    t0 = last = time.monotonic()
    # one item at a time: a run takes seconds to minutes, so a chunk of them would leave one
    # worker with a long tail while the other idles
    for result in pool.imap(fn, items) if pool else map(fn, items):
        results.append(result)
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S and len(results) < len(items):
            last = now
            eta = (now - t0) * (len(items) - len(results)) / len(results)
            log(f"  {what}: {len(results)}/{len(items)} done, ETA {eta:.0f} s")
    return results


def evaluate(st: Settings, log=print) -> dict:
    t_start = time.perf_counter()
    detect = EVAL_DETECT if st.detect is None else st.detect
    rng = random.Random(st.seed)
    with worker_pool(st.jobs) as pool:
        # background-only runs first: the baseline's threshold is tuned on them
        paths = [SCENES / f"{n}.toml" for n in BACKGROUNDS] if not st.scenes else st.scenes
        jobs = []
        for path in paths:
            n_seg = max(1, round(st.hours * 3600 / st.segment_s))
            for i in range(n_seg):
                jobs.append((path, NODES[i % len(NODES)], st.seed * 1000 + i, st.segment_s, detect))
        log(f"background: {len(jobs)} runs of {st.segment_s:.0f} s")
        t_bg = time.perf_counter()
        bg = _map(pool, _background_job, jobs, "background runs", log)
        t_bg = time.perf_counter() - t_bg
        trials = []
        for fam in FAMILIES:
            for i in range(st.curve_trials):
                trials.append((Trial(fam, rng.randrange(2 ** 31), rng.uniform(*SNR_RANGE_DB)),
                               2 * fam.target_s, detect, EVAL_PLAN))
            for i in range(st.target_trials):
                trials.append((Trial(fam, rng.randrange(2 ** 31), TARGET_SNR_DB),
                               2 * fam.target_s, detect, EVAL_PLAN))
        variants = []
        for name, plan_of, v_detect in VARIANTS if st.variants else ():
            for fam in FAMILIES:
                for i in range(st.target_trials // 2):
                    variants.append((name, (Trial(fam, rng.randrange(2 ** 31), TARGET_SNR_DB),
                                            2 * fam.target_s, v_detect, plan_of(fam))))
        log(f"trials: {len(trials)} + {len(variants)} for the variants")
        results = _map(pool, _trial_job, trials, "trials", log)
        v_results = _map(pool, _trial_job, [v[1] for v in variants], "variant trials", log)
    if st.catalogue:
        scene_paths = catalogue_scenes(st.quick)
        log(f"catalogue: {len(scene_paths)} scenes scored whole")
        catalogue = score_scenes(scene_paths, st.jobs, detect=st.detect, log=log)
    else:
        catalogue = {"emitters": [], "false_alerts_per_node_hour": {}, "alerts_per_node_hour": {}}
    # on virtual nodes after the pool is gone: they run in real time and need the CPUs
    vnodes = vnode_compare(trials, results, st.vnode_trials, detect, log)
    floors = _floors(bg)
    out = {"settings": {**st.__dict__, "scenes": [str(p) for p in paths], "detect": detect,
                        "plan": EVAL_PLAN, "baseline_k": BASELINE_K},
           "floors_code": floors}
    out["background"], bg_runs = _background_summary(bg, floors)
    out["baseline_threshold_db"] = {
        fe: score.tune_threshold(runs, BASELINE_K, _alerts_in_band(bg, fe))
        for fe, runs in bg_runs.items()}
    out["families"] = _family_summary(results, trials, floors, out["baseline_threshold_db"])
    out["variants"] = _variant_summary(variants, v_results)
    out["catalogue"] = catalogue
    out["vnodes"] = vnodes
    log(f"localisation: {st.localisation_fixes} fixes per condition")
    out["localisation"] = localisation.evaluate(st.localisation_fixes, st.seed, jobs=st.jobs)
    if st.remote_id:
        log("Remote ID: its scenes, whole")
    out["remote_id"] = (remote_id.evaluate(QUICK_REMOTE_ID_S if st.quick else None,
                                           jobs=st.jobs)
                        if st.remote_id else {"drones": [], "identified_within_3s": None,
                                              "draws": 0})
    out["cfar"] = cfar_check([c for b in bg for c in b[5]], 1 << (20 if st.quick else 23), st.seed)
    out["speed"] = speed(st.quick) if st.speed else {}
    out["fast_path"] = {"node_hours": sum(b["hours"] for b in out["background"]),
                        "wall_s": round(t_bg, 1), "jobs": st.jobs}
    out["seconds"] = round(time.perf_counter() - t_start, 1)
    out["targets"] = targets(out, st.quick)
    return out


def catalogue_scenes(quick: bool = False) -> list:
    """The catalogue's scenes to score whole; quick (`make eval`): those with gated targets."""
    paths = sorted({p for pattern in CATALOGUE_PATTERNS for p in SCENES.glob(pattern)})
    if quick:  # ids "scene/<scene> <emitter>/..." and "scene/<scene>/false"
        gated = {t.split("/")[1].split(" ")[0] for t in GATED if t.startswith("scene/")}
        paths = [p for p in paths if p.stem in gated]
    return paths


@functools.cache
def _catalogue_scene(name: str):
    return load_scene(SCENES / f"{name}.toml")


def _alert_target_s(scene: str, emitter: str) -> float:
    """Alert within 2 s at 2.4 and 5.8 GHz, 10 s for a sub-GHz link (issue 15's targets)."""
    em = _catalogue_scene(scene).emitter(emitter)
    return 10.0 if max(st.f_hi for st in em.streams) < SUB_GHZ_HZ else 2.0


def _node_hours(scene: str) -> float:
    s = _catalogue_scene(scene)
    return len(s.nodes) * s.duration_s / 3600


def _floors(bg) -> dict:
    """Per front end: the median strongest reading of a sweep on the quiet site (the level a
    hobby detector is calibrated against), as an RSSI code."""
    per_fe = {}
    for name, node, seconds, alerts, peaks, _ in bg:
        if name != "quiet_rural":
            continue
        for fe, (ends, tops) in peaks.items():
            per_fe.setdefault(fe, []).append(tops)
    return {fe: float(np.median(np.concatenate(v))) for fe, v in per_fe.items()}


def _excess_db(tops, floor):
    return (np.asarray(tops, float) - floor) / 2


def _background_summary(bg, floors):
    rows = {}
    runs: dict[int, list] = {}
    for name, node, seconds, alerts, peaks, _ in bg:
        r = rows.setdefault(name, {"scene": name, "hours": 0.0, "alerts": 0, "families": {}})
        r["hours"] += seconds / 3600
        r["alerts"] += len(alerts)
        for a in alerts:
            r["families"][a.family] = r["families"].get(a.family, 0) + 1
        for fe, (ends, tops) in peaks.items():
            if fe in floors:
                runs.setdefault(fe, []).append(_excess_db(tops, floors[fe]))
    out = []
    for r in rows.values():
        r["rate"] = r["alerts"] / r["hours"]
        r["upper95"] = score.poisson_upper(r["alerts"], r["hours"])
        out.append(r)
    return out, runs


def _family_summary(results, trials, floors, thresholds) -> list[dict]:
    out = []
    for fam in FAMILIES:
        mine = [(r, t) for r, t in zip(results, trials) if t[0].family.name == fam.name]
        outcomes = [r[0] for r, _ in mine]
        base_t = []
        for (outcome, t_on, ends, tops, fe), _ in mine:
            idx = score.first_run_end(np.where(ends >= t_on, _excess_db(tops, floors[fe]),
                                               -99.0), thresholds[fe], BASELINE_K)
            base_t.append(ends[idx] - t_on if idx >= 0 else math.inf)
        snr = np.array([o.snr_db for o in outcomes])
        hit = score.detected(outcomes, fam.target_s)
        base_hit = np.array(base_t) <= fam.target_s
        at_target = np.array([t[0].snr_db == TARGET_SNR_DB for _, t in mine])
        curve = ~at_target
        k, n = int(hit[at_target].sum()), int(at_target.sum())
        times = [o.t_alert_s for o, a in zip(outcomes, at_target) if a]
        right = [o for o in outcomes if o.predicted != "none" and o.t_alert_s <= fam.target_s]
        correct = sum(o.predicted == fam.expect for o in right)
        edges = list(np.arange(SNR_RANGE_DB[0], SNR_RANGE_DB[1] + 0.1, 4.0))
        pd_rows = score.pd_curve(snr[curve], hit[curve], edges)
        base_rows = score.pd_curve(snr[curve], base_hit[curve], edges)
        out.append({
            "family": fam.name, "label": fam.label, "expect": fam.expect,
            "target_s": fam.target_s, "target_pd": fam.target_pd,
            "trials": len(outcomes), "at_target": {"n": n, "k": k, "pd": k / n if n else math.nan,
                                                   "ci": score.wilson(k, n)},
            "baseline_at_target": {"n": n, "k": int(base_hit[at_target].sum())},
            "time_to_alert": {"median": score.percentile(times, 50),
                              "p90": score.percentile(times, 90)},
            "pd_curve": pd_rows, "baseline_curve": base_rows,
            "p90_db": score.power_at_pd(pd_rows), "baseline_p90_db": score.power_at_pd(base_rows),
            "confusion": score.confusion(outcomes, [fam.name])[fam.name],
            "classified": {"n": len(right), "correct": correct,
                           "share": correct / len(right) if right else math.nan,
                           "ci": score.wilson(correct, len(right))},
            "points": [[round(float(s), 2), h, b] for s, h, b in
                       zip(snr, hit.tolist(), base_hit.tolist())],
        })
    return out


def _variant_summary(variants, results) -> list[dict]:
    rows = []
    for name, _, _ in VARIANTS:
        for fam in FAMILIES:
            mine = [r[0] for (v, t), r in zip(variants, results)
                    if v == name and t[0].family.name == fam.name]
            hit = score.detected(mine, fam.target_s)
            k, n = int(hit.sum()), len(mine)
            right = [o for o in mine if o.predicted != "none" and o.t_alert_s <= fam.target_s]
            correct = sum(o.predicted == fam.expect for o in right)
            rows.append({"variant": name, "family": fam.label, "n": n, "k": k,
                         "pd": k / n if n else math.nan, "ci": score.wilson(k, n),
                         "median_s": score.percentile([o.t_alert_s for o in mine], 50),
                         "classified": f"{correct}/{len(right)}"})
    return rows


def _alerts_in_band(bg, fe: int) -> int:
    """The pipeline's background alerts whose band centre lies in front end fe's band: the
    baseline may raise as many on that front end."""
    lo, hi = load_profile()["front_ends"][fe]["band_khz"]
    return sum(lo <= (a.lo_khz + a.hi_khz) / 2 <= hi for b in bg for a in b[3])


def _fe_index(name):
    return [e["name"] for e in load_profile()["front_ends"]].index(name)


def clear_misses(rows: list[dict]) -> list[dict]:
    """The gated targets clearly missed: what makes `make eval` fail."""
    return [t for t in rows if t["gated"] and not t["within_tolerance"]]


def targets(out: dict, quick: bool) -> list[dict]:
    """Each target: its id, measured value (and unit), met (the point estimate meets it; the
    report gives the 95 % intervals beside it), within_tolerance (the 95 % interval still
    reaches the target: what a short run such as `make eval` can check; outside it is a clear
    miss; a single scene run has no interval: missed is a clear miss) and gated (GATED: a clear
    miss fails `make eval`)."""
    rows = []

    def add(target_id, text, value, unit, met, within):
        rows.append({"id": target_id, "target": text, "value": value, "unit": unit,
                     "met": bool(met), "within_tolerance": bool(within),
                     "gated": target_id in GATED})

    for f in out["families"]:
        a = f["at_target"]
        add(f"{f['family']}/pd", f"{f['label']}: alert within {f['target_s']:g} s at "
            f"+{TARGET_SNR_DB:g} dB in >= {f['target_pd']:.0%}", a["pd"], "share",
            a["pd"] >= f["target_pd"], a["ci"][1] >= f["target_pd"])
        c = f["classified"]
        add(f"{f['family']}/class", f"{f['label']}: confirmed tracks classified correctly >= 90%",
            c["share"], "share", c["n"] and c["share"] >= 0.9, c["n"] and c["ci"][1] >= 0.9)
    for b in out["background"]:
        add(f"background/{b['scene']}", f"{b['scene']}: < 1 false alert per node-hour",
            b["rate"], "/h", b["rate"] < 1.0, score.poisson_lower(b["alerts"], b["hours"]) < 1.0)
    drones = [e for e in out["catalogue"]["emitters"] if e["drone"]]
    for e in drones:
        where = f"{e['scene']} {e['name']}"
        limit = _alert_target_s(e["scene"], e["name"])
        t = math.inf if e["time_to_alert_s"] is None else e["time_to_alert_s"]
        add(f"scene/{where}/alert", f"{where}: alert within {limit:g} s", t, "s", t <= limit,
            t <= limit)
        add(f"scene/{where}/class", f"{where}: named its link's family",
            float(e["family_ok"]), "share", e["family_ok"], e["family_ok"])
    # every alert on a catalogue background is false: none of its emitters is a drone (docs/
    # scenes.md), not even a fixed analog camera, whose kind is a drone's
    for name, rate in out["catalogue"]["alerts_per_node_hour"].items():
        if name.endswith("_background"):
            hours = _node_hours(name)
            add(f"scene/{name}/false", f"{name} (whole scene, all nodes): < 1 false alert per "
                "node-hour", rate, "/h", rate < 1.0,
                score.poisson_lower(round(rate * hours), hours) < 1.0)
    # (the localisation and Remote ID parts: in a whole evaluation's out)
    for target_id, (value, met) in out.get("localisation", {}).get("targets", {}).items():
        if target_id in localisation.TARGETS:
            text, unit = localisation.TARGETS[target_id]
            add(f"localisation/{target_id}", text, value, unit, met, met)
    share = out.get("remote_id", {}).get("identified_within_3s")
    if share is not None:
        add("remote_id/identified_3s", "Remote ID drones identified within "
            f"{remote_id.IDENTIFY_WITHIN_S:g} s of their first alert", share, "share",
            share == 1.0, share == 1.0)
    alerted = [e for e in drones if e["alerted"]]  # (a missed drone's 0 would hide repeats)
    if alerted:
        mean = sum(e["alerts_per_presence"] for e in alerted) / len(alerted)
        add("scene/alerts_per_presence", f"catalogue drones alerted: <= "
            f"{SCENE_ALERTS_PER_PRESENCE:g} alerts per presence on average", mean, "ratio",
            mean <= SCENE_ALERTS_PER_PRESENCE, mean <= SCENE_ALERTS_PER_PRESENCE)
    return rows
