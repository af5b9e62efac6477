"""The linear CFAR across frequency (straja._cfar.FreqCFAR, kinds CA, GO and SO: what the
pipeline runs) on rows long enough for its blocks of uncut cells (FREQ_SUMS_BLOCK), windows of
every binary digit pattern of n_train (the sums by doubling), the cut cells at the ends (taken
from the first and last block's sums), and a NaN, an inf or a huge reading at a block's edge,
against the NumPy reference (straja.detect.reference.cfar_freq)."""
import numpy as np
import pytest

from straja import _cfar
from straja.detect import cfar
from straja.detect import reference as ref

from test_detect_cfar import assert_matches

BLOCK = _cfar.FREQ_SUMS_BLOCK
SUMS_KINDS = ("ca", "go", "so")


def run(power, d):
    thr = np.empty_like(power)
    det = cfar.cfar_freq(power, d, threshold=thr)
    return det, thr


@pytest.mark.parametrize("kind", SUMS_KINDS)
@pytest.mark.parametrize("n_train", [1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 17, 31, 32, 33])
def test_long_rows_match_reference(kind, n_train):
    if kind != "ca" and n_train % 2:
        n_train += 1  # GO and SO halves
    rng = np.random.default_rng(n_train)
    for n_guard in (0, 1, 3):
        h = n_train + n_guard
        d = cfar.design(kind, 1e-3, n_train, n_guard)
        # one block, a block and a cell, blocks cut anywhere, the shortest rows with uncut cells
        for n in (2 * h + 1, 2 * h + 2, BLOCK + 2 * h, BLOCK + 2 * h + 1, 2 * BLOCK + 2 * h - 1,
                  3 * BLOCK + 77):
            power = rng.exponential(1.0, (3, n)).astype(np.float32)
            power[:, rng.integers(0, n, 5)] *= 1e3  # emitters, some next to the ends
            assert_matches(power, *run(power, d), *ref.cfar_freq(power, d))


@pytest.mark.parametrize("kind", SUMS_KINDS)
@pytest.mark.parametrize("special", [np.nan, np.inf, 1e30])
def test_a_special_reading_at_a_block_edge_is_local(kind, special):
    """Nothing is subtracted from a sum: a NaN, an inf or a huge reading reaches only the
    windows holding it, in whichever block, also across a block's boundary and at the ends."""
    d = cfar.design(kind, 1e-3, 8, 1)
    h = 9
    n = 2 * BLOCK + 2 * h
    emitters = [h + 20, BLOCK + 500, n - 30]
    for at in (0, h - 1, h + BLOCK - 1, h + BLOCK, h + BLOCK + 5, n - h, n - 1):
        power = np.ones((1, n), np.float32)
        power[0, at] = special
        power[0, emitters] = 1e4
        det, thr = run(power, d)
        ref_det, ref_thr = ref.cfar_freq(power, d)
        assert_matches(power, det, thr, ref_det, ref_thr)
        touched = np.zeros(n, bool)
        touched[max(at - h, 0):at + h + 1] = True
        assert np.isfinite(thr[0, ~touched]).all(), at
        assert all(det[0, e] for e in emitters if not touched[e]), at


def test_sweeps_of_a_batch_are_independent():
    """Each row is its own sweep: a batch's decisions are those of its rows one by one (the
    scratch of sums is reused row after row and block after block)."""
    d = cfar.design("ca", 1e-6, 8, 1)
    rng = np.random.default_rng(5)
    power = rng.exponential(1.0, (6, BLOCK + 300)).astype(np.float32)
    power[2, 100:140] = 1e5
    det, thr = run(power, d)
    for s in range(power.shape[0]):
        row_det, row_thr = run(power[s:s + 1].copy(), d)
        assert np.array_equal(det[s:s + 1], row_det) and np.array_equal(thr[s:s + 1], row_thr)
