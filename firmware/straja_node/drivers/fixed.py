"""Integer helpers for the drivers: no floats and no big ints (on ESP32 and RP2 a small int has 31
bits; anything larger or any float is a heap object)."""
from ..wire import RSSI_CODE_MAX


def muldiv(x, num, den, bias):
    """(x * num + bias) // den for x >= 0, computed as q * num + (r * num + bias) // den with
    x = q * den + r, so only r * num (< den * num) and the result need to be small ints."""
    q = x // den
    r = x - q * den
    return q * num + (r * num + bias) // den


def clamp_code(code):
    """A protocol RSSI code limited to its byte: 0 (-140 dBm or less) .. 255 (saturated)."""
    return 0 if code < 0 else RSSI_CODE_MAX if code > RSSI_CODE_MAX else code


def put_be(buf, off, value, n):
    """Store the low n bytes of `value` big-endian at buf[off:off + n] (register byte order)."""
    for i in range(n):
        buf[off + i] = (value >> (8 * (n - 1 - i))) & 0xFF
