"""The virtual board in virtual time: the firmware's real drivers (imported on CPython) call the
chip models directly, with no socket, at instants the caller chooses.

`VirtualTimeBoard` offers the board functions the firmware's hardware layer builds front ends
with (`pin`, `spi_device`, `three_wire`, `adc`: firmware/straja_node/hw), so its `front_ends` are
made by `straja_node.hw.build_front_ends` exactly as on a node. Before each driver call the caller
sets its start and what a bus operation costs with `at(t, read_us, write_us)`: a read (an SPI
transfer, an ADC read, a pin read: a round trip on a virtual node's socket) takes read_us, a
write (an SPI write, a 3-wire word, a pin write: one-way there) write_us, and a pin the chip model
holds fixed nothing (a virtual node asks for it once, straja_node.hw.board_unix); each operation
happens when those before it are done, and a driver that sleeps (straja_node.clock: virtual time
on CPython) moves its later operations on by as much; `busy_us` sums the call's operations, so the
caller knows how long it took. The chip models draw from the board's one generator in the order
of the operations, as on the socket board (straja.vboard.server), so the same instants in the
same order give the same readings.
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
        self.read_us = self.write_us = 0
        self.busy_us = 0
        self.slept_from_us = hosttime.now_us
        self.front_ends = build_front_ends(self, self, profile, {})

    def at(self, t: float, read_us: int = 0, write_us: int = 0) -> None:
        """The next driver call starts at t (s); its bus reads take read_us each, writes write_us."""
        self.t = t
        self.read_us, self.write_us = read_us, write_us
        self.busy_us = 0
        self.slept_from_us = hosttime.now_us

    def now(self, cost_us: int) -> float:
        """The instant of a bus operation taking cost_us: t + the operations before it, later by
        the driver's sleeps since at() (+ 0.0 when none: the instants stay exactly the caller's)."""
        before = self.busy_us
        self.busy_us = before + cost_us
        return self.t + (before + hosttime.now_us - self.slept_from_us) * 1e-6

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
        # bound once: the fast path calls these a lot
        self.board, self.spi, self.spi_write = board, chip.spi, chip.spi_write

    def write(self, buf) -> None:
        self.spi_write(buf, self.board.now(self.board.write_us))

    def write_readinto(self, wbuf, rbuf) -> None:
        rbuf[:] = self.spi(wbuf, self.board.now(self.board.read_us))


class _ThreeWire:
    def __init__(self, board: VirtualTimeBoard, chip):
        self.board, self.word = board, chip.word

    def write_word(self, word: int, nbits: int) -> None:
        self.word(word, nbits, self.board.now(self.board.write_us))


class _Adc:
    def __init__(self, board: VirtualTimeBoard, chip):
        self.board, self.adc = board, chip.adc

    def read_u16(self) -> int:
        return self.adc(self.board.now(self.board.read_us))


class _Pin:
    def __init__(self, board: VirtualTimeBoard, chip, role: str):
        self.board, self.read, self.write, self.role = board, chip.pin_read, chip.pin_write, role
        self.fixed = chip.pin_fixed(role)  # its level, which never changes; None if it does

    def value(self, v=None):
        board = self.board  # a bus operation: it takes its time
        if v is None:
            if self.fixed is not None:  # read once on a virtual node: no time, no model call
                return self.fixed
            board.now(board.read_us)
            return self.read(self.role)
        board.now(board.write_us)
        self.write(self.role, v)
