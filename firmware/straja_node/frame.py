"""Protocol v1 frame encoder (docs/protocol.md): header, body, CRC-16, COBS, delimiters.

Allocation-free in steady state: one frame buffer and one wire buffer are allocated in the
constructor, fields are written with `struct.pack_into` (no allocation), CRC and COBS are viper
kernels over those buffers, and the wire bytes go out as `write(wire, n)`: the MicroPython stream
signature (`sys.stdout.buffer.write`, `UART.write`, `io.BytesIO.write` all take it), because
slicing a memoryview to the frame's length would allocate a new memoryview for every frame.
"""
from struct import calcsize, pack_into

import micropython
from straja_node.clock import Stamp
from straja_node.wire import (
    CRC_INIT, CRC_LEN, ENVELOPE, ENVELOPE_BODY, ENVELOPE_LAYOUT, FAILED, FLAG_REVISIT,
    HEADER_LAYOUT, HEADER_LEN, LOG, LOG_BODY, MAX_ENVELOPE_SAMPLES, MAX_FRAME, MAX_SWEEP_CODES,
    MAX_WIRE, REMOTEID, REMOTEID_BODY, REPLY, REPLY_BODY, REPLY_LAYOUT, STATUS, STATUS_BODY,
    STATUS_LAYOUT, SWEEP, SWEEP_BODY, SWEEP_LAYOUT, VERSION, crc_table,
)

CODES_AT = HEADER_LEN + SWEEP_BODY
_HEADER_BEFORE_T = HEADER_LAYOUT[:-1]  # the header up to t_us, which the Stamp writes
_T_AT = calcsize(_HEADER_BEFORE_T)
_TOO_LONG_REPLY = b'{"error": "reply too long"}'
_TABLE = crc_table()


@micropython.viper
def crc16(buf, n: int) -> int:
    """CRC-16/CCITT-FALSE (init 0xFFFF, no reflection, no final XOR) of buf[0:n]."""
    p = ptr8(buf)
    t = ptr16(_TABLE)
    c = int(CRC_INIT)  # a global is an object in viper: cast once
    for i in range(n):
        c = ((c << 8) & 0xFF00) ^ t[((c >> 8) ^ p[i]) & 0xFF]
    return c


@micropython.viper
def _cobs(src, n: int, dst) -> int:
    """Write 0x00, COBS(src[0:n]), 0x00 into dst; return the length written.

    Cheshire & Baker's encoding: each block is a code byte (1 + count of non-zero bytes that
    follow) standing for the zero that ends the block; a full block (code 0xFF) has no implied
    zero. A last full block is not followed by an empty one, so n bytes take at most
    n + ceil(n / 254) bytes."""
    s = ptr8(src)
    d = ptr8(dst)
    d[0] = 0
    code_at = 1
    o = 2
    code = 1
    i = 0
    while i < n:
        b = s[i]
        i += 1
        if b != 0:
            d[o] = b
            o += 1
            code += 1
            if code < 0xFF or i == n:
                continue
        d[code_at] = code
        code_at = o
        o += 1
        code = 1
    d[code_at] = code
    d[o] = 0
    return o + 1


@micropython.viper
def _copy(dst, doff: int, src, soff: int, n: int):
    """dst[doff:doff + n] = src[soff:soff + n] without a slice object."""
    d = ptr8(dst)
    s = ptr8(src)
    for i in range(n):
        d[doff + i] = s[soff + i]


@micropython.viper
def _utf8_len(s, chars: int) -> int:
    """Byte length of a str of `chars` characters (len() of a str counts characters)."""
    p = ptr8(s)
    i = 0
    for _ in range(chars):
        b = p[i]
        if b < 0x80:
            i += 1
        elif b < 0xE0:
            i += 2
        elif b < 0xF0:
            i += 3
        else:
            i += 4
    return i


@micropython.viper
def _utf8_cut(s, n: int) -> int:
    """The largest m <= n such that s[0:m] does not end inside a UTF-8 sequence."""
    p = ptr8(s)
    while n > 0 and (p[n] & 0xC0) == 0x80:
        n -= 1
    return n


@micropython.viper
def _utf8_repair(buf, start: int, end: int):
    """Overwrite with '?' every byte of buf[start:end] that is not part of a well-formed UTF-8
    sequence: MicroPython keeps what json.loads makes of an escaped lone surrogate ("\\ud800")
    as its 3 bytes, so an error reply echoing a host's bad key could otherwise be invalid UTF-8."""
    p = ptr8(buf)
    i = start
    while i < end:
        b = p[i]
        n = 0  # continuation bytes after a valid lead byte
        lo = 0x80
        hi = 0xBF
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b and b <= 0xDF:
            n = 1
        elif 0xE0 <= b and b <= 0xEF:
            n = 2
            if b == 0xE0:
                lo = 0xA0  # no overlong forms
            elif b == 0xED:
                hi = 0x9F  # no surrogates
        elif 0xF0 <= b and b <= 0xF4:
            n = 3
            if b == 0xF0:
                lo = 0x90
            elif b == 0xF4:
                hi = 0x8F  # nothing above U+10FFFF
        ok = n > 0 and i + n < end and lo <= p[i + 1] and p[i + 1] <= hi
        k = 2
        while ok and k <= n:
            ok = (p[i + k] & 0xC0) == 0x80
            k += 1
        if ok:
            i += n + 1
        else:
            p[i] = 0x3F
            i += 1


def _text_len(text):
    return _utf8_len(text, len(text)) if isinstance(text, str) else len(text)


class FrameWriter:
    """Builds protocol v1 frames and hands their wire bytes to `write(buf, n)`.

    `clock` is a `clock.Clock`; frames are stamped with it unless a stamp is given. A write that
    raises OSError or writes fewer than n bytes counts in `frames_dropped` (the receiver sees the
    gap in `seq`); None from `write` counts as written.
    """

    def __init__(self, write, clock, node_id=0):
        self._write = write
        self._clock = clock
        self.node_id = node_id
        self.seq = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self._frame = bytearray(MAX_FRAME)
        self._wire = bytearray(MAX_WIRE)
        self._t = Stamp()

    def _when(self, t):
        """Set the stamp of the next frame: the clock now, a Stamp, or a (hi, lo) tuple."""
        s = self._t
        if t is None:
            self._clock.update()
            s.copy(self._clock)
        elif isinstance(t, tuple):
            s.hi = t[0]
            s.lo = t[1]
        else:
            s.copy(t)

    def _send(self, ftype, n):
        """Header, CRC, COBS and write for a frame whose body ends at frame[n]."""
        f = self._frame
        pack_into(_HEADER_BEFORE_T, f, 0, VERSION, ftype, self.node_id, self.seq)
        self._t.stamp(f, _T_AT)
        self.seq = (self.seq + 1) & 0xFFFF
        c = crc16(f, n)
        f[n] = c >> 8
        f[n + 1] = c & 0xFF
        m = _cobs(f, n + CRC_LEN, self._wire)
        try:
            r = self._write(self._wire, m)
        except OSError:
            r = -1
        if r is None or r == m:
            self.frames_sent += 1
        else:
            self.frames_dropped += 1

    def sweep(self, front_end, flags, sweep_id, start_khz, step_khz, dwell_us, duration_us,
              first, total, codes, n, t=None):
        """One sweep of n channels' RSSI codes; more than fit a frame go out as segments, each
        stamped and timed in proportion (duration_us // n per channel) so that readings keep
        their time. REVISIT: `codes` holds two codes per channel, n then n (with PAIRS the first
        reads then the second reads), and each frame carries its channels' codes of the first
        n, then theirs of the second n (docs/protocol.md)."""
        self._when(t)
        per = duration_us // n if n else 0
        pairs = 2 if flags & FLAG_REVISIT else 1
        off = 0
        while True:
            k = n - off
            if k > MAX_SWEEP_CODES // pairs:
                k = MAX_SWEEP_CODES // pairs
            pack_into(SWEEP_LAYOUT, self._frame, HEADER_LEN, front_end, flags, sweep_id, start_khz,
                      step_khz, dwell_us, duration_us if k == n else per * k, first + off, total)
            _copy(self._frame, CODES_AT, codes, off, k)
            if pairs == 2:
                _copy(self._frame, CODES_AT + k, codes, n + off, k)
            self._send(SWEEP, HEADER_LEN + SWEEP_BODY + pairs * k)
            off += k
            if off >= n:
                return
            self._t.add_us(per * k)

    def envelope(self, front_end, flags, block_id, rate_hz, centre_khz, slope_udb,
                 intercept_mdbm, samples, n, t=None):
        """n raw ADC codes from `samples` (array('H'), little-endian on every supported MCU)."""
        if n > MAX_ENVELOPE_SAMPLES:
            raise ValueError("envelope block too long")
        self._when(t)
        pack_into(ENVELOPE_LAYOUT, self._frame, HEADER_LEN, front_end, flags, block_id, rate_hz,
                  centre_khz, slope_udb, intercept_mdbm)
        _copy(self._frame, HEADER_LEN + ENVELOPE_BODY, samples, 0, 2 * n)
        self._send(ENVELOPE, HEADER_LEN + ENVELOPE_BODY + 2 * n)

    def status(self, uptime_s, boot_count, reset_cause, mode, mem_free, mem_alloc, overruns,
               frames_dropped, config_hash, commands_bad, version):
        self._when(None)
        pack_into(STATUS_LAYOUT, self._frame, HEADER_LEN, uptime_s, boot_count, reset_cause, mode,
                  mem_free, mem_alloc, overruns, frames_dropped, config_hash, commands_bad, 0)
        self._text(STATUS, HEADER_LEN + STATUS_BODY, version)

    def log(self, level, text):
        """A line for a person; text (str or bytes) is cut at a character boundary to fit."""
        self._when(None)
        self._frame[HEADER_LEN] = level
        self._text(LOG, HEADER_LEN + LOG_BODY, text)

    def reply(self, request_id, status, text):
        """The reply to one command; JSON text too long for a frame becomes a FAILED reply."""
        self._when(None)
        if HEADER_LEN + REPLY_BODY + _text_len(text) + CRC_LEN > MAX_FRAME:
            status = FAILED
            text = _TOO_LONG_REPLY
        pack_into(REPLY_LAYOUT, self._frame, HEADER_LEN, request_id, status)
        self._text(REPLY, HEADER_LEN + REPLY_BODY, text)

    def remote_id(self, body, off, n, t):
        """A Remote ID advertisement heard at Stamp `t`: `body[off:off + REMOTEID_BODY + n]` is the
        frame's body as docs/protocol.md lays it out (address type, RSSI, address, then n bytes
        of service data), the layout in which the receiver's ring keeps it."""
        self._when(t)
        _copy(self._frame, HEADER_LEN, body, off, REMOTEID_BODY + n)
        self._send(REMOTEID, HEADER_LEN + REMOTEID_BODY + n)

    def _text(self, ftype, off, text):
        n = _text_len(text)
        room = MAX_FRAME - CRC_LEN - off
        if n > room:
            n = _utf8_cut(text, room)
        _copy(self._frame, off, text, 0, n)
        _utf8_repair(self._frame, off, off + n)
        self._send(ftype, off + n)
