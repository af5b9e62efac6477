"""Semtech SX1276/77/78 (HopeRF RFM95W) used as a scanning receiver in FSK mode.

Datasheet facts used (Semtech SX1276/77/78/79 datasheet, rev 7):
- SPI access: first byte wnr (bit 7, 1 = write) and a 7-bit address, then data; burst access
  auto-increments the address.
- RegOpMode 0x01: bit 7 LongRangeMode (0 = FSK/OOK), bit 3 LowFrequencyModeOn (0 for the HF port,
  > 525 MHz), bits 2..0 mode (1 STDBY, 5 RX).
- RegFrfMsb/Mid/Lsb 0x06..0x08: FRF = f * 2^19 / F_XOSC, F_XOSC = 32 MHz (61.035 Hz steps); the
  frequency changes when RegFrfLsb is written. 868 MHz -> 0xD90000, 915 MHz -> 0xE4C000.
- FSK mode RSSI: RegRssiValue 0x11, RSSI = -RegRssiValue / 2 dBm, so the protocol code
  2 * (dBm + 140) is 280 - RegRssiValue. FSK mode is used for scanning: its RSSI has 0.5 dB steps
  and follows the channel filter set in RegRxBw. (In LoRa mode RegRssiValue is 0x1B with
  RSSI = -157 + value on the HF port, 1 dB steps.)
- RegRxBw 0x12: RxBw = F_XOSC / (RxBwMant * 2^(RxBwExp + 2)); 0x01 (mant 16, exp 1) = 250 kHz:
  filter_khz = 250.
- RegVersion 0x42 reads 0x12.
- Settling: STDBY -> RX (TS_FS ~60 us PLL, TS_RE ~ 2.33/RxBw and the RSSI smoothing of
  RegRssiConfig, 8 samples) stays under 250 us at 250 kHz: settle_us = 250.
"""
from ..clock import sleep_ms

from .fixed import clamp_code, muldiv, put_be

WRITE = 0x80
OP_MODE = 0x01
FRF_MSB = 0x06
LNA = 0x0C
RSSI_CONFIG = 0x0E
RSSI_VALUE = 0x11
RX_BW = 0x12
VERSION = 0x42
MODE_STDBY = 0x01
MODE_RX = 0x05
SETTLE_US = 250
FILTER_KHZ = 250  # RegRxBw 0x01
BAND_KHZ = (862000, 1020000)
TUNE_KHZ = (137000, 1020000)  # what the SX1276 tunes to (datasheet: 137-1020 MHz)


def frf_word(freq_khz):
    """FRF = f * 2^19 / 32 MHz = f_kHz * 2048 / 125, rounded, with small-int intermediates."""
    return muldiv(freq_khz, 2048, 125, 62)


class Sx127x:
    kind = "sx127x"
    filter_khz = FILTER_KHZ

    def __init__(self, name, spi, reset=None, cal=None, band_khz=None):
        self.name = name
        self.spi = spi
        self.band_khz = tuple(band_khz or BAND_KHZ)
        self.settle_us = SETTLE_US
        self.calibrate(cal or {})
        self.reg = bytearray(2)
        self.rsp = bytearray(2)
        self.frf = bytearray(4)
        self.frf[0] = WRITE | FRF_MSB
        if reset is not None:
            reset.value(0)
            sleep_ms(1)  # NRESET low > 100 us, then 5 ms until the chip is ready
            reset.value(1)
            sleep_ms(5)
        self.setup()

    def calibrate(self, cal):
        """No per-unit trims: the scheduler adds the config's "offset" to the codes."""

    def write_reg(self, addr, value):
        self.reg[0] = WRITE | addr
        self.reg[1] = value
        self.spi.write(self.reg)

    def read_reg(self, addr):
        self.reg[0] = addr
        self.reg[1] = 0
        self.spi.write_readinto(self.reg, self.rsp)
        return self.rsp[1]

    def setup(self):
        self.write_reg(OP_MODE, 0x00)  # sleep, FSK (LongRangeMode can only change in sleep)
        self.write_reg(OP_MODE, MODE_STDBY)
        self.write_reg(RX_BW, 0x01)  # 250 kHz
        self.write_reg(RSSI_CONFIG, 0x02)  # 8-sample smoothing, no offset
        self.write_reg(LNA, 0x23)  # max gain, HF LNA boost
        self.tune(self.band_khz[0])

    def tune(self, freq_khz):
        put_be(self.frf, 1, frf_word(freq_khz), 3)
        self.write_reg(OP_MODE, MODE_STDBY)
        self.spi.write(self.frf)
        self.write_reg(OP_MODE, MODE_RX)

    def rssi_code(self):
        return clamp_code(280 - self.read_reg(RSSI_VALUE))

    def selftest(self):
        v = self.read_reg(VERSION)
        if v != 0x12:
            return False, "RegVersion 0x%02x, expected 0x12" % v
        return True, "SX127x RegVersion 0x12"
