"""Code-domain CA-CFAR's window sums and decisions at their edges (straja._cfar): the sums of up
to 8 codes straight from the codes (the AVX2 SAD loop: whole vectors, the last overlapping, the
cells after it by a running sum) and the plain C doubling, against NumPy; the decisions on
all-equal sweeps, the extreme codes 0 and 255, and cut windows at the sweep's ends, against the
NumPy reference and SciPy's `uniform_filter1d` (the benchmark's peer)."""
import numpy as np
import pytest

from straja import _cfar
from straja.detect import cfar
from straja.detect import reference as ref

from test_detect_cfar_code_avx2 import KERNELS, design, kernel

ndimage = pytest.importorskip("scipy.ndimage")

# the AVX2 sums run on rows of at least this many cells; every length mod 32 (the SAD loop's
# vector) beyond it, and rows too short for it
LONG = _cfar.CODE_CA_AVX2_MIN_CELLS
LENGTHS = [*range(LONG, LONG + 40), LONG + 1000, 1, 7, 38, 39, 40, 71, 72]


def numpy_window_sums(codes, t):
    c = np.concatenate([[0], np.cumsum(codes, dtype=np.int64)])
    return (c[t:] - c[:-t]).astype(np.uint16)


@KERNELS
@pytest.mark.parametrize("n_train", [*range(1, 18), 23, 24, 63, 64, 65, cfar.MAX_CODE_TRAIN])
def test_window_sums_equal_numpy(avx2, n_train):
    rng = np.random.default_rng(n_train)
    for n in LENGTHS:
        if n < n_train:
            continue
        for codes in (rng.integers(0, 256, n).astype(np.uint8), np.full(n, 255, np.uint8)):
            with kernel(avx2):
                sums = _cfar.code_window_sums(codes, n_train)
            assert np.array_equal(sums, numpy_window_sums(codes, n_train)), (n, n_train)


def test_window_sums_refuse_a_window_longer_than_the_row():
    with pytest.raises(ValueError):
        _cfar.code_window_sums(np.zeros(4, np.uint8), 5)
    with pytest.raises(ValueError):
        _cfar.code_window_sums(np.zeros(400, np.uint8), cfar.MAX_CODE_TRAIN + 1)


def scipy_code_ca(codes, d):
    """The benchmark's peer: training sums from uniform_filter1d (zero padding), the same test."""
    t, g, n = d.n_train, d.n_guard, codes.shape[1]
    x = codes.astype(np.float64)
    outer = ndimage.uniform_filter1d(x, 2 * (t + g) + 1, axis=1, mode="constant")
    inner = ndimage.uniform_filter1d(x, 2 * g + 1, axis=1, mode="constant")
    s = np.rint(outer * (2 * (t + g) + 1) - inner * (2 * g + 1))
    i = np.arange(n)
    m = np.minimum(i - g, t).clip(0) + np.minimum(n - 1 - i - g, t).clip(0)
    return (m > 0) & (m * codes - s > d.thr[m])


def edge_sweeps(n):
    """All-equal sweeps (0, 255 and between), the extremes alternating, and a strong cell at each
    end and inside the guard band of the first and last uncut cells."""
    sweeps = [np.full(n, v, np.uint8) for v in (0, 1, 128, 254, 255)]
    sweeps.append(np.where(np.arange(n) % 2, 255, 0).astype(np.uint8))
    spikes = np.full(n, 90, np.uint8)
    spikes[[0, 1, 9, 10, n // 2, n - 11, n - 10, n - 2, n - 1]] = 255
    sweeps.append(spikes)
    holes = np.full(n, 200, np.uint8)
    holes[[0, 8, 9, n // 2, n - 10, n - 9, n - 1]] = 0
    sweeps.append(holes)
    return np.stack(sweeps)


@KERNELS
@pytest.mark.parametrize("n_bins", [19, 64, 256, LONG + 18, 4096])
@pytest.mark.parametrize("n_train,n_guard", [(8, 1), (3, 0), (12, 2)])
def test_edge_sweeps_equal_reference_and_scipy(avx2, n_bins, n_train, n_guard):
    rng = np.random.default_rng(n_bins)
    # the designed thresholds, and ones at the sums' level (decisions flip on all-equal sweeps)
    for d in (cfar.design_codes("ca", 1e-6, n_train, n_guard), design(n_train, n_guard, 0, rng),
              design(n_train, n_guard, -1, rng)):
        codes = edge_sweeps(n_bins)
        with kernel(avx2):
            got = cfar.cfar_codes(codes, d).astype(bool)
        assert np.array_equal(got, ref.cfar_codes(codes, d))
        assert np.array_equal(got, scipy_code_ca(codes, d))
