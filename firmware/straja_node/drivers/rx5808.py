"""RX5808 5.8 GHz video receiver module (RichWave RTC6715 inside), in SPI mode.

Datasheet facts used (RTC6715 datasheet; RX5808 module notes):
- The module is programmed over a 3-wire bus (CH1 DATA, CH2 LE, CH3 CLK) with 25-bit frames sent
  LSB first: address A3..A0 (4 bits), R/W (1 = write), data D0..D19 (20 bits).
- Synthesizer register B (address 0x1): F_LO = 2 * (N * 32 + A) MHz with the 8 MHz crystal and
  the default R divider of 8; the IF is 479 MHz, low-side, so F_LO = F_RF - 479 MHz and
  N = F_LO // 64, A = (F_LO % 64) // 2, register value (N << 7) | A. Examples:
  5865 MHz -> 0x2A05, 5658 MHz -> 0x281D, 5917 MHz -> 0x2A1F. (The table copied widely from
  rx5808-pro-diversity has four Raceband entries 2 MHz low, e.g. 0x2A1E for 5917 MHz; see its
  issue #75, which RotorHazard's freqMhzToRegVal follows. 2 MHz is immaterial on a 20 MHz
  video channel; the computed value is the exact one.)
- RSSI is an analog voltage, ~0.5 V (no signal) to ~1.2 V (strong), that needs 25-35 ms after a
  retune to settle (shared reference rf-links.md, "Front ends"; RotorHazard waits 30 ms):
  settle_us = 25000, the short end of that range.
- The video filter passes ~20 MHz (an FM video channel): filter_khz = 20000, so a scan needs no
  finer step than 20 MHz (a video channel is then at most 10 MHz off a scan channel).
- Calibration is per unit: `rssi_min` / `rssi_max` (ADC read_u16 codes) are the readings at
  `dbm_min` / `dbm_max` (defaults -90 and -20 dBm, the range over which the RSSI output is
  roughly linear in dB); readings are clamped to that range and mapped linearly.
"""
from .fixed import clamp_code

SYNTH_B = 0x1
IF_MHZ = 479
SETTLE_US = 25000
FILTER_KHZ = 20000
FRAME_BITS = 25
WRITE = 1
READS = 4  # ADC reads averaged per RSSI reading: the module's RSSI output is noisy
BAND_KHZ = (5645000, 5945000)
DEFAULT_CAL = {"rssi_min": 9930, "rssi_max": 23831, "dbm_min": -90, "dbm_max": -20}


def synth_register(freq_mhz):
    """Synthesizer register B value for a channel centre frequency in MHz."""
    f_lo = freq_mhz - IF_MHZ
    return ((f_lo // 64) << 7) | ((f_lo % 64) // 2)


def frame(address, data):
    """The 25-bit write frame, bit 0 first on the wire."""
    return address | (WRITE << 4) | (data << 5)


class Rx5808:
    kind = "rx5808"
    filter_khz = FILTER_KHZ

    def __init__(self, name, bus, adc, cal=None, band_khz=None):
        self.name = name
        self.bus = bus
        self.read_u16 = adc.read_u16  # bound once: no allocation per reading
        self.band_khz = tuple(band_khz or BAND_KHZ)
        self.settle_us = SETTLE_US
        self.rssi_min = self.rssi_max = self.dbm_min = self.dbm_max = 0
        self.calibrate(DEFAULT_CAL)
        self.calibrate(cal or {})

    def calibrate(self, cal):
        """Apply the calibration keys present in `cal` (the others keep their values)."""
        self.rssi_min = cal.get("rssi_min", self.rssi_min)
        self.rssi_max = cal.get("rssi_max", self.rssi_max)
        self.dbm_min = cal.get("dbm_min", self.dbm_min)
        self.dbm_max = cal.get("dbm_max", self.dbm_max)
        if self.rssi_max <= self.rssi_min:
            raise ValueError("%s: rssi_max must exceed rssi_min" % self.name)

    def tune(self, freq_khz):
        self.bus.write_word(frame(SYNTH_B, synth_register((freq_khz + 500) // 1000)), FRAME_BITS)

    def raw(self):
        read = self.read_u16
        total = 0
        for _ in range(READS):
            total += read()
        return total // READS

    def rssi_code(self):
        """Protocol RSSI code (dBm = code / 2 - 140) from the calibrated RSSI voltage."""
        lo = self.rssi_min
        hi = self.rssi_max
        v = self.raw()
        v = lo if v < lo else hi if v > hi else v
        half_db = 2 * self.dbm_min + (v - lo) * 2 * (self.dbm_max - self.dbm_min) // (hi - lo)
        return clamp_code(half_db + 280)

    def selftest(self):
        v = self.raw()
        if v < self.rssi_min // 2 or v > 65000:
            return False, "RSSI reads %d, outside %d..65000 (module unpowered or not fitted?)" % (
                v, self.rssi_min // 2)
        return True, "RSSI idle %d" % v
