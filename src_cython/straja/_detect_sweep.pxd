# SweepStages' C-level interface, cimported by straja._gateway_lane: the gateway's quiet-sweep
# lane calls of_plan() and take() on it without a Python call (this folder is on cythonize's
# include path).
from straja._cfar cimport FreqCFAR
from straja._detect_noise cimport NoiseFloor

# segment()'s answers (module constants SEGMENT_* of the same values)
cdef enum:
    TAKE_REFUSED = -3
    TAKE_OTHER_PLAN = -2
    TAKE_PARTIAL = -1
    TAKE_QUIET = 0
    TAKE_DETECTED = 1


cdef class SweepStages:
    cdef readonly Py_ssize_t n_bins, n_det
    # a channel's streak reached the steady rules' evidence: the pipeline looks at its confirmed
    # tracks at the next sweep with tracks (Pipeline._new_alerts)
    cdef public bint streak_look
    cdef FreqCFAR cfar
    cdef NoiseFloor floor
    cdef object time_cfar, busy, bursts, tracker, tracker_config, split, band_hoppers
    cdef object reads_mw  # the band hopper's reads in mW (reads, n_sweeps, n_bins)
    cdef readonly object hopper  # the band hopper's report after the last sweeps (None: none)
    cdef public object hopper_reported  # the band hopper, once alerted (Pipeline)
    cdef bint revisit
    cdef readonly double alpha
    cdef Py_ssize_t hit_cells
    cdef double resolved_us
    # the scan as measured (classify's Scan): latest period start to start, sweep duration
    cdef readonly double period_us, sweep_us
    cdef long long last_t_us
    cdef bint timed, revisit_set
    cdef double revisit_us
    cdef readonly object noise_now  # float32 (n_bins,): the last sweep's noise mean
    # one sweep's work buffers (1, n_bins), and its assembly from segments: views of one block
    # (_carve), which segment() reads and writes through these pointers, so that a gateway's
    # sweep of a node streams through a few contiguous cache lines, not a dozen arrays' headers
    # and data in as many places
    cdef readonly object power, det, noise, extra, codes, single, second, t_us, duration_us
    cdef object block, second_view
    cdef float* power_p
    cdef float* noise_p
    cdef float* noise_now_p
    cdef unsigned char* det_p
    cdef unsigned char* codes_p
    cdef unsigned char* single_p
    cdef unsigned char* second_p
    cdef long long* t_p
    cdef long long* duration_p
    cdef Py_ssize_t filled
    cdef long long plan_front_end, plan_start_khz, plan_step_khz, plan_flags, plan_mask
    cdef bint assembling

    cdef object _carve(self, Py_ssize_t offset, dtype, tuple shape)
    cdef unsigned char* _at(self, Py_ssize_t offset)
    cdef int _timing(self, long long t0, long long t1, long long last_duration_us,
                     Py_ssize_t n) except -1
    cdef Py_ssize_t _run(self, float* x, unsigned char* d, float* m, Py_ssize_t n, power, det,
                         noise, extra, single, second, t_us, duration_us) except -2
    cdef int _band_hopper(self, Py_ssize_t n, single, second, power, noise, t_us,
                          duration_us) except -1
    cpdef bint of_plan(self, sweep) except -1
    cdef int take(self, sweep, long long t_us) except -9
