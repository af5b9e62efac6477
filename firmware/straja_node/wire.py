"""Wire protocol v1 constants (docs/protocol.md): the one definition, for the node and the host.

The firmware imports its constants from here; the host's `straja.protocol` re-exports them, and
setup.py writes them into the Cython decoder's `src_cython/_wire.pxi` at build time.
tests/test_protocol_wire.py checks all of them against docs/protocol.md's tables.

Plain module: it runs under MicroPython and CPython (no `const` there, hence the fallback).
MicroPython's compiler folds a `const()` name only inside the module defining it; a module that
imports one looks it up as a global, as cheap as the module-level constants it replaces
(bench/bench_firmware_sweep.py, docs/benchmarks.md "Firmware").
"""
from array import array

try:
    from micropython import const
except ImportError:  # CPython: the host imports this module as straja_node.wire
    def const(x):  # type: ignore[misc]  # the stubs type it generically
        return x

VERSION = const(1)

# Frame types
SWEEP = const(0x01)
ENVELOPE = const(0x02)
STATUS = const(0x03)
LOG = const(0x04)
REPLY = const(0x05)
REMOTEID = const(0x06)

# Sizes (bytes). A frame is header + body + CRC; the wire adds COBS and two 0x00 delimiters.
MAX_FRAME = const(2048)
MAX_ENCODED = const(MAX_FRAME + (MAX_FRAME + 253) // 254)  # COBS of MAX_FRAME bytes: 2057
MAX_WIRE = const(MAX_ENCODED + 2)  # 2059
HEADER_LEN = const(14)
CRC_LEN = const(2)
# the fixed part of each body, before its variable tail
SWEEP_BODY = const(24)
ENVELOPE_BODY = const(20)
STATUS_BODY = const(32)
LOG_BODY = const(1)
REPLY_BODY = const(3)
REMOTEID_BODY = const(8)
MAX_SWEEP_CODES = const(MAX_FRAME - HEADER_LEN - SWEEP_BODY - CRC_LEN)  # 2008
MAX_ENVELOPE_SAMPLES = const((MAX_FRAME - HEADER_LEN - ENVELOPE_BODY - CRC_LEN) // 2)  # 1006
MAX_LINE = const(1024)  # a command line, CR and LF included
# REMOTEID service data: an AD structure's length byte counts its type byte too, so at most 254
REMOTEID_DATA_MAX = const(254)
# A header's t_us is below 2**T_US_BITS µs (71 years since boot: no node's clock gets there), so
# the host's times made of it (t_us * 1000 plus a clock offset, in ns) fit 64-bit integers
T_US_BITS = const(51)

# struct layouts (little-endian) of the header and of each body's fixed part: the tables of
# docs/protocol.md, field by field
HEADER_LAYOUT = const("<BBHHQ")
SWEEP_LAYOUT = const("<BBHIIIIHH")
ENVELOPE_LAYOUT = const("<BBHIIii")
STATUS_LAYOUT = const("<IHBBIIIIHHI")
LOG_LAYOUT = const("<B")
REPLY_LAYOUT = const("<HB")
REMOTEID_LAYOUT = const("<Bb6s")

# SWEEP and ENVELOPE flags
FLAG_OVERRUN = const(0x01)
FLAG_SATURATED = const(0x02)
FLAG_REVISIT = const(0x04)  # SWEEP: two codes per channel (alone: the held reads, then the first)
FLAG_PAIRS = const(0x08)  # SWEEP, with REVISIT: the two codes are the first reads then the second
FLAG_INTERLEAVED = const(0x10)  # SWEEP: channels read in the interleaved order (interleave_stride)

RSSI_CODE_MAX = const(255)  # the top RSSI code: -12.5 dBm or more (saturated)

# REPLY status
OK = const(0)
UNKNOWN = const(1)
BAD_ARG = const(2)
TOO_LONG = const(3)
BAD_LINE = const(4)
FAILED = const(5)

# STATUS reset_cause
RESET_POWER_ON = const(0)
RESET_HARD = const(1)
RESET_WATCHDOG = const(2)
RESET_SOFT = const(3)
RESET_DEEPSLEEP = const(4)
RESET_BROWN_OUT = const(5)
RESET_UNKNOWN = const(255)

# STATUS mode
MODE_IDLE = const(0)
MODE_STREAMING = const(1)
MODE_SAFE = const(2)

# LOG level (Python's numbers)
LOG_DEBUG = const(10)
LOG_INFO = const(20)
LOG_WARNING = const(30)
LOG_ERROR = const(40)

# CRC-16/CCITT-FALSE: polynomial, initial register, and the CRC of ASCII "123456789"
CRC_POLY = const(0x1021)
CRC_INIT = const(0xFFFF)
CRC_CHECK = const(0x29B1)


def crc_table():
    """The CRC register after each byte value, from 0 (MSB first): array('H') of 256, for the
    table-driven CRC of the firmware, the host reference and the compiled decoder."""
    table = array("H", bytearray(512))
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ CRC_POLY) if c & 0x8000 else (c << 1)
        table[i] = c & 0xFFFF
    return table


def interleave_stride(n):
    """The stride of an interleaved sweep of n channels (SWEEP flag INTERLEAVED): its read
    position p reads channel p * stride % n. The integer coprime with n nearest the golden
    section of n (the smaller on a tie; 1 for n < 3): consecutive reads land far apart and a
    hopper stepping a constant number of channels per hop does not keep in step with them, as
    it can with a sweep in channel order (docs/protocol.md, SWEEP). Runs when a plan is set."""
    target = n * 0.3819660112501051  # n (3 - sqrt 5) / 2
    best = 1
    for s in range(2, n):
        a, b = s, n
        while b:
            a, b = b, a % b
        if a == 1 and abs(s - target) < abs(best - target):
            best = s
    return best
