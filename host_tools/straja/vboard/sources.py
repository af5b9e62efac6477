"""Simple RF inputs for the virtual board (tests, the foundation demo); the scene simulator
provides the real one. An RF input has `band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)`: the mean
received power (signal plus receiver noise) in a band over a time window."""
from __future__ import annotations

import math
from collections.abc import Sequence

NF_DB = 8.0  # a typical receiver noise figure
THERMAL_DBM_PER_HZ = -174.0  # kT at 290 K


def dbm_to_mw(dbm: float) -> float:
    return 10.0 ** (dbm / 10.0)


def mw_to_dbm(mw: float) -> float:
    return 10.0 * math.log10(mw)


class NoiseOnly:
    """Receiver noise only: a flat density (kT + noise figure), so power grows with bandwidth."""

    def __init__(self, noise_dbm_per_hz: float = THERMAL_DBM_PER_HZ + NF_DB):
        self.noise_dbm_per_hz = noise_dbm_per_hz

    def noise_dbm(self, bw_hz: float) -> float:
        return self.noise_dbm_per_hz + 10.0 * math.log10(bw_hz)

    def band_power_dbm(self, freq_hz: float, bw_hz: float, t0_s: float, t1_s: float) -> float:
        return self.noise_dbm(bw_hz)

    def signal_power_dbm(self, freq_hz: float, bw_hz: float, t0_s: float, t1_s: float,
                         modulation: str) -> float:
        """Power of the emitters using `modulation` in the band, noise excluded."""
        return -math.inf


def _on_time(t: float, period: float, on: float) -> float:
    """Time spent on in [0, t] by a source on for `on` s at the start of every `period` s."""
    cycles = math.floor(t / period)
    return cycles * on + min(t - cycles * period, on)


# one carrier in each band of the virtual board's front ends (hardware/boards/virtual.json)
VIRTUAL_CARRIERS_HZ = (5800e6, 2441.75e6, 868e6)


class ToneSource(NoiseOnly):
    """Carriers at `freq_hz` (one frequency or several) each received at `power_dbm`, on for
    `duty` of every `period_s` (always on if period_s is None), on top of receiver noise. A band
    contains a carrier if it is within half the bandwidth of the band's centre. The defaults put
    a -50 dBm carrier in every band of the virtual board. `modulation` names what the carriers
    carry, for a receiver that recognises one (LoRa channel activity detection): "" for none."""

    def __init__(self, freq_hz: float | Sequence[float] = VIRTUAL_CARRIERS_HZ,
                 power_dbm: float = -50.0, period_s: float | None = None, duty: float = 0.5,
                 noise_dbm_per_hz: float = THERMAL_DBM_PER_HZ + NF_DB, modulation: str = ""):
        super().__init__(noise_dbm_per_hz)
        self.modulation = modulation
        self.carriers_hz = tuple(freq_hz) if isinstance(freq_hz, Sequence) else (freq_hz,)
        self.power_dbm = power_dbm
        self.period_s = period_s
        self.duty = duty

    def on_fraction(self, t0_s: float, t1_s: float) -> float:
        if self.period_s is None:
            return 1.0
        on = self.duty * self.period_s
        if t1_s <= t0_s:
            return 1.0 if (t0_s % self.period_s) < on else 0.0
        return (_on_time(t1_s, self.period_s, on) - _on_time(t0_s, self.period_s, on)) / (t1_s - t0_s)

    def _carriers_mw(self, freq_hz: float, bw_hz: float, t0_s: float, t1_s: float) -> float:
        inside = sum(1 for f in self.carriers_hz if abs(f - freq_hz) <= bw_hz / 2)
        return inside * dbm_to_mw(self.power_dbm) * self.on_fraction(t0_s, t1_s) if inside else 0.0

    def band_power_dbm(self, freq_hz: float, bw_hz: float, t0_s: float, t1_s: float) -> float:
        return mw_to_dbm(dbm_to_mw(self.noise_dbm(bw_hz))
                         + self._carriers_mw(freq_hz, bw_hz, t0_s, t1_s))

    def signal_power_dbm(self, freq_hz: float, bw_hz: float, t0_s: float, t1_s: float,
                         modulation: str) -> float:
        mw = self._carriers_mw(freq_hz, bw_hz, t0_s, t1_s) if modulation == self.modulation else 0.0
        return mw_to_dbm(mw) if mw > 0 else -math.inf
