"""Link-family classification of tracks by explainable rules (docs/detection.md, "Classifier").

Each rule reads the per-track features of straja.detect.tracks.features and the RF facts of
docs (shared reference rf-links.md): bands, channel plans, bandwidths, hop behaviour. The first
rule that holds names the family; its confidence is the rule's specificity (how rarely another
family passes it) times the evidence n / (n + EVIDENCE_BURSTS) of n bursts.
"""
from __future__ import annotations

import numpy as np

FAMILIES = ("analog_fm_video", "ofdm_video", "lora_fhss", "gfsk_fhss", "wifi", "bluetooth",
            "ble", "lorawan", "unknown")
DRONE_FAMILIES = frozenset(FAMILIES[:4])

EVIDENCE_BURSTS = 5.0
WIDE_KHZ = 6_000.0            # wider: video or Wi-Fi; narrower: control links, Bluetooth, LoRa
CONTINUOUS_DUTY = 0.6         # video is on while armed; Wi-Fi and DroneID are bursty
ANALOG_PEAK_DB = 2.0          # FM video's spectrum peaks at the carrier; OFDM is flat-topped
ANALOG_PLAN_KHZ = 3_000.0     # analog video sits on the A/B/E/F/R plan
WIFI_BW_KHZ = (14_000.0, 26_000.0)
BLE_ADV_KHZ = (2_402_000.0, 2_426_000.0, 2_480_000.0)
BLE_TOL_KHZ = 2_000.0
BLE_MAX_CHANNELS = 9          # 3 advertising channels, each read as up to 3 bins wide
HOP_MIN_CHANNELS = 4          # fewer distinct channels: not a hopper
HOP_MIN_BURSTS = 24           # evidence before naming a control link: the CV of 23 Poisson
                              # intervals is 0.94 +- 0.17, under 0.5 with p ~ 2e-4
HOP_MAX_CV = 0.5              # a control link sends at a fixed packet rate; noise alarms and
                              # random traffic are Poisson (interval CV = 1)
BT_MIN_CHANNELS = 20          # classic Bluetooth: 79 channels, a new one every 625 us slot
BT_MAX_DWELL_US = 700.0
ELRS_MAX_HOP_FRACTION = 0.6   # ELRS hops every 4 (or 2) packets; GFSK links hop every packet
LORAWAN_MIN_INTERVAL_US = 500_000.0  # LoRaWAN / Meshtastic: seconds between uplinks

# 5.8 GHz analog video channel plan, bands A, B, E, F, R (MHz)
ANALOG_PLAN_MHZ = np.array(sorted({
    5865, 5845, 5825, 5805, 5785, 5765, 5745, 5725, 5733, 5752, 5771, 5790, 5809, 5828, 5847,
    5866, 5705, 5685, 5665, 5645, 5885, 5905, 5925, 5945, 5740, 5760, 5780, 5800, 5820, 5840,
    5860, 5880, 5658, 5695, 5732, 5769, 5806, 5843, 5880, 5917}))

SPECIFICITY = {"analog_fm_video": 0.85, "ofdm_video": 0.7, "lora_fhss": 0.75, "gfsk_fhss": 0.6,
               "wifi": 0.7, "bluetooth": 0.6, "ble": 0.9, "lorawan": 0.6, "unknown": 0.5}


def band(centre_khz: float) -> str:
    if centre_khz < 1_000_000:
        return "subghz"
    if 2_400_000 <= centre_khz <= 2_500_000:
        return "2g4"
    if 5_150_000 <= centre_khz <= 5_950_000:
        return "5g8"
    return "other"


def classify_one(f) -> tuple[str, float, str]:
    """(family, confidence, reason) of one FEATURES record."""
    family, reason = _rule(f)
    n = float(f["n_bursts"])
    return family, SPECIFICITY[family] * n / (n + EVIDENCE_BURSTS), reason


def _rule(f) -> tuple[str, str]:
    where = band(f["centre_khz"])
    bw, duty, n_ch = f["bandwidth_khz"], f["duty"], int(f["n_channels"])
    if bw >= WIDE_KHZ:
        if duty >= CONTINUOUS_DUTY and where in ("2g4", "5g8"):
            off_plan = np.min(np.abs(ANALOG_PLAN_MHZ * 1000.0 - f["centre_khz"]))
            if f["centre_db"] >= ANALOG_PEAK_DB and off_plan <= ANALOG_PLAN_KHZ:
                return "analog_fm_video", f"continuous, peaked spectrum, on the 5.8 GHz plan ({off_plan:.0f} kHz off)"
            return "ofdm_video", f"continuous {bw / 1000:.0f} MHz, flat-topped (centre {f['centre_db']:.1f} dB over mean)"
        if WIFI_BW_KHZ[0] <= bw <= WIFI_BW_KHZ[1] and where in ("2g4", "5g8"):
            return "wifi", f"bursty {bw / 1000:.0f} MHz channel (duty {duty:.2f})"
        return "unknown", f"wide ({bw / 1000:.0f} MHz) but neither continuous nor Wi-Fi-like"
    if where == "2g4" and n_ch <= BLE_MAX_CHANNELS and _on_ble_adv(f):
        return "ble", "narrow, only on BLE advertising channels 37/38/39"
    hop = f["hop_fraction"]
    if n_ch >= HOP_MIN_CHANNELS and where in ("2g4", "subghz"):
        if where == "2g4" and n_ch >= BT_MIN_CHANNELS and f["dwell_us"] <= BT_MAX_DWELL_US and hop > ELRS_MAX_HOP_FRACTION:
            return "bluetooth", f"{n_ch} channels, short dwell {f['dwell_us']:.0f} us, hop every slot"
        if where == "subghz" and f["interval_us"] >= LORAWAN_MIN_INTERVAL_US:
            return "lorawan", f"sub-GHz, {n_ch} channels, {f['interval_us'] / 1e6:.1f} s between bursts"
        if f["n_bursts"] < HOP_MIN_BURSTS or not f["interval_cv"] <= HOP_MAX_CV:
            return "unknown", f"hopping over {n_ch} channels, but irregular (CV {f['interval_cv']:.2f})"
        if hop <= ELRS_MAX_HOP_FRACTION:
            return "lora_fhss", f"{n_ch} channels, hops on {hop:.2f} of bursts (ELRS: every 4th or 2nd)"
        return "gfsk_fhss", f"{n_ch} channels, hops on {hop:.2f} of bursts (every packet)"
    if where == "subghz" and f["interval_us"] >= LORAWAN_MIN_INTERVAL_US:
        return "lorawan", f"sub-GHz, few channels ({n_ch}), sparse bursts"
    return "unknown", f"narrow, {n_ch} channels in band {where}"


def _on_ble_adv(f) -> bool:
    adv = np.array(BLE_ADV_KHZ)
    lowest, highest = f["centre_khz"] - f["spread_khz"] / 2, f["centre_khz"] + f["spread_khz"] / 2
    return bool(np.min(np.abs(adv - lowest)) <= BLE_TOL_KHZ
                and np.min(np.abs(adv - highest)) <= BLE_TOL_KHZ)


CLASSES = np.dtype([("track_id", "i8"), ("family", "U16"), ("confidence", "f8"),
                    ("drone", "?"), ("reason", "U120")])


def classify(feats: np.ndarray) -> np.ndarray:
    """Family, confidence, drone flag and reason of every track (CLASSES dtype)."""
    out = np.empty(feats.size, CLASSES)
    for i, f in enumerate(feats):
        family, conf, reason = classify_one(f)
        out[i] = (f["track_id"], family, conf, family in DRONE_FAMILIES, reason)
    return out
