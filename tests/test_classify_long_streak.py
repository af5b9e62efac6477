"""A channel hot LONG_STREAK_SWEEPS sweeps running at a steady level is video even in a track cut
from a wider run whose centres moved (video beside a busy access point, merged with its frames in
some sweeps: ocusync_40_beside_80mhz_ap). Not so: an access point's piece hot as long but
swinging, a shorter streak, a weak one, a track whose own readings swing, or one rarely cut
(classify._steady, docs/detection.md)."""
import numpy as np
import pytest

from straja.detect.classify import LONG_STREAK_SWEEPS, Scan, classify_one
from straja.detect.tracks import FEATURES

SCAN = Scan(step_khz=20_000.0, period_us=410_000.0, sweep_us=400_000.0)


def merged_track(streak, streak_sd_db, excess_db=9.0, level_sd_db=0.8, cut_share=0.5):
    """40 MHz at 5835 MHz read at a 20 MHz step beside an 80 MHz access point: its track took
    runs merged with the access point's frames (centres over 50 MHz, missed sweeps, a piece cut
    from a wider run half the time)."""
    f = np.zeros((), FEATURES)
    f["n_bursts"], f["n_channels"] = 40, 6
    f["centre_khz"], f["bandwidth_khz"], f["spread_khz"] = 5_830_000.0, 45_000.0, 50_000.0
    f["dwell_us"], f["interval_us"], f["duty"] = 40_000.0, 460_000.0, 0.4
    f["level_sd_db"], f["excess_db"], f["centre_db"] = level_sd_db, excess_db, 0.4
    f["busy_before"], f["cut_share"] = 0.16, cut_share
    f["streak"], f["streak_sd_db"] = float(streak), streak_sd_db
    return f


def test_a_long_steady_streak_is_video_though_cut_and_moved():
    family, _, reason = classify_one(merged_track(LONG_STREAK_SWEEPS, 0.6), SCAN)
    assert family == "ofdm_video", reason


@pytest.mark.parametrize("kw", [
    dict(streak=LONG_STREAK_SWEEPS - 1, streak_sd_db=0.6),  # an access point's piece, a while
    dict(streak=2 * LONG_STREAK_SWEEPS, streak_sd_db=3.0),  # ...for long, swinging
    dict(streak=2 * LONG_STREAK_SWEEPS, streak_sd_db=0.6, excess_db=3.0),  # weak: unseen swings
    # an access point's track centred on the video's channel: the streak is the video's, the
    # track's own readings swing (tests/test_detect_pipeline.py, 3.7 dB)
    dict(streak=2 * LONG_STREAK_SWEEPS, streak_sd_db=0.6, level_sd_db=3.7),
    # rarely cut from a wider run: two steady cameras a step apart joined in one track
    # (analog_camera_fixed_background, 0.06)
    dict(streak=2 * LONG_STREAK_SWEEPS, streak_sd_db=0.6, cut_share=0.06)])
def test_a_short_swinging_weak_or_uncut_streak_leaves_a_moved_track_wifi(kw):
    family, _, reason = classify_one(merged_track(**kw), SCAN)
    assert family == "wifi", reason
