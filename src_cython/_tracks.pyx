# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Hop tracking and track life cycle: bursts of one node grouped into emitters.

Association (per burst, in start order): a track accepts a burst when
- the silence since the track's last burst is within the gap its state allows
  (candidate: candidate_timeout_us, confirmed or lost: drop_after_us);
- the bandwidths agree within bw_ratio (either way);
- narrow bursts (bandwidth <= narrow_khz) keep the track's frequency span within hop_span_khz
  (a hopper visits many channels of one band); wide ones lie within half the track's own mean
  bandwidth of its span of centres (a video link stays put, a Wi-Fi access point's frames light
  different parts of its channel: it stays one track; a wider run centred farther off is the
  emitter's edge merged with a neighbour's frames, whose centre would walk the track off its
  channel, docs/measured/cam79.md) and do not start when the track's last burst did
  (two wide runs apart in one sweep are two emitters side by side), and, unless an off period
  (the track lost) lies between, their peak level is within level_step_db of the track's last,
  or within level_step_sds times the track's reading scatter when that is more: a video reading
  moves by ~1 dB a sweep, so a step of 20 dB is another emitter switched on over it (a drone on
  a fixed camera's channel), not the camera.
A wide burst that ends an off period adds no level change, leaves no level to compare the next
one with, and does not widen the span of centres: the emitter switched on part-way through a
sweep is seen in part, and its level before the off period says nothing of its level after (as
its interval, which takes the mean so far). A narrow burst keeps its level change: a sub-GHz
track's hits are often each after an off period, and without their changes the devices of a
site would read as one link's level.
A burst hops unless it is on the previous burst's channel; for a scanner (revisit_us, its sweep
period, set: 0 for a receiver that sees every packet) also unless it comes within STAY_WITHIN
revisits of it: a return to a channel several sweeps later is a hop table's cycle, not a dwell.
A run is a channel's bursts each within STAY_WITHIN revisits of the one before on it (for a
receiver, revisit_us 0: until a burst on another channel), whatever other channels' bursts come
between (a hopper's hits among a fixed device's); one run is followed at a time, the next starting
with the first burst after it ends. Once a run spans (its first burst's start to this one's) more
than link_run_max_us, the longest run a hopping link makes on a channel, its stays (all of them,
those before too) are long stays: a fixed device's packet outlasting hops (n_long_stays).
Of the tracks that accept it the nearest in frequency takes it (ties: for a wide burst the
steadier in level, then the most recent; none: a new candidate track): a wide run centred
between two tracks' channels is their two emitters merged in one reading (video lit beside an
access point), and the steady one, seen every sweep, is surely in it while the bursty one's
frames come and go; taken by the bursty track, its centre would become that track's last, every
later merged run would go to it, and the steady track would starve and be lost.

Life cycle, with hysteresis (checked before every burst and at the end of every call):
    (new) -> CANDIDATE -> CONFIRMED after confirm_bursts bursts
    CANDIDATE -> DELETED after candidate_timeout_us of silence (a stray burst never alerts)
    CONFIRMED -> LOST after lost_after_us of silence; LOST -> CONFIRMED on a burst
    LOST -> DELETED after drop_after_us of silence (a real emitter survives a missed sweep)
Every transition is written to an event buffer: (t_us, track id, from, to).

Packet clock (docs/measured/res101.md, res105.md): every burst adds the unit phasor of its read
time modulo each CLOCK_PERIODS_S to its track's clock_cos, clock_sin. A link's packets are sent
on a clock, so a scanner's hits on them fall within the airtime's share of the period; a site's
residents transmit at times unrelated to it. The read time is the burst's first sweep's start
plus its peak channel's read position (read_at: the share of the sweep at which each channel is
read, set by the pipeline from the node's channel order) times that sweep's duration; with no
read_at (a receiver seeing every packet) the burst's start.
"""
import numpy as np

include "_detect_common.pxi"
from libc.math cimport INFINITY, M_PI, NAN, cos, fabs, floor, fmod, log10, sin, sqrt
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

cdef enum:
    NONE = -1
    CANDIDATE = 0
    CONFIRMED = 1
    LOST = 2
    DELETED = 3
    CHAN_WORDS = 8      # channel set: 512 channels of channel_khz around the first centre
    N_CLOCKS = 6        # packet periods a track's hit times are folded on (CLOCK_PERIODS_S)

# Packet periods of the sub-GHz links (docs/scenes.md's models): ExpressLRS 900 at 200, 100, 50
# and 25 Hz (common.cpp), Crossfire 150 Hz GFSK, FrSky R9 (FrSkyR9_sx1276.ino), in us
cdef double[N_CLOCKS] CLOCK_PERIODS_US = [5e3, 10e3, 20e3, 40e3, 1e6 / 150, 19.4e3]
CLOCK_PERIODS_S = np.array([p / 1e6 for p in CLOCK_PERIODS_US])

# A burst on its track's previous channel is a stay (not a hop) only one revisit after it: within
# this many sweep periods. A hop table whose cycle aliases with the sweep (Crossfire's 100 hops
# in 667 ms, 13 sweeps of 51 ms) brings a hopper back to the channels of earlier hits cycle after
# cycle: those returns are hops, not a link dwelling over sweeps (docs/detection.md)
cdef double STAY_WITHIN = 1.5
STAY_WITHIN_REVISITS = STAY_WITHIN  # (the reference's)

cdef packed struct Track:
    long long track_id
    int state
    int n_bursts
    int n_channels      # distinct channels visited (within +-256 channels of the first)
    int n_hops          # bursts not on the previous burst's channel one revisit later (below)
    int n_long_stays    # stays in a run on one channel longer than link_run_max_us (module doc)
    int run_stays       # stays in the current run (module doc)
    long long t_first_us
    long long t_last_start_us
    long long t_last_end_us
    long long run_start_us   # start of the current run's first and last burst
    long long run_last_us
    double f_first_khz
    double f_last_khz
    double run_khz      # the current run's channel
    double f_min_khz
    double f_max_khz
    double f_min2_khz   # the second-lowest and second-highest centre (+inf and -inf under two):
    double f_max2_khz   # the span without the farthest single hit (tracks.features)
    double bw_sum_khz
    double dwell_sum_us
    double ivl_sum_us   # start-to-start intervals between consecutive bursts
    double ivl_sq_us2
    double peak_mw
    double mean_sum_mw
    double centre_db_sum     # sum over bursts of centre_mw / mean_mw in dB (spectral peak)
    double level_db          # peak_mw of the last burst in dB, and the sum of the squared
    double level_jump_sq_db2 # changes from burst to burst: scatter from sweep to sweep
    double clock_cos[N_CLOCKS]  # sums of the bursts' read-time phasors at CLOCK_PERIODS_US
    double clock_sin[N_CLOCKS]  # (module doc)

cdef packed struct Event:
    long long t_us
    long long track_id
    int from_state
    int to_state

TRACK_DTYPE = np.dtype([
    ("track_id", "i8"), ("state", "i4"), ("n_bursts", "i4"), ("n_channels", "i4"),
    ("n_hops", "i4"), ("n_long_stays", "i4"), ("run_stays", "i4"), ("t_first_us", "i8"),
    ("t_last_start_us", "i8"), ("t_last_end_us", "i8"), ("run_start_us", "i8"), ("run_last_us", "i8"),
    ("f_first_khz", "f8"), ("f_last_khz", "f8"), ("run_khz", "f8"), ("f_min_khz", "f8"), ("f_max_khz", "f8"),
    ("f_min2_khz", "f8"), ("f_max2_khz", "f8"), ("bw_sum_khz", "f8"), ("dwell_sum_us", "f8"), ("ivl_sum_us", "f8"), ("ivl_sq_us2", "f8"),
    ("peak_mw", "f8"), ("mean_sum_mw", "f8"), ("centre_db_sum", "f8"),
    ("level_db", "f8"), ("level_jump_sq_db2", "f8"),
    ("clock_cos", "f8", (N_CLOCKS,)), ("clock_sin", "f8", (N_CLOCKS,))])
if TRACK_DTYPE.itemsize != sizeof(Track):  # (snapshot() copies the structs' bytes)
    raise ImportError("TRACK_DTYPE does not match the Track struct")
EVENT_DTYPE = np.dtype([("t_us", "i8"), ("track_id", "i8"), ("from_state", "i4"),
                        ("to_state", "i4")])
STATES = ("candidate", "confirmed", "lost", "deleted")


cdef class Tracker:
    cdef public double narrow_khz, hop_span_khz, bw_ratio, channel_khz, level_step_db
    cdef public double level_step_sds
    cdef public double revisit_us    # a scanner's sweep period (0: a receiver seeing every packet)
    cdef public long long candidate_timeout_us, lost_after_us, drop_after_us, link_run_max_us
    cdef public int confirm_bursts, max_tracks
    cdef public long long next_id, overflow
    cdef public long long deadline   # earliest time a live track can change state by silence
    cdef Track* tr
    cdef unsigned long long* chans
    cdef int n
    cdef double* read_share  # read_at's copy (n_read channels)
    cdef int n_read

    def __cinit__(self, double narrow_khz, double hop_span_khz, double bw_ratio,
                  double channel_khz, int confirm_bursts, long long candidate_timeout_us,
                  long long lost_after_us, long long drop_after_us, int max_tracks,
                  double level_step_db, double level_step_sds, long long link_run_max_us):
        if not (narrow_khz > 0 and hop_span_khz > 0 and bw_ratio >= 1 and channel_khz > 0
                and level_step_db > 0 and level_step_sds > 0):
            raise ValueError("need narrow_khz, hop_span_khz, channel_khz, level_step_db, "
                             "level_step_sds > 0 and bw_ratio >= 1")
        if confirm_bursts < 1 or max_tracks < 1:
            raise ValueError("need confirm_bursts >= 1 and max_tracks >= 1")
        if not 0 < lost_after_us <= drop_after_us or candidate_timeout_us <= 0 or link_run_max_us <= 0:
            raise ValueError("need 0 < lost_after_us <= drop_after_us, candidate_timeout_us > 0, "
                             "link_run_max_us > 0")
        self.narrow_khz, self.hop_span_khz = narrow_khz, hop_span_khz
        self.bw_ratio, self.channel_khz = bw_ratio, channel_khz
        self.level_step_db, self.level_step_sds = level_step_db, level_step_sds
        self.confirm_bursts, self.max_tracks = confirm_bursts, max_tracks
        self.candidate_timeout_us = candidate_timeout_us
        self.lost_after_us, self.drop_after_us = lost_after_us, drop_after_us
        self.link_run_max_us = link_run_max_us
        self.tr = <Track*>malloc(max_tracks * sizeof(Track))
        self.chans = <unsigned long long*>malloc(max_tracks * CHAN_WORDS * sizeof(unsigned long long))
        if self.tr == NULL or self.chans == NULL:
            raise MemoryError()
        self.n = 0
        self.read_share = NULL
        self.n_read = 0
        self.revisit_us = 0.0
        self.next_id = 1
        self.overflow = 0
        self.deadline = 0x7FFFFFFFFFFFFFFF

    def __dealloc__(self):
        free(self.tr)
        free(self.chans)
        free(self.read_share)

    @property
    def read_at(self):
        """Share of a sweep (0-1) at which each channel is read (module doc); empty: not a
        scanner, a burst's time is its start."""
        return np.array([self.read_share[k] for k in range(self.n_read)])

    @read_at.setter
    def read_at(self, value):
        share = np.ascontiguousarray(value, np.float64)
        if share.ndim != 1 or not np.all((share >= 0) & (share <= 1)):
            raise ValueError("read_at must be one share in [0, 1] per channel")
        cdef double* copy = <double*>malloc(max(share.size, 1) * sizeof(double))
        if copy == NULL:
            raise MemoryError()
        cdef Py_ssize_t k
        for k in range(share.size):
            copy[k] = share[k]
        free(self.read_share)
        self.read_share, self.n_read = copy, share.size

    @property
    def n_live(self):
        return self.n

    def snapshot(self):
        """The live tracks, a copy (structured array, TRACK_DTYPE)."""
        out = np.empty(self.n, TRACK_DTYPE)
        # (the bytes: a typed memoryview of the record's format costs more than the copy)
        memcpy(cnp.PyArray_DATA(<cnp.ndarray>out), self.tr, self.n * sizeof(Track))
        return out

    def process(self, bursts, long long t_now_us, events):
        """Associate bursts (BURST_DTYPE, sorted by start), then age every track to
        t_now_us; life-cycle transitions go to `events` (EVENT_DTYPE).

        Returns (events written, bursts used): stops early, before a burst, when `events` has
        less room than that burst and the final aging pass can need (2 max_tracks + 4).
        """
        cdef const Burst* b = <const Burst*>record_data(bursts, BURST_DTYPE, "bursts")
        cdef Event* ev = <Event*>record_data(events, EVENT_DTYPE, "events")
        cdef Py_ssize_t i, done = 0, room = rows(events), n_b = rows(bursts)
        cdef int n_ev = 0
        if room < 2 * (self.max_tracks + 2):
            raise ValueError(f"events must hold at least {2 * (self.max_tracks + 2)}")
        with nogil:
            for i in range(n_b):
                if room - n_ev < 2 * (self.max_tracks + 2):
                    break
                n_ev = self._age(b[i].t_start_us, ev, n_ev)
                n_ev = self._take(&b[i], ev, n_ev)
                done = i + 1
            if done == n_b:
                n_ev = self._age(t_now_us, ev, n_ev)
            self._update_deadline()
        return n_ev, done

    cdef void _update_deadline(self) noexcept nogil:
        cdef int i
        cdef long long d, best = 0x7FFFFFFFFFFFFFFF
        for i in range(self.n):
            d = self.tr[i].t_last_end_us + (self.candidate_timeout_us if self.tr[i].state == CANDIDATE
                                             else self.lost_after_us if self.tr[i].state == CONFIRMED
                                             else self.drop_after_us)
            best = d if d < best else best
        self.deadline = best

    cdef int _event(self, Event* ev, int n_ev, long long t, long long tid, int a,
                    int b) noexcept nogil:
        ev[n_ev].t_us = t
        ev[n_ev].track_id = tid
        ev[n_ev].from_state = a
        ev[n_ev].to_state = b
        return n_ev + 1

    cdef int _age(self, long long t, Event* ev, int n_ev) noexcept nogil:
        cdef int i, keep = 0, w
        cdef long long quiet
        for i in range(self.n):
            quiet = t - self.tr[i].t_last_end_us
            if self.tr[i].state == CANDIDATE and quiet > self.candidate_timeout_us:
                n_ev = self._event(ev, n_ev, t, self.tr[i].track_id, CANDIDATE, DELETED)
                continue
            if self.tr[i].state == CONFIRMED and quiet > self.lost_after_us:
                n_ev = self._event(ev, n_ev, t, self.tr[i].track_id, CONFIRMED, LOST)
                self.tr[i].state = LOST
            if self.tr[i].state == LOST and quiet > self.drop_after_us:
                n_ev = self._event(ev, n_ev, t, self.tr[i].track_id, LOST, DELETED)
                continue
            if keep != i:
                self.tr[keep] = self.tr[i]
                for w in range(CHAN_WORDS):
                    self.chans[keep * CHAN_WORDS + w] = self.chans[i * CHAN_WORDS + w]
            keep += 1
        self.n = keep
        return n_ev

    cdef bint _accepts(self, Track* t, const Burst* b) noexcept nogil:
        cdef double bw_t = t.bw_sum_khz / t.n_bursts, bw = b.bandwidth_khz
        cdef long long quiet = b.t_start_us - t.t_last_end_us
        cdef long long allowed = (self.candidate_timeout_us if t.state == CANDIDATE
                                  else self.drop_after_us)
        if quiet > allowed or bw > bw_t * self.bw_ratio or bw_t > bw * self.bw_ratio:
            return False
        if bw <= self.narrow_khz and bw_t <= self.narrow_khz:
            return ((b.centre_khz if b.centre_khz > t.f_max_khz else t.f_max_khz) -
                    (b.centre_khz if b.centre_khz < t.f_min_khz else t.f_min_khz)) <= self.hop_span_khz
        if (b.t_start_us == t.t_last_start_us
                or not (t.f_min_khz - 0.5 * bw_t <= b.centre_khz <= t.f_max_khz + 0.5 * bw_t)):
            return False
        return quiet > self.lost_after_us or self._level_fits(t, b)

    cdef bint _level_fits(self, Track* t, const Burst* b) noexcept nogil:
        """Whether a wide burst's peak level is one step of the track's readings (module doc)."""
        cdef double limit = self.level_step_db, sd
        if not (b.peak_mw > 0 and t.level_db == t.level_db):
            return True
        if t.n_bursts > 1:
            sd = self.level_step_sds * self._scatter(t)
            limit = sd if sd > limit else limit
        return fabs(10.0 * log10(<double>b.peak_mw) - t.level_db) <= limit

    cdef double _scatter(self, Track* t) noexcept nogil:
        """The track's reading scatter (level_sd_db); inf (not known steady) under 2 bursts."""
        if t.n_bursts < 2:
            return INFINITY
        return sqrt(t.level_jump_sq_db2 / (2.0 * (t.n_bursts - 1)))

    cdef int _take(self, const Burst* b, Event* ev, int n_ev) noexcept nogil:
        cdef int i, best = -1
        cdef double d, best_d = 0.0, sd, best_sd = 0.0
        cdef bint wide = b.bandwidth_khz > self.narrow_khz
        cdef Track* t
        for i in range(self.n):
            if self._accepts(&self.tr[i], b):
                d = fabs(b.centre_khz - self.tr[i].f_last_khz)
                sd = self._scatter(&self.tr[i]) if wide else 0.0
                if best < 0 or d < best_d or (d == best_d and (
                        sd < best_sd or (sd == best_sd and self.tr[i].t_last_end_us >
                                         self.tr[best].t_last_end_us))):
                    best, best_d, best_sd = i, d, sd
        if best < 0:
            if self.n == self.max_tracks:
                self.overflow += 1
                return n_ev
            best = self.n
            self.n += 1
            self._start(best, b)
            n_ev = self._event(ev, n_ev, b.t_start_us, self.tr[best].track_id, NONE, CANDIDATE)
        else:
            self._add(best, b)
        t = &self.tr[best]
        if t.state == CANDIDATE and t.n_bursts >= self.confirm_bursts:
            t.state = CONFIRMED
            n_ev = self._event(ev, n_ev, b.t_start_us, t.track_id, CANDIDATE, CONFIRMED)
        elif t.state == LOST:
            t.state = CONFIRMED
            n_ev = self._event(ev, n_ev, b.t_start_us, t.track_id, LOST, CONFIRMED)
        return n_ev

    cdef void _start(self, int i, const Burst* b) noexcept nogil:
        cdef Track* t = &self.tr[i]
        cdef int w
        t.track_id = self.next_id
        self.next_id += 1
        t.state = CANDIDATE
        t.n_bursts = 0
        t.n_channels = 0
        t.n_hops = t.n_long_stays = t.run_stays = 0
        t.run_start_us = t.run_last_us = b.t_start_us
        t.run_khz = b.centre_khz
        t.t_first_us = b.t_start_us
        t.f_first_khz = b.centre_khz
        t.f_last_khz = b.centre_khz
        t.f_min_khz = t.f_min2_khz = INFINITY  # (_add puts the first centre in)
        t.f_max_khz = t.f_max2_khz = -INFINITY
        t.bw_sum_khz = t.dwell_sum_us = t.ivl_sum_us = t.ivl_sq_us2 = 0.0
        t.peak_mw = t.mean_sum_mw = t.centre_db_sum = t.level_jump_sq_db2 = 0.0
        t.level_db = NAN
        for w in range(N_CLOCKS):
            t.clock_cos[w] = t.clock_sin[w] = 0.0
        for w in range(CHAN_WORDS):
            self.chans[i * CHAN_WORDS + w] = 0
        self._add(i, b)

    cdef void _add(self, int i, const Burst* b) noexcept nogil:
        cdef Track* t = &self.tr[i]
        cdef long long ch = <long long>floor((b.centre_khz - t.f_first_khz) / self.channel_khz + 0.5) + 256
        cdef double ivl, level_db, c = b.centre_khz
        cdef unsigned long long bit
        # an off period (the track was lost) ends with this burst (module doc)
        cdef bint back = t.n_bursts > 0 and b.t_start_us - t.t_last_end_us > self.lost_after_us
        cdef bint wide = not (b.bandwidth_khz <= self.narrow_khz
                              and t.bw_sum_khz <= self.narrow_khz * t.n_bursts)
        cdef bint stay = True
        if t.n_bursts:
            ivl = <double>(b.t_start_us - t.t_last_start_us)
            if ivl > self.lost_after_us and t.n_bursts > 1:
                # not a gap between bursts: the mean so far
                ivl = t.ivl_sum_us / (t.n_bursts - 1)
            t.ivl_sum_us += ivl
            t.ivl_sq_us2 += ivl * ivl
            if (fabs(b.centre_khz - t.f_last_khz) >= 0.5 * self.channel_khz
                    or (self.revisit_us > 0 and not (b.t_start_us - t.t_last_start_us
                                                     < STAY_WITHIN * self.revisit_us))):
                t.n_hops += 1
                stay = False
            self._run(t, b, stay)
        self._clock(t, b)
        if 0 <= ch < 64 * CHAN_WORDS:
            bit = 1ULL << (ch & 63)
            if not (self.chans[i * CHAN_WORDS + (ch >> 6)] & bit):
                self.chans[i * CHAN_WORDS + (ch >> 6)] |= bit
                t.n_channels += 1
        t.n_bursts += 1
        t.t_last_start_us = b.t_start_us
        if b.t_end_us > t.t_last_end_us or t.n_bursts == 1:
            t.t_last_end_us = b.t_end_us
        t.f_last_khz = b.centre_khz
        if not (back and wide):
            if c < t.f_min_khz:
                t.f_min2_khz = t.f_min_khz
                t.f_min_khz = c
            elif c < t.f_min2_khz:
                t.f_min2_khz = c
            if c > t.f_max_khz:
                t.f_max2_khz = t.f_max_khz
                t.f_max_khz = c
            elif c > t.f_max2_khz:
                t.f_max2_khz = c
        t.bw_sum_khz += b.bandwidth_khz
        t.dwell_sum_us += <double>(b.t_end_us - b.t_start_us)
        t.peak_mw = b.peak_mw if not (b.peak_mw <= t.peak_mw) else t.peak_mw
        t.mean_sum_mw += b.mean_mw
        if b.mean_mw > 0 and b.centre_mw > 0:
            t.centre_db_sum += 10.0 * log10(<double>b.centre_mw / <double>b.mean_mw)
        if back and wide:  # its level, perhaps of a part of the emitter, is no reference for
            t.level_db = NAN  # the next (a narrow hopper's sparse hits keep their level changes)
        elif b.peak_mw > 0:  # (a track's first burst has no change to add: level_db is NaN)
            level_db = 10.0 * log10(<double>b.peak_mw)
            if t.level_db == t.level_db:
                t.level_jump_sq_db2 += (level_db - t.level_db) * (level_db - t.level_db)
            t.level_db = level_db


    cdef void _clock(self, Track* t, const Burst* b) noexcept nogil:
        """Add the burst's read-time phasors to the track's clock sums (module doc)."""
        cdef double read_us = <double>b.t_start_us, phase
        cdef int k
        if 0 <= b.peak_bin < self.n_read:
            read_us += (self.read_share[b.peak_bin] * <double>(b.t_end_us - b.t_start_us)
                        / (b.n_sweeps if b.n_sweeps > 1 else 1))
        for k in range(N_CLOCKS):
            phase = 2.0 * M_PI * fmod(read_us, CLOCK_PERIODS_US[k]) / CLOCK_PERIODS_US[k]
            t.clock_cos[k] += cos(phase)
            t.clock_sin[k] += sin(phase)

    cdef void _run(self, Track* t, const Burst* b, bint stay) noexcept nogil:
        """Follow the track's run on one channel with a burst after its first (module doc)."""
        cdef bint on_channel = fabs(b.centre_khz - t.run_khz) < 0.5 * self.channel_khz
        cdef bint going = (b.t_start_us - t.run_last_us < STAY_WITHIN * self.revisit_us
                           if self.revisit_us > 0 else on_channel)
        cdef bint was_long = t.run_last_us - t.run_start_us > self.link_run_max_us
        if not going:
            t.run_khz = b.centre_khz
            t.run_start_us = t.run_last_us = b.t_start_us
            t.run_stays = 0
            return
        if not on_channel:
            return
        t.run_last_us = b.t_start_us
        if not stay:
            return
        t.run_stays += 1
        if b.t_start_us - t.run_start_us > self.link_run_max_us:
            # the run's earlier stays join the count as it becomes long
            t.n_long_stays += 1 if was_long else t.run_stays


cdef inline int by_int(long long x, long long y) noexcept nogil:
    return (x > y) - (x < y)


cdef inline int by_float(double x, double y) noexcept nogil:
    """NumPy's sort order of floats: NaN after every number, NaNs equal, -0 equal to 0."""
    if x < y:
        return -1
    if x > y:
        return 1
    return (x != x) - (y != y)


cdef int burst_order(const Burst* x, const Burst* y) noexcept nogil:
    """np.sort(order="t_start_us")'s comparison of two BURST records: t_start_us, then the
    other fields in the dtype's order (NumPy breaks ties so), read as the struct's runs of
    one type: 2 long long, 5 int, 3 float, 2 double (each at its natural alignment in the
    64-byte record: the compiler's packed-member warnings do not apply)."""
    cdef const long long* xl = &x.t_start_us
    cdef const long long* yl = &y.t_start_us
    cdef const int* xi = &x.bin_lo
    cdef const int* yi = &y.bin_lo
    cdef const float* xf = &x.peak_mw
    cdef const float* yf = &y.peak_mw
    cdef const double* xd = &x.centre_khz
    cdef const double* yd = &y.centre_khz
    cdef int k, c = 0
    for k in range(2):
        c = by_int(xl[k], yl[k]) if c == 0 else c
    for k in range(5):
        c = by_int(xi[k], yi[k]) if c == 0 else c
    for k in range(3):
        c = by_float(xf[k], yf[k]) if c == 0 else c
    for k in range(2):
        c = by_float(xd[k], yd[k]) if c == 0 else c
    return c


cdef void merge_sort(Burst* a, Burst* tmp, Py_ssize_t n) noexcept nogil:
    """Bottom-up merge sort of n records by burst_order; stable (equal records keep their
    order). tmp holds n records."""
    cdef Py_ssize_t width = 1, lo, mid, hi, i, j, k
    cdef Burst* src = a
    cdef Burst* dst = tmp
    cdef Burst* swap
    while width < n:
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if burst_order(&src[j], &src[i]) < 0:
                    dst[k] = src[j]
                    j += 1
                else:
                    dst[k] = src[i]
                    i += 1
                k += 1
            memcpy(&dst[k], &src[i], (mid - i) * sizeof(Burst))
            memcpy(&dst[k + mid - i], &src[j], (hi - j) * sizeof(Burst))
            lo = hi
        src, dst = dst, src
        width *= 2
    if src != a:
        memcpy(a, src, n * sizeof(Burst))


def in_start_order(bursts):
    """bursts (BURST_DTYPE) in the order np.sort(bursts, order="t_start_us", kind="stable")
    gives (ties broken by the later fields in turn, equal records as they came): bursts itself
    when already so (the usual batch: bursts close in end order, most one a sweep), else a
    sorted copy. Tracker.process associates in start order."""
    cdef const Burst* b = <const Burst*>record_data(bursts, BURST_DTYPE, "bursts")
    cdef Py_ssize_t i = 1, n = rows(bursts)
    while i < n and burst_order(&b[i - 1], &b[i]) <= 0:
        i += 1
    if i >= n:
        return bursts
    out = np.empty(n, BURST_DTYPE)
    cdef Burst* o = <Burst*>cnp.PyArray_DATA(<cnp.ndarray>out)
    cdef Burst* tmp = <Burst*>malloc(n * sizeof(Burst))
    if tmp == NULL:
        raise MemoryError()
    memcpy(o, b, n * sizeof(Burst))
    with nogil:
        merge_sort(o, tmp, n)
    free(tmp)
    return out
