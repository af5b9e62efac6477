"""Hop tracking and the track life cycle (compiled: straja._tracks; rules in its docstring and
docs/detection.md), and the per-track features the classifier reads."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from straja import _tracks
from straja.detect._arrays import copy_records

TRACK = _tracks.TRACK_DTYPE
EVENT = _tracks.EVENT_DTYPE
BURST = _tracks.BURST_DTYPE  # the bursts module's records, taken as they are
STATES = _tracks.STATES  # index = state code; events use -1 for "no track yet"
# a burst on its track's previous channel within this many revisits (sweeps) is a stay
STAY_WITHIN = _tracks.STAY_WITHIN_REVISITS
# packet periods a track's burst times are folded on (its features' clock_z)
CLOCK_PERIODS_S = _tracks.CLOCK_PERIODS_S


@dataclass(frozen=True)
class TrackerConfig:
    """Association and life-cycle settings. Times in microseconds.

    The silence limits must exceed the time a scanner needs to come back to a channel (one sweep
    period, up to ~1.4 s for an RX5808 scanning 40 channels): lost_after_us ~ 3 sweep periods.
    """

    narrow_khz: float = 6_000.0       # at most this wide: a control-link or Bluetooth burst
    hop_span_khz: float = 100_000.0   # a hopper's channels lie within this span (ELRS 2.4: 80 MHz)
    bw_ratio: float = 3.0             # bandwidths of one emitter's bursts agree within this factor
    channel_khz: float = 1_000.0      # channel-set resolution (set it to the sweep step)
    confirm_bursts: int = 3           # bursts for a candidate to become confirmed
    candidate_timeout_us: int = 2_000_000
    lost_after_us: int = 3_000_000
    drop_after_us: int = 15_000_000
    max_tracks: int = 128
    # a wide burst this many dB, or level_step_sds times its track's reading scatter (level_sd_db)
    # if more, stronger or weaker than the track's last reading, with no off period between, is
    # another emitter: a video reading changes by ~1 dB from sweep to sweep (straja.detect.
    # classify); an access point's readings scattering 4-6 dB step 20 dB in under 1 % of sweeps
    level_step_db: float = 10.0
    level_step_sds: float = 4.0
    # the longest a hopping control link stays on one channel: ExpressLRS 900 at 25 Hz (2 packets
    # of 40 ms a hop) and 50 Hz (4 of 20 ms), 80 ms; FrSky R9 and Crossfire hop every packet. A
    # run on one channel lasting longer is a fixed device's long packet (long_stay_fraction), or
    # now and then two hops in a row on one scanner's channel (ELRS EU868, 13 channels in 7 of
    # 1 MHz: 8 % of its repeats, tests/test_detect_long_stays.py)
    link_run_max_us: int = 80_000


class Tracker:
    """Streaming tracker for one node: bursts in, life-cycle events out, tracks on demand."""

    def __init__(self, config: TrackerConfig | None = None):
        self.config = config or TrackerConfig()
        self._kernel = _tracks.Tracker(**asdict(self.config))
        self._events = np.empty(4 * (self.config.max_tracks + 2), EVENT)
        self._none = np.empty(0, BURST)
        self._no_events = np.empty(0, EVENT)  # (most calls with bursts change no state)

    @property
    def n_live(self) -> int:
        return self._kernel.n_live

    @property
    def revisit_us(self) -> float:
        """A scanner's sweep period (start to start), which the pipeline sets as it measures it:
        a burst on its track's previous channel counts as a stay only within STAY_WITHIN of
        them, later it is a hop (docs/detection.md); 0 (the default): a receiver that sees every
        packet, every burst on the previous channel a stay."""
        return self._kernel.revisit_us

    @revisit_us.setter
    def revisit_us(self, value: float) -> None:
        if not value >= 0:
            raise ValueError(f"revisit_us must be >= 0, not {value}")
        self._kernel.revisit_us = float(value)

    @property
    def read_at(self) -> np.ndarray:
        """Share of a sweep (0-1) at which each channel is read, for the bursts' read times the
        packet clock folds (straja._tracks' module doc); empty (the default): a receiver, each
        burst's time its start."""
        return self._kernel.read_at

    @read_at.setter
    def read_at(self, value: np.ndarray) -> None:
        self._kernel.read_at = value

    @property
    def overflow(self) -> int:
        """Bursts dropped because max_tracks tracks were live."""
        return self._kernel.overflow

    def process(self, bursts: np.ndarray, t_now_us: int) -> np.ndarray:
        """Take bursts (BURST records, as straja.detect.bursts makes them), age the tracks to
        t_now_us; returns the life-cycle events (EVENT records)."""
        if not bursts.size:  # the usual call of a live stream: only aging, if anything is due
            if t_now_us <= self._kernel.deadline:
                return self._events[:0]
            written, _ = self._kernel.process(self._none, int(t_now_us), self._events)
            return copy_records(self._events[:written])
        # association runs in start order (bursts close in end order)
        feed = _tracks.in_start_order(bursts)
        parts, pos = [], 0
        while True:
            written, used = self._kernel.process(feed[pos:], int(t_now_us), self._events)
            parts.append(copy_records(self._events[:written]) if written else self._no_events)
            pos += used
            if pos == feed.size:  # the call that used the last burst also aged the tracks
                return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def snapshot(self) -> np.ndarray:
        """Live tracks (TRACK dtype), a copy."""
        return self._kernel.snapshot()


FEATURES = np.dtype([
    ("track_id", "i8"), ("state", "i4"), ("n_bursts", "i4"), ("n_channels", "i4"),
    ("centre_khz", "f8"), ("spread_khz", "f8"), ("trimmed_spread_khz", "f8"),
    ("bandwidth_khz", "f8"), ("dwell_us", "f8"),
    ("interval_us", "f8"), ("interval_cv", "f8"), ("rate_hz", "f8"), ("duty", "f8"),
    ("hop_fraction", "f8"), ("long_stay_fraction", "f8"), ("centre_db", "f8"),
    ("level_sd_db", "f8"), ("peak_dbm", "f8"), ("age_us", "f8"), ("excess_db", "f8"), ("busy_before", "f8"), ("cut_share", "f8"),
    ("streak", "f8"), ("streak_sd_db", "f8"), ("clock_z", "f8")])


def features(tracks: np.ndarray) -> np.ndarray:
    """Derived per-track features (FEATURES dtype); NaN where a track has too few bursts.
    (With with_excess, the definition: the pipeline runs its compiled twin,
    straja._track_features, held equal to it by tests/test_detect_track_features.py.)"""
    f = np.zeros(tracks.size, FEATURES)
    n = tracks["n_bursts"].astype(np.float64)
    gaps = n - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in ("track_id", "state", "n_bursts", "n_channels"):
            f[name] = tracks[name]
        f["centre_khz"] = 0.5 * (tracks["f_min_khz"] + tracks["f_max_khz"])
        f["spread_khz"] = tracks["f_max_khz"] - tracks["f_min_khz"]
        # the span without the extreme centre farther from its neighbour; NaN under two centres
        trimmed = np.minimum(tracks["f_max_khz"] - tracks["f_min2_khz"],
                             tracks["f_max2_khz"] - tracks["f_min_khz"])
        f["trimmed_spread_khz"] = np.where(tracks["f_min2_khz"] <= tracks["f_max_khz"], trimmed, np.nan)
        f["bandwidth_khz"] = tracks["bw_sum_khz"] / n
        f["dwell_us"] = tracks["dwell_sum_us"] / n
        mean_ivl = np.where(gaps > 0, tracks["ivl_sum_us"] / gaps, np.nan)
        var = np.maximum(tracks["ivl_sq_us2"] / gaps - mean_ivl ** 2, 0.0)
        f["interval_us"] = mean_ivl
        f["interval_cv"] = np.sqrt(var) / mean_ivl
        f["rate_hz"] = 1e6 / mean_ivl
        f["age_us"] = tracks["t_last_end_us"] - tracks["t_first_us"]
        f["duty"] = np.minimum(tracks["dwell_sum_us"] / f["age_us"], 1.0)
        f["hop_fraction"] = np.where(gaps > 0, tracks["n_hops"] / gaps, np.nan)
        # stays in runs on one channel longer than a link's (TrackerConfig.link_run_max_us)
        f["long_stay_fraction"] = np.where(gaps > 0, tracks["n_long_stays"] / gaps, np.nan)
        f["centre_db"] = tracks["centre_db_sum"] / n
        # half the mean squared change from burst to burst: the readings' variance, without the
        # slow trend of an approaching emitter
        f["level_sd_db"] = np.sqrt(tracks["level_jump_sq_db2"] / (2 * gaps))
        f["peak_dbm"] = 10 * np.log10(tracks["peak_mw"])
        f["excess_db"] = np.nan  # known to the pipeline: with_excess
        f["busy_before"] = f["cut_share"] = np.nan  # and with_history
        f["streak"] = f["streak_sd_db"] = np.nan
        # the bursts' read times modulo each packet period (straja._tracks' module doc): the
        # Rayleigh statistic Z = n R^2 (R the mean phasor's length) at the most clocked period;
        # times at random give P(Z >= z) = e^-z a period, a link's packets R ~ sinc of its
        # airtime's share of the period (docs/measured/res101.md)
        f["clock_z"] = (tracks["clock_cos"] ** 2 + tracks["clock_sin"] ** 2).max(
            axis=1, initial=0.0) / n if tracks.size else 0.0
    return f


def _channel(khz: np.ndarray, start_khz: float, step_khz: float, n: int) -> np.ndarray:
    return np.clip(np.rint((khz - start_khz) / step_khz).astype(np.int64), 0, n - 1)


def _centre_channel(tracks: np.ndarray, start_khz: float, step_khz: float, n: int) -> np.ndarray:
    return _channel(0.5 * (tracks["f_min_khz"] + tracks["f_max_khz"]), start_khz, step_khz, n)


def with_excess(feats: np.ndarray, tracks: np.ndarray, noise_mw: np.ndarray, start_khz: float,
                step_khz: float) -> np.ndarray:
    """feats with excess_db: each track's last reading (its last burst's peak) over the noise
    mean at its centre channel (`noise_mw` per channel), in dB."""
    if feats.size and step_khz > 0:
        ch = _centre_channel(tracks, start_khz, step_khz, noise_mw.size)
        with np.errstate(divide="ignore", invalid="ignore"):
            feats["excess_db"] = tracks["level_db"] - 10 * np.log10(noise_mw[ch])
    return feats


def with_history(feats: np.ndarray, tracks: np.ndarray, busy_before: np.ndarray,
                 cut_share: np.ndarray, streak: np.ndarray, streak_sd_db: np.ndarray,
                 start_khz: float, step_khz: float) -> np.ndarray:
    """feats with busy_before, the share of sweeps the channel of its last burst (the channel
    it is on now) was hot in before its current streak of hot sweeps began (`busy_before` per
    channel; NaN: not known); streak and streak_sd_db, that streak's length in sweeps and the
    scatter of its readings (per channel: an emitter that came on over a bursty one, video on an
    access point's channel, is told by its streak, not by the track's whole life); not at the
    middle of its span of centres, which one run merged with a neighbour's moves for good, off
    the emitter's channel (dji_20_beside_40mhz_ap_157: 20 MHz video on 5745 MHz, a few runs
    merged with an access point's frames up to 5785 MHz, its streak read at 5765 MHz: 0); and
    cut_share, the largest share of sweeps one of its channels was beside a cut (`cut_share`
    per channel). The definition: the pipeline
    runs its compiled twin, straja._track_features.history, held equal to it by
    tests/test_detect_track_history.py."""
    if feats.size and step_khz > 0:
        n = busy_before.size
        now = _channel(tracks["f_last_khz"], start_khz, step_khz, n)
        feats["busy_before"] = busy_before[now]
        feats["streak"] = streak[now]
        feats["streak_sd_db"] = streak_sd_db[now]
        feats["cut_share"] = range_max(cut_share, *channel_span(tracks, start_khz, step_khz, n))
    return feats


def channel_span(tracks: np.ndarray, start_khz: float, step_khz: float,
                 n: int) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) channel each track's bursts covered, half a mean burst bandwidth beyond its
    extent, clipped to the n channels (first > last: it covered no channel's centre)."""
    half = 0.5 * tracks["bw_sum_khz"] / tracks["n_bursts"]
    lo = np.clip(np.rint((tracks["f_min_khz"] - half - start_khz) / step_khz + 0.5), 0, n - 1)
    hi = np.clip(np.rint((tracks["f_max_khz"] + half - start_khz) / step_khz - 0.5), 0, n - 1)
    return lo.astype(np.intp), hi.astype(np.intp)


def range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """values[lo[i]:hi[i] + 1].max(initial=0.0) for every i (0 <= lo, hi < values.size), in one
    pass over values (`maximum.reduceat`) instead of a Python loop over the ranges; reference:
    detect/reference.range_max."""
    if lo.size == 0:
        return np.zeros(0)
    # reduceat reduces over [idx[k], idx[k + 1]): the even k are the ranges (the odd ones, the
    # gaps between them, are dropped); the 0 appended lets hi + 1 be values.size
    idx = np.empty(2 * lo.size, np.intp)
    idx[0::2], idx[1::2] = lo, hi + 1
    top = np.maximum.reduceat(np.append(values, 0.0), idx)[0::2]
    # an empty range (lo > hi) reduces to values[lo] there: its max is the initial 0
    return np.where(lo <= hi, np.maximum(top, 0.0), 0.0)
