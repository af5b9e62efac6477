"""`straja sim` subcommands: `truth SCENE --out FILE` and `check SCENE`.

`straja sim` (straja.vnode.cli) hooks these in with add_subcommands; `python -m straja.sim.cli`
runs them alone. Building their parser imports no scene (NumPy): the functions that run them
do.
"""
import argparse
import sys

from .. import term
from ..argtypes import (add_force_option, non_negative_float, positive_float, refuse_to_replace,
                        writable_file)
from ..errors import StrajaError


def scene_argument(text: str) -> str:
    """A scene file or catalogue name that loads: a bad one is refused while parsing (exit 2,
    naming file, line and field), before any virtual node starts."""
    from .scene import SceneError, load_scene  # (NumPy: only once a scene is named)
    try:
        load_scene(text)
    except SceneError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def cmd_check(args):
    from .scene import load_scene
    print(load_scene(args.scene).summary())  # a bad scene: SceneError, exit code 2
    return 0


# rx samples a node at most: 1e7 JSON lines is ~1 GB of truth, past what any scoring reads
MAX_SAMPLES = 1e7


def cmd_truth(args):
    from .scene import load_scene
    from .truth import write_truth
    scene = load_scene(args.scene)
    t1 = scene.duration_s if args.t1 is None else args.t1
    if t1 <= args.t0:
        raise StrajaError(f"--t1 {t1:g} is not after --t0 {args.t0:g}", code=term.EXIT_USAGE)
    if t1 > scene.duration_s:
        raise StrajaError(f"--t1 {t1:g}: the scene ends at {scene.duration_s:g} s",
                          code=term.EXIT_USAGE)
    if (t1 - args.t0) / args.sample > MAX_SAMPLES:
        raise StrajaError(f"--sample {args.sample:g} s: {(t1 - args.t0) / args.sample:.3g} "
                          f"readings a node, more than {MAX_SAMPLES:g}",
                          "sample less often, or a shorter span (--t0, --t1)", term.EXIT_USAGE)
    refuse_to_replace(args.out, "--out", args.force)
    counts = write_truth(scene, args.out, args.t0, t1, args.sample)
    print(f"{args.out}: " + ", ".join(f"{n} {k}" for k, n in counts.items()),
          file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


def add_subcommands(sub):
    """Add `check` and `truth` to the `straja sim` subparsers; each sets args.func(args) -> exit
    code. (`straja sim node`, the virtual nodes, is added by straja.vnode.cli.)"""
    check = sub.add_parser("check", help="validate a scene file and summarise it")
    check.add_argument("scene")
    check.set_defaults(func=cmd_check)
    truth = sub.add_parser("truth", help="write a scene's ground truth (JSON lines)")
    truth.add_argument("scene")
    truth.add_argument("--out", required=True, type=writable_file,
                       help='output file ("-": stdout)')
    add_force_option(truth, "--out")
    truth.add_argument("--t0", type=non_negative_float, default=0.0, help="start, s (default 0)")
    truth.add_argument("--t1", type=positive_float, default=None, help="end, s (default: scene duration)")
    truth.add_argument("--sample", type=positive_float, default=0.1, help="rx sample period, s")
    truth.set_defaults(func=cmd_truth)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="straja sim")
    add_subcommands(parser.add_subparsers(dest="sim_command", required=True))
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except StrajaError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code


if __name__ == "__main__":
    sys.exit(main())
