"""`straja eval`: detection quality and speed, measured end to end, written as a report."""
from __future__ import annotations

import json
import math
import shlex
import sys
from pathlib import Path

from .. import term
from ..argtypes import non_negative_int, positive_float, positive_int
from .evaluate import Settings, evaluate
from .report import write

QUICK = {"curve_trials": 40, "target_trials": 40, "hours": 1.0, "segment_s": 300.0,
         "vnode_trials": 2}


def configure(p) -> None:
    p.description = ("Run detection trials per drone link family and background-only scenes "
                     "through the node's scan behaviour (fast path) and the gateway pipeline, "
                     "score them against ground truth, and write report.md with figures.")
    p.add_argument("scenes", nargs="*", help="background-only scene files (default: urban 2.4 "
                   "GHz, sub-GHz LoRa, quiet rural from the catalogue)")
    p.add_argument("--quick", action="store_true", help="a shorter run (CI); exit 1 if a target "
                   "is missed beyond its tolerance (its 95 %% interval excludes the target)")
    p.add_argument("--trials", type=positive_int, help="trials per family at +10 dB (curve trials: "
                   "the same number)")
    p.add_argument("--hours", type=positive_float, help="node-hours per background scene")
    p.add_argument("--out", default="eval-report", help="report folder (default eval-report)")
    p.add_argument("--vnode-trials", type=non_negative_int, help="+10 dB trials per family also "
                   "run on real virtual nodes (the firmware under MicroPython, in real time) "
                   "to check the fast path (default 5, --quick 2)")
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=positive_int, default=2, help="worker processes (default 2)")
    p.set_defaults(func=run)


def run(args) -> int:
    st = Settings(seed=args.seed, jobs=args.jobs, quick=args.quick,
                  scenes=[Path(s) for s in args.scenes] or None)
    if args.quick:
        st.__dict__.update(QUICK)
    if args.trials:
        st.curve_trials = st.target_trials = args.trials
    if args.hours:
        st.hours = args.hours
    if args.vnode_trials is not None:
        st.vnode_trials = args.vnode_trials
    out = evaluate(st, log=lambda m: print(term.paint(m, "dim"), file=sys.stderr, flush=True))
    command = "straja eval " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["eval"] else [])
    path = write(out, Path(args.out), command.strip())
    if args.json:
        print(json.dumps(out, default=_json))
    missed = [t for t in out["targets"] if not t["met"]]
    for t in out["targets"]:
        mark = "ok  " if t["met"] else "MISS" if not t["within_tolerance"] else "miss"
        print(f"{mark} {t['target']}: {t['value']:.3g}", file=sys.stderr)
    print(f"report: {path} ({out['seconds']:.0f} s); targets met: "
          f"{len(out['targets']) - len(missed)}/{len(out['targets'])}", file=sys.stderr)
    if args.quick and any(not t["within_tolerance"] for t in missed):
        return 1
    return 0


def _json(x):
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)
