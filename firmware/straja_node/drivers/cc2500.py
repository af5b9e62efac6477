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
"""
from ..clock import sleep_ms

from .fixed import clamp_code, muldiv, put_be

SRES = 0x30
SCAL = 0x33
SRX = 0x34
SIDLE = 0x36
READ = 0x80
BURST = 0x40
FREQ2 = 0x0D
PARTNUM = 0x30
VERSION = 0x31
RSSI = 0x34
XOSC_KHZ = 26000
RSSI_OFFSET_DB = 72
SETTLE_US = 900
FILTER_KHZ = 812  # 812.5 kHz channel filter (MDMCFG4 below)
# The default plan reads each channel again 3 dwells (3 x 1.4 ms = 4.2 ms) later: longer than a
# Bluetooth 5-slot packet (2.9 ms), shorter than an ExpressLRS 2.4 hop dwell (8-27 ms), so the
# lower of the two readings keeps ELRS and drops Bluetooth hops and Wi-Fi frames.
SCAN_REVISIT = 3
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
    (0x18, 0x18),  # MCSM0: FS_AUTOCAL 01, PO_TIMEOUT 10
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
    scan_revisit = SCAN_REVISIT
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

    def tune(self, freq_khz):
        put_be(self.freq, 1, freq_word(freq_khz), 3)
        self.strobe(SIDLE)
        self.spi.write(self.freq)
        self.strobe(SRX)  # calibrates (FS_AUTOCAL), then receives

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
