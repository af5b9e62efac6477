"""RF channel plans and the path-loss model: the one definition the simulator, the detection core
and the localiser read.

Frequencies in MHz. Any layer may import this module (it imports nothing of the package).
"""
from __future__ import annotations

import numpy as np

# 5.8 GHz analog FPV video: bands A, B, E, F, R, channels 1-8 (MHz).
ANALOG_BANDS = {
    "A": (5865, 5845, 5825, 5805, 5785, 5765, 5745, 5725),
    "B": (5733, 5752, 5771, 5790, 5809, 5828, 5847, 5866),
    "E": (5705, 5685, 5665, 5645, 5885, 5905, 5925, 5945),
    "F": (5740, 5760, 5780, 5800, 5820, 5840, 5860, 5880),
    "R": (5658, 5695, 5732, 5769, 5806, 5843, 5880, 5917),
}
ANALOG_PLAN_MHZ = tuple(sorted({f for band in ANALOG_BANDS.values() for f in band}))

# 5 GHz Wi-Fi channel numbers n (centre 5000 + 5 n MHz, IEEE 802.11 U-NII-1..3): 20 MHz channels
# 36-64, 100-144, 149-165 every 4; 40 MHz centres 38, 46, ...; 80 MHz centres 42, 58, ...
WIFI_5G_CHANNELS = (tuple(range(36, 65, 4)) + tuple(range(100, 145, 4)) + tuple(range(149, 166, 4))
                    + (38, 46, 54, 62, 102, 110, 118, 126, 134, 142, 151, 159)
                    + (42, 58, 106, 122, 138, 155))

# Bluetooth LE advertising channels 37, 38, 39 (MHz).
BLE_ADV_MHZ = {37: 2402.0, 38: 2426.0, 39: 2480.0}

# Where frequency-hopping control links hop (MHz): a link's regulatory domain keeps its hop set
# in one of these (ExpressLRS, Crossfire, FrSky R9: EU 863-870, FCC/AU 902-928; the 2.4 GHz ISM
# band), so its channels span at most the widest plan a receiver's band holds: two narrow
# emitters in two plans (a LoRaWAN sensor on 868, a tracker on 905) are never one hopper.
ISM_2G4_MHZ = (2400.0, 2483.5)
HOP_PLANS_MHZ = ((863.0, 870.0), (902.0, 928.0), ISM_2G4_MHZ)


def widest_hop_plan_mhz(lo_mhz: float, hi_mhz: float) -> float:
    """The widest hop plan overlapping lo_mhz..hi_mhz (its width in MHz), inf if none does (no
    hopper's bound there)."""
    widths = [hi - lo for lo, hi in HOP_PLANS_MHZ if lo <= hi_mhz and hi >= lo_mhz]
    return max(widths) if widths else float("inf")


def hop_plan_khz(lo_khz: int, hi_khz: int) -> tuple[int, int]:
    """The hop plan (HOP_PLANS_MHZ) holding a hopper seen over lo..hi kHz (its centre), or
    lo..hi itself outside them."""
    centre = (lo_khz + hi_khz) / 2
    for lo_mhz, hi_mhz in HOP_PLANS_MHZ:
        if 1000 * lo_mhz <= centre <= 1000 * hi_mhz:
            return min(lo_khz, round(1000 * lo_mhz)), max(hi_khz, round(1000 * hi_mhz))
    return lo_khz, hi_khz


# 5 GHz 40 and 80 MHz channel blocks (802.11-2020 Annex E), by their lowest 20 MHz channel.
WIFI_5G_BLOCKS = {40.0: (36, 44, 52, 60, 100, 108, 116, 124, 132, 140, 149, 157),
                  80.0: (36, 52, 100, 116, 132, 149)}


def analog_channel_mhz(name: str) -> float:
    """Centre frequency of a 5.8 GHz FPV channel named band letter + number (e.g. 'R1')."""
    band, num = name[:1].upper(), name[1:]
    if band not in ANALOG_BANDS or not num.isdigit() or not 1 <= int(num) <= 8:
        raise ValueError(f"unknown channel {name!r} (bands A/B/E/F/R, numbers 1-8)")
    return float(ANALOG_BANDS[band][int(num) - 1])


def wifi_channel_mhz(ch: int) -> float:
    """IEEE 802.11 channel centre: 2.4 GHz 2407 + 5 ch MHz (ch 14: 2484), 5 GHz 5000 + 5 ch MHz."""
    if ch == 14:
        return 2484.0
    return float(2407 + 5 * ch if ch <= 13 else 5000 + 5 * ch)


# Log-distance path loss (Rappaport, Wireless Communications, 2nd ed., 4.9.1), the one model the
# simulator draws with and the localiser inverts:
#     PL(d) = FSPL(d0, f) + 10 n log10(d / d0),  FSPL(d0, f) = 20 log10(4 pi d0 f / c)
C = 299_792_458.0


def fspl_db(d_m, f_hz):
    """Free-space path loss (Friis) in dB."""
    return 20 * np.log10(4 * np.pi * np.asarray(d_m) * np.asarray(f_hz) / C)


def path_loss_db(d_m, f_hz, exponent, d0_m=1.0):
    """Log-distance path loss; distances below d0 are taken as d0 (near field is not modelled)."""
    d = np.maximum(np.asarray(d_m, dtype=float), d0_m)
    return fspl_db(d0_m, f_hz) + 10 * exponent * np.log10(d / d0_m)
