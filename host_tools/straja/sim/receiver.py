"""What one node's front end receives: band power over a frequency band and a time window.

`NodeRF.band_power_dbm(freq_hz, bw_hz, t0_s, t1_s)` is the mean received power in dBm in
[freq - bw/2, freq + bw/2] over [t0, t1]: each transmission contributes its received power (EIRP,
log-distance path loss at its frequency and its mid-time position, shadowing, per-packet fading,
antenna gain) times the fraction of its spectrum inside the band times the fraction of the window
it is on air; thermal noise kTB + NF is added. A window with t1 <= t0 is an instantaneous read
(taken as 1 ns). `band(freq_hz, bw_hz)` gives the same for one band as a function of the window,
the band's streams and noise found once (a chip tuned to a channel reads it over and over).
`sweep` does the same for many reads at once, vectorised.

Per read, only the transmissions that can overlap are touched: the streams whose frequency extent
reaches the band are listed once per band (a node reads the same channels over and over), and
within a block the candidates are found by binary search over the sorted, non-overlapping start
and end times. A transmission's spectral fraction in a band depends only on its centre and width
there, so it is computed once per stream, band and (centre, width): hoppers and access points
reuse a few channels. The sums are the plain loop's, term by term and in its order
(tests/test_sim_receiver.py keeps that loop, in Python, as the oracle), made in C
(straja._eval_band: a band is read a few hundred thousand times a node-hour by the evaluation's
fast path).
"""
import math

import numpy as np

from .._eval_band import BandPower, band_energy
from .emitters import BLOCK_S
from ..frontends import FRONT_ENDS
from ..rf import path_loss_db
from .propagation import KT_DBM_HZ, Shadowing

INSTANT_S = 1e-9
_Z99 = 2.5758293035489  # 99 % of a Gaussian lies within +-_Z99 sigma
_RX_CACHE = 256
_BANDS_CACHE = 4096  # distinct (band, modulation) a node reads: its plans' channels, a few hundred
_FRACTIONS_CACHE = 1024  # (centre, width) per stream and band: a hopper's channels, an AP's one


class FrontEnd:
    """A receive chain: noise figure and an antenna with a gain inside its band, less outside."""

    def __init__(self, name, noise_figure_db, antenna_gain_dbi, antenna_band_hz=None,
                 antenna_oob_loss_db=20.0):
        self.name = name
        self.nf_db = noise_figure_db
        self.gain_dbi = antenna_gain_dbi
        self.band = antenna_band_hz
        self.oob_loss = antenna_oob_loss_db

    def gain_db(self, f_hz):
        if self.band is None:
            return np.full(np.shape(f_hz), self.gain_dbi)
        inside = (f_hz >= self.band[0]) & (f_hz <= self.band[1])
        return np.where(inside, self.gain_dbi, self.gain_dbi - self.oob_loss)


def _phi(x):
    """Standard normal CDF, vectorised (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7)."""
    z = np.abs(x) / math.sqrt(2)
    t = 1 / (1 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027
                                                                           + t * 1.061405429))))
    erf = 1 - poly * np.exp(-z * z)
    return 0.5 * (1 + np.sign(x) * erf)


def _rect_frac(fc, width, lo, hi):
    return np.clip(np.minimum(hi, fc + width / 2) - np.maximum(lo, fc - width / 2), 0, None) / width


def spectral_fraction(shape, fc, bw, lo, hi, sidelobe):
    """Fraction of a transmission's power inside [lo, hi] (arrays broadcast)."""
    if shape == "rect":
        main = _rect_frac(fc, bw, lo, hi)
    else:
        sigma = bw / (2 * _Z99)
        main = _phi((hi - fc) / sigma) - _phi((lo - fc) / sigma)
    return (1 - sidelobe) * main + sidelobe * _rect_frac(fc, 5 * bw, lo, hi)


def _spectral_fraction_1(shape, fc, bw, lo, hi, sidelobe):
    """Scalar spectral_fraction in plain floats (the per-read hot path)."""
    if shape == "rect":
        main = max(0.0, min(hi, fc + bw / 2) - max(lo, fc - bw / 2)) / bw
    else:
        s = bw / (2 * _Z99) * math.sqrt(2)
        main = 0.5 * (math.erf((hi - fc) / s) - math.erf((lo - fc) / s))
    side = max(0.0, min(hi, fc + 2.5 * bw) - max(lo, fc - 2.5 * bw)) / (5 * bw)
    return (1 - sidelobe) * main + sidelobe * side


class RxBlock:
    """One block of one stream as received here: arrays and plain lists (for bisect)."""

    def __init__(self, pk, p_mw):
        self.T0, self.T1, self.F, self.BW, self.P = pk.t0, pk.t1, pk.f, pk.bw, p_mw
        self.t0, self.t1 = pk.t0.tolist(), pk.t1.tolist()
        self.f, self.bw, self.p = pk.f.tolist(), pk.bw.tolist(), p_mw.tolist()


class NodeRF:
    """The RF input of one front end of one node (see the module docstring)."""

    def __init__(self, scene, node, front_end, fe_index):
        self.scene = scene
        self.node = node
        self.fe = front_end
        self.fe_index = fe_index
        # the width this front end reads (its part's channel filter): a wide channel's fading
        # averages over the coherence bands inside it; unknown parts read channels whole
        known = FRONT_ENDS.get(front_end.name)
        self._filter_hz = known.filter_khz * 1e3 if known is not None and known.filter_khz else math.inf
        self._sources = [(e, s, em, st) for e, em in enumerate(scene.emitters)
                         for s, st in enumerate(em.streams)]
        prop = scene.propagation
        self._shadow = [Shadowing(np.random.default_rng([scene.seed, e, node.index, 0x5AD0]),
                                  prop.sigma, prop.tau) for e in range(len(scene.emitters))]
        self._cache = {}  # (e, s, k) -> RxBlock, oldest first
        self._bands = {}
        self._noise_mw = {}

    def noise_dbm(self, bw_hz):
        """Thermal noise floor kTB + NF over bw_hz."""
        return KT_DBM_HZ + 10 * math.log10(bw_hz) + self.fe.nf_db

    def mean_rx_dbm(self, emitter_index, t, f_hz, stream=0):
        """Received power from an emitter's stream without fading (with shadowing, antenna
        gain); the link's two ends share one shadowing draw."""
        trajectory, eirp_dbm = self.scene.emitters[emitter_index].source(stream)
        d = trajectory.distance(t, self.node.position)
        prop = self.scene.propagation
        return (eirp_dbm - path_loss_db(d, f_hz, prop.exponent, prop.d0)
                - self._shadow[emitter_index].db(t) + self.fe.gain_db(f_hz))

    def _block(self, e, s, k):
        key = (e, s, k)
        rb = self._cache.get(key)
        if rb is None:
            rb = self._cache[key] = self._receive(e, s, k)
            if len(self._cache) > _RX_CACHE:  # the oldest: reads move forward in time
                del self._cache[next(iter(self._cache))]
        return rb

    def prepare(self, t_s):
        """Make the next block after time t_s of one stream read so far, if it is not made yet:
        the costly part of the first read that reaches a block (a second's transmissions and
        their fading, 1-3 ms), done ahead while nothing waits for it (a virtual board does it
        while its node waits for an envelope block). False when none is left to make."""
        k = int(t_s // BLOCK_S) + 1
        for e, s, _ in list(self._cache):
            if (e, s, k) not in self._cache:
                self._block(e, s, k)
                return True
        return False

    def _receive(self, e, s, k):
        """Block k of stream s of emitter e as received here (a pure function of its key)."""
        em = self.scene.emitters[e]
        pk = em.block(s, k)
        p_dbm = self.mean_rx_dbm(e, (pk.t0 + pk.t1) / 2, pk.f, s) if len(pk.t0) else np.empty(0)
        rng = np.random.default_rng([self.scene.seed, e, s, k, self.node.index, self.fe_index, 0xFAD])
        fading = self.scene.propagation.fading_gains(
            rng, len(pk.t0), np.minimum(pk.bw, self._filter_hz) if em.streams[s].wideband else None)
        p_mw = 10 ** (np.asarray(p_dbm, float) / 10) * fading
        return RxBlock(pk, p_mw)

    def band_power_dbm(self, freq_hz, bw_hz, t0_s, t1_s):
        """Mean received power in dBm in the band over the window, noise included."""
        t1_s = max(t1_s, t0_s + INSTANT_S)
        energy = self._energy(freq_hz, bw_hz, t0_s, t1_s, None)
        return 10 * math.log10(energy / (t1_s - t0_s) + self._noise(bw_hz))

    def band(self, freq_hz, bw_hz):
        """band_power_dbm of one band as a function of the window, `power_dbm(t0_s, t1_s)`, the
        same sums: a chip tuned to a channel reads it over and over, and its handle finds the
        band's streams and noise once, not at every read."""
        lo, hi = freq_hz - bw_hz / 2, freq_hz + bw_hz / 2
        sources = self._streams_in(lo, hi, None)
        return BandPower(sources, self._cache, self._block, lo, hi, self._noise(bw_hz), BLOCK_S,
                         INSTANT_S, _spectral_fraction_1, _FRACTIONS_CACHE)

    def _noise(self, bw_hz):
        """The noise floor over bw_hz in mW."""
        noise_mw = self._noise_mw.get(bw_hz)
        if noise_mw is None:
            noise_mw = self._noise_mw[bw_hz] = 10 ** (self.noise_dbm(bw_hz) / 10)
        return noise_mw

    def signal_power_dbm(self, freq_hz, bw_hz, t0_s, t1_s, modulation):
        """Mean received power in dBm in the band over the window of the emitters using
        `modulation` only, noise excluded (-inf when none is on air)."""
        t1_s = max(t1_s, t0_s + INSTANT_S)
        energy = self._energy(freq_hz, bw_hz, t0_s, t1_s, modulation)
        return 10 * math.log10(energy / (t1_s - t0_s)) if energy > 0 else -math.inf

    def _in_band(self, lo, hi, modulation):
        """The streams reaching [lo, hi] (_streams_in), kept for the next read of the band."""
        if len(self._bands) >= _BANDS_CACHE:
            self._bands.clear()
        sources = self._bands[(lo, hi, modulation)] = self._streams_in(lo, hi, modulation)
        return sources

    def _streams_in(self, lo, hi, modulation):
        """The streams whose frequency extent reaches [lo, hi] (of `modulation`, if given), in
        source order, each with its own memo of spectral fractions in this band."""
        return [(e, s, st, {}) for e, s, em, st in self._sources
                if not (st.f_hi <= lo or st.f_lo >= hi
                        or (modulation and em.modulation != modulation))]

    def _energy(self, freq_hz, bw_hz, t0_s, t1_s, modulation):
        lo, hi = freq_hz - bw_hz / 2, freq_hz + bw_hz / 2
        sources = self._bands.get((lo, hi, modulation))
        if sources is None:
            sources = self._in_band(lo, hi, modulation)
        return self._sum(sources, lo, hi, t0_s, t1_s)

    def _sum(self, sources, lo, hi, t0_s, t1_s):
        """The energy of `sources` (_streams_in's list for [lo, hi]) in the band over the window."""
        return band_energy(sources, self._cache, self._block, lo, hi, t0_s, t1_s, BLOCK_S,
                           _spectral_fraction_1, _FRACTIONS_CACHE)

    def sweep(self, freqs_hz, bw_hz, t_starts, t_ends):
        """band_power_dbm for many reads at once (arguments broadcast to one shape)."""
        f, bw, a, b = (np.ravel(x).astype(float) for x in
                       np.broadcast_arrays(freqs_hz, bw_hz, t_starts, t_ends))
        shape = np.broadcast(freqs_hz, bw_hz, t_starts, t_ends).shape
        b = np.maximum(b, a + INSTANT_S)
        lo, hi = f - bw / 2, f + bw / 2
        energy = np.zeros(len(f))
        if len(f):
            order = np.argsort(a, kind="stable")
            sa = a[order]
            span = float((b - a).max())
            for e, s, em, st in self._sources:
                self._sweep_source(e, s, st, (lo, hi, a, b), order, sa, span, energy)
        noise = 10 ** ((KT_DBM_HZ + 10 * np.log10(bw) + self.fe.nf_db) / 10)
        return (10 * np.log10(energy / (b - a) + noise)).reshape(shape)

    def _sweep_source(self, e, s, st, reads, order, sa, span, energy):
        lo, hi, a, b = reads
        seen = (hi > st.f_lo) & (lo < st.f_hi)
        if not seen.any():
            return
        k0 = max(math.floor((sa[0] - st.lookback_s) / BLOCK_S), 0)
        k1 = max(math.floor((sa[-1] + span) / BLOCK_S), 0)
        for k in range(k0, k1 + 1):
            # Reads that may overlap block k: those starting in [kB - span, (k+1)B + lookback).
            r0, r1 = np.searchsorted(sa, [k * BLOCK_S - span, (k + 1) * BLOCK_S + st.lookback_s])
            idx = order[r0:r1]
            idx = idx[seen[idx]]
            if not len(idx):
                continue
            rb = self._block(e, s, k)
            if not len(rb.T0):
                continue
            i = np.searchsorted(rb.T1, a[idx], side="right")
            cnt = np.maximum(np.searchsorted(rb.T0, b[idx], side="left") - i, 0)
            total = int(cnt.sum())
            if not total:
                continue
            rep = np.repeat(idx, cnt)
            pkt = np.repeat(i - np.cumsum(cnt) + cnt, cnt) + np.arange(total)
            overlap = np.minimum(b[rep], rb.T1[pkt]) - np.maximum(a[rep], rb.T0[pkt])
            frac = spectral_fraction(st.shape, rb.F[pkt], rb.BW[pkt], lo[rep], hi[rep], st.sidelobe)
            energy += np.bincount(rep, weights=rb.P[pkt] * overlap * frac, minlength=len(energy))
