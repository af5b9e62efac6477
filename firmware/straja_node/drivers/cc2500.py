"""TI CC2500 2.4 GHz transceiver used as a scanning receiver (RSSI per channel).

Datasheet facts used (TI CC2500 datasheet, SWRS040C):
- SPI header byte: bit 7 R/W (1 = read), bit 6 burst, bits 5..0 address. Addresses 0x30..0x3D
  written without data are command strobes: SRES 0x30, SCAL 0x33, SRX 0x34, SIDLE 0x36. The
  same addresses read with the burst bit set (0xC0 | addr) are status registers: PARTNUM 0x30
  (reads 0x80), VERSION 0x31 (reads 0x03), RSSI 0x34.
- Carrier frequency: f = f_XOSC / 2^16 * (FREQ + CHANNR * (256 + CHANSPC_M) * 2^(CHANSPC_E - 2)),
  FREQ = FREQ2:FREQ1:FREQ0 (24 bits), f_XOSC = 26 MHz. This driver leaves CHANNR at 0 and writes
  FREQ for each channel (any kHz grid, no channel table), rounding down as SmartRF Studio does:
  2400 MHz -> 0x5C4EC4.
- Channel filter bandwidth = f_XOSC / (8 * (4 + CHANBW_M) * 2^CHANBW_E) (MDMCFG4[7:4]); this
  driver uses E = M = 0: 812.5 kHz, the widest, at 250 kBaud (filter_khz = 812).
- RSSI: RSSI_dBm = RSSI_dec / 2 - RSSI_offset, RSSI_dec the register as two's complement,
  RSSI_offset 72 dB at 250 kBaud (Table 31: 71 dB at 2.4 kBaud, 69 at 10, 72 at 250 and 500).
  Protocol code = 2 * (dBm + 140) = RSSI_dec + 280 - 2 * RSSI_offset.
- Settling: with MCSM0.FS_AUTOCAL = 01 the synthesizer calibrates on every IDLE -> RX; IDLE to RX
  takes ~809 us with calibration (Table 34; 88.4 us without), then the RSSI needs a few filter
  periods: settle_us = 900.
- Fast hopping ("Frequency hopping and multi-channel systems"): calibrate each channel once
  (SCAL strobe from IDLE, within the ~809 us above), store FSCAL3, FSCAL2, FSCAL1, and tune with
  FS_AUTOCAL = 00 by writing FREQ and the stored FSCAL values: IDLE to RX then takes 88.4 us.
  FrSky's receivers and the DIY multiprotocol module do the same (FrSkyDVX_common.ino,
  FrSkyX_init: SCAL, 900 us, FSCAL1 read back per hop channel; FrSkyX_set_start writes it back).
  A reading is taken after the RSSI has averaged over its window in the channel (250 us in the
  front-end catalogue, straja.frontends.LOOKS), so FAST_SETTLE_US = 88.4 + 250, rounded up: 340.
  A plan entry asks for it with a settle_us under settle_us (straja_node.plan.stored_tuning).
  The stored values hold while the temperature and the supply stay near those of the calibration
  (the datasheet's advice: recalibrate after a large change); a mast node's CC2500 has no sensor
  read by the node, so the channels are calibrated again every RECAL_MS (a full table of 64
  channels blocks ~58 ms: 0.1 % of a minute; a mast's temperature moves a few degrees in that).
"""
from ..clock import sleep_ms, sleep_us, ticks_diff, ticks_ms

from .fixed import clamp_code, muldiv, put_be

SRES = 0x30
SCAL = 0x33
SRX = 0x34
SIDLE = 0x36
MCSM0 = 0x18
FSCAL3 = 0x23
READ = 0x80
BURST = 0x40
FREQ2 = 0x0D
PARTNUM = 0x30
VERSION = 0x31
RSSI = 0x34
XOSC_KHZ = 26000
RSSI_OFFSET_DB = 72
SETTLE_US = 900  # a tune that calibrates (FS_AUTOCAL)
FAST_SETTLE_US = 340  # a tune from stored calibration (store_channels)
CAL_US = 900  # a SCAL calibration, waited as FrSkyX_init does (within a calibrating IDLE -> RX)
RECAL_MS = 60000
MCSM0_AUTOCAL = 0x18  # FS_AUTOCAL 01 (calibrate on IDLE -> RX), PO_TIMEOUT 10
MCSM0_STORED = 0x08  # FS_AUTOCAL 00: tune from the FSCAL values written
FILTER_KHZ = 812  # 812.5 kHz channel filter (MDMCFG4 below)
# The default plan reads each channel again 4.2 ms later (3 dwells of 1.4 ms): longer than a
# Bluetooth 5-slot packet (2.9 ms), shorter than an ExpressLRS 2.4 hop dwell (8-27 ms), so the
# lower of the two readings keeps ELRS and drops Bluetooth hops and Wi-Fi frames. A time, not a
# count of dwells: a plan of shorter dwells revisits after as many more.
SCAN_REVISIT_US = 4200
# ...and reads its channels interleaved (docs/firmware.md, "Interleave"): a hopper stepping a
# constant number of channels per hop (FrSky's table) keeps in step with a sweep in channel
# order for seconds, lighting the same few channels, and with an interleaved one does not
SCAN_INTERLEAVE = 1
BAND_KHZ = (2400000, 2483500)
# (register, value): 812.5 kHz filter at 250 kBaud, no sync word (stay in RX), autocalibrate on
# IDLE -> RX; FSCAL3/1/0 as SmartRF Studio recommends
CONFIG = (
    (0x0A, 0x00),  # CHANNR 0
    (0x0B, 0x0A),  # FSCTRL1: IF 254 kHz
    (0x10, 0x0D),  # MDMCFG4: CHANBW_E 0, CHANBW_M 0, DRATE_E 13
    (0x11, 0x3B),  # MDMCFG3: DRATE_M 59 (250 kBaud)
    (0x12, 0x70),  # MDMCFG2: MSK, no preamble/sync detection
    (0x13, 0x02),  # MDMCFG1: CHANSPC_E 2
    (0x14, 0xF8),  # MDMCFG0: CHANSPC_M 248 (unused: CHANNR stays 0)
    (MCSM0, MCSM0_AUTOCAL),
    (0x23, 0xEA),  # FSCAL3
    (0x25, 0x00),  # FSCAL1
    (0x26, 0x11),  # FSCAL0
)


def freq_word(freq_khz):
    """FREQ2:FREQ1:FREQ0 for a carrier in kHz: floor(f * 2^16 / 26 MHz), as f * 4096 / 1625
    split so that no intermediate exceeds a 31-bit small int."""
    return muldiv(freq_khz, 4096, 1625, 0)


class Cc2500:
    kind = "cc2500"
    filter_khz = FILTER_KHZ
    scan_revisit_us = SCAN_REVISIT_US
    scan_interleave = SCAN_INTERLEAVE

    def __init__(self, name, spi, cal=None, band_khz=None):
        self.name = name
        self.spi = spi
        self.band_khz = tuple(band_khz or BAND_KHZ)
        self.settle_us = SETTLE_US
        self.rssi_offset_db = RSSI_OFFSET_DB
        self.calibrate(cal or {})
        self.one = bytearray(1)
        self.reg = bytearray(2)
        self.rsp = bytearray(2)
        self.freq = bytearray(4)
        self.freq[0] = BURST | FREQ2
        self.fscal = bytearray(4)  # FSCAL3..1 written as a burst
        self.fscal[0] = BURST | FSCAL3
        self.fscal_read = bytearray(4)  # ...read back as one
        self.fscal_read[0] = READ | BURST | FSCAL3
        self.fscal_rsp = bytearray(4)
        self.autocal = True  # MCSM0.FS_AUTOCAL as last written
        self.index = {}  # freq_khz -> its row of `table` (store_channels)
        self.table = bytearray(0)
        self.cal_ms = ticks_ms()  # of the last calibration of the table
        self.setup()

    def calibrate(self, cal):
        self.rssi_offset_db = cal.get("rssi_offset_db", self.rssi_offset_db)

    def strobe(self, cmd):
        self.one[0] = cmd
        self.spi.write(self.one)

    def write_reg(self, addr, value):
        self.reg[0] = addr
        self.reg[1] = value
        self.spi.write(self.reg)

    def read_status(self, addr):
        self.reg[0] = READ | BURST | addr
        self.reg[1] = 0
        self.spi.write_readinto(self.reg, self.rsp)
        return self.rsp[1]

    def setup(self):
        self.strobe(SRES)
        sleep_ms(1)
        for addr, value in CONFIG:
            self.write_reg(addr, value)
        self.tune(self.band_khz[0])

    def set_autocal(self, on):
        if self.autocal != on:
            self.write_reg(MCSM0, MCSM0_AUTOCAL if on else MCSM0_STORED)
            self.autocal = on

    def store_channels(self, freqs):
        """Keep `freqs` (a plan's channels, kHz) and calibrate the synthesizer at each
        (recalibrate), so that tune() to one of them writes its FREQ and FSCAL values instead of
        calibrating (FAST_SETTLE_US). Called when a plan is set, with no channels if it does not
        ask for it (plan.stored_tuning): an earlier plan's table is dropped, never left to age
        uncalibrated. Allocates its table only here."""
        n = len(freqs)
        self.table = bytearray(6 * n)  # per channel: FREQ2..0, FSCAL3..1
        self.index = {}
        for i in range(n):
            put_be(self.table, 6 * i, freq_word(freqs[i]), 3)
            self.index[freqs[i]] = 6 * i
        self.recalibrate()

    def recalibrate(self):
        """Calibrate every stored channel (SCAL from IDLE, FSCAL3..1 read back into the table):
        blocks CAL_US a channel, allocates nothing. Again when recal_due()."""
        table = self.table
        if len(table) == 0:
            return
        self.set_autocal(False)
        f = self.freq
        rsp = self.fscal_rsp
        for k in range(0, len(table), 6):
            for j in range(3):
                f[1 + j] = table[k + j]
            self.strobe(SIDLE)
            self.spi.write(f)
            self.strobe(SCAL)
            sleep_us(CAL_US)
            self.spi.write_readinto(self.fscal_read, rsp)
            for j in range(3):
                table[k + 3 + j] = rsp[1 + j]
        self.cal_ms = ticks_ms()

    def recal_due(self):
        """True when the stored channels were calibrated RECAL_MS ago or more."""
        return len(self.index) > 0 and ticks_diff(ticks_ms(), self.cal_ms) >= RECAL_MS

    def tune(self, freq_khz):
        k = self.index.get(freq_khz, -1)
        f = self.freq
        self.strobe(SIDLE)
        if k < 0:  # not stored: the chip calibrates on IDLE -> RX (settle_us)
            put_be(f, 1, freq_word(freq_khz), 3)
            self.set_autocal(True)
            self.spi.write(f)
            self.strobe(SRX)
            return
        self.set_autocal(False)
        table = self.table
        c = self.fscal
        for j in range(1, 4):
            f[j] = table[k + j - 1]
            c[j] = table[k + j + 2]
        self.spi.write(f)
        self.spi.write(c)
        self.strobe(SRX)  # 88.4 us: no calibration

    def rssi_code(self):
        v = self.read_status(RSSI)
        if v >= 128:
            v -= 256
        return clamp_code(v + 280 - 2 * self.rssi_offset_db)

    def selftest(self):
        part = self.read_status(PARTNUM)
        ver = self.read_status(VERSION)
        if part != 0x80 or ver != 0x03:
            return False, "PARTNUM 0x%02x VERSION 0x%02x, expected 0x80 0x03" % (part, ver)
        return True, "CC2500 PARTNUM 0x80 VERSION 0x03"
