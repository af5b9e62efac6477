"""classify() reads each track's features as Python numbers (a dict), classify_one() as given: a
FEATURES record reads NumPy scalars. Both must name every track alike, reasons included, also
for the features a hostile node's stream can make (zero or negative intervals, NaN, infinities,
huge levels), where NumPy divides to inf or NaN and Python would raise."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from straja.detect import classify as classify_module
from straja.detect.classify import NO_STRADDLE, STRADDLE, Scan, classify, classify_one
from straja.detect.tracks import FEATURES

SPECIAL = (0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e300, 5e3)
CENTRES = (433_000.0, 868_000.0, 2_402_000.0, 2_426_000.0, 2_440_000.0, 2_480_000.0,
           5_658_000.0, 5_745_000.0, 5_800_000.0, 5_917_000.0, 1_500_000.0)


def number(lo: float, hi: float):
    return st.one_of(st.sampled_from(SPECIAL), st.floats(lo, hi))


@st.composite
def track(draw):
    f = {name: draw(number(-10.0, 1e6)) for name in FEATURES.names[4:]}
    f["centre_khz"] = draw(st.one_of(st.sampled_from(CENTRES), st.floats(0.0, 6e6)))
    f["bandwidth_khz"] = draw(st.one_of(st.sampled_from((500.0, 6_000.0, 20_000.0, 45_000.0)),
                                        number(0.0, 9e4)))
    f["spread_khz"] = draw(number(0.0, 9e4))
    f["interval_us"] = draw(st.one_of(st.sampled_from((0.0, -0.0, -2e3)), number(0.0, 2e6)))
    for name in ("excess_db", "level_sd_db", "streak_sd_db", "centre_db"):
        f[name] = draw(st.one_of(st.sampled_from((np.nan, np.inf, 4e3, -4e3)), st.floats(-5, 40)))
    for name in ("duty", "hop_fraction", "busy_before", "cut_share", "interval_cv"):
        f[name] = draw(st.one_of(st.just(np.nan), st.floats(0.0, 1.2)))
    f["n_bursts"] = draw(st.integers(1, 400))
    f["n_channels"] = draw(st.integers(0, 90))
    f["streak"] = float(draw(st.integers(0, 40)))
    return f


@settings(max_examples=60, deadline=None)
@given(st.lists(track(), min_size=1, max_size=4),
       st.builds(Scan, st.sampled_from((0.0, 500.0, 4_762.0, 20_000.0)),
                 st.sampled_from((0.0, 1_000.0, 51_000.0, 410_000.0)),
                 st.sampled_from((0.0, 900.0, 40_000.0)), st.booleans()),
       st.lists(st.tuples(number(5.6e6, 5.95e6), number(-6.0, 0.0)), min_size=4, max_size=4))
def test_python_numbers_name_tracks_as_numpy_records_do(tracks, scan, straddles):
    feats = np.zeros(len(tracks), FEATURES)
    for i, f in enumerate(tracks):
        feats[i]["track_id"] = i
        for name, value in f.items():
            feats[i][name] = value
    straddle = np.array(straddles[:len(tracks)], STRADDLE)
    with np.errstate(all="ignore"):
        got = classify(feats, scan, straddle)
        want = [classify_one(f, scan, s) for f, s in zip(feats, straddle)]
        assert classify(feats, scan)["family"].tolist() == [
            classify_one(f, scan, NO_STRADDLE)[0] for f in feats]
    assert got["track_id"].tolist() == list(range(len(tracks)))
    assert got["family"].tolist() == [w[0] for w in want]
    assert got["confidence"].tolist() == [w[1] for w in want]
    assert got["reason"].tolist() == [w[2][:120] for w in want]


def test_no_tracks_give_no_classes():
    assert classify(np.zeros(0, FEATURES), Scan(4_762.0, 51_000.0, 40_000.0)).size == 0


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.sampled_from((np.nan, np.inf, -np.inf, 5_658_000.0, 5_800_000.5)),
                 st.floats(-1e7, 1e7)))
def test_distance_to_a_plan_is_the_arrays_one(centre_khz):
    for plan_mhz, plan_khz in ((classify_module.ANALOG_PLAN_MHZ,
                                classify_module.ANALOG_PLAN_CHANNELS_KHZ),
                               (classify_module.WIFI_5G_MHZ, classify_module.WIFI_5G_CHANNELS_KHZ)):
        want = float(np.min(np.abs(plan_mhz * 1000.0 - centre_khz)))
        np.testing.assert_array_equal(classify_module._off(plan_khz, centre_khz), want)
