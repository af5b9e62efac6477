"""Code-domain CFAR (straja._cfar.CodeCFAR) against its NumPy reference, its design, errors."""
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja.detect import cfar, noise
from straja.detect import reference as ref

CODES = hnp.arrays(np.uint8, st.tuples(st.integers(0, 6), st.integers(0, 70)),
                   elements=st.one_of(st.integers(0, 255), st.sampled_from([0, 255])))


@lru_cache(maxsize=None)
def designed(kind, pfa, n_train, n_guard):
    return cfar.design_codes(kind, pfa, n_train, n_guard)


@settings(max_examples=150, deadline=None)
@given(codes=CODES, kind=st.sampled_from(cfar.CODE_KINDS), n_train=st.integers(1, 9),
       n_guard=st.integers(0, 3), pfa=st.sampled_from([1e-2, 1e-6]))
def test_designed_kernel_equals_reference(codes, kind, n_train, n_guard, pfa):
    d = designed(kind, pfa, n_train, n_guard)
    assert np.array_equal(cfar.cfar_codes(codes, d), ref.cfar_codes(codes, d))


@settings(max_examples=150, deadline=None)
@given(codes=CODES, kind=st.sampled_from(cfar.CODE_KINDS), n_train=st.integers(1, 12),
       n_guard=st.integers(0, 4), data=st.data())
def test_any_tables_equal_reference(codes, kind, n_train, n_guard, data):
    """Arbitrary thresholds (negative too) and ranks: every branch of the kernels."""
    size = 2 * n_train + 1
    thr = np.array(data.draw(st.lists(st.integers(-3000, 3000), min_size=size, max_size=size)))
    k_os = np.array([1] + [data.draw(st.integers(1, m)) for m in range(1, size)])
    d = cfar.CodeCFARDesign(kind, 1e-3, n_train, n_guard, thr, k_os)
    assert np.array_equal(cfar.cfar_codes(codes, d), ref.cfar_codes(codes, d))


def test_large_training_window_sums_fit():
    """The widest window of the widest codes: uint16 window sums must not wrap."""
    codes = np.full((2, 600), 255, np.uint8)
    codes[:, ::7] = 0
    for t in (cfar.MAX_CODE_TRAIN, 77):
        d = cfar.CodeCFARDesign("ca", 1e-3, t, 2, np.arange(2 * t + 1) * 3 - 100, np.ones(2 * t + 1))
        assert np.array_equal(cfar.cfar_codes(codes, d), ref.cfar_codes(codes, d))


def scene_codes(rng, shape, looks=1.0, level_code=80.3):
    """RSSI codes of L-look noise (Gamma(L) power) whose mean sits at a fractional code."""
    p = rng.gamma(looks, 1.0 / looks, shape)
    return np.clip(np.floor(level_code + 20.0 * np.log10(p)), 0, 255).astype(np.uint8)


def test_os_over_codes_decides_as_os_over_milliwatts():
    """The pipeline's linear OS kernel on codes_to_mw(codes) and the code kernel agree exactly."""
    rng = np.random.default_rng(3)
    codes = scene_codes(rng, (200, 256))
    codes[::5, rng.integers(0, 256, 40)] += 25
    for n_train, n_guard in ((8, 1), (3, 0), (12, 2)):
        lin = cfar.design("os", 1e-3, n_train, n_guard, code_db=cfar.CODE_DB)
        d = cfar.design_codes("os", 1e-3, n_train, n_guard)
        assert np.array_equal(cfar.cfar_codes(codes, d),
                              cfar.cfar_freq(noise.codes_to_mw(codes), lin))


@pytest.mark.parametrize("looks", [1.0, 4.0, 30.0])
def test_log_ca_false_alarms_at_most_the_design(looks):
    """Noise alone, at noise levels across a code step: the false-alarm rate stays at or under
    the design's (the design takes the worst level) and not far under it."""
    pfa = 1e-3
    d = cfar.design_codes("ca", pfa, 8, 1, looks=looks)
    rng = np.random.default_rng(7)
    rates = []
    for level in (80.0, 80.25, 80.5, 80.75):
        codes = scene_codes(rng, (500, 1024), looks, level)
        rates.append(cfar.cfar_codes(codes, d).mean())
    assert max(rates) < 1.15 * pfa   # ~ 2 sigma of 500k cells over the design
    assert max(rates) > 0.2 * pfa    # integer thresholds: up to one step conservative


def test_errors():
    d = designed("ca", 1e-3, 4, 1)
    with pytest.raises(TypeError, match="codes must have dtype uint8"):
        cfar.cfar_codes(np.zeros((2, 10), np.float32), d)
    with pytest.raises(ValueError, match="out has shape"):
        cfar.cfar_codes(np.zeros((2, 10), np.uint8), d, out=np.zeros((3, 10), np.uint8))
    with pytest.raises(ValueError, match="kind must be one of"):
        cfar.design_codes("go", 1e-3, 4)
    with pytest.raises(ValueError, match="n_train <= 128"):
        cfar.design_codes("ca", 1e-3, 129)
    with pytest.raises(ValueError, match="pfa must be in"):
        cfar.design_codes("ca", 1.5, 4)
    with pytest.raises(ValueError, match="single-look"):
        cfar.design_codes("os", 1e-3, 4, looks=2.0)
    with pytest.raises(ValueError, match="9 entries"):
        cfar.CodeCFARDesign("ca", 1e-3, 4, 0, np.zeros(5), np.ones(9))
