"""The fixed-threshold baseline: K consecutive sweeps over T, re-arming, and its tuning to a
false-alert budget."""
import math

import numpy as np

from straja.eval import score


def test_alerts_need_k_consecutive_sweeps_and_rearm_below_threshold():
    excess = np.array([0, 7, 0, 7, 7, 7, 7, 0, 7, 7, 0], float)
    assert score.alerts_per_run(excess, 6.0, 2) == 2     # 7 7 7 7 is one alert, then 7 7
    assert score.alerts_per_run(excess, 6.0, 1) == 3     # three runs above
    assert score.alerts_per_run(excess, 7.0, 1) == 0     # strictly above
    assert score.first_run_end(excess, 6.0, 2) == 4
    assert score.first_run_end(excess, 6.0, 5) == -1


def test_threshold_tuned_to_the_lowest_meeting_the_budget():
    rng = np.random.default_rng(3)
    runs = [rng.normal(0.0, 1.0, 2000) for _ in range(3)]
    runs[1][100:103] = 12.0                      # one strong interferer: one alert at most
    t0 = score.tune_threshold(runs, 2, 0)
    t1 = score.tune_threshold(runs, 2, 1)
    assert t0 == 12.0 and t1 < t0
    assert sum(score.alerts_per_run(r, t1, 2) for r in runs) <= 1
    assert sum(score.alerts_per_run(r, t1 - 0.5, 2) for r in runs) > 1
    assert score.tune_threshold([np.full(10, 99.0)], 1, 0) == math.inf
