# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Bursty-cell mask of held readings (revisit sweeps: docs/detection.md, "Hoppers seen by a
scanner"; the settings are straja.detect.pipeline's BUSY_*).

Per cell, two occupancies: of the single (first) reads, hot when power > alpha x noise mean,
and of the held reads, hot when detected. Each is an EWMA of rate 1/memory in fixed point: a
hot read adds HIT, and every sweep takes away state >> log2(memory) (memory a power of two,
at most MAX_MEMORY: an occupancy stays under HIT x memory, so 32 bits hold it). Integers make the box sums over `width` cells exact running sums, so the NumPy reference
(straja.detect.reference.busy_mask) agrees bit for bit. The EWMAs start at 0; their bias is the
same EWMA of a read always hot (the weight W ~ memory HIT (1 - (1 - 1/memory)^sweeps)).

With S and H the single and held sums over the cell's window, a cell is bursty when
S / (width W) >= min_single and H < held_ratio S: its detection is cleared, unless the
neighbourhood's reads at the held read's level hold. The same two occupancies are kept per level
band (band_db wide over the noise mean, from 0 dB, the last band open-ended; a single read's band
its own, a detection's that of the held read, `power`): with S_L and H_L their window sums over
the bands from margin_bands below the held read's band up, a held hit in a bursty cell is kept
when H_L >= level_ratio S_L (what reaches its level stays: a hopper far above the bursty
residents, dwelling several revisits). During the first warm - 1 sweeps every cell's detection is cleared (the occupancies
are not known yet).
"""
import numpy as np  # for the included helpers
from libc.stdlib cimport calloc, free

include "_detect_common.pxi"

cdef enum:
    HOT = 1 << 20  # a hot read's weight: the truncated shifts err by under 2^-14 of it
    # an occupancy never exceeds HOT x memory (its fixed point when every read is hot), so it
    # fits 32 bits up to this memory; 32-bit lanes halve what a sweep's decay touches
    MAX_MEMORY = 1 << 11
HIT = HOT

cdef float CODE_MW[256]
fill_code_mw(CODE_MW)


def band_edge(Py_ssize_t k, double band_db):
    """The power ratio over the noise mean where level band k starts (the reference's too)."""
    return 10.0 ** (k * band_db / 10.0)


cdef class BusyCells:
    """Streaming state of the mask over sweeps of n_bins cells: each cell's window is the `width`
    cells numpy.convolve(x, ones(width), "same") sums (from cell - width // 2), cut at the band
    edges."""
    cdef readonly Py_ssize_t n_bins, width, memory, warm, sweeps, n_bands, margin_bands
    cdef readonly double alpha, min_single, held_ratio, band_db, level_ratio
    cdef int shift
    cdef long long weight
    # the occupancies (fixed point): n_bins each of single and held, decayed every sweep (the
    # window sums read them all); then by cell, its n_bands of single_band and its n_bands of
    # held_band, decayed only when the cell is read or hit (catch_up): a cell's level bands are
    # touched only by its hot reads and a bursty detection's window, so a sweep touches 2 x
    # n_bins words, not 2 x n_bins x (1 + n_bands) (perf9, docs/benchmarks.md)
    cdef unsigned int* single
    cdef unsigned int* held
    cdef unsigned int* bands
    cdef unsigned int* decays  # by cell: the decays its bands have had (sweeps, modulo 2^32)
    cdef double* edges  # n_bands: a read is in band k when power >= edges[k] x noise mean

    def __cinit__(self, Py_ssize_t n_bins, Py_ssize_t width, double alpha, double min_single,
                  double held_ratio, Py_ssize_t memory, Py_ssize_t warm, double band_db,
                  Py_ssize_t n_bands, Py_ssize_t margin_bands, double level_ratio):
        cdef Py_ssize_t k
        if n_bins < 1 or width < 1:
            raise ValueError("need n_bins >= 1 and width >= 1")
        if memory < 1 or memory & (memory - 1) or memory > MAX_MEMORY:
            raise ValueError(f"memory must be a power of two up to {MAX_MEMORY} (sweeps)")
        if n_bands < 1 or margin_bands < 0 or not band_db > 0:
            raise ValueError("need n_bands >= 1, margin_bands >= 0 and band_db > 0")
        self.n_bins, self.width, self.memory, self.warm = n_bins, width, memory, warm
        self.alpha, self.min_single, self.held_ratio = alpha, min_single, held_ratio
        self.band_db, self.n_bands, self.margin_bands = band_db, n_bands, margin_bands
        self.level_ratio = level_ratio
        self.shift = 0
        while (1 << self.shift) < memory:
            self.shift += 1
        # one block: single, held, then the cells' decay counts and level bands
        self.single = <unsigned int*>calloc(n_bins * (3 + 2 * n_bands), sizeof(unsigned int))
        self.edges = <double*>calloc(n_bands, sizeof(double))
        if self.single == NULL or self.edges == NULL:
            raise MemoryError()
        self.held = self.single + n_bins
        self.decays = self.held + n_bins
        self.bands = self.decays + n_bins
        for k in range(n_bands):
            self.edges[k] = band_edge(k, band_db)

    def __dealloc__(self):
        free(self.single)
        free(self.edges)

    @property
    def settings(self):
        """The constructor's arguments after n_bins (the reference takes them too)."""
        return (self.width, self.alpha, self.min_single, self.held_ratio, self.memory, self.warm,
                self.band_db, self.n_bands, self.margin_bands, self.level_ratio)

    def process(self, single, power, noise_mw, det, mask=None):
        """Take sweeps: single (uint8 codes of the first reads), power (float32 mW of the held
        reads), noise_mw (float32 noise mean) and det (uint8 detections of the held reads,
        cleared in place where bursty), all (n_sweeps, n_bins); mask (uint8, same shape), if
        given, receives 1 where a detection would be cleared (bursty, and for a detected cell
        its level's reads not holding). Returns the number of detected cells left in det."""
        cdef Py_ssize_t n = self.n_bins
        cdef const unsigned char* c = <const unsigned char*>array_data(single, cnp.NPY_UINT8, 2, n, "single")
        cdef const float* p = <const float*>array_data(power, cnp.NPY_FLOAT32, 2, n, "power")
        cdef const float* m = <const float*>array_data(noise_mw, cnp.NPY_FLOAT32, 2, n, "noise_mw")
        cdef unsigned char* d = <unsigned char*>array_data(det, cnp.NPY_UINT8, 2, n, "det")
        cdef unsigned char* k = NULL
        cdef Py_ssize_t s, n_sweeps = rows(det), n_det = 0
        if rows(single) != n_sweeps or rows(power) != n_sweeps or rows(noise_mw) != n_sweeps:
            raise ValueError("single, power, noise_mw and det must have the same shape")
        if mask is not None:
            k = <unsigned char*>array_data(mask, cnp.NPY_UINT8, 2, n, "mask")
            if rows(mask) != n_sweeps:
                raise ValueError("mask must have the shape of det")
        with nogil:
            for s in range(n_sweeps):
                n_det += self._one(c + s * n, p + s * n, m + s * n, d + s * n,
                                   k + s * n if k != NULL else NULL)
        return n_det

    cdef Py_ssize_t _band(self, double mw, double noise) noexcept nogil:
        """The level band of a read of mw over the noise mean (0 under the first edge too)."""
        cdef Py_ssize_t k = self.n_bands - 1
        while k > 0 and not mw >= self.edges[k] * noise:
            k -= 1
        return k

    cdef unsigned int* _cell_bands(self, Py_ssize_t b) noexcept nogil:
        """Cell b's single_band then held_band occupancies (n_bands each), given the decays of
        every sweep so far as the eager decay would have: the same truncated shifts, one sweep
        at a time, stopped once none moves a value (every value under 2^shift stays)."""
        cdef unsigned int* occ = self.bands + b * 2 * self.n_bands
        cdef unsigned int due = <unsigned int>self.sweeps - self.decays[b]
        cdef unsigned int moved
        cdef Py_ssize_t j
        cdef int sh = self.shift
        while due:
            moved = 0
            for j in range(2 * self.n_bands):
                moved |= occ[j] >> sh
                occ[j] -= occ[j] >> sh
            due -= 1
            if not moved:
                break
        self.decays[b] = <unsigned int>self.sweeps
        return occ

    cdef bint _level_holds(self, Py_ssize_t b, double mw, double noise) noexcept nogil:
        """Whether the window of cell b holds its reads from margin_bands below the band of a
        held read of mw up (H_L >= level_ratio S_L, S_L > 0)."""
        cdef Py_ssize_t j, k, nb = self.n_bands, n = self.n_bins
        cdef Py_ssize_t lo = self._band(mw, noise) - self.margin_bands
        cdef Py_ssize_t first = b - self.width // 2, last = b + self.width - self.width // 2 - 1
        cdef long long s_sum = 0, h_sum = 0
        cdef const unsigned int* sb
        cdef const unsigned int* hb
        if lo < 0:
            lo = 0
        for j in range(first if first > 0 else 0, (last if last < n - 1 else n - 1) + 1):
            sb = self._cell_bands(j)
            hb = sb + nb
            for k in range(lo, nb):
                s_sum += sb[k]
                h_sum += hb[k]
        return s_sum > 0 and <double>h_sum >= self.level_ratio * <double>s_sum

    cdef Py_ssize_t _one(self, const unsigned char* codes, const float* power, const float* noise,
                         unsigned char* det, unsigned char* mask) noexcept nogil:
        cdef Py_ssize_t b, j, n = self.n_bins, w = self.width, n_det = 0, nb = self.n_bands
        cdef Py_ssize_t lag = w // 2, lead = w - w // 2 - 1  # window [b - lag, b + lead]
        cdef unsigned int* sg = self.single
        cdef unsigned int* hd = self.held
        cdef long long s_sum = 0, h_sum = 0
        cdef int sh = self.shift
        cdef double alpha = self.alpha, ratio = self.held_ratio, s_min
        cdef bint bursty
        # single and held decay (x - x >> shift, then + HOT for a hot read: the same as
        # x + HOT - x >> shift): one pass, unsigned so it vectorises; a cell's level bands decay
        # when it is hit or read (_cell_bands: this sweep's decay counted from here)
        for j in range(2 * n):
            sg[j] -= sg[j] >> sh
        self.sweeps += 1
        for b in range(n):
            if <double>CODE_MW[codes[b]] > alpha * <double>noise[b]:
                sg[b] += HOT
                self._cell_bands(b)[self._band(CODE_MW[codes[b]], noise[b])] += HOT
            if det[b]:
                hd[b] += HOT
                self._cell_bands(b)[nb + self._band(power[b], noise[b])] += HOT
        self.weight += HOT - (self.weight >> sh)
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
            if bursty and det[b] and self._level_holds(b, power[b], noise[b]):
                bursty = False
            if bursty:
                det[b] = 0
            n_det += det[b] != 0
            if mask != NULL:
                mask[b] = bursty
        return n_det
