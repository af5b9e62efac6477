"""CFAR detection over linear power: design from a false-alarm probability, and the kernels.

Theory (Richards, Fundamentals of Radar Signal Processing, 6.5.3 and 6.5.6): square-law detector,
exponential noise of unknown mean, N training cells. With the threshold alpha times

- CA, the mean of the N cells:       Pfa = (1 + alpha/N)^-N
- GO/SO, the larger/smaller of the means of the two halves (n = N/2 cells each), b = alpha/n:
  SO: Pfa = 2 sum_{j=0}^{n-1} C(n-1+j, j) (2+b)^-(n+j);   GO: Pfa = 2 (1+b)^-n - Pfa_SO
  (the two add up to 2 E[exp(-b S)] with S ~ Gamma(n, 1): each half's own CA law)
- OS, the k-th smallest of the N:    Pfa = prod_{i=0}^{k-1} (N-i) / (N-i+alpha)

Every Pfa(alpha) is E[exp(-alpha Z)] for a noise statistic Z, so a Swerling-1 target of mean
SNR s (an exponential cell of mean 1+s) has Pd = Pfa(alpha / (1+s)).

Multi-look readings: a node's RSSI is a power averaged over L ~ bw x window samples, so its
noise is Gamma(L, 1/L), not exponential. For CA the ratio of the cell to the mean of N training
cells is then F(2L, 2NL)-distributed: Pfa = P(F > alpha) = I_{N/(N+alpha)}(NL, L) (straja.detect.
stats), which is (1 + alpha/N)^-N at L = 1. GO, SO and OS keep their single-look designs: a
design with looks > 1 must be CA. Readings quantised to `code_db` steps: the rounding error's
variance is added to the looks' (stats.effective_looks), and alpha is never below one code step
(10^(code_db/10)): noise much narrower than a step occupies at most two adjacent codes, so no
cell exceeds the training mean by a full step (the bound needs no dithering).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import comb, exp, log

import numpy as np

from straja import _cfar
from straja.detect._arrays import check_array, check_power, out_buffer
from straja.detect.stats import bisect_decreasing, effective_looks, f_survival, gammaincc

KINDS = ("ca", "go", "so", "os")


def pfa_ca(alpha: float, n: int, looks: float = 1.0) -> float:
    """CA-CFAR over n training cells of `looks`-look readings: P(F(2L, 2nL) > alpha)."""
    if looks == 1.0:
        return (1.0 + alpha / n) ** -n
    return f_survival(alpha, 2.0 * looks, 2.0 * n * looks)


def pfa_so(alpha: float, n: int) -> float:
    """SO-CFAR with n = N/2 cells per half, threshold alpha x min(half means)."""
    half = n // 2
    b = alpha / half
    return 2.0 * sum(comb(half - 1 + j, j) * (2.0 + b) ** -(half + j) for j in range(half))


def pfa_go(alpha: float, n: int) -> float:
    half = n // 2
    return 2.0 * (1.0 + alpha / half) ** -half - pfa_so(alpha, n)


def pfa_os(alpha: float, n: int, k: int) -> float:
    return exp(sum(log(n - i) - log(n - i + alpha) for i in range(k)))


def pfa(kind: str, alpha: float, n: int, k: int | None = None) -> float:
    """Design false-alarm probability of `kind` with N = n training cells and factor alpha."""
    if kind == "ca":
        return pfa_ca(alpha, n)
    if kind == "go":
        return pfa_go(alpha, n)
    if kind == "so":
        return pfa_so(alpha, n)
    if kind == "os":
        return pfa_os(alpha, n, k if k is not None else default_k(n))
    raise ValueError(f"unknown CFAR kind {kind!r}; one of {KINDS}")


def pd_swerling1(kind: str, snr: float, alpha: float, n: int, k: int | None = None) -> float:
    """Detection probability of a Swerling-1 target of mean SNR `snr` (linear), single-look."""
    return pfa(kind, alpha / (1.0 + snr), n, k)


def default_k(n: int) -> int:
    """OS rank: about 3N/4, Richards' usual choice (robust to up to N/4 interferers)."""
    return max(1, min(n, round(0.75 * n)))


@lru_cache(maxsize=4096)
def alpha_for_pfa(kind: str, target: float, n: int, k: int | None = None,
                  looks: float = 1.0) -> float:
    """Threshold factor giving Pfa = target (Pfa falls monotonically with alpha: bisection).
    Cached: a multi-look bisection is milliseconds of Python, and every node's pipeline of the
    same front-end kind asks for the same factors (a gateway designs them once)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"pfa must be in (0, 1), not {target}")
    if kind in ("go", "so") and (n < 2 or n % 2):
        raise ValueError(f"{kind.upper()}-CFAR needs an even number of training cells, not {n}")
    if looks != 1.0:
        if kind != "ca":
            raise ValueError(f"{kind.upper()}-CFAR is designed for single-look noise only; "
                             f"use CA for looks={looks}")
        return bisect_decreasing(lambda a: pfa_ca(a, n, looks), target, f"CA pfa, N={n}, L={looks}")
    if kind == "ca":  # closed form
        return n * (target ** (-1.0 / n) - 1.0)
    return bisect_decreasing(lambda a: pfa(kind, a, n, k), target, f"{kind} pfa, N={n}, k={k}")


@dataclass(frozen=True)
class CFARDesign:
    """A CFAR set up for one false-alarm probability.

    kind: "ca", "go", "so" or "os". n_train: training cells per side across frequency, or
    training sweeps across time. n_full: training cells of an uncut window (2 n_train across
    frequency, n_train across time). k: OS rank for the uncut window. The tables are indexed by
    the number m of training cells that exist (cut windows at edges / stream start).
    """

    kind: str
    pfa: float
    n_train: int
    n_guard: int
    n_full: int
    k: int
    alpha: float
    scale_ca: np.ndarray
    scale_2: float
    alpha_os: np.ndarray
    k_os: np.ndarray
    axis: str = "freq"
    looks: float = 1.0
    code_db: float = 0.0

    def __post_init__(self):
        # the compiled kernel holds the tables, so a call passes only the sweeps
        if self.axis == "freq":
            object.__setattr__(self, "kernel", _cfar.FreqCFAR(*_args(self)))

    @property
    def kind_code(self) -> int:
        return KINDS.index(self.kind)


@lru_cache(maxsize=256)
def design(kind: str, pfa: float, n_train: int, n_guard: int = 0, k: int | None = None,
           axis: str = "freq", looks: float = 1.0, code_db: float = 0.0) -> CFARDesign:
    """Build the threshold tables for `kind` at false-alarm probability `pfa`.

    Cached: every node's core of the same front-end kind gets the one design, so its tables
    and its compiled kernel's scratch (FreqCFAR) are one block in the cache for all of them,
    not a copy a node that every sweep reads again (perf9, docs/benchmarks.md); the tables are
    read-only.

    axis "freq": n_train and n_guard per side of the cell; "time": n_train earlier sweeps
    after n_guard guard sweeps. k (OS only): rank in the uncut window, default 3N/4.
    looks: independent samples averaged in each reading (1: exponential noise; > 1: CA only).
    code_db: quantisation step of the readings in dB (0: continuous), see the module's notes.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown CFAR kind {kind!r}; one of {KINDS}")
    if axis not in ("freq", "time"):
        raise ValueError(f"axis must be 'freq' or 'time', not {axis!r}")
    if n_train < 1 or n_guard < 0:
        raise ValueError("need n_train >= 1 and n_guard >= 0")
    n_full = 2 * n_train if axis == "freq" else n_train
    k = default_k(n_full) if k is None else int(k)
    if kind == "os" and not 1 <= k <= n_full:
        raise ValueError(f"OS rank k={k} must be in 1..{n_full}")
    if looks < 1.0 or code_db < 0.0:
        raise ValueError(f"need looks >= 1 and code_db >= 0, not {looks}, {code_db}")
    eff = effective_looks(looks, code_db) if looks > 1.0 else 1.0
    a_min = 10 ** (code_db / 10)  # one code step: see the module's notes
    scale_ca = np.full(n_full + 1, np.inf)
    alpha_os = np.full(n_full + 1, np.inf)
    k_os = np.ones(n_full + 1, np.intp)
    for m in range(1, n_full + 1):
        scale_ca[m] = max(a_min, alpha_for_pfa("ca", pfa, m, looks=eff)) / m
        if kind == "os":
            k_os[m] = max(1, min(m, round(k * m / n_full)))
            alpha_os[m] = max(a_min, alpha_for_pfa("os", pfa, m, int(k_os[m]), eff))
    alpha = max(a_min, alpha_for_pfa(kind, pfa, n_full, k, eff))
    scale_2 = alpha / (n_full // 2) if kind in ("go", "so") else 0.0
    for table in (scale_ca, alpha_os, k_os):
        table.flags.writeable = False
    return CFARDesign(kind, pfa, n_train, n_guard, n_full, k, alpha, scale_ca, scale_2,
                      alpha_os, k_os, axis, looks, code_db)


def _args(d: CFARDesign):
    return (d.kind_code, d.n_train, d.n_guard, d.scale_ca, d.scale_2, d.alpha_os, d.k_os)


def _buffers(power, out, threshold):
    """(power, out, threshold) checked; out (uint8) made when None; threshold stays optional."""
    power = check_power(power)
    out = out_buffer(out, power.shape, np.uint8)
    if threshold is not None:
        threshold = out_buffer(threshold, power.shape, np.float32, "threshold")
    return power, out, threshold


def cfar_freq(power, d: CFARDesign, out=None, threshold=None) -> np.ndarray:
    """Detections (uint8 0/1, shape of `power`) of CFAR across frequency on every sweep.

    power: float32 linear power, (n_sweeps, n_bins). `threshold`, if given, a float32 buffer of
    the same shape, receives the threshold of every cell.
    """
    if d.axis != "freq":
        raise ValueError("this design is for CFAR across time (axis='time')")
    power, out, threshold = _buffers(power, out, threshold)
    d.kernel.process(power, out, threshold)
    return out


class TimeCFAR:
    """Streaming CFAR across time for one node's sweeps of n_bins channels (see _cfar.TimeCFAR).

    Built from a design with axis="time"; keeps the last n_train + n_guard sweeps between calls.
    """

    def __init__(self, n_bins: int, d: CFARDesign):
        if d.axis != "time":
            raise ValueError("this design is for CFAR across frequency (axis='freq')")
        self.design = d
        self._state = _cfar.TimeCFAR(n_bins, *_args(d))

    @property
    def n_bins(self) -> int:
        return self._state.n_bins

    def reset(self) -> None:
        self._state.reset()

    def process(self, power, out=None, threshold=None) -> np.ndarray:
        """Detections (uint8) of each sweep of `power` against the sweeps before it."""
        power, out, threshold = _buffers(power, out, threshold)
        self._state.process(power, out, threshold)
        return out


# --- CFAR across frequency over RSSI codes (straja._cfar.CodeCFAR) ------------------------------
#
# SWEEP readings are 8-bit codes of CODE_DB steps: the kernels work on them directly, integer
# only. OS: the k-th smallest code is the k-th smallest power (the conversion is monotonic), so
# c - c_k > thr with thr = floor(10 log10(alpha_OS) / CODE_DB) decides exactly as OS over mW.
# CA: a log-CFAR, m c - (sum of the m training codes) > thr[m], i.e. the cell against the
# geometric mean of its training cells. Its thr[m] is designed from the exact law of codes:
# L-look noise (Gamma(L, 1/L) power) rounded to CODE_DB steps with the noise level at an offset
# u within a step; Pfa(thr) = sum_c P(c) P(S < m c - thr), S the sum of m codes (convolutions),
# and thr[m] the least with Pfa <= target at the worst of CODE_DB_OFFSETS offsets u.

CODE_DB = 0.5                 # dB per RSSI code step (docs/protocol.md)
MAX_CODE_TRAIN = _cfar.MAX_CODE_TRAIN  # training cells a side (uint16 window sums)
CODE_KINDS = ("ca", "os")
CODE_DB_OFFSETS = 8           # noise levels tried within one code step (the design's worst case)
CODE_SPAN_DB = (-200.0, 30.0)  # noise codes relative to the mean; the rest is lumped at the ends


@dataclass(frozen=True)
class CodeCFARDesign:
    """A code-domain CFAR across frequency: thr[m] and k_os[m] (OS rank) for m training cells."""

    kind: str
    pfa: float
    n_train: int
    n_guard: int
    thr: np.ndarray
    k_os: np.ndarray
    looks: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "kernel", _cfar.CodeCFAR(
            KINDS.index(self.kind), self.n_train, self.n_guard, self.thr, self.k_os))


def _code_pmf(looks: float, offset: float) -> np.ndarray:
    """P(code = j) for j over CODE_SPAN_DB, relative to the noise mean's code, for L-look noise
    whose mean lies `offset` (0..1) of a step above a code boundary."""
    j = np.arange(round(CODE_SPAN_DB[0] / CODE_DB), round(CODE_SPAN_DB[1] / CODE_DB) + 2)
    edges = 10.0 ** ((j - offset) * CODE_DB / 10.0)
    cdf = np.array([1.0 - gammaincc(looks, looks * e) for e in edges])
    cdf[0], cdf[-1] = 0.0, 1.0
    return np.diff(cdf)


def _log_ca_thresholds(pfa: float, n_full: int, looks: float) -> np.ndarray:
    """thr[m], m = 0..n_full, of the code-domain CA (see the notes above)."""
    thr = np.zeros(n_full + 1, np.intc)
    pmfs = [_code_pmf(looks, u / CODE_DB_OFFSETS) for u in range(CODE_DB_OFFSETS)]
    width = pmfs[0].size
    sums = list(pmfs)  # P(S = s) of m codes, s counted from m x the lowest code
    for m in range(1, n_full + 1):
        if m > 1:
            sums = [np.convolve(s, p) for s, p in zip(sums, pmfs)]
        cdfs = [np.cumsum(s) for s in sums]
        scaled = m * np.arange(width)  # m c - S, both from the span's lowest code

        def worst_pfa(k: int) -> float:
            # P(S <= m c - k - 1) for each cell code c, each offset
            idx = scaled - k - 1
            ok = idx >= 0
            return max(float(np.dot(p[ok], c[np.minimum(idx[ok], c.size - 1)]))
                       for p, c in zip(pmfs, cdfs))

        lo, hi = -1, m * width  # worst_pfa(hi) = 0 <= pfa < worst_pfa(-1) = 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if worst_pfa(mid) <= pfa else (mid, hi)
        thr[m] = hi
    return thr


def design_codes(kind: str, pfa: float, n_train: int, n_guard: int = 0, k: int | None = None,
                 looks: float = 1.0) -> CodeCFARDesign:
    """A code-domain CFAR across frequency at false-alarm probability `pfa`.

    kind "ca" (log-CA, designed for `looks`-look noise) or "os" (rank k of 2 n_train,
    default 3N/4, single-look as `design`); n_train and n_guard per side.
    """
    if kind not in CODE_KINDS:
        raise ValueError(f"code-domain CFAR kind must be one of {CODE_KINDS}, not {kind!r}")
    if not 0.0 < pfa < 1.0:
        raise ValueError(f"pfa must be in (0, 1), not {pfa}")
    if not 1 <= n_train <= MAX_CODE_TRAIN or n_guard < 0:
        raise ValueError(f"need 1 <= n_train <= {MAX_CODE_TRAIN} and n_guard >= 0")
    if looks < 1.0:
        raise ValueError(f"need looks >= 1, not {looks}")
    if kind == "ca":
        thr = _log_ca_thresholds(pfa, 2 * n_train, looks)
        k_os = np.ones(2 * n_train + 1, np.intp)
    else:
        if looks != 1.0:
            raise ValueError("OS-CFAR is designed for single-look noise only")
        lin = design("os", pfa, n_train, n_guard, k, code_db=CODE_DB)
        thr = np.zeros(2 * n_train + 1, np.intc)
        thr[1:] = np.floor(10.0 * np.log10(lin.alpha_os[1:]) / CODE_DB)
        k_os = lin.k_os
    return CodeCFARDesign(kind, pfa, n_train, n_guard, thr, k_os, looks)


def cfar_codes(codes, d: CodeCFARDesign, out=None) -> np.ndarray:
    """Detections (uint8 0/1) of a code-domain CFAR across frequency on every sweep of `codes`
    (uint8 RSSI codes, (n_sweeps, n_bins))."""
    codes = check_array(codes, "codes", np.uint8, 2)
    out = out_buffer(out, codes.shape, np.uint8)
    d.kernel.process(codes, out)
    return out
