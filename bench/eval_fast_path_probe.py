"""CPU time and a digest of every reading of the evaluation's fast path (straja.eval.readings)
on fixed scenes and seeds: a paired before/after of a change to the receiver, the chip models or
the scheduler model (the digests must match: same readings, same report).

    .venv/bin/python bench/eval_fast_path_probe.py [SECONDS]

Not run by run_all.py (not a bench_*.py): it is a tool for such changes (docs/benchmarks.md,
"Evaluation run time").
"""
import hashlib
import sys
import time

from straja.eval.evaluate import BACKGROUNDS, NODES, _background_scene
from straja.eval.readings import EVAL_PLAN, NodeReader
from straja.eval.trials import FAMILIES, NODE, TARGET_SNR_DB, Trial, build
from straja.paths import SCENES


def digest(scene, node, seed, seconds):
    """(sweeps, digest of every sweep's timing and codes) of `node` scanned for `seconds`."""
    h = hashlib.sha256()
    n = 0
    for r in NodeReader(scene, node, seed=seed).sweeps(EVAL_PLAN, 0.0, seconds):
        h.update(repr((r.front_end, r.sweep_id, r.t_us, r.duration_us, r.codes, r.flags,
                       r.late)).encode())
        n += 1
    return n, h.hexdigest()[:16]


def cases(seconds):
    for i, name in enumerate(BACKGROUNDS):
        seed = 1000 + i
        yield name, lambda name=name, i=i, seed=seed: digest(
            _background_scene(SCENES / f"{name}.toml", seed), NODES[i % len(NODES)], seed, seconds)
    for fam in FAMILIES:
        def trial(tr=Trial(fam, 12345, TARGET_SNR_DB)):
            scene, t_on, _ = build(tr, 2 * tr.family.target_s)
            return digest(scene, NODE, tr.seed, t_on + 2 * tr.family.target_s)
        yield "trial " + fam.name, trial


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    total = 0.0
    for name, run in cases(seconds):
        start = time.process_time()
        n, d = run()
        cpu = time.process_time() - start
        total += cpu
        print(f"{name:28s} {n:6d} sweeps  digest {d}  cpu {cpu:7.2f} s", flush=True)
    print(f"total cpu {total:.2f} s")


if __name__ == "__main__":
    main()
