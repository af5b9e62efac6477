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


def repeat(fn, clock=time.thread_time, budget_s=2.0):
    """(min, median) seconds of fn() over runs repeated until the minimum is stable (or
    MAX_RUNS / budget_s of the clock are used). One warm-up call first."""
    fn()
    runs, since_better, best = [], 0, float("inf")
    spent = 0.0
    while len(runs) < MIN_RUNS or (since_better < STABLE_RUNS and len(runs) < MAX_RUNS
                                   and spent < budget_s):
        t0 = clock()
        fn()
        dt = clock() - t0
        runs.append(dt)
        spent += dt
        if dt < best * (1.0 - STABLE_GAIN):
            since_better = 0
        else:
            since_better += 1
        best = min(best, dt)
    return min(runs), statistics.median(runs)


def cpu(fn, budget_s=2.0):
    """(min, median) CPU seconds of this thread for one fn() call."""
    return repeat(fn, time.thread_time, budget_s)


def wall(fn, budget_s=2.0):
    """(min, median) wall seconds of one fn() call (latency)."""
    return repeat(fn, time.perf_counter, budget_s)
