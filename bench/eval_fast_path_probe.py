"""CPU time and a digest of every reading of the evaluation's fast path (straja.eval.readings)
on fixed scenes and seeds: a paired before/after of a change to the receiver, the chip models or
the scheduler model (the digests must match: same readings, same report).

    .venv/bin/python bench/eval_fast_path_probe.py [SECONDS] [--sessions]

--sessions: whole evaluation jobs instead (the fast path and the gateway pipeline, as
`straja eval`'s workers run them): one background run of SECONDS per background scene and three
+10 dB trials per family, with their alerts and outcomes (which must match too).

Not run by run_all.py (not a bench_*.py): it is a tool for such changes (docs/benchmarks.md,
"Evaluation run time"; docs/evaluation/README.md, "Run time").
"""
import hashlib
import random
import sys
import time

from straja.eval.evaluate import BACKGROUNDS, EVAL_DETECT, NODES, _background_job, _trial_job
from straja.eval.readings import EVAL_PLAN, NodeReader
from straja.eval.trials import FAMILIES, NODE, TARGET_SNR_DB, Trial, build
from straja.paths import SCENES
from straja.sim.scene import load_scene

SESSION_TRIALS = 3  # per family


def digest(scene, node, seed, seconds):
    """(sweeps, digest of every sweep's timing and codes) of `node` scanned for `seconds`."""
    h = hashlib.sha256()
    n = 0
    for r in NodeReader(scene, node, seed=seed).sweeps(EVAL_PLAN, 0.0, seconds):
        h.update(repr((r.front_end, r.sweep_id, r.t_us, r.duration_us, r.codes, r.flags,
                       r.late)).encode())
        n += 1
    return f"{n:6d} sweeps  digest {h.hexdigest()[:16]}"


def cases(seconds):
    for i, name in enumerate(BACKGROUNDS):
        seed = 1000 + i
        yield name, lambda name=name, i=i, seed=seed: digest(
            load_scene(SCENES / f"{name}.toml", seed=seed), NODES[i % len(NODES)], seed, seconds)
    for fam in FAMILIES:
        def trial(tr=Trial(fam, 12345, TARGET_SNR_DB)):
            scene, t_on, _ = build(tr, 2 * tr.family.target_s)
            return digest(scene, NODE, tr.seed, t_on + 2 * tr.family.target_s)
        yield "trial " + fam.name, trial


def session_cases(seconds):
    # a worker's per-process caches (the CFAR designs) filled, as after its first job
    _background_job((SCENES / "quiet_rural.toml", NODES[0], 1, 2.0, EVAL_DETECT))
    for i, name in enumerate(BACKGROUNDS):
        job = (SCENES / f"{name}.toml", NODES[i % len(NODES)], 1000 + i, seconds, EVAL_DETECT)
        yield name, lambda job=job: f"{len(_background_job(job)[3])} alerts"
    rng = random.Random(1)
    for fam in FAMILIES:
        jobs = [(Trial(fam, rng.randrange(2 ** 31), TARGET_SNR_DB), 2 * fam.target_s,
                 EVAL_DETECT, EVAL_PLAN) for _ in range(SESSION_TRIALS)]
        yield f"{SESSION_TRIALS} trials {fam.name}", lambda jobs=jobs: " ".join(
            f"{o.t_alert_s:.3f} s {o.predicted}" for o in (_trial_job(j)[0] for j in jobs))


def main():
    args = [a for a in sys.argv[1:] if a != "--sessions"]
    seconds = float(args[0]) if args else 60.0
    total = 0.0
    for name, run in (session_cases if "--sessions" in sys.argv else cases)(seconds):
        start = time.process_time()
        what = run()
        cpu = time.process_time() - start
        total += cpu
        print(f"{name:28s} {what}  cpu {cpu:7.2f} s", flush=True)
    print(f"total cpu {total:.2f} s")


if __name__ == "__main__":
    main()
