"""Burst and pulse extraction (straja._detect_bursts) against the reference and known scenes."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja import _detect_bursts
from straja.detect import bursts
from straja.detect import reference as ref


def as_records(found):
    return [{k: r[k].item() for k in bursts.BURST.names} for r in found]


def assert_same(found, expected):
    assert len(found) == len(expected)
    for got, want in zip(as_records(found), expected):
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-6, nan_ok=True), key


@settings(max_examples=150, deadline=None)
@given(det=hnp.arrays(np.uint8, st.tuples(st.integers(0, 25), st.integers(1, 30)),
                      elements=st.sampled_from([0, 1])),
       gaps=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 4)),
       cut=st.integers(0, 25),
       split=st.booleans(),
       seed=st.integers(0, 2**16))
def test_bursts_match_reference_across_calls(det, gaps, cut, split, seed):
    """Across two calls, with and without run starts marked (`split`: the steadiness split)."""
    rng = np.random.default_rng(seed)
    power = rng.exponential(size=det.shape).astype(np.float32)
    if power.size:
        power.flat[rng.integers(power.size)] = np.nan
    t_us = np.cumsum(rng.integers(500, 1500, det.shape[0])).astype(np.int64)
    dur = np.full(det.shape[0], 400, np.int64)
    starts = (rng.random(det.shape) < 0.3).astype(np.uint8) if split else None
    part = (lambda a, sl: None if a is None else a[sl])
    be = bursts.BurstExtractor(det.shape[1], 2_400_000, 1000, *gaps)
    first, rest = slice(None, cut), slice(cut, None)
    found = np.concatenate([
        be.process(det[first], power[first], t_us[first], dur[first], part(starts, first)),
        be.process(det[rest], power[rest], t_us[rest], dur[rest], part(starts, rest)), be.flush()])
    assert_same(found, ref.bursts(det, power, t_us, dur, *gaps, cut=starts))


def test_a_marked_bin_starts_a_run_of_its_own():
    """Adjacent detected bins make one run, unless `cut` marks a bin as a run's start; a run
    of one sweep that meets an open burst still joins it (so the split holds where bursts close
    every sweep, as the gateway runs the core)."""
    det = np.zeros((2, 8), np.uint8)
    det[:, 2:6] = 1
    power = np.ones((2, 8), np.float32)
    cut = np.zeros((2, 8), np.uint8)
    cut[:, 4] = 1
    t_us, dur = np.array([0, 1000], np.int64), np.full(2, 900, np.int64)
    per_sweep = bursts.BurstExtractor(8, 0, 1, max_sweeps=1)
    found = per_sweep.process(det, power, t_us, dur, cut)
    assert [(b["bin_lo"], b["bin_hi"]) for b in found] == [(2, 3), (4, 5)] * 2
    joined = bursts.BurstExtractor(8, 0, 1)
    found = np.concatenate([joined.process(det, power, t_us, dur, cut), joined.flush()])
    assert [(b["bin_lo"], b["bin_hi"]) for b in found] == [(2, 5)]
    with pytest.raises(ValueError, match="cut"):
        per_sweep.process(det, power, t_us, dur, cut[:1])


def test_known_rectangles():
    det = np.zeros((10, 50), np.uint8)
    power = np.ones((10, 50), np.float32)
    det[2:5, 10:15] = 1          # 3 sweeps x 5 bins
    power[3, 12] = 9.0
    det[6, 30:32] = 1            # one sweep, 2 bins
    det[6, 34] = 1               # 2 bins away: a separate burst with max_gap_bins=1
    t_us = np.arange(10, dtype=np.int64) * 10_000
    dur = np.full(10, 8_000, np.int64)
    be = bursts.BurstExtractor(50, 5_650_000, 2_000)
    found = np.concatenate([be.process(det, power, t_us, dur), be.flush()])
    assert len(found) == 3
    a = found[found["bin_lo"] == 10][0]
    assert (a["t_start_us"], a["t_end_us"], a["n_sweeps"], a["n_cells"]) == (20_000, 48_000, 3, 15)
    assert a["centre_khz"] == 5_650_000 + 12 * 2_000 and a["bandwidth_khz"] == 10_000
    assert a["peak_mw"] == 9.0 and a["peak_bin"] == 12
    assert a["mean_mw"] == pytest.approx((14 + 9) / 15)
    assert sorted(found["bin_lo"].tolist()) == [10, 30, 34]


def test_merging_u_shape_and_sweep_gap():
    det = np.zeros((6, 12), np.uint8)
    det[0:3, 1] = 1   # two arms ...
    det[0:3, 8] = 1
    det[3, 1:9] = 1   # ... joined by a bar: one burst
    det[5, 4] = 1     # after one empty sweep: joins only with max_gap_sweeps >= 1
    power = np.ones(det.shape, np.float32)
    t = np.arange(6, dtype=np.int64)
    d = np.ones(6, np.int64)
    for gap_sweeps, expected in ((0, 2), (1, 1)):
        be = bursts.BurstExtractor(12, 0, 1, max_gap_bins=0, max_gap_sweeps=gap_sweeps)
        found = np.concatenate([be.process(det, power, t, d), be.flush()])
        assert len(found) == expected
        assert found["n_cells"].sum() == det.sum()


def test_kernel_resumes_when_the_output_buffer_is_full():
    det = np.zeros((8, 9), np.uint8)
    det[::2, ::2] = 1  # 5 single-cell bursts closing every other sweep
    power = np.ones(det.shape, np.float32)
    t = np.arange(8, dtype=np.int64)
    kernel = _detect_bursts.BurstExtractor(9, 0.0, 1.0, 0, 0)
    out = np.empty(5, bursts.BURST)
    written, used = kernel.process(det, power, t, t, out)
    # sweep 1 closes 5 and fills out; sweep 2 only opens; sweep 3 could overflow: stop there
    assert (written, used) == (5, 3)
    written, used = kernel.process(det[3:], power[3:], t[3:], t[3:], out)
    assert (written, used) == (5, 2)


def test_bursts_of_one_sweep_beyond_the_buffer_all_come_out():
    """Every bin cut apart, every burst one sweep long: a sweep closes as many bursts as it
    opens (one per bin), many sweeps a call: the kernel stops before its buffer could overflow
    and the wrapper resumes it."""
    det = np.ones((40, 30), np.uint8)
    power = np.ones(det.shape, np.float32)
    t = np.arange(40, dtype=np.int64) * 10
    be = bursts.BurstExtractor(30, 0, 1, max_sweeps=1)
    found = be.process(det, power, t, t + 5, np.ones(det.shape, np.uint8))
    assert len(found) == det.size and (found["bin_lo"] == found["bin_hi"]).all()


def test_pulses_width_and_repetition_interval():
    rate = 1e6  # 1 us samples
    x = np.ones(20_000, np.float32)
    starts = np.arange(1000, 19000, 2500)
    for s in starts:
        x[s:s + 300] = 100.0
    x[5000] = np.nan
    pe = bursts.PulseExtractor()
    found = np.concatenate([pe.process(x[:7777], 0.0, rate), pe.process(x[7777:], 7777.0, rate)])
    assert found["t_start_us"].tolist() == starts.tolist()
    assert np.all(found["width_us"] == 300)
    assert np.isnan(found["pri_us"][0]) and np.all(found["pri_us"][1:] == 2500)
    assert pe.floor_mw == pytest.approx(1.0, rel=0.01)


@settings(max_examples=60, deadline=None)
@given(x=hnp.arrays(np.float32, st.integers(0, 300),
                    elements=st.one_of(st.floats(0, 1e3, width=32), st.just(np.nan))),
       cut=st.integers(0, 300))
def test_pulses_match_reference(x, cut):
    pe = bursts.PulseExtractor()
    found = np.concatenate([pe.process(x[:cut], 0.0, 1e4), pe.process(x[cut:], cut * 100.0, 1e4)])
    head, tail = x[:cut], x[cut:]
    # the floor starts from the first block holding a readable sample (skipped before it)
    first = head if (~np.isnan(head)).any() else tail
    skip = 0 if first is head else cut
    expected = ref.pulses(x[skip:], skip * 100.0, 1e4, first_block=first)
    assert len(found) == len(expected)
    for got, want in zip(found, expected):
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-6, nan_ok=True)


def test_errors():
    be = bursts.BurstExtractor(8, 0, 1)
    z = np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="det must have 8 entries"):
        be.process(np.zeros((2, 9), np.uint8), np.zeros((2, 9), np.float32), z, z)
    with pytest.raises(TypeError, match="int64"):
        be.process(np.zeros((2, 8), np.uint8), np.zeros((2, 8), np.float32), z.astype(float), z)
    with pytest.raises(ValueError, match="one entry per sweep"):
        be.process(np.zeros((3, 8), np.uint8), np.zeros((3, 8), np.float32), z, z)
    with pytest.raises(ValueError):
        bursts.BurstExtractor(0, 0, 1)
