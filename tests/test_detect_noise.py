"""Conversions and the noise floor (straja._detect_noise) against the NumPy reference and
against the behaviour the detector needs: drift followed, bursts ignored, early emitters kept out."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja.detect import noise
from straja.detect import reference as ref

SHAPES = st.tuples(st.integers(0, 30), st.integers(1, 40))
READINGS = st.one_of(st.floats(0.0, 1e3, width=32), st.sampled_from([np.nan, np.inf, 0.0]))


def test_codes_to_mw_matches_protocol():
    codes = np.arange(256, dtype=np.uint8).reshape(2, 128)
    mw = noise.codes_to_mw(codes)
    np.testing.assert_allclose(mw, ref.codes_to_mw(codes), rtol=1e-6)
    assert noise.mw_to_dbm(mw[1, -1]) == pytest.approx(-12.5, abs=1e-4)  # code 255
    assert noise.mw_to_dbm(mw[0, 0]) == pytest.approx(-140.0, abs=1e-4)


@given(hnp.arrays(np.uint16, st.integers(0, 50)), st.integers(-30000, -20000),
       st.integers(-5000, 20000))
def test_envelope_to_mw_matches_reference(samples, slope, intercept):
    np.testing.assert_allclose(noise.envelope_to_mw(samples, slope, intercept),
                               ref.envelope_to_mw(samples, slope, intercept), rtol=1e-6)


@settings(max_examples=150, deadline=None)
@given(power=hnp.arrays(np.float32, SHAPES, elements=READINGS), cut=st.integers(0, 30),
       quantile=st.sampled_from([0.25, 0.5]), burst_db=st.sampled_from([6.0, 10.0]))
def test_noise_floor_matches_reference_across_calls(power, cut, quantile, burst_db):
    nf = noise.NoiseFloor(power.shape[1], quantile=quantile, burst_db=burst_db)
    out = np.empty_like(power)
    nf.process(power[:cut], out=out[:cut])
    nf.process(power[cut:], out=out[cut:])
    expected = ref.noise_floor(power, quantile=quantile, burst_db=burst_db)
    np.testing.assert_allclose(out, expected, rtol=1e-6, equal_nan=True)


def db(x):
    return 10 ** (np.asarray(x) / 10)


def test_floor_follows_drift_ignores_bursts_and_early_emitters():
    rng = np.random.default_rng(3)
    n_sweeps, n_bins = 3000, 64
    drift = db(np.linspace(0, 6, n_sweeps))[:, None]  # +6 dB over the run: slow
    power = rng.standard_exponential((n_sweeps, n_bins)) * drift
    power[:, 10] *= db(25)  # an emitter on air from the first sweep, all along
    power[:, 30] *= db(8)   # a weaker one, under the burst margin
    bursts = rng.random((n_sweeps, n_bins)) < 0.1  # 10 % of readings are bursts
    power[bursts] *= db(20)
    mean = noise.NoiseFloor(n_bins).process(power.astype(np.float32))
    quiet = np.delete(np.arange(n_bins), [10, 30])
    late = mean[-200:, quiet] / drift[-200:]
    assert abs(10 * np.log10(np.median(late))) < 1.0  # within 1 dB of the true mean
    assert np.median(mean[:, 10] / drift[:, 0]) < db(6.5)  # never learns the 25 dB emitter
    assert np.median(mean[-200:, 30] / drift[-200:, 0]) < db(6.5)  # capped at +6 dB


def test_floor_detector_false_alarm_rate():
    """On stationary noise the floor detector fires at about its design Pfa; the jitter of the
    estimated mean raises it (measured 1.4x at 1e-3, docs/detection.md): at most 2x, and at
    least the design minus 4.5 binomial standard deviations."""
    x = np.random.default_rng(12).standard_exponential((4000, 256), dtype=np.float32)
    det = np.zeros(x.shape, np.uint8)
    noise.NoiseFloor(256).process(x, det=det, pfa=1e-3)
    n = det[200:].size  # after the estimate has settled
    hits = int(det[200:].sum())
    assert n * 1e-3 - 4.5 * np.sqrt(n * 1e-3) <= hits <= 2 * n * 1e-3


def test_nan_sweeps_before_anything_readable():
    power = np.full((3, 4), np.nan, np.float32)
    power[2] = 1.0
    out = noise.NoiseFloor(4).process(power)
    assert np.isnan(out[:2]).all() and np.isfinite(out[2]).all()


def test_errors():
    with pytest.raises(TypeError, match="uint8"):
        noise.codes_to_mw(np.zeros((2, 3), np.int16))
    with pytest.raises(ValueError, match="bins"):
        noise.NoiseFloor(4).process(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="quantile"):
        noise.NoiseFloor(4, quantile=1.0)
    with pytest.raises(ValueError, match="n_bins"):
        noise.NoiseFloor(0)
