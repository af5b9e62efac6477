# The noise floor's and the code conversion's C-level interface, cimported by
# straja._detect_sweep (this folder is on cythonize's include path).

cdef void codes_mw(const unsigned char* codes, float* out, Py_ssize_t n) noexcept nogil

cdef class NoiseFloor:
    cdef public Py_ssize_t n_bins, seen
    cdef public double up, down, burst_ratio, max_excess, to_mean, cap
    cdef double[::1] f, scratch

    cdef Py_ssize_t run(self, const float* x, Py_ssize_t n_sweeps, float* mean_out,
                        unsigned char* det, double alpha) noexcept nogil
    cdef Py_ssize_t _one(self, const float* x, float* mean_out, unsigned char* det,
                         double alpha) noexcept nogil
