# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled protocol v1 stream decoder (docs/protocol.md): `straja.framing.Decoder`.

Same interface, events and counters as `straja.protocol.ReferenceDecoder`. The delimiter scan
(memchr), accumulation, COBS, CRC (folded by PCLMULQDQ where the CPU has it, else slicing-by-16)
and field parsing are C (`nogil` kernels) over preallocated buffers, working in place on the
caller's buffer when a whole chunk is in it; Python objects are made only for what is passed on
(one `bytes` of RSSI codes per sweep, one array('H') per envelope block), and a frame of plain
values is not tracked by the cycle collector (_untracked). The GIL is not released around the
kernels: a chunk is at most 2057 bytes, about a microsecond of work, and dropping the GIL that
often would hand it back and forth with the gateway's other threads for no gain. Sequence
tracking is the reference's own SeqTracker, so losses are counted by one piece of code (only its
in-order step, whose one effect is the new last seq, is done here without the Python call).
"""
from cpython cimport array as carray
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.exc cimport PyErr_SetFromErrno
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.stdint cimport int8_t, int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.errno cimport EAGAIN, EINTR, errno
from libc.string cimport memchr, memcpy, memset
from libc.math cimport ceil
from posix.unistd cimport read as posix_read

from array import array
from os import strerror

from straja.protocol import (
    Console, Envelope, Frame, Log, RemoteId, Reply, SeqTracker, Status, Sweep, TrackerCounters,
)
from straja_node.wire import crc_table

# The wire constants (MAX_FRAME, SWEEP, SWEEP_BODY, ...) as a C enum, written by setup.py from
# firmware/straja_node/wire.py; also `WIRE`, their values as this module was built with them.
include "_wire.pxi"

# CRC_T[k][a]: the CRC register (from 0) after byte a and k zero bytes; CRC_T[0] is the wire's
# crc_table(). The CRC is linear, so 16 bytes at a time are 16 independent look-ups XORed
# ("slicing-by-N", Kounavis & Berry 2005) instead of a chain of 16 dependent ones: the register
# only feeds the first two, so the chain from one step to the next is two look-ups for 16 bytes
# (by 8 it was for 8: the CRC was then most of a frame's decoding).
cdef uint16_t CRC_T[16][256]
cdef bint CONSOLE[256]


cdef int _init_tables(table) except -1:
    cdef int i, k
    cdef uint16_t c
    for i in range(256):
        CRC_T[0][i] = table[i]
        CONSOLE[i] = (0x20 <= i <= 0x7E) or i == 9 or i == 10 or i == 13
    for k in range(1, 16):
        for i in range(256):
            c = CRC_T[k - 1][i]
            CRC_T[k][i] = <uint16_t>((c << 8) ^ CRC_T[0][c >> 8])


_init_tables(crc_table())


include "_slots.pxi"

cdef extern from "Python.h":
    object PyType_GenericAlloc(PyTypeObject* tp, Py_ssize_t nitems)  # a dataclass's tp_alloc
    int PyObject_GC_IsTracked(object op)
    void PyObject_GC_UnTrack(void* op)

# Frame and the bodies of a busy node's stream (Sweep, Envelope, Status) are made as their
# dataclass's own __init__ would leave them (every slot set, in field order; _new_slots) but
# without calling it: a Python call with eight or more arguments costs more than the rest of the frame's
# decoding. The slots' places in the object come from their member descriptors.
# (room for more fields than any has: _slot_offsets checks)
cdef Py_ssize_t SWEEP_SLOTS[16]
cdef Py_ssize_t ENVELOPE_SLOTS[16]
cdef Py_ssize_t STATUS_SLOTS[16]
cdef Py_ssize_t FRAME_SLOTS[16]


cdef int _slot_offsets(cls, Py_ssize_t* out, Py_ssize_t room) except -1:
    names = list(cls.__dataclass_fields__)
    if len(names) > room:
        raise ImportError(f"{cls.__name__} has {len(names)} fields, the decoder has room for {room}")
    for i, name in enumerate(names):
        out[i] = slot_offset(cls, name)
    return 0


_slot_offsets(Sweep, SWEEP_SLOTS, sizeof(SWEEP_SLOTS) // sizeof(Py_ssize_t))
_slot_offsets(Envelope, ENVELOPE_SLOTS, sizeof(ENVELOPE_SLOTS) // sizeof(Py_ssize_t))
_slot_offsets(Status, STATUS_SLOTS, sizeof(STATUS_SLOTS) // sizeof(Py_ssize_t))
_slot_offsets(Frame, FRAME_SLOTS, sizeof(FRAME_SLOTS) // sizeof(Py_ssize_t))


cdef inline object _new_slots(cls):
    """A new cls (a slots dataclass), its fields unset: _put sets each, in field order (as its
    __init__ would; a tuple of the values for a loop was a tenth of the objects made a frame)."""
    return PyType_GenericAlloc(<PyTypeObject*>cls, 0)


cdef inline void _put(object obj, Py_ssize_t slot, object value) noexcept:
    """Set the unset field at offset `slot` of obj to value."""
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + slot))[0] = <PyObject*>value


cdef inline int _put_u32s(object obj, const Py_ssize_t* slots, const uint8_t* b,
                          Py_ssize_t count) except -1:
    """Set `count` fields, at offsets slots[0:count], to the little-endian uint32s at b."""
    cdef Py_ssize_t i
    for i in range(count):
        _put(obj, slots[i], _u32(b + 4 * i))
    return 0


cdef inline object _untracked(object obj):
    """obj, no longer tracked by the cycle collector: for an object whose fields are all
    untracked (ints, bytes, str, arrays, untracked bodies), the rule CPython applies to its
    tuples. Such an object is in no reference cycle, and a busy node's frames and bodies were
    most of the collector's work (a tenth of the decoding; and every collection walks the young
    objects tracked, the gateway's others too). A field later set to a container that leads back
    to the object would make a cycle the collector does not free: nothing in straja sets one."""
    PyObject_GC_UnTrack(<void*><PyObject*>obj)
    return obj


cdef carray.array U16 = array("H")

DEF COPY_OVER = 15  # _cobs_decode's pieces reach this many bytes past a block


cdef extern from "_crc16_clmul.h" nogil:
    # the CRC folded 16 bytes at a time by PCLMULQDQ where the CPU has it
    int straja_crc16_use_clmul(int on, unsigned poly)
    Py_ssize_t straja_crc16_fold(const uint8_t* p, Py_ssize_t n, unsigned init, unsigned poly,
                                 uint8_t* state)


def crc16_use_clmul(bint on):
    """Fold the CRC by PCLMULQDQ (on, the default where the CPU has it) or take it by the table
    alone (off): the same CRC (the tests run both). Returns whether the folding is used."""
    return bool(straja_crc16_use_clmul(on, CRC_POLY))


def crc16(data) -> int:
    """The decoder's CRC-16 of the bytes-like `data`, by the path crc16_use_clmul chose (the
    tests' handle on it)."""
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    return _crc16(&view[0] if view.shape[0] else NULL, view.shape[0])


cdef inline uint16_t _crc16_table(const uint8_t* p, Py_ssize_t n, uint16_t c) noexcept nogil:
    """The CRC register after p[0:n], from c, by the tables."""
    cdef Py_ssize_t i = 0
    while i + 16 <= n:
        c = (CRC_T[15][(c >> 8) ^ p[i]] ^ CRC_T[14][(c & 0xFF) ^ p[i + 1]]
             ^ CRC_T[13][p[i + 2]] ^ CRC_T[12][p[i + 3]] ^ CRC_T[11][p[i + 4]]
             ^ CRC_T[10][p[i + 5]] ^ CRC_T[9][p[i + 6]] ^ CRC_T[8][p[i + 7]]
             ^ CRC_T[7][p[i + 8]] ^ CRC_T[6][p[i + 9]] ^ CRC_T[5][p[i + 10]]
             ^ CRC_T[4][p[i + 11]] ^ CRC_T[3][p[i + 12]] ^ CRC_T[2][p[i + 13]]
             ^ CRC_T[1][p[i + 14]] ^ CRC_T[0][p[i + 15]])
        i += 16
    while i < n:
        c = <uint16_t>((c << 8) ^ CRC_T[0][(c >> 8) ^ p[i]])
        i += 1
    return c


cdef inline uint16_t _crc16(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """CRC-16/CCITT-FALSE of p[0:n]: the whole 16-byte blocks folded (where PCLMULQDQ runs),
    then the CRC of the folded state and the bytes after it by the tables."""
    cdef uint8_t state[16]
    cdef Py_ssize_t done = straja_crc16_fold(p, n, CRC_INIT, CRC_POLY, state)
    if done == 0:
        return _crc16_table(p, n, CRC_INIT)
    return _crc16_table(p + done, n - done, _crc16_table(state, 16, 0))


cdef Py_ssize_t _cobs_decode(const uint8_t* src, Py_ssize_t n, uint8_t* dst) noexcept nogil:
    """Decode into dst (room for n + COPY_OVER bytes); -1 if a block runs past the end."""
    cdef Py_ssize_t i = 0, o = 0, end, k
    cdef uint8_t code
    while i < n:
        code = src[i]
        end = i + code
        if code == 0 or end > n:
            return -1
        # in 16-byte pieces: a memcpy of a block's size was inlined as `rep movsq`, whose
        # start-up cost was a sixth of the decoder's C. The last piece may reach past the
        # block, not past the frame (the frame's last block: its rest a byte at a time)
        k = 1
        while k + 16 <= code or (k < code and end + COPY_OVER <= n):
            memcpy(dst + o + k - 1, src + i + k, 16)
            k += 16
        while k < code:
            dst[o + k - 1] = src[i + k]
            k += 1
        o += code - 1
        i = end
        if code < 0xFF and i < n:
            dst[o] = 0
            o += 1
    return o


cdef inline bint _is_console(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if not CONSOLE[p[i]]:
            return False
    return True


cdef inline uint32_t _u16(const uint8_t* p) noexcept nogil:
    return p[0] | (<uint32_t>p[1] << 8)


cdef inline uint32_t _u32(const uint8_t* p) noexcept nogil:
    return p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16) | (<uint32_t>p[3] << 24)


cdef inline uint64_t _u64(const uint8_t* p) noexcept nogil:
    return _u32(p) | (<uint64_t>_u32(p + 4) << 32)


cdef inline uint32_t _u16be(const uint8_t* p) noexcept nogil:
    return (<uint32_t>p[0] << 8) | p[1]


cdef inline Py_ssize_t _count_lf(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, k = 0
    for i in range(n):
        k += p[i] == 10
    return k


cdef inline str _utf8(const uint8_t* p, Py_ssize_t n):
    return PyUnicode_DecodeUTF8(<const char*>p, n, "replace")


cdef object _body(int ftype, const uint8_t* b, Py_ssize_t n):
    """The body object, None if it does not fit its type, raw bytes for an unknown type."""
    cdef carray.array samples
    cdef object obj
    if ftype == SWEEP:
        if n < SWEEP_BODY:
            return None
        obj = _new_slots(Sweep)
        _put(obj, SWEEP_SLOTS[0], b[0])
        _put(obj, SWEEP_SLOTS[1], b[1])
        _put(obj, SWEEP_SLOTS[2], _u16(b + 2))
        _put_u32s(obj, SWEEP_SLOTS + 3, b + 4, 4)
        _put(obj, SWEEP_SLOTS[7], _u16(b + 20))
        _put(obj, SWEEP_SLOTS[8], _u16(b + 22))
        _put(obj, SWEEP_SLOTS[9], PyBytes_FromStringAndSize(<const char*>b + SWEEP_BODY,
                                                            n - SWEEP_BODY))
        return _untracked(obj)
    if ftype == ENVELOPE:
        if n < ENVELOPE_BODY or (n - ENVELOPE_BODY) % 2:
            return None
        samples = carray.clone(U16, (n - ENVELOPE_BODY) // 2, False)
        memcpy(samples.data.as_voidptr, b + ENVELOPE_BODY, n - ENVELOPE_BODY)
        obj = _new_slots(Envelope)
        _put(obj, ENVELOPE_SLOTS[0], b[0])
        _put(obj, ENVELOPE_SLOTS[1], b[1])
        _put(obj, ENVELOPE_SLOTS[2], _u16(b + 2))
        _put_u32s(obj, ENVELOPE_SLOTS + 3, b + 4, 2)
        _put(obj, ENVELOPE_SLOTS[5], <int32_t>_u32(b + 12))
        _put(obj, ENVELOPE_SLOTS[6], <int32_t>_u32(b + 16))
        _put(obj, ENVELOPE_SLOTS[7], samples)
        return _untracked(obj)
    if ftype == STATUS:
        if n < STATUS_BODY:
            return None
        obj = _new_slots(Status)
        _put(obj, STATUS_SLOTS[0], _u32(b))
        _put(obj, STATUS_SLOTS[1], _u16(b + 4))
        _put(obj, STATUS_SLOTS[2], b[6])
        _put(obj, STATUS_SLOTS[3], b[7])
        _put_u32s(obj, STATUS_SLOTS + 4, b + 8, 4)
        _put(obj, STATUS_SLOTS[8], _u16(b + 24))
        _put(obj, STATUS_SLOTS[9], _u16(b + 26))
        _put(obj, STATUS_SLOTS[10], _utf8(b + STATUS_BODY, n - STATUS_BODY))
        return _untracked(obj)
    if ftype == LOG:
        if n < LOG_BODY:
            return None
        return Log(b[0], _utf8(b + LOG_BODY, n - LOG_BODY))
    if ftype == REPLY:
        if n < REPLY_BODY:
            return None
        return Reply(_u16(b), b[2], _utf8(b + REPLY_BODY, n - REPLY_BODY))
    if ftype == REMOTEID:
        if not REMOTEID_BODY <= n <= REMOTEID_BODY + REMOTEID_DATA_MAX:
            return None
        return RemoteId(b[0], <int8_t>b[1], PyBytes_FromStringAndSize(<const char*>b + 2, 6),
                        PyBytes_FromStringAndSize(<const char*>b + REMOTEID_BODY, n - REMOTEID_BODY))
    return PyBytes_FromStringAndSize(<const char*>b, n)


cdef class Decoder:
    """Streaming decoder: `feed(data) -> list` of Frame and Console events; never raises."""

    cdef uint8_t _acc[MAX_ENCODED]
    cdef uint8_t _raw[MAX_ENCODED + COPY_OVER]
    cdef Py_ssize_t _acc_len
    cdef bint _discarding
    cdef public object tracker
    cdef readonly long long bytes_in, frames, corrupt, oversize
    cdef readonly long long console_bytes, console_lines, unknown

    def __init__(self):
        self.tracker = SeqTracker()
        self._acc_len = 0
        self._discarding = False

    duplicates = TrackerCounters.duplicates
    lost = TrackerCounters.lost
    lost_by_node = TrackerCounters.lost_by_node
    reordered = TrackerCounters.reordered
    restarts = TrackerCounters.restarts

    def feed(self, data):
        """Decode the bytes-like `data`; return the events it completed."""
        cdef Py_buffer buf
        try:
            PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
        except BufferError:  # not contiguous
            data = bytes(data)
            PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
        try:
            return self._feed(<const uint8_t*>buf.buf, buf.len)
        finally:
            PyBuffer_Release(&buf)

    cdef list _feed(self, const uint8_t* base, Py_ssize_t n):
        cdef Py_ssize_t pos = 0, end, take
        cdef const uint8_t* zero
        cdef list events = []
        self.bytes_in += n
        while pos < n:
            zero = <const uint8_t*>memchr(base + pos, 0, n - pos)
            end = n if zero == NULL else zero - base
            take = end - pos
            if not self._discarding:
                if self._acc_len + take > MAX_ENCODED:
                    self.oversize += 1
                    self._acc_len = 0
                    self._discarding = True
                elif zero != NULL and self._acc_len == 0:
                    if take:  # a whole chunk in this data: decode it in place
                        self._chunk(base + pos, take, events)
                    pos = end + 1
                    continue
                else:
                    memcpy(self._acc + self._acc_len, base + pos, take)
                    self._acc_len += take
            if zero == NULL:
                break
            if self._discarding:
                self._discarding = False
            elif self._acc_len:
                self._chunk(self._acc, self._acc_len, events)
                self._acc_len = 0
            pos = end + 1
        return events

    cdef bint _next_in_order(self, int ftype, object node_id, uint32_t seq) except -1:
        """SeqTracker.accept's commonest case done here (it costs more than the rest of a
        frame's decoding as a Python call): a frame other than a STATUS whose seq is the one
        after the node's last. Its whole effect is the new last seq; any other frame goes to
        accept()."""
        cdef dict last = self.tracker._last
        prev = last.get(node_id) if ftype != STATUS else None
        if prev is None or ((seq - <uint32_t>prev) & 0xFFFF) != 1:
            return False
        last[node_id] = seq
        return True

    cdef int _chunk(self, const uint8_t* p, Py_ssize_t n, list events) except -1:
        cdef Py_ssize_t m
        cdef int ftype
        if _is_console(p, n):
            self.console_bytes += n
            self.console_lines += _count_lf(p, n)
            events.append(Console(PyUnicode_DecodeASCII(<const char*>p, n, NULL)))
            return 0
        m = _cobs_decode(p, n, self._raw)
        if not (HEADER_LEN + CRC_LEN <= m <= MAX_FRAME
                and _crc16(self._raw, m - CRC_LEN) == _u16be(self._raw + m - CRC_LEN)
                and self._raw[0] == VERSION
                and _u64(self._raw + 6) >> T_US_BITS == 0):
            self.corrupt += 1
            return 0
        ftype = self._raw[1]
        body = _body(ftype, self._raw + HEADER_LEN, m - HEADER_LEN - CRC_LEN)
        if body is None:
            self.corrupt += 1
            return 0
        node_id = _u16(self._raw + 2)
        seq = _u16(self._raw + 4)
        t_us = _u64(self._raw + 6)
        if not self._next_in_order(ftype, node_id, seq) and not self.tracker.accept(
                node_id, seq, t_us, body.boot_count if ftype == STATUS else -1):
            return 0
        if SWEEP <= ftype <= REMOTEID:
            self.frames += 1
        else:
            self.unknown += 1
        frame = _new_slots(Frame)
        _put(frame, FRAME_SLOTS[0], ftype)
        _put(frame, FRAME_SLOTS[1], node_id)
        _put(frame, FRAME_SLOTS[2], seq)
        _put(frame, FRAME_SLOTS[3], t_us)
        _put(frame, FRAME_SLOTS[4], body)
        events.append(frame if PyObject_GC_IsTracked(body) else _untracked(frame))
        return 0


cdef extern from "sys/epoll.h":
    ctypedef union epoll_data_t:
        int fd
    cdef struct epoll_event:
        uint32_t events
        epoll_data_t data
    int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout) nogil
    int epoll_ctl(int epfd, int op, int fd, epoll_event* event) nogil
    enum: EPOLLIN
    enum: EPOLLET
    enum: EPOLL_CTL_MOD

cdef extern from "time.h":
    ctypedef long time_t
    ctypedef int clockid_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    enum: CLOCK_MONOTONIC
    enum: TIMER_ABSTIME
    int clock_nanosleep(clockid_t clock, int flags, const timespec* until, timespec* rest) nogil

DEF READY_MAX = 1024  # fds reported by one wait_ready (more stay ready for the next)
# How the gateway registers a port (`ingest.PortReaders`): edge-triggered, so that a port is
# reported when bytes come, not again at every wait while its last bytes are being handled (a
# level-triggered port is polled at the next wait too: half the ports' polls, perf7). Its reader
# must then take what is there at each report: `FrameSplitter.read`, its epfd set.
cdef uint32_t EDGE_IN = <uint32_t>EPOLLIN | <uint32_t>EPOLLET  # (EPOLLET is bit 31)
PORT_EVENTS = EDGE_IN


def wait_ready(int epfd, double not_before, double timeout_s=-1.0) -> list:
    """The fds of the epoll instance `epfd` (registered by `select.epoll`, which keys them by
    fd) that are ready once the monotonic clock (`time.monotonic`) reaches `not_before`: sleeps
    until then, then takes those ready, or waits for one, at most `timeout_s` more (negative: no
    limit; [] when it passed). The gateway waits like this between rounds of reads: the GIL is
    given up and taken back once a round, where a sleep and then a poll (`select.epoll.poll`
    gives it up even for a wait of 0) took it back twice. [] when a signal came."""
    cdef epoll_event events[READY_MAX]
    cdef timespec until
    cdef int n, err = 0
    cdef int timeout_ms = -1
    if not -1e12 < not_before < 1e12:  # (NaN too): no time of the monotonic clock
        raise ValueError(f"not_before {not_before} is not a time of the monotonic clock")
    if timeout_s >= 0:  # (rounded up: a wait of 0.1 ms is not a poll of 0)
        timeout_ms = <int>min(ceil(timeout_s * 1e3), 2147483647.0)
    until.tv_sec = <time_t>not_before
    until.tv_nsec = <long>((not_before - <double>until.tv_sec) * 1e9)
    with nogil:
        if not_before > 0:
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL)  # (a signal: early)
        n = epoll_wait(epfd, events, READY_MAX, timeout_ms)
        if n < 0:
            err = errno
    if n < 0:
        if err == EINTR:
            return []
        raise OSError(err, strerror(err))
    return [events[i].data.fd for i in range(n)]


cdef inline bint _is_sweep(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """Whether a COBS-encoded frame is a SWEEP: its first block (code >= 3) holds the header's
    version and type bytes as they are (docs/protocol.md, Framing)."""
    return n >= 3 and p[0] >= 3 and p[2] == SWEEP


cdef class FrameSplitter:
    """One port's bytes cut at frame delimiters for the gateway's queue (`ingest.IngestQueue`):
    `split(data)` returns (is_sweep, bytes) pairs in stream order, each whole SWEEP frame (with
    its closing delimiter) a pair of its own, the bytes between them (other frames, console
    text) one pair; delimiters right after one are dropped. The start of a frame at the end of
    the data is held until the data that ends it; console text at the end (a REPL prompt waits
    for no delimiter) goes on at once. Exactly `ingest.ReferenceSplitter`'s output (its test
    oracle), without a Python object per piece: this runs for every read of every port.
    `read(fd, size)` is read(2) and split in one call (no bytes object for the read itself);
    `flush()` gives up the held bytes (the port closed)."""

    cdef uint8_t _held[MAX_WIRE]
    cdef Py_ssize_t _held_len
    cdef bint _at_start  # the held bytes (or, none held, the next bytes) begin a frame
    cdef bytearray _other  # scratch: the bytes between two sweeps, as they are gathered
    cdef bytearray _input  # read(): the held bytes, then the read's
    # the epoll instance where the fds read are registered with PORT_EVENTS (-1: none), set by
    # whoever registers them (read(): a read that may have left bytes has them reported)
    cdef public int epfd

    def __init__(self):
        self.epfd = -1
        self._held_len = 0
        self._at_start = False
        self._other = bytearray()
        self._input = bytearray()

    def read(self, int fd, Py_ssize_t size):
        """Reads up to `size` bytes of the non-blocking `fd`: the pairs they complete; [] when
        it has none ready (EAGAIN), None at its end (a read of 0 bytes: a tty unplugged);
        OSError for a failed read (EIO: unplugged). Nothing held is lost in any case.
        With `epfd`, where fd is registered with PORT_EVENTS (edge-triggered: the fd is
        reported as bytes come, not for bytes left unread): a read short of `size` took all
        the fd had then (a tty's line discipline hands over its whole buffer, 4 KiB; what the
        kernel holds beyond it comes as new bytes, reported); one that filled `size` may have
        left some, so it renews the registration (EPOLL_CTL_MOD), which reports the fd again
        while it has bytes: they are read at the next wait, as a level-triggered port's are
        (OSError when that fails: fd is not registered there)."""
        cdef Py_ssize_t got
        cdef uint8_t* buf
        cdef epoll_event again
        if size < 1:
            raise ValueError(f"read size {size} < 1")
        if len(self._input) < MAX_WIRE + size:
            self._input.extend(bytes(MAX_WIRE + size - len(self._input)))
        buf = <uint8_t*><char*>self._input
        got = posix_read(fd, buf + self._held_len, size)
        if got < 0:
            if errno == EAGAIN:  # (EWOULDBLOCK on Linux)
                return []
            PyErr_SetFromErrno(OSError)
        if got == 0:
            return None
        if got == size and self.epfd >= 0:
            memset(&again, 0, sizeof(again))
            again.events = EDGE_IN
            again.data.fd = fd  # (as select.epoll registers it)
            if epoll_ctl(self.epfd, EPOLL_CTL_MOD, fd, &again) < 0:  # (fd not registered there)
                PyErr_SetFromErrno(OSError)
        memcpy(buf, self._held, self._held_len)
        got += self._held_len
        self._held_len = 0
        return self._split(buf, got)

    def flush(self) -> bytes:
        """The held bytes (the start of a frame whose end will not come), now not held."""
        held = PyBytes_FromStringAndSize(<const char*>self._held, self._held_len)
        self._held_len = 0
        self._at_start = False
        return held

    def split(self, data) -> list:
        """The pairs `data` (bytes-like) completes; the held start of a frame comes first."""
        cdef Py_buffer buf
        if self._held_len:  # (rare: a frame cut by a read)
            data = PyBytes_FromStringAndSize(<const char*>self._held, self._held_len) + data
        try:
            PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
        except BufferError:  # not contiguous
            data = bytes(data)
            PyObject_GetBuffer(data, &buf, PyBUF_SIMPLE)
        self._held_len = 0  # (only now: data that is not bytes-like raised, nothing lost)
        try:
            return self._split(<const uint8_t*>buf.buf, buf.len)
        finally:
            PyBuffer_Release(&buf)

    cdef list _split(self, const uint8_t* p, Py_ssize_t n):
        cdef list pairs = []
        cdef Py_ssize_t pos = 0, end, size, other = 0
        cdef const uint8_t* zero
        cdef bint whole = self._at_start
        cdef uint8_t* gathered
        if len(self._other) < n:
            self._other.extend(bytes(n - len(self._other)))
        gathered = <uint8_t*><char*>self._other
        while True:
            zero = <const uint8_t*>memchr(p + pos, 0, n - pos)
            if zero == NULL:
                break
            end = zero - p
            size = end + 1 - pos  # the piece and its delimiter
            if whole and size == 1:
                pass  # a delimiter right after one: nothing for the decoder
            elif whole and _is_sweep(p + pos, size - 1):
                if other:
                    pairs.append((False, PyBytes_FromStringAndSize(<const char*>gathered, other)))
                    other = 0
                pairs.append((True, PyBytes_FromStringAndSize(<const char*>p + pos, size)))
            else:
                memcpy(gathered + other, p + pos, size)
                other += size
            pos = end + 1
            whole = True
        size = n - pos
        if size and size < MAX_WIRE and not _is_console(p + pos, size):
            memcpy(self._held, p + pos, size)  # the start of a frame: whole with the next data
            self._held_len = size
            self._at_start = whole
        else:
            memcpy(gathered + other, p + pos, size)
            other += size
            self._at_start = size == 0
        if other:
            pairs.append((False, PyBytes_FromStringAndSize(<const char*>gathered, other)))
        return pairs
