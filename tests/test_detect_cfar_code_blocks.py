"""Code-domain CA-CFAR on sweeps longer than the kernel's block (straja._cfar: uncut cells in
blocks of 2048, each block's windows reaching into its neighbours; the cut cells at the sweep
edges by sliding sums): equal to the NumPy reference across block boundaries, for any window,
threshold (beyond 16 bits too) and sweep length."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from straja.detect import cfar
from straja.detect import reference as ref


@settings(max_examples=40, deadline=None)
@given(n_bins=st.sampled_from([2047, 2066, 2067, 4096, 4133, 6200]),
       n_train=st.integers(1, cfar.MAX_CODE_TRAIN), n_guard=st.integers(0, 40),
       offset=st.sampled_from([-3000, -40, 0, 40, 70_000]), seed=st.integers(0, 2**32 - 1))
def test_long_sweeps_equal_reference(n_bins, n_train, n_guard, offset, seed):
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (2, n_bins)).astype(np.uint8)
    codes[:, rng.integers(0, n_bins, 50)] = 255
    m = np.arange(2 * n_train + 1)
    d = cfar.CodeCFARDesign("ca", 1e-3, n_train, n_guard, m * 40 + offset, np.ones(m.size))
    assert np.array_equal(cfar.cfar_codes(codes, d), ref.cfar_codes(codes, d))
