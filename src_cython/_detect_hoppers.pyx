# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The band hopper's looks, compiled (straja.detect.hoppers; docs/detection.md, "Hoppers that
never hold a channel").

Each read of the band is a look: its narrow hits found (those read in a mains-locked emitter's
half-cycles gated: Mains), the ones in quiet cells written to the ring of counted hits, the
sweep start kept for the windows, the hits queued and learnt into the baseline LEARN_DELAY later
(the busy cells and the site's rate made again when it learns); then the decision, after a look
that counted hits or while a hopper is reported (most looks are not): each window's hits tested
(Poisson tail under the site's rate), the reported hopper summed up, all in C (no call back to
Python a look). straja.detect.hoppers.ReferenceBandHoppers is the NumPy oracle: the same
arithmetic in the same order (float32 thresholds, NumPy's pairwise sum for the site's rate,
CPython's lgamma for the tail), so the tests ask for identical state and reports.
"""
import math

import numpy as np
from libc.limits cimport LLONG_MIN
from libc.math cimport INFINITY, NAN, exp, fabs, fmod, log, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

include "_detect_common.pxi"


cdef inline long long floor_div(long long a, long long b) noexcept nogil:
    """Python's a // b (cdivision truncates toward zero)."""
    cdef long long q = a / b
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef double pairwise_sum(const double* a, Py_ssize_t n) noexcept nogil:
    """NumPy's sum of a float64 array (numpy/_core/src/umath/loops_utils.h.src,
    pairwise_sum): the same additions in the same order, so the site's rate is the
    reference's to the bit."""
    cdef Py_ssize_t i, j, n2
    cdef double r[8]
    cdef double res = 0.0
    if n < 8:
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        for j in range(8):
            r[j] = a[j]
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                r[j] += a[i + j]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2)


# straja.detect.stats: its series and continued fraction for the Poisson tail, the same
# operations in the same order; lgamma of the integer counts from a table CPython's math.lgamma
# filled (it is not libm's, and the tail must be the reference's to the bit)
cdef double EPS = 1e-15
cdef double TINY = 1e-300
cdef Py_ssize_t MAX_ITER = 100000


cdef double gamma_series(double a, double x, double lgamma_a) noexcept nogil:
    """stats._gamma_series: P(a, x) for 0 < x < a + 1."""
    cdef double term = 1.0 / a
    cdef double total = term, n = a
    while fabs(term) > EPS * fabs(total):
        n += 1.0
        term *= x / n
        total += term
    return total * exp(a * log(x) - x - lgamma_a)


cdef double gamma_upper(double a, double x, double lgamma_a) noexcept nogil:
    """stats.gammaincc: Q(a, x) for x >= a + 1 (NaN if the fraction does not converge, where
    the reference raises)."""
    cdef double log_front = a * log(x) - x - lgamma_a
    cdef double b = x + 1.0 - a, an, c = 1.0 / TINY, d = 1.0 / b, h
    cdef Py_ssize_t i
    h = d
    for i in range(1, MAX_ITER):
        an = -<double>i * (<double>i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if fabs(d) > TINY else TINY)
        c = b + an / c
        c = c if fabs(c) > TINY else TINY
        h *= d * c
        if fabs(d * c - 1.0) < EPS:
            return exp(log_front) * h
    return NAN


cdef double tail(Py_ssize_t n, double mean, double lgamma_n) noexcept nogil:
    """stats.poisson_tail: P(N >= n), N Poisson of `mean`; lgamma_n = lgamma(n)."""
    if n <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    if mean < n + 1.0:
        return gamma_series(<double>n, mean, lgamma_n)
    return 1.0 - gamma_upper(<double>n, mean, lgamma_n)


def poisson_tail(Py_ssize_t n, double mean):
    """The decision's Poisson tail, P(N >= n) for N Poisson of `mean` (NaN where
    straja.detect.stats.poisson_tail, its definition, raises ArithmeticError)."""
    return tail(n, mean, math.lgamma(n) if n > 0 else math.inf)


# The mains gate (straja.detect.hoppers.MainsGate): hits locked to a microwave oven's
# half-cycles, a histogram of their phase per mains period and read of a sweep
cdef enum:
    MAINS_PERIODS = 2
    MAINS_READS = 2
    MAX_PHASE_BINS = 32


cdef struct Mains:
    double period[MAINS_PERIODS]
    double hist[MAINS_PERIODS * MAINS_READS * MAX_PHASE_BINS]
    # each bin's hits' frequencies (kHz from the plan's first channel), summed and squared
    double f_sum[MAINS_PERIODS * MAINS_READS * MAX_PHASE_BINS]
    double f_squares[MAINS_PERIODS * MAINS_READS * MAX_PHASE_BINS]
    unsigned char on[MAINS_PERIODS * MAINS_READS * MAX_PHASE_BINS]
    Py_ssize_t on_bins[MAINS_PERIODS]
    Py_ssize_t bins
    double decay, min_total, share, max_spread_khz


cdef int mains_init(Mains* m, periods_us, Py_ssize_t bins, on_bins, double share,
                    Py_ssize_t looks, double min_rate, double max_spread_khz) except -1:
    periods_us, on_bins = tuple(periods_us), tuple(on_bins)
    if len(periods_us) != MAINS_PERIODS or len(on_bins) != MAINS_PERIODS \
            or not all(1 <= b <= bins for b in on_bins) or bins > MAX_PHASE_BINS or looks < 1:
        raise ValueError("the mains gate needs 2 periods, 1 <= on_bins <= bins <= 32, looks >= 1")
    for p in range(MAINS_PERIODS):
        m.period[p], m.on_bins[p] = periods_us[p], on_bins[p]
    m.bins, m.share, m.max_spread_khz = bins, share, max_spread_khz
    m.decay, m.min_total = 1.0 - 1.0 / looks, looks * min_rate
    memset(m.hist, 0, sizeof(m.hist))
    memset(m.f_sum, 0, sizeof(m.f_sum))
    memset(m.f_squares, 0, sizeof(m.f_squares))
    memset(m.on, 0, sizeof(m.on))
    return 0


cdef inline Py_ssize_t mains_bin(const Mains* m, Py_ssize_t p, long long t) noexcept nogil:
    """MainsGate.bins: the phase bin of a read at t (us) in period p."""
    cdef double phase = fmod(<double>t, m.period[p])
    cdef Py_ssize_t b
    if phase < 0:
        phase += m.period[p]
    b = <Py_ssize_t>(phase * m.bins / m.period[p])
    return b if b < m.bins else m.bins - 1


cdef inline unsigned char mains_gated(const Mains* m, Py_ssize_t read, long long t) noexcept nogil:
    """MainsGate.gated: a read at t in a recognised on-window (bit p: period p's; 0: none)."""
    cdef Py_ssize_t p
    cdef unsigned char gated = 0
    for p in range(MAINS_PERIODS):
        if m.on[(p * MAINS_READS + read) * MAX_PHASE_BINS + mains_bin(m, p, t)]:
            gated |= 1 << p
    return gated


cdef double mains_spread_khz(const Mains* m, Py_ssize_t p, Py_ssize_t read,
                             Py_ssize_t first) noexcept nogil:
    """MainsGate.spread_khz: the SD of the window's hits' frequency within their phase bins
    (the window: period p's on_bins from bin first)."""
    cdef Py_ssize_t i, b, base = (p * MAINS_READS + read) * MAX_PHASE_BINS
    cdef double n, squares = 0.0, weight = 0.0
    for i in range(m.on_bins[p]):
        b = base + (first + i) % m.bins
        n = m.hist[b]
        if n > 0.0:
            squares += m.f_squares[b] - m.f_sum[b] * m.f_sum[b] / n
            weight += n
    if weight <= 0.0:
        return 0.0
    return sqrt(squares / weight) if squares > 0.0 else 0.0


cdef void mains_feed(Mains* m, Py_ssize_t read, const long long* t, const double* f_khz,
                     const unsigned char* fed, const unsigned char* gated,
                     Py_ssize_t n) noexcept nogil:
    """MainsGate.feed: one look of `read`, its hits at t (kHz f_khz from the plan's first
    channel; those with fed[i]) into the histograms (each period's without those another
    period gates: gated[i], mains_gated's), and what is recognised."""
    cdef Py_ssize_t p, i, j, b, best
    cdef double total, run, top
    cdef double* h
    cdef double* f_sum
    cdef double* f_squares
    cdef unsigned char* on
    for p in range(MAINS_PERIODS):
        h = m.hist + (p * MAINS_READS + read) * MAX_PHASE_BINS
        f_sum = m.f_sum + (p * MAINS_READS + read) * MAX_PHASE_BINS
        f_squares = m.f_squares + (p * MAINS_READS + read) * MAX_PHASE_BINS
        on = m.on + (p * MAINS_READS + read) * MAX_PHASE_BINS
        for i in range(m.bins):
            h[i] *= m.decay
            f_sum[i] *= m.decay
            f_squares[i] *= m.decay
        for i in range(n):
            if fed[i] and not (gated[i] & ~(1 << p)):
                b = mains_bin(m, p, t[i])
                h[b] += 1.0
                f_sum[b] += f_khz[i]
                f_squares[b] += f_khz[i] * f_khz[i]
        total = 0.0
        for i in range(m.bins):
            total += h[i]
        best, top = 0, 0.0
        for j in range(m.bins):
            run = 0.0
            for i in range(m.on_bins[p]):
                run += h[(j + i) % m.bins]
            if j == 0 or run > top:
                best, top = j, run
        for i in range(m.bins):
            on[i] = False
        if total >= m.min_total and top >= m.share * total \
                and mains_spread_khz(m, p, read, best) <= m.max_spread_khz:
            for i in range(m.on_bins[p]):
                on[(best + i) % m.bins] = True


cdef inline const char* strided_int64(object a, Py_ssize_t n, str name,
                                      Py_ssize_t* stride) except NULL:
    """Data pointer and byte stride of a 1-D int64 array of n entries (a column of a record
    array is strided)."""
    if not cnp.PyArray_Check(a) or cnp.PyArray_TYPE(<cnp.ndarray>a) != cnp.NPY_INT64:
        raise TypeError(f"{name} must be a numpy array of int64")
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != 1 or cnp.PyArray_DIM(<cnp.ndarray>a, 0) != n:
        raise ValueError(f"{name} must be 1-D with one entry per sweep")
    stride[0] = cnp.PyArray_STRIDE(<cnp.ndarray>a, 0)
    return <const char*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline object contiguous(object a, int typenum, str name):
    """a, copied C-contiguous if it is a strided view (a slice of a batch's reads)."""
    if not cnp.PyArray_Check(a) or cnp.PyArray_TYPE(<cnp.ndarray>a) != typenum:
        raise TypeError(f"{name} must be a numpy array of {cnp.PyArray_DescrFromType(typenum)}")
    return a if cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a) else np.ascontiguousarray(a)


cdef class HopperLooks:
    """The per-look state of one BandHoppers, in place in its owner's arrays: counts and site
    (float64, n_bins: the EWMAs of hits), power (float64: the EWMA of their mW), skip (bool,
    n_bins: the cells not counted), skirt_mw (float64: a hit under it is a piled Wi-Fi
    channel's skirts), ble_adv (bool), read_pos (int64: each cell's read position, the mains
    gate's estimated times), read_slots (int64, (2, n_bins): each cell's first and second
    read's slot of the sweep's 2 n_bins, the ring's times: protocol.read_slots), wifi_cells (bool, (n_channels,
    n_bins): each 2.4 GHz Wi-Fi channel's cells) and wifi_centres_khz (float64), and the ring of counted hits (ring_t int64, ring_cell int32,
    ring_mw float32, ring_over float32: the read over its threshold, ring_held bool, one
    capacity), freq_khz (float64, n_bins: each cell's frequency). The queue of looks not
    learnt and the starts of the longest window are the kernel's own (grown by doubling, never
    per look). The decision's settings are straja.detect.hoppers's constants, given by name
    (`decision`: windows_us ascending, lost_us, boot_sweeps, min_hits, max_link_per_sweep,
    span_level_ratio, noise_reach, min_span_khz, max_expected, pfa_window; the piled
    channels': pile_min_hits, window_pile_min_hits, pile_link_per_look, pile_ratio, skirt_khz, skirt_ratio, min_pile_span_khz; the mains gate's:
    mains_periods_us, phase_bins, on_bins, sync_share, phase_looks, oven_max_spread_khz, as
    MainsGate's); the
    reported hopper is `active` and report()."""
    cdef readonly Py_ssize_t n_bins, max_width, sweeps, head
    cdef readonly double weight, site_weight, rate, min_span_khz
    cdef double pfa_cell, decay, busy_min_hits, quiet_rate
    cdef float alpha
    cdef long long window_us, learn_delay_us
    cdef object _keep  # the owner's arrays, alive while their pointers are used
    # the decision's settings (straja.detect.hoppers: WINDOWS_US, LOST_US, ...)
    cdef long long windows[8]
    cdef Py_ssize_t n_windows, boot_sweeps, min_hits
    cdef long long lost_us
    cdef double max_link_per_sweep, full_span_khz, max_expected, pfa_window
    cdef double pile_min_hits, window_pile_min_hits, pile_link_per_look, pile_ratio, skirt_khz, skirt_ratio, min_pile_span_khz
    cdef double ht40_secondary_khz
    cdef long long pile_hold_us, learning_since, pile_since
    cdef bint learning            # a look learnt yet (since learning_since)
    cdef Py_ssize_t pile[2]       # the piled channels as capped (one access point's)...
    cdef Py_ssize_t n_pile        # ...how many (one access point's held since pile_since)
    # the longest window's own pile (ReferenceBandHoppers._window_pile), scratch: its cells,
    # its skirts' level a cell, the window's hits a cell, the pile's hits' mW, the quiet cells
    # outside it
    cdef unsigned char* win_piled
    cdef double* win_skirt_mw
    cdef double* win_per_cell
    cdef double* pile_mw
    cdef unsigned char* win_quiet
    # while a hopper is reported: the window's pile it was reported beside and its skirts
    cdef unsigned char* report_piled
    cdef double* report_skirt_mw
    cdef Py_ssize_t n_wifi
    cdef const unsigned char* wifi_cells
    cdef const double* wifi_centres_khz
    cdef float span_level_ratio, noise_reach
    cdef const double* freq_khz
    cdef double* lgamma_int     # lgamma(k), k = 0 .. capacity (a window holds at most that)
    # scratch of the decision: the longest window's hits in quiet cells, and a mark per cell
    cdef long long* win_t
    cdef int* win_cell
    cdef float* win_mw
    cdef float* win_over
    cdef unsigned char* win_skirt  # a window's pile's skirts (counted against one link's only)
    cdef unsigned char* cell_seen
    # the reported hopper (straja.detect.hoppers.Hopper's fields) and since when it is summed
    cdef readonly bint active, new_hits
    cdef readonly long long since_us
    cdef Py_ssize_t hop_hits, hop_channels, hop_held, reads
    cdef double hop_lo_khz, hop_hi_khz, hop_peak_mw, hop_expected
    cdef long long hop_t_last_us
    cdef double* counts
    cdef double* site
    cdef double* power
    cdef double* quiet_site  # scratch: the quiet cells' site counts, summed as NumPy does
    cdef unsigned char* free_cells  # scratch: the cells no piled channel took yet
    cdef unsigned char* skip
    cdef double* skirt_mw
    cdef const unsigned char* ble_adv
    cdef const long long* read_pos
    cdef const long long* read_slots
    cdef long long* ring_t
    cdef int* ring_cell
    cdef float* ring_mw
    cdef float* ring_over
    cdef unsigned char* ring_held
    cdef Py_ssize_t capacity
    # where a window's hits can be in the ring (_live_slots): written in order of sweeps from
    # ordered_from on (no hit earlier than any written before its sweep), at most
    # sweep_entries_max hits a sweep; the latest written time before this sweep, and of all
    cdef Py_ssize_t ordered_from, sweep_head, sweep_entries_max
    cdef long long t_max_before_sweep, t_max_written
    cdef long long* hits        # this look's narrow hits (all of them: the baseline's)
    cdef long long* hit_t       # their read times
    cdef unsigned char* hit_gated  # read in a mains-locked emitter's on-window (mains_gated)
    cdef unsigned char* hit_fed    # fed to the mains gate (not a BLE advertising cell)
    cdef double* hit_f_khz         # their frequencies from the plan's first channel's
    cdef Mains mains
    cdef long long* counted     # the ones in quiet cells
    cdef unsigned char* counted_held
    # queue of looks not learnt: start, a hopper reported after it, its hits (max_hits each)
    cdef long long* pend_t
    cdef unsigned char* pend_reported
    cdef int* pend_n
    cdef long long* pend_hit_t  # its hits' read times (max_hits each)...
    cdef unsigned char* pend_gated  # ...whether gated when read (Mains)...
    cdef unsigned char* pend_read   # ...and the read of the sweep it was
    cdef float* pend_mw             # its hits' mW (max_hits each)
    cdef int* pend_cells
    cdef Py_ssize_t pend_cap, pend_first, pend_len, max_hits
    cdef long long* starts      # ring of the starts of the looks in the longest window
    cdef Py_ssize_t starts_cap, starts_first, starts_len

    def __cinit__(self):
        self.quiet_site = NULL
        self.free_cells = NULL
        self.pend_mw = NULL
        self.lgamma_int = NULL
        self.win_t = NULL
        self.win_cell = NULL
        self.win_mw = self.win_over = NULL
        self.win_skirt = NULL
        self.cell_seen = NULL
        self.win_piled = self.win_quiet = self.report_piled = NULL
        self.win_skirt_mw = self.win_per_cell = self.pile_mw = self.report_skirt_mw = NULL
        self.hits = self.counted = self.hit_t = NULL
        self.hit_gated = self.hit_fed = NULL
        self.hit_f_khz = NULL
        self.counted_held = NULL
        self.pend_t = self.starts = NULL
        self.pend_reported = NULL
        self.pend_n = self.pend_cells = NULL
        self.pend_hit_t = NULL
        self.pend_gated = self.pend_read = NULL

    def __init__(self, double alpha, double pfa_cell, Py_ssize_t max_width,
                 counts, site, skip, ble_adv, read_pos, read_slots, ring_t, ring_cell, ring_mw,
                 ring_over, ring_held, freq_khz, power, skirt_mw, wifi_cells, wifi_centres_khz,
                 double weight, double site_weight, Py_ssize_t baseline_sweeps,
                 double busy_min_hits, double quiet_rate, long long learn_delay_us, *,
                 windows_us, long long lost_us, Py_ssize_t boot_sweeps, Py_ssize_t min_hits,
                 double max_link_per_sweep, double span_level_ratio, double noise_reach,
                 double min_span_khz, double max_expected, double pfa_window, mains_periods_us,
                 Py_ssize_t phase_bins, on_bins, double sync_share,
                 Py_ssize_t phase_looks, double oven_max_spread_khz, double pile_min_hits,
                 double window_pile_min_hits, double pile_link_per_look, double pile_ratio,
                 double skirt_khz, double skirt_ratio, double min_pile_span_khz,
                 double ht40_secondary_khz, long long pile_hold_us):
        cdef Py_ssize_t n = cnp.PyArray_DIM(<cnp.ndarray>counts, 0) if cnp.PyArray_Check(counts) else 0
        cdef Py_ssize_t k
        if n < 1 or max_width < 1 or baseline_sweeps < 1:
            raise ValueError("need n_bins >= 1, max_width >= 1 and baseline_sweeps >= 1")
        windows_us = tuple(windows_us)
        if not 1 <= len(windows_us) <= 8 or list(windows_us) != sorted(windows_us) \
                or windows_us[0] <= 0:
            raise ValueError("windows_us must be 1 to 8 positive windows, ascending")
        self.n_windows = len(windows_us)
        for k in range(self.n_windows):
            self.windows[k] = windows_us[k]
        self.lost_us, self.boot_sweeps, self.min_hits = lost_us, boot_sweeps, min_hits
        self.max_link_per_sweep, self.full_span_khz = max_link_per_sweep, min_span_khz
        self.min_span_khz = min_span_khz
        self.pile_min_hits, self.window_pile_min_hits = pile_min_hits, window_pile_min_hits
        self.pile_link_per_look = pile_link_per_look
        self.pile_ratio, self.skirt_khz, self.skirt_ratio = pile_ratio, skirt_khz, skirt_ratio
        self.min_pile_span_khz = min_pile_span_khz
        self.ht40_secondary_khz, self.pile_hold_us = ht40_secondary_khz, pile_hold_us
        self.max_expected, self.pfa_window = max_expected, pfa_window
        # float32, as NumPy compares the float32 readings with a Python float
        self.span_level_ratio, self.noise_reach = <float>span_level_ratio, <float>noise_reach
        self.n_bins, self.max_width = n, max_width
        self.alpha, self.pfa_cell = <float>alpha, pfa_cell
        self.decay = 1.0 - 1.0 / baseline_sweeps
        self.busy_min_hits, self.quiet_rate = busy_min_hits, quiet_rate
        self.window_us, self.learn_delay_us = self.windows[self.n_windows - 1], learn_delay_us
        self.weight, self.site_weight = weight, site_weight
        self.counts = <double*>array_data(counts, cnp.NPY_FLOAT64, 1, n, "counts")
        self.site = <double*>array_data(site, cnp.NPY_FLOAT64, 1, n, "site")
        self.skip = <unsigned char*>array_data(skip, cnp.NPY_BOOL, 1, n, "skip")
        self.ble_adv = <const unsigned char*>array_data(ble_adv, cnp.NPY_BOOL, 1, n, "ble_adv")
        self.read_pos = <const long long*>array_data(read_pos, cnp.NPY_INT64, 1, n, "read_pos")
        self.read_slots = <const long long*>array_data(read_slots, cnp.NPY_INT64, 2, n,
                                                       "read_slots")
        if rows(read_slots) != 2:
            raise ValueError("read_slots must have a row per read (2)")
        self.capacity = cnp.PyArray_DIM(<cnp.ndarray>ring_t, 0) if cnp.PyArray_Check(ring_t) else 0
        if self.capacity < 1:
            raise ValueError("the ring of hits needs a capacity >= 1")
        self.ring_t = <long long*>array_data(ring_t, cnp.NPY_INT64, 1, self.capacity, "ring_t")
        self.ring_cell = <int*>array_data(ring_cell, cnp.NPY_INT32, 1, self.capacity, "ring_cell")
        self.ring_mw = <float*>array_data(ring_mw, cnp.NPY_FLOAT32, 1, self.capacity, "ring_mw")
        self.ring_over = <float*>array_data(ring_over, cnp.NPY_FLOAT32, 1, self.capacity,
                                            "ring_over")
        self.ring_held = <unsigned char*>array_data(ring_held, cnp.NPY_BOOL, 1, self.capacity,
                                                    "ring_held")
        self.freq_khz = <const double*>array_data(freq_khz, cnp.NPY_FLOAT64, 1, n, "freq_khz")
        self.power = <double*>array_data(power, cnp.NPY_FLOAT64, 1, n, "power")
        self.skirt_mw = <double*>array_data(skirt_mw, cnp.NPY_FLOAT64, 1, n, "skirt_mw")
        self.wifi_cells = <const unsigned char*>array_data(wifi_cells, cnp.NPY_BOOL, 2, n,
                                                           "wifi_cells")
        self.n_wifi = rows(wifi_cells)
        self.wifi_centres_khz = <const double*>array_data(wifi_centres_khz, cnp.NPY_FLOAT64, 1,
                                                          self.n_wifi, "wifi_centres_khz")
        self._keep = (counts, site, skip, ble_adv, read_pos, read_slots, ring_t, ring_cell, ring_mw,
                      ring_over, ring_held, freq_khz, power, skirt_mw, wifi_cells, wifi_centres_khz)
        self.max_hits = (n + 1) // 2  # narrow runs are separated by a cold cell
        mains_init(&self.mains, mains_periods_us, phase_bins, on_bins, sync_share, phase_looks,
                   max_link_per_sweep, oven_max_spread_khz)
        self.hit_t = <long long*>malloc(self.max_hits * sizeof(long long))
        self.hit_f_khz = <double*>malloc(self.max_hits * sizeof(double))
        self.hit_gated = <unsigned char*>malloc(self.max_hits)
        self.hit_fed = <unsigned char*>malloc(self.max_hits)
        self.quiet_site = <double*>malloc(n * sizeof(double))
        self.free_cells = <unsigned char*>malloc(n)
        self.hits = <long long*>malloc(2 * self.max_hits * sizeof(long long))
        self.counted_held = <unsigned char*>malloc(self.max_hits)
        self.pend_cap, self.starts_cap = 256, 256
        self.pend_t = <long long*>malloc(self.pend_cap * sizeof(long long))
        self.pend_reported = <unsigned char*>malloc(self.pend_cap)
        self.pend_n = <int*>malloc(self.pend_cap * sizeof(int))
        self.pend_cells = <int*>malloc(self.pend_cap * self.max_hits * sizeof(int))
        self.pend_hit_t = <long long*>malloc(self.pend_cap * self.max_hits * sizeof(long long))
        self.pend_gated = <unsigned char*>malloc(self.pend_cap * self.max_hits)
        self.pend_read = <unsigned char*>malloc(self.pend_cap)
        self.pend_mw = <float*>malloc(self.pend_cap * self.max_hits * sizeof(float))
        self.starts = <long long*>malloc(self.starts_cap * sizeof(long long))
        cdef Py_ssize_t cap = self.capacity
        self.lgamma_int = <double*>malloc((cap + 1) * sizeof(double))
        self.win_t = <long long*>malloc(cap * sizeof(long long))
        self.win_cell = <int*>malloc(cap * sizeof(int))
        self.win_mw = <float*>malloc(cap * sizeof(float))
        self.win_over = <float*>malloc(cap * sizeof(float))
        self.win_skirt = <unsigned char*>malloc(cap)
        self.cell_seen = <unsigned char*>malloc(n)
        self.win_piled = <unsigned char*>malloc(n)
        self.win_quiet = <unsigned char*>malloc(n)
        self.report_piled = <unsigned char*>malloc(n)
        self.win_skirt_mw = <double*>malloc(n * sizeof(double))
        self.win_per_cell = <double*>malloc(n * sizeof(double))
        self.report_skirt_mw = <double*>malloc(n * sizeof(double))
        self.pile_mw = <double*>malloc(cap * sizeof(double))
        if (self.win_piled == NULL or self.win_quiet == NULL or self.report_piled == NULL
                or self.win_skirt_mw == NULL or self.win_per_cell == NULL
                or self.report_skirt_mw == NULL or self.pile_mw == NULL
                or self.win_skirt == NULL):
            raise MemoryError()
        if (self.quiet_site == NULL or self.free_cells == NULL or self.pend_mw == NULL
                or self.hits == NULL or self.counted_held == NULL
                or self.hit_t == NULL or self.hit_gated == NULL or self.hit_fed == NULL
                or self.hit_f_khz == NULL
                or self.pend_hit_t == NULL or self.pend_gated == NULL or self.pend_read == NULL
                or self.pend_t == NULL or self.pend_reported == NULL or self.pend_n == NULL
                or self.pend_cells == NULL or self.starts == NULL or self.lgamma_int == NULL
                or self.win_t == NULL or self.win_cell == NULL or self.win_mw == NULL
                or self.win_over == NULL or self.cell_seen == NULL):
            raise MemoryError()
        memset(self.cell_seen, 0, n)
        self._clear_report_pile()
        self.lgamma_int[0] = math.inf
        for k in range(1, cap + 1):
            self.lgamma_int[k] = math.lgamma(k)
        self.counted = self.hits + self.max_hits
        self.pend_first = self.pend_len = self.starts_first = self.starts_len = 0
        self.sweeps = self.head = 0
        self.ordered_from = self.sweep_head = self.sweep_entries_max = 0
        self.t_max_before_sweep = self.t_max_written = LLONG_MIN
        self.active = self.new_hits = False
        self.since_us = 0
        self.reads = 1
        self.learning = False
        self.learning_since = self.pile_since = 0
        self.n_pile = 0
        self._learnt(0)

    def __dealloc__(self):
        free(self.quiet_site)
        free(self.free_cells)
        free(self.pend_mw)
        free(self.hits)
        free(self.hit_t)
        free(self.hit_gated)
        free(self.hit_fed)
        free(self.hit_f_khz)
        free(self.counted_held)
        free(self.pend_hit_t)
        free(self.pend_gated)
        free(self.pend_read)
        free(self.pend_t)
        free(self.pend_reported)
        free(self.pend_n)
        free(self.pend_cells)
        free(self.starts)
        free(self.lgamma_int)
        free(self.win_t)
        free(self.win_cell)
        free(self.win_mw)
        free(self.win_over)
        free(self.win_skirt)
        free(self.cell_seen)
        free(self.win_piled)
        free(self.win_quiet)
        free(self.report_piled)
        free(self.win_skirt_mw)
        free(self.win_per_cell)
        free(self.report_skirt_mw)
        free(self.pile_mw)

    def report(self):
        """The reported hopper's fields, in the order of straja.detect.hoppers.Hopper, or None."""
        if not self.active:
            return None
        return (self.hop_hits, self.hop_channels, self.hop_lo_khz, self.hop_hi_khz,
                self.hop_t_last_us, self.hop_peak_mw, self.hop_expected, self.hop_held,
                self.reads)

    def window_starts(self):
        """The starts of the looks in the longest window (int64, oldest first)."""
        out = np.empty(self.starts_len, np.int64)
        cdef long long[::1] o = out
        cdef Py_ssize_t i
        for i in range(self.starts_len):
            o[i] = self.starts[(self.starts_first + i) % self.starts_cap]
        return out

    def mains_on(self):
        """The mains gate's on-windows (bool, (periods, reads, bins): MainsGate.on)."""
        out = np.zeros((MAINS_PERIODS, MAINS_READS, self.mains.bins), bool)
        cdef Py_ssize_t p, r, i
        for p in range(MAINS_PERIODS):
            for r in range(MAINS_READS):
                for i in range(self.mains.bins):
                    out[p, r, i] = self.mains.on[(p * MAINS_READS + r) * MAX_PHASE_BINS + i]
        return out

    @property
    def n_pending(self):
        """Looks queued, not learnt yet."""
        return self.pend_len

    def process(self, reads_mw, held_mw, noise_mw, t_us, duration_us):
        """Take sweeps (BandHoppers.process's arguments: reads float32 (n_reads, n_sweeps,
        n_bins), held reads and noise means float32 (n_sweeps, n_bins), starts and durations
        int64). Returns whether a hopper is reported after them; new_hits: whether it took
        hits in them."""
        cdef Py_ssize_t n = self.n_bins, ts, ds
        reads_mw = contiguous(reads_mw, cnp.NPY_FLOAT32, "reads_mw")
        held_mw = contiguous(held_mw, cnp.NPY_FLOAT32, "held_mw")
        noise_mw = contiguous(noise_mw, cnp.NPY_FLOAT32, "noise_mw")
        if cnp.PyArray_NDIM(<cnp.ndarray>reads_mw) != 3:
            raise ValueError("reads_mw must be a 3-D array (n_reads, n_sweeps, n_bins)")
        cdef const float* reads = <const float*>array_data(reads_mw, cnp.NPY_FLOAT32, 3, n,
                                                           "reads_mw")
        cdef Py_ssize_t n_reads = cnp.PyArray_DIM(<cnp.ndarray>reads_mw, 0)
        cdef Py_ssize_t n_sweeps = cnp.PyArray_DIM(<cnp.ndarray>reads_mw, 1)
        cdef const float* held = <const float*>array_data(held_mw, cnp.NPY_FLOAT32, 2, n,
                                                          "held_mw")
        cdef const float* noise = <const float*>array_data(noise_mw, cnp.NPY_FLOAT32, 2, n,
                                                           "noise_mw")
        if rows(held_mw) < n_sweeps or rows(noise_mw) < n_sweeps:
            raise ValueError("held_mw and noise_mw need a row per sweep of reads_mw")
        cdef const char* t = strided_int64(t_us, n_sweeps, "t_us", &ts)
        cdef const char* d = strided_int64(duration_us, n_sweeps, "duration_us", &ds)
        cdef Py_ssize_t k, r
        cdef long long t0, duration
        self.new_hits = False
        self.reads = n_reads
        for k in range(n_sweeps):
            t0, duration = (<const long long*>(t + k * ts))[0], (<const long long*>(d + k * ds))[0]
            for r in range(n_reads):
                self._look(reads + (r * n_sweeps + k) * n, held + k * n, noise + k * n, t0,
                           duration, r > 0)
            self.sweeps += 1
        return self.active

    cdef int _look(self, const float* single, const float* held, const float* noise,
                   long long t0, long long duration, bint again) except -1:
        cdef Py_ssize_t n = self.n_bins, i, s, best, n_hits = 0, n_counted = 0, slot
        cdef float a = self.alpha
        cdef long long c, now = t0 + duration
        cdef bint held_hit, own_hit = False
        if not again:
            self.sweep_head, self.t_max_before_sweep = self.head, self.t_max_written
        i = 0
        while i < n:  # runs of hot cells; the narrow ones' strongest cell is a hit
            if not single[i] > a * noise[i]:
                i += 1
                continue
            s = best = i
            while i < n and single[i] > a * noise[i]:
                if single[i] > single[best]:
                    best = i
                i += 1
            if i - s <= self.max_width:
                self.hits[n_hits] = best
                n_hits += 1
        for i in range(n_hits):
            # the read of channel i is at about t0 + position(i) duration / n (docs/protocol.md);
            # hits read in a mains-locked emitter's on-window are its own (not counted, not the
            # site's)
            c = self.hits[i]
            self.hit_t[i] = t0 + floor_div(self.read_pos[c] * duration, n)
            self.hit_gated[i] = mains_gated(&self.mains, again, self.hit_t[i])
            self.hit_fed[i] = not self.ble_adv[c]
            self.hit_f_khz[i] = self.freq_khz[c] - self.freq_khz[0]
        mains_feed(&self.mains, again, self.hit_t, self.hit_f_khz, self.hit_fed,
                   self.hit_gated, n_hits)
        for i in range(n_hits):
            c = self.hits[i]
            if self.skip[c] or self.hit_gated[i] or single[c] < self.skirt_mw[c]:
                continue
            held_hit = held[c] > a * noise[c]
            if again and held_hit:
                continue  # counted at the first read of this sweep
            self.counted[n_counted] = c
            self.counted_held[n_counted] = held_hit
            n_counted += 1
            # a hit of the window's pile a hopper was reported beside is not the hopper's
            own_hit = own_hit or not (self.report_piled[c] or single[c] < self.report_skirt_mw[c])
        for i in range(n_counted):
            c = self.counted[i]
            slot = (self.head + i) % self.capacity
            # its read's slot of the sweep's 2n (exact with the plan's revisit block)
            self.ring_t[slot] = t0 + floor_div(self.read_slots[again * n + c] * duration, 2 * n)
            self.ring_cell[slot] = <int>c
            self.ring_mw[slot] = single[c]
            self.ring_over[slot] = single[c] / (a * noise[c])
            self.ring_held[slot] = self.counted_held[i]
            if self.ring_t[slot] < self.t_max_before_sweep:
                self.ordered_from = self.head + n_counted  # (a node clock gone back)
            if self.ring_t[slot] > self.t_max_written:
                self.t_max_written = self.ring_t[slot]
        self.head += n_counted
        if self.head - self.sweep_head > self.sweep_entries_max:
            self.sweep_entries_max = self.head - self.sweep_head
        self._push_start(t0, now)
        if n_counted or self.active:
            self._decide(now, n_counted > 0, own_hit)
        self._queue(t0, n_hits, again, single)
        self._learn_until(now)
        return 0

    cdef void _clear_report_pile(self) noexcept:
        cdef Py_ssize_t i
        for i in range(self.n_bins):
            self.report_piled[i], self.report_skirt_mw[i] = 0, 0.0

    cdef void _live_slots(self, long long since, Py_ssize_t* first, Py_ssize_t* end) noexcept:
        """The ring's slots that can hold hits from `since`, ascending (the reference's order):
        [first[0], end[0]) then [first[1], end[1]). Every slot outside holds an older hit or
        none. Scanned back from the head, not the whole ring: a hit older than `since` written
        in sweep order is no later than any of its own sweep's; the sweeps before are all older."""
        cdef Py_ssize_t cap = self.capacity, oldest = self.head - cap, i = self.head
        if oldest < 0:
            oldest = 0
        cdef Py_ssize_t start = oldest
        while i > oldest:
            i -= 1
            if self.ring_t[i % cap] < since and i >= self.ordered_from:
                start = max(oldest, i - self.sweep_entries_max + 1)  # its sweep's first
                break
        cdef Py_ssize_t s0 = start % cap, s1 = self.head % cap
        if start == self.head:
            first[0] = end[0] = first[1] = end[1] = 0
        elif s0 < s1:
            first[0], end[0], first[1], end[1] = s0, s1, 0, 0
        else:  # wrapped (or the whole ring)
            first[0], end[0], first[1], end[1] = 0, s1, s0, cap

    cdef void _decide(self, long long now, bint hit, bint own_hit) noexcept:
        """ReferenceBandHoppers._decide: keep, update or drop the reported hopper, else test
        each window (shortest first) for a new one."""
        cdef Py_ssize_t i, j, m = 0, w, n_own = 0, n_quiet = 0, n_piled = 0, part
        cdef Py_ssize_t first[2]
        cdef Py_ssize_t end[2]
        cdef double expected, rate = self.rate, min_span_khz = self.min_span_khz
        if self.active:
            if now - self.hop_t_last_us > self.lost_us:
                self.active = False
                self._clear_report_pile()
            elif own_hit:
                self._summary(self.since_us, self.hop_expected)
                self.new_hits = True
            if self.active:
                return
        if self.sweeps < self.boot_sweeps or not hit:
            return
        # the longest window's hits in cells still quiet (cells that turned busy since their
        # hits were counted are not); the shorter windows' are among these
        cdef long long since = now - self.window_us
        self._live_slots(since, first, end)
        for part in range(2):
            for j in range(first[part], end[part]):
                if self.ring_t[j] >= since and not self.skip[self.ring_cell[j]]:
                    self.win_t[m], self.win_cell[m] = self.ring_t[j], self.ring_cell[j]
                    self.win_mw[m], self.win_over[m] = self.ring_mw[j], self.ring_over[j]
                    self.win_skirt[m] = 0
                    m += 1
        if self._window_pile(m):  # its hits out, its skirts' counted against one link's
            # only, the rate and span asked outside it
            for j in range(m):
                if not self.win_piled[self.win_cell[j]]:
                    self.win_t[n_own], self.win_cell[n_own] = self.win_t[j], self.win_cell[j]
                    self.win_mw[n_own], self.win_over[n_own] = self.win_mw[j], self.win_over[j]
                    self.win_skirt[n_own] = self.win_mw[j] < self.win_skirt_mw[self.win_cell[j]]
                    n_own += 1
            m = n_own
            if m > self.pile_link_per_look * self.starts_len:
                return  # more than one link's beside it: a busy site, not yet learnt
            for i in range(self.n_bins):
                self.win_quiet[i] = not self.skip[i] and not self.win_piled[i]
                n_quiet += self.win_quiet[i]
                n_piled += self.win_piled[i] and not self.ble_adv[i]
            rate = max(self._sum_of(self.site, self.win_quiet, NULL) / self.site_weight,
                       self.pfa_cell * n_quiet)
            min_span_khz = self._span_outside(n_piled)
        for w in range(self.n_windows):
            expected = self._test(now - self.windows[w], self.windows[w], m, rate, min_span_khz)
            if expected == expected:  # not NaN: a hopper
                for i in range(self.n_bins):
                    self.report_piled[i] = self.win_piled[i]
                    self.report_skirt_mw[i] = self.win_skirt_mw[i]
                self.since_us = now - self.windows[w]
                self._summary(self.since_us, expected)
                self.new_hits = True
                return

    cdef bint _window_pile(self, Py_ssize_t m) noexcept:
        """ReferenceBandHoppers._window_pile over the first m hits of the scratch window: its
        cells (win_piled) and skirts' level (win_skirt_mw); whether any."""
        cdef Py_ssize_t i, j, k, n_in, n = self.n_bins, n_capped
        cdef Py_ssize_t capped[2]
        cdef Py_ssize_t place_cells[4]  # (none, below, above, rest)
        cdef Py_ssize_t place_hits[4]
        cdef double level, lo = INFINITY, hi = -INFINITY, f
        cdef const unsigned char* block
        for i in range(n):
            self.win_piled[i], self.win_skirt_mw[i], self.win_per_cell[i] = 0, 0.0, 0.0
        if self.learning or m < self.window_pile_min_hits:
            return False
        for j in range(m):
            self.win_per_cell[self.win_cell[j]] += 1.0
        n_capped = self._capped_piles(self.win_per_cell, self.window_pile_min_hits, capped)
        for k in range(n_capped):
            block = self.wifi_cells + capped[k] * n
            n_in = 0
            for j in range(m):
                if block[self.win_cell[j]]:
                    self.pile_mw[n_in] = self.win_mw[j]
                    n_in += 1
            level = pairwise_sum(self.pile_mw, n_in) / n_in
            for i in range(n):
                if fabs(self.freq_khz[i] - self.wifi_centres_khz[capped[k]]) <= self.skirt_khz:
                    self.win_skirt_mw[i] = max(self.win_skirt_mw[i], level * self.skirt_ratio)
                if block[i]:
                    self.win_piled[i] = 1
        if n_capped == 0:
            return False
        for k in range(4):
            place_cells[k] = place_hits[k] = 0
        # each flank no denser than pile_ratio times the rest (skirts out; the rest's hits
        # counted with min_hits more)
        for i in range(n):
            if self.win_piled[i]:
                lo, hi = min(lo, self.freq_khz[i]), max(hi, self.freq_khz[i])
        for i in range(n):  # win_quiet: scratch, a cell's place (1 below, 2 above, 3 rest)
            f = self.freq_khz[i]
            self.win_quiet[i] = 0
            if not self.win_piled[i] and not self.ble_adv[i]:
                if lo - self.ht40_secondary_khz <= f < lo:
                    self.win_quiet[i] = 1
                elif hi < f <= hi + self.ht40_secondary_khz:
                    self.win_quiet[i] = 2
                else:
                    self.win_quiet[i] = 3
                place_cells[self.win_quiet[i]] += 1
        for j in range(m):
            if not self.win_mw[j] < self.win_skirt_mw[self.win_cell[j]]:
                place_hits[self.win_quiet[self.win_cell[j]]] += 1
        if place_hits[1] * place_cells[3] > self.pile_ratio * (place_hits[3] + self.min_hits) \
                * place_cells[1] or place_hits[2] * place_cells[3] > self.pile_ratio * (
                    place_hits[3] + self.min_hits) * place_cells[2]:
            for i in range(n):
                self.win_piled[i], self.win_skirt_mw[i] = 0, 0.0
            return False
        return True

    cdef double _span_outside(self, Py_ssize_t n_piled) noexcept:
        """ReferenceBandHoppers.span_outside, n_piled cells piled (not BLE advertising's)."""
        return max(self.min_pile_span_khz,
                   self.full_span_khz * (1.0 - <double>n_piled / self.n_bins))

    cdef double _test(self, long long since, long long window, Py_ssize_t m, double rate,
                      double min_span_khz) noexcept:
        """ReferenceBandHoppers._test on the first m hits of the scratch window: the hits the
        site's rate expects from `since` if the hits there are a hopper's, else NaN."""
        cdef Py_ssize_t j, n_hits = 0, n_all = 0, n_near = 0, n_sweeps = 0
        cdef float top = 0.0, level
        cdef double f, lo = 0.0, hi = 0.0, expected
        for j in range(m):
            if self.win_t[j] >= since:
                n_all += 1
                if self.win_skirt[j]:
                    continue
                if n_hits == 0 or self.win_mw[j] > top:
                    top = self.win_mw[j]
                n_hits += 1
        if n_hits < self.min_hits:
            return NAN
        for j in range(self.starts_len):
            if self.starts[(self.starts_first + j) % self.starts_cap] >= since:
                n_sweeps += 1
        if n_all > self.max_link_per_sweep * n_sweeps:
            return NAN  # (tested first: a busy site's many hits make the span's work long)
        # the span of the hits near the strongest (within span_level_ratio of it, over the
        # threshold by more than noise reaches)
        level = top * self.span_level_ratio
        for j in range(m):
            if self.win_t[j] >= since and not self.win_skirt[j] and self.win_mw[j] >= level \
                    and self.win_over[j] > self.noise_reach:
                f = self.freq_khz[self.win_cell[j]]
                if n_near == 0 or f < lo:
                    lo = f
                if n_near == 0 or f > hi:
                    hi = f
                n_near += 1
        if n_near < self.min_hits or hi - lo <= min_span_khz:
            return NAN
        expected = n_sweeps * rate
        if expected > self.max_expected * window / self.windows[0] \
                or not tail(n_hits, expected, self.lgamma_int[n_hits]) <= self.pfa_window:
            return NAN  # (a tail that did not converge, NaN, is no hopper either)
        return expected

    cdef inline bint _report_hit(self, Py_ssize_t j, long long since) noexcept:
        """Whether ring slot j is a hit of the hopper reported from `since`: counted since,
        not of the window's pile it was reported beside nor under that pile's skirts' level."""
        cdef int c = self.ring_cell[j]
        return self.ring_t[j] >= since and not (self.report_piled[c]
                                                or self.ring_mw[j] < self.report_skirt_mw[c])

    def report_hits(self, long long since):
        """ReferenceBandHoppers.report_hits: the ring's slots (bool) the hopper reported from
        `since` is made of."""
        out = np.zeros(self.capacity, np.uint8)
        cdef unsigned char[::1] o = out
        cdef Py_ssize_t j
        for j in range(self.capacity):
            o[j] = self._report_hit(j, since)
        return out.view(bool)

    cdef void _summary(self, long long since, double expected) noexcept:
        """ReferenceBandHoppers._summary: the hopper of the counted hits from `since` (all
        cells). With none there (a node's clock gone back) it is dropped, where the reference
        fails on an empty window."""
        cdef Py_ssize_t j, n_hits = 0, n_channels = 0, n_held = 0, part
        cdef Py_ssize_t first[2]
        cdef Py_ssize_t end[2]
        cdef int c
        cdef double f, lo = 0.0, hi = 0.0
        cdef float peak = 0.0
        cdef long long t_last = 0
        self._live_slots(since, first, end)
        for part in range(2):
            for j in range(first[part], end[part]):
                if not self._report_hit(j, since):
                    continue
                c = self.ring_cell[j]
                f = self.freq_khz[c]
                if n_hits == 0:
                    lo, hi, t_last, peak = f, f, self.ring_t[j], self.ring_mw[j]
                else:
                    lo, hi = (f if f < lo else lo), (f if f > hi else hi)
                    t_last = self.ring_t[j] if self.ring_t[j] > t_last else t_last
                    peak = self.ring_mw[j] if self.ring_mw[j] > peak else peak
                if not self.cell_seen[c]:
                    self.cell_seen[c] = 1
                    n_channels += 1
                n_held += self.ring_held[j]
                n_hits += 1
        for part in range(2):  # the marks cleared for the next summary
            for j in range(first[part], end[part]):
                if self.ring_t[j] >= since:
                    self.cell_seen[self.ring_cell[j]] = 0
        self.active = n_hits > 0
        self.hop_hits, self.hop_channels, self.hop_held = n_hits, n_channels, n_held
        self.hop_lo_khz, self.hop_hi_khz, self.hop_peak_mw = lo, hi, peak
        self.hop_t_last_us, self.hop_expected = t_last, expected

    cdef int _push_start(self, long long t0, long long now) except -1:
        if self.starts_len == self.starts_cap:
            self._grow_starts()
        self.starts[(self.starts_first + self.starts_len) % self.starts_cap] = t0
        self.starts_len += 1
        while self.starts_len and self.starts[self.starts_first] < now - self.window_us:
            self.starts_first = (self.starts_first + 1) % self.starts_cap
            self.starts_len -= 1
        return 0

    cdef int _grow_starts(self) except -1:
        cdef Py_ssize_t cap = 2 * self.starts_cap, i
        cdef long long* grown = <long long*>malloc(cap * sizeof(long long))
        if grown == NULL:
            raise MemoryError()
        for i in range(self.starts_len):
            grown[i] = self.starts[(self.starts_first + i) % self.starts_cap]
        free(self.starts)
        self.starts, self.starts_cap, self.starts_first = grown, cap, 0
        return 0

    cdef int _queue(self, long long t0, Py_ssize_t n_hits, bint again,
                    const float* single) except -1:
        cdef Py_ssize_t slot, i, m = self.max_hits
        if self.pend_len == self.pend_cap:
            self._grow_pending()
        slot = (self.pend_first + self.pend_len) % self.pend_cap
        self.pend_t[slot] = t0
        self.pend_reported[slot] = self.active
        self.pend_n[slot] = <int>n_hits
        self.pend_read[slot] = again
        for i in range(n_hits):
            self.pend_cells[slot * m + i] = <int>self.hits[i]
            self.pend_hit_t[slot * m + i] = self.hit_t[i]
            self.pend_gated[slot * m + i] = self.hit_gated[i]
            self.pend_mw[slot * m + i] = single[self.hits[i]]
        self.pend_len += 1
        return 0

    cdef int _grow_pending(self) except -1:
        """Doubles the queue, its oldest first (rare: a queue holds LEARN_DELAY of looks)."""
        cdef Py_ssize_t cap = 2 * self.pend_cap, i, j, m = self.max_hits
        cdef long long* t = <long long*>malloc(cap * sizeof(long long))
        cdef unsigned char* rep = <unsigned char*>malloc(cap)
        cdef int* nh = <int*>malloc(cap * sizeof(int))
        cdef int* cells = <int*>malloc(cap * m * sizeof(int))
        cdef long long* ht = <long long*>malloc(cap * m * sizeof(long long))
        cdef unsigned char* gated = <unsigned char*>malloc(cap * m)
        cdef unsigned char* read = <unsigned char*>malloc(cap)
        cdef float* mw = <float*>malloc(cap * m * sizeof(float))
        if t == NULL or rep == NULL or nh == NULL or cells == NULL or ht == NULL \
                or gated == NULL or read == NULL or mw == NULL:
            free(t)
            free(rep)
            free(nh)
            free(cells)
            free(ht)
            free(gated)
            free(read)
            free(mw)
            raise MemoryError()
        for i in range(self.pend_len):
            j = (self.pend_first + i) % self.pend_cap
            t[i], rep[i], nh[i] = self.pend_t[j], self.pend_reported[j], self.pend_n[j]
            read[i] = self.pend_read[j]
            memcpy(cells + i * m, self.pend_cells + j * m, m * sizeof(int))
            memcpy(ht + i * m, self.pend_hit_t + j * m, m * sizeof(long long))
            memcpy(gated + i * m, self.pend_gated + j * m, m)
            memcpy(mw + i * m, self.pend_mw + j * m, m * sizeof(float))
        free(self.pend_t)
        free(self.pend_reported)
        free(self.pend_n)
        free(self.pend_cells)
        free(self.pend_hit_t)
        free(self.pend_gated)
        free(self.pend_read)
        free(self.pend_mw)
        self.pend_mw = mw
        self.pend_t, self.pend_reported, self.pend_n, self.pend_cells = t, rep, nh, cells
        self.pend_hit_t, self.pend_gated, self.pend_read = ht, gated, read
        self.pend_cap, self.pend_first = cap, 0
        return 0

    cdef void _learn_until(self, long long now) noexcept:
        """Learns the queued looks that started learn_delay_us before now (into counts; into
        site too when no hopper was reported after them), then remakes what follows if any."""
        cdef Py_ssize_t j, i, k, n = self.n_bins
        cdef long long before = now - self.learn_delay_us
        cdef const int* cells
        cdef bint learnt = False
        while self.pend_len and self.pend_t[self.pend_first] < before:
            j = self.pend_first
            cells = self.pend_cells + j * self.max_hits
            k = j * self.max_hits
            for i in range(n):
                self.power[i] *= self.decay
                self.counts[i] *= self.decay
            for i in range(self.pend_n[j]):
                self.power[cells[i]] += self.pend_mw[k + i]
                self.counts[cells[i]] += 1.0
            self.weight = self.weight * self.decay + 1.0
            if not self.pend_reported[j]:
                for i in range(n):
                    self.site[i] *= self.decay
                for i in range(self.pend_n[j]):  # not the hits gated when read or now, nor
                    # a piled channel's skirts
                    if not (self.pend_gated[k + i] or mains_gated(
                            &self.mains, self.pend_read[j], self.pend_hit_t[k + i])
                            or self.pend_mw[k + i] < self.skirt_mw[cells[i]]):
                        self.site[cells[i]] += 1.0
                self.site_weight = self.site_weight * self.decay + 1.0
            self.pend_first = (j + 1) % self.pend_cap
            self.pend_len -= 1
            learnt = True
        if learnt:
            if not self.learning:
                self.learning, self.learning_since = True, now
            self._learnt(now)

    cdef double _sum_of(self, const double* a, const unsigned char* cells,
                        const unsigned char* also) noexcept:
        """The sum of a over the cells marked in cells (and in also, unless NULL), as NumPy
        sums a boolean selection."""
        cdef Py_ssize_t i, m = 0
        for i in range(self.n_bins):
            if cells[i] and (also == NULL or also[i]):
                self.quiet_site[m] = a[i]
                m += 1
        return pairwise_sum(self.quiet_site, m)

    cdef Py_ssize_t _next_pile(self, const double* hits, double min_hits) noexcept:
        """ReferenceBandHoppers.piled_channels' next channel among the free cells (hits: a
        cell's), or -1."""
        cdef Py_ssize_t i, j, best = -1, n_inside = 0, n_rest = 0, n = self.n_bins
        cdef double most = 0.0, total, rest
        cdef const unsigned char* block
        for j in range(self.n_wifi):
            total = self._sum_of(hits, self.wifi_cells + j * n, self.free_cells)
            if total > most:
                best, most = j, total
        if best < 0 or most < min_hits:
            return -1
        block = self.wifi_cells + best * n
        for i in range(n):
            if self.free_cells[i]:
                if block[i]:
                    n_inside += 1
                else:
                    self.quiet_site[n_rest] = hits[i]
                    n_rest += 1
        rest = pairwise_sum(self.quiet_site, n_rest)
        if most * n_rest <= self.pile_ratio * rest * n_inside:
            return -1
        return best

    cdef Py_ssize_t _capped_piles(self, const double* hits, double min_hits,
                                  Py_ssize_t* capped) noexcept:
        """ReferenceBandHoppers.one_access_point(piled_channels(hits)) into capped (two), in
        channel order; returns how many (0-2)."""
        cdef Py_ssize_t i, j, n = self.n_bins, n_found = 0, n_capped = 0
        cdef Py_ssize_t found[2]  # (piles after two: the same answer)
        cdef const unsigned char* block
        capped[0] = capped[1] = -1
        for i in range(n):
            self.free_cells[i] = not self.ble_adv[i]
        while n_found < 2:
            j = self._next_pile(hits, min_hits)
            if j < 0:
                break
            found[n_found] = j
            n_found += 1
            block = self.wifi_cells + j * n
            for i in range(n):
                if block[i]:
                    self.free_cells[i] = 0
        # one access point's (ReferenceBandHoppers.one_access_point), in channel order
        if n_found == 1 or (n_found == 2 and fabs(
                self.wifi_centres_khz[found[0]] - self.wifi_centres_khz[found[1]])
                <= self.ht40_secondary_khz):
            n_capped = n_found
            capped[0] = min(found[0], found[n_found - 1])
            capped[1] = max(found[0], found[n_found - 1])
        return n_capped

    cdef void _learnt(self, long long now) noexcept:
        """ReferenceBandHoppers._learnt: the piled Wi-Fi channels (one access point's, held)
        and their skirts' level, the cells not counted (busy, BLE advertising or piled), the
        span a hopper must show and the rate of hits the quiet cells give per learnt sweep."""
        cdef Py_ssize_t i, j, k, m = 0, n = self.n_bins, n_piled = 0, n_capped
        cdef Py_ssize_t capped[2]
        cdef double c, level
        cdef const unsigned char* block
        n_capped = self._capped_piles(self.site, self.pile_min_hits, capped)
        for i in range(n):
            self.skirt_mw[i] = 0.0
        if not self.learning or now - self.learning_since < self.learn_delay_us:
            n_capped = 0
        if (n_capped > 0) != (self.n_pile > 0):
            self.pile_since = now
        self.n_pile, self.pile[0], self.pile[1] = n_capped, capped[0], capped[1]
        for i in range(n):
            self.free_cells[i] = not self.ble_adv[i]
        for k in range(self.n_pile if now - self.pile_since >= self.pile_hold_us else 0):
            j = self.pile[k]
            block = self.wifi_cells + j * n
            level = self._sum_of(self.power, block, NULL) \
                / max(self._sum_of(self.counts, block, NULL), 1.0)
            for i in range(n):
                if fabs(self.freq_khz[i] - self.wifi_centres_khz[j]) <= self.skirt_khz:
                    self.skirt_mw[i] = max(self.skirt_mw[i], level * self.skirt_ratio)
                if block[i]:
                    self.free_cells[i] = 0
        for i in range(n):
            c = self.counts[i]
            # piled: a channel's cells taken (the free cells are all but BLE advertising's)
            self.skip[i] = ((c >= self.busy_min_hits and c > self.quiet_rate * self.weight)
                            or self.ble_adv[i] or not self.free_cells[i])
            n_piled += not self.ble_adv[i] and not self.free_cells[i]
        self.min_span_khz = self._span_outside(n_piled)
        for i in range(n):
            if not self.skip[i]:
                self.quiet_site[m] = self.site[i]
                m += 1
        self.rate = max(pairwise_sum(self.quiet_site, m) / self.site_weight, self.pfa_cell * m)


cdef float CODE_MW[256]
fill_code_mw(CODE_MW)


cdef inline bint hot_at(const unsigned char* codes, const float* noise, float a,
                        Py_ssize_t i) noexcept nogil:
    return CODE_MW[codes[i]] > a * noise[i]


cdef void mark_wide_runs(const unsigned char* codes, const float* noise, float a, Py_ssize_t n,
                         Py_ssize_t max_cells, unsigned char* wide) noexcept nogil:
    """wide_runs of one read's row, or-ed into wide: a cell is in a run when hot, or between
    two hot cells."""
    cdef Py_ssize_t i = 0, start, j
    while i < n:
        if not (hot_at(codes, noise, a, i) or (0 < i < n - 1 and hot_at(codes, noise, a, i - 1)
                                              and hot_at(codes, noise, a, i + 1))):
            i += 1
            continue
        start = i
        i += 1
        while i < n and (hot_at(codes, noise, a, i) or (i < n - 1 and hot_at(codes, noise, a, i - 1)
                                                         and hot_at(codes, noise, a, i + 1))):
            i += 1
        if i - start > max_cells:
            for j in range(start, i):
                wide[j] = 1


cdef Py_ssize_t clear_pieces(unsigned char* det, const unsigned char* wide, Py_ssize_t n,
                             Py_ssize_t max_cells) noexcept nogil:
    """wide_frame_pieces of one row, cleared: runs of detections at most max_cells wide whose
    every cell is wide. Returns the cells cleared."""
    cdef Py_ssize_t i = 0, start, j, cleared = 0
    cdef bint inside
    while i < n:
        if not det[i]:
            i += 1
            continue
        start, inside = i, True
        while i < n and det[i]:
            inside = inside and wide[i]
            i += 1
        if inside and i - start <= max_cells:
            for j in range(start, i):
                det[j] = 0
            cleared += i - start
    return cleared


cdef struct Reads:
    unsigned char* det
    const unsigned char* single
    const unsigned char* second
    const float* noise
    Py_ssize_t n_sweeps, n


cdef int read_args(Reads* r, det, single, second, noise_mw) except -1:
    """The data of clear_wide_pieces' and clear_speckled_pieces' arrays, checked."""
    r.n = cnp.PyArray_DIM(<cnp.ndarray>det, 1) if cnp.PyArray_Check(det) else 0
    r.det = <unsigned char*>array_data(det, cnp.NPY_UINT8, 2, -1, "det")
    r.single = <const unsigned char*>array_data(single, cnp.NPY_UINT8, 2, r.n, "single")
    r.second = NULL
    r.noise = <const float*>array_data(noise_mw, cnp.NPY_FLOAT32, 2, r.n, "noise_mw")
    r.n_sweeps = rows(det)
    if second is not None:
        r.second = <const unsigned char*>array_data(second, cnp.NPY_UINT8, 2, r.n, "second")
        if rows(second) != r.n_sweeps:
            raise ValueError("second must have the shape of det")
    if rows(single) != r.n_sweeps or rows(noise_mw) != r.n_sweeps:
        raise ValueError("single, noise_mw and det must have the same shape")
    return 0


def clear_wide_pieces(det, single, second, noise_mw, double alpha, Py_ssize_t max_cells):
    """straja.detect.pipeline's wide_frame_pieces cleared from det, in place: det (uint8
    detections of the held reads), single and second (uint8 codes of the first and second
    reads; second None when the node does not send them), noise_mw (float32 noise mean), all
    (n_sweeps, n_bins). A read is hot above alpha x the noise mean; its runs wider than
    max_cells (a cold cell between two hot ones bridged, wide_runs) are wide; a run of held
    detections at most max_cells wide inside wide runs of the reads is a piece of a wider
    frame. Returns the detected cells cleared."""
    cdef Reads r
    read_args(&r, det, single, second, noise_mw)
    cdef Py_ssize_t n = r.n
    if max_cells < 1:
        raise ValueError("max_cells must be at least 1")
    if n == 0:
        return 0
    cdef unsigned char* wide = <unsigned char*>malloc(n)
    if wide == NULL:
        raise MemoryError()
    cdef Py_ssize_t k, i, cleared = 0
    cdef float a = <float>alpha
    with nogil:
        for k in range(r.n_sweeps):
            for i in range(n):
                wide[i] = 0
            mark_wide_runs(r.single + k * n, r.noise + k * n, a, n, max_cells, wide)
            if r.second != NULL:
                mark_wide_runs(r.second + k * n, r.noise + k * n, a, n, max_cells, wide)
            cleared += clear_pieces(r.det + k * n, wide, n, max_cells)
    free(wide)
    return cleared


cdef Py_ssize_t hot_between(const unsigned char* codes, const float* noise, float a,
                            Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i, count = 0
    for i in range(lo, hi):
        count += hot_at(codes, noise, a, i)
    return count


cdef bint speckled_around(const unsigned char* codes, const float* noise, float a, Py_ssize_t n,
                          Py_ssize_t first, Py_ssize_t last, Py_ssize_t reach,
                          Py_ssize_t min_hot) noexcept nogil:
    """At least min_hot hot cells of the read within reach cells of the run first..last, the
    run and a cell either side left out."""
    cdef Py_ssize_t lo = max(0, first - reach), hi = min(n, last + 1 + reach)
    return (hot_between(codes, noise, a, lo, max(lo, first - 1))
            + hot_between(codes, noise, a, min(hi, last + 2), hi)) >= min_hot


def clear_speckled_pieces(det, single, second, noise_mw, double alpha, Py_ssize_t max_cells,
                          Py_ssize_t reach, Py_ssize_t min_hot):
    """straja.detect.pipeline's speckled_frame_pieces cleared from det, in place (its arguments
    as clear_wide_pieces'; reach and min_hot as speckled_frame_pieces'): a run of held
    detections at most max_cells wide with at least min_hot other hot cells within reach cells
    in one of its reads. Returns the detected cells cleared."""
    cdef Reads r
    read_args(&r, det, single, second, noise_mw)
    cdef Py_ssize_t n = r.n
    if max_cells < 1 or reach < 0:
        raise ValueError("max_cells must be at least 1 and reach at least 0")
    cdef Py_ssize_t k, i, start, j, o, cleared = 0
    cdef float a = <float>alpha
    with nogil:
        for k in range(r.n_sweeps):
            o = k * n
            i = 0
            while i < n:
                if not r.det[o + i]:
                    i += 1
                    continue
                start = i
                while i < n and r.det[o + i]:
                    i += 1
                if i - start <= max_cells and (
                        speckled_around(r.single + o, r.noise + o, a, n, start, i - 1, reach,
                                        min_hot)
                        or (r.second != NULL and speckled_around(r.second + o, r.noise + o, a, n,
                                                                 start, i - 1, reach, min_hot))):
                    for j in range(start, i):
                        r.det[o + j] = 0
                    cleared += i - start
    return cleared
