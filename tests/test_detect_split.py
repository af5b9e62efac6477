"""The steadiness split's kernel (straja._detect_split) against its NumPy reference
(straja.detect.reference.SteadinessSplit), and its argument checks."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja._detect_split import SteadinessSplit
from straja.detect import pipeline as core
from straja.detect import reference as ref

# readings in mW over ~30 dB (0.5 dB steps, as codes give): exact ties of strength and jitter
LEVELS = st.integers(0, 60).map(lambda k: np.float32(1e-9 * 10 ** (k / 20)))


@st.composite
def streams(draw):
    """(det, power, noise (or None), kernel arguments after n_bins, gap, calls: (n_sweeps or
    -quiet sweeps))."""
    n_sweeps, n_bins = draw(st.integers(0, 40)), draw(st.integers(1, 12))
    shape = (n_sweeps, n_bins)
    det = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 1)))
    power = draw(hnp.arrays(np.float32, shape, elements=LEVELS))
    noise = draw(st.none() | hnp.arrays(np.float32, shape, elements=LEVELS))
    args = (draw(st.sampled_from([core.SPLIT_RATIO, 1.5, 3])),
            draw(st.sampled_from([core.SPLIT_MIN_SWEEPS, 1, 4])),
            draw(st.sampled_from([core.SPLIT_JITTER_DB, 0.5, 6.0])),
            draw(st.sampled_from([core.SPLIT_RATE, 1.0])),
            draw(st.sampled_from([core.SPLIT_STREAK_CAP, 3])),
            draw(st.sampled_from([core.HISTORY_SWEEPS, 4])),
            draw(st.sampled_from([core.HISTORY_MIN_SWEEPS, 0, 5])),
            draw(st.sampled_from([core.steadiness_split(1).dip, 1.0, 10.0])),
            draw(st.sampled_from([core.steadiness_split(1).stand, 1.0, 4.0])))
    cuts = sorted(draw(st.lists(st.integers(0, n_sweeps), max_size=4)))
    quiet = draw(st.lists(st.integers(0, 70), min_size=len(cuts) + 1, max_size=len(cuts) + 1))
    return det, power, noise, args, draw(st.integers(0, 2)), cuts, quiet


@settings(max_examples=300, deadline=None)
@given(streams())
def test_kernel_equals_reference(stream):
    """Batches of any size, with spells of quiet sweeps between them, with a floor or none: the
    same cuts, streaks, histories and per-bin state, to float64 rounding."""
    det, power, noise, args, gap, bounds, quiet = stream
    n_bins = det.shape[1]
    kernel, oracle = SteadinessSplit(n_bins, *args), ref.SteadinessSplit(n_bins, *args)
    assert kernel.settings == args
    for lo, hi, q in zip([0] + bounds, bounds + [det.shape[0]], quiet):
        floor = None if noise is None else noise[lo:hi]
        want = oracle.cuts(det[lo:hi], power[lo:hi], floor, np.zeros((hi - lo, n_bins), np.uint8),
                           gap)
        got = kernel.cuts(det[lo:hi], power[lo:hi], floor, np.full((hi - lo, n_bins), 7, np.uint8),
                          gap)
        assert got.tolist() == want.tolist()
        kernel.quiet(q)
        oracle.quiet(q)
        assert kernel.sweeps == oracle.sweeps
        assert kernel.streak.tolist() == oracle.streak.tolist()
        assert kernel.held.tolist() == oracle.held.tolist()
        assert kernel.standing.tolist() == oracle.standing.tolist()
        assert kernel.stood.tolist() == oracle.stood.tolist()
        for name in ("streak_sq", "hot_mw", "last_db", "jitter", "busy", "busy_before",
                     "cut_share", "up", "up_before"):
            np.testing.assert_allclose(getattr(kernel, name), getattr(oracle, name), rtol=1e-12,
                                       atol=1e-300, equal_nan=True, err_msg=name)


def test_bad_arguments_are_refused_with_their_name():
    split = core.steadiness_split(4)
    det, power, cut = (np.zeros((2, 4), t) for t in (np.uint8, np.float32, np.uint8))
    with pytest.raises(TypeError, match="power"):
        split.cuts(det, power.astype(np.float64), None, cut, 1)
    with pytest.raises(TypeError, match="noise"):
        split.cuts(det, power, power.astype(np.float64), cut, 1)
    with pytest.raises(ValueError, match="det"):
        split.cuts(det[:, :3].copy(), power, None, cut, 1)
    with pytest.raises(ValueError, match="same shape"):
        split.cuts(det, power[:1].copy(), None, cut, 1)
    with pytest.raises(ValueError, match="same shape"):
        split.cuts(det, power, power[:1].copy(), cut, 1)
    with pytest.raises(ValueError, match="n_bins"):
        SteadinessSplit(0, *split.settings)
    with pytest.raises(ValueError, match="dip"):
        SteadinessSplit(4, *split.settings[:-2], 0.5, split.stand)
    with pytest.raises(ValueError, match="stand"):
        SteadinessSplit(4, *split.settings[:-1], 0.5)
