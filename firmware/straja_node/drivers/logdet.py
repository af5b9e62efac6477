"""Analog Devices AD8317/AD8318 logarithmic power detector on an ADC (an envelope front end).

Datasheet facts used (AD8318 datasheet, rev B; AD8317 rev C):
- V_OUT = slope * (P_in - intercept): the AD8318 slope is about -25 mV/dB (-24.5 typ. at
  5.8 GHz) with the intercept near +20 dBm; the AD8317 about -22 mV/dB, intercept ~+15 dBm.
  Output spans ~0.5 V (0 dBm) to ~2.1 V (-60 dBm), so an idle detector (no signal, input below
  its ~-65 dBm floor) sits near the top of its output range.
- Usable input range about -60..0 dBm (AD8318, +-1 dB law conformance to ~-65 dBm).
The node sends raw ADC codes with the calibration (ENVELOPE frame):
dBm = intercept_mdbm / 1000 + code * slope_udb / 1e6. With read_u16 codes at 3.3 V full scale a
code is 3.3 / 65535 V = 50.35 uV, i.e. -2014 micro-dB for -25 mV/dB, and code 0 (0 V) is the
intercept: defaults slope_udb = -2014, intercept_mdbm = 20000.
"""
from .fixed import clamp_code

MIN_DBM = -75  # a plausible idle reading: within the detector's range, with margin
MAX_DBM = 5
BAND_KHZ = (1000, 8000000)


class LogDet:
    kind = "logdet"
    settle_us = 0

    def __init__(self, name, adc, cal=None, centre_khz=0, band_khz=None):
        self.name = name
        self.adc = adc
        self.read_u16 = adc.read_u16
        self.centre_khz = centre_khz
        self.band_khz = tuple(band_khz or BAND_KHZ)
        self.slope_udb = -2014
        self.intercept_mdbm = 20000
        self.calibrate(cal or {})

    def calibrate(self, cal):
        self.slope_udb = cal.get("slope_udb", self.slope_udb)
        self.intercept_mdbm = cal.get("intercept_mdbm", self.intercept_mdbm)

    def read_block(self, buf, n, rate_hz):
        """n raw ADC codes into buf at rate_hz; returns flags (bit 0 OVERRUN)."""
        return self.adc.read_block(buf, n, rate_hz)

    def tune(self, freq_khz):
        """Broadband: nothing to tune (its band is set by the filter in front of it)."""

    def mdbm(self, code):
        return self.intercept_mdbm + code * self.slope_udb // 1000

    def rssi_code(self):
        """One reading as a protocol RSSI code, 2 * (dBm + 140)."""
        return clamp_code((self.mdbm(self.read_u16()) + 140000) // 500)

    def selftest(self):
        code = self.read_u16()
        dbm = self.mdbm(code) // 1000
        if code <= 256 or code >= 65279 or not MIN_DBM <= dbm <= MAX_DBM:
            return False, "ADC reads %d (%d dBm): not a detector's output (not fitted?)" % (code, dbm)
        return True, "idle %d dBm (code %d)" % (dbm, code)
