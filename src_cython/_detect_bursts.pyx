# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Burst extraction from detection masks, and pulse extraction from envelope blocks.

Both are streaming: state carries over between calls, finished bursts / pulses go into a
caller's preallocated record buffer, and a call stops early (saying how far it got) when that
buffer is full, so nothing is ever lost or reallocated inside the loop.
"""
import numpy as np
from libc.math cimport NAN
from libc.stdlib cimport free, malloc

include "_detect_common.pxi"

cdef packed struct Pulse:
    double t_start_us
    double width_us
    double pri_us           # start-to-start from the previous pulse; NaN for the first
    float peak_mw
    float mean_mw

PULSE_DTYPE = np.dtype([("t_start_us", "f8"), ("width_us", "f8"), ("pri_us", "f8"),
                        ("peak_mw", "f4"), ("mean_mw", "f4")])


cdef struct Open:
    Burst b
    double sum_mw, sum_mid_mw
    int n_mid
    long long first_sweep, last_sweep
    int prev_lo, prev_hi    # extent in the last sweep that touched it: connectivity
    int cur_lo, cur_hi      # extent in the sweep being processed (-1: not touched)
    int idle                # sweeps since last touched


cdef class BurstExtractor:
    """Connected detections in the time-frequency plane become bursts.

    Two runs of detected bins join when, in consecutive sweeps (or with up to max_gap_sweeps
    empty sweeps between), their bin ranges overlap once widened by max_gap_bins; within a sweep,
    runs closer than max_gap_bins + 1 are one run, unless `cut` marks the later bin as the start
    of a run of its own (an emitter beside another that behaves otherwise: the pipeline's
    steadiness split). A run touching several open bursts merges them.
    A burst held for max_sweeps sweeps (0: no limit) is closed and its continuation starts a new
    one, so a continuous emitter (video) yields bursts at a steady pace instead of never closing.
    """
    cdef public int n_bins, max_gap_bins, max_gap_sweeps, max_sweeps
    cdef public double start_khz, step_khz
    cdef Open* open_
    cdef int n_open, cap
    cdef long long sweep_index

    def __cinit__(self, int n_bins, double start_khz, double step_khz, int max_gap_bins=1,
                  int max_gap_sweeps=0, int max_sweeps=0):
        if n_bins < 1 or max_gap_bins < 0 or max_gap_sweeps < 0 or max_sweeps < 0:
            raise ValueError("need n_bins >= 1, max_gap_bins, max_gap_sweeps, max_sweeps >= 0")
        self.n_bins, self.max_gap_bins, self.max_gap_sweeps = n_bins, max_gap_bins, max_gap_sweeps
        self.max_sweeps = max_sweeps
        self.start_khz, self.step_khz = start_khz, step_khz
        # a sweep opens at most n_bins bursts (runs cut apart may touch), and each idles at most
        # max_gap_sweeps + 1
        self.cap = n_bins * (max_gap_sweeps + 2)
        self.open_ = <Open*>malloc(self.cap * sizeof(Open))
        if self.open_ == NULL:
            raise MemoryError()
        self.n_open = 0
        self.sweep_index = 0

    def __dealloc__(self):
        free(self.open_)

    @property
    def n_open_bursts(self):
        return self.n_open

    def process(self, det, power, t_us, duration_us, out, cut=None):
        """Take in sweeps until done or `out` may not hold what the next sweep closes.

        det: uint8 and power: float32, (n_sweeps, n_bins); t_us, duration_us: int64 per
        sweep; out: BURST_DTYPE records; cut: None or uint8 like det, nonzero where a detected
        bin starts a run even next to other detected bins. Returns (bursts written to out,
        sweeps consumed).
        """
        cdef Py_ssize_t nb = self.n_bins, n_sweeps = 0, s, room
        cdef const unsigned char* d = <const unsigned char*>array_data(det, cnp.NPY_UINT8, 2, nb, "det")
        cdef const float* x = <const float*>array_data(power, cnp.NPY_FLOAT32, 2, nb, "power")
        cdef const long long* t0 = <const long long*>array_data(t_us, cnp.NPY_INT64, 1, -1, "t_us")
        cdef const long long* du = <const long long*>array_data(duration_us, cnp.NPY_INT64, 1, -1,
                                                                "duration_us")
        cdef Burst* o = <Burst*>record_data(out, BURST_DTYPE, "out")
        cdef const unsigned char* c = NULL
        n_sweeps, room = rows(det), rows(out)
        if rows(power) != n_sweeps or rows(t_us) != n_sweeps or rows(duration_us) != n_sweeps:
            raise ValueError("det, power, t_us and duration_us must have one entry per sweep")
        if cut is not None:
            c = <const unsigned char*>array_data(cut, cnp.NPY_UINT8, 2, nb, "cut")
            if rows(cut) != n_sweeps:
                raise ValueError("cut must have one row per sweep")
        cdef int n_out = 0
        cdef Py_ssize_t done = 0
        with nogil:
            for s in range(n_sweeps):
                if room - n_out < self.n_open + (nb if self.max_sweeps == 1 else 0):
                    break  # this sweep might close every open burst (and, bursts of one sweep,
                           # as many as it opens: up to nb)
                self._sweep(d + s * nb, x + s * nb, c + s * nb if c != NULL else NULL,
                            t0[s], t0[s] + du[s])
                n_out = self._close(o, n_out, 0)
                done = s + 1
        return n_out, done

    def flush(self, out):
        """Close every open burst (end of stream or retune); returns how many were written."""
        cdef Burst* o = <Burst*>record_data(out, BURST_DTYPE, "out")
        if rows(out) < self.n_open:
            raise ValueError(f"out holds {rows(out)} bursts, {self.n_open} are open")
        return self._close(o, 0, 1)

    cdef int _close(self, Burst* out, int n_out, bint all_) noexcept nogil:
        """Move bursts idle too long (or all) to out; compact the open list."""
        cdef int i, keep = 0
        for i in range(self.n_open):
            if (all_ or self.open_[i].idle > self.max_gap_sweeps or
                    (self.max_sweeps and self.open_[i].last_sweep - self.open_[i].first_sweep + 1
                     >= self.max_sweeps)):
                self.open_[i].b.mean_mw = <float>(self.open_[i].sum_mw / self.open_[i].b.n_cells)
                self.open_[i].b.centre_mw = (<float>(self.open_[i].sum_mid_mw / self.open_[i].n_mid)
                                             if self.open_[i].n_mid else self.open_[i].b.mean_mw)
                self.open_[i].b.n_sweeps = <int>(self.open_[i].last_sweep
                                                 - self.open_[i].first_sweep + 1)
                self.open_[i].b.centre_khz = self.start_khz + 0.5 * self.step_khz * (
                    self.open_[i].b.bin_lo + self.open_[i].b.bin_hi)
                self.open_[i].b.bandwidth_khz = self.step_khz * (
                    self.open_[i].b.bin_hi - self.open_[i].b.bin_lo + 1)
                out[n_out] = self.open_[i].b
                n_out += 1
            else:
                self.open_[keep] = self.open_[i]
                keep += 1
        self.n_open = keep
        return n_out

    cdef void _sweep(self, const unsigned char* det, const float* x, const unsigned char* cut,
                     long long t0, long long t1) noexcept nogil:
        cdef int n = self.n_bins, gap = self.max_gap_bins, i = 0, a, b, j, k, first
        for k in range(self.n_open):
            self.open_[k].cur_lo = -1
        while i < n:
            if not det[i]:
                i += 1
                continue
            a = b = i
            i += 1
            while i < n and i - b <= gap + 1:
                if det[i]:
                    if cut != NULL and cut[i]:
                        break
                    b = i
                i += 1
            first = -1
            for k in range(self.n_open):
                # (a burst opened in this sweep has no extent before it: prev_lo < 0)
                if (self.open_[k].prev_lo >= 0 and self.open_[k].prev_lo - gap <= b
                        and a <= self.open_[k].prev_hi + gap):
                    if first < 0:
                        first = k
                    else:
                        _merge(&self.open_[first], &self.open_[k])
                        self.open_[k].b.n_cells = 0  # emptied: dropped below
            if first < 0:
                first = self.n_open
                self.n_open += 1
                _start(&self.open_[first], t0, self.sweep_index)
            _add_run(&self.open_[first], det, x, a, b, t1, self.sweep_index)
            self._drop_empty()
        for k in range(self.n_open):
            if self.open_[k].cur_lo >= 0:
                self.open_[k].prev_lo = self.open_[k].cur_lo
                self.open_[k].prev_hi = self.open_[k].cur_hi
                self.open_[k].idle = 0
            else:
                self.open_[k].idle += 1
        self.sweep_index += 1

    cdef void _drop_empty(self) noexcept nogil:
        cdef int k, keep = 0
        for k in range(self.n_open):
            if self.open_[k].b.n_cells > 0:
                self.open_[keep] = self.open_[k]
                keep += 1
        self.n_open = keep


cdef void _start(Open* o, long long t0, long long sweep) noexcept nogil:
    o.b.t_start_us = t0
    o.b.t_end_us = t0
    o.b.bin_lo = 2147483647
    o.b.bin_hi = -1
    o.b.n_sweeps = 0
    o.b.n_cells = 0
    o.b.peak_mw = -1.0
    o.b.peak_bin = -1
    o.b.mean_mw = 0.0
    o.sum_mw = o.sum_mid_mw = 0.0
    o.n_mid = 0
    o.first_sweep = o.last_sweep = sweep
    o.prev_lo = o.prev_hi = o.cur_lo = o.cur_hi = -1
    o.idle = 0


cdef void _add_run(Open* o, const unsigned char* det, const float* x, int a, int b,
                   long long t1, long long sweep) noexcept nogil:
    cdef int j, w3 = (b - a + 1) // 3
    o.last_sweep = sweep
    if o.cur_lo < 0:
        o.cur_lo = a
        o.cur_hi = b
    else:
        o.cur_lo = a if a < o.cur_lo else o.cur_lo
        o.cur_hi = b if b > o.cur_hi else o.cur_hi
    o.b.t_end_us = t1
    o.b.bin_lo = a if a < o.b.bin_lo else o.b.bin_lo
    o.b.bin_hi = b if b > o.b.bin_hi else o.b.bin_hi
    for j in range(a, b + 1):
        if det[j]:
            o.b.n_cells += 1
            o.sum_mw += x[j]
            if a + w3 <= j <= b - w3:
                o.n_mid += 1
                o.sum_mid_mw += x[j]
            if not (x[j] <= o.b.peak_mw):  # NaN and inf become the peak: a reading to look at
                o.b.peak_mw = x[j]
                o.b.peak_bin = j


cdef void _merge(Open* into, Open* o) noexcept nogil:
    """Add o to into (o is then discarded). The earlier start, the later end, the union."""
    if o.b.t_start_us < into.b.t_start_us:
        into.b.t_start_us = o.b.t_start_us
    if o.b.t_end_us > into.b.t_end_us:
        into.b.t_end_us = o.b.t_end_us
    into.b.bin_lo = o.b.bin_lo if o.b.bin_lo < into.b.bin_lo else into.b.bin_lo
    into.b.bin_hi = o.b.bin_hi if o.b.bin_hi > into.b.bin_hi else into.b.bin_hi
    into.first_sweep = o.first_sweep if o.first_sweep < into.first_sweep else into.first_sweep
    into.last_sweep = o.last_sweep if o.last_sweep > into.last_sweep else into.last_sweep
    into.b.n_cells += o.b.n_cells
    into.sum_mw += o.sum_mw
    into.sum_mid_mw += o.sum_mid_mw
    into.n_mid += o.n_mid
    if not (o.b.peak_mw <= into.b.peak_mw):
        into.b.peak_mw = o.b.peak_mw
        into.b.peak_bin = o.b.peak_bin
    into.prev_lo = o.prev_lo if o.prev_lo < into.prev_lo else into.prev_lo
    into.prev_hi = o.prev_hi if o.prev_hi > into.prev_hi else into.prev_hi
    if o.cur_lo >= 0:
        if into.cur_lo < 0:
            into.cur_lo, into.cur_hi = o.cur_lo, o.cur_hi
        else:
            into.cur_lo = o.cur_lo if o.cur_lo < into.cur_lo else into.cur_lo
            into.cur_hi = o.cur_hi if o.cur_hi > into.cur_hi else into.cur_hi
    into.idle = o.idle if o.idle < into.idle else into.idle


cdef class PulseExtractor:
    """Pulses in a stream of envelope samples (linear power), with hysteresis.

    A pulse starts at the first sample above floor * on_ratio and ends at the first sample
    below floor * off_ratio (on_ratio >= off_ratio). The floor tracks the q-quantile of the
    samples outside pulses by multiplicative steps (as NoiseFloor), starting at the median of
    the first block. NaN samples are skipped.
    """
    cdef public double on_ratio, off_ratio, up, down, floor
    cdef bint in_, started
    cdef double start_us, last_start_us, sum_mw, peak
    cdef long long n_in

    def __init__(self, double on_ratio, double off_ratio, double up, double down):
        if not on_ratio >= off_ratio > 0:
            raise ValueError("need on_ratio >= off_ratio > 0")
        self.on_ratio, self.off_ratio, self.up, self.down = on_ratio, off_ratio, up, down
        self.in_ = self.started = False
        self.last_start_us = NAN
        self.floor = NAN

    @property
    def in_pulse(self):
        return bool(self.in_)

    def process(self, const float[::1] x, double t0_us, double rate_hz, Pulse[::1] out):
        """Take in a block whose sample 0 is at t0_us; returns (pulses written, samples used)."""
        if rate_hz <= 0:
            raise ValueError("rate_hz must be > 0")
        cdef Py_ssize_t n = x.shape[0], i, m = 0, done = 0
        cdef double dt = 1e6 / rate_hz, v, f
        cdef int n_out = 0
        cdef double* tmp
        if not self.started:
            tmp = <double*>malloc((n + 1) * sizeof(double))
            if tmp == NULL:
                raise MemoryError()
            for i in range(n):
                if x[i] == x[i]:
                    tmp[m] = x[i]
                    m += 1
            if m:
                self.floor = kth_smallest(tmp, m, (m + 1) // 2)
                self.floor = self.floor if self.floor > 1e-30 else 1e-30
                self.started = True
            free(tmp)
            if not m:
                return 0, n
        with nogil:
            for i in range(n):
                v = x[i]
                if v != v:
                    done = i + 1
                    continue
                f = self.floor
                if self.in_:
                    if v < f * self.off_ratio:
                        if n_out == out.shape[0]:
                            break
                        self._emit(&out[n_out], t0_us + i * dt)
                        n_out += 1
                        self.in_ = False
                    else:
                        self.n_in += 1
                        self.sum_mw += v
                        self.peak = v if v > self.peak else self.peak
                if not self.in_:
                    if v > f * self.on_ratio:
                        self.in_ = True
                        self.start_us = t0_us + i * dt
                        self.n_in = 1
                        self.sum_mw = v
                        self.peak = v
                    else:
                        self.floor = f * self.up if v > f else f * self.down
                        if self.floor < 1e-30:
                            self.floor = 1e-30
                done = i + 1
        return n_out, done

    cdef void _emit(self, Pulse* p, double end_us) noexcept nogil:
        p.t_start_us = self.start_us
        p.width_us = end_us - self.start_us
        p.pri_us = self.start_us - self.last_start_us
        p.peak_mw = <float>self.peak
        p.mean_mw = <float>(self.sum_mw / self.n_in)
        self.last_start_us = self.start_us
