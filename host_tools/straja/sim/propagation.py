"""Propagation: log-distance path loss, log-normal shadowing, Rayleigh/Rician fading, thermal noise.

Log-distance model (Rappaport, Wireless Communications, 2nd ed., 4.9.1):
    PL(d) = FSPL(d0, f) + 10 n log10(d / d0),  FSPL(d0, f) = 20 log10(4 pi d0 f / c)
with shadowing X ~ N(0, sigma^2) dB (4.9.2). Small-scale fading is a power gain with mean 1:
Rician with K factor (K = 0 is Rayleigh), |sqrt(K/(K+1)) + sqrt(1/(K+1)) CN(0,1)|^2 (5.6).
A channel wider than the coherence bandwidth Bc (about 1 / (5 x delay spread): ~1 MHz in open
country, a few hundred kHz in town) fades differently across its width (frequency-selective
fading, 5.4): its power over the part a receiver reads (its channel filter, as wide as the
channel for an RX5808 reading video) is the mean of the gains of the M = width read / Bc
coherence bands in it, so a 20 MHz video channel read whole scatters ~1/sqrt(M) as much as a
flat-faded narrow link (Rayleigh: 5.6 dB flat, ~1 dB at M = 20).
Thermal noise: kTB at T0 = 290 K is -174 dBm/Hz, plus the receiver noise figure.
"""
import math

import numpy as np

from ..rf import path_loss_db

BOLTZMANN = 1.380649e-23
T0_K = 290.0
KT_DBM_HZ = 10 * math.log10(BOLTZMANN * T0_K * 1000.0)  # -173.98 dBm/Hz


def thermal_noise_dbm(bw_hz, nf_db):
    """Receiver noise floor kTB + NF in dBm."""
    return KT_DBM_HZ + 10 * math.log10(bw_hz) + nf_db


def fading_gain(rng, n, k_factor_db, bands=1.0):
    """n Rician power gains with mean 1 (k_factor_db = None: Rayleigh; 'inf' not allowed), each
    the mean over `bands` (>= 1, a scalar or n values) independent coherence bands. With the
    scattered parts z_m, mean |los + z_m|^2 = |los + mean z|^2 + sum |z_m - mean z|^2 / M, the
    two terms independent: mean z ~ CN(0, 1/((K+1) M)), the sum (K+1)^-1 Gamma(M - 1, 1)."""
    k = 0.0 if k_factor_db is None else 10 ** (k_factor_db / 10)
    los = math.sqrt(k / (k + 1))
    m = np.maximum(np.asarray(bands, float), 1.0)
    sc = np.sqrt(1 / (2 * (k + 1) * m))
    re = los + sc * rng.standard_normal(n)
    im = sc * rng.standard_normal(n)
    gain = re * re + im * im
    if np.any(m > 1):
        gain = gain + rng.gamma(np.maximum(m - 1, 1e-12), 1.0, n) * np.where(m > 1, 1.0, 0.0) / ((k + 1) * m)
    return gain


class Shadowing:
    """Log-normal shadowing of one link, in dB: constant, or slowly varying in time.

    The slowly varying form is a sum of M sinusoids with random frequencies below 1/tau and random
    phases (Jakes-style sum of sinusoids): zero mean, standard deviation sigma, correlation time of
    about tau, and O(1) to evaluate at any time, so reads in any order give the same values.
    """

    M = 8

    def __init__(self, rng, sigma_db, tau_s=0.0):
        self.sigma = sigma_db
        self.const = sigma_db * rng.standard_normal() if tau_s <= 0 else 0.0
        self.tau = tau_s
        if tau_s > 0:
            self.freqs = rng.uniform(0.1, 1.0, self.M) / tau_s
            self.phases = rng.uniform(0, 2 * np.pi, self.M)

    def db(self, t):
        if self.tau <= 0 or self.sigma == 0:
            return np.full(np.shape(t), self.const) if np.ndim(t) else self.const
        arg = 2 * np.pi * np.multiply.outer(np.asarray(t, dtype=float), self.freqs) + self.phases
        return self.sigma * math.sqrt(2.0 / self.M) * np.cos(arg).sum(axis=-1)


class Propagation:
    """Scene-wide propagation parameters."""

    def __init__(self, exponent=2.0, ref_distance_m=1.0, shadowing_sigma_db=0.0,
                 shadowing_tau_s=0.0, fading="rician", rician_k_db=6.0, coherence_bw_mhz=1.0):
        self.exponent = exponent
        self.d0 = ref_distance_m
        self.sigma = shadowing_sigma_db
        self.tau = shadowing_tau_s
        self.fading = fading
        self.k_db = rician_k_db
        self.coherence_bw_hz = coherence_bw_mhz * 1e6

    def mean_rx_dbm(self, eirp_dbm, d_m, f_hz):
        """Received power before shadowing and fading, with a 0 dBi receive antenna."""
        return eirp_dbm - path_loss_db(d_m, f_hz, self.exponent, self.d0)

    def fading_gains(self, rng, n, bw_hz=None):
        """n fading gains; bw_hz (n values): each transmission's channel read whole, whose
        fades average over its coherence bands (None: flat fading)."""
        if self.fading == "none":
            return np.ones(n)
        bands = 1.0 if bw_hz is None else np.asarray(bw_hz, float) / self.coherence_bw_hz
        return fading_gain(rng, n, None if self.fading == "rayleigh" else self.k_db, bands)
