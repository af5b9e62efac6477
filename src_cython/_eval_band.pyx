# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""A node's received energy in one band over one window: straja.sim.receiver.NodeRF._sum (the
plain Python loop, the test oracle, tests/test_sim_receiver.py) in C, for the evaluation's fast
path, which reads a band a few hundred thousand times a node-hour. The same terms in the same
order with the same double arithmetic: for each stream reaching the band (the receiver's
`sources` list), each of its blocks the window can reach (its lookback), each transmission
overlapping the window (binary search over the block's sorted, non-overlapping start and end
times), the power times the overlap times the spectral fraction (memoised per stream, centre and
width, as the plain loop does: `fraction` computes one); so the readings are the plain loop's,
bit for bit. The blocks come from the receiver's cache (`cache`, or `block(e, s, k)` makes one).
"""
from libc.math cimport exp, floor, log, log10, sqrt
from random import LOG4 as _LOG4, SG_MAGICCONST as _SG_MAGICCONST

cdef double LOG4 = _LOG4, SG_MAGICCONST = _SG_MAGICCONST  # random.gammavariate's constants


cdef inline Py_ssize_t _bisect(list a, double x, bint right):
    """bisect.bisect_right(a, x) (right: the first index whose value exceeds x), else
    bisect.bisect_left(a, x) (the first whose value is x or more)."""
    cdef Py_ssize_t lo = 0, hi = len(a), mid
    cdef double v
    while lo < hi:
        mid = (lo + hi) >> 1
        v = a[mid]
        if x < v or (x == v and not right):
            hi = mid
        else:
            lo = mid + 1
    return lo


def band_energy(list sources, dict cache, block, double lo, double hi, double t0_s, double t1_s,
                double block_s, fraction, Py_ssize_t fractions_max):
    """The energy (mW s) of `sources` ((e, s, stream, fractions) per stream) in [lo, hi] Hz
    over [t0_s, t1_s]."""
    cdef double energy = 0.0, end, start, frac
    cdef Py_ssize_t k, k0, k1, m, m_end
    cdef list t0s, t1s, fs, bws, ps
    cdef dict fractions
    k1 = <Py_ssize_t>floor(t1_s / block_s)
    if k1 < 0:
        k1 = 0
    for source in sources:
        e, s, st, fractions = source
        k0 = <Py_ssize_t>floor((t0_s - <double>st.lookback_s) / block_s)
        if k0 < 0:
            k0 = 0
        for k in range(k0, k1 + 1):
            rb = cache.get((e, s, k))
            if rb is None:
                rb = block(e, s, k)
            t0s, t1s = rb.t0, rb.t1
            m = _bisect(t1s, t0_s, True)
            m_end = _bisect(t0s, t1_s, False)
            if m >= m_end:
                continue
            fs, bws, ps = rb.f, rb.bw, rb.p
            while m < m_end:
                key = (fs[m], bws[m])
                cached = fractions.get(key)
                if cached is None:
                    if len(fractions) >= fractions_max:  # a stream of ever new centres
                        fractions.clear()
                    cached = fractions[key] = fraction(st.shape, fs[m], bws[m], lo, hi,
                                                       st.sidelobe)
                frac = cached
                end = t1s[m]  # min(t1_s, end), max(t0_s, start) as the plain loop takes them
                if not end < t1_s:
                    end = t1_s
                start = t0s[m]
                if not start > t0_s:
                    start = t0_s
                energy += <double>ps[m] * (end - start) * frac
                m += 1
    return energy


cdef class BandPower:
    """A band's mean received power in dBm over a window, noise included: the function
    straja.sim.receiver.NodeRF.band returns (its Python form: tests/test_sim_receiver.py), called
    (t0_s, t1_s); a window with t1 <= t0 is an instantaneous read, taken as `instant_s`."""

    cdef list sources
    cdef dict cache
    cdef object block, fraction
    cdef double lo, hi, noise_mw, block_s, instant_s
    cdef Py_ssize_t fractions_max

    def __init__(self, list sources, dict cache, block, double lo, double hi, double noise_mw,
                 double block_s, double instant_s, fraction, Py_ssize_t fractions_max):
        self.sources, self.cache, self.block = sources, cache, block
        self.lo, self.hi, self.noise_mw = lo, hi, noise_mw
        self.block_s, self.instant_s = block_s, instant_s
        self.fraction, self.fractions_max = fraction, fractions_max

    def __call__(self, double t0_s, double t1_s):
        return self.power(t0_s, t1_s)

    cdef double power(self, double t0_s, double t1_s) except? -1e300:
        cdef double energy
        if not t0_s + self.instant_s <= t1_s:  # max(t1_s, t0_s + instant_s), as Python takes it
            t1_s = t0_s + self.instant_s
        energy = band_energy(self.sources, self.cache, self.block, self.lo, self.hi, t0_s, t1_s,
                             self.block_s, self.fraction, self.fractions_max)
        return 10.0 * log10(energy / (t1_s - t0_s) + self.noise_mw)


cdef class GammaDb:
    """10 log10 of a Gamma(k, 1/k) draw from `rand` (a random.Random's random), k >= 1: the
    draws and the arithmetic of random.gammavariate(k, 1 / k) (CPython's Cheng algorithm, the
    same rand() calls in the same order; tests/test_vboard_chips.py holds it to that), the
    constants of k computed once (straja.vboard.chips.gamma_db makes one per chip window)."""

    cdef object rand
    cdef double k, beta, ainv, bbb, ccc

    def __init__(self, rand, double k):
        if not k >= 1.0:
            raise ValueError(f"gamma_db: k must be >= 1, got {k}")
        self.rand, self.k, self.beta = rand, k, 1.0 / k
        self.ainv = sqrt(2.0 * k - 1.0)
        self.bbb = k - LOG4
        self.ccc = k + self.ainv

    def __call__(self):
        return self.draw()

    cdef double draw(self) except? -1e300:
        cdef double u1, u2, v, x, z, r
        if self.k == 1.0:
            return 10.0 * log10(-log(1.0 - <double>self.rand()) * self.beta)
        while True:
            u1 = self.rand()
            if not (1e-7 < u1 < 0.9999999):
                continue
            u2 = 1.0 - <double>self.rand()
            v = log(u1 / (1.0 - u1)) / self.ainv
            x = self.k * exp(v)
            z = u1 * u1 * u2
            r = self.bbb + self.ccc * v - x
            if r + SG_MAGICCONST - 4.5 * z >= 0.0 or r >= log(z):
                return 10.0 * log10(x * self.beta)


cdef class ChipReading:
    """A chip's reading of a band at t: its mean power over the window before t plus the
    scatter's draw (straja.vboard.chips.Chip.reader's function of t, in C when its parts are)."""

    cdef BandPower band
    cdef double window_s
    cdef GammaDb scatter

    def __init__(self, BandPower band, double window_s, GammaDb scatter):
        self.band, self.window_s, self.scatter = band, window_s, scatter

    def __call__(self, double t):
        cdef double power = self.band.power(t - self.window_s, t)  # then the draw, as in Python
        return power + self.scatter.draw()
