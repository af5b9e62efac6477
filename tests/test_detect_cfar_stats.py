"""Statistical proof of the CFAR kernels: measured Pfa and Pd against Richards' formulas.

Tolerance: a count of n Bernoulli(p) trials has standard deviation sqrt(n p (1-p)); we accept
|measured - design| <= Z binomial standard deviations, Z = 4.5 (two-sided p ~ 7e-6 per check, so
the ~30 checks here fail by chance about once in 5000 runs). Neighbouring cells share training
cells, which inflates the variance a little; 4.5 rather than 3.3 (the 99.9 % interval) covers it.
Every draw is seeded. The cells include the sweep edges and the stream start, whose cut windows
use their own alpha, so they must hold the design Pfa too.
"""
import numpy as np
import pytest

from straja.detect import cfar

Z = 4.5
PFA = 1e-3


def binomial_tolerance(n: int, p: float) -> float:
    return Z * np.sqrt(n * p * (1 - p))


def assert_rate(hits: int, n: int, p: float, rel_max: float):
    tol = binomial_tolerance(n, p)
    assert tol / (n * p) <= rel_max, "not enough cells for the stated precision"
    assert abs(hits - n * p) <= tol, f"measured {hits / n:.4g}, design {p:.4g} (+-{tol / n:.2g})"


def run(kind: str, axis: str, power: np.ndarray, n_train: int, n_guard: int) -> np.ndarray:
    d = cfar.design(kind, PFA, n_train, n_guard, axis=axis)
    if axis == "freq":
        return cfar.cfar_freq(power, d)
    return cfar.TimeCFAR(power.shape[1], d).process(power)


@pytest.mark.parametrize("axis", ["freq", "time"])
@pytest.mark.parametrize("kind", cfar.KINDS)
def test_false_alarm_rate_on_exponential_noise(kind, axis):
    """2.6e6 noise cells at Pfa 1e-3: 2600 expected alarms, tolerance 9 % (4.5 sigma)."""
    rng = np.random.default_rng([7, cfar.KINDS.index(kind), axis == "time"])
    noise = rng.standard_exponential((2560, 1024), dtype=np.float32)
    hits = int(run(kind, axis, noise, 8, 2).sum())
    assert_rate(hits, noise.size, PFA, rel_max=0.10)


SNRS_DB = (5.0, 13.0, 20.0)


@pytest.mark.parametrize("kind", cfar.KINDS)
def test_swerling1_detection_follows_textbook_curve(kind):
    """Targets every 32 bins (clear of each other's windows); Pd = Pfa(alpha / (1 + SNR))."""
    n_train, n_guard, spacing, rows = 8, 2, 32, 2500
    d = cfar.design(kind, PFA, n_train, n_guard)
    rng = np.random.default_rng([11, cfar.KINDS.index(kind)])
    for snr_db in SNRS_DB:
        snr = 10 ** (snr_db / 10)
        power = rng.standard_exponential((rows, 256), dtype=np.float32)
        cols = np.arange(spacing // 2, 256, spacing)
        power[:, cols] = rng.standard_exponential((rows, cols.size)) * (1 + snr)
        hits = int(cfar.cfar_freq(power, d)[:, cols].sum())
        n = rows * cols.size
        p = cfar.pd_swerling1(kind, snr, d.alpha, d.n_full, d.k)
        tol = binomial_tolerance(n, p)
        assert abs(hits - n * p) <= tol, f"{snr_db} dB: Pd {hits / n:.4f}, textbook {p:.4f}"


@pytest.mark.parametrize("kind", cfar.KINDS)
def test_swerling1_detection_across_time(kind):
    """A target in every bin of one sweep in 19 (n_train + n_guard + 1): clean training."""
    n_train, n_guard, snr = 16, 2, 10 ** 1.3
    period = n_train + n_guard + 1
    d = cfar.design(kind, PFA, n_train, n_guard, axis="time")
    rng = np.random.default_rng([13, cfar.KINDS.index(kind)])
    power = rng.standard_exponential((period * 1200, 128), dtype=np.float32)
    rows = np.arange(period, power.shape[0], period)
    power[rows] *= np.float32(1 + snr)
    hits = int(cfar.TimeCFAR(128, d).process(power)[rows].sum())
    n = rows.size * 128
    p = cfar.pd_swerling1(kind, snr, d.alpha, d.n_full, d.k)
    assert abs(hits - n * p) <= binomial_tolerance(n, p), f"Pd {hits / n:.4f}, textbook {p:.4f}"
