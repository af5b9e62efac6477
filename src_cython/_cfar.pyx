# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""CFAR kernels over linear (square-law) power: across frequency and across time.

Threshold rules (Richards, Fundamentals of Radar Signal Processing, 6.5.3 and 6.5.6), with
S1, S2 the sums of the two halves of the training window (n cells each) and N = 2n:

    CA  threshold = scale_ca[N] * (S1 + S2)        scale_ca[m] = alpha_CA(m) / m
    GO  threshold = scale_2 * max(S1, S2)          scale_2 = alpha_GO / n
    SO  threshold = scale_2 * min(S1, S2)          scale_2 = alpha_SO / n
    OS  threshold = alpha_OS(m) * (k_m-th smallest of the m training cells)

Where the window is cut (sweep edges, start of a stream) the m < N training cells that exist are
used: CA, GO and SO fall back to CA over those m cells, OS uses k_m and alpha_OS(m). The tables
come from straja.detect.cfar, so every cell keeps the design false-alarm probability. m = 0 gives
an infinite threshold. A NaN in the window makes the threshold NaN (OS reads NaN as +inf), and
a cell is detected only when power > threshold, so NaN never detects.
"""
import numpy as np
from libc.math cimport INFINITY
from libc.string cimport memmove

include "_detect_common.pxi"

cdef enum:
    KIND_CA = 0
    KIND_GO = 1
    KIND_SO = 2
    KIND_OS = 3


cdef inline double _nan_max(double a, double b) noexcept nogil:
    # NaN propagates, as numpy.maximum
    return a if (a > b or a != a) else b


cdef inline double _nan_min(double a, double b) noexcept nogil:
    return a if (a < b or a != a) else b


cdef inline double _os_value(float v) noexcept nogil:
    return INFINITY if v != v else <double>v


cdef void _sorted_insert(double* v, Py_ssize_t m, double key) noexcept nogil:
    """Insert key into sorted v[0:m] (room for m + 1)."""
    cdef Py_ssize_t j = m
    while j > 0 and v[j - 1] > key:
        v[j] = v[j - 1]
        j -= 1
    v[j] = key


cdef void _sorted_replace(double* v, Py_ssize_t m, double old, double new) noexcept nogil:
    """Replace one occurrence of old (present) by new in sorted v[0:m], keeping it sorted.

    Positions by counting (branch-free loops the compiler vectorises), then one memmove: on
    noise the positions are random, and a binary search's branches would mispredict."""
    cdef Py_ssize_t i, p_old = 0, p_new = 0
    for i in range(m):
        p_old += v[i] < old
        p_new += v[i] < new
    if p_new > p_old:
        memmove(v + p_old, v + p_old + 1, (p_new - 1 - p_old) * sizeof(double))
        v[p_new - 1] = new
    else:
        memmove(v + p_new + 1, v + p_new, (p_old - p_new) * sizeof(double))
        v[p_new] = new


cdef extern from "_freq_sums.h" nogil:
    const double* straja_mw_plain_sums(const float* x, Py_ssize_t n, Py_ssize_t t, double* w,
                                       double* a, double* b)


cdef enum:
    # Uncut cells of CA, GO and SO are done in blocks of FREQ_BLOCK: the block's readings, its
    # three rows of double sums and its detections stay in L1 from the sums' first pass to the
    # decision (3 x 8 KiB of sums and 5 KiB of readings and detections)
    FREQ_BLOCK = 1024


# uncut cells of CA, GO and SO a block (the tests cross its boundaries)
FREQ_SUMS_BLOCK = FREQ_BLOCK


cdef double _cut_threshold(const float* x, Py_ssize_t n, Py_ssize_t i, int kind, Py_ssize_t t,
                           Py_ssize_t g, const double* scale_ca, const double* alpha_os,
                           const Py_ssize_t* k_os, double* buf) noexcept nogil:
    """Threshold of cell i from the training cells that exist (cut window, or any OS cell)."""
    cdef Py_ssize_t j, a1, b1, a2, b2, m
    cdef double s = 0.0
    a1 = i - g - t if i - g - t > 0 else 0
    b1 = i - g if i - g > 0 else 0
    a2 = i + g + 1 if i + g + 1 < n else n
    b2 = i + g + t + 1 if i + g + t + 1 < n else n
    m = (b1 - a1) + (b2 - a2)
    if m == 0:
        return INFINITY
    if kind == KIND_OS:
        for j in range(a1, b1):
            buf[j - a1] = _os_value(x[j])
        for j in range(a2, b2):
            buf[b1 - a1 + j - a2] = _os_value(x[j])
        return alpha_os[m] * kth_smallest(buf, m, k_os[m])
    for j in range(a1, b1):
        s = s + x[j]
    for j in range(a2, b2):
        s = s + x[j]
    return scale_ca[m] * s


cdef inline double _sums_threshold(int kind, double lag, double lead, double s_ca,
                                  double scale_2) noexcept nogil:
    """The threshold of an uncut cell from its two training sums (CA, GO or SO)."""
    if kind == KIND_CA:
        return s_ca * (lag + lead)
    if kind == KIND_GO:
        return scale_2 * _nan_max(lag, lead)
    return scale_2 * _nan_min(lag, lead)


cdef void _sums_test(int kind, const float* x, const double* lag, const double* lead,
                     Py_ssize_t lo, Py_ssize_t hi, double s_ca, double scale_2,
                     unsigned char* out, float* thr_out) noexcept nogil:
    """Decisions (and thresholds, thr_out not NULL) of uncut cells lo <= i < hi: lag[i] and
    lead[i] their training sums. One loop per kind, branch-free for the compiler to vectorise."""
    cdef Py_ssize_t i
    if kind == KIND_CA:
        for i in range(lo, hi):
            out[i] = x[i] > s_ca * (lag[i] + lead[i])
    elif kind == KIND_GO:
        for i in range(lo, hi):
            out[i] = x[i] > scale_2 * _nan_max(lag[i], lead[i])
    else:
        for i in range(lo, hi):
            out[i] = x[i] > scale_2 * _nan_min(lag[i], lead[i])
    if thr_out != NULL:
        for i in range(lo, hi):
            thr_out[i] = <float>_sums_threshold(kind, lag[i], lead[i], s_ca, scale_2)


cdef void _sums_ends(const float* x, Py_ssize_t n, Py_ssize_t t, Py_ssize_t g,
                     const double* scale_ca, const double* sums, Py_ssize_t base, bint start,
                     unsigned char* out, float* thr_out) noexcept nogil:
    """Decisions of the cut cells at the start (i < g + t) or the end (i >= n - g - t) of a row
    that has uncut cells (CA over the m training cells that exist, whatever the kind), from the
    window sums of its first or last block: sums[j] the sum of cells base + j .. base + j + t - 1.
    At the start a cell's lead is whole (a window sum) and its lag the cells before its guard
    band, a sum that only grows (nothing subtracted); at the end the other way round: O(1) a
    cell (_cut_threshold sums each window again: most of a 256-bin row's time)."""
    cdef Py_ssize_t i, m, h = g + t
    cdef double part = 0.0, thr
    if start:
        for i in range(h):
            if i > g:
                part = part + x[i - g - 1]
            m = t + (i - g if i > g else 0)
            thr = scale_ca[m] * (part + sums[i + g + 1 - base])
            out[i] = x[i] > thr
            if thr_out != NULL:
                thr_out[i] = <float>thr
    else:
        for i in range(n - 1, n - h - 1, -1):
            if i + g + 1 < n:
                part = part + x[i + g + 1]
            m = t + (n - 1 - i - g if n - 1 - i > g else 0)
            thr = scale_ca[m] * (sums[i - h - base] + part)
            out[i] = x[i] > thr
            if thr_out != NULL:
                thr_out[i] = <float>thr


cdef void _sums_row(const float* x, Py_ssize_t n, int kind, Py_ssize_t t, Py_ssize_t g,
                    const double* scale_ca, double scale_2, double* w, double* a, double* b,
                    unsigned char* out, float* thr_out) noexcept nogil:
    """CA, GO or SO across a row that has uncut cells (n > 2 (g + t)): blocks of FREQ_BLOCK
    uncut cells, each from its window sums, and the cut cells from those of the first and the
    last block."""
    cdef Py_ssize_t i0 = g + t, i1, h = g + t, hi = n - g - t   # uncut windows: h <= i < hi
    cdef const float* xb
    cdef const double* sums
    while i0 < hi:
        # cells i0 <= i < i1 of the block, whose windows span xb[0 : i1 - i0 + 2 h]
        i1 = i0 + FREQ_BLOCK if i0 + FREQ_BLOCK < hi else hi
        xb = x + i0 - h
        sums = straja_mw_plain_sums(xb, i1 - i0 + 2 * h, t, w, a, b)
        _sums_test(kind, xb, sums - h, sums + g + 1, h, h + i1 - i0, scale_ca[2 * t], scale_2,
                   out + i0 - h, thr_out + i0 - h if thr_out != NULL else NULL)
        if i0 == h:
            _sums_ends(x, n, t, g, scale_ca, sums, i0 - h, True, out, thr_out)
        if i1 == hi:
            _sums_ends(x, n, t, g, scale_ca, sums, i0 - h, False, out, thr_out)
        i0 = i1


cdef void _os_row(const float* x, Py_ssize_t n, Py_ssize_t t, Py_ssize_t g,
                  const double* alpha_os, const Py_ssize_t* k_os, double* buf,
                  unsigned char* out, float* thr_out) noexcept nogil:
    """OS across a row that has uncut cells: the 2t training values of the uncut cells kept
    sorted as the window slides (two swaps per cell); the cut cells by _cut_threshold."""
    cdef Py_ssize_t i, j, lo = g + t, hi = n - g - t
    cdef double thr, a_os = alpha_os[2 * t]
    cdef Py_ssize_t k = k_os[2 * t] - 1
    for j in range(2 * t):
        _sorted_insert(buf, j, _os_value(x[lo - g - t + j] if j < t else x[lo + g + 1 + j - t]))
    for i in range(lo, hi):
        thr = a_os * buf[k]
        out[i] = x[i] > thr
        if thr_out != NULL:
            thr_out[i] = <float>thr
        if i + 1 < hi:
            _sorted_replace(buf, 2 * t, _os_value(x[i - g - t]), _os_value(x[i - g]))
            _sorted_replace(buf, 2 * t, _os_value(x[i + g + 1]), _os_value(x[i + g + t + 1]))


cdef void _freq_row(const float* x, Py_ssize_t n, int kind, Py_ssize_t t, Py_ssize_t g,
                    const double* scale_ca, double scale_2, const double* alpha_os,
                    const Py_ssize_t* k_os, double* w, double* a, double* b, double* buf,
                    unsigned char* out, float* thr_out) noexcept nogil:
    cdef Py_ssize_t i, lo = g + t, hi = n - g - t   # uncut windows: lo <= i < hi
    cdef double thr
    if hi > lo and kind != KIND_OS:
        _sums_row(x, n, kind, t, g, scale_ca, scale_2, w, a, b, out, thr_out)
        return
    if hi > lo:
        _os_row(x, n, t, g, alpha_os, k_os, buf, out, thr_out)
    else:
        lo = hi = 0
    # the cut cells (all of a row too short for an uncut one)
    for i in range(n):
        if lo <= i < hi:
            continue
        thr = _cut_threshold(x, n, i, kind, t, g, scale_ca, alpha_os, k_os, buf)
        out[i] = x[i] > thr
        if thr_out != NULL:
            thr_out[i] = <float>thr


def _check_tables(int kind, Py_ssize_t n_max, const double[::1] scale_ca,
                  const double[::1] alpha_os, const Py_ssize_t[::1] k_os):
    if kind < KIND_CA or kind > KIND_OS:
        raise ValueError(f"unknown CFAR kind {kind}")
    if scale_ca.shape[0] <= n_max or alpha_os.shape[0] <= n_max or k_os.shape[0] <= n_max:
        raise ValueError(f"design tables must have {n_max + 1} entries")


cdef tuple _buffers(power, out, thr_out, Py_ssize_t n_bins):
    """(power, out, threshold) data pointers as int, checked: float32, uint8, float32 (or None)
    arrays of the same shape (n_bins columns if n_bins >= 0)."""
    cdef const float* x = <const float*>array_data(power, cnp.NPY_FLOAT32, 2, n_bins, "power")
    cdef Py_ssize_t n = cnp.PyArray_DIM(<cnp.ndarray>power, 1)
    cdef unsigned char* o = <unsigned char*>array_data(out, cnp.NPY_UINT8, 2, n, "out")
    cdef float* th = NULL
    if rows(out) != rows(power):
        raise ValueError(f"out has {rows(out)} rows, power {rows(power)}")
    if thr_out is not None:
        th = <float*>array_data(thr_out, cnp.NPY_FLOAT32, 2, n, "threshold")
        if rows(thr_out) != rows(power):
            raise ValueError("threshold buffer shape differs from power")
    return <Py_ssize_t>x, <Py_ssize_t>o, <Py_ssize_t>th


cdef int _place(FreqCFAR cfar, const double[::1] scale_ca, const double[::1] alpha_os,
                const Py_ssize_t[::1] k_os, Py_ssize_t n_scratch) except -1:
    """A FreqCFAR's design tables (each 2 n_train + 1 entries: the most training cells a cell
    has) and a scratch of n_scratch in one block, which a sweep reads in a few cache lines."""
    cdef Py_ssize_t m = 2 * cfar.n_train + 1
    block = np.zeros(3 * m + n_scratch)
    block[:m], block[m:2 * m] = scale_ca[:m], alpha_os[:m]
    block[2 * m:3 * m].view(np.intp)[:] = k_os[:m]
    cfar.scale_ca, cfar.alpha_os = block[:m], block[m:2 * m]
    cfar.k_os, cfar.scratch = block[2 * m:3 * m].view(np.intp), block[3 * m:]
    return 0


cdef class FreqCFAR:
    """CFAR across frequency on each sweep (row); n_train and n_guard per side. Holds the
    design's tables (indexed by the number m of training cells) and a scratch buffer (no state
    between calls: one kernel serves any number of streams, one call at a time)."""
    # (its attributes are declared in straja/_cfar.pxd, cimported by straja._detect_sweep)

    def __init__(self, int kind, Py_ssize_t n_train, Py_ssize_t n_guard,
                 const double[::1] scale_ca, double scale_2, const double[::1] alpha_os,
                 const Py_ssize_t[::1] k_os):
        if n_train < 1 or n_guard < 0:
            raise ValueError("need n_train >= 1 and n_guard >= 0")
        _check_tables(kind, 2 * n_train, scale_ca, alpha_os, k_os)
        self.kind, self.n_train, self.n_guard, self.scale_2 = kind, n_train, n_guard, scale_2
        _place(self, scale_ca, alpha_os, k_os, 4 * n_train + 64)

    def process(self, power, out, thr_out=None):
        """Detections into `out` (uint8 0/1), thresholds into `thr_out` (float32) if given;
        power: float32 (n_sweeps, n_bins), C-contiguous, as the buffers."""
        cdef Py_ssize_t px, po, pt
        px, po, pt = _buffers(power, out, thr_out, -1)
        self.run(<const float*>px, rows(power), cnp.PyArray_DIM(<cnp.ndarray>power, 1),
                 <unsigned char*>po, <float*>pt)

    cdef int run(self, const float* x, Py_ssize_t n_sweeps, Py_ssize_t n, unsigned char* o,
                 float* th) except -1:
        """process() on checked pointers: n_sweeps rows of n bins (thr_out NULL: none)."""
        cdef Py_ssize_t s, t = self.n_train, h = self.n_train + self.n_guard
        if n == 0 or n_sweeps == 0:
            return 0
        # three rows of sums of a block, each on a cache line's start (the scratch follows the
        # tables: at 8 bytes past one, a vector load in four crossed two lines, and the kernel's
        # speed moved 2x from run to run with the allocation's address), a cache line apart
        # beyond the block (4K aliasing, as CodeCFAR); then 2 t values of the OS window or a cut
        # one
        cdef Py_ssize_t cells = n if n < FREQ_BLOCK + 2 * h else FREQ_BLOCK + 2 * h
        cdef Py_ssize_t stride = (cells + 7) // 8 * 8 + 8
        if self.scratch.shape[0] < 3 * stride + 2 * t + 8:
            _place(self, self.scale_ca, self.alpha_os, self.k_os, 3 * stride + 2 * t + 8)
        cdef double* w = &self.scratch[0]
        w += (8 - (<size_t>w // sizeof(double)) % 8) % 8
        # (the GIL held: one kernel serves every node's core of its design, scratch and all,
        # cfar.design; two threads must not share its scratch at once)
        for s in range(n_sweeps):
            _freq_row(x + s * n, n, self.kind, t, self.n_guard, &self.scale_ca[0],
                      self.scale_2, &self.alpha_os[0], &self.k_os[0], w, w + stride,
                      w + 2 * stride, w + 3 * stride, o + s * n,
                      th + s * n if th != NULL else NULL)
        return 0


cdef class TimeCFAR:
    """Streaming CFAR across time, per bin: training cells are the same bin in the n_train
    sweeps before the n_guard sweeps that precede the sweep under test (causal, no delay).

    GO/SO split the training sweeps into the newer and the older half. The last
    n_train + n_guard sweeps are kept between calls.
    """
    cdef public Py_ssize_t n_bins, n_train, n_guard, seen
    cdef int kind
    cdef double scale_2
    cdef double[::1] scale_ca, alpha_os
    cdef Py_ssize_t[::1] k_os
    cdef float[:, ::1] ring     # the last n_train + n_guard + 1 sweeps
    cdef Py_ssize_t head        # ring row of the next sweep; age a is at head - a
    cdef double[::1] acc1, acc2
    cdef double[:, ::1] srt     # OS: each bin's training values, sorted

    def __init__(self, Py_ssize_t n_bins, int kind, Py_ssize_t n_train, Py_ssize_t n_guard,
                 const double[::1] scale_ca, double scale_2, const double[::1] alpha_os,
                 const Py_ssize_t[::1] k_os):
        if n_bins < 1 or n_train < 1 or n_guard < 0:
            raise ValueError("need n_bins >= 1, n_train >= 1, n_guard >= 0")
        if kind in (KIND_GO, KIND_SO) and n_train % 2:
            raise ValueError("GO/SO across time need an even n_train (two halves)")
        _check_tables(kind, n_train, scale_ca, alpha_os, k_os)
        self.n_bins, self.kind, self.n_train, self.n_guard = n_bins, kind, n_train, n_guard
        self.scale_ca, self.scale_2 = np.array(scale_ca), scale_2
        self.alpha_os, self.k_os = np.array(alpha_os), np.array(k_os)
        self.ring = np.zeros((n_train + n_guard + 1, n_bins), np.float32)
        self.acc1 = np.zeros(n_bins)
        self.acc2 = np.zeros(n_bins)
        self.srt = np.zeros((n_bins if kind == KIND_OS else 1, n_train))
        self.head = 0
        self.seen = 0

    def reset(self):
        """Forget the history (e.g. after a retune)."""
        self.seen = 0
        self.head = 0

    def process(self, power, out, thr_out=None):
        """Test every sweep (row) of `power` against the sweeps before it."""
        if cnp.PyArray_Check(power) and power.ndim == 2 and power.shape[1] != self.n_bins:
            raise ValueError(f"power has {power.shape[1]} bins, this state {self.n_bins}")
        cdef Py_ssize_t px, po, pt
        px, po, pt = _buffers(power, out, thr_out, self.n_bins)
        cdef const float* x = <const float*>px
        cdef unsigned char* o = <unsigned char*>po
        cdef float* th = <float*>pt
        cdef Py_ssize_t s, n = self.n_bins, n_sweeps = rows(power)
        with nogil:
            for s in range(n_sweeps):
                self._one(x + s * n, o + s * n, th + s * n if th != NULL else NULL)

    cdef inline float* _age(self, Py_ssize_t age) noexcept nogil:
        cdef Py_ssize_t L = self.ring.shape[0], r = (self.head - age) % L
        return &self.ring[r + L if r < 0 else r, 0]

    cdef void _one(self, const float* x, unsigned char* out, float* thr_out) noexcept nogil:
        cdef Py_ssize_t b, a, nb = self.n_bins, g = self.n_guard, t = self.n_train
        cdef Py_ssize_t half = t // 2, m = self.seen - g
        cdef double thr
        cdef float* row
        cdef float* leaving
        if m < 0:
            m = 0
        if m > t:
            m = t
        if self.kind == KIND_OS:
            # slide each bin's sorted window: age g+1 enters, age g+t+1 leaves once full
            if m > 0:
                row = self._age(g + 1)
                if self.seen - 1 - g >= t:
                    leaving = self._age(g + t + 1)
                    for b in range(nb):
                        _sorted_replace(&self.srt[b, 0], t, _os_value(leaving[b]), _os_value(row[b]))
                else:
                    for b in range(nb):
                        _sorted_insert(&self.srt[b, 0], m - 1, _os_value(row[b]))
            for b in range(nb):
                thr = self.alpha_os[m] * self.srt[b, self.k_os[m] - 1] if m > 0 else INFINITY
                out[b] = x[b] > thr
                if thr_out != NULL:
                    thr_out[b] = <float>thr
        else:
            for b in range(nb):
                self.acc1[b] = 0.0
                self.acc2[b] = 0.0
            # ages g+1 .. g+m; the newer half into acc1 (CA and cut windows: all into acc1)
            for a in range(m):
                row = self._age(g + 1 + a)
                if a < half or m < t or self.kind == KIND_CA:
                    for b in range(nb):
                        self.acc1[b] += row[b]
                else:
                    for b in range(nb):
                        self.acc2[b] += row[b]
            for b in range(nb):
                if m == 0:
                    thr = INFINITY
                elif m < t or self.kind == KIND_CA:
                    thr = self.scale_ca[m] * (self.acc1[b] + self.acc2[b])
                elif self.kind == KIND_GO:
                    thr = self.scale_2 * _nan_max(self.acc1[b], self.acc2[b])
                else:
                    thr = self.scale_2 * _nan_min(self.acc1[b], self.acc2[b])
                out[b] = x[b] > thr
                if thr_out != NULL:
                    thr_out[b] = <float>thr
        row = &self.ring[self.head, 0]
        for b in range(nb):
            row[b] = x[b]
        self.head = (self.head + 1) % self.ring.shape[0]
        self.seen += 1


# CFAR across frequency over RSSI codes (uint8, 0.5 dB steps): the dB domain, integer only.
#
#     CA (log-CA)  detect  m c_i - (sum of the m training codes) > thr[m]
#     OS           detect  c_i - (k_m-th smallest training code)  > thr[m]
#
# thr and k come from straja.detect.cfar.design_codes. OS over codes is OS over linear power
# (the conversion is monotonic); CA over codes compares with the geometric mean of the training
# cells (log-CFAR), a different detector from the linear CA above.

MAX_CODE_TRAIN = 128    # 2 x 128 x 255 fits a uint16 window sum


cdef extern from "_code_ca.h" nogil:
    # the loops of CA over codes, in C: plain C, and an AVX2 compare where the CPU has AVX2
    int straja_code_ca_use_avx2(int on)
    enum: STRAJA_CODE_CA_AVX2_MIN_CELLS
    const unsigned short* straja_code_window_sums(const unsigned char* x, Py_ssize_t n,
                                                  Py_ssize_t t, unsigned short* w,
                                                  unsigned short* a, unsigned short* b)
    void straja_code_ca_test16(const unsigned char* x, const unsigned short* lag,
                               const unsigned short* lead, Py_ssize_t lo, Py_ssize_t hi,
                               unsigned short full, unsigned short thr, unsigned char* out)


# blocks of fewer uncut cells take the plain C compare even where AVX2 runs
CODE_CA_AVX2_MIN_CELLS = STRAJA_CODE_CA_AVX2_MIN_CELLS


def code_ca_use_avx2(bint on):
    """Run code CA's AVX2 compare (on, the default where the CPU has AVX2) or its plain C one
    (off): the same decisions, bit for bit (the tests run both). Returns whether AVX2 is used."""
    return bool(straja_code_ca_use_avx2(on))


def code_window_sums(const unsigned char[::1] codes, Py_ssize_t n_train):
    """The code CA kernel's window sums of one row: s[j] = sum(codes[j : j + n_train]) for
    j <= len(codes) - n_train (uint16), by the path code_ca_use_avx2 chose (the tests' handle on
    the sums alone)."""
    cdef Py_ssize_t n = codes.shape[0], stride = n + 32
    if not 1 <= n_train <= min(n, MAX_CODE_TRAIN):
        raise ValueError(f"need 1 <= n_train <= min(len(codes), {MAX_CODE_TRAIN})")
    cdef unsigned short[::1] buf = np.zeros(3 * stride, np.uint16)
    cdef const unsigned short* s
    with nogil:
        s = straja_code_window_sums(&codes[0], n, n_train, &buf[0], &buf[stride], &buf[2 * stride])
    return np.asarray(buf)[s - &buf[0]:][:n - n_train + 1].copy()


cdef inline void _cut_window(Py_ssize_t n, Py_ssize_t i, Py_ssize_t t, Py_ssize_t g,
                             Py_ssize_t* a1, Py_ssize_t* b1, Py_ssize_t* a2,
                             Py_ssize_t* b2) noexcept nogil:
    """Training ranges [a1, b1) and [a2, b2) of cell i, clipped to the row."""
    a1[0] = i - g - t if i - g - t > 0 else 0
    b1[0] = i - g if i - g > 0 else 0
    a2[0] = i + g + 1 if i + g + 1 < n else n
    b2[0] = i + g + t + 1 if i + g + t + 1 < n else n


cdef void _code_ca_cut(const unsigned char* x, Py_ssize_t n, Py_ssize_t t, Py_ssize_t g,
                       const int* thr, unsigned char* out) noexcept nogil:
    """CA decisions of a row too short for an uncut cell, from the training cells that exist (a
    longer row's cut cells: _code_ca_ends). The four ends of the two windows only move forward,
    by a cell at most, from one cell to the next: the sum slides, O(1) a cell."""
    cdef Py_ssize_t i, j, a1, b1, a2, b2, na1, nb1, na2, nb2, m
    cdef int s = 0
    _cut_window(n, 0, t, g, &a1, &b1, &a2, &b2)
    for j in range(a2, b2):   # (no lag at cell 0)
        s += x[j]
    for i in range(n):
        if i > 0:
            _cut_window(n, i, t, g, &na1, &nb1, &na2, &nb2)
            s += (x[b1] if nb1 > b1 else 0) - (x[a1] if na1 > a1 else 0)
            s += (x[b2] if nb2 > b2 else 0) - (x[a2] if na2 > a2 else 0)
            a1, b1, a2, b2 = na1, nb1, na2, nb2
        m = (b1 - a1) + (b2 - a2)
        out[i] = m > 0 and <int>m * <int>x[i] - s > thr[m]


cdef enum:
    # Uncut cells are done in blocks of CA_BLOCK: the block's codes, its three rows of 16-bit
    # sums and its detections stay in L1 from the sums' first pass to the decision (a 4096-bin
    # row at once, 24 KiB of sums and 8 of codes and detections, fills a 32 KiB L1: 1.2x slower)
    CA_BLOCK = 2048


cdef void _code_ca_ends(const unsigned char* x, Py_ssize_t n, Py_ssize_t t, Py_ssize_t g,
                        const int* thr, const unsigned short* sums, Py_ssize_t base, bint start,
                        unsigned char* out) noexcept nogil:
    """CA decisions of the cut cells at the start (cells i < g + t) or the end (i >= n - g - t)
    of a row that has uncut cells, from the window sums of its first or last block: sums[j] the
    sum of codes base + j .. base + j + t - 1. At the start a cell's lead is whole (a window sum)
    and its lag the codes before its guard band, a running sum; at the end the other way round:
    O(1) a cell, no branch on the data (_code_ca_cut, which also clips: 3.4 ns a cell)."""
    cdef Py_ssize_t i, m, h = g + t
    cdef int part = 0
    if start:
        for i in range(h):
            if i > g:
                part += x[i - g - 1]
            m = t + (i - g if i > g else 0)
            out[i] = <int>m * <int>x[i] - part - <int>sums[i + g + 1 - base] > thr[m]
    else:
        for i in range(n - 1, n - h - 1, -1):
            if i + g + 1 < n:
                part += x[i + g + 1]
            m = t + (n - 1 - i - g if n - 1 - i > g else 0)
            out[i] = <int>m * <int>x[i] - part - <int>sums[i - h - base] > thr[m]


cdef void _code_ca_row(const unsigned char* x, Py_ssize_t n, Py_ssize_t t, Py_ssize_t g,
                       const int* thr, unsigned short* w, unsigned short* a, unsigned short* b,
                       unsigned char* out) noexcept nogil:
    cdef Py_ssize_t i, i0, i1, h = g + t, hi = n - g - t   # uncut windows: h <= i < hi
    cdef int full = <int>(2 * t), thr_full = thr[2 * t]
    cdef bint fits16 = 0 <= thr_full <= 65535 - full * 255
    cdef const unsigned char* xb
    cdef const unsigned short* sums
    cdef unsigned char* ob
    if hi <= h:
        _code_ca_cut(x, n, t, g, thr, out)
        return
    i0 = h
    while i0 < hi:
        # cells i0 <= i < i1 of the block, whose windows span xb[0 : i1 - i0 + 2 h]
        i1 = i0 + CA_BLOCK if i0 + CA_BLOCK < hi else hi
        xb, ob = x + i0 - h, out + i0 - h
        sums = straja_code_window_sums(xb, i1 - i0 + 2 * h, t, w, a, b)
        if fits16:
            straja_code_ca_test16(xb, sums - h, sums + g + 1, h, h + i1 - i0, <unsigned short>full,
                                  <unsigned short>thr_full, ob)
        else:
            for i in range(h, h + i1 - i0):
                ob[i] = full * <int>xb[i] - <int>sums[i - h] - <int>sums[i + g + 1] > thr_full
        # the cut cells while their block's sums are at hand
        if i0 == h:
            _code_ca_ends(x, n, t, g, thr, sums, i0 - h, True, out)
        if i1 == hi:
            _code_ca_ends(x, n, t, g, thr, sums, i0 - h, False, out)
        i0 = i1


cdef void _code_os_row(const unsigned char* x, Py_ssize_t n, Py_ssize_t t, Py_ssize_t g,
                       const int* thr, const Py_ssize_t* k_os, int* hist,
                       unsigned char* out) noexcept nogil:
    """A histogram of the training codes slides along the row; the k-th smallest is a pivot
    code p with `below` cells under it, moved a few codes at a time (noise moves little):
    O(1) per cell on average, whatever the window."""
    cdef Py_ssize_t i, j, m, k, a1, b1, a2, b2
    cdef int p = 0, below = 0, c
    for c in range(256):
        hist[c] = 0
    _cut_window(n, 0, t, g, &a1, &b1, &a2, &b2)
    for j in range(a2, b2):
        hist[x[j]] += 1
    for i in range(n):
        _cut_window(n, i, t, g, &a1, &b1, &a2, &b2)
        m = (b1 - a1) + (b2 - a2)
        if m == 0:
            out[i] = 0
        else:
            k = k_os[m]
            while below >= k:
                p -= 1
                below -= hist[p]
            while below + hist[p] < k:
                below += hist[p]
                p += 1
            out[i] = <int>x[i] - p > thr[m]
        # slide to i + 1: x[i - g - t] and x[i + g + 1] leave, x[i - g] and x[i + g + t + 1] enter
        if i - g - t >= 0:
            c = x[i - g - t]
            hist[c] -= 1
            below -= c < p
        if i - g >= 0:
            c = x[i - g]
            hist[c] += 1
            below += c < p
        if i + g + 1 < n:
            c = x[i + g + 1]
            hist[c] -= 1
            below -= c < p
        if i + g + t + 1 < n:
            c = x[i + g + t + 1]
            hist[c] += 1
            below += c < p


cdef class CodeCFAR:
    """CFAR across frequency on each sweep (row) of RSSI codes, kind CA or OS; n_train and
    n_guard per side. thr[m] and k_os[m] (OS rank) for m = 0..2 n_train training cells."""
    cdef public Py_ssize_t n_train, n_guard
    cdef int kind
    cdef int[::1] thr
    cdef Py_ssize_t[::1] k_os
    cdef unsigned short[::1] sums
    cdef int[::1] hist

    def __init__(self, int kind, Py_ssize_t n_train, Py_ssize_t n_guard, thr, k_os):
        if kind != KIND_CA and kind != KIND_OS:
            raise ValueError(f"code-domain CFAR is CA or OS, not kind {kind}")
        if not 1 <= n_train <= MAX_CODE_TRAIN or n_guard < 0:
            raise ValueError(f"need 1 <= n_train <= {MAX_CODE_TRAIN} and n_guard >= 0")
        self.thr = np.array(thr, np.intc)
        self.k_os = np.array(k_os, np.intp)
        if self.thr.shape[0] <= 2 * n_train or self.k_os.shape[0] <= 2 * n_train:
            raise ValueError(f"design tables must have {2 * n_train + 1} entries")
        self.kind, self.n_train, self.n_guard = kind, n_train, n_guard
        self.sums = np.zeros(0, np.uint16)
        self.hist = np.zeros(256, np.intc)

    def process(self, codes, out):
        """Detections (uint8 0/1) into `out`; codes and out: uint8 (n_sweeps, n_bins),
        C-contiguous."""
        cdef const unsigned char* x = <const unsigned char*>array_data(codes, cnp.NPY_UINT8, 2, -1, "codes")
        cdef Py_ssize_t n = cnp.PyArray_DIM(<cnp.ndarray>codes, 1)
        cdef unsigned char* o = <unsigned char*>array_data(out, cnp.NPY_UINT8, 2, n, "out")
        cdef Py_ssize_t s, n_sweeps = rows(codes), t = self.n_train, g = self.n_guard
        if rows(out) != n_sweeps:
            raise ValueError(f"out has {rows(out)} rows, codes {n_sweeps}")
        if n == 0 or n_sweeps == 0:
            return
        # three rows of sums of a block, a cache line apart beyond it: at strides of a multiple
        # of 4 KiB the loads of one pass would wait on the stores of the last (4K aliasing)
        cdef Py_ssize_t stride = (n if n < CA_BLOCK + 2 * (t + g) else CA_BLOCK + 2 * (t + g)) + 32
        if self.sums.shape[0] < 3 * stride:
            self.sums = np.zeros(3 * stride, np.uint16)
        cdef unsigned short* w = &self.sums[0]
        with nogil:
            for s in range(n_sweeps):
                if self.kind == KIND_CA:
                    _code_ca_row(x + s * n, n, t, g, &self.thr[0], w, w + stride, w + 2 * stride,
                                 o + s * n)
                else:
                    _code_os_row(x + s * n, n, t, g, &self.thr[0], &self.k_os[0],
                                 &self.hist[0], o + s * n)
