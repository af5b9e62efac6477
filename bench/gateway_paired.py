"""The gateway's CPU a sweep, two trees paired: this one against another's host_tools (a
checkout of the tree before a change), each in a process of its own holding the same synthetic
fleets (bench_gateway.video_fleet), one pass of each in turn, the order swapped every round, so
that a load that comes and goes on a shared machine falls on both alike; the events digests of
both must be equal (the change kept the gateway's behaviour on this input).

    .venv/bin/python bench/gateway_paired.py --old OLD/host_tools [--nodes 16 64]
        [--rounds 40] [--video-of-16 6] [--scene-seconds S]

With --scene-seconds, the fleets are bench_gateway's emitters case instead (scene_fleet: the
demo scene on a grid of masts, S seconds from switch-on, the first 2 untimed).

Prints per node count the min / median of each tree's passes (CPU µs a sweep, this thread's)
and the median of the paired ratios new / old with their quartiles (timing.paired). Not run by run_all.py (it needs the other tree).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from straja.argtypes import non_negative_float, positive_int

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import timing  # noqa: E402


def worker(counts: list[int], video_of_16: int, scene_seconds: float) -> None:
    """Make the fleets, then stream the one named on each stdin line; print CPU a sweep and
    the pass's digest."""
    import bench_gateway as bg
    folder = Path(tempfile.mkdtemp())
    fleets = {n: bg.scene_fleet(n, scene_seconds, folder) if scene_seconds
              else bg.video_fleet(n, 10.0, 64, folder, video_of_16) for n in counts}
    for f in fleets.values():
        f.stream()  # (warm: imports, tables designed)
    print("ready", flush=True)
    for line in sys.stdin:
        f = fleets[int(line)]
        cpu = f.stream()
        print(f"{cpu / f.sweeps * 1e6:.4f} {f.digests[-1]}", flush=True)


def start(host_tools: str | None, counts: list[int], video_of_16: int,
          scene_seconds: float) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if host_tools:
        env["PYTHONPATH"] = host_tools
    p = subprocess.Popen([sys.executable, __file__, "--worker", "--nodes", *map(str, counts),
                          "--video-of-16", str(video_of_16),
                          "--scene-seconds", str(scene_seconds)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    if p.stdout.readline().strip() != "ready":
        raise SystemExit(f"the worker of {host_tools or 'this tree'} did not start")
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", help="the other tree's host_tools folder")
    ap.add_argument("--nodes", type=positive_int, nargs="+", default=[16, 64])
    ap.add_argument("--rounds", type=positive_int, default=40)
    ap.add_argument("--video-of-16", type=int, default=6, choices=range(17), metavar="0-16")
    ap.add_argument("--scene-seconds", type=non_negative_float, default=0.0,
                    help="the emitters case (bench_gateway.scene_fleet) of this many seconds")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.nodes, args.video_of_16, args.scene_seconds)
    if not args.old or not (Path(args.old) / "straja").is_dir():
        ap.error("--old must name a tree's host_tools folder (with straja/ in it, built)")
    trees = {name: start(tree, args.nodes, args.video_of_16, args.scene_seconds)
             for name, tree in (("old", args.old), ("new", None))}
    cpu = {(n, t): [] for n in args.nodes for t in trees}
    digests = {n: set() for n in args.nodes}
    for r in range(args.rounds):
        for n in args.nodes:
            for name in (("old", "new") if r % 2 == 0 else ("new", "old")):
                p = trees[name]
                p.stdin.write(f"{n}\n")
                p.stdin.flush()
                value, digest = p.stdout.readline().split()
                cpu[n, name].append(float(value))
                digests[n].add(digest)
    for p in trees.values():
        p.stdin.close()
        p.wait()
    case = (f"the emitters case, {args.scene_seconds:g} s" if args.scene_seconds
            else f"video on {args.video_of_16} of every 16 nodes")
    print(f"{case}, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print("| nodes | old min / median | new min / median | new / old, paired median "
          "(quartiles) | events digest |")
    print("|---:|---:|---:|---:|---|")
    for n in args.nodes:
        old, new = cpu[n, "old"], cpu[n, "new"]
        ratio, q1, q3 = timing.paired(old, new)
        print(f"| {n} | {min(old):.2f} / {statistics.median(old):.2f} µs "
              f"| {min(new):.2f} / {statistics.median(new):.2f} µs | {ratio:.3f} "
              f"({q1:.3f}-{q3:.3f}) | {' '.join(sorted(digests[n]))} |")
    if any(len(d) != 1 for d in digests.values()):
        raise SystemExit("the trees gave different events")


if __name__ == "__main__":
    main()
