"""Conversions to linear power, and the per-bin noise floor (compiled: straja._detect_noise)."""
from __future__ import annotations

from functools import lru_cache
from math import exp, log

import numpy as np

from straja import _detect_noise
from straja.detect._arrays import check_array, check_power, out_buffer
from straja.detect.stats import bisect_decreasing, effective_looks, gammaincc


def codes_to_mw(codes, out=None) -> np.ndarray:
    """SWEEP RSSI codes (uint8, (n_sweeps, n_bins)) to linear power in mW, float32.

    dBm = code / 2 - 140 (docs/protocol.md); code 255 (saturated) is -12.5 dBm = 0.056 mW.
    """
    codes = check_array(codes, "codes", np.uint8, 2)
    out = out_buffer(out, codes.shape, np.float32)
    _detect_noise.codes_to_mw(codes, out)
    return out


def envelope_to_mw(samples, slope_udb: int, intercept_mdbm: int, out=None) -> np.ndarray:
    """ENVELOPE ADC codes (uint16, 1-D) to mW with the block's calibration (docs/protocol.md)."""
    samples = check_array(samples, "samples", np.uint16, 1)
    out = out_buffer(out, samples.shape, np.float32)
    _detect_noise.envelope_to_mw(samples, int(slope_udb), int(intercept_mdbm), out)
    return out


def mw_to_dbm(power) -> np.ndarray:
    """Linear mW to dBm (for display; the detectors stay linear)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(power)


@lru_cache(maxsize=1024)
def gamma_excess(p: float, looks: float) -> float:
    """a with P(X > a) = p for X ~ Gamma(L, 1/L), the reading of L looks of noise of mean 1
    (L = 1: exponential, a = -ln p). Cached as cfar.alpha_for_pfa: a bisection in Python."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), not {p}")
    if looks == 1.0:
        return -log(p)
    return bisect_decreasing(lambda a: gammaincc(looks, looks * a), p, f"Gamma({looks}) tail")


def floor_alpha(pfa: float, looks: float = 1.0, code_db: float = 0.0) -> float:
    """The floor detector's factor: power > alpha x noise mean has probability pfa for readings
    of `looks` looks quantised to code_db steps (as cfar.design: effective looks, and never
    below one code step)."""
    eff = effective_looks(looks, code_db) if looks > 1.0 else 1.0
    return max(10 ** (code_db / 10), gamma_excess(pfa, eff))


def floor_constants(quantile: float, rate: float, burst_db: float, max_excess_db: float,
                    looks: float = 1.0):
    """(up, down, burst_ratio, max_excess, to_mean) of the kernel for these settings; to_mean
    turns the tracked quantile into the mean of Gamma(looks) noise."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), not {quantile}")
    return (exp(rate * quantile), exp(-rate * (1.0 - quantile)), 10 ** (burst_db / 10),
            10 ** (max_excess_db / 10), 1.0 / gamma_excess(1.0 - quantile, looks))


class NoiseFloor:
    """Streaming noise floor per bin for one node's sweeps (see straja._detect_noise.NoiseFloor).

    quantile: the quantile tracked (median by default: half the readings of a noise-only bin are
    above it, whatever the bursts do to the mean). rate: log-step size per sweep; the floor can
    follow a drift of up to rate * quantile nepers per sweep (0.05 * 0.5 = 0.11 dB per sweep).
    burst_db: readings this far above the floor are bursts, ignored. max_excess_db: cap of a bin's
    floor over the band's floor (median over bins), so an emitter on air at start-up, or one that
    stays on, is never learnt as noise. The output is the noise mean: for exponential (square-law)
    noise, mean = quantile value / -ln(1 - q); for readings of `looks` looks, Gamma(L, 1/L)
    noise, the quantile is the Gamma law's.
    """

    def __init__(self, n_bins: int, quantile: float = 0.5, rate: float = 0.05,
                 burst_db: float = 10.0, max_excess_db: float = 6.0, looks: float = 1.0):
        self.params = dict(quantile=quantile, rate=rate, burst_db=burst_db,
                           max_excess_db=max_excess_db, looks=looks)
        self._state = _detect_noise.NoiseFloor(n_bins, *floor_constants(**self.params))
        self.n_detected = -1  # detected cells in det after the last call with det (-1: none)

    @property
    def n_bins(self) -> int:
        return self._state.n_bins

    def process(self, power, out=None, det=None, pfa: float | None = None) -> np.ndarray:
        """Noise mean (mW, float32) per sweep and bin, after taking in that sweep.

        With det (uint8, shape of power) and pfa, also sets det = 1 where power exceeds
        floor_alpha(pfa, looks) times the noise mean: for exponential noise of known mean,
        P(x > a mean) = exp(-a), so that is the floor detector's false-alarm probability
        (code steps are not known here: Pipeline passes its quantised design itself).
        """
        power = check_power(power)
        out = out_buffer(out, power.shape, np.float32)
        if det is None:
            self._state.process(power, out)
        else:
            det = out_buffer(det, power.shape, np.uint8, "det")
            if pfa is None or not 0 < pfa < 1:
                raise ValueError(f"a floor detector needs 0 < pfa < 1, not {pfa}")
            self.n_detected = self._state.process(power, out, det,
                                                   floor_alpha(pfa, self.params["looks"]))
        return out
