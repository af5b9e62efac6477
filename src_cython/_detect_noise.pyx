# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Input conversion (RSSI codes and detector envelopes to linear power) and the noise floor.

Every detection kernel works on linear power in mW (square-law, as the CFAR formulas assume).
"""
import numpy as np
from libc.math cimport INFINITY, NAN, exp, log

include "_detect_common.pxi"

cdef double LN10_10 = log(10.0) / 10.0
cdef enum:
    CAP_SWEEPS = 16  # sweeps between two band-floor medians (a median costs more than the update)
CAP_EVERY = CAP_SWEEPS


cdef float CODE_MW[256]
fill_code_mw(CODE_MW)


def codes_to_mw(codes, out):
    """RSSI codes (protocol SWEEP: dBm = code / 2 - 140) to linear power in mW, by table.
    codes: uint8 (n_sweeps, n_bins); out: float32 of the same shape."""
    cdef const unsigned char* c = <const unsigned char*>array_data(codes, cnp.NPY_UINT8, 2, -1, "codes")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>codes)
    cdef float* o = <float*>array_data(out, cnp.NPY_FLOAT32, 2, cnp.PyArray_DIM(<cnp.ndarray>codes, 1), "out")
    if rows(out) != rows(codes):
        raise ValueError("out must have the shape of codes")
    with nogil:
        codes_mw(c, o, n)


cdef void codes_mw(const unsigned char* codes, float* out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = CODE_MW[codes[i]]


def envelope_to_mw(const unsigned short[::1] samples, long slope_udb, long intercept_mdbm,
                   float[::1] out):
    """ENVELOPE samples to mW: dBm = intercept_mdbm / 1000 + code * slope_udb / 1e6."""
    if samples.shape[0] != out.shape[0]:
        raise ValueError("out must have the length of samples")
    cdef Py_ssize_t i
    cdef double a = intercept_mdbm * 1e-3, k = slope_udb * 1e-6
    with nogil:
        for i in range(samples.shape[0]):
            out[i] = <float>exp(LN10_10 * (a + samples[i] * k))


cdef class NoiseFloor:
    """Per-bin noise floor that follows slow drift, ignores bursts and cannot absorb an emitter
    that is on air from the start (see docs/detection.md, "Noise floor").

    Each bin's estimate f tracks the q-quantile of its readings by multiplicative steps
    (f *= up if x > f, f *= down otherwise; steady when P(x > f) = 1 - q). Readings above
    f * burst_ratio are bursts and leave f alone; NaN readings are skipped. f starts at the
    band's median reading and never exceeds max_excess times the band floor (the median of all
    bins' f, refreshed every CAP_EVERY sweeps), so a channel busy since start-up keeps the
    band's floor.
    """
    # (its attributes are declared in straja/_detect_noise.pxd, cimported by straja._detect_sweep)

    def __init__(self, Py_ssize_t n_bins, double up, double down, double burst_ratio,
                 double max_excess, double to_mean):
        if n_bins < 1:
            raise ValueError("need n_bins >= 1")
        self.n_bins = n_bins
        self.up, self.down, self.burst_ratio = up, down, burst_ratio
        self.max_excess, self.to_mean = max_excess, to_mean
        block = np.zeros(2 * n_bins)  # one block: the estimates, then the medians' scratch
        self.f, self.scratch = block[:n_bins], block[n_bins:]
        self.seen = 0

    @property
    def quantile(self):
        """Current per-bin quantile estimates (a copy)."""
        return np.array(self.f)

    def process(self, power, mean_out, det=None, double alpha=0.0):
        """Update with each sweep of `power` (float32, (n_sweeps, n_bins)); mean_out[s]
        (float32, same shape) = noise mean after sweep s.

        With `det` (uint8, same shape), also mark det[s, b] = 1 where power > alpha * mean
        (others left as they are, so it ORs into a CFAR's detections in the same pass), and
        return the number of detected cells in det afterwards (0 lets a caller skip the burst
        stage).
        """
        if cnp.PyArray_Check(power) and power.ndim == 2 and power.shape[1] != self.n_bins:
            raise ValueError(f"power has {power.shape[1]} bins, this state {self.n_bins}")
        cdef Py_ssize_t n = self.n_bins, n_sweeps
        cdef const float* x = <const float*>array_data(power, cnp.NPY_FLOAT32, 2, n, "power")
        cdef float* m = <float*>array_data(mean_out, cnp.NPY_FLOAT32, 2, n, "mean_out")
        cdef unsigned char* d = NULL
        n_sweeps = rows(power)
        if rows(mean_out) != n_sweeps:
            raise ValueError("mean_out must have the shape of power")
        if det is not None:
            d = <unsigned char*>array_data(det, cnp.NPY_UINT8, 2, n, "det")
            if rows(det) != n_sweeps:
                raise ValueError("det must have the shape of power")
        cdef Py_ssize_t n_det
        with nogil:
            n_det = self.run(x, n_sweeps, m, d, alpha)
        return n_det

    cdef Py_ssize_t run(self, const float* x, Py_ssize_t n_sweeps, float* mean_out,
                        unsigned char* det, double alpha) noexcept nogil:
        """process() on checked pointers (det NULL: none)."""
        cdef Py_ssize_t s, n = self.n_bins, n_det = 0
        for s in range(n_sweeps):
            n_det += self._one(x + s * n, mean_out + s * n, det + s * n if det != NULL else NULL,
                               alpha)
        return n_det

    cdef Py_ssize_t _one(self, const float* x, float* mean_out, unsigned char* det,
                         double alpha) noexcept nogil:
        cdef Py_ssize_t b, n = self.n_bins, m = 0, n_det = 0
        cdef double v, f, up = self.up, down = self.down, ratio = self.burst_ratio
        cdef double tm = self.to_mean, cap
        cdef bint refresh = self.seen % CAP_SWEEPS == 0
        cdef double* fs = &self.f[0]
        cdef double* tmp = &self.scratch[0]
        if self.seen == 0:
            for b in range(n):
                if x[b] == x[b]:
                    tmp[m] = x[b]
                    m += 1
            if m == 0:  # nothing readable yet: stay uninitialised
                for b in range(n):
                    mean_out[b] = NAN
                    if det != NULL:
                        n_det += det[b]
                return n_det
            v = kth_smallest(tmp, m, (m + 1) // 2)
            for b in range(n):
                fs[b] = v if v > 1e-30 else 1e-30  # multiplicative steps cannot leave 0
        cap = INFINITY if refresh else self.cap
        # branch-free step (the compiler blends): readings above the floor push it up, others
        # down; NaN and bursts leave it
        for b in range(n):
            v = x[b]
            f = fs[b]
            f = f if (v != v or v > f * ratio) else f * (up if v > f else down)
            fs[b] = f if f < cap else cap
        if refresh:
            for b in range(n):
                tmp[b] = fs[b]
            self.cap = kth_smallest(tmp, n, (n + 1) // 2) * self.max_excess
            for b in range(n):
                fs[b] = fs[b] if fs[b] < self.cap else self.cap
        for b in range(n):
            f = fs[b] if fs[b] > 1e-30 else 1e-30
            fs[b] = f
            mean_out[b] = <float>(f * tm)
            if det != NULL:
                if x[b] > alpha * mean_out[b]:
                    det[b] = 1
                n_det += det[b]
        self.seen += 1
        return n_det
