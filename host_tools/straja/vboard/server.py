"""The virtual board server: answers the firmware's unix hardware layer over an AF_UNIX socket.

The wire format is defined in firmware/straja_node/hw/board_unix.py (the client). One
MicroPython connection is served at a time; when the interpreter restarts (a reset) it connects
again and the chips keep their state, as a board's radios keep theirs across an MCU reset.
"""
from __future__ import annotations

import os
import random
import socket
import sys
import struct
import threading
import time

from .ble import BluetoothRadio
from .chips import MODELS

(SPI_WRITE, SPI_XFER, WORD, ADC_READ, BLOCK, PIN_READ, PIN_WRITE, WDT_START, WDT_FEED, BLE_SCAN,
 PIN_FIXED) = range(1, 12)
ONE_WAY = (SPI_WRITE, WORD, PIN_WRITE, WDT_START, WDT_FEED)  # the client waits for no answer
HEADER = struct.Struct("<BBHI")  # op, dev, len, the firmware's ticks_us() mod 2**32
RESPONSE = struct.Struct("<BBH")
STAMP_WRAP_US = 1 << 32
RECV_MAX = 65536
OK, ERROR = 0, 1
SWITCH_INTERVAL_S = 100e-6


class VirtualBoard:
    """Chip models for `profile`'s front ends, fed by `rf` (an object with
    `band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)`, or a dict of them by front-end name, as a
    scene gives each front end its own antenna and noise figure), at time
    `time.monotonic() - t_origin`
    (t_origin defaults to when start() is called).

    Counters: `transactions` (requests served), `round_trips` (those the firmware waited for:
    reads; writes are one-way), `feeds` (watchdog feeds), `watchdog_ms` (the last
    watchdog timeout the firmware set), `connections`. Set `safe_pin_low` to hold the safe pin.
    `bluetooth`: what the board's Bluetooth radio hears (see straja.vboard.ble), None: nothing.
    """

    def __init__(self, profile: dict, rf, socket_path: str, t_origin: float | None = None,
                 seed: int = 0, bluetooth=None):
        self.profile = profile
        self.rf = rf
        self.socket_path = str(socket_path)
        self.t_origin = t_origin
        self.rng = random.Random(seed)
        self.chips = [MODELS[e["kind"]](self, e) for e in profile.get("front_ends", [])]
        self.pins = {}
        for chip in self.chips:
            for role, number in chip.entry.get("pins", {}).items():
                self.pins[number] = (chip, role)
        self.safe_pin_low = False
        self.bluetooth = BluetoothRadio(bluetooth) if bluetooth is not None else None
        self.transactions = 0
        self.round_trips = 0
        self.feeds = 0
        self.watchdog_ms = None
        self.connections = 0
        self.errors: list[str] = []
        self._listener: socket.socket | None = None
        self._conn: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self.t_origin

    def stamped(self, ticks_us: int) -> float:
        """The board time of a request the firmware stamped `ticks_us` (mod 2**32 of the unix
        port's ticks_us(), CLOCK_MONOTONIC microseconds as time.monotonic()): made about now,
        within half the stamp's wrap (a microsecond ahead after rounding, or minutes ago)."""
        now_us = round(time.monotonic() * 1e6)
        half = STAMP_WRAP_US // 2
        age_us = (now_us - ticks_us + half) % STAMP_WRAP_US - half
        return (now_us - age_us) * 1e-6 - self.t_origin

    @property
    def thread_id(self) -> int | None:
        """The kernel's id of the thread that serves the bus (its CPU use: /proc/self/task)."""
        return self._thread.native_id if self._thread else None

    # -- life cycle

    def start(self) -> "VirtualBoard":
        if self.t_origin is None:
            self.t_origin = time.monotonic()
        # A bus transaction must be answered within a dwell's margin (~0.5 ms), but Python hands
        # the GIL between threads only every 5 ms by default: another thread of this process (the
        # gateway, another board) would make the firmware overrun its dwells.
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        self._listener.listen(1)
        self._listener.settimeout(0.2)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="vboard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        conn = self._conn
        if conn:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)
        if self._listener:
            self._listener.close()
            self._listener = None
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)

    def __enter__(self) -> "VirtualBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(None)
            self._conn = conn
            self.connections += 1
            try:
                self._session(conn)
            except (ConnectionError, OSError):
                pass  # the interpreter went away (reset, power cut): wait for the next one
            finally:
                self._conn = None
                conn.close()

    def _session(self, conn: socket.socket) -> None:
        """Serve requests in order, each at the instant the firmware stamped it; the writes the
        client queues arrive with the request that waits, and are handled in one pass."""
        pending = bytearray()
        refused = False  # a one-way request failed: the next response says so
        while not self._stopping.is_set():
            data = conn.recv(RECV_MAX)
            if not data:
                raise ConnectionError("closed")
            pending += data
            k = 0
            while len(pending) - k >= HEADER.size:
                op, dev, n, stamp = HEADER.unpack_from(pending, k)
                end = k + HEADER.size + n
                if len(pending) < end:
                    break
                payload = bytes(pending[k + HEADER.size:end])
                k = end
                self.transactions += 1
                try:
                    value, reply = self._handle(op, dev, payload, self.stamped(stamp))
                    status = OK
                except (ValueError, IndexError, KeyError, struct.error) as e:
                    self.errors.append(f"op {op} dev {dev}: {e}")
                    value, reply, status = 0, b"", ERROR
                if op in ONE_WAY:
                    refused = refused or status == ERROR
                    continue
                if refused:
                    value, reply, status, refused = 0, b"", ERROR, False
                self.round_trips += 1
                conn.sendall(RESPONSE.pack(status, value, len(reply)) + reply)
            del pending[:k]

    def _handle(self, op: int, dev: int, payload: bytes, t: float) -> tuple[int, bytes]:
        if op == WDT_FEED:
            self.feeds += 1
        elif op == WDT_START:
            self.watchdog_ms = struct.unpack("<I", payload)[0]
        elif op == PIN_READ:
            if dev == self.profile.get("safe_pin"):
                return (0 if self.safe_pin_low else 1), b""
            chip, role = self.pins.get(dev, (None, None))
            return (chip.pin_read(role) if chip else 1), b""
        elif op == PIN_FIXED:  # only a chip's pin: the safe pin is the test's to change
            chip, role = self.pins.get(dev, (None, None))
            level = chip.pin_fixed(role) if chip else None
            return (0 if level is None else 1 + level), b""
        elif op == BLE_SCAN:
            return (1, reply) if self.bluetooth and (reply := self.bluetooth.scan(t)) else (0, b"")
        elif op == PIN_WRITE:
            chip, role = self.pins.get(dev, (None, None))
            if chip:
                chip.pin_write(role, payload[0])
        else:
            return self._chip_op(self.chips[dev], op, payload, t)
        return 0, b""

    def _chip_op(self, chip, op: int, payload: bytes, t: float) -> tuple[int, bytes]:
        if op == SPI_WRITE:
            chip.spi(payload, t)
        elif op == SPI_XFER:
            return 0, chip.spi(payload, t)
        elif op == WORD:
            word, nbits = struct.unpack("<IB", payload)
            chip.word(word, nbits, t)
        elif op == ADC_READ:
            return 0, struct.pack("<H", chip.adc(t))
        elif op == BLOCK:
            n, rate = struct.unpack("<HI", payload)
            samples = chip.block(t, n, rate)
            # a board's read_block returns after its last sample: answer then, not before
            wait = t + (n - 1) / rate - self.now()
            if wait > 0:
                time.sleep(wait)
            return 0, struct.pack(f"<{n}H", *samples)
        else:
            raise ValueError(f"unknown op {op}")
        return 0, b""
