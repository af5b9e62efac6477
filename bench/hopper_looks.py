"""The compiled band hopper's cost a look on a scene's band, and its results' digest.

perf10 (docs/benchmarks.md, "The band hopper's window"): node n1's band hopper inputs through
the evaluation's fast path (the reference stage records every process() call), replayed into
the compiled stage alone.

    .venv/bin/python bench/hopper_looks.py bluetooth_dense_background [--seconds 60]
    valgrind --tool=callgrind --cache-sim=yes .venv/bin/python bench/hopper_looks.py SCENE \\
        --passes 1

Prints the looks, the CPU a look (thread time, best of --passes) and a digest of every call's
report and new_hits and the final ring, counts and site: a change that keeps the stage's
results bit for bit keeps the digest. Not run by run_all.py (not a bench_*.py): a tool for
changes to the band hopper.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import time

import numpy as np

from straja.argtypes import positive_float, positive_int
from straja.detect import hoppers as hp
from straja.detect import pipeline as pl
from straja.eval.evaluate import EVAL_DETECT
from straja.eval.run import run_session
from straja.paths import SCENES
from straja.sim import load_scene
from straja.sim.scene import SceneError

SEED = 3


class Recorder(hp.ReferenceBandHoppers):
    """The reference stage, keeping a copy of every process() call it takes."""
    made: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.args, self.kwargs, self.calls = args, kwargs, []
        Recorder.made.append(self)

    def process(self, *arrays):
        self.calls.append(tuple(np.array(a) for a in arrays))
        return super().process(*arrays)


def record(scene: str, seconds: float) -> list[Recorder]:
    """Node n1's band hopper stages of `scene` over `seconds`, with the calls they took."""
    Recorder.made = []
    original, pl.BandHoppers = pl.BandHoppers, Recorder
    try:
        run_session(load_scene(SCENES / f"{scene}.toml"), "n1", seconds, seed=SEED,
                    detect=EVAL_DETECT)
    finally:
        pl.BandHoppers = original
    return Recorder.made


def replay(stages: list[Recorder], stage_class=hp.BandHoppers) -> tuple[int, str]:
    """The recorded calls into fresh stages (compiled: the reference is the test's): (CPU ns,
    digest of the results)."""
    cpu, text = 0, []
    for rec in stages:
        stage = stage_class(*rec.args, **rec.kwargs)
        t0 = time.thread_time_ns()
        for call in rec.calls:
            text.append(repr((stage.process(*call), stage.new_hits)))
        cpu += time.thread_time_ns() - t0
        text += [repr(getattr(stage, name).tolist())
                 for name in ("_t", "_cell", "_mw", "counts", "site")]
    return cpu, hashlib.sha1("".join(text).encode()).hexdigest()[:12]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scene", help="a catalogue scene's name (scenes/NAME.toml)")
    ap.add_argument("--seconds", type=positive_float, default=60.0, help="scene seconds")
    ap.add_argument("--passes", type=positive_int, default=5, help="replays, the best taken")
    args = ap.parse_args()
    try:  # a scene that does not load: a message, exit 2
        stages = record(args.scene, args.seconds)
    except SceneError as e:
        ap.error(str(e).strip('"'))
    if not stages:
        ap.error(f"{args.scene}: node n1 has no band hopper stage")
    looks = sum(call[0].shape[0] * call[0].shape[1] for rec in stages for call in rec.calls)
    runs = [replay(stages) for _ in range(args.passes)]
    best = min(cpu for cpu, _ in runs)
    print(f"{args.scene}, node n1, {args.seconds:g} s: {len(stages)} stage(s), {looks} looks; "
          f"CPU {best / 1e6:.2f} ms (best of {args.passes}), {best / looks / 1e3:.2f} us a look; "
          f"digest {runs[-1][1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
