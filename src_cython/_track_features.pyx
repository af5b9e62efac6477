# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Per-track features of tracker snapshot rows, with each track's excess over the noise: what
straja.detect.tracks.features followed by tracks.with_excess compute (they stay the definition
and this module's test oracle), in one pass of C over the rows.

The live gateway classifies one or two tracks at a time, where those NumPy functions' thirty
array operations cost tens of µs for a single row. The records are read and written by field
name (offsets taken from the dtypes, once per dtype), so a field added to the tracker's records
does not move what is read here; a field missing or of another type is a TypeError.
"""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, isnan, log10, log10f, rint, sqrt
from libc.string cimport memcpy

cnp.import_array()

# (name, numpy type) of the fields read from the tracker's TRACK records...
TRACK_FIELDS = (
    ("track_id", "<i8"), ("state", "<i4"), ("n_bursts", "<i4"), ("n_channels", "<i4"),
    ("n_hops", "<i4"), ("n_long_stays", "<i4"), ("t_first_us", "<i8"), ("t_last_end_us", "<i8"), ("f_min_khz", "<f8"),
    ("f_max_khz", "<f8"), ("f_min2_khz", "<f8"), ("f_max2_khz", "<f8"), ("bw_sum_khz", "<f8"),
    ("dwell_sum_us", "<f8"),
    ("ivl_sum_us", "<f8"), ("ivl_sq_us2", "<f8"), ("peak_mw", "<f8"), ("centre_db_sum", "<f8"),
    ("level_db", "<f8"), ("level_jump_sq_db2", "<f8"), ("clock_cos", "(6,)<f8"),
    ("clock_sin", "(6,)<f8"))
# ...and written to the FEATURES records: every field of them (a field added there is a
# TypeError here until this module computes it)
FEATURE_FIELDS = (
    ("track_id", "<i8"), ("state", "<i4"), ("n_bursts", "<i4"), ("n_channels", "<i4"),
    ("centre_khz", "<f8"), ("spread_khz", "<f8"), ("trimmed_spread_khz", "<f8"),
    ("bandwidth_khz", "<f8"), ("dwell_us", "<f8"), ("interval_us", "<f8"), ("interval_cv", "<f8"), ("rate_hz", "<f8"), ("duty", "<f8"),
    ("hop_fraction", "<f8"), ("long_stay_fraction", "<f8"), ("centre_db", "<f8"),
    ("level_sd_db", "<f8"), ("peak_dbm", "<f8"), ("age_us", "<f8"), ("excess_db", "<f8"), ("busy_before", "<f8"), ("cut_share", "<f8"),
    ("streak", "<f8"), ("streak_sd_db", "<f8"), ("clock_z", "<f8"))

# indices into the offsets of TRACK_FIELDS (T_) and FEATURE_FIELDS (F_), in their order
cdef enum:
    T_ID, T_STATE, T_N_BURSTS, T_N_CHANNELS, T_N_HOPS, T_N_LONG_STAYS, T_FIRST, T_LAST_END, T_F_MIN, T_F_MAX
    T_F_MIN2, T_F_MAX2, T_BW_SUM, T_DWELL_SUM, T_IVL_SUM, T_IVL_SQ, T_PEAK_MW, T_CENTRE_DB_SUM, T_LEVEL_DB, T_JUMP_SQ
    T_CLOCK_COS, T_CLOCK_SIN, N_TRACK_FIELDS
    N_CLOCKS = 6  # the tracker's packet periods (straja._tracks.CLOCK_PERIODS_S)
cdef enum:
    F_ID, F_STATE, F_N_BURSTS, F_N_CHANNELS, F_CENTRE, F_SPREAD, F_TRIMMED, F_BANDWIDTH, F_DWELL, F_INTERVAL
    F_INTERVAL_CV, F_RATE, F_DUTY, F_HOP_FRACTION, F_LONG_STAY_FRACTION, F_CENTRE_DB, F_LEVEL_SD, F_PEAK_DBM, F_AGE
    F_EXCESS, F_BUSY_BEFORE, F_CUT_SHARE, F_STREAK, F_STREAK_SD, F_CLOCK_Z, N_FEATURE_FIELDS
assert len(TRACK_FIELDS) == N_TRACK_FIELDS and len(FEATURE_FIELDS) == N_FEATURE_FIELDS

# (dtype, field list) -> tuple of field offsets, in the order of the field list
cdef dict _offsets = {}


cdef int offsets(Py_ssize_t* out, object dtype, tuple wanted, str name, bint every) except -1:
    """out[k] = the offset of the k-th wanted field in dtype; every: they must be all of its
    fields."""
    key = (dtype, id(wanted))  # the field lists are this module's constants
    found = _offsets.get(key)
    if found is None:
        fields = dtype.fields or {}
        if every and len(fields) != len(wanted):
            raise TypeError(f"{name} must have exactly the fields "
                            f"{', '.join(f for f, _ in wanted)} (dtype {dtype})")
        found = []
        for field, kind in wanted:
            if field not in fields or fields[field][0] != np.dtype(kind):
                raise TypeError(f"{name} must have a field {field!r} of type {kind} "
                                f"(dtype {dtype})")
            found.append(fields[field][1])
        found = _offsets[key] = tuple(found)
    cdef Py_ssize_t k
    for k in range(len(wanted)):
        out[k] = found[k]
    return 0


cdef char* records(object a, Py_ssize_t n, str name) except NULL:
    if not cnp.PyArray_Check(a) or cnp.PyArray_NDIM(<cnp.ndarray>a) != 1 \
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
        raise TypeError(f"{name} must be a C-contiguous 1-D record array")
    if n >= 0 and cnp.PyArray_DIM(<cnp.ndarray>a, 0) != n:
        raise ValueError(f"{name} must have {n} rows")
    return <char*>cnp.PyArray_DATA(<cnp.ndarray>a)


# Records are packed (FEATURES rows are 180 bytes): fields are read and written with memcpy,
# which the compiler makes plain loads and stores where the CPU allows unaligned ones
cdef inline double f8(const char* row, Py_ssize_t at) noexcept nogil:
    cdef double v
    memcpy(&v, row + at, 8)
    return v


cdef inline long long i8(const char* row, Py_ssize_t at) noexcept nogil:
    cdef long long v
    memcpy(&v, row + at, 8)
    return v


cdef inline int i4(const char* row, Py_ssize_t at) noexcept nogil:
    cdef int v
    memcpy(&v, row + at, 4)
    return v


cdef inline void put(char* row, Py_ssize_t at, double v) noexcept nogil:
    memcpy(row + at, &v, 8)


cdef inline void put_i8(char* row, Py_ssize_t at, long long v) noexcept nogil:
    memcpy(row + at, &v, 8)


cdef inline void put_i4(char* row, Py_ssize_t at, int v) noexcept nogil:
    memcpy(row + at, &v, 4)


cdef inline double nan_max(double a, double b) noexcept nogil:
    """numpy.maximum: NaN if either is."""
    return a if isnan(a) or a >= b else b


cdef inline double nan_min(double a, double b) noexcept nogil:
    """numpy.minimum: NaN if either is."""
    return a if isnan(a) or a <= b else b


cdef inline Py_ssize_t channel(double centre_khz, double start_khz, double step_khz,
                               Py_ssize_t n_bins) noexcept nogil:
    """numpy.clip(numpy.rint((centre - start) / step).astype(int64), 0, n_bins - 1); a value no
    int64 holds (NaN, inf) converts to the lowest int64 there (x86-64), so to channel 0."""
    cdef double x = rint((centre_khz - start_khz) / step_khz)
    if not (-9.2e18 < x < 9.2e18):
        return 0
    cdef long long c = <long long>x
    return 0 if c < 0 else (n_bins - 1 if c > n_bins - 1 else c)


def features(tracks, out, noise_mw, double start_khz, double step_khz):
    """Fill `out` (FEATURES records, one per row of `tracks`, TRACK records) with each track's
    features; excess_db over the noise mean at its centre channel (`noise_mw`, float32 per
    channel from start_khz, step_khz apart), NaN with no channels or a step of 0."""
    cdef const char* src = records(tracks, -1, "tracks")
    cdef Py_ssize_t n = cnp.PyArray_DIM(<cnp.ndarray>tracks, 0)
    cdef char* dst = records(out, n, "out")
    if not cnp.PyArray_Check(noise_mw) or cnp.PyArray_NDIM(<cnp.ndarray>noise_mw) != 1 \
            or cnp.PyArray_TYPE(<cnp.ndarray>noise_mw) != cnp.NPY_FLOAT32:
        raise TypeError("noise_mw must be a 1-D float32 array")
    cdef Py_ssize_t n_bins = cnp.PyArray_DIM(<cnp.ndarray>noise_mw, 0)
    cdef Py_ssize_t noise_stride = cnp.PyArray_STRIDE(<cnp.ndarray>noise_mw, 0)
    cdef const char* noise_data = <const char*>cnp.PyArray_DATA(<cnp.ndarray>noise_mw)
    cdef Py_ssize_t s[N_TRACK_FIELDS]
    cdef Py_ssize_t d[N_FEATURE_FIELDS]
    cdef Py_ssize_t i
    offsets(s, tracks.dtype, TRACK_FIELDS, "tracks", False)
    offsets(d, out.dtype, FEATURE_FIELDS, "out", True)
    cdef Py_ssize_t src_size = tracks.dtype.itemsize, dst_size = out.dtype.itemsize
    cdef const char* r
    cdef char* w
    cdef double nb, gaps, mean_ivl, var, age, centre, z, c, sn
    cdef int k
    cdef float level, noise_at
    cdef bint excess = n_bins > 0 and step_khz > 0
    with nogil:
        for i in range(n):
            r = src + i * src_size
            w = dst + i * dst_size
            put_i8(w, d[F_ID], i8(r, s[T_ID]))
            put_i4(w, d[F_STATE], i4(r, s[T_STATE]))
            put_i4(w, d[F_N_BURSTS], i4(r, s[T_N_BURSTS]))
            put_i4(w, d[F_N_CHANNELS], i4(r, s[T_N_CHANNELS]))
            nb = i4(r, s[T_N_BURSTS])
            gaps = nb - 1
            centre = 0.5 * (f8(r, s[T_F_MIN]) + f8(r, s[T_F_MAX]))
            put(w, d[F_CENTRE], centre)
            put(w, d[F_SPREAD], f8(r, s[T_F_MAX]) - f8(r, s[T_F_MIN]))
            put(w, d[F_TRIMMED], nan_min(f8(r, s[T_F_MAX]) - f8(r, s[T_F_MIN2]),
                                         f8(r, s[T_F_MAX2]) - f8(r, s[T_F_MIN]))
                if f8(r, s[T_F_MIN2]) <= f8(r, s[T_F_MAX]) else NAN)
            put(w, d[F_BANDWIDTH], f8(r, s[T_BW_SUM]) / nb)
            put(w, d[F_DWELL], f8(r, s[T_DWELL_SUM]) / nb)
            mean_ivl = f8(r, s[T_IVL_SUM]) / gaps if gaps > 0 else NAN
            var = nan_max(f8(r, s[T_IVL_SQ]) / gaps - mean_ivl * mean_ivl, 0.0)
            put(w, d[F_INTERVAL], mean_ivl)
            put(w, d[F_INTERVAL_CV], sqrt(var) / mean_ivl)
            put(w, d[F_RATE], 1e6 / mean_ivl)
            age = <double>(i8(r, s[T_LAST_END]) - i8(r, s[T_FIRST]))
            put(w, d[F_AGE], age)
            put(w, d[F_DUTY], nan_min(f8(r, s[T_DWELL_SUM]) / age, 1.0))
            put(w, d[F_HOP_FRACTION], i4(r, s[T_N_HOPS]) / gaps if gaps > 0 else NAN)
            put(w, d[F_LONG_STAY_FRACTION], i4(r, s[T_N_LONG_STAYS]) / gaps if gaps > 0 else NAN)
            put(w, d[F_CENTRE_DB], f8(r, s[T_CENTRE_DB_SUM]) / nb)
            put(w, d[F_LEVEL_SD], sqrt(f8(r, s[T_JUMP_SQ]) / (2 * gaps)))
            put(w, d[F_PEAK_DBM], 10 * log10(f8(r, s[T_PEAK_MW])))
            if excess:  # float32 like numpy's log10 of the float32 noise, then float64
                memcpy(&noise_at, noise_data + noise_stride * channel(centre, start_khz, step_khz,
                                                                      n_bins), 4)
                level = 10.0 * log10f(noise_at)
                put(w, d[F_EXCESS], f8(r, s[T_LEVEL_DB]) - <double>level)
            else:
                put(w, d[F_EXCESS], NAN)
            put(w, d[F_BUSY_BEFORE], NAN)  # the pipeline's steadiness split knows them:
            put(w, d[F_CUT_SHARE], NAN)    # tracks.with_history
            put(w, d[F_STREAK], NAN)
            put(w, d[F_STREAK_SD], NAN)
            z = 0.0  # Rayleigh's statistic n R^2 at the most clocked period (tracks.features)
            for k in range(N_CLOCKS):
                c = f8(r, s[T_CLOCK_COS] + 8 * k)
                sn = f8(r, s[T_CLOCK_SIN] + 8 * k)
                z = nan_max(z, (c * c + sn * sn) / nb)
            put(w, d[F_CLOCK_Z], z)
    return out


cdef const char* channel_array(object a, int typenum, Py_ssize_t n, str name) except NULL:
    """Data of a 1-D C-contiguous array of n entries of the numpy type typenum (one per
    channel)."""
    if not cnp.PyArray_Check(a) or cnp.PyArray_NDIM(<cnp.ndarray>a) != 1 \
            or cnp.PyArray_TYPE(<cnp.ndarray>a) != typenum \
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
        raise TypeError(f"{name} must be a C-contiguous 1-D array of "
                        f"{cnp.PyArray_DescrFromType(typenum)}")
    if cnp.PyArray_DIM(<cnp.ndarray>a, 0) != n:
        raise ValueError(f"{name} must have one entry per channel ({n})")
    return <const char*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline Py_ssize_t span_end(double x, Py_ssize_t n_bins) noexcept nogil:
    """numpy.clip(numpy.rint(x), 0, n_bins - 1).astype(intp) for x not NaN."""
    x = rint(x)
    return 0 if x < 0 else (n_bins - 1 if x > n_bins - 1 else <Py_ssize_t>x)


# FEATURES fields with_history writes, and TRACK fields it reads, in their lists' order
cdef enum:
    H_BUSY_BEFORE, H_CUT_SHARE, H_STREAK, H_STREAK_SD, N_HISTORY_FIELDS
cdef enum:
    S_N_BURSTS, S_F_MIN, S_F_MAX, S_BW_SUM, S_F_LAST, N_SPAN_FIELDS
HISTORY_FIELDS = (("busy_before", "<f8"), ("cut_share", "<f8"), ("streak", "<f8"),
                  ("streak_sd_db", "<f8"))
SPAN_FIELDS = (("n_bursts", "<i4"), ("f_min_khz", "<f8"), ("f_max_khz", "<f8"),
               ("bw_sum_khz", "<f8"), ("f_last_khz", "<f8"))
assert len(HISTORY_FIELDS) == N_HISTORY_FIELDS and len(SPAN_FIELDS) == N_SPAN_FIELDS


def history(feats, tracks, busy_before, cut_share, streak, streak_sq, double start_khz,
            double step_khz):
    """straja.detect.tracks.with_history, in place in `feats` (FEATURES records, one per row of
    `tracks`, TRACK records), from the steadiness split's per-channel arrays as it keeps them:
    busy_before and cut_share (float64), streak (int32: hot sweeps running) and streak_sq
    (float64: the sum of the squared changes of its readings over the streak), n channels
    from start_khz, step_khz apart. streak_sd_db is sqrt(streak_sq / (2 (streak - 1))), NaN
    under 2 sweeps, taken at each track's last burst's channel only (with_history takes it per
    channel). Nothing is written with no rows or a step <= 0 (nor NaN). A track whose extent
    is NaN covers no channel (cut_share 0); numpy's casts of it are undefined."""
    cdef const char* src = records(tracks, -1, "tracks")
    cdef Py_ssize_t n = cnp.PyArray_DIM(<cnp.ndarray>tracks, 0)
    cdef char* dst = records(feats, n, "feats")
    if not cnp.PyArray_Check(streak) or cnp.PyArray_NDIM(<cnp.ndarray>streak) != 1:
        raise TypeError("streak must be a 1-D array of int32")
    cdef Py_ssize_t n_bins = cnp.PyArray_DIM(<cnp.ndarray>streak, 0)
    if n_bins < 1:
        raise ValueError("the per-channel arrays need at least one channel")
    cdef const int* run = <const int*>channel_array(streak, cnp.NPY_INT32, n_bins, "streak")
    cdef const double* run_sq = <const double*>channel_array(streak_sq, cnp.NPY_FLOAT64, n_bins,
                                                             "streak_sq")
    cdef const double* before = <const double*>channel_array(busy_before, cnp.NPY_FLOAT64,
                                                             n_bins, "busy_before")
    cdef const double* cut = <const double*>channel_array(cut_share, cnp.NPY_FLOAT64, n_bins,
                                                          "cut_share")
    if n == 0 or not step_khz > 0:
        return feats
    cdef Py_ssize_t s[N_SPAN_FIELDS]
    cdef Py_ssize_t d[N_HISTORY_FIELDS]
    cdef Py_ssize_t i, c, lo, hi
    offsets(s, tracks.dtype, SPAN_FIELDS, "tracks", False)
    offsets(d, feats.dtype, HISTORY_FIELDS, "feats", False)
    cdef Py_ssize_t src_size = tracks.dtype.itemsize, dst_size = feats.dtype.itemsize
    cdef const char* r
    cdef char* w
    cdef double f_min, f_max, half, x_lo, x_hi, top, v
    cdef int sweeps
    with nogil:
        for i in range(n):
            r = src + i * src_size
            w = dst + i * dst_size
            f_min, f_max = f8(r, s[S_F_MIN]), f8(r, s[S_F_MAX])
            c = channel(f8(r, s[S_F_LAST]), start_khz, step_khz, n_bins)
            put(w, d[H_BUSY_BEFORE], before[c])
            sweeps = run[c]
            put(w, d[H_STREAK], <double>sweeps)
            put(w, d[H_STREAK_SD], sqrt(run_sq[c] / (2 * (<double>sweeps - 1)))
                if sweeps >= 2 else NAN)
            # tracks.channel_span: half a mean burst bandwidth beyond the extent, in channels
            half = 0.5 * f8(r, s[S_BW_SUM]) / i4(r, s[S_N_BURSTS])
            x_lo = (f_min - half - start_khz) / step_khz + 0.5
            x_hi = (f_max + half - start_khz) / step_khz - 0.5
            top = 0.0  # tracks.range_max: the largest over the span, 0 if none (NaN if any is)
            if not (isnan(x_lo) or isnan(x_hi)):
                lo, hi = span_end(x_lo, n_bins), span_end(x_hi, n_bins)
                for c in range(lo, hi + 1):
                    v = cut[c]
                    if isnan(v) or v > top:
                        top = v
                        if isnan(v):
                            break
            put(w, d[H_CUT_SHARE], top)
    return feats
