"""The compiled track features (straja._track_features) against their definition, the NumPy
tracks.features + tracks.with_excess: equal field by field, edge cases included (no gaps, no
bursts, zero power, zero noise, a step of 0), but for the logarithms: the kernel takes C's libm
log10 (float64, peak_dbm) and log10f (float32, the noise term of excess_db), NumPy its own SIMD
ones on this CPU, which differ in the last bits: peak_dbm within 2 ulp, excess_db within one
float32 step of a noise level (|10 log10| < 300 dB)."""
import numpy as np
import pytest

from straja import _track_features
from straja.detect import tracks
from straja.detect.pipeline import Pipeline
from straja.detect.tracks import FEATURES, TRACK

FLOAT32_STEP_DB = float(np.spacing(np.float32(300.0)))


def random_tracks(rng, n: int) -> np.ndarray:
    snap = np.zeros(n, TRACK)
    for name in TRACK.names:
        if TRACK[name].kind == "i":
            snap[name] = rng.integers(0, 50, n)
        else:
            snap[name] = rng.exponential(1000.0, snap[name].shape)
    snap["n_bursts"] = rng.integers(0, 5, n)          # 0 and 1 burst: no gaps
    snap["t_last_end_us"] = snap["t_first_us"] + rng.integers(0, 10**6, n)  # age 0 too
    snap["peak_mw"][::4] = 0.0
    snap["ivl_sq_us2"][::3] = 0.0                     # negative variance, clipped at 0
    snap["f_min_khz"] = rng.uniform(5.6e6, 5.95e6, n)
    snap["f_max_khz"] = snap["f_min_khz"] + rng.uniform(0, 50_000, n)
    snap["f_max_khz"][::5] = 1e30                     # a centre beyond every channel
    # second extremes, the second-lowest above the highest at times (NaN), +-inf under two
    snap["f_min2_khz"] = snap["f_min_khz"] + rng.uniform(0, 60_000, n)
    snap["f_max2_khz"] = snap["f_max_khz"] - rng.uniform(0, 50_000, n)
    snap["f_min2_khz"][1::6], snap["f_max2_khz"][1::6] = np.inf, -np.inf
    snap["f_last_khz"] = snap["f_min_khz"] + rng.uniform(0, 50_000, n)  # its last burst's
    # phasor sums of up to n_bursts unit phasors, either sign (none: 0, Z 0 / 0)
    for name in ("clock_cos", "clock_sin"):
        snap[name] = rng.uniform(-1, 1, snap[name].shape) * snap["n_bursts"][:, None]
    return snap


def reference(snap, noise, start_khz, step_khz):
    with np.errstate(all="ignore"):
        return tracks.with_excess(tracks.features(snap), snap, noise, start_khz, step_khz)


def assert_equal(got, want):
    for name in FEATURES.names:
        if name == "peak_dbm":
            finite = np.isfinite(want[name])
            assert np.array_equal(got[name][~finite], want[name][~finite], equal_nan=True)
            np.testing.assert_array_max_ulp(got[name][finite], want[name][finite], maxulp=2)
        elif name == "excess_db":
            assert np.array_equal(np.isfinite(got[name]), np.isfinite(want[name]))
            finite = np.isfinite(want[name])
            np.testing.assert_allclose(got[name][finite], want[name][finite], rtol=0,
                                       atol=FLOAT32_STEP_DB)
            assert np.array_equal(got[name][~finite], want[name][~finite], equal_nan=True)
        else:
            assert np.array_equal(got[name], want[name], equal_nan=True), name


@pytest.mark.parametrize("step_khz", [0.0, 500.0, 4761.0])
def test_random_tracks_equal_the_numpy_definition(step_khz):
    rng = np.random.default_rng(int(step_khz))
    for n in [0, 1, 2, 7, 130]:
        snap = random_tracks(rng, n)
        noise = rng.exponential(1e-9, 64).astype(np.float32)
        noise[::9] = 0.0  # excess over no noise: inf
        got = _track_features.features(snap, np.empty(n, FEATURES), noise, 5.6e6, step_khz)
        assert_equal(got, reference(snap, noise, 5.6e6, step_khz))


def test_a_pipelines_tracks_equal_the_numpy_definition():
    """The tracks a detection core made (a steady emitter and a hopper over noise), classified as
    the pipeline does, against the definition on its last noise row."""
    rng = np.random.default_rng(5)
    n_bins = 64
    pipe = Pipeline(n_bins, 2_400_000, 1_000)
    for s in range(200):
        codes = (rng.exponential(1.0, (1, n_bins)) * 4 + 40).astype(np.uint8)
        codes[0, 10] = 120                       # steady
        codes[0, (s * 7) % n_bins] = 110         # hopping
        pipe.process(codes, np.array([s * 100_000], np.int64), np.array([50_000], np.int64))
    snap = pipe.tracker.snapshot()
    assert snap.size
    feats, _ = pipe.tracks()
    assert_equal(feats, reference(snap, pipe._noise_now, 2_400_000, 1_000))


def test_bad_input_is_a_clear_error():
    snap = np.zeros(2, TRACK)
    noise = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="2 rows"):
        _track_features.features(snap, np.empty(3, FEATURES), noise, 0.0, 1.0)
    with pytest.raises(TypeError, match="record array"):
        _track_features.features([1, 2], np.empty(2, FEATURES), noise, 0.0, 1.0)
    with pytest.raises(TypeError, match="float32"):
        _track_features.features(snap, np.empty(2, FEATURES), noise.astype(np.float64), 0.0, 1.0)
    with pytest.raises(TypeError, match="field 'level_db'"):
        _track_features.features(snap[[n for n in TRACK.names if n != "level_db"]].copy(),
                                 np.empty(2, FEATURES), noise, 0.0, 1.0)
    more = np.dtype(FEATURES.descr + [("new_feature", "<f8")])
    with pytest.raises(TypeError, match="exactly the fields"):
        _track_features.features(snap, np.empty(2, more), noise, 0.0, 1.0)
