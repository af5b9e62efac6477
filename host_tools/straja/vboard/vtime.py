"""The virtual board in virtual time: the firmware's real drivers (imported on CPython) call the
chip models directly, with no socket, at instants the caller chooses.

`VirtualTimeBoard` offers the board functions the firmware's hardware layer builds front ends
with (`pin`, `spi_device`, `three_wire`, `adc`: firmware/straja_node/hw), so its `front_ends` are
made by `straja_node.hw.build_front_ends` exactly as on a node. Before each driver call the caller
sets its start with `at(t, op_s)`: the call's k-th bus operation (an SPI transfer, a 3-wire word,
an ADC read, a pin read: each a round trip on a virtual node's socket) happens at t + k op_s, and
a driver that sleeps (straja_node.clock: virtual time on CPython) moves its later operations on
by as much; `ops` counts the call's operations, so the caller knows how long it took. The chip models draw from the board's one
generator in the order of the operations, as on the socket board (straja.vboard.server), so the
same instants in the same order give the same readings.
"""
from __future__ import annotations

import random

from straja_node import hosttime
from straja_node.hw import build_front_ends

from .chips import MODELS


class VirtualTimeBoard:
    """Chip models for `profile`'s front ends fed by `rf` (as VirtualBoard's), their generator
    seeded `seed`, and the profile's front ends' drivers on them (`front_ends`, profile order)."""

    def __init__(self, profile: dict, rf, seed: int = 0):
        self.profile = profile
        self.rf = rf
        self.rng = random.Random(seed)
        self.chips = [MODELS[e["kind"]](self, e) for e in profile.get("front_ends", [])]
        self.t = 0.0
        self.op_s = 0.0
        self.ops = 0
        self.slept_from_us = hosttime.now_us
        self.front_ends = build_front_ends(self, self, profile, {})

    def at(self, t: float, op_s: float = 0.0) -> None:
        """The next driver call starts at t (s); each of its bus operations takes op_s."""
        self.t = t
        self.op_s = op_s
        self.ops = 0
        self.slept_from_us = hosttime.now_us

    def now(self) -> float:
        """The instant of the next bus operation (counted): t + k op_s, later by the driver's
        sleeps since at() (+ 0.0 when it has not slept: the instants stay exactly the caller's)."""
        k = self.ops
        self.ops = k + 1
        return self.t + k * self.op_s + (hosttime.now_us - self.slept_from_us) * 1e-6

    # the board functions straja_node.hw builds drivers with (`bd` is this board)

    def pin(self, bd, number: int, out: bool = False) -> "_Pin":
        for chip in self.chips:
            for role, n in chip.entry.get("pins", {}).items():
                if n == number:
                    return _Pin(self, chip, role)
        raise ValueError(f"pin {number} is no front end's")

    def spi_device(self, bd, index: int, entry: dict) -> "_Spi":
        return _Spi(self, self.chips[index])

    def three_wire(self, bd, index: int, entry: dict) -> "_ThreeWire":
        return _ThreeWire(self, self.chips[index])

    def adc(self, bd, index: int, pin: int) -> "_Adc":
        return _Adc(self, self.chips[index])


class _Spi:
    def __init__(self, board: VirtualTimeBoard, chip):
        self.board, self.spi = board, chip.spi  # bound once: the fast path calls these a lot

    def write(self, buf) -> None:
        self.spi(buf, self.board.now())

    def write_readinto(self, wbuf, rbuf) -> None:
        rbuf[:] = self.spi(wbuf, self.board.now())


class _ThreeWire:
    def __init__(self, board: VirtualTimeBoard, chip):
        self.board, self.word = board, chip.word

    def write_word(self, word: int, nbits: int) -> None:
        self.word(word, nbits, self.board.now())


class _Adc:
    def __init__(self, board: VirtualTimeBoard, chip):
        self.board, self.adc = board, chip.adc

    def read_u16(self) -> int:
        return self.adc(self.board.now())


class _Pin:
    def __init__(self, board: VirtualTimeBoard, chip, role: str):
        self.board, self.read, self.write, self.role = board, chip.pin_read, chip.pin_write, role

    def value(self, v=None):
        self.board.now()  # a bus operation: it takes its time
        if v is None:
            return self.read(self.role)
        self.write(self.role, v)
