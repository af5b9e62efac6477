"""tracks.with_history's cut_share (the largest share of sweeps one of a track's channels was
beside a cut) is tracks.range_max, vectorised: held to the loop of detect/reference.range_max on
random ranges (empty and reversed ones, the last channel) and on random tracks."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja.detect import reference, tracks
from test_detect_track_features import random_tracks


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_range_max_equals_the_loop(data):
    n = data.draw(st.integers(1, 70))
    values = data.draw(hnp.arrays(np.float64, n, elements=st.floats(0.0, 1.0)))
    k = data.draw(st.integers(0, 12))
    ends = hnp.arrays(np.intp, k, elements=st.integers(0, n - 1))
    lo, hi = data.draw(ends), data.draw(ends)
    got = tracks.range_max(values, lo, hi)
    assert got.shape == (k,)
    assert np.array_equal(got, reference.range_max(values, lo, hi))


def test_with_history_cut_share_equals_the_loop():
    rng = np.random.default_rng(7)
    n_bins, start_khz, step_khz = 64, 5_600_000.0, 6_000.0
    busy_before, cut_share = rng.uniform(0, 1, n_bins), rng.uniform(0, 1, n_bins)
    streak, streak_sd_db = rng.integers(0, 50, n_bins).astype(float), rng.uniform(0, 3, n_bins)
    cut_share[::3] = 0.0
    for n in [0, 1, 5, 200]:
        snap = random_tracks(rng, n)
        snap["n_bursts"] = rng.integers(1, 5, n)
        snap["bw_sum_khz"] = rng.uniform(0, 60_000, n) * snap["n_bursts"]
        narrow = slice(None, None, 4)  # narrower than a channel, between two centres: empty
        snap["f_max_khz"][narrow] = snap["f_min_khz"][narrow] + 100.0
        snap["bw_sum_khz"][narrow] = 0.0
        feats = np.zeros(n, tracks.FEATURES)
        with np.errstate(invalid="ignore"):  # (random_tracks puts some centres past 1e30 kHz)
            tracks.with_history(feats, snap, busy_before, cut_share, streak, streak_sd_db,
                                start_khz, step_khz)
        lo, hi = tracks.channel_span(snap, start_khz, step_khz, n_bins)
        assert np.array_equal(feats["cut_share"], reference.range_max(cut_share, lo, hi))
        if n == 200:  # the draw covers ranges with a cut share and empty ones
            assert (feats["cut_share"] > 0).any() and (lo > hi).any()
