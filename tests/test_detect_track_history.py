"""tracks.with_history's cut_share (the largest share of sweeps one of a track's channels was
beside a cut) is tracks.range_max, vectorised: held to the loop of detect/reference.range_max on
random ranges (empty and reversed ones, the last channel) and on random tracks. Its compiled
twin (straja._track_features.history, which the pipeline runs) held to it field by field, on
random and edge inputs and on a detection core's own tracks."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja import _track_features
from straja.detect import reference, tracks
from straja.detect.pipeline import Pipeline
from straja.detect.tracks import TRACK
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


def history_reference(feats, snap, split, start_khz, step_khz):
    """tracks.with_history on a steadiness split's arrays, its streak's scatter taken per channel
    (as the pipeline took it before the compiled kernel)."""
    streak = split["streak"].astype(np.float64)
    with np.errstate(all="ignore"):
        streak_sd = np.where(streak >= 2, np.sqrt(split["streak_sq"] / (2 * (streak - 1))),
                             np.nan)
        return tracks.with_history(feats, snap, split["busy_before"], split["cut_share"], streak,
                                   streak_sd, start_khz, step_khz)


def random_split(rng, n_bins):
    split = {"busy_before": rng.uniform(0, 1, n_bins), "cut_share": rng.uniform(0, 1, n_bins),
             "streak": rng.integers(0, 5, n_bins).astype(np.int32),
             "streak_sq": rng.exponential(3.0, n_bins)}
    split["busy_before"][::5] = np.nan  # no history yet
    split["cut_share"][::3] = 0.0
    return split


def assert_same_fields(got, want):
    for name in tracks.FEATURES.names:
        assert np.array_equal(got[name], want[name], equal_nan=True), name


def compiled_history(feats, snap, split, start_khz, step_khz):
    return _track_features.history(feats, snap, split["busy_before"], split["cut_share"],
                                   split["streak"], split["streak_sq"], start_khz, step_khz)


@pytest.mark.parametrize("n_bins", [1, 2, 64])
@pytest.mark.parametrize("step_khz", [0.0, -1_000.0, 500.0, 4_761.0, 6_000.0])
def test_compiled_history_equals_with_history(n_bins, step_khz):
    """Random tracks (one burst and more; narrow ones between two centres; centres below the
    first channel and past the last) on random per-channel history, field by field."""
    rng = np.random.default_rng(n_bins * 7 + int(abs(step_khz)))
    split = random_split(rng, n_bins)
    for n in [0, 1, 5, 200]:
        snap = random_tracks(rng, n)
        snap["n_bursts"] = rng.integers(1, 5, n)
        snap["bw_sum_khz"] = rng.uniform(0, 60_000, n) * snap["n_bursts"]
        narrow = slice(None, None, 4)
        snap["f_max_khz"][narrow] = snap["f_min_khz"][narrow] + 100.0
        snap["bw_sum_khz"][narrow] = 0.0
        snap["f_min_khz"][1::7] = 1e3  # below the first channel
        want = history_reference(np.zeros(n, tracks.FEATURES), snap, split, 5_600_000.0,
                                 step_khz)
        got = compiled_history(np.zeros(n, tracks.FEATURES), snap, split, 5_600_000.0,
                               step_khz)
        assert_same_fields(got, want)


def test_history_is_the_channel_its_last_burst_is_on():
    """A video track's streak, its scatter and busy_before are its last burst's channel's, not
    the middle of its span of centres: one run merged with a neighbour's (an access point's
    frames beside 20 MHz video) widens the span for good and would put them on a channel the
    video never lit (dji_20_beside_40mhz_ap_157: a streak of 0 at 5755 MHz, 40 at 5745 MHz)."""
    split = {"busy_before": np.array([0.0, 0.01, 0.5, 0.0]), "cut_share": np.zeros(4),
             "streak": np.array([0, 40, 0, 3], np.int32), "streak_sq": np.array([0, 7.8, 0, 9])}
    snap = np.zeros(1, TRACK)
    snap["n_bursts"], snap["bw_sum_khz"] = 40, 40 * 20_000.0
    snap["f_min_khz"], snap["f_max_khz"], snap["f_last_khz"] = 5_745_000.0, 5_765_000.0, 5_745_000.0
    for history in (compiled_history, history_reference):
        got = history(np.zeros(1, tracks.FEATURES), snap, split, 5_725_000.0, 20_000.0)
        assert got["streak"][0] == 40 and got["busy_before"][0] == 0.01
        assert got["streak_sd_db"][0] == pytest.approx(np.sqrt(7.8 / 78))


def test_compiled_history_cut_share_nan_and_unwritten_rows():
    """A NaN cut share in a track's span is its cut_share, as numpy.maximum makes it; a step of
    0 writes nothing (the features' NaN stay)."""
    rng = np.random.default_rng(3)
    split = random_split(rng, 16)
    split["cut_share"][:] = 0.25
    split["cut_share"][8] = np.nan
    snap = random_tracks(rng, 2)
    snap["n_bursts"] = 1
    snap["bw_sum_khz"] = 1_000.0
    snap["f_min_khz"] = snap["f_max_khz"] = [5_608_000.0, 5_603_000.0]  # channels 8 and 3
    got = compiled_history(np.zeros(2, tracks.FEATURES), snap, split, 5_600_000.0, 1_000.0)
    assert np.isnan(got["cut_share"][0]) and got["cut_share"][1] == 0.25
    want = history_reference(np.zeros(2, tracks.FEATURES), snap, split, 5_600_000.0, 1_000.0)
    assert_same_fields(got, want)
    feats = tracks.features(snap)
    compiled_history(feats, snap, split, 5_600_000.0, 0.0)
    assert np.isnan(feats["cut_share"]).all() and np.isnan(feats["streak"]).all()


def test_a_pipelines_history_equals_with_history():
    """A detection core whose steadiness split runs (a step of 6 MHz): its tracks' features
    are the definition's on its split's arrays."""
    rng = np.random.default_rng(5)
    n_bins, start_khz, step_khz = 64, 5_645_000, 6_000
    pipe = Pipeline(n_bins, start_khz, step_khz)
    assert pipe._split is not None
    for s in range(200):
        codes = (rng.exponential(1.0, (1, n_bins)) * 4 + 40).astype(np.uint8)
        codes[0, 10:14] = 120 + s % 3            # steady, four channels wide
        codes[0, (s * 7) % n_bins] = 110         # hopping
        pipe.process(codes, np.array([s * 100_000], np.int64), np.array([50_000], np.int64))
    snap = pipe.tracker.snapshot()
    feats, _ = pipe.tracks()
    split = {name: getattr(pipe._split, name)
             for name in ("busy_before", "cut_share", "streak", "streak_sq")}
    want = history_reference(feats.copy(), snap, split, start_khz, step_khz)
    assert_same_fields(feats, want)
    assert (feats["streak"] >= 2).any()


def test_compiled_history_bad_input_is_a_clear_error():
    split = random_split(np.random.default_rng(1), 8)
    snap, feats = np.zeros(2, TRACK), np.zeros(2, tracks.FEATURES)
    with pytest.raises(ValueError, match="2 rows"):
        compiled_history(np.zeros(3, tracks.FEATURES), snap, split, 0.0, 1.0)
    with pytest.raises(TypeError, match="int32"):
        compiled_history(feats, snap, {**split, "streak": split["streak"].astype(float)}, 0.0,
                         1.0)
    with pytest.raises(ValueError, match="one entry per channel"):
        compiled_history(feats, snap, {**split, "cut_share": split["cut_share"][:-1]}, 0.0, 1.0)
    with pytest.raises(TypeError, match="float64"):
        compiled_history(feats, snap, {**split, "busy_before": split["busy_before"][::2]
                                       .astype(np.float32)}, 0.0, 1.0)
    with pytest.raises(ValueError, match="at least one channel"):
        compiled_history(feats, snap, {k: v[:0] for k, v in split.items()}, 0.0, 1.0)
    with pytest.raises(TypeError, match="field 'bw_sum_khz'"):
        compiled_history(feats, snap[[n for n in TRACK.names if n != "bw_sum_khz"]].copy(),
                         split, 0.0, 1.0)
