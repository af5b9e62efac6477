# The frequency CFAR's C-level interface, cimported by straja._detect_sweep (this folder is on
# cythonize's include path: the qualified name straja._cfar finds this file).

cdef class FreqCFAR:
    cdef public Py_ssize_t n_train, n_guard
    cdef int kind
    cdef double scale_2
    cdef double[::1] scale_ca, alpha_os, scratch
    cdef Py_ssize_t[::1] k_os

    cdef int run(self, const float* x, Py_ssize_t n_sweeps, Py_ssize_t n, unsigned char* out,
                 float* thr_out) except -1
