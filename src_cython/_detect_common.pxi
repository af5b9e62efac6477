# Helpers shared by the detection kernels (included, so they inline into each module).

cimport numpy as cnp
from libc.math cimport exp, log

cnp.import_array()


cdef inline void fill_code_mw(float* table) noexcept:
    """table[c] = linear power in mW of RSSI code c (protocol SWEEP: dBm = c / 2 - 140), for
    all 256 codes: the kernels that take codes convert them by this table."""
    cdef double ln10_10 = log(10.0) / 10.0
    cdef int c
    for c in range(256):
        table[c] = <float>exp(ln10_10 * (c * 0.5 - 140.0))


# A burst: connected detections in one node's time-frequency plane (straja._detect_bursts makes
# them, straja._tracks groups them). The numpy dtype below must match the struct field by field.
cdef packed struct Burst:
    long long t_start_us    # start of the first sweep holding the burst
    long long t_end_us      # end of the last sweep holding it
    int bin_lo              # lowest and highest bin over the burst's life
    int bin_hi
    int n_sweeps            # sweeps from its first to its last (gaps included)
    int n_cells             # detected cells
    int peak_bin
    float peak_mw
    float mean_mw
    float centre_mw         # mean of the detected cells in the middle third of each run:
                            # ~mean_mw for a flat-topped spectrum, above it for a peaked one
    double centre_khz       # middle of the bin extent
    double bandwidth_khz    # bin extent x channel step

BURST_DTYPE = np.dtype([("t_start_us", "i8"), ("t_end_us", "i8"), ("bin_lo", "i4"),
                        ("bin_hi", "i4"), ("n_sweeps", "i4"), ("n_cells", "i4"),
                        ("peak_bin", "i4"), ("peak_mw", "f4"), ("mean_mw", "f4"),
                        ("centre_mw", "f4"), ("centre_khz", "f8"), ("bandwidth_khz", "f8")])


cdef inline char* array_data(object a, int typenum, int ndim, Py_ssize_t n_last,
                             str name) except NULL:
    """Data pointer of a C-contiguous array of typenum and ndim dimensions (n_last >= 0: the
    length of the last axis), else TypeError/ValueError. A few C checks instead of a typed
    memoryview, whose acquisition costs more than a 256-bin sweep's work on a live stream."""
    if not cnp.PyArray_Check(a) or cnp.PyArray_TYPE(<cnp.ndarray>a) != typenum:
        raise TypeError(f"{name} must be a numpy array of {cnp.PyArray_DescrFromType(typenum)}")
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != ndim or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
        raise ValueError(f"{name} must be a C-contiguous {ndim}-D array")
    if n_last >= 0 and cnp.PyArray_DIM(<cnp.ndarray>a, ndim - 1) != n_last:
        raise ValueError(f"{name} must have {n_last} entries on its last axis")
    return <char*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline char* record_data(object a, object dtype, str name) except NULL:
    """Data pointer of a C-contiguous 1-D record array of exactly `dtype`."""
    if not cnp.PyArray_Check(a) or a.dtype != dtype:
        raise TypeError(f"{name} must be a numpy array of dtype {dtype}")
    if cnp.PyArray_NDIM(<cnp.ndarray>a) != 1 or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
        raise ValueError(f"{name} must be a C-contiguous 1-D array")
    return <char*>cnp.PyArray_DATA(<cnp.ndarray>a)


cdef inline Py_ssize_t rows(object a) noexcept:
    return cnp.PyArray_DIM(<cnp.ndarray>a, 0)


cdef inline double kth_smallest(double* v, Py_ssize_t m, Py_ssize_t k) noexcept nogil:
    """k-th smallest (k from 1) of v[0:m] by quickselect (Hoare); reorders v."""
    cdef Py_ssize_t lo = 0, hi = m - 1, i, j, t = k - 1
    cdef double pivot, tmp
    while lo < hi:
        pivot = v[(lo + hi) >> 1]
        i = lo
        j = hi
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                tmp = v[i]; v[i] = v[j]; v[j] = tmp
                i += 1
                j -= 1
        if t <= j:
            hi = j
        elif t >= i:
            lo = i
        else:
            break
    return v[t]
