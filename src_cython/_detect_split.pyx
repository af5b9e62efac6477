# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Steadiness split (docs/detection.md, "Steadiness split"; the settings are
straja.detect.pipeline's SPLIT_* and HISTORY_*): per bin of one plan, its hot streak, mean hot
reading, jitter and history, and the cuts they call for between detected neighbours. The NumPy
reference is straja.detect.reference.SteadinessSplit (the test oracle); both work in float64.

Per sweep, for each detected (hot) bin: its reading in dB; its jitter, an EWMA at `rate` of the
change of its reading from the hot sweep before (set by the first change, kept when its streak
had ended); its history `busy_before` (the share of sweeps it was hot in, an EWMA at
1 / history_sweeps unbiased by its start at 0, when a streak begins; NaN before history_min
sweeps), and the sum of the squared changes of its reading over its current streak
(`streak_sq`, set to 0 when a streak begins); then every bin's streak (hot sweeps running, up
to streak_cap) and the hot bins' mean hot reading (EWMA at `rate`, set by the first). A
detected bin b starts a run of its own where the detected bin a before it lies within gap + 1
bins and
- their streaks are `ratio` or more apart, the longer at least min_sweeps, and the bin with the
  shorter streak is at least as strong when hot or began its streak with its other hot
  neighbour (within gap + 1 bins: a newcomer lit two bins wide, a channel of its own, where a
  carrier's weaker skirt lit later is one bin); or
- their jitters (both known) are `ratio` or more apart, the larger at least jitter_db, and the
  jitterier bin is at least as strong when hot; or
- a cut was made there in the sweep before and both bins' jitters (known) are under jitter_db:
  two steady emitters once told apart (a video carrier that came on beside another) stay apart
  while both stay hot and steady, though their streaks grow alike (`held`: the bins whose cut is
  held, cleared when either side goes cold or turns jittery); or
- a dip lies between them: a bin (one of the cold bins between them, or a hot bin between a and
  the bin before it or b and the bin after it, all hot) whose signal is `dip` (a power ratio) or
  more under the signals of both hot bins beside it, both steady carriers (hot for min_sweeps
  sweeps running or more, jitters known and under jitter_db: a bursty access point's bins come
  and go, and read steady near the floor, where its swings compress). One channel read through
  the filter has one peak; a dip between two steady peaks is where two carriers' skirts meet.
  A bin's signal is its mean hot reading (0 if never hot)
  less the band's floor (the lower median of the sweep's `noise` over the bins: a bin's own
  noise estimate learns a steady carrier on it; none given: 0): a bin of a bursty emitter, cold
  now, reads as strong as the rest when its frames light it, and is no dip. A hot dip stays with
  its stronger neighbour: the cut is on its weaker side (the left on a tie). Neither held (the
  levels tell it afresh every sweep) nor counted in `cut_share`: each side is an emitter of its
  own, not a piece of a wider one.
Per bin too, `cut_share`: the share of sweeps it was beside a cut (an EWMA at 1 / history_sweeps):
a piece cut from a wider run (part of a wide access point) rather than an emitter on its own.
And the bin's lower envelope over sweeps as a run: `standing`, the sweeps running it was detected
at `stand` (a power ratio) or more times the band's floor (every hot bin, no floor given), and
`up_before`, the share of sweeps it stood in (an EWMA at 1 / history_sweeps, unbiased as
`busy_before`) when that run began (NaN before history_min sweeps). A run of n sweeps is n
sweeps whose lowest reading stood there; `up_before ** n` is its chance as a run of the bin's
past (docs/detection.md, "Video under an access point's frames"); and `stood`, which of the last
64 sweeps it stood in (bit k: k sweeps ago), so that a run is judged against its neighbours'
standing over the same sweeps.
"""
import numpy as np  # for the included helpers
from libc.math cimport NAN, fabs, log10, pow

include "_detect_common.pxi"


cdef class SteadinessSplit:
    cdef readonly Py_ssize_t n_bins, min_sweeps, streak_cap, history_min, sweeps
    cdef readonly double ratio, jitter_db, rate, history_sweeps, dip, stand
    cdef readonly object streak, streak_sq, hot_mw, last_db, jitter, busy, busy_before, cut_share
    cdef readonly object held, standing, up, up_before, stood  # numpy
    cdef object _idx, _mark, _sorted
    cdef int* st
    cdef double* hot
    cdef double* last
    cdef double* jit
    cdef double* sq
    cdef double* bz
    cdef double* before
    cdef double* cs
    cdef int* sd
    cdef double* upw
    cdef double* upb
    cdef unsigned long long* sb
    cdef double* srt  # the sweep's noise, sorted (the band's floor)
    cdef double floor  # the band's floor this sweep
    cdef unsigned char* mark  # the bins beside a cut in this sweep
    cdef unsigned char* hold  # 1: a cut at this bin in the sweep before (2: in this sweep)
    cdef Py_ssize_t* idx  # the hot bins of a sweep

    def __cinit__(self, Py_ssize_t n_bins, double ratio, Py_ssize_t min_sweeps, double jitter_db,
                  double rate, Py_ssize_t streak_cap, double history_sweeps,
                  Py_ssize_t history_min, double dip, double stand):
        if n_bins < 1 or not (ratio > 0 and 0 < rate <= 1 and history_sweeps >= 1 and dip >= 1
                              and stand >= 1):
            raise ValueError("need n_bins >= 1, ratio > 0, 0 < rate <= 1, history_sweeps >= 1, "
                             "dip >= 1, stand >= 1")
        if streak_cap < 1 or streak_cap > 0x7FFFFFFF:
            raise ValueError("streak_cap must be within 1 .. 2^31 - 1")
        self.n_bins, self.ratio, self.min_sweeps, self.jitter_db = n_bins, ratio, min_sweeps, jitter_db
        self.rate, self.streak_cap = rate, streak_cap
        self.history_sweeps, self.history_min, self.dip = history_sweeps, history_min, dip
        self.stand = stand
        self.standing = np.zeros(n_bins, np.int32)
        self.up = np.zeros(n_bins)
        self.up_before = np.full(n_bins, np.nan)
        self.sd = <int*>cnp.PyArray_DATA(<cnp.ndarray>self.standing)
        self.upw = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.up)
        self.upb = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.up_before)
        self.stood = np.zeros(n_bins, np.uint64)
        self.sb = <unsigned long long*>cnp.PyArray_DATA(<cnp.ndarray>self.stood)
        self.streak = np.zeros(n_bins, np.int32)
        self.streak_sq = np.zeros(n_bins)
        self.sq = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.streak_sq)
        self.hot_mw = np.zeros(n_bins)                 # 0: never detected yet
        self.last_db = np.zeros(n_bins)                # its last hot reading
        self.jitter = np.full(n_bins, np.nan)          # NaN: no two hot sweeps running yet
        self.busy = np.zeros(n_bins)
        self.busy_before = np.full(n_bins, np.nan)
        self.cut_share = np.zeros(n_bins)
        self.held = np.zeros(n_bins, np.uint8)
        self._sorted = np.zeros(n_bins)
        self.srt = <double*>cnp.PyArray_DATA(<cnp.ndarray>self._sorted)
        self.hold = <unsigned char*>cnp.PyArray_DATA(<cnp.ndarray>self.held)
        self._idx = np.zeros(n_bins, np.intp)
        self._mark = np.zeros(n_bins, np.uint8)
        self.cs = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.cut_share)
        self.mark = <unsigned char*>cnp.PyArray_DATA(<cnp.ndarray>self._mark)
        self.st = <int*>cnp.PyArray_DATA(<cnp.ndarray>self.streak)
        self.hot = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.hot_mw)
        self.last = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.last_db)
        self.jit = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.jitter)
        self.bz = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.busy)
        self.before = <double*>cnp.PyArray_DATA(<cnp.ndarray>self.busy_before)
        self.idx = <Py_ssize_t*>cnp.PyArray_DATA(<cnp.ndarray>self._idx)

    @property
    def settings(self):
        """The constructor's arguments after n_bins (the reference takes them too)."""
        return (self.ratio, self.min_sweeps, self.jitter_db, self.rate, self.streak_cap,
                self.history_sweeps, self.history_min, self.dip, self.stand)

    def cuts(self, det, power, noise, cut, Py_ssize_t gap):
        """Fill `cut` (uint8, the shape of det) for the burst extractor from a batch of sweeps:
        det (uint8 detections), power and noise (float32 mW; noise None: no floor known), all
        (n_sweeps, n_bins); returns cut."""
        cdef Py_ssize_t n = self.n_bins
        cdef const unsigned char* d = <const unsigned char*>array_data(det, cnp.NPY_UINT8, 2, n, "det")
        cdef const float* p = <const float*>array_data(power, cnp.NPY_FLOAT32, 2, n, "power")
        cdef const float* m = NULL
        cdef unsigned char* c = <unsigned char*>array_data(cut, cnp.NPY_UINT8, 2, n, "cut")
        cdef Py_ssize_t s, n_sweeps = rows(det)
        if noise is not None:
            m = <const float*>array_data(noise, cnp.NPY_FLOAT32, 2, n, "noise")
        if rows(power) != n_sweeps or rows(cut) != n_sweeps or \
                (noise is not None and rows(noise) != n_sweeps):
            raise ValueError("det, power, noise and cut must have the same shape")
        with nogil:
            for s in range(n_sweeps):
                self.floor = 0.0 if m == NULL else self._lower_median(m + s * n)
                self._one(d + s * n, p + s * n, c + s * n, gap)
        return cut

    def quiet(self, Py_ssize_t n_sweeps):
        """n_sweeps sweeps with nothing detected: every streak and run standing ends, every bin
        was cold."""
        cdef Py_ssize_t b
        cdef double keep = pow(1.0 - 1.0 / self.history_sweeps, <double>n_sweeps)
        for b in range(self.n_bins):
            self.st[b] = 0
            self.sd[b] = 0
            self.sb[b] = self.sb[b] << n_sweeps if n_sweeps < 64 else 0
            self.upw[b] *= keep
            self.hold[b] = 0
            self.bz[b] *= keep
            self.cs[b] *= keep
        self.sweeps += n_sweeps

    cdef bint _same_streak(self, Py_ssize_t j, Py_ssize_t b, Py_ssize_t gap,
                           Py_ssize_t n_hot) noexcept nogil:
        """Whether the j-th hot bin lies within gap + 1 bins of bin b and began its streak with
        it (a run lit two bins wide at once)."""
        if j < 0 or j >= n_hot:
            return False
        cdef Py_ssize_t c = self.idx[j]
        return (c - b if c > b else b - c) <= gap + 1 and self.st[c] == self.st[b]

    cdef double _lower_median(self, const float* noise) noexcept nogil:
        """The ((n_bins - 1) // 2)-th smallest of a sweep's noise (insertion sort: a plan of
        channel-wide bins has a few tens)."""
        cdef Py_ssize_t i, j
        cdef double v
        for i in range(self.n_bins):
            v = <double>noise[i]
            j = i
            while j > 0 and self.srt[j - 1] > v:
                self.srt[j] = self.srt[j - 1]
                j -= 1
            self.srt[j] = v
        return self.srt[(self.n_bins - 1) // 2]

    cdef double _signal(self, Py_ssize_t b) noexcept nogil:
        """Bin b's mean hot reading less the band's floor."""
        return self.hot[b] - self.floor

    cdef bint _dip(self, Py_ssize_t m, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
        """Whether bin m is a dip between hot bins a and b: their signals both positive and
        `dip` times its or more, both steady carriers (streaks of min_sweeps or more, jitters
        known and under jitter_db)."""
        cdef double sm = self.dip * self._signal(m), sa = self._signal(a), sb = self._signal(b)
        return (sa > 0 and sb > 0 and sa >= sm and sb >= sm
                and self.st[a] >= self.min_sweeps and self.st[b] >= self.min_sweeps
                and self.jit[a] < self.jitter_db and self.jit[b] < self.jitter_db)

    cdef bint _hot_dip(self, Py_ssize_t j, Py_ssize_t n_hot) noexcept nogil:
        """Whether the j-th hot bin is a dip between the bins either side of it, both hot (a
        hot bin beside a cold one is a flank: the cold one is the lower)."""
        if j < 1 or j >= n_hot - 1:
            return False
        cdef Py_ssize_t a = self.idx[j - 1], m = self.idx[j], b = self.idx[j + 1]
        return m - a == 1 and b - m == 1 and self._dip(m, a, b)

    cdef bint _dip_between(self, Py_ssize_t i, Py_ssize_t n_hot) noexcept nogil:
        """Whether a dip lies between the (i-1)-th and i-th hot bins: a cold bin between them,
        or either of them a hot dip whose other neighbour is the stronger."""
        cdef Py_ssize_t a = self.idx[i - 1], b = self.idx[i], m
        for m in range(a + 1, b):
            if self._dip(m, a, b):
                return True
        if self._hot_dip(i, n_hot) and self._signal(self.idx[i + 1]) > self._signal(a):
            return True
        return self._hot_dip(i - 1, n_hot) and \
            self._signal(self.idx[i - 2]) >= self._signal(b)

    cdef void _one(self, const unsigned char* det, const float* power, unsigned char* cut,
                   Py_ssize_t gap) noexcept nogil:
        cdef Py_ssize_t i, a, b, n_hot = 0, n = self.n_bins
        cdef double db, change, known, fresh = 1.0 / self.history_sweeps, h, pw
        cdef double ja, jb, larger, smaller
        cdef long long sa, sb, longer
        cdef bint by_streak, by_jitter, stronger, kept
        known = 1.0 - pow(1.0 - fresh, <double>self.sweeps)
        for b in range(n):
            cut[b] = 0
            self.mark[b] = 0
            if det[b]:
                self.idx[n_hot] = b
                n_hot += 1
        for i in range(n_hot):
            b = self.idx[i]
            pw = <double>power[b]
            db = 10.0 * log10(pw if pw > 1e-30 else 1e-30)
            if self.st[b] > 0:  # hot in the sweep before too
                change = fabs(db - self.last[b])
                self.jit[b] = change if self.jit[b] != self.jit[b] else \
                    self.jit[b] + self.rate * (change - self.jit[b])
                self.sq[b] += change * change
            else:
                self.sq[b] = 0.0
                self.before[b] = self.bz[b] / known if self.sweeps >= self.history_min else NAN
            self.last[b] = db
        for b in range(n):
            self.bz[b] *= 1.0 - fresh
            self.st[b] = 0 if not det[b] else (self.st[b] + 1 if self.st[b] < self.streak_cap
                                              else self.streak_cap)
            if det[b] and <double>power[b] >= self.stand * self.floor:
                if self.sd[b] == 0:
                    self.upb[b] = self.upw[b] / known if self.sweeps >= self.history_min else NAN
                self.sd[b] = self.sd[b] + 1 if self.sd[b] < self.streak_cap else self.streak_cap
                self.upw[b] = self.upw[b] * (1.0 - fresh) + fresh
                self.sb[b] = (self.sb[b] << 1) | 1
            else:
                self.sd[b] = 0
                self.upw[b] *= 1.0 - fresh
                self.sb[b] = self.sb[b] << 1
        for i in range(n_hot):
            b = self.idx[i]
            self.bz[b] += fresh
            h, pw = self.hot[b], <double>power[b]
            self.hot[b] = h + self.rate * (pw - h) if h > 0 else pw
        self.sweeps += 1
        for i in range(1, n_hot):
            a, b = self.idx[i - 1], self.idx[i]
            if b - a > gap + 1:
                continue
            sa, sb = self.st[a], self.st[b]
            stronger = self.hot[a] >= self.hot[b] if sa < sb else self.hot[b] >= self.hot[a]
            if not stronger and sa != sb:  # a newcomer two bins wide is no skirt
                stronger = (self._same_streak(i + 1, b, gap, n_hot) if sb < sa
                            else self._same_streak(i - 2, a, gap, n_hot))
            longer = sa if sa > sb else sb
            by_streak = (longer >= self.ratio * <double>(sa if sa < sb else sb)
                         and longer >= self.min_sweeps and stronger)
            ja, jb = self.jit[a], self.jit[b]
            by_jitter = kept = False
            if ja == ja and jb == jb:
                larger, smaller = (ja, jb) if ja > jb else (jb, ja)
                stronger = self.hot[a] >= self.hot[b] if ja > jb else self.hot[b] >= self.hot[a]
                by_jitter = larger >= self.jitter_db and larger >= self.ratio * smaller and stronger
                kept = self.hold[b] == 1 and larger < self.jitter_db
            if by_streak or by_jitter or kept:
                cut[b] = 1
                self.mark[a] = self.mark[b] = 1
                self.hold[b] = 2
            elif self._dip_between(i, n_hot):
                cut[b] = 1
        for b in range(n):
            self.cs[b] = self.cs[b] * (1.0 - fresh) + (fresh if self.mark[b] else 0.0)
            self.hold[b] = self.hold[b] >> 1
