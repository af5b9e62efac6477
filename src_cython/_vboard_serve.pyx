# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The virtual board's request loop in C: straja.vboard.server.VirtualBoard._session_reference
(the plain Python loop, the test oracle, tests/test_vboard.py) without the interpreter's work per
request. A virtual node's board serves some 10 000 requests a second, and a reading waits for
its board's work: the socket read into one buffer, each request's header parsed, its stamp made
board time, its handler found in a table (the chip's own method for the scan's requests) and
called, the answers gathered in one buffer and sent in one system call, all here; and the
scan's requests of the SX127x, CC2500 and SX126x models (SCAN_PATHS, below): the other
handlers are Python. The same requests in the same order at the same board times, the same
answers and counts, the same refusals (docs/virtual-node.md, "Timing").
"""
from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno
from libc.errno cimport EINTR, errno
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc, realloc
from libc.math cimport isfinite, rint
from libc.string cimport memcpy, memmove, memset
import builtins

cdef extern from "<sys/socket.h>" nogil:
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    ssize_t send(int fd, const void *buf, size_t n, int flags)
    int MSG_NOSIGNAL

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clock, timespec *ts)
    int CLOCK_MONOTONIC  # time.monotonic()'s clock, and the unix port's ticks_us()

DEF HEADER = 8  # op u8, dev u8, len u16, stamp u32 (firmware/straja_node/hw/board_unix.py)
DEF RESPONSE = 4  # status u8, value u8, len u16
DEF OK = 0
DEF ERROR = 1
DEF STAMP_WRAP_US = 4294967296
DEF TRANSACTIONS = 0  # straja.vboard.server's counters
DEF ROUND_TRIPS = 1
TABLE_SIZE = 1 << 16  # handlers by op << 8 | dev


cdef class _Answers:
    """A pass's answers, gathered for one send."""
    cdef char *data
    cdef Py_ssize_t size, capacity

    def __cinit__(self):
        self.capacity = 4096
        self.data = <char *>malloc(self.capacity)
        if not self.data:
            raise MemoryError()
        self.size = 0

    def __dealloc__(self):
        free(self.data)

    cdef int add(self, int status, int value, reply) except -1:
        cdef Py_ssize_t n = 0 if reply is None else PyBytes_GET_SIZE(reply)
        cdef Py_ssize_t need = self.size + RESPONSE + n
        cdef char *grown
        if not 0 <= value < 256 or n >= 1 << 16:
            raise ValueError(f"an answer's value {value} or length {n} does not fit its header")
        if need > self.capacity:
            grown = <char *>realloc(self.data, need * 2)
            if not grown:
                raise MemoryError()
            self.data, self.capacity = grown, need * 2
        cdef unsigned char *at = <unsigned char *>(self.data + self.size)
        at[0], at[1], at[2], at[3] = status, value, n & 0xFF, n >> 8
        if n:
            memcpy(at + RESPONSE, PyBytes_AS_STRING(reply), n)
        self.size = need
        return 0

    cdef int send(self, int fd) except -1:
        """All of them, then none is left (sendall)."""
        cdef Py_ssize_t done = 0
        cdef ssize_t k
        while done < self.size:
            with nogil:
                k = send(fd, self.data + done, self.size - done, MSG_NOSIGNAL)
            if k < 0:
                if errno == EINTR:
                    PyErr_CheckSignals()
                    continue
                PyErr_SetFromErrno(OSError)
                return -1
            done += k
        self.size = 0
        return 0


cdef inline int64_t _now_us() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000 + ts.tv_nsec // 1000


cdef int _answer(long long[::1] counts, Py_ssize_t served, Py_ssize_t answered,
                 _Answers answers, int fd) except -1:
    """_answer of the reference: count, then send (a test reads the counts once answered)."""
    counts[TRANSACTIONS] += served
    counts[ROUND_TRIPS] += answered
    if answers.size:
        answers.send(fd)
    return 0


def handler_table(direct: dict) -> list:
    """VirtualBoard._direct_handlers' dict as the list serve() looks them up in."""
    table = [None] * TABLE_SIZE
    for key, handler in direct.items():
        table[key] = handler
    return table


def serve(board, int fd, list table, handle, one_way, long long[::1] counts, stopping,
          Py_ssize_t recv_max):
    """Serve the connection on `fd` as board._session_reference does, until it closes
    (ConnectionError) or `stopping` is set: `table` from handler_table(), `handle(op, dev,
    payload, t)` for any other request, `one_way` the ops answered with nothing, `counts` the
    board's shared counters, refusals to board._refused."""
    if len(table) != TABLE_SIZE:
        raise ValueError("table: handler_table()'s")
    cdef bint[256] is_one_way
    cdef int op, dev, status, value
    for op in range(256):
        is_one_way[op] = op in one_way
    # a request of the largest length arriving in part, and a full read after it
    cdef Py_ssize_t capacity = HEADER + 0xFFFF + recv_max
    cdef unsigned char *buf = <unsigned char *>malloc(capacity)
    if not buf:
        raise MemoryError()
    cdef _Answers answers = _Answers()
    cdef Py_ssize_t pending = 0, size, k, end, n, served, answered, at
    cdef ssize_t got
    cdef int64_t latest, stamp, age
    cdef double t, origin
    cdef bint refused = False  # a one-way request failed: the next response says so
    refusable = (ValueError, IndexError, KeyError, __import__("struct").error)
    is_set = stopping.is_set
    try:
        while not is_set():
            with nogil:
                got = recv(fd, buf + pending, recv_max, 0)
            if got < 0:
                if errno == EINTR:
                    PyErr_CheckSignals()
                    continue
                PyErr_SetFromErrno(OSError)
            if got == 0:
                raise ConnectionError("closed")
            size = pending + got
            # a stamp's microseconds: the one within half a wrap of now (as stamped())
            latest = _now_us() + STAMP_WRAP_US // 2
            origin = board.t_origin
            k = served = answered = 0
            while size - k >= HEADER:
                n = buf[k + 2] | buf[k + 3] << 8
                end = k + HEADER + n
                if size < end:
                    break
                op, dev = buf[k], buf[k + 1]
                stamp = (<int64_t>buf[k + 4] | <int64_t>buf[k + 5] << 8
                         | <int64_t>buf[k + 6] << 16 | <int64_t>buf[k + 7] << 24)
                at = k + HEADER
                k = end
                served += 1
                age = (latest - stamp) % STAMP_WRAP_US  # (Python's %: never negative)
                if age < 0:
                    age += STAMP_WRAP_US
                t = <double>(latest - age) * 1e-6 - origin
                try:
                    fast = table[op << 8 | dev]
                    if fast is None:
                        if answers.size:  # (a block answers when sampled: the others not after it)
                            _answer(counts, served - 1, answered, answers, fd)
                            served, answered = 1, 0
                        value_reply = handle(op, dev, PyBytes_FromStringAndSize(
                            <char *>buf + at, n), t)
                        value, reply = value_reply
                    elif isinstance(fast, ChipPath):
                        value, reply = 0, (<ChipPath>fast).serve(buf + at, n, t)
                    else:
                        value, reply = 0, fast(PyBytes_FromStringAndSize(<char *>buf + at, n), t)
                    status = OK
                except refusable as e:
                    board._refused(f"op {op} dev {dev}: {e}")
                    value, reply, status = 0, b"", ERROR
                if is_one_way[op]:
                    refused = refused or status == ERROR
                    continue
                if refused:
                    value, reply, status, refused = 0, b"", ERROR, False
                if type(reply) is not bytes:
                    reply = bytes(reply)
                answers.add(status, value, reply)
                answered += 1
            _answer(counts, served, answered, answers, fd)
            pending = size - k
            if pending:
                memmove(buf, buf + k, pending)
    finally:
        free(buf)


# -- the scan's requests to the chip models (straja.vboard.chips), in C over the model's own
# state (its registers, mode, readers): the SX127x's, CC2500's and SX126x's tunes and readings,
# each exactly as the model's Python method does them (tests/test_vboard.py: the same streams,
# the same answers, draws and state); any other request, or one of another form, is the
# method's (`fallback`): a refusal's error is always the model's own.

cdef bytes TWO_ZEROS = b"\x00\x00"


cdef inline long _rounded(double value) except? -1:
    """round(value) as Python's (half to even), the same error for NaN or infinity."""
    if not isfinite(value):
        builtins.round(value)  # raises as the model's round() does
    return <long>rint(value)


cdef inline double _reading(readers, key, tuned, double t) except? -1e300:
    """The chip's reader for `key` (its dict `readers`, else `tuned(key)`, which makes and
    keeps one), called at t."""
    reader = (<dict>readers).get(key) if type(readers) is dict else None
    if reader is None:
        reader = tuned(key)
    return reader(t)


cdef class ChipPath:
    """A chip's scan request of one op, in C; what it does not do itself goes to `fallback`,
    the model's method for that op (payload, t)."""
    cdef object chip, fallback

    def __init__(self, chip, fallback):
        self.chip = chip
        self.fallback = fallback

    def __call__(self, payload, double t):
        return self.serve(payload, len(payload), t)

    cdef object serve(self, const unsigned char *p, Py_ssize_t n, double t):
        return self.fallback(PyBytes_FromStringAndSize(<const char *>p, n), t)


cdef class Sx127xSpi(ChipPath):
    """Sx127x.spi (its writes too: they are its transfers unread): a register written or read
    (a reading of RegRssiValue while receiving), a burst write that does not wrap."""

    cdef object serve(self, const unsigned char *p, Py_ssize_t n, double t):
        if n < 2:
            return ChipPath.serve(self, p, n, t)
        chip = self.chip
        regs = chip.regs
        if type(regs) is not bytearray or len(<bytearray>regs) != 0x80:
            return ChipPath.serve(self, p, n, t)
        cdef unsigned char *r = <unsigned char *>PyByteArray_AS_STRING(regs)
        cdef int write = p[0] & 0x80, addr = p[0] & 0x7F
        cdef bint lora
        cdef double power, value
        cdef long code
        if n == 2:
            if write:
                r[addr] = p[1]
                return TWO_ZEROS
            lora = (r[0x01] & 0x80) != 0
            if not ((addr == 0x11 or addr == 0x1B) and (r[0x01] & 7) == 5
                    and (addr == 0x1B) == lora):
                return bytes((0, r[addr]))
            key = (r[0x01] & 0x80, PyBytes_FromStringAndSize(<char *>r + 0x06, 3), r[0x12],
                   r[0x1D])
            power = _reading(chip.tunings, key, chip.tuned_reader, t)
            lora = (r[0x01] & 0x80) != 0  # (the model asks again, after the reading)
            value = power + 157 if lora else -2 * power
            code = _rounded(value)
            return bytes((0, min(max(code, 0), 255)))
        if write and addr + n <= 0x81:
            memcpy(r + addr, p + 1, n - 1)
            out = PyBytes_FromStringAndSize(NULL, n)
            memset(PyBytes_AS_STRING(out), 0, n)
            return out
        return ChipPath.serve(self, p, n, t)


cdef class Cc2500Write(ChipPath):
    """Cc2500.spi_write: the SIDLE and SRX strobes, a register write (single or burst)."""

    cdef object serve(self, const unsigned char *p, Py_ssize_t n, double t):
        if n < 1:
            return ChipPath.serve(self, p, n, t)
        cdef int addr = p[0] & 0x3F, a
        cdef Py_ssize_t i, size
        if n == 1 and addr >= 0x30:
            if addr == 0x34:
                self.chip.state = "RX"
            elif addr == 0x36:
                self.chip.state = "IDLE"
            else:
                return ChipPath.serve(self, p, n, t)
            return None
        if p[0] & 0x80 or addr >= 0x30:
            return ChipPath.serve(self, p, n, t)
        regs = self.chip.regs
        if type(regs) is not bytearray:
            return ChipPath.serve(self, p, n, t)
        size = len(<bytearray>regs)
        cdef unsigned char *r = <unsigned char *>PyByteArray_AS_STRING(regs)
        for i in range(n - 1):
            a = addr + (i if p[0] & 0x40 else 0)
            if a >= size:
                break
            r[a] = p[1 + i]
        return None


cdef class Cc2500Xfer(ChipPath):
    """Cc2500.spi: the RSSI status register read in receive (the scan's reading)."""

    cdef object serve(self, const unsigned char *p, Py_ssize_t n, double t):
        chip = self.chip
        if n != 2 or p[0] != 0xF4 or chip.state != "RX":
            return ChipPath.serve(self, p, n, t)
        regs = chip.regs
        if type(regs) is not bytearray or len(<bytearray>regs) < 0x15:
            return ChipPath.serve(self, p, n, t)
        key = PyBytes_FromStringAndSize(PyByteArray_AS_STRING(regs) + 0x0A, 0x15 - 0x0A)
        cdef double power = _reading(chip.tunings, key, chip.tuned_reader, t)
        cdef long code = _rounded(2 * (power + <double>chip.RSSI_OFFSET_DB))
        rssi = min(max(code, -128), 127) & 0xFF
        chip.rssi = rssi
        return bytes((0x10, rssi))


cdef class Sx126xWrite(ChipPath):
    """Sx126x.spi_write: SetStandby, SetRfFrequency, SetRx (a tune's commands)."""

    cdef object serve(self, const unsigned char *p, Py_ssize_t n, double t):
        if n < 1:
            return ChipPath.serve(self, p, n, t)
        cdef int op = p[0]
        cdef unsigned long long word = 0
        cdef Py_ssize_t i
        chip = self.chip
        if op == 0x80:
            chip.mode = 3 if n >= 2 and p[1] == 1 else 2
        elif op == 0x82:
            chip.mode = 5
        elif op == 0x86:
            for i in range(1, min(n, 5)):
                word = word << 8 | p[i]
            chip.freq_hz = <double>word * <double>chip.XTAL / 33554432.0  # 2 ** 25
        else:
            return ChipPath.serve(self, p, n, t)
        return None


cdef class Sx126xXfer(ChipPath):
    """Sx126x.spi: GetRssiInst (the scan's reading)."""

    cdef object serve(self, const unsigned char *p, Py_ssize_t n, double t):
        chip = self.chip
        mode = chip.mode
        if n != 3 or p[0] != 0x15 or type(mode) is not int or not 0 <= mode < 16:
            return ChipPath.serve(self, p, n, t)
        cdef int status = <int>mode << 4
        cdef double power = -127.5
        if mode == 5:
            f, bw = chip.freq_hz, chip.bw_hz
            readers = chip._readers
            reader = (<dict>readers).get((f, bw)) if type(readers) is dict else None
            power = reader(t) if reader is not None else chip.reader(f, bw)(t)
        cdef long code = _rounded(-2 * power)
        return bytes((status, status, min(max(code, 0), 255)))


SCAN_PATHS = {"sx127x": (Sx127xSpi, Sx127xSpi), "cc2500": (Cc2500Write, Cc2500Xfer),
              "sx126x": (Sx126xWrite, Sx126xXfer)}
