"""bench/ap_start_runs.py: how often an access point's first sweeps at a node read as video
(docs/measured/wifi87.md)."""
import importlib.util

import numpy as np

from straja.detect import classify
from straja.paths import REPO

spec = importlib.util.spec_from_file_location("ap_start_runs", REPO / "bench" / "ap_start_runs.py")
ap_start_runs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ap_start_runs)

FRAME_S, WINDOW_S = 0.5e-3, 1e-3


def test_the_frames_fill_the_load_share_of_a_read_on_average():
    rng = np.random.default_rng(1)
    for load in (0.2, 0.5, 0.8):
        fill = ap_start_runs.fills(rng, load, 4000, FRAME_S, WINDOW_S)
        assert 0.0 <= fill.min() and fill.max() <= 1.0
        assert abs(fill.mean() - load) < 0.03


def test_a_start_up_run_is_named_where_its_reads_are_hot_and_steady():
    steady = np.full((1, classify.STEADY_MIN_BURSTS), 0.9)
    swinging = np.array([[1.0, 0.1, 1.0, 0.1]])
    cold = np.array([[1.0, 1.0, 0.0, 1.0]])
    named = [ap_start_runs.start_runs(f, 20.0, 1.0)[1][0] for f in (steady, swinging, cold)]
    assert named == [True, False, False]


def test_the_odds_of_a_named_start_up_run_grow_with_the_load_and_fall_with_a_read_pair(capsys):
    assert ap_start_runs.main(["--loads", "0.3", "0.8", "--levels-db", "20", "--trials", "3000"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    named = [float(r[3]) for r in rows]
    paired = [float(r[6]) for r in rows]
    assert named[0] < named[1]
    assert all(p < n for p, n in zip(paired, named) if n > 0)
