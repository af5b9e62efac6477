"""The hardware layer on the unix port: the virtual board.

Buses are proxies to the virtual board server (host_tools/straja/vboard) over an AF_UNIX stream
socket whose path is in STRAJA_VBOARD. Wire format, little-endian:

    request  = op u8, dev u8, len u16, t u32, payload[len]
    response = status u8 (0 ok, 1 error), value u8, len u16, payload[len]

`t` is when the firmware made the request: ticks_us() mod 2**32, which on the unix port counts
CLOCK_MONOTONIC microseconds, the clock of the server's time.monotonic(); the chip models take
it as the operation's instant, so a request's time on the socket (queued, or waiting for the
server thread) does not move it.

| op | dev | request payload | response |
|---|---|---|---|
| 1 SPI_WRITE | front-end index | bytes sent | none (one-way) |
| 2 SPI_XFER | front-end index | bytes sent | the bytes clocked back, same length |
| 3 WORD | front-end index | u32 word, u8 nbits (3-wire bus) | none (one-way) |
| 4 ADC | front-end index | - | u16 code (read_u16 scale) |
| 5 BLOCK | front-end index | u16 n, u32 rate_hz | value = flags, n u16 codes; sent when the last sample's time has come |
| 6 PIN_READ | GPIO number | - | value = level |
| 7 PIN_WRITE | GPIO number | u8 level | none (one-way) |
| 8 WDT_START | 0 | u32 timeout_ms | none (one-way) |
| 9 WDT_FEED | 0 | - | none (one-way: the server only counts) |
| 10 BLE_SCAN | 0 | - | value 1 and one advertisement heard by now (u8 addr_type, i8 rssi, 6 address bytes, the advertising data), or value 0 and len 0 |
| 11 PIN_FIXED | GPIO number | - | value 1 + level if the chip model never changes the pin's level (an SX126x's BUSY: its commands complete at socket speed), else 0 |

A write waits for no answer, as a board's SPI write returns once its bytes are clocked out:
writes queue in the client, stamped, and go to the server in one system call with the next
request that reads something (a tune's writes with the reading after its settle time), or when
the node is about to sleep (`idle()`, before the scheduler waits) if they have waited
FLUSH_AFTER_US already (a plan whose sweeps all settle for long, a node not reading). A tune
thus costs no system call of its own and a reading one round trip, one wake-up of the board's
process: the wake-ups, not the requests, are most of a board's CPU on a virtual machine (with
the tune's writes sent before each sleep, the board woke ~2.5 times a reading; a board's few-byte
SPI transfer at 4 MHz or GPIO read takes a few to ~20 us). A reading the scheduler will take
after a sleep is asked before it (`idle(deadline, front end)`, Link.ask_ahead), stamped at its
deadline: the board answers while the node sleeps, and the step reads the answer waiting in the
socket rather than waiting for the board's work. The readings of the other front ends tuned
since their last reading go in the same write, each stamped at its tune plus the settle time
learned from its last deadline (a step more than SETTLE_SLACK_US early drops it; a deadline
further off asks it again): the board wakes once for the readings under way, not once each
(half the wake-ups of both processes were a lone reading's). A sleep towards a step that reads
nothing (another front end's tune, a sweep's end: `idle(deadline)`) asks them alone
(Link.ask_tuned): a reading whose step then comes with no sleep before it (the node busy until
its deadline) finds its answer waiting instead of making a round trip. The server handles requests
in order, so a read sees every write made before it; a write it refuses makes the next response
an error; writes still queued when the interpreter ends are lost (nothing read their effect). A
pin the model holds fixed is asked once, then read here.

Requests and responses use preallocated buffers and `readinto`, so a transaction allocates nothing.
Resets: `reset()` exits with RESET_EXIT_CODE and the virtual node's bridge restarts the interpreter
as a hard reset; the cause arrives in STRAJA_RESET_CAUSE. The virtual watchdog never resets the
node (the server records feeds only): watchdog resets are tested on real boards.
"""
import os
import socket
import struct
import sys
from binascii import unhexlify
from struct import pack_into

try:
    import micropython
    from micropython import const
except ImportError:  # CPython imports this module for its names (straja.eval), runs no Link
    class micropython:  # type: ignore[no-redef]  # the code emitters' decorators, as no-ops
        native = viper = staticmethod(lambda fn: fn)

    def const(value):
        return value


from ..clock import ticks_add, ticks_diff, ticks_ms, ticks_us

RESET_EXIT_CODE = const(86)
SPI_WRITE = const(1)
SPI_XFER = const(2)
WORD = const(3)
ADC_READ = const(4)
BLOCK = const(5)
PIN_READ = const(6)
PIN_WRITE = const(7)
WDT_START = const(8)
WDT_FEED = const(9)
BLE_SCAN = const(10)
PIN_FIXED = const(11)
HEADER = const(8)  # op, dev, len, stamp
HEADER_LAYOUT = const("<BBHI")
STAMP_MASK = const(0xFFFFFFFF)  # the stamp's u32 (ticks_us() is a 62-bit small int here)
OUT_MAX = const(256)  # requests queued before a write (a step's writes and its read fit many times)
_IRQ_SCAN_RESULT = const(5)
ADV_MAX = const(31)  # legacy advertising data
BLE_POLL_MS = const(20)  # how often the stand-in asks the virtual board for advertisements
# a feed sent to the board at most this often (the loop feeds every pass, ~4000 a second while
# scanning: each a request the board parses, for a count); well inside WATCHDOG_MS_MIN
FEED_EVERY_MS = const(250)
# queued writes go before a sleep once they have waited this long (a dwell's scale), else with
# the next reading
FLUSH_AFTER_US = const(2000)
DEFERRED_UNREAD = const(-1)
DEFERRED_REFUSED = const(-2)
# a reading asked ahead (Link.ask_ahead): front ends (board devices) it is kept for, and the
# largest request payload and answer it repeats
AHEAD_DEVS = const(16)
AHEAD_MAX = const(8)
# a reading asked with another (Link.ask_ahead): stamped at its front end's tune plus the settle
# time learned from its last deadline, taken if its step comes no more than this before that
SETTLE_SLACK_US = const(60)
NEXT = const(1)  # a request asked ahead whose answer is the next in the stream
HELD = const(2)  # ... whose answer was read before another's, held


@micropython.viper
def _same(a, at: int, b, n: int) -> bool:
    """a[at:at + n] == b[:n], without a slice."""
    x = ptr8(a)
    y = ptr8(b)
    for i in range(n):
        if x[at + i] != y[i]:
            return False
    return True


@micropython.viper
def _put(dst, at: int, src, src_at: int, n: int):
    """dst[at:at + n] = src[src_at:src_at + n], in place (a slice assignment would resize dst if
    the source were longer than n: the argument buffers are; a slice of src would allocate)."""
    d = ptr8(dst)
    s = ptr8(src)
    for i in range(n):
        d[at + i] = s[src_at + i]


class Link:
    """The socket to the virtual board server, with preallocated buffers: requests queue in
    `out` and go in one write with the next request that waits for an answer. A request is
    a few C calls (its header packed in place, its payload copied by viper code): a node
    makes some 13 000 a second, each a bus operation of a few microseconds on a board."""

    def __init__(self, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # MicroPython's unix socket takes a raw sockaddr_un: a str address gives EINVAL
        s.connect(struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0")
        self.sock = s
        self.write = s.write  # bound once: the hot path takes no attribute chains
        self.readinto = s.readinto
        self.out = bytearray(OUT_MAX)
        self.queued = 0  # bytes of `out` not sent yet
        self.queued_us = 0  # ticks_us() of the oldest request queued
        self.rsp = bytearray(4)
        self.arg = bytearray(8)
        # a request whose answer is read later (Bluetooth's poll, defer()): its buffer, and its
        # answer's length once read (DEFERRED_UNREAD: not yet; DEFERRED_REFUSED), as answers
        # come in the order asked
        self.deferred = None
        self.deferred_n = DEFERRED_UNREAD
        self.deferred_op = 0
        # per device, the first request its last reading made (ask_ahead repeats it): op (0:
        # none yet), payload length and bytes, answer length
        self.read_op = bytearray(AHEAD_DEVS)
        self.read_n = bytearray(AHEAD_DEVS)
        self.read_rn = bytearray(AHEAD_DEVS)
        self.read_payload = bytearray(AHEAD_DEVS * AHEAD_MAX)
        self.ahead_dev = -1  # a reading of this device was announced by ask_ahead
        # the readings asked ahead, in the order their answers come: device and stamp (a stale
        # one, asked at an instant its step did not confirm, is read and dropped)
        self.asked = bytearray(AHEAD_DEVS)
        self.asked_us = [0] * AHEAD_DEVS
        self.asked_stale = bytearray(AHEAD_DEVS)
        self.n_asked = 0
        # per device: a tune's first write since its last reading (tuned, its stamp), and the time
        # from it to the reading's deadline last asked (settle_us; -1: not learned)
        self.tuned = bytearray(AHEAD_DEVS)
        self.tuned_us = [0] * AHEAD_DEVS
        self.settle_us = [-1] * AHEAD_DEVS
        self.n_tuned = 0  # devices below this have been tuned (the ones ask_ahead looks at)
        self.order = bytearray(AHEAD_DEVS)  # ask_ahead's others to ask, and their instants
        self.order_us = [0] * AHEAD_DEVS
        # per device, the answer to its reading asked ahead, read out of the way of another
        # request (held): its header, bytes and stamp, taken by its step
        self.held = bytearray(AHEAD_DEVS)
        self.held_rsp = bytearray(4 * AHEAD_DEVS)
        self.held_data = bytearray(AHEAD_DEVS * AHEAD_MAX)
        view = memoryview(self.held_data)
        self.held_views = [view[d * AHEAD_MAX:(d + 1) * AHEAD_MAX] for d in range(AHEAD_DEVS)]
        self.held_us = [0] * AHEAD_DEVS
        self.n_held = 0
        self.scratch = bytearray(64)  # an answer nobody wants (an ahead that did not match)
        self.aheads_taken = 0
        self.aheads_dropped = 0

    @micropython.native
    def send(self, op, dev, payload, n):
        """Queue a request stamped with the time it is made (sent with the next call())."""
        k = self.queued
        if k + HEADER + n > OUT_MAX:
            self.flush()
            k = 0
        out = self.out
        t = ticks_us()
        if not k:
            self.queued_us = t
        if (op == SPI_WRITE or op == WORD) and dev < AHEAD_DEVS and not self.tuned[dev]:
            self.tuned[dev] = 1  # a tune: its reading follows, a settle time after ...
            self.tuned_us[dev] = t
            if dev >= self.n_tuned:
                self.n_tuned = dev + 1
            if self.n_asked or self.n_held:
                self._forget(dev)  # ... and one asked before it is of the last tuning
        pack_into(HEADER_LAYOUT, out, k, op, dev, n, t & STAMP_MASK)
        if HEADER + n > OUT_MAX:  # never on the scan path: the payload in a write of its own
            self.write(out, HEADER)
            self.write(payload, n)
            return
        if n:
            _put(out, k + HEADER, payload, 0, n)
        self.queued = k + HEADER + n

    def flush(self):
        if self.queued:
            self.write(self.out, self.queued)
            self.queued = 0

    def _read(self, buf, n):
        got = self.readinto(buf, n)
        if got != n:
            self._read_rest(buf, got or 0, n)

    def _read_rest(self, buf, got, n):
        """The rest of a short read (rare on a local socket; the memoryview slices allocate)."""
        mv = memoryview(buf)
        while got < n:
            k = self.readinto(mv[got:n])
            if not k:
                raise OSError("virtual board closed the connection")
            got += k

    @micropython.native
    def ask_ahead(self, dev, at_us):
        """The next step reads front end `dev` at ticks_us() `at_us` (the scheduler's deadline,
        a settle time away): send the request its last reading began with now, stamped at that
        instant, so the board answers while the node sleeps, and call() takes the answer if that
        step makes the same request (the drivers read a front end the same way each time), else
        drops it. Learned from the step's first request on first use. The readings of the other
        front ends tuned since their last reading go in the same write, each stamped at its tune
        plus its settle time learned here: the board wakes once for them all."""
        if not 0 <= dev < AHEAD_DEVS:
            return
        if self.tuned[dev]:
            # the longest seen (a tune's first write delayed in its step makes it shorter: a
            # reading stamped from that would come before its deadline), or a shorter settle
            settle = ticks_diff(at_us, self.tuned_us[dev])
            if settle > self.settle_us[dev] or settle < self.settle_us[dev] - SETTLE_SLACK_US:
                self.settle_us[dev] = settle
        i = self._asked_index(dev)
        if i >= 0:
            if -SETTLE_SLACK_US <= ticks_diff(self.asked_us[i], at_us) <= SETTLE_SLACK_US:
                return  # asked already (a long wait asks again each loop turn)
            self.asked_stale[i] = 1  # asked at an instant its step does not confirm
        if self.held[dev]:
            if -SETTLE_SLACK_US <= ticks_diff(self.held_us[dev], at_us) <= SETTLE_SLACK_US:
                return  # answered already
            self.held[dev] = 0
            self.n_held -= 1
            self.aheads_dropped += 1
        self.ahead_dev = dev
        if not self.read_op[dev]:
            return  # learn it from the step's first request
        self._ask(dev, at_us)
        self._ask_tuned(dev, at_us)
        self.write(self.out, self.queued)
        self.queued = 0

    @micropython.native
    def ask_tuned(self, at_us):
        """The node sleeps until ticks_us() `at_us` towards a step that reads nothing (a tune, a
        sweep's end): ask the readings of the front ends tuned since their last reading, as
        ask_ahead() asks them with a reading, so that their steps find their answers waiting.
        False if none was asked (nothing sent)."""
        if not self._ask_tuned(-1, at_us):
            return False
        self.write(self.out, self.queued)
        self.queued = 0
        return True

    @micropython.native
    def _ask_tuned(self, dev, at_us):
        """Queue the readings of the front ends but `dev` tuned since their last reading and not
        asked yet, each stamped at its tune plus its settle time learned, from `at_us` on,
        earliest first (in one pass, sorted by insertion: a few front ends); how many."""
        order = self.order
        order_us = self.order_us
        n = 0
        for d in range(self.n_tuned):
            if (d != dev and self.tuned[d] and self.settle_us[d] >= 0 and self.read_op[d]
                    and not self.held[d] and self._asked_index(d) < 0):
                t = ticks_add(self.tuned_us[d], self.settle_us[d])
                if ticks_diff(t, at_us) >= 0:
                    j = n
                    while j and ticks_diff(order_us[j - 1], t) > 0:
                        order[j] = order[j - 1]
                        order_us[j] = order_us[j - 1]
                        j -= 1
                    order[j] = d
                    order_us[j] = t
                    n += 1
        for j in range(n):
            if not self._ask(order[j], order_us[j]):
                return j
        return n

    @micropython.native
    def _asked_index(self, dev):
        """Where `dev` is among the readings asked ahead (not stale), or -1."""
        for i in range(self.n_asked):
            if self.asked[i] == dev and not self.asked_stale[i]:
                return i
        return -1

    @micropython.native
    def _ask(self, dev, at_us):
        """Queue device `dev`'s reading request, stamped at `at_us`, as asked ahead; False if
        as many are asked already as there are devices."""
        if self.n_asked >= AHEAD_DEVS:
            return False
        k = self.queued
        n = self.read_n[dev]
        if k + HEADER + n > OUT_MAX:
            self.flush()
            k = 0
        out = self.out
        pack_into(HEADER_LAYOUT, out, k, self.read_op[dev], dev, n, at_us & STAMP_MASK)
        if n:
            _put(out, k + HEADER, self.read_payload, dev * AHEAD_MAX, n)
        self.queued = k + HEADER + n
        i = self.n_asked
        self.asked[i] = dev
        self.asked_us[i] = at_us
        self.asked_stale[i] = 0
        self.n_asked = i + 1
        return True

    @micropython.native
    def _ahead_taken(self, op, dev, payload, n, rn):
        """Whether the request call() is making was asked ahead (its answer comes next: the ones
        before it, which no step took, are dropped); learns it for its device if the step was
        announced. A reading's request ends its front end's tune."""
        ahead = self.ahead_dev
        self.ahead_dev = -1
        if (op == SPI_XFER or op == ADC_READ) and dev < AHEAD_DEVS:
            self.tuned[dev] = 0
            if self.held[dev]:
                self.held[dev] = 0
                self.n_held -= 1
                if self._is_reading(op, dev, payload, n, rn, self.held_us[dev]):
                    self.aheads_taken += 1
                    return HELD
                self.aheads_dropped += 1
        while self.n_asked:  # (the others' answers come first: held for their steps)
            if (self.asked[0] == dev and not self.asked_stale[0]
                    and self._is_reading(op, dev, payload, n, rn, self.asked_us[0])):
                self._pop_asked()
                self.aheads_taken += 1
                return NEXT
            self._hold_ahead(dev)
        if dev == ahead and n <= AHEAD_MAX and rn <= AHEAD_MAX:
            self.read_op[dev] = op
            self.read_n[dev] = n
            self.read_rn[dev] = rn
            if n:
                _put(self.read_payload, dev * AHEAD_MAX, payload, 0, n)
        return 0

    @micropython.native
    def _is_reading(self, op, dev, payload, n, rn, at_us):
        """Whether the request is the reading asked ahead for `dev` at `at_us`, and not more
        than SETTLE_SLACK_US before that instant."""
        return (op == self.read_op[dev] and n == self.read_n[dev] and rn == self.read_rn[dev]
                and (not n or _same(self.read_payload, dev * AHEAD_MAX, payload, n))
                and ticks_diff(ticks_us(), at_us) >= -SETTLE_SLACK_US)

    @micropython.native
    def _forget(self, dev):
        """Device `dev`'s reading asked ahead, or held, no step took: stale."""
        for i in range(self.n_asked):
            if self.asked[i] == dev:
                self.asked_stale[i] = 1
        if self.held[dev]:
            self.held[dev] = 0
            self.n_held -= 1
            self.aheads_dropped += 1

    @micropython.native
    def _pop_asked(self):
        n = self.n_asked - 1
        for i in range(n):
            self.asked[i] = self.asked[i + 1]
            self.asked_us[i] = self.asked_us[i + 1]
            self.asked_stale[i] = self.asked_stale[i + 1]
        self.n_asked = n

    def _hold_ahead(self, dev):
        """Read the answer to the first reading asked ahead, which the request of device `dev`
        comes behind (answers come in order: an unread deferred one was asked before it): held
        for its step if another device's, else dropped."""
        d = self.asked[0]
        keep = not self.asked_stale[0] and d != dev and not self.held[d]
        at_us = self.asked_us[0]
        self._pop_asked()
        if self.deferred is not None and self.deferred_n == DEFERRED_UNREAD:
            self._read_deferred()
        rsp = self.rsp
        self._read(rsp, 4)
        if rsp[0]:  # a write before it was refused: the error is the caller's
            raise OSError("virtual board: a write before a reading was refused")
        left = rsp[2] | (rsp[3] << 8)
        if keep and left <= AHEAD_MAX:
            if left:
                self._read(self.held_views[d], left)
            _put(self.held_rsp, 4 * d, rsp, 0, 4)
            self.held_us[d] = at_us
            self.held[d] = 1
            self.n_held += 1
            return
        self.aheads_dropped += 1
        while left:
            k = min(left, len(self.scratch))
            self._read(self.scratch, k)
            left -= k

    def _hold_all_ahead(self):
        """Before a request whose answer is read otherwise: the ones asked ahead come first."""
        self.ahead_dev = -1
        while self.n_asked:
            self._hold_ahead(-1)

    @micropython.native
    def call(self, op, dev, payload, n, rbuf=None, rn=0):
        """Send a request, read the response header (and `rn` payload bytes into `rbuf`);
        returns the header's value byte. A request asked ahead (ask_ahead) is not sent again:
        its answer is read."""
        taken = 0
        if self.ahead_dev >= 0 or self.n_asked or self.n_held or self.tuned[dev % AHEAD_DEVS]:
            taken = self._ahead_taken(op, dev, payload, n, rn)
        if taken == HELD:
            return self._take_held(op, dev, rbuf, rn)
        if not taken:
            self.send(op, dev, payload, n)
            self.write(self.out, self.queued)
            self.queued = 0
        if self.deferred is not None and self.deferred_n == DEFERRED_UNREAD:
            self._read_deferred()  # asked before this request: answered before it
        rsp = self.rsp
        got = self.readinto(rsp, 4)
        if got != 4:
            self._read_rest(rsp, got or 0, 4)
        if rsp[0]:
            raise OSError("virtual board: op %d dev %d, or a write before it, refused" % (op, dev))
        if rsp[2] | (rsp[3] << 8) != rn:
            raise OSError("virtual board: op %d answered %d bytes, expected %d"
                          % (op, rsp[2] | (rsp[3] << 8), rn))
        if rn:
            got = self.readinto(rbuf, rn)
            if got != rn:
                self._read_rest(rbuf, got or 0, rn)
        return rsp[1]

    def _take_held(self, op, dev, rbuf, rn):
        """The answer held for device `dev`'s reading: its bytes into rbuf, its value."""
        h = self.held_rsp
        if h[4 * dev + 2] != rn or h[4 * dev + 3]:
            raise OSError("virtual board: op %d answered %d bytes, expected %d"
                          % (op, h[4 * dev + 2] | (h[4 * dev + 3] << 8), rn))
        if rn:
            _put(rbuf, 0, self.held_data, dev * AHEAD_MAX, rn)
        return h[4 * dev + 1]

    def call_upto(self, op, dev, rbuf):
        """A request without payload whose response fills up to len(rbuf) bytes; returns the
        number of bytes read."""
        self._hold_all_ahead()  # their answers come first
        self.send(op, dev, None, 0)
        self.flush()
        if self.deferred is not None and self.deferred_n == DEFERRED_UNREAD:
            self._read_deferred()
        return self._answer_upto(op, rbuf)

    def _answer_upto(self, op, rbuf):
        """Read an answer of up to len(rbuf) bytes into rbuf; returns its length."""
        rsp = self.rsp
        self._read(rsp, 4)
        return self._rest_upto(op, rbuf)

    def _rest_upto(self, op, rbuf):
        """The answer whose header is in `rsp`: its bytes into rbuf; returns their number."""
        rsp = self.rsp
        n = rsp[2] | (rsp[3] << 8)
        if rsp[0] or n > len(rbuf):
            raise OSError("virtual board: op %d refused or answered %d bytes" % (op, n))
        if n:
            self._read(rbuf, n)
        return n

    def defer(self, op, dev, rbuf):
        """Ask as call_upto() does, without waiting: the request goes with the next one sent,
        its answer is read then (waiting in the socket meanwhile) and taken by take_deferred()."""
        self._hold_all_ahead()  # answers come in order: none may wait behind one asked ahead
        self.send(op, dev, None, 0)
        self.deferred = rbuf
        self.deferred_n = DEFERRED_UNREAD
        self.deferred_op = op

    def _read_deferred(self):
        """Its answer, read before a later one's; a refusal (no bytes: the stream stays in
        step) is reported by take_deferred(), not by the later request."""
        rsp = self.rsp
        self._read(rsp, 4)
        if rsp[0] and not (rsp[2] | rsp[3]):
            self.deferred_n = DEFERRED_REFUSED
        else:
            self.deferred_n = self._rest_upto(self.deferred_op, self.deferred)

    def take_deferred(self):
        """The deferred request's answer length (its bytes in the buffer given to defer());
        sends the request first if it is still queued."""
        if self.deferred_n == DEFERRED_UNREAD:
            self.flush()
            self._read_deferred()
        n = self.deferred_n
        self.deferred = None
        self.deferred_n = DEFERRED_UNREAD
        if n == DEFERRED_REFUSED:
            raise OSError("virtual board: op %d, or a write before it, refused" % self.deferred_op)
        return n


class SpiDevice:
    def __init__(self, link, dev):
        self.send = link.send
        self.call = link.call
        self.dev = dev

    @micropython.native
    def write(self, buf):
        self.send(SPI_WRITE, self.dev, buf, len(buf))

    @micropython.native
    def write_readinto(self, wbuf, rbuf):
        n = len(wbuf)
        self.call(SPI_XFER, self.dev, wbuf, n, rbuf, n)


class ThreeWire:
    def __init__(self, link, dev):
        self.send = link.send
        self.arg = link.arg
        self.dev = dev

    @micropython.native
    def write_word(self, word, nbits):
        a = self.arg
        pack_into("<IB", a, 0, word, nbits)
        self.send(WORD, self.dev, a, 5)


class Adc:
    def __init__(self, link, dev):
        self.call = link.call
        self.arg = link.arg
        self.dev = dev
        self.val = bytearray(2)

    @micropython.native
    def read_u16(self):
        v = self.val
        self.call(ADC_READ, self.dev, None, 0, v, 2)
        return v[0] | (v[1] << 8)

    def read_block(self, buf, n, rate_hz):
        a = self.arg
        pack_into("<HI", a, 0, n, rate_hz)
        return self.call(BLOCK, self.dev, a, 6, buf, 2 * n)


class Pin:
    def __init__(self, link, number):
        self.link = link
        self.number = number
        self.level = bytearray(1)
        self.fixed = -1  # PIN_FIXED's answer, once asked

    def value(self, v=None):
        if v is None:
            fixed = self.fixed
            if fixed < 0:
                fixed = self.fixed = self.link.call(PIN_FIXED, self.number, None, 0)
            if fixed:
                return fixed - 1
            return self.link.call(PIN_READ, self.number, None, 0)
        self.level[0] = 1 if v else 0
        self.link.send(PIN_WRITE, self.number, self.level, 1)


class Watchdog:
    """Counts feeds at the server (if there is one), at most one every FEED_EVERY_MS; never
    resets the node."""

    def __init__(self, link, timeout_ms):
        self.link = link
        self.fed_ms = ticks_ms()
        if link:
            pack_into("<I", link.arg, 0, timeout_ms)
            link.send(WDT_START, 0, link.arg, 4)
            link.send(WDT_FEED, 0, None, 0)

    def feed(self):
        now = ticks_ms()
        if self.link and ticks_diff(now, self.fed_ms) >= FEED_EVERY_MS:
            self.fed_ms = now
            self.link.send(WDT_FEED, 0, None, 0)

    def release(self):
        """As a board's: the REPL keeps feeding it (here: nothing resets anyway)."""


class Bluetooth:
    """The part of `bluetooth.BLE` a scanner uses, fed by the virtual board's Bluetooth radio:
    `deliver()` (hw.bluetooth_events, from the main loop) calls the IRQ handler with the
    _IRQ_SCAN_RESULT data a board's stack gives, its address and data memoryviews over one
    buffer that the next advertisement overwrites, as a board's are valid only in the handler.
    As a board's stack, it allocates nothing per advertisement (its data tuple and memoryviews
    are made once): the data is one list whose items change (a tuple cannot), unpacked as the
    tuple is, and the advertising data one of the memoryviews made for each possible length."""

    def __init__(self, link):
        self.link = link
        self.handler = None
        self.scanning = False
        self.buf = bytearray(8 + ADV_MAX)
        view = memoryview(self.buf)
        self.views = [view[8:8 + n] for n in range(ADV_MAX + 1)]  # by the data's length
        # addr_type, addr, adv_type, rssi, adv_data
        self.data = [0, view[2:8], 0, 0, self.views[0]]
        self._last = ticks_ms()

    def active(self, on=None):
        return True

    def irq(self, handler):
        self.handler = handler

    def gap_scan(self, duration_ms, interval_us=1280000, window_us=11250, active=False):
        self.scanning = duration_ms is not None

    def deliver(self):
        now = ticks_ms()
        if not (self.scanning and self.handler) or ticks_diff(now, self._last) < BLE_POLL_MS:
            return
        self._last = now
        link = self.link
        b = self.buf
        # the last poll's question, answered since (no wait: it went with a reading), else ask
        n = link.take_deferred() if link.deferred is b else link.call_upto(BLE_SCAN, 0, b)
        while n:
            data = self.data
            data[0] = b[0]
            data[3] = b[1] - 256 if b[1] > 127 else b[1]
            data[4] = self.views[n - 8 if n > 8 else 0]  # (call_upto: n <= len(b))
            self.handler(_IRQ_SCAN_RESULT, data)
            n = link.call_upto(BLE_SCAN, 0, b)  # more were heard: the rest now
        link.defer(BLE_SCAN, 0, b)  # the next poll's question


_link = None
_bluetooth = None


def link(required=True):
    """The connection to the virtual board server (opened once per interpreter run)."""
    global _link
    if _link is None:
        path = os.getenv("STRAJA_VBOARD")
        if not path:
            if not required:
                return None
            raise OSError("STRAJA_VBOARD is not set: on the unix port the front ends are on a "
                          "virtual board server (straja.vboard.VirtualBoard) at that socket path")
        _link = Link(path)
    return _link


def open_board(profile):
    return link()


def pin(bd, number, out=False):
    return Pin(bd, number)


def spi_device(bd, index, entry):
    return SpiDevice(bd, index)


def three_wire(bd, index, entry):
    return ThreeWire(bd, index)


def adc(bd, index, number):
    return Adc(bd, index)


def watchdog(timeout_ms):
    return Watchdog(link(False), timeout_ms)


def reset():
    sys.exit(RESET_EXIT_CODE)


def reset_cause():
    try:
        return int(os.getenv("STRAJA_RESET_CAUSE") or 0)
    except ValueError:
        return 255


def unique_id():
    uid = os.getenv("STRAJA_UID") or "000000000000"
    try:
        return unhexlify(uid)
    except ValueError:
        return uid.encode()


def safe_pin_low(profile):
    env = os.getenv("STRAJA_SAFE_PIN")
    if env is not None:
        return env == "0"
    number = profile.get("safe_pin")
    lk = link(False)
    return lk is not None and number is not None and Pin(lk, number).value() == 0


def led(profile, on):
    pass


def bluetooth():
    global _bluetooth
    lk = link(False)
    if _bluetooth is None and lk is not None:
        _bluetooth = Bluetooth(lk)
    return _bluetooth


def bluetooth_events():
    if _bluetooth:
        _bluetooth.deliver()


@micropython.native
def idle(deadline=0, reading=-1):
    lk = _link
    if lk is None:
        return
    if reading >= 0:
        lk.ask_ahead(reading, deadline)  # (the tune's writes go with it)
    elif not lk.ask_tuned(deadline) and lk.queued and ticks_diff(
            ticks_us(), lk.queued_us) >= FLUSH_AFTER_US:
        lk.flush()
