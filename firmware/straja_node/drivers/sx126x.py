"""Semtech SX1261/SX1262 sub-GHz transceiver used as a scanning receiver (instantaneous RSSI).

Datasheet facts used (Semtech SX1261/2 datasheet, rev 2.1):
- Commands are an opcode then parameters in one SPI transaction; the chip holds BUSY high while
  it processes one and must not be sent another until BUSY is low (section 8.3.1).
- SetStandby 0x80 (0 = STDBY_RC), SetPacketType 0x8A (0 = GFSK), SetRfFrequency 0x86 with a
  32-bit word RF_freq = f * 2^25 / F_XTAL, F_XTAL = 32 MHz (section 13.4.1), SetRx 0x82 with
  timeout 0xFFFFFF = continuous RX, SetModulationParams 0x8B (GFSK: bit rate 32 * F_XTAL / br,
  pulse shape, RX bandwidth code, deviation f * 2^25 / F_XTAL), CalibrateImage 0x98 with the
  band's (f1, f2) from Table 9-2, SetDIO3AsTCXOCtrl 0x97, SetDIO2AsRfSwitchCtrl 0x9D.
- GetRssiInst 0x15: the third byte returned is RssiInst, signal power = -RssiInst / 2 dBm, so the
  protocol code 2 * (dBm + 140) is 280 - RssiInst.
- GetStatus 0xC0: status bits 6..4 are the chip mode (2 STBY_RC, 3 STBY_XOSC, 4 FS, 5 RX, 6 TX).
  ReadRegister 0x1D addr_hi addr_lo NOP data...: register 0x0740 (LoRa sync word MSB) reads 0x14
  after reset.
- SetModulationParams (GFSK) RX bandwidth code 0x09 is RX_BW_467000, 467 kHz: filter_khz = 467.
- Settling: STDBY_RC -> RX (PLL lock and the RSSI filter) takes ~100-200 us: settle_us = 300.
- Many modules (Ebyte E22, Waveshare Core1262) run the chip from a TCXO powered by DIO3 and
  switch the antenna with DIO2: profile options "tcxo_mv" and "dio2_rf_switch".
"""
from ..clock import sleep_ms, sleep_us, ticks_diff, ticks_ms

from .fixed import clamp_code, muldiv, put_be

STANDBY = 0x80
PACKET_TYPE = 0x8A
RF_FREQUENCY = 0x86
SET_RX = 0x82
MODULATION = 0x8B
CALIBRATE = 0x89
CALIBRATE_IMAGE = 0x98
TCXO = 0x97
RF_SWITCH = 0x9D
RSSI_INST = 0x15
GET_STATUS = 0xC0
READ_REGISTER = 0x1D
CAD_PARAMS = 0x88
SET_CAD = 0xC5
DIO_IRQ = 0x08
GET_IRQ = 0x12
CLEAR_IRQ = 0x02
IRQ_CAD_DONE = 0x0080
IRQ_CAD_DETECTED = 0x0100
CAD_4_SYMBOLS = 0x02  # cadSymbolNum code: 0..4 = 1, 2, 4, 8, 16 symbols
LORA_BW_500 = 0x06  # SetModulationParams LoRa bandwidth code for 500 kHz
CAD_TIMEOUT_MS = 100  # 4 symbols of SF12 at 125 kHz take 131 ms; the scanning cases are far shorter
SYNC_MSB = 0x0740
SETTLE_US = 300
FILTER_KHZ = 467  # RX bandwidth code 0x09 (GFSK_PARAMS)
BUSY_POLLS = 10000
BAND_KHZ = (863000, 928000)
TUNE_KHZ = (150000, 960000)  # what the synthesizer tunes to (datasheet: 150-960 MHz)
# GFSK 50 kbit/s (br word 0x005000), no shaping, RX bandwidth 467 kHz (code 0x09), 25 kHz deviation
GFSK_PARAMS = (MODULATION, 0x00, 0x50, 0x00, 0x00, 0x09, 0x00, 0x66, 0x66)
# CalibrateImage (f1, f2) per band, Table 9-2: (lo_MHz, hi_MHz, f1, f2)
IMAGE_BANDS = ((430, 440, 0x6B, 0x6F), (470, 510, 0x75, 0x81), (779, 787, 0xC1, 0xC5),
               (863, 870, 0xD7, 0xDB), (902, 928, 0xE1, 0xE9))
TCXO_MV = (1600, 1700, 1800, 2200, 2400, 2700, 3000, 3300)


def rf_word(freq_khz):
    """RF_freq = f * 2^25 / 32 MHz = f_kHz * 2^17 / 125, rounded, split so that no intermediate
    exceeds a 31-bit small int (the result does up to 1023 MHz)."""
    return muldiv(freq_khz, 131072, 125, 62)


def image_cal(lo_khz, hi_khz):
    """CalibrateImage (f1, f2) for a band: the datasheet pair covering it, else its ends / 4 MHz."""
    lo = lo_khz // 1000
    hi = (hi_khz + 999) // 1000
    for b_lo, b_hi, f1, f2 in IMAGE_BANDS:
        if b_lo <= lo and hi <= b_hi:
            return f1, f2
    return lo // 4, (hi + 3) // 4


class Sx126x:
    kind = "sx126x"
    filter_khz = FILTER_KHZ

    def __init__(self, name, spi, busy, reset=None, cal=None, band_khz=None, options=None):
        self.name = name
        self.spi = spi
        self.busy = busy
        self.band_khz = tuple(band_khz or BAND_KHZ)
        self.settle_us = SETTLE_US
        self.calibrate(cal or {})
        self.freq = bytearray(5)
        self.freq[0] = RF_FREQUENCY
        self.standby = bytearray((STANDBY, 0x00))
        self.rx = bytearray((SET_RX, 0xFF, 0xFF, 0xFF))
        self.rssi_cmd = bytearray((RSSI_INST, 0, 0))
        self.rssi_rsp = bytearray(3)
        if reset is not None:
            reset.value(0)
            sleep_ms(1)  # NRESET low for at least 100 us
            reset.value(1)
        self.setup(options or {})

    def calibrate(self, cal):
        """No per-unit trims: the RSSI is calibrated in the chip. The scheduler adds "offset"."""

    def wait(self):
        busy = self.busy
        if busy is None:
            return
        n = 0
        while busy.value():
            n += 1
            if n > BUSY_POLLS:
                raise OSError("%s: BUSY stuck high" % self.name)

    def command(self, buf):
        self.wait()
        self.spi.write(buf)

    def setup(self, options):
        self.command(self.standby)
        if "tcxo_mv" in options:
            # 5 ms start-up in 15.625 us steps (320), then recalibrate everything on the TCXO
            self.command(bytes((TCXO, TCXO_MV.index(options["tcxo_mv"]), 0x00, 0x01, 0x40)))
            self.command(bytes((CALIBRATE, 0x7F)))
        if options.get("dio2_rf_switch"):
            self.command(bytes((RF_SWITCH, 0x01)))
        self.command(bytes((PACKET_TYPE, 0x00)))
        self.command(bytes(GFSK_PARAMS))
        f1, f2 = image_cal(self.band_khz[0], self.band_khz[1])
        self.command(bytes((CALIBRATE_IMAGE, f1, f2)))
        self.tune(self.band_khz[0])

    def tune(self, freq_khz):
        put_be(self.freq, 1, rf_word(freq_khz), 4)
        self.command(self.standby)
        self.command(self.freq)
        self.command(self.rx)

    def rssi_code(self):
        self.wait()
        self.spi.write_readinto(self.rssi_cmd, self.rssi_rsp)
        return clamp_code(280 - self.rssi_rsp[2])

    def cad(self, freq_khz, sf=7, bw_code=LORA_BW_500):
        """Channel activity detection: True if LoRa chirps (of this SF and bandwidth) are on air
        at `freq_khz` during the next 4 symbols. Tells a LoRa link (ExpressLRS 900, LoRaWAN)
        from GFSK traffic of the same power, which RSSI cannot. Leaves the chip in standby with
        the GFSK set-up restored for RSSI scanning; the next tune() starts reception again.

        Datasheet: SetPacketType 0x8A (1 = LoRa), SetModulationParams 0x8B (SF, BW, CR 1 = 4/5,
        LDRO off), SetCadParams 0x88 (symbols, detPeak, detMin, exit mode 0 = CAD only, timeout),
        SetDioIrqParams 0x08 (CadDone bit 7 | CadDetected bit 8), ClearIrqStatus 0x02, SetCad 0xC5,
        GetIrqStatus 0x12. detPeak SF + 13 and detMin 10 as Semtech's AN1200.48 suggests for 4
        symbols."""
        self.command(self.standby)
        self.command(bytes((PACKET_TYPE, 0x01)))
        self.command(bytes((MODULATION, sf, bw_code, 0x01, 0x00)))
        put_be(self.freq, 1, rf_word(freq_khz), 4)
        self.command(self.freq)
        self.command(bytes((CAD_PARAMS, CAD_4_SYMBOLS, sf + 13, 10, 0x00, 0, 0, 0)))
        self.command(bytes((DIO_IRQ, 0x01, 0x80, 0x01, 0x80, 0, 0, 0, 0)))
        self.command(bytes((CLEAR_IRQ, 0xFF, 0xFF)))
        self.command(bytes((SET_CAD,)))
        rsp = bytearray(4)
        start = ticks_ms()
        while True:
            self.wait()
            self.spi.write_readinto(bytes((GET_IRQ, 0, 0, 0)), rsp)
            irq = (rsp[2] << 8) | rsp[3]
            if irq & IRQ_CAD_DONE:
                break
            if ticks_diff(ticks_ms(), start) > CAD_TIMEOUT_MS:
                raise OSError("%s: CAD did not finish" % self.name)
            sleep_us(200)
        self.command(bytes((CLEAR_IRQ, 0xFF, 0xFF)))
        self.command(bytes((PACKET_TYPE, 0x00)))
        self.command(bytes(GFSK_PARAMS))
        return bool(irq & IRQ_CAD_DETECTED)

    def selftest(self):
        self.wait()
        rsp = bytearray(2)
        self.spi.write_readinto(bytes((GET_STATUS, 0)), rsp)
        mode = (rsp[1] >> 4) & 7
        self.wait()
        reg = bytearray(5)
        self.spi.write_readinto(bytes((READ_REGISTER, SYNC_MSB >> 8, SYNC_MSB & 0xFF, 0, 0)), reg)
        if mode not in (2, 3, 4, 5, 6) or reg[4] != 0x14:
            return False, "status 0x%02x, register 0x0740 = 0x%02x (expected 0x14)" % (rsp[1], reg[4])
        return True, "SX126x mode %d, sync word MSB 0x14" % mode
