"""Bursts from detection masks and pulses from envelope blocks (compiled: straja._detect_bursts).

A burst is a connected set of detected cells in the time-frequency plane of one node's sweeps:
start and end (sweep resolution: the start of its first sweep, the end of its last), lowest and
highest bin, centre frequency and bandwidth (from the bin extent), peak and mean power.
"""
from __future__ import annotations

import numpy as np

from straja import _detect_bursts
from straja.detect._arrays import check_array, copy_records

BURST = _detect_bursts.BURST_DTYPE
PULSE = _detect_bursts.PULSE_DTYPE


def _drain(step, buf: np.ndarray) -> np.ndarray:
    """Call step(buf) -> (written, finished) until finished; the records written, copied."""
    written, finished = step(buf)
    if finished:  # the usual case: one call
        return buf[:written].copy()
    parts = [buf[:written].copy()]
    while not finished:
        written, finished = step(buf)
        parts.append(buf[:written].copy())
    return np.concatenate(parts)


class BurstExtractor:
    """Streaming bursts for one node's sweep plan (channel 0 at start_khz, step_khz apart)."""

    def __init__(self, n_bins: int, start_khz: float, step_khz: float, max_gap_bins: int = 1,
                 max_gap_sweeps: int = 0, max_sweeps: int = 0):
        self._kernel = _detect_bursts.BurstExtractor(n_bins, start_khz, step_khz, max_gap_bins,
                                                     max_gap_sweeps, max_sweeps)
        self._buf = np.empty(n_bins * (max_gap_sweeps + 2) + 64, BURST)
        self._none = self._buf[:0].copy()

    @property
    def n_bins(self) -> int:
        return self._kernel.n_bins

    @property
    def n_open(self) -> int:
        return self._kernel.n_open_bursts

    def process(self, det, power, t_us, duration_us, cut=None) -> np.ndarray:
        """Bursts closed by these sweeps (structured array, dtype BURST).

        det: uint8 (n_sweeps, n_bins) from a CFAR; power: float32 linear power of the same
        shape; t_us, duration_us: int64 per sweep (SWEEP header t_us and duration_us); cut:
        None or uint8 like det, nonzero where a detected bin starts a run of its own even next
        to other detected bins (runs of one sweep joining an open burst still merge in it).
        """
        # the kernel checks the arguments (in C: this runs on every call of a live stream)
        written, used = self._kernel.process(det, power, t_us, duration_us, self._buf, cut)
        if used == det.shape[0]:  # the usual case: all in one call
            return copy_records(self._buf[:written]) if written else self._none
        pos = [used]
        first = self._buf[:written].copy()

        def step(buf):
            p = pos[0]
            written, used = self._kernel.process(det[p:], power[p:], t_us[p:], duration_us[p:], buf,
                                                 None if cut is None else cut[p:])
            pos[0] += used
            return written, pos[0] == det.shape[0]

        return np.concatenate([first, _drain(step, self._buf)])

    def flush(self) -> np.ndarray:
        """Close every open burst (end of stream, retune)."""
        return self._buf[: self._kernel.flush(self._buf)].copy()


class PulseExtractor:
    """Pulses (start, width, repetition interval, peak and mean power) in envelope blocks.

    on_db / off_db: hysteresis thresholds over the tracked floor (median of the samples outside
    pulses, followed at rate nepers per sample).
    """

    def __init__(self, on_db: float = 10.0, off_db: float = 7.0, rate: float = 0.01,
                 quantile: float = 0.5):
        self._kernel = _detect_bursts.PulseExtractor(
            10 ** (on_db / 10), 10 ** (off_db / 10), np.exp(rate * quantile),
            np.exp(-rate * (1 - quantile)))
        self._buf = np.empty(256, PULSE)

    @property
    def floor_mw(self) -> float:
        return self._kernel.floor

    def process(self, samples_mw, t0_us: float, rate_hz: float) -> np.ndarray:
        """Pulses ended in this block (float32 mW samples; sample 0 taken at t0_us)."""
        x = check_array(samples_mw, "samples_mw", np.float32, 1)
        pos = [0]

        def step(buf):
            written, used = self._kernel.process(x[pos[0]:], t0_us + pos[0] * 1e6 / rate_hz,
                                                 rate_hz, buf)
            pos[0] += used
            return written, pos[0] == x.size

        return _drain(step, self._buf)
