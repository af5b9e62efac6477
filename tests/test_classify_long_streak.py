"""A channel hot LONG_STREAK_SWEEPS sweeps running at a steady level is video even in a track cut
from a wider run whose centres moved (video beside a busy access point, merged with its frames in
some sweeps: ocusync_40_beside_80mhz_ap); an access point's piece, hot as long but swinging, or a
shorter streak, or a weak one, is not (classify._steady, docs/detection.md)."""
import numpy as np
import pytest

from straja.detect.classify import LONG_STREAK_SWEEPS, Scan, classify_one
from straja.detect.tracks import FEATURES

SCAN = Scan(step_khz=20_000.0, period_us=410_000.0, sweep_us=400_000.0)


def merged_track(streak, streak_sd_db, excess_db=9.0):
    """40 MHz at 5835 MHz read at a 20 MHz step beside an 80 MHz access point: its track took
    runs merged with the access point's frames (centres over 50 MHz, missed sweeps, a piece cut
    from a wider run half the time)."""
    f = np.zeros((), FEATURES)
    f["n_bursts"], f["n_channels"] = 40, 6
    f["centre_khz"], f["bandwidth_khz"], f["spread_khz"] = 5_830_000.0, 45_000.0, 50_000.0
    f["dwell_us"], f["interval_us"], f["duty"] = 40_000.0, 460_000.0, 0.4
    f["level_sd_db"], f["excess_db"], f["centre_db"] = 0.8, excess_db, 0.4
    f["busy_before"], f["cut_share"] = 0.16, 0.5
    f["streak"], f["streak_sd_db"] = float(streak), streak_sd_db
    return f


def test_a_long_steady_streak_is_video_though_cut_and_moved():
    family, _, reason = classify_one(merged_track(LONG_STREAK_SWEEPS, 0.6), SCAN)
    assert family == "ofdm_video", reason


@pytest.mark.parametrize("streak,streak_sd_db,excess_db", [
    (LONG_STREAK_SWEEPS - 1, 0.6, 9.0),   # an access point's piece hot for a while
    (LONG_STREAK_SWEEPS * 2, 3.0, 9.0),   # ...hot for long, swinging with its traffic
    (LONG_STREAK_SWEEPS * 2, 0.6, 3.0)])  # weak: its swings compressed, not seen
def test_a_short_swinging_or_weak_streak_leaves_a_moved_track_wifi(streak, streak_sd_db,
                                                                   excess_db):
    family, _, reason = classify_one(merged_track(streak, streak_sd_db, excess_db), SCAN)
    assert family == "wifi", reason
