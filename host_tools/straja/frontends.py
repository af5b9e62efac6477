"""The catalogue of front-end kinds: one entry per firmware driver, its facts taken from the
constants the driver declares (firmware/straja_node/drivers/*.py: BAND_KHZ, SETTLE_US, FILTER_KHZ,
READS, TUNE_KHZ, scan_revisit_us, scan_interleave), plus the one fact the host adds: the looks of a
reading.

The gateway's detector (looks per kind and by band), its focus plans, the virtual board's chip
models and the evaluation read front-end facts here and nowhere else.
"""
from __future__ import annotations

from typing import NamedTuple

from straja_node.drivers import cc2500, logdet, rx5808, sx126x, sx127x

# Independent samples averaged per RSSI reading (bandwidth x averaging window, datasheets; the
# chip models of straja.vboard.chips measure so, tests/test_frontends.py checks it):
#   cc2500  812.5 kHz channel filter x ~250 us                        ~ 203
#   sx126x  467 kHz (the driver's GFSK RX bandwidth) x ~100 us         ~ 47
#   sx127x  250 kHz (the driver's RegRxBw 0x01) x ~100 us              ~ 25
#   rx5808  20 MHz x ~1 ms is 2e4 looks, but the RSSI pin is read by the MCU's ADC, whose noise
#           (~2 mV on a 10 mV/dB slope: 0.2 dB rms) dominates: (10/ln10 / 0.2)^2 ~ 470
# The detector's thresholds follow from them (docs/detection.md, "Multi-look readings").
LOOKS = {"cc2500": 203.0, "sx126x": 47.0, "sx127x": 25.0, "rx5808": 470.0}
# A reading of a front end whose kind is not known: the exponential design, whose thresholds are
# too high for averaged readings but never too low.
UNKNOWN_LOOKS = 1.0


class FrontEnd(NamedTuple):
    kind: str                 # the driver's `kind` (board profiles, the node's `info` reply)
    driver: type              # the firmware driver class
    band_khz: tuple           # the driver's default band (a board profile may narrow it)
    tune_khz: tuple           # what the chip tunes to (datasheet)
    settle_us: int            # after a retune, before a reading is valid
    filter_khz: int | None    # channel filter: the default plan's finest step (None: envelope)
    reads: int                # bus reads averaged into one RSSI reading
    scan_revisit_us: int      # the default plan's second reading this long after the first (0: none)
    scan_interleave: int      # the default plan's `interleave` (0: channels in order)
    looks: float | None       # independent samples per reading (None: an envelope detector)

    @property
    def envelope(self) -> bool:
        return self.filter_khz is None


def _entry(module, cls) -> FrontEnd:
    band = tuple(module.BAND_KHZ)
    filter_khz = getattr(module, "FILTER_KHZ", None)
    return FrontEnd(cls.kind, cls, band, tuple(getattr(module, "TUNE_KHZ", band)),
                    getattr(module, "SETTLE_US", cls.__dict__.get("settle_us", 0)), filter_khz,
                    getattr(module, "READS", 1), getattr(cls, "scan_revisit_us", 0),
                    getattr(cls, "scan_interleave", 0), LOOKS.get(cls.kind))


FRONT_ENDS = {fe.kind: fe for fe in (
    _entry(rx5808, rx5808.Rx5808), _entry(cc2500, cc2500.Cc2500), _entry(sx126x, sx126x.Sx126x),
    _entry(sx127x, sx127x.Sx127x), _entry(logdet, logdet.LogDet))}


def looks(kind: str) -> float:
    """Looks per reading of a front end of this kind (UNKNOWN_LOOKS if not known)."""
    fe = FRONT_ENDS.get(kind)
    return fe.looks if fe is not None and fe.looks is not None else UNKNOWN_LOOKS


def looks_at(freq_khz: float) -> float:
    """The fewest looks of the sweep front ends that tune to `freq_khz` (a reading whose kind is
    not known, taken from its frequency): never a threshold too low for the real one."""
    return min((fe.looks for fe in FRONT_ENDS.values()
                if fe.looks is not None and fe.tune_khz[0] <= freq_khz <= fe.tune_khz[1]),
               default=UNKNOWN_LOOKS)
