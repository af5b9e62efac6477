"""Node time as two small ints, so that no big int is ever created on a 32-bit port.

Protocol v1 stamps every frame with a u64 count of microseconds since boot (docs/protocol.md,
Header). `time.ticks_us()` wraps (at 2**30 on ESP32 and RP2) and a 32-bit port's small ints hold
only 31 bits, so the count is kept as `hi * 2**24 + lo` with `0 <= lo < 2**24`: both parts stay
small ints for 2**30 * 2**24 us (about 570 years).

The drivers take their time functions (sleep_ms, sleep_us, ticks_*) from here, so that they also
run on CPython: there (the host's evaluation runs the real drivers against the virtual board's
chip models) time is virtual (straja_node.hosttime).
"""
from struct import pack_into

try:
    from time import sleep_ms, sleep_us, ticks_add, ticks_diff, ticks_ms, ticks_us
except ImportError:  # CPython (the board stubs' time has these: a second definition for mypy)
    from .hosttime import (sleep_ms, sleep_us, ticks_add, ticks_diff,  # type: ignore[no-redef]
                           ticks_ms, ticks_us)

LO_BITS = 24
LO_MASK = (1 << LO_BITS) - 1


def put_stamp(buf, off, hi, lo):
    """Write hi * 2**24 + lo as u64 little-endian into buf[off:off + 8] (no allocation)."""
    pack_into("<HBIB", buf, off, lo & 0xFFFF, lo >> 16, hi, 0)


class Stamp:
    """A point in node time (microseconds since boot), as `hi` and `lo` small ints."""

    def __init__(self):
        self.hi = 0
        self.lo = 0

    def copy(self, other):
        self.hi = other.hi
        self.lo = other.lo

    def add_us(self, us):
        """Move by `us` microseconds (a small int; negative moves back, not before boot)."""
        lo = self.lo + us
        self.hi += lo >> LO_BITS
        self.lo = lo & LO_MASK

    def stamp(self, buf, off):
        put_stamp(buf, off, self.hi, self.lo)

    def us(self):
        """The value as one int: allocates a big int on 32-bit ports, so not for per-frame use."""
        return (self.hi << LO_BITS) + self.lo


class Clock(Stamp):
    """Microseconds since boot. Call `update()` at least every few minutes: ticks_us wraps after
    2**30 us (about 17.9 min) on ESP32/RP2 and `ticks_diff` is only valid for half of that."""

    def __init__(self):
        Stamp.__init__(self)
        self._last = ticks_us()

    def update(self):
        now = ticks_us()
        self.add_us(ticks_diff(now, self._last))
        self._last = now

    def at_ticks(self, ticks, out):
        """Set Stamp `out` to the node time when ticks_us() read `ticks` (before the last
        update(), by less than ticks_us's half period)."""
        out.copy(self)
        out.add_us(-ticks_diff(self._last, ticks))
