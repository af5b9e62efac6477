"""`straja eval`: detection quality and speed, measured end to end, written as a report."""
from __future__ import annotations

import json
import math
import os
import shlex
import sys
from pathlib import Path

from .. import term
from ..argtypes import non_negative_int, positive_float, positive_int, writable_folder
from ..errors import StrajaError
from ..sim.cli import scene_argument

DEFAULT_JOBS = 2
# `make eval` (each stop's check of the gated targets, ~20 min on 2 cores): the gated targets at
# the intervals docs/evaluation/README.md states; the benchmarks' speed section is left to
# `bench/run_all.py --quick`, which CI runs
QUICK = {"curve_trials": 16, "target_trials": 40, "hours": 0.5, "segment_s": 300.0,
         "vnode_trials": 1, "variants": False, "localisation_fixes": 20, "speed": False}


def configure(p) -> None:
    p.description = ("Run detection trials per drone link family and background-only scenes "
                     "through the node's scan behaviour (fast path) and the gateway pipeline, "
                     "score them against ground truth, and write report.md with figures. "
                     "With --scene: score every emitter of the given scene files instead.")
    p.epilog = ("exit codes: 0 done; 1 (--quick) a gated target clearly missed; 2 bad arguments "
                "or a bad scene file (one line naming file, line and field); 130 interrupted "
                "by Ctrl-C. Progress goes to stderr; --json prints one JSON object on stdout.")
    p.add_argument("scenes", nargs="*", type=scene_argument, help="background-only scene files (default: urban 2.4 "
                   "GHz, sub-GHz LoRa, quiet rural from the catalogue)")
    p.add_argument("--scene", nargs="+", metavar="FILE", help="score these scene files: each "
                   "runs for its whole duration on all its nodes and the gateway (adaptive "
                   "scanning on); per emitter: alerted, time to alert, family, alerts per "
                   "presence; per scene: false alerts per node-hour (alone: not with background scenes, "
                   "--quick, --trials, --hours or --vnode-trials)")
    p.add_argument("--quick", action="store_true", help="a shorter run (CI); exit 1 if a target "
                   "is missed beyond its tolerance (its 95 %% interval excludes the target)")
    p.add_argument("--trials", type=positive_int, help="trials per family at +10 dB (curve trials: "
                   "the same number)")
    p.add_argument("--hours", type=positive_float, help="node-hours per background scene")
    p.add_argument("--out", type=writable_folder, help="report folder (default eval-report; with --scene: none "
                   "unless given)")
    p.add_argument("--vnode-trials", type=non_negative_int, help="+10 dB trials per family also "
                   "run on real virtual nodes (the firmware under MicroPython, in real time) "
                   "to check the fast path (default 5, --quick 1)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout "
                   "(with --scene: only that object)")
    p.add_argument("--seed", type=non_negative_int, help="the seed of the trials and background "
                   "runs (default 1); with --scene: every scene run with it instead of its own "
                   "(the same scene, other random draws, its included scenes' too)")
    p.add_argument("--jobs", type=positive_int, help=f"worker processes (default {DEFAULT_JOBS}; "
                   "at most the processors this command may use, said on stderr when fewer)")
    p.set_defaults(func=run)


def _log(message: str) -> None:
    print(term.paint(message, "dim", sys.stderr), file=sys.stderr, flush=True)


def processors() -> int:
    """The processors this process may run on (a container's or a taskset's, not the host's)."""
    return len(os.sched_getaffinity(0))


def _workers(jobs: int | None) -> int:
    """--jobs (default 2), at most the processors there are: each worker runs simulations flat
    out, so more only share the same processors (and hold a process's memory each), and a
    typo's thousands would fork until the machine gave out. Said when it was asked for."""
    if jobs is None:
        return min(DEFAULT_JOBS, processors())
    if jobs > processors():
        _log(f"eval: --jobs {jobs} is more than the {processors()} processors this command may "
             f"use: {processors()} worker processes")
    return min(jobs, processors())


def run(args) -> int:
    if args.scene:
        # (the options of the trials and backgrounds: with --scene they would be ignored)
        ignored = [name for name, given in (("background scenes", args.scenes),
                                            ("--quick", args.quick), ("--trials", args.trials),
                                            ("--hours", args.hours),
                                            ("--vnode-trials", args.vnode_trials is not None))
                   if given]
        if ignored:
            raise StrajaError(f"--scene scores its scenes alone: {', '.join(ignored)} would be "
                              "ignored", "run them without --scene", term.EXIT_USAGE)
    args.jobs = _workers(args.jobs)
    if args.scene:
        return run_scenes(args)
    from .evaluate import Settings, clear_misses, evaluate  # (matplotlib: only for the report)
    from .report import write

    st = Settings(jobs=args.jobs, quick=args.quick, scenes=[Path(s) for s in args.scenes] or None)
    if args.seed is not None:
        st.seed = args.seed
    if args.quick:
        st.__dict__.update(QUICK)
    if args.trials:
        st.curve_trials = st.target_trials = args.trials
    if args.hours:
        st.hours = args.hours
    if args.vnode_trials is not None:
        st.vnode_trials = args.vnode_trials
    out = evaluate(st, log=_log)
    path = write(out, Path(args.out or "eval-report"), _command())
    if args.json:
        print(json.dumps(out, default=_json))
    missed = [t for t in out["targets"] if not t["met"]]
    for t in out["targets"]:
        mark = "ok  " if t["met"] else "MISS" if not t["within_tolerance"] else "miss"
        print(f"{mark} {'gated' if t['gated'] else '     '} {t['target']}: {t['value']:.3g}",
              file=sys.stderr)
    print(f"report: {path} ({out['seconds']:.0f} s); targets met: "
          f"{len(out['targets']) - len(missed)}/{len(out['targets'])}", file=sys.stderr)
    if args.quick and clear_misses(out["targets"]):
        return 1
    return 0


def run_scenes(args) -> int:
    from .report import scene_table, write_scenes
    from .scenes import score_scenes  # (NumPy and the pipeline: not to build the parser)

    out = score_scenes(args.scene, args.jobs, log=_log, seed=args.seed)
    del out["alerts_per_node_hour"]  # (the report's: a catalogue background has no drone)
    if args.json:
        print(json.dumps(out, default=_json))
    else:
        print(scene_table(out))
    if args.out:
        path = write_scenes(out, Path(args.out), _command())
        print(f"report: {path}", file=sys.stderr)
    return 0


def _command() -> str:
    return ("straja eval " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["eval"] else [])).strip()


def _json(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)
