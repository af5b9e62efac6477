"""The virtual board's Bluetooth radio: what the firmware's `bluetooth` stand-in on the unix port
(firmware/straja_node/hw/board_unix.py, op BLE_SCAN) receives, one advertisement per request.

`source` has `advertisements(t0, t1)` -> [(t, addr_type, rssi_dbm, address, advertising data)]
in time order (straja.sim.remoteid.NodeBluetooth for a scene)."""
from __future__ import annotations

from collections import deque


class BluetoothRadio:
    def __init__(self, source, t_start: float = 0.0):
        self.source = source
        self._until = t_start  # advertisements before this have been queued
        self._queue: deque = deque()
        self.delivered = 0

    def scan(self, t: float) -> bytes:
        """The next advertisement heard by time t, as the BLE_SCAN response payload (u8
        addr_type, i8 rssi, 6 address bytes, advertising data), or b"" when there is none."""
        if t > self._until:
            self._queue.extend(self.source.advertisements(self._until, t))
            self._until = t
        if not self._queue:
            return b""
        _, addr_type, rssi, address, data = self._queue.popleft()
        self.delivered += 1
        return bytes((addr_type, max(-128, min(127, rssi)) & 0xFF)) + address + data
