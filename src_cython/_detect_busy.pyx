# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Bursty-cell mask of held readings (revisit sweeps: docs/detection.md, "Hoppers seen by a
scanner"; the settings are straja.detect.pipeline's BUSY_*).

Per cell, two occupancies: of the single (first) reads, hot when power > alpha x noise mean,
and of the held reads, hot when detected. Each is an EWMA of rate 1/memory in fixed point: a
hot read adds HIT, and every sweep takes away state >> log2(memory) (memory a power of two).
Integers make the box sums over `width` cells exact running sums, so the NumPy reference
(straja.detect.reference.busy_mask) agrees bit for bit. The EWMAs start at 0; their bias is the
same EWMA of a read always hot (the weight W ~ memory HIT (1 - (1 - 1/memory)^sweeps)).

With S and H the single and held sums over the cell's window, a cell is bursty when
S / (width W) >= min_single and H < held_ratio S: its detection is cleared. During the first
warm - 1 sweeps every cell's is (the occupancies are not known yet).
"""
import numpy as np  # for the included helpers
from libc.stdlib cimport calloc, free

include "_detect_common.pxi"

cdef enum:
    HOT = 1 << 20  # a hot read's weight: the truncated shifts err by under 2^-14 of it
HIT = HOT

cdef float CODE_MW[256]
fill_code_mw(CODE_MW)


cdef class BusyCells:
    """Streaming state of the mask over sweeps of n_bins cells: each cell's window is the `width`
    cells numpy.convolve(x, ones(width), "same") sums (from cell - width // 2), cut at the band
    edges."""
    cdef readonly Py_ssize_t n_bins, width, memory, warm, sweeps
    cdef readonly double alpha, min_single, held_ratio
    cdef int shift
    cdef long long weight
    cdef long long* single  # n_bins occupancies each (fixed point); held follows single
    cdef long long* held

    def __cinit__(self, Py_ssize_t n_bins, Py_ssize_t width, double alpha, double min_single,
                  double held_ratio, Py_ssize_t memory, Py_ssize_t warm):
        if n_bins < 1 or width < 1:
            raise ValueError("need n_bins >= 1 and width >= 1")
        if memory < 1 or memory & (memory - 1):
            raise ValueError("memory must be a power of two (sweeps)")
        self.n_bins, self.width, self.memory, self.warm = n_bins, width, memory, warm
        self.alpha, self.min_single, self.held_ratio = alpha, min_single, held_ratio
        self.shift = 0
        while (1 << self.shift) < memory:
            self.shift += 1
        self.single = <long long*>calloc(2 * n_bins, sizeof(long long))
        if self.single == NULL:
            raise MemoryError()
        self.held = self.single + n_bins

    def __dealloc__(self):
        free(self.single)

    @property
    def settings(self):
        """The constructor's arguments after n_bins (the reference takes them too)."""
        return (self.width, self.alpha, self.min_single, self.held_ratio, self.memory, self.warm)

    def process(self, single, noise_mw, det, mask=None):
        """Take sweeps: single (uint8 codes of the first reads), noise_mw (float32 noise mean)
        and det (uint8 detections of the held reads, cleared in place where bursty), all
        (n_sweeps, n_bins); mask (uint8, same shape), if given, receives 1 where bursty.
        Returns the number of detected cells left in det."""
        cdef Py_ssize_t n = self.n_bins
        cdef const unsigned char* c = <const unsigned char*>array_data(single, cnp.NPY_UINT8, 2, n, "single")
        cdef const float* m = <const float*>array_data(noise_mw, cnp.NPY_FLOAT32, 2, n, "noise_mw")
        cdef unsigned char* d = <unsigned char*>array_data(det, cnp.NPY_UINT8, 2, n, "det")
        cdef unsigned char* k = NULL
        cdef Py_ssize_t s, n_sweeps = rows(det), n_det = 0
        if rows(single) != n_sweeps or rows(noise_mw) != n_sweeps:
            raise ValueError("single, noise_mw and det must have the same shape")
        if mask is not None:
            k = <unsigned char*>array_data(mask, cnp.NPY_UINT8, 2, n, "mask")
            if rows(mask) != n_sweeps:
                raise ValueError("mask must have the shape of det")
        with nogil:
            for s in range(n_sweeps):
                n_det += self._one(c + s * n, m + s * n, d + s * n, k + s * n if k != NULL else NULL)
        return n_det

    cdef Py_ssize_t _one(self, const unsigned char* codes, const float* noise, unsigned char* det,
                         unsigned char* mask) noexcept nogil:
        cdef Py_ssize_t b, j, n = self.n_bins, w = self.width, n_det = 0
        cdef Py_ssize_t lag = w // 2, lead = w - w // 2 - 1  # window [b - lag, b + lead]
        cdef long long* sg = self.single
        cdef long long* hd = self.held
        cdef long long s_sum = 0, h_sum = 0
        cdef int sh = self.shift
        cdef double alpha = self.alpha, ratio = self.held_ratio, s_min
        cdef bint bursty
        for b in range(n):
            sg[b] += (HOT if <double>CODE_MW[codes[b]] > alpha * <double>noise[b] else 0) - (sg[b] >> sh)
            hd[b] += (HOT if det[b] else 0) - (hd[b] >> sh)
        self.weight += HOT - (self.weight >> sh)
        self.sweeps += 1
        if self.sweeps < self.warm:
            for b in range(n):
                det[b] = 0
                if mask != NULL:
                    mask[b] = 1
            return 0
        s_min = self.min_single * <double>(w * self.weight)
        for j in range(lead if lead < n else n):  # the window of cell -1
            s_sum += sg[j]
            h_sum += hd[j]
        for b in range(n):
            j = b + lead
            if j < n:
                s_sum += sg[j]
                h_sum += hd[j]
            j = b - lag - 1
            if j >= 0:
                s_sum -= sg[j]
                h_sum -= hd[j]
            bursty = <double>s_sum >= s_min and <double>h_sum < ratio * <double>s_sum
            if bursty:
                det[b] = 0
            n_det += det[b] != 0
            if mask != NULL:
                mask[b] = bursty
        return n_det
