"""A scan's two driver calls, `tune(freq_khz)` and `rssi_code()`, as the fast path makes them.

`DriverScan` makes them through the firmware's driver on the virtual-time bus (every bus
operation, straja.vboard.vtime): the plain form. For the two front ends that read most (the
CC2500's 128 readings per 2.4 GHz sweep, the SX126x's 64 per sub-GHz sweep), `scan_ops` gives a
short cut that leaves the chip model as the driver's operations would and reads the same
register, drawing the same random numbers in the same order, with the same time on the bus; so
the readings are the driver's, byte for byte (tests/test_eval_scanops.py holds each to its
driver on scenes and seeds, bench/eval_fast_path_probe.py's digests do not change):

- CC2500 tune: SIDLE, FREQ2..0 written (the driver's `freq_word`), SRX: three writes that leave
  the carrier registers set and the chip receiving; or, for a channel the driver stored
  (`store_channels`, as every plan's are), SIDLE, FREQ2..0 and FSCAL3..1 from its table, SRX:
  four writes; a reading: the RSSI status register (one
  read), converted as the driver does (its `rssi_offset_db`);
- SX126x tune: SetStandby, SetRfFrequency (the driver's `rf_word`), SetRx: three writes (BUSY is
  a pin the model holds low: no time); the chip model runs each channel's commands once and its
  outcome (receiving, the carrier) is set after; a reading: GetRssiInst (one read).

Any other driver, chip or wiring (a BUSY pin that changes, a driver subclass) keeps its driver.
A short cut is valid while only the scan drives its chip, as in NodeReader.sweeps.
"""
from __future__ import annotations

from straja_node.drivers import cc2500, sx126x
from straja_node.drivers.fixed import clamp_code

from ..vboard import chips


class DriverScan:
    """The driver's own calls on the virtual-time `board`, bus reads read_us, writes write_us."""

    def __init__(self, fe, board, read_us: int, write_us: int):
        self.fe, self.board, self.read_us, self.write_us = fe, board, read_us, write_us

    def tune(self, t_s: float, freq_khz: int) -> int:
        """Tune at t_s; the microseconds its bus operations took."""
        self.board.at(t_s, self.read_us, self.write_us)
        self.fe.tune(freq_khz)
        return self.board.busy_us

    def read(self, t_s: float) -> tuple[int, int]:
        """(the RSSI code read at t_s, the microseconds its bus operations took)."""
        self.board.at(t_s, self.read_us, self.write_us)
        code = self.fe.rssi_code()
        return code, self.board.busy_us


class Cc2500Scan:
    """A CC2500 driver's tune and rssi_code on its chip model (module docstring)."""

    def __init__(self, fe, chip, read_us: int, write_us: int):
        self.fe, self.chip = fe, chip
        self.tune_us = 3 * write_us  # SIDLE, the FREQ burst, SRX
        self.stored_tune_us = 4 * write_us  # ...and the FSCAL burst (a stored channel)
        self.read_us = read_us       # the RSSI status register
        self._freq_regs = {}         # freq_khz -> FREQ2..0, as the driver writes them

    def tune(self, t_s: float, freq_khz: int) -> int:
        chip = self.chip
        k = self.fe.index.get(freq_khz, -1)
        if k >= 0:  # a stored channel (store_channels): its FREQ and FSCAL values written
            row = self.fe.table
            chip.regs[cc2500.FREQ2:cc2500.FREQ2 + 3] = row[k:k + 3]
            chip.regs[cc2500.FSCAL3:cc2500.FSCAL3 + 3] = row[k + 3:k + 6]
            chip.state = "RX"
            return self.stored_tune_us
        regs = self._freq_regs.get(freq_khz)
        if regs is None:
            regs = self._freq_regs[freq_khz] = cc2500.freq_word(freq_khz).to_bytes(4, "big")[1:]
        chip.regs[cc2500.FREQ2:cc2500.FREQ2 + 3] = regs
        chip.state = "RX"
        return self.tune_us

    def read(self, t_s: float) -> tuple[int, int]:
        v = self.chip.read_rssi(t_s)
        if v >= 128:
            v -= 256
        return clamp_code(v + 280 - 2 * self.fe.rssi_offset_db), self.read_us


class Sx126xScan:
    """An SX126x driver's tune and rssi_code on its chip model (module docstring)."""

    def __init__(self, fe, chip, read_us: int, write_us: int):
        self.fe, self.chip = fe, chip
        self.tune_us = 3 * write_us  # SetStandby, SetRfFrequency, SetRx
        self.read_us = read_us       # GetRssiInst
        self._carrier_hz = {}        # freq_khz -> the carrier the chip tunes to

    def tune(self, t_s: float, freq_khz: int) -> int:
        chip = self.chip
        carrier_hz = self._carrier_hz.get(freq_khz)
        if carrier_hz is None:  # the driver's three commands, on the model
            word = (sx126x.rf_word(freq_khz) & 0xFFFFFFFF).to_bytes(4, "big")
            chip.command(sx126x.STANDBY, bytes(self.fe.standby[1:]))
            chip.command(sx126x.RF_FREQUENCY, word)
            chip.command(sx126x.SET_RX, bytes(self.fe.rx[1:]))
            carrier_hz = self._carrier_hz[freq_khz] = chip.freq_hz
        chip.freq_hz = carrier_hz
        chip.mode = 5  # RX (SetRx)
        return self.tune_us

    def read(self, t_s: float) -> tuple[int, int]:
        return clamp_code(280 - self.chip.rssi_inst(t_s)), self.read_us


def scan_ops(fe, board, read_us: int, write_us: int):
    """The scan calls of driver `fe` on `board` (a VirtualTimeBoard): a short cut where its
    driver and chip model have one (the exact classes, wired as build_front_ends wires them),
    else DriverScan."""
    bus = getattr(fe, "spi", None)
    chip = getattr(getattr(bus, "spi", None), "__self__", None)  # _Spi's bound chip.spi
    if type(fe) is cc2500.Cc2500 and type(chip) is chips.Cc2500:
        return Cc2500Scan(fe, chip, read_us, write_us)
    if (type(fe) is sx126x.Sx126x and type(chip) is chips.Sx126x
            and (fe.busy is None or getattr(fe.busy, "fixed", None) == 0)):
        return Sx126xScan(fe, chip, read_us, write_us)
    return DriverScan(fe, board, read_us, write_us)
