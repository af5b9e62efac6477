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
from libc.math cimport floor


cdef inline Py_ssize_t _first_above(list a, double x):
    """bisect.bisect_right(a, x): the first index whose value exceeds x."""
    cdef Py_ssize_t lo = 0, hi = len(a), mid
    cdef double v
    while lo < hi:
        mid = (lo + hi) >> 1
        v = a[mid]
        if x < v:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline Py_ssize_t _first_not_below(list a, double x):
    """bisect.bisect_left(a, x): the first index whose value is x or more."""
    cdef Py_ssize_t lo = 0, hi = len(a), mid
    cdef double v
    while lo < hi:
        mid = (lo + hi) >> 1
        v = a[mid]
        if v < x:
            lo = mid + 1
        else:
            hi = mid
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
            m = _first_above(t1s, t0_s)
            m_end = _first_not_below(t0s, t1_s)
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
