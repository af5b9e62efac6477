# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The gateway's quiet sweeps in one compiled call a chunk (straja.gateway.pipeline).

Most frames a gateway reads are SWEEP frames of an online node, on its own port, of the plan its
front end last ran, and nothing is detected in them. `Lane.take()` settles those frames of a
decoded chunk in C: the same state changes, in the same order, as Pipeline._frame makes of them
(the frame counted, its sequence number accepted, the node heard, the sweep kept for a video
profile's floor, the detector's stages given the segment), without the Python dispatch around
them. It stops at the first frame that is anything else (a STATUS, a reply, a new node, a
sweep of another plan, a dashboard tap, a profile asked of the node) and leaves it, with
nothing changed, to Pipeline._frame; a sweep whose stages detected something is taken and handed back
(`detected`), so the pipeline runs the detection's later stages and fusion on it.

`Heard` is what every frame of a node changes (NodeHealth's base): its clock offset, frame
count and the time it was last heard, so both paths update them by the same C method.
"""
from collections import deque

from libc.string cimport memset

from straja.protocol import FLAG_REVISIT as _FLAG_REVISIT, SWEEP as _SWEEP, T_US_BITS
from straja.gateway.record import T_NS_MAX
from straja._detect_sweep cimport TAKE_DETECTED, TAKE_REFUSED, SweepStages

# Node clocks are crystals (tens of ppm); let the offset estimate rise this fast between frames
# so a node whose clock runs slow is followed, while one late frame never pulls it up.
DRIFT_ALLOWANCE = 200e-6

cdef double DRIFT = DRIFT_ALLOWANCE
# A plan state's (straja.gateway.detector._PlanState, a slots class) fields the lane reads at
# every quiet sweep, in place (_slots.pxi): their offsets, set by the first Lane (the detector
# module imports this one, so they cannot be taken at import)
cdef object PlanState = None
cdef Py_ssize_t P_STAGES = 0, P_PAUSED_US = 0, P_LEFT_US = 0
# and a NodeDetector's (a slots class: its plans, the latest of each front end and of all), so
cdef object Detector = None
cdef Py_ssize_t D_PLANS = 0, D_LATEST = 0, D_LAST = 0
cdef int SWEEP = _SWEEP
cdef int FLAG_REVISIT = _FLAG_REVISIT

include "_slots.pxi"  # (a SWEEP frame's fields read in place, no attribute look-up each)


cpdef made_latest(detector, st):
    """A sweep of `st`, its front end's latest plan, taken by `detector` (a NodeDetector): that
    plan is the node's latest (NodeDetector._plans: its order is recency). A function of this
    module, not a method, so that the lane makes the change without a Python call: most of a
    node's sweeps are of another front end than the sweep before."""
    plans = <dict?>field(detector, Detector, D_PLANS, "_plans")
    key = st.key
    plans[key] = plans.pop(key)
    set_field(detector, Detector, D_LAST, "_last", st)


cpdef keep_floor(dict floors, object node_id, object sweep, Py_ssize_t keep):
    """Keep a whole sweep (all its channels, from the first) among the last `keep` of its
    node's front end: floors, node id -> front end -> deque (VideoProfiler's, whose
    normal_sweep this is; the lane calls it at C level for every quiet sweep. By node, then
    front end: two look-ups of a small int cost half of one of a tuple made for it)."""
    cdef dict by_front_end
    cdef Py_ssize_t size = len(field(sweep, Sweep, S_RSSI, "rssi"))
    total = field(sweep, Sweep, S_TOTAL, "total")
    if field(sweep, Sweep, S_FIRST, "first") or not total \
            or (size // 2 if field(sweep, Sweep, S_FLAGS, "flags") & FLAG_REVISIT else size) != total:
        return
    by_front_end = floors.get(node_id)
    if by_front_end is None:
        by_front_end = floors[node_id] = {}
    front_end = field(sweep, Sweep, S_FRONT_END, "front_end")
    kept = by_front_end.get(front_end)
    if kept is None:
        kept = by_front_end[front_end] = deque(maxlen=keep)
    kept.append(sweep)  # (its codes are bytes: kept as they came)


cdef int kth_code(const int* counts, Py_ssize_t k) noexcept nogil:
    """The k-th smallest (from 0) of the codes counted in counts (a histogram of 256)."""
    cdef int code = 0
    cdef Py_ssize_t seen = counts[0]
    while seen <= k and code < 255:
        code += 1
        seen += counts[code]
    return code


def wide_bursty(list held, Py_ssize_t at, double max_bins, double hot_codes,
                double swing_codes):
    """Whether one node's last normal sweeps read channel `at` inside a busy emitter wider than
    max_bins (VideoProfiler.wide_bursty_node's test of a node; profiling.wide_bursty_reference
    is its NumPy definition and this one's test oracle). held: each sweep's held codes (uint8
    buffers of one channel grid); a channel is hot at hot_codes or more over its sweep's median
    code. True when in some sweep the run of hot channels through `at` is longer than max_bins,
    unless `at` is hot in every sweep with its codes at most swing_codes apart (video's)."""
    cdef const unsigned char[::1] row
    cdef Py_ssize_t k, lo, hi, n
    cdef int counts[256]
    cdef int code, lowest = 255, highest = 0
    cdef double threshold
    cdef bint wide = False, always_hot = True
    for k in range(len(held)):
        row = held[k]
        n = row.shape[0]
        if not 0 <= at < n:
            raise IndexError(f"channel {at} of a sweep of {n}")
        memset(counts, 0, sizeof(counts))
        for lo in range(n):
            counts[row[lo]] += 1
        # the median code (as NumPy's: the mean of the middle two), then the hot threshold
        threshold = (kth_code(counts, (n - 1) // 2) + kth_code(counts, n // 2)) / 2.0 + hot_codes
        code = row[at]
        lowest, highest = min(lowest, code), max(highest, code)
        if code < threshold:
            always_hot = False
            continue
        if not wide:
            lo = hi = at
            while lo > 0 and row[lo - 1] >= threshold:
                lo -= 1
            while hi < n - 1 and row[hi + 1] >= threshold:
                hi += 1
            wide = hi - lo + 1 > max_bins
    return wide and (not always_hot or highest - lowest > swing_codes)


# ClockOffset's times, ns in 64-bit integers: a node's t_us is below 2**T_US_BITS (both
# decoders refuse a later one), so its ns are below 2**61 (1000 < 2**10); arrivals (time.time_ns)
# below T_NS_MAX (2**62, the year 2116). Every sum and difference ClockOffset makes of such
# times is then below 2**63 in size: the arithmetic needs no wider integers
NODE_LIMIT_NS = (1 << T_US_BITS) * 1000
cdef long long NODE_US = 1 << T_US_BITS
cdef long long NODE_NS = NODE_LIMIT_NS
cdef long long ARRIVAL_NS = T_NS_MAX


cdef inline long long checked(long long value, long long limit, str what) except? -1:
    if not -limit < value < limit:
        raise OverflowError(f"{what} {value} is beyond ClockOffset's range (+-{limit})")
    return value


cdef class ClockOffset:
    """Gateway time minus node time, from frame arrival times (ns).

    arrival = t_node + offset + delay with delay >= 0, so the smallest arrival - t_node seen is
    the best estimate of offset (the minimum-delay filter of NTP, RFC 5905 section 10); it may
    rise by DRIFT_ALLOWANCE per ns of elapsed time so a drifting node clock is followed.
    Kept in C integers (the limits above), so a frame makes and reads no integer object (the
    lane's every frame).
    """
    cdef bint known  # a frame seen
    cdef long long offset, last

    @property
    def offset_ns(self):
        """The offset (int), None before the first frame."""
        return self.offset if self.known else None

    cdef int update_c(self, long long t_node_ns, long long arrival_ns) except -1:
        cdef long long sample = (checked(arrival_ns, ARRIVAL_NS, "an arrival of ns")
                                 - checked(t_node_ns, NODE_NS, "a node time of ns"))
        cdef long long allowed
        if self.known:
            # doubles and truncation as Python's int((arrival - last) * DRIFT_ALLOWANCE)
            allowed = self.offset + <long long>(<double>(arrival_ns - self.last) * DRIFT)
            sample = sample if sample <= allowed else allowed
        self.offset, self.last, self.known = sample, arrival_ns, True
        return 0

    def update(self, long long t_node_ns, long long arrival_ns):
        """A frame sent at t_node_ns arrived at arrival_ns: the offset after it."""
        self.update_c(t_node_ns, arrival_ns)
        return self.offset


cdef class Heard:
    """What every frame of a node changes: `clock` (its ClockOffset), `frames` (counted) and
    `last_seen_ns` (its arrival); `online` and `source` (its port) are the node's too, read by
    Lane.take() at C level."""
    cdef ClockOffset _clock
    cdef public long long frames
    cdef public object last_seen_ns, source
    cdef public bint online

    def __init__(self):
        self._clock = ClockOffset()
        self.last_seen_ns, self.source = 0, ""

    @property
    def clock(self):
        return self._clock

    @clock.setter
    def clock(self, ClockOffset value not None):
        self._clock = value

    cpdef heard(self, long long t_node_ns, object arrival_ns):
        """A frame sent at t_node_ns (node time) arrived at arrival_ns (gateway time)."""
        self._clock.update_c(t_node_ns, arrival_ns)
        self.frames += 1
        self.last_seen_ns = arrival_ns

    cpdef int heard_us(self, long long t_us, object arrival_ns) except -1:
        """heard(t_us * 1000, arrival_ns), without making the integer t_us * 1000."""
        self._clock.update_c(checked(t_us, NODE_US, "a node time of µs") * 1000, arrival_ns)
        self.frames += 1
        self.last_seen_ns = arrival_ns
        return 0


cdef class Lane:
    """The quiet-sweep path of a Pipeline, over its own containers (the same objects: the
    pipeline never replaces them): nodes (node id -> NodeHealth, a Heard), detectors (node id ->
    NodeDetector), counts, seq (SeqTracker: its dict of last numbers is read and written here
    for the in-order step), source_node, sweep_taps, profiler (VideoProfiler: its floors kept
    here, keep_floor; its dict of the profiles pending read, never replaced), node_ids (the
    config's; empty: any)."""
    cdef dict nodes, detectors, counts, source_node, seq_last, floors, profiles_pending
    cdef list sweep_taps
    cdef object seq_accept, node_ids
    cdef Py_ssize_t floor_sweeps
    cdef object refused_segment  # (detector.REFUSED_SEGMENT)
    cdef bint any_node
    # the frame before the index take() returned, taken, whose stages detected something:
    # (frame, NodeHealth, NodeDetector, plan state), or None
    cdef readonly object detected

    def __init__(self, dict nodes, dict detectors, dict counts, seq, dict source_node,
                 list sweep_taps, profiler, node_ids):
        self.nodes, self.detectors, self.counts = nodes, detectors, counts
        self.source_node, self.sweep_taps = source_node, sweep_taps
        self.seq_accept, self.seq_last = seq.accept, seq._last
        # (these modules import this one)
        from straja.gateway.detector import REFUSED_SEGMENT, NodeDetector, _PlanState
        global PlanState, P_STAGES, P_PAUSED_US, P_LEFT_US, Detector, D_PLANS, D_LATEST, D_LAST
        if PlanState is None:
            P_STAGES = slot_offset(_PlanState, "stages")
            P_PAUSED_US = slot_offset(_PlanState, "paused_us")
            P_LEFT_US = slot_offset(_PlanState, "left_us")
            PlanState = _PlanState
            D_PLANS = slot_offset(NodeDetector, "_plans")
            D_LATEST = slot_offset(NodeDetector, "_latest")
            D_LAST = slot_offset(NodeDetector, "_last")
            Detector = NodeDetector
        from straja.gateway.profiling import FLOOR_SWEEPS
        self.floors, self.floor_sweeps = profiler._floors, FLOOR_SWEEPS
        self.profiles_pending = profiler.pending  # (node id -> the profile asked of it)
        self.refused_segment = REFUSED_SEGMENT
        self.node_ids, self.any_node = node_ids, not node_ids
        self.detected = None

    def take(self, list items, Py_ssize_t start, source, t_ns):
        """Settle items[start:] (a decoder's events of one chunk from `source`, arrived at t_ns)
        up to the first that is not a quiet sweep of the lane (module docstring); returns its
        index (len(items): all settled). `detected` is set when the frame before it was taken
        with something detected."""
        cdef Py_ssize_t i, n = len(items)
        cdef Heard health
        cdef SweepStages stages
        cdef dict latest  # (NodeDetector._latest: looked up as a dict's)
        cdef int taken
        cdef long number
        self.detected = None
        for i in range(start, n):
            frame = items[i]
            if type(frame) is not Frame or slot(frame, F_TYPE, "type") != SWEEP:
                return i
            body = slot(frame, F_BODY, "body")
            if type(body) is not Sweep:
                return i  # (the decoders' SWEEP frames carry one)
            node_id = slot(frame, F_NODE_ID, "node_id")
            if not self.any_node and node_id not in self.node_ids:
                return i
            found = self.nodes.get(node_id)
            if not isinstance(found, Heard):
                return i  # (None: a node not known yet)
            health = <Heard>found
            if not health.online or health.source != source or self.sweep_taps \
                    or node_id in self.profiles_pending:
                return i  # (a profile asked of another node: _frame finds this sweep not it)
            detector = self.detectors[node_id]
            latest = field(detector, Detector, D_LATEST, "_latest")
            plan = latest.get(slot(body, S_FRONT_END, "front_end"))
            if plan is None or field(plan, PlanState, P_LEFT_US, "left_us") is not None:
                return i  # a plan the node did not run last, or back to it after a profile's
                          # sweeps (NodeDetector.sweep makes it, or pauses its clock)
            stages = <SweepStages?>field(plan, PlanState, P_STAGES, "stages")
            if not stages.of_plan(body):
                return i
            # Pipeline._frame's changes for this frame, in its order
            self.counts["frames"] += 1
            t_us = slot(frame, F_T_US, "t_us")
            seq = slot(frame, F_SEQ, "seq")
            last = self.seq_last.get(node_id)
            number = seq
            if last is not None and ((number - <long>last) & 0xFFFF) == 1:
                self.seq_last[node_id] = seq  # the next in order: all SeqTracker.accept changes
            else:
                self.seq_accept(node_id, seq, t_us, -1)
            self.source_node[source] = node_id
            health.heard_us(t_us, t_ns)
            keep_floor(self.floors, node_id, body, self.floor_sweeps)
            taken = stages.take(body, t_us - field(plan, PlanState, P_PAUSED_US, "paused_us"))
            # (of_plan: segment()'s answer)
            if taken == TAKE_REFUSED:
                detector.refused[self.refused_segment] += 1
            elif plan is not field(detector, Detector, D_LAST, "_last"):
                made_latest(detector, plan)
            if taken == TAKE_DETECTED:
                self.detected = (frame, health, detector, plan)
                return i + 1
        return n
