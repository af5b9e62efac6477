"""Link-family classification of tracks by explainable rules (docs/detection.md, "Classifier").

Each rule reads the per-track features of straja.detect.tracks.features and the RF facts of
docs (shared reference rf-links.md): bands, channel plans, bandwidths, hop behaviour. The first
rule that holds names the family; its confidence is the rule's specificity (how rarely another
family passes it) times the evidence n / (n + EVIDENCE_BURSTS) of n bursts.
"""
from __future__ import annotations

import bisect
import math
from typing import NamedTuple

import numpy as np

from straja import rf
from straja.detect.hoppers import MIN_SPAN_KHZ

FAMILIES = ("analog_fm_video", "ofdm_video", "lora_fhss", "gfsk_fhss", "wifi", "bluetooth",
            "ble", "lorawan", "unknown")
DRONE_FAMILIES = frozenset(FAMILIES[:4])

EVIDENCE_BURSTS = 5.0
WIDE_KHZ = 6_000.0            # wider: video or Wi-Fi; narrower: control links, Bluetooth, LoRa
CONTINUOUS_DUTY = 0.6         # video is on while armed; Wi-Fi and DroneID are bursty
MAX_MISSED_SWEEPS = 0.1       # a scanner sees video in every sweep; Wi-Fi, even a busy access
                              # point, is missed in some (mean missed sweeps per burst gap: a
                              # weak 80 MHz AP at load 0.9 is missed in ~1 sweep of 5, measured)
STEADY_MIN_BURSTS = 4         # a bursty emitter seen in a share q of sweeps looks steady for k
                              # sweeps in a row with p = q^(k-1): 3 % for a 5 GHz access point
                              # at q = 0.32 (measured, urban scene); video is in every sweep
STEADY_RUN_CHANCE = 0.32 ** (STEADY_MIN_BURSTS - 1)  # ...the odds it takes of a bursty run
STEADY_SPREAD = 0.5           # video stays on its channel (centres within half its width,
                              # plus a scan step where it is lit over more than one: its edge
                              # bins come and go near the floor, each moving the centre half a
                              # step, so a weak 40 MHz OFDM channel at a 20 MHz step reads
                              # centres 30 MHz apart, ocusync_40_straddling_and_analog_r2; only
                              # a weak one (WEAK_EXCESS_DB: a strong camera's centres a step
                              # apart are two emitters, analog_camera_fixed_background); not
                              # for a piece cut from a wider run, cut_share: an 80 MHz access
                              # point's pieces move as much, wifi_5ghz_149_165_background);
                              # Wi-Fi frames caught by a scanner light different parts of theirs
STEADY_MAX_SD_DB = 2.5        # reading-to-reading scatter of video: a video channel read whole
                              # averages the fading across its width (frequency-selective: ~1 dB
                              # even without line of sight, docs/scenes.md) and a drone's motion
                              # moves its level ~1 dB a sweep; an access point's readings swing
                              # with its traffic (frames filling part of a read) and multipath
                              # (measured 4-6 dB for a strong one on the 5 GHz busy scene): a
                              # level scattering more is not video...
STEADY_EARLY_SD_DB = 1.5      # ...and over fewer than 2 STEADY_MIN_BURSTS readings, one scattering
                              # more than this: the scatter of 3 changes is a rough estimate
                              # (chi-square, 3 dof): an access point scattering 5 dB reads under
                              # 2.5 dB with p ~ 0.14, under 1.5 dB with p ~ 0.035; video ~1 dB
                              # passes with p ~ 0.9
WEAK_EXCESS_DB = 4.5          # a reading this little over the noise: the emitter's swings are
                              # compressed (below) and the readings under the threshold are not
                              # seen, so a weak access point hot in 4 sweeps running can read
                              # steady: weak tracks need twice STEADY_MIN_BURSTS where their
                              # channel was busy before their streak, or they were cut from a
                              # wider run (BUSY_BEFORE)
SWITCH_ON_BURSTS = 4 * STEADY_MIN_BURSTS  # a weak track lit over more than one scan channel
                              # with its channel's past unknown (from switch-on): a weak view of
                              # a busy 40/80 MHz access point is missed in ~1 sweep of 5
                              # (MAX_MISSED_SWEEPS) and lit in parts of its channel in turn, so
                              # it runs k sweeps hot and held with p ~ 0.8^(k-1): 0.21 over 8
                              # (3 seeds of 10 of wifi_5ghz_149_165_background named it video
                              # at n1), 0.035 over 16, the odds STEADY_MIN_BURSTS takes of a
                              # 5 GHz access point at q = 0.32 (0.32^3); its level over 8 is no
                              # tell: near the floor a part-filled read moves the reading as
                              # little as video's fading
BUSY_BEFORE = 0.05            # hot in this share of sweeps before the streak (busy_before): a
                              # bursty emitter lighting its channel again, not a newcomer (a
                              # quiet channel's share is the cell pfa; unknown after boot: NaN);
                              # beside a cut in this share (cut_share): a piece of a wider
                              # emitter (a wide access point's channel), not one on its own
STREAK_SD_SHARE = 0.5         # a channel's streak (classify._steady) overrides its track's
                              # bursty past: its scatter must be half that allowed (an access
                              # point ramping over 4 sweeps read 1.4 dB, video on an access
                              # point's channel 0.3-0.6 dB; dji_ofdm_on_urban_24ghz, measured)
STREAK_CHANCE = BUSY_BEFORE ** STEADY_MIN_BURSTS  # ...and, where that past was an emitter
                              # swinging in level, the streak must be as unlikely a run of that
                              # emitter's hot sweeps (busy_before ** streak: frames from one sweep
                              # to the next are independent) as STEADY_MIN_BURSTS sweeps on a
                              # channel quiet before (6e-6): an access point lighting its channel
                              # in 0.81 of the sweeps runs 4 hot at 0.5 dB with p ~ 0.4 and was
                              # named analog (ofdm_5865_and_analog_r8_together, n3 at 30.4 s);
                              # 0.3 busy needs 10 sweeps, 0.81 needs 58
VIDEO_MAX_KHZ = 40_000.0      # the widest video channel (DJI OcuSync 10/20/40 MHz, FPV 20 MHz):
                              # a steady emitter lit wider (+ a scan step) is not one video...
SIDE_BY_SIDE_BURSTS = 8       # ...but video carriers side by side, once steady this long: a busy
                              # 40/80 MHz access point is missed in ~1 sweep of 5 (measured)
SIDE_BY_SIDE_SD_SHARE = 0.6   # ...at a level held as one video channel's over its first sweeps
                              # (STEADY_EARLY_SD_DB: 1.5 dB): carriers side by side each average
                              # their fading over their width (0.3-0.6 dB a sweep, measured),
                              # while a busy 80 MHz access point read whole swings with its
                              # traffic (ocusync_40_beside_80mhz_ap seed 3153, the node beside
                              # it: 72 MHz, 8 sweeps at 2.0 dB, named OFDM at 3.3 s before)
ANALOG_PEAK_DB = 2.0          # FM video's spectrum peaks at the carrier; OFDM is flat-topped
ANALOG_PLAN_KHZ = 3_000.0     # analog video sits on the A/B/E/F/R plan (+ half a scan step)
FLAT_MIN_BINS = 2.2           # a flat top needs bursts of 3 bins to be seen (1-2 show no shape):
                              # a track lit over 2.2 bins on average has most of its bursts 3 wide
                              # (40 MHz OFDM at a 20 MHz step: shoulders at -3 dB, centre_db
                              # <= 1.8 dB; FM video lights a third bin only with its carrier on a
                              # scan channel, its skirts ~23 dB down: centre_db ~4.7 dB)
BALANCED_DB = 2.0             # a channel lit equally (the weaker within this) over the two scan
                              # channels it straddles: a flat top at least as wide as a step
                              # centred within a few MHz of their midpoint (OFDM 20 MHz within
                              # 2.3 MHz, 40 MHz within 7.4 MHz at a 20 MHz step), or a peaked
                              # FM carrier within ~0.3 of its spectrum's sigma of it (1.1 MHz for
                              # 20 MHz of FM, 2.2 MHz for 40 MHz): off the analog plan there
                              # (ANALOG_PLAN_KHZ), not FM video
WIFI_BW_KHZ = (14_000.0, 26_000.0)
# The channel plans of straja.rf as arrays (MHz), and BLE advertising channels in kHz.
ANALOG_PLAN_MHZ = np.array(rf.ANALOG_PLAN_MHZ, float)
WIFI_5G_MHZ = np.array(sorted(rf.wifi_channel_mhz(n) for n in rf.WIFI_5G_CHANNELS), float)
# ...and in kHz as Python numbers (_off: a few times a track and sweep)
ANALOG_PLAN_CHANNELS_KHZ = tuple(sorted((ANALOG_PLAN_MHZ * 1000.0).tolist()))  # (_off)
WIFI_5G_CHANNELS_KHZ = tuple(sorted((WIFI_5G_MHZ * 1000.0).tolist()))  # (_off)
BLE_ADV_KHZ = tuple(1000.0 * f for f in rf.BLE_ADV_MHZ.values())
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
# A scanner's hits on a clocked link fall within its airtime's share of the packet period
# (Crossfire 150 Hz: a third of 6.667 ms, R ~ 0.83), a site's residents' at random phases, Z
# exponential: at one of the tracker's 6 periods with probability 6 e^-6 = 1.5 % a look
# (straja._tracks CLOCK_PERIODS_S; docs/measured/res101.md, res105.md). Z >= 3 lets the
# residents flicker through (res101: 5 -> 15 false alerts a node-hour)
CLOCK_MIN_Z = 6.0
# Scanned hoppers (_scanned_hopper). LoRaWAN and Meshtastic use <= 8 channels within 1.6 MHz; ELRS
# spreads over 4.3-6.3 MHz (EU868: 13 channels), 23-26 MHz (915) and 80 MHz (2.4), Crossfire over
# 26 MHz; a 2.4 GHz Wi-Fi channel's held frame pieces stay within its 20 or 40 MHz (802.11n HT40),
# as the band hopper's hits must spread over more than (hoppers.MIN_SPAN_KHZ; the hits' centres)
HOP_MIN_SPREAD_KHZ = {"subghz": 2_500.0, "2g4": MIN_SPAN_KHZ}
PERSISTENT_MIN_CHANNELS = 3   # held hits (revisit plan) are never noise nor Bluetooth: 3 will do
PERSISTENT_DISTINCT = 0.5     # a hopper's held hits land on new channels; Wi-Fi's on its few busy ones
# ...and anywhere in the 2.4 GHz ISM band (ELRS 2.4: 80 channels over 2400-2480 MHz): n of them
# all within s of it has probability n x^(n-1) - (n-1) x^n, x = s / band (the range of n uniform
# draws). A Wi-Fi channel's held frames, cut into narrow pieces by frequency-selective fading,
# stay within its 20/40 MHz however many come (frsky_on_urban_24ghz: an access point's 122 held
# pieces within 27 MHz named ELRS at 116 s); under this probability they are not a band's hops
ISM_2G4_KHZ = 1000.0 * (rf.ISM_2G4_MHZ[1] - rf.ISM_2G4_MHZ[0])
BAND_HOP_MIN_P = 1e-3
HOP_MAX_BINS = 2.0            # a hop no wider than the filter (ELRS 2.4: LoRa 812 kHz, FLRC ~1 MHz)
                              # lights one scan channel, two when it falls between them (measured
                              # 1-1.2 on average, +10 and +35 dB); wider bursts are pieces of a
                              # wider frame (busy_24ghz_background: 3.75 at switch-on, named ELRS)
SCANNED_HOP_MIN_BURSTS = 8
# Band hoppers: share of hits held across the 4.2 ms revisit. ELRS 2.4 holds 0.7-0.8 of them; a
# link hopping every packet few: FrSky's 4.34 ms packet is still on air at the revisit when the
# first 250 us read began within 0.14 ms of its start or overlapped its start, (0.14 + 0.25) /
# (4.34 + 0.25) = 8.5 % of its hits (measured 0.08, frsky_alone); others under that. At 0.02 one
# held hit named FrSky ELRS. Decided at REPEAT_LLR like the repeats below.
HELD_P = {"lora": 0.7, "gfsk": 0.1}
RESOLVED_PERIOD_US = 2_000.0  # sweeps this often see every packet (ELRS 500 Hz: 2 ms): the
                              # interval rules hold; slower ones catch hops at random instants
# A hit on the same channel as the hit before, in the next sweep (the tracker counts a later
# return as a hop: a hop table's cycle, _tracks.STAY_WITHIN): ELRS 900 at 25 Hz stays 2 packets
# (80 ms) on a channel, so a 51 ms sweep sees it again ~31 % of the time; Crossfire hops every
# packet, and repeats only where two of its channels share a scan channel (~9 %; both measured with the
# evaluation's plan, tests/test_classify_scanned.py); a LoRa device's packet (0.1-1.5 s) is hit
# sweep after sweep (static: 0.8). Decided at 19:1 odds.
REPEAT_P = {"lora": 0.31, "gfsk": 0.09, "static": 0.8}
# A link's dwell is short (tracks.TrackerConfig.link_run_max_us: 80 ms at most), so its repeats
# come one at a time, a sweep apart; a run on one channel lasting longer is a fixed device's long
# packet (LoRaWAN SF9: 0.19 s, 3 sweeps; Meshtastic SF11: 0.4 s, 8) that a track gathered with a
# hopper's hits (an alarm system's 868 MHz hopper, a packet every 0.5 s: its channels give the
# span, the devices' packets the repeats). ELRS is not named by its repeats when those off such
# runs do not tell it and those hits are too few for a link (ELRS EU868 alone: 8 % of its repeats
# in such runs, two hops in a row on one scan channel, its repeat share 0.30 with them and 0.28
# without). A scanner hits an emitter in about its share of time on air (AIRTIME_MAX_PER_SWEEP):
# a short-range device's is at most 10 % (ETSI EN 300 220's sub-GHz duty limits: 0.1-10 %), a GFSK
# control link's a quarter and more (HIT_RATE); told apart at REPEAT_LLR. A link beside the fixed
# device (Crossfire among LoRaWAN devices) is judged as before
SRD_MAX_DUTY = 0.1
# Width and airtime (sub-GHz): ELRS 900 sends LoRa 500 kHz wide, wider than the SX126x's 467 kHz
# filter, so a hop is read at a level that changes little with its channel's offset from the scan
# channel, and its airtime fills 75-93 % of its packet interval (ExpressLRS air rates), so a sweep
# meets its hop set in most sweeps: measured 0.8-0.85 hits a sweep, level scatter 2.8-4.2 dB
# (elrs_868_alone at 200 Hz, elrs_915_alone at 100 Hz; Rician K = 9 dB fading alone scatters
# 2.3 dB). A GFSK link (Crossfire 150 Hz: 200 kHz, 2.2 ms of 6.7 ms) is read at levels that swing
# with that offset (12-15 dB) and in about a quarter of the sweeps (0.26, crossfire_alone); smart
# meters hop 25-200 kHz signals at a low duty, and several at several levels. At 200 Hz ELRS leaves
# a channel within a sweep (20 ms hops, 51 ms sweeps) and repeats like Crossfire: this tells it.
WIDE_HOP_MAX_SD_DB = 5.0      # steady: at most this scatter (line-of-sight fading plus the wide
                              # signal's offsets); Rayleigh fading (5.6 dB) falls to the repeats
WIDE_HOP_MIN_PER_SWEEP = 0.5  # hit in at least this share of sweeps: on air most of the time
# ...and the other way round: a hop set read well over the floor (its last reading
# VISIBLE_EXCESS_DB over the noise: under Rayleigh fading the threshold, ~1.5 dB, then misses at
# most ~30 % of its packets) yet hit in few sweeps is on air a small share of the time: GFSK
# packets (Crossfire 150 Hz: 2.2 ms of 6.7 ms, 200 kHz inside the 467 kHz filter, measured 0.12-0.21
# of sweeps at +10 dB, 0.26 on the scenes), not LoRa, whose airtime fills 75-93 % of the packet
# interval (ELRS 900 measured 0.5-0.8 at +10 dB; 0.85 x 0.7 of it seen at least). A sequential test
# of the hits per sweep (HIT_RATE, at REPEAT_LLR), since over its first 8-9 hits an ELRS link's
# mean interval can read 0.4 of the sweeps and a Crossfire link's 0.35 (measured, +10 dB trials).
# The repeats below do not tell them in time: a hop table whose cycle aliases with the sweep
# (Crossfire's 100 hops, 667 ms, against a 51 ms sweep) repeats its pairs of hits cycle after
# cycle (measured 13 of 44 hits, ELRS-like)
HIT_RATE = {"gfsk": 0.2, "lora": 0.6}
VISIBLE_EXCESS_DB = 6.0
# A link sends one packet at a time, on one channel, and a sweep reads each scan channel once:
# through the SX126x's 467 kHz filter at the default plan's 1 MHz step a hop (LoRa's 500 kHz at
# most) lights one scan channel, so a link on air a share d of the time is hit about d times a
# sweep, never more than once on average. A track hit more often gathers several emitters (a
# resident hot in every sweep and the link), whose hits its rate cannot tell apart
AIRTIME_MAX_PER_SWEEP = 1.0
# One transmitter at one level per node: a LoRa link's hits scatter by its fading (Rayleigh:
# 5.6 dB) and its channels' offsets from the scan channels (ELRS measured 2.8-4.2 dB, Rician);
# the channels of several LoRaWAN devices and smart meters that one track gathers, repeating like
# ELRS, come at their own levels (us915_dense_background: 15-17 dB, measured)
ONE_LINK_MAX_SD_DB = 10.0
REPEAT_LLR = math.log(19.0)



class Scan(NamedTuple):
    """How the spectrum was read: channel step, sweep start-to-start period and sweep duration
    of the front end (zeros: a receiver that resolves the spectrum and watches continuously);
    persistent: each reading is the lower of two readings of its channel a few dwells apart
    (SWEEP flag REVISIT), so only emitters that stayed on the channel between them show."""
    step_khz: float = 0.0
    period_us: float = 0.0
    sweep_us: float = 0.0
    persistent: bool = False


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


# A track lit over two adjacent scan channels (straja.detect.pipeline.Pipeline.straddle): their
# midpoint, and the weaker one's signal over the stronger's (dB, <= 0); NaN: not straddling
STRADDLE = np.dtype([("midpoint_khz", "f8"), ("balance_db", "f8")])
NO_STRADDLE = np.full((), np.nan, STRADDLE)


def classify_one(f, scan: Scan = Scan(), straddle=NO_STRADDLE) -> tuple[str, float, str]:
    """(family, confidence, reason) of one FEATURES record read by `scan`, with its STRADDLE
    record when known."""
    family, reason = _rule(f, scan, straddle)
    n = float(f["n_bursts"])
    return family, SPECIFICITY[family] * n / (n + EVIDENCE_BURSTS), reason


def _off(plan_khz: tuple, centre_khz: float) -> float:
    """Distance from centre_khz to the nearest channel of plan_khz, sorted (NaN for a NaN
    centre): one of the two channels around it, found by bisection (classified every sweep a
    video track takes a burst)."""
    at = bisect.bisect_left(plan_khz, centre_khz)
    if at == 0 or at == len(plan_khz):  # (a NaN centre bisects to 0: NaN)
        return abs(plan_khz[min(at, len(plan_khz) - 1)] - centre_khz)
    below, above = centre_khz - plan_khz[at - 1], plan_khz[at] - centre_khz
    return below if below <= above else above


def _steady(f, scan: Scan) -> bool:
    """Continuous, on one channel, at a steady level, over the track's whole life or over the
    current streak of hot sweeps of the channel it is on (`streak`, where the steadiness split
    runs): a streak is continuous and on one channel by itself, and an emitter that came on over
    a bursty one (video on an access point's channel, whose track began with the access point)
    shows its own readings there, not the access point's missed sweeps and swings before; nor,
    on a channel quiet before its streak, the runs merged with a neighbour's that widened the
    track's span of centres for good (dji_20_beside_40mhz_ap_157: 20 MHz video at 5745 MHz, a
    few runs merged with a 40 MHz access point's frames up to 5785 MHz, centres over 20 MHz for
    the rest of its life: Wi-Fi before). As that overrides the
    track's bursty past, a streak must be steadier (STREAK_SD_SHARE of the scatter allowed), not
    weak (WEAK_EXCESS_DB: its swings are compressed, its readings under the threshold unseen)
    and not a piece cut from a wider run (cut_share): the pieces of a busy 80 MHz access point
    run hot for 8 sweeps now and then (wifi_5ghz_149_165_background). Scanned: the gap between
    bursts is the time the front end spends elsewhere (period - sweep), plus a period per sweep
    missed; one burst shows nothing yet. Otherwise: on for most of the track's age. A streak no
    run of its channel's past could be (_continuous_streak) is steady at the scatter of a
    level with a bursty neighbour's frames on top."""
    # the streak outweighs a span of centres wider than one channel's, and cuts beside the
    # track's channels, only where it began on a channel quiet before (busy_before): an emitter
    # come on there, whose runs merged with a neighbour's now and then, or were cut from busy
    # neighbours' (analog_r4_on_five_20mhz_aps: R4 over a quiet bin between access points on
    # 149 and 157 at n3, its runs cut from theirs, 90 sweeps at 0.7 dB in their old tracks,
    # never named before); a channel lit now and then before (a strong camera's skirt between
    # two cameras joined in one track, busy_before 0.45-0.6; a busy 80 MHz access point's
    # pieces) or since switch-on (unknown: the track's own life says as much) does not
    if (f["excess_db"] >= WEAK_EXCESS_DB
            and (f["busy_before"] < BUSY_BEFORE
                 or (not f["cut_share"] >= BUSY_BEFORE
                     and f["spread_khz"] <= STEADY_SPREAD * f["bandwidth_khz"]
                     and _streak_unlikely(f)))
            and _steady_level(f["streak"], f["streak_sd_db"], f, STREAK_SD_SHARE)):
        return True
    if _continuous_streak(f):
        return True
    edges_khz = (scan.step_khz if f["bandwidth_khz"] > scan.step_khz
                 and not f["excess_db"] >= WEAK_EXCESS_DB
                 and not f["cut_share"] >= BUSY_BEFORE
                 and _core_held(f, scan.step_khz) else 0.0)
    if f["spread_khz"] > STEADY_SPREAD * f["bandwidth_khz"] + edges_khz:
        return False
    if not _steady_level(f["n_bursts"], f["level_sd_db"], f,
                         wide_view=f["bandwidth_khz"] > scan.step_khz > 0):
        return False
    if (f["busy_before"] != f["busy_before"] and f["excess_db"] >= WEAK_EXCESS_DB
            and f["streak"] < f["n_bursts"]
            and (not _channel_held(f) or _own_sd(f["streak_sd_db"], f["excess_db"])
                 > STREAK_SD_SHARE * STEADY_MAX_SD_DB)):
        # from switch-on (its channel's past unknown where the split keeps it), a strong track
        # whose channel (its last burst's) did not carry all its readings, where that channel
        # went cold in its life or read a streak swinging more than a streak is held to: a
        # strong video lights its channel in every sweep since it came on, at its own steady
        # level (0.2-0.9 dB, det45), where an access point's start-up run moves between its
        # channel's bins and gaps, its frames filling a changing share of each read
        # (suburban4_apartments_5ghz_bg seed 2, n2 at 1.63 s: 4 readings at 21 dB over the
        # noise, its channel hot the last 2; suburban4_5ghz_unii2_slow_bg seed 2, n4: a 40 MHz
        # access point read 60 MHz wide, 4 readings, its channel hot the last 2;
        # wifi_5ghz_149_165_background seed 4, n1 at 2.86 s: the 80 MHz one read 55 MHz wide,
        # 4 readings, its channel's last 3 at 2.8 dB; det71)
        return False
    if _unsteady_channel(f):
        return False
    if scan.period_us <= 0:
        return f["duty"] >= CONTINUOUS_DUTY
    interval = f["interval_us"]
    if not f["busy_before"] < BUSY_BEFORE:
        # a track on a channel busy before: the sweeps it was lost for count as missed (its
        # mean interval skips them), or a bursty emitter's runs joined across its gaps read as
        # one steady run (wifi_5ghz_149_165_background seed 305, n1 at 24.5 s: 3 readings, 9
        # sweeps lost, 5 more, at 5805 MHz, a channel hot in 0.69 of the sweeps); strong too
        # (suburban4_5ghz_ap20s_fast_bg seed 2, n4 at 135.5 s: 9 readings in 20 sweeps at 6.3
        # dB over the noise, a channel hot 0.50 before; det71): a strong video is in every
        # sweep, and one lost and back is named by its channel's streak. And from switch-on,
        # its channel's past unknown: only a channel known quiet before spares a track lost and
        # back (the same emitter fading at the threshold); with nothing known, the track's own
        # life is the record (wifi87_harbour_aps_bg seed 2, n1 at 5.01 s: the 80 MHz access
        # point on 149 at load 0.3, 4 readings in 13 sweeps at 0.41 dB, its level unknown; wifi87)
        interval = max(interval, (f["age_us"] - f["dwell_us"]) / (f["n_bursts"] - 1))
    gap = interval - f["dwell_us"] - (scan.period_us - scan.sweep_us)
    return not gap > MAX_MISSED_SWEEPS * scan.period_us


def _unsteady_channel(f) -> bool:
    """Whether a track made in the middle of its channel's streak of hot sweeps (the streak
    longer than its readings: the earlier ones given to another track) sits on a channel whose
    streak read a level swinging more (as its emitter's own, _own_sd) than a streak is held to
    (STREAK_SD_SHARE of STEADY_MAX_SD_DB), while that streak is a run the channel's past could
    give (_likely_run). Its own few readings are then a sample of its channel's run, which is
    the node's record of that channel: a busy access point's channel split into pieces made
    again mid-run. From switch-on (wifi_5ghz_149_165_background seeds 303, 305, 402, n1 at 100 m
    from the 80 MHz access point at load 0.9, and a copy with it at 100 m west at load 0.85,
    seed 523: 4-5 readings at 0.7-1.2 dB, their channel's 5-9 at 1.3-1.9 dB, 1.35-2.8 dB as the
    emitter's own, named video at 2.9-5.7 s; det45) and later, its past known busy
    (ocusync20_5765_in_80mhz_ap, n1 at 15.9 s: one bin at 5805 MHz, 4 readings at 1.0 dB, 13.5
    dB over the noise, its channel hot 22 sweeps at 4.2 dB after 0.75 of the sweeps before;
    det54). Video is continuous at one level within fading: a video's channel reads its streak
    as steady as its track (the 14 5.8 GHz scenes of the catalogue and variants with video on
    from switch-on: a video track made mid-streak reads it at 0.2-0.4 dB, 0.64 dB at most as
    its own; every video's channel at 0.2-0.9 dB), while an access point's channel at load 0.9,
    hot in most sweeps, is filled by its stations' frames or a beacon in a share of each read
    that changes from sweep to sweep. With the past known, only where the run before the track
    is longer than the track's own readings: a video come on inside a busy access point's
    channel, its track made a sweep or two into the streak the access point began, reads that
    streak swinging by the step from the access point's level to its own (analog_f4_on_5ghz_wifi,
    n1: F4 inside the 80 MHz access point on 149, 4 readings at 0.5 dB in a streak of 6 at 4.2
    dB on a channel busy 0.54 before), its own readings most of the streak and as steady as a
    streak is held to (STREAK_SD_SHARE): an access point's readings, 1.1 dB over 4 at 13 dB
    over the noise, are no video's own (suburban4_5ghz_ap20s_fast_bg, n2 at 65.3 s: the 20
    MHz access point on 161 at load 0.9, 430 m away, in a streak of 6 at 3.6 dB on a channel
    busy 0.44 before; det71); a weak track
    (under WEAK_EXCESS_DB) is no such step over the access point, so its channel's streak is
    judged however much of it the track holds (suburban4_apartments_5ghz_bg seed 3, n1: 8
    readings under the noise estimate in a streak of 11 at 1.29 dB on a channel busy 0.70
    before, inside two access points 420-450 m away, named analog; det66).
    A track begun with its channel's streak, on a channel known busy before it (busy_before at
    least BUSY_BEFORE), is that run alone, with no life of its own to tell it from a run of the
    bursty emitter there (hot k sweeps running with odds busy_before ** (k - 1): 0.13 over 4 at
    0.51): while those odds are over STEADY_RUN_CHANCE, its readings are held as a streak's (STREAK_SD_SHARE: an access point ramping over 4
    sweeps read 1.4 dB, video on an access point's channel 0.3-0.6 dB; ocusync20_5780_in_80mhz_ap,
    n3 at 9.4 s: the 20 MHz access point on 165 at load 0.3, a new track on a channel hot 0.51
    before, 4 readings at 1.3 dB, 18.9 dB over the noise, named analog; det54)."""
    n, streak, before = f["n_bursts"], f["streak"], f["busy_before"]
    if not (n <= streak and _likely_run(f)):
        return False
    if n == streak:
        return bool(before >= BUSY_BEFORE and not _run_unlikely(before, n - 1, STEADY_RUN_CHANCE)
                    and not _steady_level(streak, f["streak_sd_db"], f, STREAK_SD_SHARE))
    # (a strong track's readings most of the streak: the step up from an access point's level
    # to a video's own only where those readings are as steady as a streak is held to)
    return bool((before != before or streak - n > n or not f["excess_db"] >= WEAK_EXCESS_DB
                 or not _steady_level(n, f["level_sd_db"], f, STREAK_SD_SHARE))
                and _own_sd(f["streak_sd_db"], f["excess_db"]) > STREAK_SD_SHARE * STEADY_MAX_SD_DB)


def _likely_run(f) -> bool:
    """Whether the channel's streak is a run its past could give: with that past unknown
    (busy_before NaN, switch-on) shorter than SWITCH_ON_BURSTS, the run after which a weak wide
    view from switch-on is taken for video (a channel hot in every sweep since switch-on, a busy
    access point's skirt under a video, keeps its past unknown: without the bound a video whose
    readings carry its frames, ~2 dB, test_gateway_profiling's model, would be held for as long
    as it is on); known, a run of that share of hot sweeps more likely than STREAK_CHANCE
    (_run_unlikely; a channel quiet before, under BUSY_BEFORE, never is past STEADY_MIN_BURSTS
    sweeps)."""
    before = f["busy_before"]
    if before != before:
        return f["streak"] < SWITCH_ON_BURSTS
    return not _run_unlikely(before, f["streak"])


def _without_streak(f) -> dict:
    """A track's features with its channel's streak's readings unknown (`_steady` then reads
    its own life: the streak's length still says whether its centre channel held)."""
    names = f.keys() if isinstance(f, dict) else f.dtype.names
    return {name: math.nan if name == "streak_sd_db" else f[name] for name in names}


def _streak_unlikely(f, chance: float = STREAK_CHANCE) -> bool:
    """Whether the channel's streak is unlikely (`chance`) to be a run of hot sweeps of the
    emitter the track was before it: judged only where that past was bursty (_bursty_past), as
    a steady emitter that misses a sweep now and then (weak video under fading) lit the
    channel's past itself, and its new streak is the same emitter back, not a chance run."""
    if not _bursty_past(f):
        return True
    return _run_unlikely(f["busy_before"], f["streak"], chance)


def _run_unlikely(before: float, streak: float, chance: float = STREAK_CHANCE) -> bool:
    """Whether `streak` hot sweeps running are a run a channel hot in a share `before` of the
    sweeps gives with odds at most `chance` (before ** streak: an access point's frames are
    independent from one sweep to the next)."""
    return before < 1 and (before <= 0 or streak * math.log(before) <= math.log(chance))


def _bursty_past(f) -> bool:
    """Whether the channel was busy before its streak (busy_before) and the track's readings
    over its life swing more than video's (its own scatter over STEADY_MAX_SD_DB): an access
    point's frames."""
    return bool(f["busy_before"] >= BUSY_BEFORE
                and _own_sd(f["level_sd_db"], f["excess_db"]) > STEADY_MAX_SD_DB)


def _continuous_streak(f) -> bool:
    """Whether the channel's streak is a continuous emitter inside a bursty one's channel
    (_bursty_past): a run of hot sweeps as unlikely from that past (busy_before ** streak,
    frames from one sweep to the next independent) as 2 STEADY_MIN_BURSTS sweeps on a channel
    quiet before (STREAK_CHANCE ** 2: the evidence a weak track needs) is no access point's
    run, whatever rides on it: an access point sharing the channel adds its frames to the
    emitter's reading in the sweeps it sends (ocusync20_5785_in_wifi, n2: OcuSync inside a 40
    MHz access point at load 0.5, 102-178 sweeps hot on a channel busy 0.68 before, the
    streak's readings scattering 1.6-2.0 dB: +2 to +3 dB in half the sweeps), and lights the
    track's channels beside it (its span of centres, its cuts). So its readings are held to the
    full STEADY_MAX_SD_DB (an access point's own swing 4-6 dB), not STREAK_SD_SHARE of it;
    strong only (WEAK_EXCESS_DB: a weak one's swings are compressed). 0.68 busy needs 63
    sweeps, 0.3 needs 20. Only a streak that carries such frames (scattering over the
    STREAK_SD_SHARE a clean one is held to): a clean streak beside cuts or a wide span has no
    access point on its channel to explain them, and _steady's span and cut tests stand
    (ocusync_10_beside_busy_5ghz_ap: its video's clean streak, 0.4-0.6 dB, beside cuts, named
    from one bin before a profile could tell it); nor where the track's life is steady (its
    channel's past the same emitter flickering at the threshold: a camera's skirt)."""
    sd = f["streak_sd_db"]
    return bool(f["excess_db"] >= WEAK_EXCESS_DB and _bursty_past(f)
                and _streak_unlikely(f, STREAK_CHANCE ** 2)
                and not _steady_level(f["streak"], sd, f, STREAK_SD_SHARE)
                and _steady_level(f["streak"], sd, f))


def _own_sd(sd: float, excess_db: float) -> float:
    """A reading's scatter sd (dB) as its emitter's own: near the floor a reading (emitter +
    noise) moves by only s / (1 + s) of its emitter's change, s its power over the noise (from
    excess_db; unknown, or at or under the noise mean: sd as read)."""
    s = _pow10(excess_db / 10) - 1 if excess_db == excess_db else 0.0
    return sd * (1 + s) / s if s > 0 else sd


def _core_held(f, step_khz: float) -> bool:
    """Whether a track lit over 2 scan channels or more on average kept the channel it is on
    (its last burst's) hot over its recent bursts (its streak, all but one of the last 2
    STEADY_MIN_BURSTS, or of all if fewer): a weak video channel's edge bins come and go around
    a centre lit in every sweep; a weak view of a busy 40/80 MHz access point lights parts of
    its channel in turn (ocusync_40_beside_80mhz_ap seed 153, node n3: 8 bursts over 45 MHz,
    centres over 30 MHz, its centre channel hot for the last 3 sweeps only;
    ocusync_40_straddling_and_analog_r2's weak OcuSync: 56 sweeps of 57). A narrower one has no
    edges to come and go: one bin, two where it straddles them (dji_20_beside_40mhz_ap_157, n3:
    one bin, 1.1 on average, its span of centres 20 MHz from runs merged with an access
    point's frames beside it, which a scan step of edges allowed)."""
    return f["bandwidth_khz"] < 2 * step_khz or _channel_held(f)


def _channel_held(f) -> bool:
    """Whether the channel a track is on (its last burst's) was hot over the track's recent
    bursts: its streak all but one of the last 2 STEADY_MIN_BURSTS, or of all if fewer."""
    return f["streak"] >= min(f["n_bursts"], 2 * STEADY_MIN_BURSTS) - 1


def _steady_level(n, sd, f, share: float = 1.0, wide_view: bool = False) -> bool:
    """Whether n readings scattering sd dB (burst to burst) are a steady level: the reading
    changes by no more than a video channel's fading (STEADY_MAX_SD_DB; over the first few,
    whose scatter is a rough estimate, STEADY_EARLY_SD_DB; `share` of those), the emitter's own
    change: near the floor a reading (emitter + noise) moves by only s / (1 + s) of its
    emitter's change, s its power over the noise (from excess_db, when known), so a weak access
    point's swings read small. A weak track needs twice the readings (WEAK_EXCESS_DB) on a
    channel busy before (busy_before) or beside a cut (cut_share); lit over more than one scan
    channel (`wide_view`) with no history yet (busy_before unknown: a streak begun in the
    first sweeps after switch-on) and not known strong, SWITCH_ON_BURSTS: a weak view of a
    busy 40/80 MHz access point lights 2-3 of its channel's bins as a weak 40 MHz video does
    (ocusync_40_beside_80mhz_ap: node n3 read the 80 MHz access point 2.8 dB over the noise as
    45 MHz, 4 sweeps at 0.5 dB from switch-on, named OFDM at 1.6 s; wifi_5ghz_149_165_background
    seeds 301, 304, 305: n1's view of its 80 MHz access point, 7-8 sweeps at 3.6-4.7 dB,
    scattering 0.8-1.3 dB, named video at 2.5-8.6 s)."""
    before, cut = f["busy_before"], f["cut_share"] >= BUSY_BEFORE
    max_sd = share * (STEADY_EARLY_SD_DB if n < 2 * STEADY_MIN_BURSTS else STEADY_MAX_SD_DB)
    excess = f["excess_db"]
    # unknown (a track back from an off period keeps no level) is not known to be strong
    weak = not excess >= WEAK_EXCESS_DB
    # (excess is one reading, scattering sd: over the bound by less is not known strong)
    if wide_view and before != before and excess == excess and excess - sd < WEAK_EXCESS_DB:
        evidence = SWITCH_ON_BURSTS
    else:
        evidence = STEADY_MIN_BURSTS * (2 if weak and (before >= BUSY_BEFORE or cut) else 1)
    return n >= evidence and _own_sd(sd, excess) <= max_sd


def _wide(f, where: str, scan: Scan, straddle) -> tuple[str, str]:
    """Video (analog or OFDM), Wi-Fi or unknown, for a burst wider than WIDE_KHZ.

    A scanner stepping ~10 MHz sees 20 MHz video as 1-3 bins, its centre to +-step/2 only: a
    steady emitter 1-2 bins wide near the analog plan is analog (FM video is the common 5.8 GHz
    emitter, and OFDM's flat top cannot show in 2 bins); OFDM needs >= 3 flat bins. Steady
    (_steady): seen in (nearly) every sweep, on one channel, at a steady level; Wi-Fi, even a busy
    access point, is missed in some sweeps, lit in different parts of its channel, its level
    swinging with its traffic. Steady but wider than a video channel (a scan step more): video
    carriers side by side (a coarse scanner sees no dip between adjacent channels), or a strong
    one lit wider by its skirts, once steady over SIDE_BY_SIDE_BURSTS at a level held within
    SIDE_BY_SIDE_SD_SHARE of the scatter allowed, which a busy 40/80 MHz access point rarely is
    (named by shape as one video is); not yet telling before. Fewer bins lit equally over the
    two scan channels they straddle (`straddle`'s balance within BALANCED_DB) where no analog channel lies at their midpoint: a flat top there, OFDM (a
    peaked FM carrier lights two bins equally only within a few MHz of their midpoint)."""
    bw, duty, step_khz = f["bandwidth_khz"], f["duty"], scan.step_khz
    if where not in ("2g4", "5g8"):
        return "unknown", f"wide ({bw / 1000:.0f} MHz) outside the video and Wi-Fi bands"
    bins = bw / step_khz if step_khz > 0 else np.inf
    if _steady(f, scan):
        if bw > VIDEO_MAX_KHZ + step_khz and (
                f["n_bursts"] < SIDE_BY_SIDE_BURSTS
                or not _steady_level(f["n_bursts"], f["level_sd_db"], f, SIDE_BY_SIDE_SD_SHARE)):
            return "unknown", (f"continuous {bw / 1000:.0f} MHz, wider than a video channel: a busy "
                               f"40/80 MHz access point or video side by side")
        off_plan = _off(ANALOG_PLAN_CHANNELS_KHZ, f["centre_khz"])
        on_plan = where == "5g8" and off_plan <= ANALOG_PLAN_KHZ + step_khz / 2
        if bins >= FLAT_MIN_BINS and not _steady(_without_streak(f), scan):
            # steady by its channel's streak alone: its width and peak over its life are also
            # the runs of the emitters it took before or beside that streak (an access point's)
            bins = np.nan
        balance = float(straddle["balance_db"])
        if (where == "5g8" and not bins >= FLAT_MIN_BINS and balance >= -BALANCED_DB
                and (midpoint_off := _off(ANALOG_PLAN_CHANNELS_KHZ,
                                          float(straddle["midpoint_khz"]))) > ANALOG_PLAN_KHZ):
            return "ofdm_video", (f"continuous, lit equally ({balance:.1f} dB) over two scan "
                                  f"channels, {midpoint_off / 1000:.0f} MHz "
                                  f"from the analog plan at their midpoint: flat-topped")
        if on_plan and (not bins >= FLAT_MIN_BINS or f["centre_db"] >= ANALOG_PEAK_DB):
            shape = ("peaked spectrum" if bins >= FLAT_MIN_BINS else f"{bins:.1f} bins wide"
                     if bins == bins else "one channel's streak, its shape unknown")
            return "analog_fm_video", f"continuous, {shape}, on the 5.8 GHz plan ({off_plan:.0f} kHz off)"
        if bins >= FLAT_MIN_BINS:
            return "ofdm_video", f"continuous {bw / 1000:.0f} MHz, flat-topped (centre {f['centre_db']:.1f} dB over mean)"
        return "unknown", f"continuous {bw / 1000:.0f} MHz, no shape read, off the analog plan"
    on_raster = (where == "5g8" and _off(WIFI_5G_CHANNELS_KHZ, f["centre_khz"])
                 <= ANALOG_PLAN_KHZ + step_khz / 2)
    if on_raster or where == "2g4" or WIFI_BW_KHZ[0] <= bw <= WIFI_BW_KHZ[1]:
        return "wifi", (f"bursty or moving {bw / 1000:.0f} MHz (duty {duty:.2f}, centres over "
                        f"{f['spread_khz'] / 1000:.0f} MHz, level scatter {f['level_sd_db']:.1f} dB)")
    return "unknown", f"wide ({bw / 1000:.0f} MHz), neither steady nor Wi-Fi-like"


def _rule(f, scan: Scan, straddle=NO_STRADDLE) -> tuple[str, str]:
    where = band(f["centre_khz"])
    bw, n_ch = f["bandwidth_khz"], int(f["n_channels"])
    if bw >= WIDE_KHZ:
        return _wide(f, where, scan, straddle)
    if where == "2g4" and n_ch <= BLE_MAX_CHANNELS and _on_ble_adv(f):
        return "ble", "narrow, only on BLE advertising channels 37/38/39"
    hop = f["hop_fraction"]
    scanned = scan.period_us > RESOLVED_PERIOD_US
    min_channels = PERSISTENT_MIN_CHANNELS if scan.persistent else HOP_MIN_CHANNELS
    if n_ch >= min_channels and where in ("2g4", "subghz"):
        if not scanned and where == "2g4" and n_ch >= BT_MIN_CHANNELS and f["dwell_us"] <= BT_MAX_DWELL_US and hop > ELRS_MAX_HOP_FRACTION:
            return "bluetooth", f"{n_ch} channels, short dwell {f['dwell_us']:.0f} us, hop every slot"
        if where == "subghz" and f["interval_us"] >= LORAWAN_MIN_INTERVAL_US:
            return "lorawan", f"sub-GHz, {n_ch} channels, {f['interval_us'] / 1e6:.1f} s between bursts"
        if where == "2g4" and f["spread_khz"] <= WIFI_BW_KHZ[1]:
            return "wifi", f"narrow hits within one Wi-Fi channel ({f['spread_khz'] / 1000:.0f} MHz): frames, not hops"
        if scanned:
            family, why = _scanned_hopper(f, scan, where)
            # a sub-GHz link's packets are clocked, the residents' (meters, LoRaWAN, alarms) not
            if where == "subghz" and family == "gfsk_fhss" and not f["clock_z"] >= CLOCK_MIN_Z:
                return "unknown", f"{why}; hits not clocked to a link's packets (Z {f['clock_z']:.1f})"
            return family, why
        if f["n_bursts"] < HOP_MIN_BURSTS or not f["interval_cv"] <= HOP_MAX_CV:
            return "unknown", f"hopping over {n_ch} channels, but irregular (CV {f['interval_cv']:.2f})"
        if hop <= ELRS_MAX_HOP_FRACTION:
            return "lora_fhss", f"{n_ch} channels, hops on {hop:.2f} of bursts (ELRS: every 4th or 2nd)"
        return "gfsk_fhss", f"{n_ch} channels, hops on {hop:.2f} of bursts (every packet)"
    if where == "subghz" and f["interval_us"] >= LORAWAN_MIN_INTERVAL_US:
        return "lorawan", f"sub-GHz, few channels ({n_ch}), sparse bursts"
    return "unknown", f"narrow, {n_ch} channels in band {where}"


def _scanned_hopper(f, scan: Scan, where: str) -> tuple[str, str]:
    """A narrow emitter hit on several channels, read by a scanner. A scanner catches a hopper
    only where its channel and the hop coincide, at random instants: the intervals between hits
    say nothing of the link's packet rate, but whether a hit outlasts the revisit of its channel
    tells how long the link stays on a channel (docs/detection.md, "Hoppers seen by a scanner").
    Noise alone never makes such a track: each hit is a cell alarm at the design pfa."""
    n_ch, spread = int(f["n_channels"]), f["spread_khz"]
    if spread < HOP_MIN_SPREAD_KHZ[where]:
        return "unknown", f"{n_ch} channels within {spread / 1000:.1f} MHz: too close for a hopper"
    if where == "2g4":
        if not scan.persistent:  # Bluetooth's 625 us hops and Wi-Fi frames flash the same way
            return "unknown", f"flashes on {n_ch} channels (a revisit plan tells hoppers from Bluetooth)"
        # a hopper's hits fall on its channels at random: n hits on N channels visit
        # N (1 - (1 - 1/N)^n) of them; Wi-Fi's pile up on the few channels it occupies
        bins = max(spread / scan.step_khz, 1.0) if scan.step_khz > 0 else n_ch
        expect = bins * (1.0 - (1.0 - 1.0 / bins) ** float(f["n_bursts"])) if bins > 1 else 1.0
        if n_ch < PERSISTENT_DISTINCT * expect:
            return "unknown", f"{n_ch} channels for {f['n_bursts']} held hits: a few busy channels, not hops"
        if f["level_sd_db"] > ONE_LINK_MAX_SD_DB:  # one link at one level per node
            return "unknown", (f"{f['n_bursts']} held hits at levels {f['level_sd_db']:.0f} dB "
                               f"apart: several residents' frames and events, not one link")
        if scan.step_khz > 0 and f["bandwidth_khz"] > HOP_MAX_BINS * scan.step_khz:
            return "unknown", (f"held hits {f['bandwidth_khz'] / 1000:.1f} MHz wide on average: "
                               f"pieces of wider frames, not hops")
        x, n = min((spread + scan.step_khz) / ISM_2G4_KHZ, 1.0), float(f["n_bursts"])
        if n * x ** (n - 1) - (n - 1) * x ** n < BAND_HOP_MIN_P:
            return "unknown", (f"{f['n_bursts']} held hits all within {spread / 1000:.0f} MHz: "
                               f"one channel's frames, not hops over the band")
        # a hop set spreads its hits between its two extremes: the other n - 2 all within w (the
        # span without the extreme hit farther from its neighbour) of one end has probability at
        # most 2 (w / S)^(n - 2), in scan cells; a channel's held frames with one hit far off
        # (OFDM video's pieces beside a stray) have all but one hit within a Wi-Fi channel
        trimmed = f["trimmed_spread_khz"]
        if (trimmed <= MIN_SPAN_KHZ and 2.0 * ((trimmed + scan.step_khz) / (spread + scan.step_khz))
                ** (n - 2.0) < BAND_HOP_MIN_P):
            return "unknown", (f"{f['n_bursts']} held hits, all but one within {trimmed / 1000:.1f} MHz "
                               f"of {spread / 1000:.0f}: one channel's frames and a stray, not hops")
        return "lora_fhss", (f"{n_ch} channels over {spread / 1000:.0f} MHz, each hit held its channel "
                             f"across the revisit: several packets per hop (ELRS)")
    if f["n_bursts"] < SCANNED_HOP_MIN_BURSTS:
        return "unknown", f"hopping over {n_ch} channels, {f['n_bursts']} hits so far"
    # a wide hop on air most of the time (WIDE_HOP_*): LoRa's 500 kHz, whatever its hop rate
    per_sweep = ieee_div(scan.period_us, f["interval_us"])
    if f["level_sd_db"] <= WIDE_HOP_MAX_SD_DB and per_sweep >= WIDE_HOP_MIN_PER_SWEEP:
        return "lora_fhss", (f"{n_ch} channels, hit in {per_sweep:.2f} of sweeps at a steady level "
                             f"({f['level_sd_db']:.1f} dB): a wide LoRa hop, on air most of the time")
    # Sequential tests of the repeats seen: "stays over sweeps" (ELRS) against "hops every
    # packet" (GFSK links) and against "stays put" (long LoRa packets of LoRaWAN and Meshtastic
    # devices, whose channels a track may gather), each decided at REPEAT_LLR
    gaps = float(f["n_bursts"]) - 1.0
    repeats = gaps * (1.0 - float(f["hop_fraction"]))
    llr = {k: _repeat_llr(repeats, gaps, REPEAT_P["lora"], REPEAT_P[k]) for k in ("gfsk", "static")}
    why = f"{n_ch} channels, {repeats:.0f} of {gaps:.0f} hits on the channel of the hit before, a sweep later"
    # a narrow hop read well over the floor in few sweeps (HIT_RATE), not staying put, at one
    # link's level (smart meters and LoRaWAN devices gathered by one track: 18.6 dB apart)
    one_link = f["level_sd_db"] <= ONE_LINK_MAX_SD_DB
    moving = _repeat_llr(repeats, gaps, REPEAT_P["static"], REPEAT_P["gfsk"]) <= -REPEAT_LLR
    hit_llr = _repeat_llr(gaps, ieee_div(gaps, per_sweep), HIT_RATE["gfsk"], HIT_RATE["lora"])
    if f["excess_db"] >= VISIBLE_EXCESS_DB and one_link and moving and hit_llr >= REPEAT_LLR:
        return "gfsk_fhss", (f"{n_ch} channels, hit in {per_sweep:.2f} of sweeps though "
                             f"{f['excess_db']:.0f} dB over the floor: on air a small share of "
                             f"the time, GFSK packets (not LoRa)")
    # ...and hit in most sweeps at one link's level, not staying put: on air most of the time,
    # LoRa, whatever its hop plan (Crossfire 50 Hz: a new channel every packet) and its fading
    # (over WIDE_HOP_MAX_SD_DB); one link is hit at most once a sweep (AIRTIME_MAX_PER_SWEEP)
    if one_link and moving and per_sweep <= AIRTIME_MAX_PER_SWEEP and hit_llr <= -REPEAT_LLR:
        return "lora_fhss", (f"{n_ch} channels, hit in {per_sweep:.2f} of sweeps at one link's "
                             f"level ({f['level_sd_db']:.1f} dB), not staying put: on air most of "
                             f"the time, LoRa (hopping every packet or not)")
    if llr["gfsk"] >= REPEAT_LLR and llr["static"] >= REPEAT_LLR:
        if f["level_sd_db"] > ONE_LINK_MAX_SD_DB:
            return "unknown", why + (f", at levels {f['level_sd_db']:.0f} dB apart: several devices "
                                     f"(a dense LoRaWAN and smart-meter band), not one link")
        rest = gaps - gaps * float(f["long_stay_fraction"])
        if (_repeat_llr(repeats + rest - gaps, rest, REPEAT_P["lora"], REPEAT_P["gfsk"]) < REPEAT_LLR
                and _repeat_llr(rest, ieee_div(gaps, per_sweep), SRD_MAX_DUTY, HIT_RATE["gfsk"])
                >= REPEAT_LLR):
            return "unknown", why + (f", {gaps - rest:.0f} of them in runs on one channel longer "
                                     f"than a link's dwells, the other hits in too few sweeps for "
                                     f"a link: a fixed device's long packets beside a slow hopper")
        return "lora_fhss", why + ": dwells over sweeps (ELRS)"
    if llr["gfsk"] <= -REPEAT_LLR:
        return "gfsk_fhss", why + ": hops every packet"
    if llr["static"] <= -REPEAT_LLR:
        return "unknown", why + ": stays on its channels (long packets, not hops)"
    return "unknown", why + ": not yet telling"


def band_hopper(h) -> tuple[str, float, str]:
    """(family, confidence, reason) of a band hopper (straja.detect.hoppers.Hopper): narrow hits
    spread over a hop set, too many for the site's baseline. Hits that outlast the revisit
    (held) tell a link staying several packets on a channel (ELRS); a link that changes channel
    every packet (FrSky, FlySky, DSMX, ELRS FLRC at 2 packets per 1-2 ms hop) never holds.
    Reported, it is a hopper whatever its family: until its held share tells at 19:1
    (hopper_told) it is named as its held hits lean, and renamed as they tell."""
    why = (f"{h.n_hits} narrow hits on {h.n_channels} channels over "
           f"{(h.hi_khz - h.lo_khz) / 1000:.0f} MHz, {h.expected:.2f} expected from the site")
    llr = _held_llr(h)
    if llr >= REPEAT_LLR:
        family, why = "lora_fhss", why + f", {h.n_held} held: several packets per hop (ELRS)"
    elif llr <= -REPEAT_LLR:
        family, why = "gfsk_fhss", why + f", {h.n_held} held: a new channel every packet"
    else:
        family = "lora_fhss" if llr > 0 else "gfsk_fhss"
        why += f", {h.n_held} held: leaning {family}, not yet at 19:1"
    return family, SPECIFICITY[family] * h.n_hits / (h.n_hits + EVIDENCE_BURSTS), why


def hopper_told(h) -> bool:
    """Whether a band hopper's held share tells its family at 19:1 (band_hopper)."""
    return abs(_held_llr(h)) >= REPEAT_LLR


def _held_llr(h) -> float:
    """Log likelihood ratio of a band hopper's held hits, ELRS's held share against a link
    changing channel every packet."""
    return _repeat_llr(h.n_held, h.n_hits, *(held_share(HELD_P[k], h.reads)
                                             for k in ("lora", "gfsk")))


def held_share(p: float, reads: int) -> float:
    """The share of a band hopper's hits that are held, from p = HELD_P's (of one read's hits).
    With both reads sent (PAIRS: reads 2) a hit is a channel hot in either read, counted once,
    and held when hot in both: p of a read's hits, so p / (2 - p) of the hits."""
    return p / (2 - p) if reads == 2 else p


def _repeat_llr(repeats: float, gaps: float, p1: float, p0: float) -> float:
    """Log likelihood ratio of `repeats` in `gaps` Bernoulli trials, repeat rate p1 against p0."""
    return repeats * math.log(p1 / p0) + (gaps - repeats) * math.log((1 - p1) / (1 - p0))


def _on_ble_adv(f) -> bool:
    lowest, highest = f["centre_khz"] - f["spread_khz"] / 2, f["centre_khz"] + f["spread_khz"] / 2
    return (min(abs(adv - lowest) for adv in BLE_ADV_KHZ) <= BLE_TOL_KHZ
            and min(abs(adv - highest) for adv in BLE_ADV_KHZ) <= BLE_TOL_KHZ)


def ieee_div(a: float, b: float) -> float:
    """a / b as IEEE (and NumPy) divides: +-inf or NaN for a b of 0 (which a hostile node's
    timestamps can make), not an error: for Python numbers that stand for NumPy ones."""
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _pow10(x: float) -> float:
    """10 ** x, inf where it overflows a float (as NumPy gives), not an error."""
    try:
        return 10.0 ** x
    except OverflowError:
        return math.inf


# A class row's band (lo_khz, hi_khz: the edges of the channels it is of, as an observation's) is
# NaN where the class is of the track's whole extent (the tracker's record, which the gateway
# reads); a class of a narrower part of what the core saw carries that part's: a video block
# standing inside an access point's track (Pipeline._standing_named), the band hopper's hop set
# (Pipeline.hopper_class)
CLASSES = np.dtype([("track_id", "i8"), ("family", "U16"), ("confidence", "f8"),
                    ("drone", "?"), ("reason", "U120"), ("lo_khz", "f8"), ("hi_khz", "f8")])
TRACK_BAND = (math.nan, math.nan)  # a class row's band where it is the track's own


def classify(feats: np.ndarray, scan: Scan = Scan(), straddle=None) -> np.ndarray:
    """Family, confidence, drone flag, reason and band of every track (CLASSES dtype); straddle: a
    STRADDLE record per track (None: none known). The rules read each track's features as a
    dict of Python numbers: a NumPy record's field reads and scalar arithmetic cost several
    times as much, and the numbers (float64, ints) are the same."""
    return np.array(classify_rows(feats, scan, straddle), CLASSES)


def classify_rows(feats: np.ndarray, scan: Scan = Scan(), straddle=None) -> list[tuple]:
    """classify()'s records as tuples of Python values, for a caller that reads a few fields
    (the gateway's, every sweep a video track takes a burst)."""
    names, rows = feats.dtype.names, []
    for i, values in enumerate(feats.tolist()):
        f = dict(zip(names, values))
        family, conf, reason = classify_one(f, scan, NO_STRADDLE if straddle is None
                                            else straddle[i])
        rows.append((f["track_id"], family, conf, family in DRONE_FAMILIES, reason, *TRACK_BAND))
    return rows


def standing_video(centre_khz: float, n_bins: int, step_khz: float, n_sweeps: int,
                   chance: float, n_bursts: int) -> tuple[str, float, str]:
    """(family, confidence, reason) of a block of n_bins adjacent scan channels centred at
    centre_khz whose readings stood over the floor for n_sweeps sweeps running, a run of their
    past as unlikely as `chance`, in a wider track (straja.detect.pipeline.Pipeline.
    _standing_named): a continuous emitter, under an access point's frames or in a track its
    weak start and the pieces lit beside it made bursty. Its shape is the block's: under
    FLAT_MIN_BINS near the analog plan it reads as an FM carrier, as _wide names a 1-2 bin
    track (no shape shows; the gateway's video profile tells 20 MHz OFDM later); wider or off
    the plan, OFDM."""
    off_plan = _off(ANALOG_PLAN_CHANNELS_KHZ, centre_khz)
    on_plan = off_plan <= ANALOG_PLAN_KHZ + step_khz / 2
    family = "analog_fm_video" if n_bins < FLAT_MIN_BINS and on_plan else "ofdm_video"
    n = float(n_bursts)
    return family, SPECIFICITY[family] * n / (n + EVIDENCE_BURSTS), (
        f"{n_bins} channel(s) at {centre_khz / 1000:.0f} MHz over the floor in each of "
        f"{n_sweeps} sweeps, a run of chance {chance:.0e} from their past: continuous")[:120]
