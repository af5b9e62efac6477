"""OFDM or analog FM video, from a video channel's profile: its readings through the receiver's
channel filter stepped finer than the filter across the channel (docs/detection.md, "Video
profile").

A reading through a filter of width B tuned d off an emitter's centre takes the share of its
power inside [d - B/2, d + B/2]: the profile is the emitter's spectrum convolved with the
filter. The spectra are those the simulator models (docs/scenes.md, "Video spectra"): OFDM is
flat over its nominal width (`rect`), FM video a Gaussian with 99 % of its power in its occupied
width (`gauss`, Woodward's theorem), each with a flat floor of spectral regrowth 5 widths wide.
Through the RX5808's 20 MHz filter, 20 MHz of OFDM reads -6 dB 15 MHz off its centre and 20 MHz
of FM -10 dB, 40 MHz of OFDM -1.2 dB; 10 MHz of OFDM -35 dB there but 0 dB 5 MHz off, where FM
reads -0.5 dB.

The test fits both families to the readings (each candidate width, the centre anywhere, the
power free) and names the one that fits clearly better: by a likelihood ratio of
PROFILE_MIN_LLR at the readings' scatter (PROFILE_SD_DB, or more where readings of one channel
taken more than once disagree more), and only if that fit is itself acceptable
(PROFILE_MAX_CHI2); else it cannot tell (too weak, too few readings, or something else on the
air). Readings of one channel that disagree say something intermittent is on the air beside the
video (an access point's frames, lighting some readings and not others, which must not pass for
a wider flat top): then the readings lifted over the best fit are dropped first, one at a time
(`_unlifted`), and the rest judged at their own scatter, if it is a steady channel's
(PROFILE_MAX_SCATTER_DB). The widths are the families', not fitted to a scene: OFDM video
channels are 10, 20 or 40 MHz wide (DJI OcuSync, Walksnail), filled to 90-100 % (an LTE-like
numerology occupies 90 % of its nominal width); FM video occupies 2 (deviation + highest
modulating frequency) by Carson's rule, 16-24 MHz for a 4.2-5 MHz video baseband, a 6.0-6.5 MHz
audio subcarrier and 2-6 MHz of deviation. An FM carrier much wider (over ~28 MHz: its skirts
then read like a 20 MHz flat top) or much narrower than the filter (under ~12 MHz: it fills the
filter like 10 MHz of OFDM) is not told from OFDM by its profile: "cannot tell" where it fits
both, and FM 12 MHz or narrower is named OFDM.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

OFDM = "ofdm_video"
ANALOG = "analog_fm_video"
CANNOT_TELL = "unknown"

Z99 = 2.5758293035489          # 99 % of a Gaussian lies within +-Z99 sigma
# Candidate spectra, (shape, width kHz, regrowth dBc): the families' widths (module docstring)
OFDM_WIDTHS_KHZ = tuple(w * f for w in (10_000.0, 20_000.0, 40_000.0) for f in (0.9, 1.0))
FM_WIDTHS_KHZ = (16_000.0, 18_000.0, 20_000.0, 22_000.0, 24_000.0)
OFDM_REGROWTH_DBC = -35.0      # OFDM's spectral regrowth (amplifier non-linearity)
FM_REGROWTH_DBC = -45.0        # FM's phase noise and spurs
PROFILE_SD_DB = 0.5            # a video reading's scatter: the RX5808's 0.2 dB and the codes'
                               # 0.5 dB steps (0.14 dB) and the channel's fading and the drone's
                               # motion over the profile's sweep (sweep-to-sweep scatter of a video
                               # channel's reading measured 0.3-0.5 dB, dji_ofdm_alone)
PROFILE_MIN_LLR = 4.5          # log likelihood ratio (half the difference of chi-squares) the
                               # better family needs: 90:1 odds, over the ~1 a fit's extra freedom
                               # gives the wrong family by chance
PROFILE_MAX_CHI2_PER_READING = 4.0  # a fit leaving more than this (mean squared residual over
                               # PROFILE_SD_DB^2) is not a video channel alone: cannot tell
PROFILE_MIN_READINGS = 5       # fewer: three free parameters leave nothing to test
PROFILE_LIFTED_SIGMAS = 3.0    # a reading this many PROFILE_SD_DB over the best fit was lifted by
                               # something else on the air (chance: 1 in 700 a reading)
PROFILE_MAX_LIFTED_SHARE = 0.4  # at most this share of the readings dropped as lifted
PROFILE_MAX_SCATTER_DB = 1.5   # readings kept scattering more (3 x a video reading's) are not
                               # one steady video channel: cannot tell
PROFILE_MAX_READINGS = 256     # the gateway's profile is 2 x 17 readings and a few of the scan's
PROFILE_MAX_SPAN_FILTERS = 4.0  # its readings span 2 filters (the fit's grid grows with the span)
CENTRE_STEP_KHZ = 250.0        # the centre's grid in the fit (0.05 dB at the steepest slope)


class ProfileVerdict(NamedTuple):
    family: str                # OFDM, ANALOG or CANNOT_TELL
    reason: str
    chi2_ofdm: float           # the best fit of each family (sum of squared residuals / sd^2)
    chi2_fm: float


def spectrum_share(shape: str, width_khz: float, regrowth_dbc: float, lo_khz, hi_khz):
    """Share of an emitter's power inside [lo, hi] (kHz off its centre; arrays broadcast):
    'rect' (flat over width) or 'gauss' (99 % within width), with regrowth_dbc of it spread flat
    over 5 widths."""
    lo, hi = np.asarray(lo_khz, float), np.asarray(hi_khz, float)
    if shape == "rect":
        main = np.clip(np.minimum(hi, width_khz / 2) - np.maximum(lo, -width_khz / 2), 0, None) / width_khz
    else:
        scale = width_khz / (2 * Z99) * math.sqrt(2)
        main = 0.5 * (_erf(hi / scale) - _erf(lo / scale))
    side = np.clip(np.minimum(hi, 2.5 * width_khz) - np.maximum(lo, -2.5 * width_khz), 0, None) \
        / (5 * width_khz)
    regrowth = 10 ** (regrowth_dbc / 10)
    return (1 - regrowth) * main + regrowth * side


def _erf(x: np.ndarray) -> np.ndarray:
    """erf, vectorised (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: under 1e-6 dB here)."""
    z = np.abs(x)
    t = 1 / (1 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                           + t * 1.061405429))))
    return np.sign(x) * (1 - poly * np.exp(-z * z))


def filter_profile(shape: str, width_khz: float, regrowth_dbc: float, offsets_khz,
                   filter_khz: float):
    """The share of the emitter's power a brick-wall filter filter_khz wide reads at each offset
    of its tuning from the emitter's centre."""
    d = np.asarray(offsets_khz, float)
    return spectrum_share(shape, width_khz, regrowth_dbc, d - filter_khz / 2, d + filter_khz / 2)


def _candidate_profiles(candidates, offsets_khz: np.ndarray, filter_khz: float) -> np.ndarray:
    """Each candidate spectrum's share through the filter at each offset, for every centre on
    the grid: (candidates, centres, readings)."""
    span = filter_khz / 2 + max(w for _, w, _ in candidates) / 2
    centres = np.arange(offsets_khz.min() - span, offsets_khz.max() + span + 1, CENTRE_STEP_KHZ)
    return np.stack([filter_profile(shape, width, regrowth,
                                    offsets_khz[None, :] - centres[:, None], filter_khz)
                     for shape, width, regrowth in candidates])


def _family_fit(profiles: np.ndarray, excess_db: np.ndarray,
                sd_db: float) -> tuple[float, np.ndarray]:
    """The least chi-square of the readings (dB over the floor) against any of a family's
    candidate `profiles` (_candidate_profiles of these readings), its power fitted, and that
    fit's readings (dB): a reading of emitter power A p(d) over the floor reads
    10 log10(1 + A p(d)) dB."""
    excess = 10 ** (excess_db / 10) - 1   # the emitter's power over the floor's, per reading
    # a dB residual is a linear one over (1 + excess): weights for the power's least squares
    weight = 1 / (1 + np.clip(excess, 0, None)) ** 2
    p = profiles.reshape(-1, profiles.shape[-1])
    power = np.clip((weight * excess * p).sum(1) / np.maximum((weight * p * p).sum(1), 1e-30),
                    0, None)
    model_db = 10 * np.log10(1 + power[:, None] * p)
    chi2 = (((excess_db - model_db) / sd_db) ** 2).sum(1)
    at = int(chi2.argmin())
    return float(chi2[at]), model_db[at]


OFDM_CANDIDATES = tuple(("rect", w, OFDM_REGROWTH_DBC) for w in OFDM_WIDTHS_KHZ)
FM_CANDIDATES = tuple(("gauss", w, FM_REGROWTH_DBC) for w in FM_WIDTHS_KHZ)


def reading_scatter_db(offsets_khz: np.ndarray, excess_db: np.ndarray) -> float:
    """The readings' scatter (dB): PROFILE_SD_DB, or the pooled standard deviation of the
    readings of channels read more than once if larger."""
    _, group, counts = np.unique(offsets_khz, return_inverse=True, return_counts=True)
    dof = len(offsets_khz) - len(counts)
    if dof <= 0:
        return PROFILE_SD_DB
    means = np.bincount(group, excess_db) / counts
    pooled = float(((excess_db - means[group]) ** 2).sum()) / dof
    return max(PROFILE_SD_DB, math.sqrt(pooled))


def video_profile_family(offsets_khz, excess_db, filter_khz: float) -> ProfileVerdict:
    """OFDM, analog FM or cannot tell, from readings `excess_db` (dB over the noise floor) taken
    through a filter `filter_khz` wide tuned at `offsets_khz` (kHz, from any reference: the
    emitter's centre is fitted). Raises ValueError for readings that are not a profile."""
    offsets = np.asarray(offsets_khz, float)
    excess = np.asarray(excess_db, float)
    if offsets.ndim != 1 or offsets.shape != excess.shape:
        raise ValueError(f"offsets and readings must be two lists of one length "
                         f"(got shapes {offsets.shape} and {excess.shape})")
    if not (np.isfinite(offsets).all() and np.isfinite(excess).all()):
        raise ValueError("offsets and readings must be finite numbers")
    if not (math.isfinite(filter_khz) and filter_khz > 0):
        raise ValueError(f"filter_khz must be a positive number (got {filter_khz!r})")
    if len(offsets) < PROFILE_MIN_READINGS or len(np.unique(offsets)) < PROFILE_MIN_READINGS:
        return ProfileVerdict(CANNOT_TELL, f"{len(np.unique(offsets))} distinct channels read, "
                              f"{PROFILE_MIN_READINGS} needed", math.nan, math.nan)
    if len(offsets) > PROFILE_MAX_READINGS:
        raise ValueError(f"at most {PROFILE_MAX_READINGS} readings make a profile "
                         f"(got {len(offsets)})")
    if np.ptp(offsets) > PROFILE_MAX_SPAN_FILTERS * filter_khz:
        raise ValueError(f"a profile spans at most {PROFILE_MAX_SPAN_FILTERS:g} filters "
                         f"(got {np.ptp(offsets) / filter_khz:.1f})")
    families = [_candidate_profiles(c, offsets, filter_khz)
                for c in (OFDM_CANDIDATES, FM_CANDIDATES)]
    keep = np.ones(len(offsets), bool)
    if reading_scatter_db(offsets, excess) > PROFILE_SD_DB:
        keep = _unlifted(offsets, excess, families)  # something intermittent beside the video
    offsets, excess = offsets[keep], excess[keep]
    dropped = len(keep) - len(offsets)
    sd = reading_scatter_db(offsets, excess)
    chi2_ofdm, chi2_fm = (_family_fit(f[..., keep], excess, sd)[0] for f in families)
    llr = (chi2_fm - chi2_ofdm) / 2
    better, best = (OFDM, chi2_ofdm) if llr > 0 else (ANALOG, chi2_fm)
    fits = (f"chi2 {chi2_ofdm:.1f} flat, {chi2_fm:.1f} peaked over {len(offsets)} readings "
            f"at {sd:.2f} dB" + (f", {dropped} lifted dropped" if dropped else ""))
    if sd > PROFILE_MAX_SCATTER_DB:
        return ProfileVerdict(CANNOT_TELL, f"readings too scattered for one video channel "
                              f"({fits})", chi2_ofdm, chi2_fm)
    if best > PROFILE_MAX_CHI2_PER_READING * len(offsets):
        return ProfileVerdict(CANNOT_TELL, f"fits neither spectrum ({fits})", chi2_ofdm, chi2_fm)
    if abs(llr) < PROFILE_MIN_LLR:
        return ProfileVerdict(CANNOT_TELL, f"fits both spectra alike ({fits})", chi2_ofdm, chi2_fm)
    shape = "flat-topped (OFDM)" if better == OFDM else "peaked (FM)"
    return ProfileVerdict(better, f"profile {shape}: {fits}", chi2_ofdm, chi2_fm)


def _unlifted(offsets_khz: np.ndarray, excess_db: np.ndarray, families) -> np.ndarray:
    """Which readings to fit: all but those something else on the air lifted (an access point's
    frames beside the video), found one at a time as the reading furthest over the best fit of
    either family (`families`: their _candidate_profiles), while it is over it by more than
    PROFILE_LIFTED_SIGMAS x PROFILE_SD_DB, at most PROFILE_MAX_LIFTED_SHARE of them and
    PROFILE_MIN_READINGS channels left. Another emitter only adds power: a reading under the fit
    is never dropped."""
    keep = np.ones(len(offsets_khz), bool)
    for _ in range(int(PROFILE_MAX_LIFTED_SHARE * len(keep))):
        at = np.flatnonzero(keep)
        fits = [_family_fit(f[..., at], excess_db[at], PROFILE_SD_DB) for f in families]
        over = excess_db[at] - min(fits, key=lambda f: f[0])[1]
        worst = int(over.argmax())
        if over[worst] <= PROFILE_LIFTED_SIGMAS * PROFILE_SD_DB:
            break
        keep[at[worst]] = False
        if len(np.unique(offsets_khz[keep])) < PROFILE_MIN_READINGS:
            keep[at[worst]] = True
            break
    return keep
