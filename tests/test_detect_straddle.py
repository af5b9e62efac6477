"""Pipeline.straddle reads a few tracks a call as Python numbers, and the band's floor with
pipeline._median: both must give what the arrays gave (the reference below, the code they
replaced), for any state of the steadiness split, NaN and infinite positions included."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from straja.detect import pipeline as pl
from straja.detect.classify import STRADDLE, classify
from straja.detect.tracks import TRACK

N_BINS, START, STEP = 8, 5_700_000, 20_000.0


def reference_straddle(pipe, snap):
    out = np.full(snap.size, np.nan, STRADDLE)
    split = pipe._split
    pos = (snap["f_last_khz"] - pipe._start_khz) / pipe._step_khz
    lo = np.floor(pos).astype(np.intp)
    ok = (np.abs(pos - lo - 0.5) <= pl.STRADDLE_OFFSET) & (lo >= 0) & (lo < pipe.n_bins - 1)
    if not ok.any():
        return out
    lo = np.where(ok, lo, 0)
    hi = lo + ok
    floor = float(np.median(pipe._noise_now))
    sig_lo, sig_hi = split.hot_mw[lo] - floor, split.hot_mw[hi] - floor
    ok &= ((split.streak[lo] > 0) & (split.streak[hi] > 0)
           & (np.minimum(sig_lo, sig_hi) >= pl.STRADDLE_MIN_SIGNAL * floor)
           & ~(np.abs(split.busy_before[lo] - split.busy_before[hi]) > pl.STRADDLE_PAST_GAP))
    ratio = np.minimum(sig_lo, sig_hi) / np.maximum(sig_lo, sig_hi)
    out["balance_db"][ok] = 10 * np.log10(ratio[ok])
    out["midpoint_khz"][ok] = pipe._start_khz + pipe._step_khz * (lo[ok] + 0.5)
    return out


LEVELS = st.one_of(st.sampled_from((0.0, 1.0, 2.0, np.nan, np.inf)), st.floats(0.0, 50.0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from((np.nan, np.inf, -np.inf, START - STEP / 2)),
                          st.floats(START - 2 * STEP, START + (N_BINS + 1) * STEP),
                          st.integers(-1, N_BINS).map(lambda k: START + (k + 0.5) * STEP)),
                min_size=1, max_size=5),
       st.lists(LEVELS, min_size=N_BINS, max_size=N_BINS),
       st.lists(st.integers(0, 3), min_size=N_BINS, max_size=N_BINS),
       st.lists(LEVELS, min_size=N_BINS, max_size=N_BINS),
       st.lists(st.one_of(st.just(np.nan), st.floats(0.0, 1.0)), min_size=N_BINS,
                max_size=N_BINS))
def test_straddle_gives_what_the_arrays_gave(f_last, hot, streak, noise, past):
    pipe = pl.Pipeline(N_BINS, START, STEP, pl.PipelineConfig())
    pipe._split.hot_mw[:] = hot
    pipe._split.streak[:] = streak
    pipe._split.busy_before[:] = past
    pipe._noise_now = np.array(noise, np.float32)
    snap = np.zeros(len(f_last), TRACK)
    snap["f_last_khz"] = f_last
    with np.errstate(all="ignore"):
        want = reference_straddle(pipe, snap)
        got = pipe.straddle(snap)
    np.testing.assert_array_equal(got["midpoint_khz"], want["midpoint_khz"])
    np.testing.assert_array_equal(got["balance_db"], want["balance_db"])
    # class_rows (the gateway's) passes classify the straddling rows alone: the same classes
    snap["n_bursts"], snap["bw_sum_khz"] = 6, 6 * 2 * STEP  # wide: the rules that read it
    snap["f_first_khz"] = snap["f_min_khz"] = snap["f_max_khz"] = snap["f_last_khz"]
    with np.errstate(all="ignore"):
        rows = pipe.class_rows(snap)
        classes = classify(pipe._features(snap), pipe.scan, pipe.straddle(snap))
    assert [(r[1], r[3], r[4]) for r in rows] == list(zip(
        classes["family"].tolist(), classes["drone"].tolist(), classes["reason"].tolist()))
    np.testing.assert_array_equal([r[2] for r in rows], classes["confidence"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.sampled_from((np.nan, 0.0, -0.0, 1e-40, 3e38)),
                          st.floats(0.0, 1e6, width=32)), min_size=0, max_size=17))
def test_median_is_numpys(values):
    row = np.array(values, np.float32)
    with np.errstate(all="ignore"):  # (3e38 + 3e38 overflows float32 in both)
        want = float(np.median(row)) if row.size else np.nan
        got = pl._median(row)
    np.testing.assert_array_equal(got, want)


def test_a_channel_busy_before_beside_one_quiet_before_is_no_flat_top():
    """Two adjacent channels hot now at one level straddle a flat top only where they share a
    past: analog R4 (5769 MHz) read at 5765 MHz beside channel 157's access point read at 5785
    MHz as strong when its frames light it (analog_r4_on_five_20mhz_aps, node n3: pasts 0.00 and
    0.70) was named OFDM, "lit equally over two scan channels"."""
    pipe = pl.Pipeline(N_BINS, START, STEP, pl.PipelineConfig())
    pipe._noise_now = np.full(N_BINS, 1.0, np.float32)
    pipe._split.hot_mw[2:4] = 6.0
    pipe._split.streak[2:4] = 10, 6
    snap = np.zeros(1, TRACK)
    snap["f_last_khz"] = START + 2.5 * STEP
    for pasts, straddles in (((0.0, 0.7), False), ((0.7, 0.0), False), ((0.0, 0.1), True),
                             ((0.6, 0.5), True), ((np.nan, 0.7), True)):
        pipe._split.busy_before[2:4] = pasts
        got = pipe.straddle(snap)[0]
        assert (got["balance_db"] == 0.0) == straddles, pasts
        assert np.isnan(got["midpoint_khz"]) != straddles, pasts
