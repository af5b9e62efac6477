"""Code-domain CA-CFAR's two compares (straja._cfar: the AVX2 one, run on blocks of at least
CODE_CA_AVX2_MIN_CELLS uncut cells where the CPU has AVX2, and the portable plain C one) against
the NumPy reference: the same decisions, bit for bit, for any sweep length, window (the window
sums' passes: blocks of 2, of 4 in one pass, t's digits), guard band and threshold (the 16-bit
compare and its 32-bit fallback)."""
import platform
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from straja import _cfar
from straja.detect import cfar
from straja.detect import reference as ref


def cpu_has_avx2():
    if platform.machine() not in ("x86_64", "AMD64"):
        return False
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        pytest.skip("no /proc/cpuinfo to read the CPU's features from")
    return " avx2" in cpuinfo.read_text()


# each test runs on both compares (the AVX2 one only where the CPU has AVX2)
KERNELS = pytest.mark.parametrize("avx2", [True, False], ids=["avx2", "plain-c"])


@contextmanager
def kernel(avx2):
    _cfar.code_ca_use_avx2(avx2)
    try:
        yield
    finally:
        _cfar.code_ca_use_avx2(True)


def design(n_train, n_guard, thr_full, rng):
    """CA design whose whole-window threshold is thr_full, the cut windows' ones random."""
    size = 2 * n_train + 1
    thr = rng.integers(-2000, 4000, size)
    thr[-1] = thr_full
    return cfar.CodeCFARDesign("ca", 1e-3, n_train, n_guard, thr, np.ones(size))


def test_avx2_used_exactly_where_the_cpu_has_it():
    try:
        assert _cfar.code_ca_use_avx2(True) == cpu_has_avx2()
        assert _cfar.code_ca_use_avx2(False) is False
    finally:
        _cfar.code_ca_use_avx2(True)


@KERNELS
@settings(max_examples=60, deadline=None)
@given(n_bins=st.one_of(st.integers(1, 120), st.integers(1, 5000)),
       n_train=st.one_of(st.integers(1, 16), st.integers(1, cfar.MAX_CODE_TRAIN)),
       n_guard=st.integers(0, 40), thr_full=st.integers(-70_000, 70_000),
       seed=st.integers(0, 2**32 - 1))
def test_random_sweeps_equal_reference(avx2, n_bins, n_train, n_guard, thr_full, seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (2, n_bins)).astype(np.uint8)
    codes[:, rng.integers(0, n_bins, 1 + n_bins // 20)] = 255
    # thresholds near the sums' level too, where decisions flip
    level = 2 * n_train * int(codes.mean())
    d = design(n_train, n_guard, thr_full if seed % 2 else level + thr_full % 200 - 100, rng)
    with kernel(avx2):
        assert np.array_equal(cfar.cfar_codes(codes, d), ref.cfar_codes(codes, d))


@KERNELS
@pytest.mark.parametrize("n_train,n_guard", [(8, 1), (1, 0), (3, 2), (12, 0), (29, 4), (40, 0)])
def test_every_length_near_the_switches_equals_reference(avx2, n_train, n_guard):
    """Every length from none to a few vectors of uncut cells (the plain loops' tails), and
    around the length where the AVX2 compare takes over (its overlapping last vector)."""
    rng = np.random.default_rng(n_train)
    d = design(n_train, n_guard, 6 * n_train, rng)
    edge = 2 * (n_train + n_guard)
    switch = _cfar.CODE_CA_AVX2_MIN_CELLS + edge
    for n_bins in [*range(1, edge + 50), *range(switch - edge - 20, switch + 35)]:
        codes = rng.integers(60, 100, (2, n_bins)).astype(np.uint8)
        with kernel(avx2):
            assert np.array_equal(cfar.cfar_codes(codes, d), ref.cfar_codes(codes, d)), n_bins


@KERNELS
def test_sums_at_the_16_bit_limit(avx2):
    """The widest window of the widest codes with the largest threshold the 16-bit test takes
    (lag + lead + thr = 65535) and the next one (the 32-bit fallback)."""
    t = cfar.MAX_CODE_TRAIN
    rng = np.random.default_rng(7)
    codes = np.full((2, 3000), 255, np.uint8)
    codes[:, rng.integers(0, 3000, 40)] = 0
    for thr_full in (65535 - 2 * t * 255, 65536 - 2 * t * 255, 0, -1):
        d = design(t, 3, thr_full, rng)
        with kernel(avx2):
            assert np.array_equal(cfar.cfar_codes(codes, d), ref.cfar_codes(codes, d)), thr_full
