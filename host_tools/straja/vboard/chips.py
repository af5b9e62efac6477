"""Register-level models of the node's RF chips, fed by an RF input (`band_power_dbm`).

Each model answers the bus operations the firmware's drivers make (SPI transactions, 3-wire
words, ADC reads) the way the chip would, from the same datasheet facts the drivers cite
(firmware/straja_node/drivers/: a fact both sides use is the driver's constant, or the front-end
catalogue's, straja.frontends). Every read picks the time window its chip averages over.
"""
from __future__ import annotations

import math
import random

from straja_node.drivers import cc2500, rx5808

from .._eval_band import BandPower, ChipReading, GammaDb
from ..frontends import FRONT_ENDS

VREF = 3.3
ADC_BITS = 12
ADC_NOISE_V = 0.002  # a few LSB of an MCU's SAR ADC
TUNINGS_MAX = 4096  # readers a chip keeps, by tuning: its plans' channels (a few hundred)


def adc_u16(volts: float, rng: random.Random, noise_v: float = ADC_NOISE_V) -> int:
    """A 12-bit SAR reading of `volts` with noise, scaled to 16 bits as MicroPython's read_u16
    does on the RP2040 (raw << 4 | raw >> 8)."""
    top = (1 << ADC_BITS) - 1
    raw = round((volts + rng.gauss(0.0, noise_v)) / VREF * top)
    raw = min(max(raw, 0), top)
    return (raw << 4) | (raw >> 8)


def gamma_db(rng: random.Random, k: float):
    """A function drawing 10 log10 of Gamma(k, 1/k) from `rng`, for k >= 1: the draws and the
    arithmetic of `rng.gammavariate(k, 1.0 / k)` (CPython's Cheng algorithm, the same random()
    calls in the same order; tests/test_vboard_chips.py holds it to that), with the constants
    that depend on k computed once, as a chip reads at a few fixed (bandwidth, window) pairs;
    in C (straja._eval_band.GammaDb: a chip draws one per reading)."""
    return GammaDb(rng.random, k)


class Chip:
    """Default bus behaviour: a model overrides the operations its chip has."""

    def __init__(self, board, entry: dict):
        self.board = board
        self.entry = entry
        rf = board.rf
        self.rf = rf[entry["name"]] if isinstance(rf, dict) else rf
        self._scatter = {}  # bandwidth x window -> its gamma_db draw
        self._readers = {}  # (freq_hz, bw_hz) -> reader(): the bands this chip was tuned to

    def scatter(self, looks: float):
        """The draw of 10 log10 of a Gamma(k, 1/k) factor, k = looks limited to 1..1e4."""
        draw = self._scatter[looks] = gamma_db(self.board.rng, min(max(looks, 1.0), 1e4))
        return draw

    def power(self, freq_hz: float, bw_hz: float, window_s: float, t: float) -> float:
        """The power the chip measures: the band's mean power over the window, with the scatter
        of a power estimate made from about bw x window independent samples (a Gamma(k, 1/k)
        factor: noise alone reads a few tenths of a dB to a few dB around its mean, never a
        constant)."""
        mean_dbm = self.rf.band_power_dbm(freq_hz, bw_hz, t - window_s, t)
        looks = bw_hz * window_s
        return mean_dbm + (self._scatter.get(looks) or self.scatter(looks))()

    def reader(self, freq_hz: float, bw_hz: float):
        """power(freq_hz, bw_hz, WINDOW_S, t) as a function of t, the same sums and draws: the RF
        input's handle on the band (its `band(freq_hz, bw_hz)` if it has one: the band's
        streams found once, not at every read) and the scatter's draw looked up once, kept per
        tuning (a scan's channels)."""
        key = (freq_hz, bw_hz)
        read = self._readers.get(key)
        if read is None:
            if len(self._readers) >= TUNINGS_MAX:  # a firmware tuning ever new frequencies
                self._readers.clear()
            read = self._readers[key] = self._reader(freq_hz, bw_hz, self.WINDOW_S)
        return read

    def tuned_reader(self, key):
        """reader(freq_hz(), bw_hz()) of the chip's present tuning, found by `key`, the tuning
        registers' contents (cheaper than working out the frequency at every read); a chip with
        it keeps `tunings`, emptied by its reset."""
        read = self.tunings.get(key)
        if read is None:
            if len(self.tunings) >= TUNINGS_MAX:
                self.tunings.clear()
            read = self.tunings[key] = self.reader(self.freq_hz(), self.bw_hz())
        return read

    def _reader(self, freq_hz: float, bw_hz: float, window_s: float):
        rf = self.rf
        band = getattr(rf, "band", None)
        if band is not None:
            band_power_dbm = band(freq_hz, bw_hz)
        else:
            def band_power_dbm(t0_s, t1_s):
                return rf.band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)
        looks = bw_hz * window_s
        draw = self._scatter.get(looks) or self.scatter(looks)
        if isinstance(band_power_dbm, BandPower):  # (a NodeRF's band: all in C)
            return ChipReading(band_power_dbm, window_s, draw)

        def read(t: float) -> float:
            return band_power_dbm(t - window_s, t) + draw()
        return read

    def spi(self, data: bytes, t: float) -> bytes:
        raise ValueError(f"{self.entry['name']} has no SPI")

    def spi_write(self, data: bytes, t: float) -> None:
        """An SPI write: what spi() does, its answer unread (a model skips building it)."""
        self.spi(data, t)

    def word(self, word: int, nbits: int, t: float) -> None:
        raise ValueError(f"{self.entry['name']} has no 3-wire bus")

    def adc(self, t: float) -> int:
        raise ValueError(f"{self.entry['name']} has no ADC")

    def block(self, t0: float, n: int, rate_hz: int) -> list[int]:
        return [self.adc(t0 + i / rate_hz) for i in range(n)]

    def pin_read(self, role: str) -> int:
        return 0  # BUSY never high: commands complete at socket speed

    def pin_fixed(self, role: str) -> int | None:
        """The level of a pin this model never changes, so the firmware's unix hardware layer
        reads it once (op PIN_FIXED); None for a pin whose level changes (a model that
        overrides pin_read overrides this too)."""
        return self.pin_read(role)

    def pin_write(self, role: str, level: int) -> None:
        if role == "reset" and level == 0:
            self.reset()

    def reset(self) -> None:
        pass


class Rx5808(Chip):
    """RTC6715: synthesizer register B sets the LO (F_RF = 2 * (32 N + A) + 479 MHz); the RSSI
    pin is 0.5 V at -90 dBm rising linearly in dB to 1.2 V at -20 dBm, clamped, low-pass filtered
    (~1 ms window) and settling exponentially after a retune (tau 6 ms: within 1% at 30 ms)."""

    IF_MHZ = rx5808.IF_MHZ
    BW_HZ = FRONT_ENDS["rx5808"].filter_khz * 1e3
    WINDOW_S = 1e-3
    TAU_S = 6e-3
    # the pin's linear range, which the driver's default calibration maps
    DBM = (float(rx5808.DEFAULT_CAL["dbm_min"]), float(rx5808.DEFAULT_CAL["dbm_max"]))
    VOLTS = (0.5, 1.2)

    def __init__(self, board, entry):
        super().__init__(board, entry)
        self.freq_hz = FRONT_ENDS["rx5808"].band_khz[0] * 1e3
        self.t_tune = -1.0
        self.v_before = self.VOLTS[0]
        self.words = 0

    def volts(self, t: float) -> float:
        (p0, p1), (v0, v1) = self.DBM, self.VOLTS
        p = min(max(self.reader(self.freq_hz, self.BW_HZ)(t), p0), p1)
        target = v0 + (p - p0) * (v1 - v0) / (p1 - p0)  # the level the pin settles to
        return target + (self.v_before - target) * math.exp(-(t - self.t_tune) / self.TAU_S)

    def word(self, word, nbits, t):
        if nbits != 25:
            raise ValueError(f"RX5808 frames are 25 bits, got {nbits}")
        self.words += 1
        address, write, data = word & 0xF, (word >> 4) & 1, word >> 5
        if address == 0x1 and write:
            n, a = data >> 7, data & 0x7F
            self.v_before = self.volts(t)
            self.freq_hz = (2 * (32 * n + a) + self.IF_MHZ) * 1e6
            self.t_tune = t

    def adc(self, t):
        return adc_u16(self.volts(t), self.board.rng)


class Cc2500(Chip):
    """CC2500: 0x30-0x3F registers, strobes, status registers (PARTNUM 0x80, VERSION 0x03, RSSI),
    carrier from FREQ2..0 and CHANNR/CHANSPC, channel filter from MDMCFG4; RSSI register
    = 2 * (P + RSSI_offset) in 0.5 dB steps, two's complement, averaged over ~250 us."""

    XOSC = cc2500.XOSC_KHZ * 1e3
    RSSI_OFFSET_DB = cc2500.RSSI_OFFSET_DB
    WINDOW_S = 250e-6
    STATES = {"IDLE": 0x01, "RX": 0x0D}  # MARCSTATE values

    TUNING = slice(0x0A, 0x15)  # the registers the carrier and the channel filter are made of

    def __init__(self, board, entry):
        super().__init__(board, entry)
        self.reset()

    def reset(self):
        self.regs = bytearray(0x30)
        self.regs[0x0D:0x10] = bytes((0x5D, 0x93, 0xB1))  # reset FREQ: 2464 MHz
        self.regs[0x10:0x15] = bytes((0x8C, 0x22, 0x02, 0x22, 0xF8))
        self.state = "IDLE"
        self.rssi = 0x80
        self.tunings = {}  # TUNING registers' bytes -> its reader(): a scan's channels

    def freq_hz(self) -> float:
        r = self.regs
        word = (r[0x0D] << 16) | (r[0x0E] << 8) | r[0x0F]
        spacing = (256 + r[0x14]) * 2 ** ((r[0x13] & 3) - 2)
        return self.XOSC / 2 ** 16 * (word + r[0x0A] * spacing)

    def bw_hz(self) -> float:
        m4 = self.regs[0x10]
        return self.XOSC / (8 * (4 + ((m4 >> 4) & 3)) * 2 ** (m4 >> 6))

    def read_rssi(self, t):
        if self.state == "RX":
            p = self.tuned_reader(bytes(self.regs[self.TUNING]))(t)
            self.rssi = min(max(round(2 * (p + self.RSSI_OFFSET_DB)), -128), 127) & 0xFF
        return self.rssi

    def status(self, addr, t):
        if addr == 0x34:  # (the scan's read: first)
            return self.read_rssi(t)
        if addr == 0x30:
            return 0x80
        if addr == 0x31:
            return 0x03
        if addr == 0x35:
            return self.STATES[self.state]
        return 0

    def strobe(self, addr):
        if addr == 0x30:
            self.reset()
        elif addr == 0x34:
            self.state = "RX"
        elif addr == 0x36:
            self.state = "IDLE"

    def spi(self, data, t):
        header = data[0]
        read, burst, addr = header & 0x80, header & 0x40, header & 0x3F
        status = 0x10 if self.state == "RX" else 0  # the chip status byte, clocked out first
        if addr >= 0x30 and len(data) == 1:
            self.strobe(addr)
            return bytes((status,))
        if addr >= 0x30 and read and burst:
            if len(data) == 2:  # one status register, as the driver reads them
                return bytes((status, self.status(addr, t)))
            return bytes((status, *(self.status(addr, t) for _ in range(len(data) - 1))))
        out = bytearray(len(data))
        out[0] = status
        if read:
            for i in range(len(data) - 1):
                a = addr + (i if burst else 0)
                if a >= len(self.regs):
                    break
                out[1 + i] = self.regs[a]
        else:
            self.write_regs(data, addr, burst)
        return bytes(out)

    def spi_write(self, data, t):
        addr = data[0] & 0x3F
        if len(data) == 1 and addr >= 0x30:
            self.strobe(addr)
        elif data[0] & 0x80 or addr >= 0x30:
            self.spi(data, t)  # a read or a status register: its side effects (an RSSI draw)
        else:
            self.write_regs(data, addr, data[0] & 0x40)

    def write_regs(self, data, addr, burst):
        """A write of data[1:] from register addr (burst: to the next registers in turn)."""
        regs = self.regs
        for i in range(len(data) - 1):
            a = addr + (i if burst else 0)
            if a >= len(regs):
                break
            regs[a] = data[1 + i]


class Sx126x(Chip):
    """SX1262 command interface: SetStandby, SetRfFrequency (f = word * 32 MHz / 2^25), SetRx,
    SetPacketType, SetModulationParams (GFSK RX bandwidth code; LoRa SF and bandwidth),
    GetRssiInst (-value / 2 dBm, averaged over ~100 us), GetStatus, Read/WriteRegister (0x0740
    resets to 0x14), and LoRa channel activity detection: SetCadParams (0x88, symbols code 0..4 =
    1, 2, 4, 8, 16 symbols), SetCad (0xC5), GetIrqStatus (0x12: CadDone bit 7, CadDetected bit 8,
    set once the CAD's symbols have passed), ClearIrqStatus (0x02). CAD detects LoRa chirps only
    (the RF input's "lora" emitters), when their SNR in the LoRa bandwidth over the CAD window
    reaches the demodulator's limit for the spreading factor (datasheet Table 6-1: -7.5 dB at
    SF7, 2.5 dB less per SF step)."""

    XTAL = 32e6
    WINDOW_S = 100e-6
    GFSK_BW = {0x1F: 4800, 0x17: 5800, 0x0F: 7300, 0x1E: 9700, 0x16: 11700, 0x0E: 14600,
               0x1D: 19500, 0x15: 23400, 0x0D: 29300, 0x1C: 39000, 0x14: 46900, 0x0C: 58600,
               0x1B: 78200, 0x13: 93800, 0x0B: 117300, 0x1A: 156200, 0x12: 187200, 0x0A: 234300,
               0x19: 312000, 0x11: 373600, 0x09: 467000}
    LORA_BW = {0x00: 7810, 0x08: 10420, 0x01: 15630, 0x09: 20830, 0x02: 31250, 0x0A: 41670,
               0x03: 62500, 0x04: 125000, 0x05: 250000, 0x06: 500000}
    CAD_DONE, CAD_DETECTED = 0x0080, 0x0100

    def __init__(self, board, entry):
        super().__init__(board, entry)
        self.reset()

    def reset(self):
        self.mode = 2  # STBY_RC
        self.freq_hz = 915e6
        self.packet_type = 0
        self.bw_hz = FRONT_ENDS["sx126x"].filter_khz * 1e3
        self.sf = 7
        self.cad_symbols = 1
        self.cad = None  # (start, end) of the CAD running, its window
        self.irq = 0
        self.registers = {0x0740: 0x14, 0x0741: 0x24}

    def cad_detects(self, t0: float, t1: float) -> bool:
        lora = self.rf.signal_power_dbm(self.freq_hz, self.bw_hz, t0, t1, "lora")
        return lora - self.rf.noise_dbm(self.bw_hz) >= -7.5 - 2.5 * (self.sf - 7)

    def irq_status(self, t: float) -> int:
        if self.cad is not None and t >= self.cad[1]:
            self.irq |= self.CAD_DONE | (self.CAD_DETECTED if self.cad_detects(*self.cad) else 0)
            self.cad, self.mode = None, 2
        return self.irq

    def rssi_inst(self, t: float) -> int:
        """GetRssiInst's value: -2 x the power in dBm, a byte (-127.5 dBm out of RX)."""
        p = self.reader(self.freq_hz, self.bw_hz)(t) if self.mode == 5 else -127.5
        return min(max(round(-2 * p), 0), 255)

    def command(self, op, args):
        if op == 0x80:
            self.mode = 3 if args[:1] == b"\x01" else 2
        elif op == 0x86:
            self.freq_hz = int.from_bytes(args[:4], "big") * self.XTAL / 2 ** 25
        elif op == 0x82:
            self.mode = 5
        elif op == 0x8A:
            self.packet_type = args[0]
        elif op == 0x8B:
            table, code = (self.GFSK_BW, args[4]) if self.packet_type == 0 else (self.LORA_BW, args[1])
            self.bw_hz = float(table.get(code, self.bw_hz))
            if self.packet_type == 1:
                self.sf = args[0]
        elif op == 0x88:
            self.cad_symbols = 1 << min(args[0], 4)
        elif op == 0x02:
            self.irq &= ~int.from_bytes(args[:2], "big")
        elif op == 0x0D:
            addr = int.from_bytes(args[:2], "big")
            for i, b in enumerate(args[2:]):
                self.registers[addr + i] = b

    # opcodes that answer something or act at their instant: spi_write runs them as spi() does
    TIMED = frozenset((0x15, 0x1D, 0xC5, 0x12))

    def spi_write(self, data, t):
        op = data[0]
        if op in self.TIMED:
            self.spi(data, t)
        else:
            self.command(op, data[1:])

    def spi(self, data, t):
        op = data[0]
        status = self.mode << 4  # bits 6..4 chip mode; command status 0
        if op == 0x15 and len(data) == 3:  # GetRssiInst, the scan's read: status, status, RSSI
            return bytes((status, status, self.rssi_inst(t)))
        args = bytes(data[1:])
        out = bytearray([status] * len(data))
        if op == 0x15 and len(data) >= 3:
            out[2] = self.rssi_inst(t)
        elif op == 0x1D and len(data) >= 4:
            addr = int.from_bytes(args[:2], "big")
            for i in range(4, len(data)):
                out[i] = self.registers.get(addr + i - 4, 0)
        elif op == 0xC5:  # SetCad: listen for cad_symbols LoRa symbols of 2^SF / BW each
            self.cad = (t, t + self.cad_symbols * 2 ** self.sf / self.bw_hz)
            self.mode = 5
        elif op == 0x12 and len(data) >= 4:
            irq = self.irq_status(t)
            out[2], out[3] = irq >> 8, irq & 0xFF
        else:
            self.command(op, args)
        return bytes(out)


class Sx127x(Chip):
    """SX1276 registers: RegOpMode (FSK/LoRa, mode), RegFrf (f = FRF * 32 MHz / 2^19), RegRxBw,
    FSK RegRssiValue 0x11 (-value / 2 dBm), LoRa RegRssiValue 0x1B (value - 157 dBm, HF port),
    RegVersion 0x42 = 0x12; RSSI averaged over ~100 us."""

    XOSC = 32e6
    WINDOW_S = 100e-6
    LORA_BW = (7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000)

    def __init__(self, board, entry):
        super().__init__(board, entry)
        self.reset()

    def reset(self):
        self.tunings = {}  # the tuning registers' values -> reader(freq_hz(), bw_hz())
        self.regs = bytearray(0x80)
        self.regs[0x01] = 0x09  # FSK, LF mode on, standby
        self.regs[0x06:0x09] = bytes((0x6C, 0x80, 0x00))  # 434 MHz
        self.regs[0x12] = 0x15
        self.regs[0x42] = 0x12

    def freq_hz(self) -> float:
        return int.from_bytes(self.regs[0x06:0x09], "big") * self.XOSC / 2 ** 19

    def lora(self) -> bool:
        return bool(self.regs[0x01] & 0x80)

    def bw_hz(self) -> float:
        if self.lora():
            return float(self.LORA_BW[min(self.regs[0x1D] >> 4, 9)])
        v = self.regs[0x12]
        return self.XOSC / ((16, 20, 24, 24)[(v >> 3) & 3] * 2 ** ((v & 7) + 2))

    def read(self, addr, t):
        receiving = (self.regs[0x01] & 7) == 5
        if addr in (0x11, 0x1B) and receiving and (addr == 0x1B) == self.lora():
            regs = self.regs  # the tuning: RegOpMode's LoRa bit, RegFrf, RegRxBw, RegModemConfig1
            key = (regs[0x01] & 0x80, bytes(regs[0x06:0x09]), regs[0x12], regs[0x1D])
            p = self.tuned_reader(key)(t)
            value = p + 157 if self.lora() else -2 * p
            return min(max(round(value), 0), 255)
        return self.regs[addr]

    def spi(self, data, t):
        write, addr = data[0] & 0x80, data[0] & 0x7F
        if len(data) == 2:  # one register, as the driver's reads and writes are
            if write:
                self.regs[addr] = data[1]
                return b"\x00\x00"
            return bytes((0, self.read(addr, t)))
        if write and addr + len(data) <= 0x81:  # a burst write that does not wrap (a tune's RegFrf)
            self.regs[addr:addr + len(data) - 1] = data[1:]
            return bytes(len(data))
        return self.spi_per_byte(data, t)

    def spi_per_byte(self, data, t):
        """A burst transfer, register by register (the address increments, wrapping at 0x7F):
        also the one-register short cut's reference (tests/test_vboard_chips.py)."""
        write, addr = data[0] & 0x80, data[0] & 0x7F
        out = bytearray(len(data))
        for i, b in enumerate(data[1:]):
            a = (addr + i) & 0x7F
            if write:
                self.regs[a] = b
            else:
                out[1 + i] = self.read(a, t)
        return bytes(out)


class LogDet(Chip):
    """AD8318 on an ADC: V = slope * (P - intercept), slope -25 mV/dB, intercept +20 dBm, the
    input clamped to the detector's -65..0 dBm range; the envelope is sampled (a ~2 us window per
    sample) over the band the filter in front passes (the profile's band_khz)."""

    SLOPE_V_PER_DB = -0.025
    INTERCEPT_DBM = 20.0
    RANGE_DBM = (-65.0, 0.0)
    WINDOW_S = 2e-6

    def __init__(self, board, entry):
        super().__init__(board, entry)
        lo, hi = entry.get("band_khz", FRONT_ENDS["logdet"].band_khz)
        self.centre_hz = (lo + hi) / 2 * 1e3
        self.bw_hz = (hi - lo) * 1e3

    def adc(self, t):
        p = self.reader(self.centre_hz, self.bw_hz)(t)
        p = min(max(p, self.RANGE_DBM[0]), self.RANGE_DBM[1])
        return adc_u16(self.SLOPE_V_PER_DB * (p - self.INTERCEPT_DBM), self.board.rng)


MODELS = {"rx5808": Rx5808, "cc2500": Cc2500, "sx126x": Sx126x, "sx127x": Sx127x, "logdet": LogDet}
