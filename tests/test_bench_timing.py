"""bench/timing.py's paired ratios, and bench_gateway's count of the collector's runs."""
import gc
import sys

import pytest

from straja.paths import REPO

sys.path.insert(0, str(REPO / "bench"))
import bench_gateway  # noqa: E402
import timing  # noqa: E402


def test_paired_ratios_are_each_rounds_median_and_quartiles():
    assert timing.paired([1, 2, 4, 1], [2, 4, 8, 3]) == (2.0, 2.0, 2.25)
    assert timing.paired([5.0], [6.0]) == (1.2, 1.2, 1.2)


def test_a_spell_on_one_keys_pass_moves_its_minimum_not_the_paired_median():
    """Each round the other key costs 1.1 times the base; in round 2 a quiet spell of the
    machine fell on the base's (shorter) pass alone: the minima say 1.375, the pairs 1.1."""
    base, other = [10.0, 10.0, 8.0, 10.0, 10.0], [11.0] * 5
    assert min(other) / min(base) == pytest.approx(1.375)
    median, q1, q3 = timing.paired(base, other)
    assert (median, q1, q3) == pytest.approx((1.1, 1.1, 1.1))


def test_interleaved_rounds_pair_up():
    calls = []
    runs = timing.interleaved({"a": lambda: calls.append("a") or 1e-4,
                               "b": lambda: calls.append("b") or 2e-4}, budget_s=1.0)
    assert len(runs["a"]) == len(runs["b"]) >= timing.MIN_RUNS
    assert calls == ["a", "b"] * len(runs["a"])  # one of each a round, in turn
    assert timing.paired(runs["a"], runs["b"]) == (2.0, 2.0, 2.0)


def test_the_gateway_bench_counts_the_collectors_runs_while_registered():
    collections = bench_gateway.Collections()
    gc.callbacks.append(collections)
    try:
        gc.collect()
        gc.collect()
    finally:
        gc.callbacks.remove(collections)
    gc.collect()  # (not counted: unregistered)
    assert collections.runs == 2 and collections.cpu > 0
