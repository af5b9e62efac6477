# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""A front end's sweep stages as one compiled call (straja.detect.pipeline.Pipeline).

SweepStages.stages() runs what every sweep goes through: the scan timing (period, sweep
duration, the tracker's revisit), codes to mW, the frequency CFAR, the floor detector, and
where the plan has them the time CFAR, the bursty-cell mask, the clearing of wide frames'
pieces and the band hopper's look at the reads; Pipeline.process calls it, then the later
stages (bursts, tracks, classes, the band hopper's report) in Python.

For the gateway, segment() also assembles a sweep from its SWEEP segments (REVISIT reads
unpacked as protocol.revisit_reads does) and settles a quiet sweep in C: nothing detected, no
burst open, no track due to change state by silence (the tracker's deadline), no classes
looked at (streak_look), no band hopper live. Pipeline.process would return a Result with
nothing in it, with no other state changed than these stages' and the steadiness split's
quiet().
Only a sweep with something in it goes on to Python (Pipeline.process_assembled). The
frequency CFAR and the floor are called at C level (their classes are declared in
straja/_cfar.pxd and straja/_detect_noise.pxd); the rarer stages through their Python methods.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_Check, PyBytes_GET_SIZE
from libc.string cimport memcpy

import numpy as np

from straja._cfar cimport FreqCFAR
from straja._detect_noise cimport NoiseFloor, codes_mw
from straja._detect_hoppers import clear_wide_pieces

include "_detect_common.pxi"
include "_wire.pxi"
include "_slots.pxi"  # (a Sweep's fields read in place)

# segment()'s answers (straja/_detect_sweep.pxd's TAKE_*, which take() returns)
SEGMENT_REFUSED = TAKE_REFUSED        # a bad segment (past the sweep's channels, an odd REVISIT
                                      # one): nothing taken
SEGMENT_OTHER_PLAN = TAKE_OTHER_PLAN  # the segment is of another plan: nothing taken
SEGMENT_PARTIAL = TAKE_PARTIAL        # taken; the sweep is not whole yet
SEGMENT_QUIET = TAKE_QUIET            # the sweep is whole and quiet: settled
SEGMENT_DETECTED = TAKE_DETECTED      # the sweep is whole, its stages run:
                                      # Pipeline.process_assembled next


cdef class SweepStages:
    """The stages of one front end's sweeps of n_bins channels (Pipeline's kernels: cfar a
    FreqCFAR, floor a NoiseFloor or None, time_cfar a TimeCFAR or None, busy a BusyCells or
    None; band_hoppers: the plan's straja.detect.hoppers.BandHoppers or None, whose wide
    pieces are cleared here and which looks at the reads). bursts, tracker (compiled) and
    split (or None) are read to tell a quiet sweep; tracker_config
    (straja.detect.tracks.Tracker) gets the measured revisit."""
    def __init__(self, Py_ssize_t n_bins, FreqCFAR cfar, NoiseFloor floor, double alpha,
                 time_cfar, busy, band_hoppers, Py_ssize_t hit_cells, bursts, tracker,
                 tracker_config, split, double resolved_period_us, bint revisit):
        if n_bins < 1:
            raise ValueError("need n_bins >= 1")
        self.n_bins, self.cfar, self.floor, self.alpha = n_bins, cfar, floor, alpha
        self.time_cfar, self.busy, self.hit_cells = time_cfar, busy, hit_cells
        self.band_hoppers = band_hoppers
        self.bursts, self.tracker, self.tracker_config = bursts, tracker, tracker_config
        self.split, self.resolved_us, self.revisit = split, resolved_period_us, revisit
        self.n_det = -1
        # in the order a sweep uses them; the 8-byte ones first, then the 4-byte, then bytes
        self.block = np.zeros(16 + 12 * n_bins + (5 if revisit else 3) * n_bins, np.uint8)
        self.t_us = self._carve(0, np.int64, (1,))
        self.duration_us = self._carve(8, np.int64, (1,))
        self.power = self._carve(16, np.float32, (1, n_bins))
        self.noise = self._carve(16 + 4 * n_bins, np.float32, (1, n_bins))
        self.noise_now = self._carve(16 + 8 * n_bins, np.float32, (n_bins,))
        self.noise_now[:] = np.nan
        self.codes = self._carve(16 + 12 * n_bins, np.uint8, (1, n_bins))
        self.det = self._carve(16 + 13 * n_bins, np.uint8, (1, n_bins))
        self.extra = self._carve(16 + 14 * n_bins, np.uint8, (1, n_bins))
        self.single = self._carve(16 + 15 * n_bins, np.uint8, (1, n_bins)) if revisit else None
        self.second_view = self._carve(16 + 16 * n_bins, np.uint8, (1, n_bins)) if revisit else None
        self.second = None  # (second_view once a plan of pairs is assembled)
        self.t_p, self.duration_p = <long long*>self._at(0), <long long*>self._at(8)
        self.power_p, self.noise_p = <float*>self._at(16), <float*>self._at(16 + 4 * n_bins)
        self.noise_now_p = <float*>self._at(16 + 8 * n_bins)
        self.codes_p, self.det_p = self._at(16 + 12 * n_bins), self._at(16 + 13 * n_bins)
        self.single_p = self._at(16 + 15 * n_bins) if revisit else NULL
        self.second_p = self._at(16 + 16 * n_bins) if revisit else NULL

    cdef object _carve(self, Py_ssize_t offset, dtype, tuple shape):
        """A view of the block from offset, of dtype and shape."""
        cdef Py_ssize_t size = np.dtype(dtype).itemsize * int(np.prod(shape))
        return self.block[offset:offset + size].view(dtype).reshape(shape)

    cdef unsigned char* _at(self, Py_ssize_t offset):
        return <unsigned char*>cnp.PyArray_DATA(<cnp.ndarray>self.block) + offset

    def stages(self, sweeps, power, det, noise, extra, t_us, duration_us, single, second):
        """Pipeline.process's stages up to the bursts on n_sweeps sweeps: `sweeps` uint8 codes
        (converted into power) or power itself (float32, checked by the caller); det, noise,
        extra: work buffers of the same shape. Returns the detected cells in det (-1: not
        counted)."""
        cdef Py_ssize_t nb = self.n_bins, n = rows(sweeps)
        cdef float* x = <float*>array_data(power, cnp.NPY_FLOAT32, 2, nb, "power")
        cdef unsigned char* d = <unsigned char*>array_data(det, cnp.NPY_UINT8, 2, nb, "det")
        cdef float* m = <float*>array_data(noise, cnp.NPY_FLOAT32, 2, nb, "noise")
        if rows(power) != n or rows(det) != n or rows(noise) != n:
            raise ValueError("the work buffers must have one row per sweep")
        if not cnp.PyArray_Check(t_us) or not cnp.PyArray_Check(duration_us) \
                or cnp.PyArray_TYPE(<cnp.ndarray>t_us) != cnp.NPY_INT64 \
                or cnp.PyArray_TYPE(<cnp.ndarray>duration_us) != cnp.NPY_INT64:
            raise TypeError("t_us and duration_us must be int64 arrays")
        if cnp.PyArray_NDIM(<cnp.ndarray>t_us) != 1 or cnp.PyArray_NDIM(<cnp.ndarray>duration_us) != 1 \
                or rows(t_us) != n or rows(duration_us) != n:
            raise ValueError("t_us and duration_us must have one entry per sweep")
        if sweeps is not power:
            codes_mw(<const unsigned char*>array_data(sweeps, cnp.NPY_UINT8, 2, nb, "sweeps"),
                     x, n * nb)
        if n:
            self._timing((<long long*>cnp.PyArray_GETPTR1(<cnp.ndarray>t_us, 0))[0],
                         (<long long*>cnp.PyArray_GETPTR1(<cnp.ndarray>t_us, n - 1))[0],
                         (<long long*>cnp.PyArray_GETPTR1(<cnp.ndarray>duration_us, n - 1))[0],
                         n)
        return self._run(x, d, m, n, power, det, noise, extra, single, second, t_us, duration_us)

    cdef int _timing(self, long long t0, long long t1, long long last_duration_us,
                     Py_ssize_t n) except -1:
        """The scan's latest sweep period (start to start) and sweep duration, for classify;
        a scanner's tracks stay on a channel only from one sweep to the next (the tracker's
        revisit, set when it changes)."""
        cdef long long before = self.last_t_us if self.timed else t0
        cdef Py_ssize_t n_gaps = n - (0 if self.timed else 1)
        cdef double revisit
        if n_gaps > 0 and t1 > before:
            self.period_us = <double>(t1 - before) / n_gaps
            self.sweep_us = <double>last_duration_us
            revisit = self.period_us if self.period_us > self.resolved_us else 0.0
            if not self.revisit_set or revisit != self.revisit_us:
                self.tracker_config.revisit_us = revisit
                self.revisit_us, self.revisit_set = revisit, True
        self.last_t_us, self.timed = t1, True
        return 0

    cdef Py_ssize_t _run(self, float* x, unsigned char* d, float* m, Py_ssize_t n, power, det,
                         noise, extra, single, second, t_us, duration_us) except -2:
        cdef Py_ssize_t i, nb = self.n_bins, n_det = -1
        cdef const unsigned char* e
        self.cfar.run(x, n, nb, d, NULL)
        if self.floor is not None:
            n_det = self.floor.run(x, n, m, d, self.alpha)
            if n:
                memcpy(self.noise_now_p, m + (n - 1) * nb, nb * sizeof(float))
        if self.time_cfar is not None:
            self.time_cfar.process(power, extra)
            e = <const unsigned char*>array_data(extra, cnp.NPY_UINT8, 2, nb, "extra")
            for i in range(n * nb):
                d[i] |= e[i]
            n_det = -1
        if self.busy is not None:
            n_det = self.busy.process(single, power, noise, det)
        if self.band_hoppers is not None and n:
            if clear_wide_pieces(det, single, second, noise, self.alpha, self.hit_cells):
                n_det = -1
            self._band_hopper(n, single, second, power, noise, t_us, duration_us)
        return n_det

    cdef int _band_hopper(self, Py_ssize_t n, single, second, power, noise, t_us,
                          duration_us) except -1:
        """The band hopper's look at these sweeps' reads (single, and second when sent)."""
        cdef Py_ssize_t nb = self.n_bins, reads = 1 if second is None else 2, r
        if self.reads_mw is None or self.reads_mw.shape[0] != reads or self.reads_mw.shape[1] != n:
            self.reads_mw = np.empty((reads, n, nb), np.float32)
        cdef float* mw = <float*>cnp.PyArray_DATA(<cnp.ndarray>self.reads_mw)
        for r, codes in enumerate((single,) if second is None else (single, second)):
            if rows(codes) != n:
                raise ValueError("single and second must have one row per sweep")
            codes_mw(<const unsigned char*>array_data(codes, cnp.NPY_UINT8, 2, nb, "reads"),
                     mw + r * n * nb, n * nb)
        self.hopper = self.band_hoppers.process(self.reads_mw, power, noise, t_us, duration_us)
        if self.hopper is None:
            self.hopper_reported = None  # lost: reported again if it comes back
        return 0

    def assemble(self, long long front_end, long long start_khz, long long step_khz,
                 Py_ssize_t total, long long flags, long long plan_mask):
        """Take this plan's SWEEP segments from now on (segment()): those of this front end,
        start, step and total whose flags & plan_mask are flags & plan_mask."""
        if total != self.n_bins:
            raise ValueError(f"a plan of {total} channels, these stages {self.n_bins}")
        if bool(flags & FLAG_REVISIT) != self.revisit:
            raise ValueError("the plan's REVISIT flag differs from these stages'")
        self.plan_front_end, self.plan_start_khz, self.plan_step_khz = front_end, start_khz, step_khz
        self.plan_flags, self.plan_mask = flags & plan_mask, plan_mask
        if flags & FLAG_REVISIT and flags & FLAG_PAIRS:
            self.second_view[:] = 0
            self.second = self.second_view
        self.assembling = True

    cpdef bint of_plan(self, sweep) except -1:
        """Whether a SWEEP segment is of the plan assemble() took (segment() takes it)."""
        if not self.assembling:
            raise RuntimeError("segment() before assemble()")
        return (field(sweep, Sweep, S_FRONT_END, "front_end") == self.plan_front_end
                and field(sweep, Sweep, S_START_KHZ, "start_khz") == self.plan_start_khz
                and field(sweep, Sweep, S_STEP_KHZ, "step_khz") == self.plan_step_khz
                and field(sweep, Sweep, S_TOTAL, "total") == self.n_bins
                and field(sweep, Sweep, S_FLAGS, "flags") & self.plan_mask == self.plan_flags)

    def segment(self, sweep, long long t_us):
        """One SWEEP segment (t_us: its header time): SEGMENT_* (module constants)."""
        if not self.of_plan(sweep):
            return SEGMENT_OTHER_PLAN
        return self.take(sweep, t_us)

    cdef int take(self, sweep, long long t_us) except -9:
        """segment() of a segment of_plan() found of the plan (the gateway's lane asks that
        first): TAKE_* (straja/_detect_sweep.pxd)."""
        rssi = field(sweep, Sweep, S_RSSI, "rssi")
        if not PyBytes_Check(rssi):
            rssi = bytes(rssi)
        cdef const unsigned char* r = <const unsigned char*>PyBytes_AS_STRING(rssi)
        cdef Py_ssize_t size = PyBytes_GET_SIZE(rssi), n, end, i
        cdef Py_ssize_t first = field(sweep, Sweep, S_FIRST, "first")
        n = size // 2 if self.revisit else size
        end = first + n
        if first < 0 or end > self.n_bins or (self.revisit and size % 2):
            return TAKE_REFUSED
        cdef long long* t = self.t_p
        cdef long long* du = self.duration_p
        cdef long long duration = field(sweep, Sweep, S_DURATION_US, "duration_us")
        if first == 0:
            self.filled, t[0], du[0] = 0, t_us, duration
        else:
            du[0] += duration
        cdef unsigned char* held = self.codes_p + first
        cdef unsigned char* one
        cdef unsigned char* two
        if not self.revisit:
            memcpy(held, r, n)
        else:
            # protocol.revisit_reads: with PAIRS the first reads then the second (held: their
            # minimum); without, the held codes then the first reads
            one = self.single_p + first
            if self.second is not None:
                two = self.second_p + first
                memcpy(one, r, n)
                memcpy(two, r + size - n, n)
                for i in range(n):
                    held[i] = one[i] if one[i] < two[i] else two[i]
            else:
                memcpy(held, r, n)
                memcpy(one, r + size - n, n)
        self.filled += n
        if end < self.n_bins or self.filled != self.n_bins:
            return TAKE_PARTIAL
        codes_mw(self.codes_p, self.power_p, self.n_bins)
        self._timing(t[0], t[0], du[0], 1)
        self.n_det = self._run(self.power_p, self.det_p, self.noise_p, 1, self.power, self.det, self.noise, self.extra, self.single,
                               self.second, self.t_us, self.duration_us)
        if self.n_det != 0 or self.bursts.n_open_bursts or self.streak_look \
                or self.hopper is not None:
            return TAKE_DETECTED
        if self.tracker.n_live and t[0] + du[0] > self.tracker.deadline:
            return TAKE_DETECTED  # a track's state changes by silence: events
        if self.split is not None:
            self.split.quiet(1)
        return TAKE_QUIET
