"""Timing shared by the benchmarks: repeat until stable, report min and median.

CPU time (`time.thread_time`, this thread only) where the question is cost: other processes on a
shared machine then add little (cache and frequency effects only); wall time (`time.perf_counter`)
only where the question is latency.
"""
import statistics
import time

STABLE_RUNS = 3        # stop once the minimum has not improved by STABLE_GAIN for this many runs
STABLE_GAIN = 0.02
MIN_RUNS, MAX_RUNS = 5, 50


def interleaved(measures: dict, budget_s=2.0, min_runs=MIN_RUNS) -> dict:
    """{key: [seconds of each run]}: each measure() (which times its own work and returns the
    seconds) run in turn, round after round, until every key's minimum is stable (or MAX_RUNS
    rounds, or budget_s spent in all): a load that comes and goes on a shared machine then
    falls on every key alike. No warm-up: a measure that needs one makes it."""
    runs = {key: [] for key in measures}
    since_better = dict.fromkeys(measures, 0)
    best = dict.fromkeys(measures, float("inf"))
    spent, rounds = 0.0, 0
    while rounds < min_runs or (min(since_better.values()) < STABLE_RUNS and rounds < MAX_RUNS
                                and spent < budget_s):
        for key, measure in measures.items():
            dt = measure()
            runs[key].append(dt)
            spent += dt
            if dt < best[key] * (1.0 - STABLE_GAIN):
                since_better[key] = 0
            else:
                since_better[key] += 1
            best[key] = min(best[key], dt)
        rounds += 1
    return runs


def paired(base: list, other: list) -> tuple[float, float, float]:
    """The ratios other / base of each round's pair (interleaved's runs of two keys, or any two
    lists of passes made in turn): their median and quartiles. A slow spell of a shared machine
    falls within a round on both passes of its pair, so it moves few ratios, where it can move
    one key's minimum or median alone (the longer passes meet it more often)."""
    ratios = [b / a for a, b in zip(base, other)]
    if len(ratios) == 1:
        return ratios[0], ratios[0], ratios[0]
    q1, median, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
    return median, q1, q3


def repeat(fn, clock=time.thread_time, budget_s=2.0):
    """(min, median) seconds of fn() over runs repeated until the minimum is stable (or
    MAX_RUNS / budget_s of the clock are used). One warm-up call first."""
    fn()

    def timed():
        t0 = clock()
        fn()
        return clock() - t0
    runs = interleaved({fn: timed}, budget_s)[fn]
    return min(runs), statistics.median(runs)


def cpu(fn, budget_s=2.0):
    """(min, median) CPU seconds of this thread for one fn() call."""
    return repeat(fn, time.thread_time, budget_s)


def wall(fn, budget_s=2.0):
    """(min, median) wall seconds of one fn() call (latency)."""
    return repeat(fn, time.perf_counter, budget_s)
