"""The evaluation report: report.md and PNG figures (matplotlib, Agg) in a folder."""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import localisation, remoteid as remote_id
from .evaluate import speed_figures
from .readings import EVAL_PLAN, load_profile

DPI = 72


def _pct(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f} %"


def _s(x) -> str:
    return "never" if x == math.inf else "n/a" if math.isnan(x) else f"{x:.2f} s"


def _value(target: dict) -> str:
    v, unit = target["value"], target["unit"]
    if unit == "share":
        return _pct(v)
    if unit == "s":
        return _s(v)
    return f"{v:.2f} /h" if unit == "/h" else f"{v:.2f}"


def _db(x) -> str:
    return "not reached" if x is None or math.isnan(x) else f"{x:+.1f} dB"


def _gain(pipeline_db: float, baseline_db: float) -> str:
    """The pipeline's gain over the baseline at 90 % Pd, in words when one never gets there."""
    if math.isnan(pipeline_db) and math.isnan(baseline_db):
        return "neither reaches 90 %"
    if math.isnan(pipeline_db):
        return "baseline ahead: the pipeline does not reach 90 %"
    if math.isnan(baseline_db):
        return "the baseline does not reach 90 %"
    return f"{baseline_db - pipeline_db:+.1f} dB"


def _ci(ci) -> str:
    return f"[{100 * ci[0]:.0f}, {100 * ci[1]:.0f}] %"


def _plan_entry(e: dict) -> str:
    n = (e["stop_khz"] - e["start_khz"]) // e["step_khz"] + 1
    sweep_ms = n * e["dwell_us"] * (2 if e.get("revisit") else 1) / 1000
    revisit = f", each read again {e['revisit']} dwells later" if e.get("revisit") else ""
    return (f"{e['front_end']} {n} channels {e['step_khz'] / 1000:g} MHz apart from "
            f"{e['start_khz'] / 1000:g} MHz, {e['dwell_us'] / 1000:g} ms dwell{revisit} "
            f"({sweep_ms:.0f} ms a sweep)")


def _thresholds(out: dict) -> str:
    names = [e["name"] for e in load_profile()["front_ends"]]
    return ", ".join(f"{names[int(fe)]} {t:.1f} dB"
                     for fe, t in sorted(out["baseline_threshold_db"].items()))


def figure_pd(out: dict, path: Path) -> None:
    fams = out["families"]
    fig, axes = plt.subplots(1, len(fams), figsize=(3.0 * len(fams), 2.8), sharey=True)
    for ax, f in zip(axes, fams):
        for key, name, style in (("pd_curve", "pipeline", "o-"), ("baseline_curve", "baseline", "s--")):
            rows = f[key]
            x = [(r["lo"] + r["hi"]) / 2 for r in rows]
            y = [r["pd"] for r in rows]
            err = [[max(r["pd"] - r["ci"][0], 0) for r in rows], [max(r["ci"][1] - r["pd"], 0) for r in rows]]
            ax.errorbar(x, y, yerr=err, fmt=style, ms=3, capsize=2, label=name)
        ax.axvline(10, color="grey", lw=0.8, ls=":")
        ax.axhline(f["target_pd"], color="grey", lw=0.8, ls=":")
        ax.set_title(f"{f['label']}\nalert within {f['target_s']:g} s", fontsize=8)
        ax.set_xlabel("received power over noise floor (dB)", fontsize=7)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("probability of detection", fontsize=7)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def figure_fa(out: dict, path: Path) -> None:
    rows = out["background"]
    fig, ax = plt.subplots(figsize=(5, 2.4))
    names = [r["scene"] for r in rows]
    ax.bar(names, [r["rate"] for r in rows], color="tab:blue", label="measured")
    ax.errorbar(names, [r["rate"] for r in rows],
                yerr=[[0] * len(rows), [r["upper95"] - r["rate"] for r in rows]], fmt="none",
                ecolor="k", capsize=4, label="95 % upper bound")
    ax.axhline(1.0, color="r", lw=1, ls="--", label="target")
    ax.set_ylabel("false alerts / node-hour", fontsize=7)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def markdown(out: dict, command: str) -> str:
    st = out["settings"]
    L = ["# Straja detection evaluation", "",
         f"Command: `{command}` ({out['seconds']:.0f} s on the 2-core development VM).", "",
         "Every figure below comes from the fast path (`straja.eval.readings`: the firmware's "
         "drivers driving the virtual board's chip models, in virtual time, on a model of the "
         "node's app loop and scheduler with what each step costs a virtual node that has a CPU "
         "of its own; tests/test_eval_equivalence.py checks its sweep timing, overruns and "
         "readings against a real virtual node's with a drone on, and the section 'Fast path "
         "against virtual nodes' below runs some trials on both) feeding the gateway's pure "
         "pipeline "
         "(`straja.gateway.pipeline.Pipeline`). Trials are scored against the scene's ground "
         "truth (`straja.sim.truth`: switch-on time) and the emitter's received power at the "
         "node (`NodeRF.mean_rx_dbm`, the function the truth's `rx` records use). "
         "`results.json` holds every number, trial by trial (`points`: power over the floor, "
         "pipeline hit, baseline hit); docs/evaluation/README.md reads the committed run.", "",
         "Scan plan: the node's default plan for the virtual board (firmware "
         "`straja_node.plan.default_plan` itself; tests/test_frontends.py checks that a virtual "
         "node runs it), "
         "less the front ends the gateway does not detect on: "
         + "; ".join(_plan_entry(e) for e in EVAL_PLAN) + ".", "",
         "## Targets", "",
         "Met: the point estimate meets the target (the 95 % intervals are in the sections "
         "below). `make eval` (this command with `--quick`) fails only on a clear miss of a gated "
         "target: outside the 95 % interval of its measurement (a scene scored once has no "
         "interval: missed is a clear miss). Targets not gated are reported, met or missed "
         "(docs/evaluation/README.md says which are gated and why).", "",
         "| target | measured | met | gated |", "|---|---|---|---|"]
    for t in out["targets"]:
        L.append(f"| {t['target']} | {_value(t)} | {'yes' if t['met'] else '**no**'} | "
                 f"{'yes' if t['gated'] else 'no'} |")
    L += ["", "## Detection per link family", "",
          f"Per family: {st['curve_trials']} trials at a power uniform over the range shown "
          f"and {st['target_trials']} at +10 dB over the noise floor of the front end's "
          "bandwidth (RX5808 20 MHz, CC2500 812.5 kHz, SX1262 467 kHz); each trial a new "
          "scene seed (hop sequence, fading), board seed, position (300-3000 m, any bearing), "
          "switch-on time (4-6 s after the node) and, for video, channel (R1-R8, F1-F8). "
          "Intervals are Wilson 95 %.", "",
          "| family | Pd at +10 dB (target window) | 95 % interval | time to alert, median / p90 "
          "(+10 dB) | power for 90 % Pd: pipeline / baseline | gain |",
          "|---|---|---|---|---|---|"]
    for f in out["families"]:
        a = f["at_target"]
        gain = _gain(f["p90_db"], f["baseline_p90_db"])
        L.append(f"| {f['label']} | {a['k']}/{a['n']} = {_pct(a['pd'])} | {_ci(a['ci'])} | "
                 f"{_s(f['time_to_alert']['median'])} / {_s(f['time_to_alert']['p90'])} | "
                 f"{_db(f['p90_db'])} / {_db(f['baseline_p90_db'])} | "
                 f"{gain} |")
    L += ["", "![Pd versus received power](pd_vs_power.png)", "",
          "### Classification (first alert after switch-on, all trials of a family)", "",
          "| family (truth) | expected | first alert's family as last told: count | correct among "
          "alerted in time |", "|---|---|---|---|"]
    for f in out["families"]:
        conf = ", ".join(f"{k}: {v}" for k, v in sorted(f["confusion"].items()))
        c = f["classified"]
        L.append(f"| {f['label']} | {f['expect']} | {conf} | {c['correct']}/{c['n']} "
                 f"({_pct(c['share'])}) |")
    L += ["", "### Diagnostic variants (+10 dB trials)", "",
          "The same kind of trials with one setting changed, to show what limits the result"
          + ("." if out["variants"] else " (not run: `--quick`)."), "",
          "| variant | family | Pd in target window | 95 % interval | median time | "
          "correctly classified |", "|---|---|---|---|---|---|"]
    for v in out["variants"]:
        L.append(f"| {v['variant']} | {v['family']} | {v['k']}/{v['n']} = {_pct(v['pd'])} | "
                 f"{_ci(v['ci'])} | {_s(v['median_s'])} | {v['classified']} |")
    L += _vnode_section(out.get("vnodes", []))
    L += ["", "## False alerts on background-only scenes", "",
          f"Each run is one node (n1, n2, n3 in turn) switched on for {st['segment_s']:.0f} s "
          "of a background scene with its own seed (new traffic, hop tables, fading); "
          "an alert is an `alert_raised` event of the gateway.", "",
          "| scene | node-hours | alerts | rate /node-hour | 95 % upper bound | families |",
          "|---|---|---|---|---|---|"]
    for b in out["background"]:
        fams = ", ".join(f"{k}: {v}" for k, v in b["families"].items()) or "-"
        L.append(f"| {b['scene']} | {b['hours']:.2f} | {b['alerts']} | {b['rate']:.2f} | "
                 f"{b['upper95']:.2f} | {fams} |")
    L += ["", "![False alerts per node-hour](false_alerts.png)", "",
          "## Catalogue scenes, scored whole", "",
          "Every `*_alone`, `*_on_*` and `*_background` scene of the catalogue (docs/scenes.md) "
          "for its whole duration, every node of it through one gateway at its defaults "
          "(adaptive scanning on), every emitter scored against the ground truth "
          "(`straja eval --scene`, docs/evaluation/README.md: an alert matches an emitter whose "
          "transmissions overlap its band while its track is seen; a drone's, those of the alert's "
          "link: video or control link). Time to alert is from the "
          "emitter's first switch-on; alerts per presence: alerts matched to it per on interval; "
          "a false alert matches no drone emitter.", "",
          *scene_markdown(out["catalogue"]),
          *localisation.markdown(out["localisation"]),
          *remote_id.markdown(out["remote_id"]), "",
          "## Baseline: fixed-threshold RSSI detector", "",
          f"Alert when the strongest channel of a front end's sweep is more than T dB over "
          f"that front end's calibrated floor (median strongest reading of a quiet-site sweep) "
          f"for {st['baseline_k']} consecutive sweeps, as hobby FPV detectors do. T is the "
          f"lowest threshold (0.5 dB grid) giving no more alerts on the same background runs "
          f"than the pipeline raised there in that front end's band: T = {_thresholds(out)}. "
          "Its Pd curves are in the figure above (dashed); the table's gain is the "
          "difference in received power at which each reaches 90 % Pd.", "",
          "## CFAR false-alarm rate against design", "",
          "CA-CFAR across frequency, 8 + 1 cells a side (the pipeline's design), "
          "`straja.detect.cfar.design` / `cfar_freq`.", "",
          "| input | design Pfa | cells | alarms | measured | 95 % interval |", "|---|---|---|---|---|---|"]
    for c in out["cfar"]:
        L.append(f"| {c['input']} | {c['pfa']:g} | {c['cells']} | {c['alarms']} | "
                 f"{c['measured']:.2e} | [{c['ci'][0]:.2e}, {c['ci'][1]:.2e}] |")
    L += ["", "## Speed (from the benchmarks, run briefly)", ""]
    if not out["speed"]:
        L += ["The benchmarks were not run (`--quick`: CI runs them, `bench/run_all.py --quick`; "
              "`make bench` gives the figures).", ""]
    L += ["| figure | value |", "|---|---|"]
    if out["speed"]:
        L += [f"| {label} | {value} |" for label, value in speed_figures(out["speed"])]
    fp = out["fast_path"]
    L += [f"| evaluation fast path: node-hours of scene per wall minute ({fp['jobs']} processes) "
          f"| {fp['node_hours'] / max(fp['wall_s'], 1e-9) * 60:.1f} |", "",
          "The benchmarks' own output:", ""]
    for name, s in out["speed"].items():
        L += [f"`{s['command']}` ({s['seconds']} s):", "", "```", s["output"], "```", ""]
    L += ["## Settings", "", f"Scan plan (virtual board): `{st['plan']}`", "",
          f"Detector ([detect]): `{st['detect']}`; gateway otherwise at its defaults, adaptive "
          "scanning off (trials and background runs: one node each); the catalogue scenes run "
          "the gateway at its defaults, adaptive scanning on.", ""]
    return "\n".join(L) + "\n"


def _ms(x) -> str:
    return "n/a" if math.isnan(x) else f"{1e3 * x:.0f} ms"


def _vnode_section(rows: list) -> list[str]:
    """The fast path against real virtual nodes on the same +10 dB trials."""
    if not rows:
        return []
    L = ["", "### Fast path against virtual nodes (+10 dB trials)", "",
         "The first +10 dB trials of each family again on a virtual node (the firmware under "
         "MicroPython, in real time, through the same gateway pipeline), each until its "
         "target time after switch-on. The fast path models a node with a CPU of its own; the "
         "virtual node shares this machine's, so its sweeps stretch and its readings overrun "
         "by its CPU contention (slowdown: (time on a CPU + time waiting for one) / time on a "
         "CPU). The last sweep period is the fast path's at the virtual node's slowdown "
         "(`StepCost.contended`): the timing model against the real thing.", "",
         "| family | trials | alerted: fast path / virtual node | median time to alert | "
         "sweep period (front end): fast path / virtual node / fast path at its slowdown | "
         "virtual node slowdown, overruns |",
         "|---|---|---|---|---|---|"]
    for r in rows:
        f, n = r["fast"], r["node"]
        L.append(f"| {r['family']} | {r['n']} | {f['alerted']} / {n['alerted']} | "
                 f"{_s(f['median_s'])} / {_s(n['median_s'])} | {_ms(f['sweep_period_s'])} / "
                 f"{_ms(n['sweep_period_s'])} / {_ms(r['contended_sweep_period_s'])} "
                 f"({r['front_end']}) | {r['slowdown']:.2f}, "
                 f"{r['node_overruns_per_s']:.0f}/s |")
    return L


def write(out: dict, folder: Path, command: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    figure_pd(out, folder / "pd_vs_power.png")
    figure_fa(out, folder / "false_alerts.png")
    localisation.plot(out["localisation"], folder)
    (folder / "results.json").write_text(json.dumps(out, default=str, indent=0) + "\n")
    path = folder / "report.md"
    path.write_text(markdown(out, command))
    return path


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


SCENE_COLUMNS = ("scene", "name", "kind", "drone", "alerted", "time_to_alert_s", "family",
                 "family_ok", "alerts_per_presence")


def scene_rows(out: dict) -> list[list[str]]:
    """`straja eval --scene`'s results as rows of text, one per emitter."""
    return [[_cell(e[c]) for c in SCENE_COLUMNS] for e in out["emitters"]]


def scene_table(out: dict) -> str:
    """A plain-text table of `straja eval --scene`'s results, for a terminal."""
    head = ["scene", "emitter", "kind", "drone", "alerted", "time to alert (s)", "family",
            "family ok", "alerts/presence"]
    rows = [head] + scene_rows(out)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines += ["", "false alerts per node-hour:"]
    lines += [f"  {name}: {rate:.2f}" for name, rate in out["false_alerts_per_node_hour"].items()]
    return "\n".join(lines)


def scene_markdown(out: dict) -> list[str]:
    """The per-emitter and per-scene tables of a scene scoring, as Markdown lines."""
    L = ["| scene | emitter | kind | drone | alerted | time to alert | family | family ok | "
         "alerts per presence |", "|---|---|---|---|---|---|---|---|---|"]
    L += ["| " + " | ".join(r) + " |" for r in scene_rows(out)]
    everything = out.get("alerts_per_node_hour", {})
    L += ["", "| scene | false alerts per node-hour | all alerts per node-hour |", "|---|---|---|"]
    L += [f"| {name} | {rate:.2f} | {_cell(everything.get(name))} |"
          for name, rate in out["false_alerts_per_node_hour"].items()]
    return L


def write_scenes(out: dict, folder: Path, command: str) -> Path:
    """`straja eval --scene --out`: scenes.md and scenes.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scenes.json").write_text(json.dumps(out, indent=0) + "\n")
    path = folder / "scenes.md"
    path.write_text("\n".join(["# Straja scene scoring", "", f"Command: `{command}`", "",
                               *scene_markdown(out)]) + "\n")
    return path
