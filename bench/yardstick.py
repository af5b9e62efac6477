"""The machine's speed at plain CPython, measured in the same run as the benchmarks.

    .venv/bin/python bench/yardstick.py

A figure in microseconds means little on its own: the project's machine is a shared VM whose speed
on the same code has moved by 3-4x from one day to the next (docs/benchmarks.md). Every `make
bench` prints this yardstick beside its figures, so that runs on different days, or on a Raspberry
Pi, compare through it, and `pi_check.py --scale pi4` scales this machine's figures to a Pi 4 core
by it rather than by an assumed ratio.

The yardstick is the n-body simulation of the Computer Language Benchmarks Game (five bodies, the
pairwise velocity updates then the position step, in floats, as its plain Python programs do):
branch-free float arithmetic and list indexing in the interpreter's loop, the kind of work
CPython spends the gateway's per-sweep Python on. Published figures of it on a Raspberry Pi 4
exist (PI4_NBODY_US), unlike for our own code. CPU time of this thread, min of the runs.
"""
import math
import sys
import time

STEPS = 20_000  # ~0.2 s a run here
RUNS = 5

# A Raspberry Pi 4 Model B (Cortex-A72 at 1.5 GHz, performance governor), Python: 158.3 s for five
# million n-body steps, https://chaitanyamehta.github.io/projects/performance-analysis-of-programming-languages
# (the interpreter's version not stated; Raspberry Pi OS ships CPython 3.11 now, faster on this
# loop than the older ones, so the figure is on the slow side: a Pi estimate from it errs towards
# fewer nodes). Cross-check: 3.2 us a step for CPython 3.11 on an Apple M1 Pro
# (https://jott.live/markdown/py3.11_vs_3.8), whose single-core scores are 6-7 times a Pi 4's,
# i.e. ~21 us on a Pi 4 with 3.11.
PI4_NBODY_US = 31.7

_SOLAR_MASS = 4 * math.pi ** 2
_DAYS = 365.24
# (position AU, velocity AU/day scaled to years, mass in solar masses x 4 pi^2): the Sun and the
# four giant planets, the program's initial conditions
_BODIES = (
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 1.0),
    ((4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01),
     (1.66007664274403694e-03, 7.69901118419740425e-03, -6.90460016972063023e-05),
     9.54791938424326609e-04),
    ((8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01),
     (-2.76742510726862411e-03, 4.99852801234917238e-03, 2.30417297573763929e-05),
     2.85885980666130812e-04),
    ((1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01),
     (2.96460137564761618e-03, 2.37847173959480950e-03, -2.96589568540237556e-05),
     4.36624404335156298e-05),
    ((1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01),
     (2.68067772490389322e-03, 1.62824170038242295e-03, -9.51592254519715870e-05),
     5.15138902046611451e-05),
)


def system():
    """Fresh bodies ([x, y, z], [vx, vy, vz], mass) and their pairs, the Sun's momentum set
    against the planets' (the program's start: energy -0.169075164)."""
    bodies = [(list(r), [v * _DAYS for v in vel], m * _SOLAR_MASS) for r, vel, m in _BODIES]
    sun_v = bodies[0][1]
    for axis in range(3):
        sun_v[axis] = -sum(v[axis] * m for _r, v, m in bodies[1:]) / _SOLAR_MASS
    pairs = [(a, b) for i, a in enumerate(bodies) for b in bodies[i + 1:]]
    return bodies, pairs


def advance(bodies, pairs, dt: float, steps: int) -> None:
    for _ in range(steps):
        for (([x1, y1, z1], v1, m1), ([x2, y2, z2], v2, m2)) in pairs:
            dx, dy, dz = x1 - x2, y1 - y2, z1 - z2
            mag = dt * ((dx * dx + dy * dy + dz * dz) ** -1.5)
            b1, b2 = m1 * mag, m2 * mag
            v1[0] -= dx * b2
            v1[1] -= dy * b2
            v1[2] -= dz * b2
            v2[0] += dx * b1
            v2[1] += dy * b1
            v2[2] += dz * b1
        for r, (vx, vy, vz), _m in bodies:
            r[0] += dt * vx
            r[1] += dt * vy
            r[2] += dt * vz


def energy(bodies, pairs) -> float:
    """The system's energy: conserved to ~1e-9 over the run (the check that the loop is right)."""
    e = sum(0.5 * m * (v[0] ** 2 + v[1] ** 2 + v[2] ** 2) for _r, v, m in bodies)
    for ((x1, y1, z1), _v1, m1), ((x2, y2, z2), _v2, m2) in pairs:
        e -= m1 * m2 / math.sqrt((x1 - x2) ** 2 + (y1 - y2) ** 2 + (z1 - z2) ** 2)
    return e


def run(steps: int = STEPS) -> float:
    """CPU seconds of this thread for one simulation of `steps` steps (a measure for
    timing.interleaved, to take the yardstick in turn with what it scales)."""
    bodies, pairs = system()
    t0 = time.thread_time()
    advance(bodies, pairs, 0.01, steps)
    return time.thread_time() - t0


def nbody_us(steps: int = STEPS, runs: int = RUNS) -> float:
    """CPU microseconds of this thread a simulation step, min of `runs` runs."""
    return 1e6 * min(run(steps) for _ in range(runs)) / steps


def line(us: float) -> str:
    """The yardstick as the benches print it."""
    return (f"yardstick: n-body {us:.2f} us a step (CPU; a Raspberry Pi 4 core: "
            f"{PI4_NBODY_US:g} us, {PI4_NBODY_US / us:.1f}x this machine now)")


if __name__ == "__main__":
    print(line(nbody_us()))
    sys.exit(0)
