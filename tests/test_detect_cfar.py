"""Compiled CFAR kernels (straja._cfar) against the NumPy reference, edge cases and errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja.detect import cfar
from straja.detect import reference as ref

READINGS = st.one_of(
    st.floats(0.0, 1e6, width=32),
    st.sampled_from([0.0, np.nan, np.inf, 0.056]),  # 0.056 mW: a saturated RSSI code 255
)


def power_arrays(max_sweeps=6, max_bins=60):
    shapes = st.tuples(st.integers(0, max_sweeps), st.integers(0, max_bins))
    return hnp.arrays(np.float32, shapes, elements=READINGS)


DESIGNS = st.tuples(st.sampled_from(cfar.KINDS), st.integers(1, 9), st.integers(0, 3),
                    st.sampled_from([1e-2, 1e-3, 1e-6]))


def assert_matches(power, det, thr, ref_det, ref_thr):
    """Thresholds agree to float32 rounding; detections agree except on a near-tie."""
    np.testing.assert_allclose(thr, ref_thr.astype(np.float32), rtol=2e-6, equal_nan=True)
    with np.errstate(invalid="ignore"):
        tie = np.abs(power - ref_thr) <= 1e-9 * np.abs(ref_thr)
    assert np.array_equal(det.astype(bool)[~tie], ref_det[~tie])


@settings(max_examples=150, deadline=None)
@given(power=power_arrays(), spec=DESIGNS)
def test_freq_matches_reference(power, spec):
    kind, n_train, n_guard, pfa = spec
    d = cfar.design(kind, pfa, n_train, n_guard)
    thr = np.empty_like(power)
    det = cfar.cfar_freq(power, d, threshold=thr)
    assert_matches(power, det, thr, *ref.cfar_freq(power, d))


@settings(max_examples=150, deadline=None)
@given(power=power_arrays(max_sweeps=40, max_bins=12), spec=DESIGNS,
       cut=st.integers(0, 40))
def test_time_matches_reference_across_calls(power, spec, cut):
    kind, n_train, n_guard, pfa = spec
    n_train += n_train % 2 if kind in ("go", "so") else 0
    d = cfar.design(kind, pfa, n_train, n_guard, axis="time")
    stream = cfar.TimeCFAR(max(power.shape[1], 1), d)
    if power.shape[1] == 0:
        return  # a zero-bin stream cannot be built; see test_errors
    thr = np.empty_like(power)
    det = np.empty(power.shape, np.uint8)
    cut = min(cut, power.shape[0])
    stream.process(power[:cut], out=det[:cut], threshold=thr[:cut])
    stream.process(power[cut:], out=det[cut:], threshold=thr[cut:])
    assert_matches(power, det, thr, *ref.cfar_time(power, d))


def test_known_alphas():
    """The reference note's worked values (Richards 6.5.3, 6.5.6)."""
    assert cfar.alpha_for_pfa("ca", 1e-4, 16) == pytest.approx(12.45, abs=0.01)
    assert cfar.pfa_os(6.857, 20, 15) == pytest.approx(1e-3, rel=5e-3)
    for kind in cfar.KINDS:
        a = cfar.alpha_for_pfa(kind, 1e-3, 16)
        assert cfar.pfa(kind, a, 16) == pytest.approx(1e-3, rel=1e-9)


def test_go_so_formulas_by_quadrature():
    """Pfa_GO/SO = E[exp(-b max/min(S1, S2))], S ~ Gamma(n, 1), by numerical integration."""
    n, alpha = 4, 5.0
    s = np.linspace(0, 60, 6001)
    ds = s[1] - s[0]
    pdf = s ** (n - 1) * np.exp(-s) / 6.0  # Gamma(4, 1)
    cdf = 1 - np.exp(-s) * (1 + s + s**2 / 2 + s**3 / 6)
    b = alpha / n
    pdf_max, pdf_min = 2 * pdf * cdf, 2 * pdf * (1 - cdf)
    assert cfar.pfa_go(alpha, 2 * n) == pytest.approx(np.sum(pdf_max * np.exp(-b * s)) * ds, rel=2e-3)
    assert cfar.pfa_so(alpha, 2 * n) == pytest.approx(np.sum(pdf_min * np.exp(-b * s)) * ds, rel=2e-3)


def test_one_channel_and_window_larger_than_sweep():
    d = cfar.design("ca", 1e-3, 8, 2)
    one = np.array([[5.0]], np.float32)
    thr = np.empty_like(one)
    assert cfar.cfar_freq(one, d, threshold=thr)[0, 0] == 0 and np.isinf(thr[0, 0])
    short = np.array([[1.0, 1.0, 1.0, 1.0, 500.0]], np.float32)  # every window cut
    det = cfar.cfar_freq(short, d)
    assert det.tolist() == [[0, 0, 0, 0, 1]]
    assert np.array_equal(det.astype(bool), ref.cfar_freq(short, d)[0])


def test_empty_inputs():
    d = cfar.design("os", 1e-3, 4, 1)
    assert cfar.cfar_freq(np.zeros((0, 16), np.float32), d).shape == (0, 16)
    assert cfar.cfar_freq(np.zeros((3, 0), np.float32), d).shape == (3, 0)
    stream = cfar.TimeCFAR(16, cfar.design("ca", 1e-3, 4, axis="time"))
    assert stream.process(np.zeros((0, 16), np.float32)).shape == (0, 16)


def test_nan_and_inf_are_local():
    """A NaN or inf reading blinds only the cells whose window holds it."""
    d = cfar.design("ca", 1e-3, 4, 1)
    x = np.ones((1, 64), np.float32)
    x[0, [5, 40, 53]] = 1e4
    x[0, 20] = np.nan
    x[0, 50] = np.inf
    det = cfar.cfar_freq(x, d)[0]
    assert det[5] == 1 and det[40] == 1 and det[20] == 0 and det[50] == 1
    assert det[53] == 0  # the inf three cells away is in its training window


def test_errors_are_clear():
    d = cfar.design("ca", 1e-3, 4, 1)
    with pytest.raises(TypeError, match="float32"):
        cfar.cfar_freq(np.ones((2, 8)), d)
    with pytest.raises(ValueError, match="2-D"):
        cfar.cfar_freq(np.ones(8, np.float32), d)
    with pytest.raises(TypeError, match="numpy array"):
        cfar.cfar_freq([[1.0]], d)
    with pytest.raises(ValueError, match="shape"):
        cfar.cfar_freq(np.ones((2, 8), np.float32), d, out=np.empty((2, 9), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        cfar.cfar_freq(np.ones((2, 8), np.float32), d, out=np.empty((2, 8), bool))
    with pytest.raises(ValueError, match="bins"):
        cfar.TimeCFAR(8, cfar.design("ca", 1e-3, 4, axis="time")).process(np.ones((2, 9), np.float32))
    with pytest.raises(ValueError, match="even"):
        cfar.design("go", 1e-3, 3, axis="time")
    with pytest.raises(ValueError, match="pfa"):
        cfar.design("ca", 1.5, 4)
    with pytest.raises(ValueError, match="kind"):
        cfar.design("xx", 1e-3, 4)
