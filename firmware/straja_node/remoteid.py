"""Remote ID receiver: Bluetooth 4 legacy advertisements carrying ASD-STAN/ASTM Remote ID.

The Bluetooth stack scans continuously and passively and calls `_irq` for every advertisement.
`adv_data` there is a memoryview into the stack's buffer, valid only during the call, so the
handler copies what it keeps (advertisements with service data UUID 0xFFFA and application code
0x0D, nothing else) into a preallocated ring, allocating nothing; the main loop's `send()` turns
the ring's entries into REMOTEID frames (docs/protocol.md). Decoding is the host's job.

Each ring slot is the length of the service data, then the REMOTEID frame body as the protocol
lays it out (address type, RSSI, address, service data), so that the encoder copies it unchanged.
"""
from time import ticks_us

import micropython
from micropython import const

from .clock import Stamp
from .frame import _copy  # the encoder's slice-free copy: a memoryview source works the same
from .wire import REMOTEID_BODY

_IRQ_SCAN_RESULT = const(5)
SCAN_US = const(30000)  # interval = window: the radio listens all the time
SLOTS = const(16)  # advertisements kept between two main-loop turns (a drone sends ~3-10 per s)
DATA_MAX = const(29)  # service data of a legacy advertisement: 31 bytes less length and type
# const() folds only names of this module: an imported constant makes a plain global
SLOT_SIZE = 1 + REMOTEID_BODY + DATA_MAX
_ADDRESS_AT = const(3)  # in a slot: length, addr_type, rssi, then the address
_DATA_AT = 1 + REMOTEID_BODY


@micropython.viper
def _service_data(adv, n: int) -> int:
    """Offset in adv[0:n] of the Remote ID service data (after its AD type byte: UUID FA FF,
    app code 0x0D, ...), or -1; the data's length is adv[offset - 2] - 1."""
    p = ptr8(adv)
    at = 0
    while at + 5 <= n:
        length = p[at]
        if length == 0 or at + 1 + length > n:
            return -1
        if (length >= 4 and p[at + 1] == 0x16 and p[at + 2] == 0xFA and p[at + 3] == 0xFF
                and p[at + 4] == 0x0D):
            return at + 2
        at += 1 + length
    return -1


class Receiver:
    """Scans with `ble` (a `bluetooth.BLE`, or the unix port's stand-in) and sends what it keeps
    through `writer` (a FrameWriter), stamped with `clock` (a clock.Clock) at reception."""

    def __init__(self, ble, writer, clock):
        self.writer = writer
        self.clock = clock
        self.heard = 0  # Remote ID advertisements kept
        self.dropped = 0  # ... and lost because the ring was full
        self._ring = bytearray(SLOTS * SLOT_SIZE)
        self._ticks: list = [0] * SLOTS  # ticks_us() at reception (small ints), per slot
        self._head = 0  # next slot the handler fills
        self._tail = 0  # next slot send() empties
        self._at = Stamp()
        self._handler = self._irq  # a bound method is made once, not per interrupt
        ble.active(True)
        ble.irq(self._handler)
        ble.gap_scan(0, SCAN_US, SCAN_US, False)

    def _irq(self, event, data):
        if event != _IRQ_SCAN_RESULT:
            return
        addr_type, addr, _adv_type, rssi, adv = data
        at = _service_data(adv, len(adv))
        if at < 0:
            return
        n = adv[at - 2] - 1
        if n > DATA_MAX:
            n = DATA_MAX
        head = self._head
        nxt = (head + 1) % SLOTS
        if nxt == self._tail:
            self.dropped += 1
            return
        ring = self._ring
        off = head * SLOT_SIZE
        ring[off] = n
        ring[off + 1] = addr_type
        ring[off + 2] = rssi & 0xFF
        _copy(ring, off + _ADDRESS_AT, addr, 0, 6)
        _copy(ring, off + _DATA_AT, adv, at, n)
        self._ticks[head] = ticks_us()
        self.heard += 1
        self._head = nxt  # last: the slot is complete before send() can see it

    def send(self, streaming=True):
        """Send the advertisements kept since the last call as REMOTEID frames, oldest first
        (dropped unsent while the node is not streaming)."""
        if self._tail == self._head:
            return
        self.clock.update()
        while self._tail != self._head:
            i = self._tail
            if streaming:
                self.clock.at_ticks(self._ticks[i], self._at)
                off = i * SLOT_SIZE
                self.writer.remote_id(self._ring, off + 1, self._ring[off], self._at)
            self._tail = (i + 1) % SLOTS
