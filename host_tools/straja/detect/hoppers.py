"""Per-packet hoppers from the statistics of the band over time (docs/detection.md, "Hoppers
that never hold a channel").

A link that changes channel every packet (FrSky, FlySky, Spektrum DSMX, ELRS FLRC) is gone from
a channel when a revisit plan reads it again a few ms later: it leaves no held reading, so no
burst and no track. What it does leave, in the single reads, is short narrow hits scattered
over its hop set at a rate set by its duty cycle. Each read of the band is a look: the first
reads, and the second reads of a sweep that sends them (SWEEP flag PAIRS), each an independent
look, so rates and the baseline's memory are counted in looks (the boot in sweeps); a channel hot in
both reads of a sweep (held) is one hit, the first read's. This stage counts those hits over
short windows in the cells where the site's learnt baseline expects
few (Wi-Fi channels are busy and not counted) and reports a hopper when they are too many for
the baseline (Poisson tail), no more than one link gives, and spread over more than one Wi-Fi
channel. The baseline starts from the noise statistics: what is on the air at switch-on is not
assumed to be the site. One transmitter at a time: the hits of two hoppers add up.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np

from straja import rf
from straja._detect_hoppers import HopperLooks
from straja.detect.stats import poisson_tail

HIT_WIDTH_KHZ = 6_000.0     # runs of hot single reads at most this wide are narrow hits (the
                            # classifier's narrow limit); wider: Wi-Fi, video, ovens
WINDOWS_US = (2_000_000, 4_000_000, 8_000_000)  # hits counted over each of these windows (a
                            # link near the floor gives ~1 hit a second: 3 spread over 40 MHz
                            # come in 2 s only now and then, in 8 s nearly always)...
LOST_US = 3_000_000         # ...and a reported hopper is kept while its last hit is this recent
BASELINE_SWEEPS = 256       # memory of the site's per-cell hit rate (EWMA, ~46 s at 2.4 GHz)
PRIOR_SWEEPS = 64           # the baseline starts as this many sweeps of noise alone (the floor
                            # detector's design rate): what is on air at switch-on is not assumed
                            # to be the site (a drone flying when the gateway starts would be
                            # learnt and never reported); the site is learnt from there on...
LEARN_DELAY_US = 10_000_000 # ...this late, so that a hopper's first hits, before it is
                            # reported, are not already its own baseline
BOOT_SWEEPS = 16            # no report during the first sweeps (the noise floor settles)
BUSY_MIN_HITS = 4           # a busy cell: at least this many hits, and more than...
QUIET_RATE = 0.06           # ...this many per learnt sweep: not counted. The map learns a
                            # reported hopper's hits too, and a hopper spreads them: FrSky ~0.01
                            # per cell, FlySky ~0.03 on its 16 channels, measured; Wi-Fi at
                            # load 0.5 ~0.4
BLE_ADV_HALF_KHZ = 500.0    # half a BLE channel: a cell this near (plus half a step) to an
                            # advertising channel reads every BLE device's advertising
MIN_HITS = 3                # a hopper's hits in a window, and as many at its level (SPAN_LEVEL_RATIO,
                            # NOISE_REACH): two of an emitter's and a noise hit are no hop set (a
                            # DJI drone's DroneID bursts, ~2 hits in 8 s, and a noise hit 0.03 dB
                            # over: a false alert on a quiet site, hop94)
MIN_SPAN_KHZ = 40_000.0     # hits spread over more than a 40 MHz Wi-Fi channel (a hop set
                            # spans 50-80 MHz; ovens, Wi-Fi frames pile within 40 MHz)
SPAN_LEVEL_RATIO = 0.1      # the span counts the hits within 10 dB of the strongest (a
                            # Rayleigh-faded link's hits are that far below its best ~10 % of
                            # the time)...
NOISE_REACH = 10 ** 0.05    # ...and over the threshold by more than noise alone reaches (0.5 dB:
                            # a read of noise, scattering ~0.3 dB, is over the threshold at the
                            # floor detector's pfa (1e-6), 0.5 dB further at 5e-11: noise
                            # over the threshold reads at its first RSSI code, 0.5 dB steps):
                            # one noise hit far from an oven's or a Wi-Fi channel's pile of hits
                            # is no spread (microwave_ovens_background: 2413 MHz, 0.1 dB over)
PFA_WINDOW = 1e-7           # the count's Poisson tail under the baseline, per sweep tested
MAX_EXPECTED = 2.0          # a site whose quiet cells make more hits in a window is too busy
                            # for the test: Wi-Fi and Bluetooth traffic comes in bursts of
                            # seconds, not Poisson (busy 2.4 GHz: 40 hits where 14 were expected)
MAX_LINK_PER_SWEEP = 1.0    # one link's hits a sweep at most: a link meets a scanner at its duty
                            # over its hop set (measured, strong: FrSky 0.3, DSMX 0.34, FlySky
                            # 0.47); more is several emitters at once, a busy site (a Bluetooth
                            # car kit 30 m away: 2.5, busy 2.4 GHz Wi-Fi: 3.6), never one drone
MAINS_PERIODS_US = (20_000.0, 1e6 / 60)  # a microwave oven's magnetron conducts in one
                            # half-cycle of its mains (50 or 60 Hz), ~9 of each 20 ms (docs/
                            # detection.md, "Mains-synchronous hits (ovens)")
PHASE_BINS = 10             # a mains cycle in bins of 2 ms (1.7 at 60 Hz): the gate's read
                            # times are the estimate's, known to -0.9..+1.9 ms (a revisit
                            # block's slots; at exact times one oven scene was better, another
                            # worse: docs/measured/cyc90.md)
ON_BINS = (6, 7)            # each period's on-window: an oven's on-time (45 % of a cycle: 9 /
                            # 7.5 ms) and the read times' error (2.8 ms): 11.8 ms in 6 bins of
                            # 2 ms, 10.3 in 7 of 1.7 (6 let a 60 Hz oven's edges through)
SYNC_SHARE = 0.9            # a cycle's ON_BINS hottest bins hold this share of the hits: an oven
                            # alone 0.98-0.99 (measured), traffic not locked to the mains 0.6-0.7
PHASE_LOOKS = 32            # memory of the phase histograms (32 sweeps' looks of one read,
                            # ~6 s: a mains within 0.015 Hz of nominal drifts under a bin)
OVEN_MAX_SPREAD_KHZ = 12_500.0  # the on-window's hits, at one phase of the cycle, within this
                            # spread (SD) of frequency: a magnetron's frequency follows its anode
                            # current, so at one point of the half-cycle it is where it was the
                            # cycle before (the ovens of six scenes 4.9-11.4 MHz, skirts and a
                            # drone's hits with them), while a hopper's channel at a phase is
                            # anywhere in its hop set (uniform over BLE's 37 data channels: 21.4;
                            # a BLE connection beating with the scan near the mains 14.1-22.2,
                            # 14.1 its first look: docs/measured/det58.md)
WIFI_CHANNELS_MHZ = tuple(rf.wifi_channel_mhz(ch) for ch in range(1, 14))  # 2.4 GHz 1-13
WIFI_HALF_KHZ = 11_000.0    # a 2.4 GHz Wi-Fi channel: +-11 MHz of its centre (DSSS 22 MHz, OFDM
                            # 16.6 MHz; the 802.11 mask is -20 dBr 11 MHz off)
PILE_MIN_HITS = 32          # a channel piled holds at least two learnt hits a cell of its 16-17
                            # (1.3 MHz apart): a density, not a few hits' scatter (the first looks
                            # learnt, a hopper's hits before it was reported)
WINDOW_PILE_MIN_HITS = 16  # a window's pile (before anything is learnt) holds at least one hit
                            # a cell: a hopper's n hits, ~0.3 of them in a 22 MHz block of its hop
                            # set, pile this many there 2x denser than the rest (over 46 % of
                            # them) with a binomial chance under 1 % at any n
PILE_LINK_PER_LOOK = 0.5    # beside a window's pile the longest window's other hits are at most
                            # one link's: a link meets the CC2500's sweep at most ~0.5 times a
                            # look (strong FrSky 0.3, DSMX 0.34, FlySky 0.47, det42); nothing
                            # learnt bounds the rest of the site then, and a busy site's spread
                            # residents beside its access point give 0.64-1.1 (hop94)
PILE_RATIO = 2.0            # a Wi-Fi channel's cells holding the site's learnt hits this many times
                            # denser than the rest of the band are one access point's frames: a
                            # hopper or noise spreads its hits over its hop set (a 22 MHz block of
                            # a 47-72 MHz hop set at most 1.4 times the rest's density)
SKIRT_KHZ = 60_000.0        # an access point's skirts within this of its channel's centre (the
                            # 802.11n 40 MHz mask: -45 dBr 60 MHz off)...
SKIRT_RATIO = 10 ** -1.5    # ...are under its channel's level by more than this (15 dB: -20 dBr
                            # at 11 MHz, -28 at 20, -40 at 30, less 5 dB for the channel's level
                            # read as its hits' mean, frames caught in part of a read)
HT40_SECONDARY_KHZ = 20_000.0  # two piled channels at most this far apart lie within one
                            # 802.11n 40 MHz channel (its secondary 20 MHz off its primary; two
                            # 22 MHz blocks, 42 MHz together at most): one access point, whose
                            # flat 40 MHz of frames piles as any two channels 15-20 MHz apart
                            # (hop86, replayed). The first two piles farther apart are two access
                            # points: leaving both out would leave a hop set too little of the
                            # band's ~60 MHz to show its span in; such a site is busy, and nothing
                            # is left out (three access points piled left 10 cells, a 22 MHz span
                            # asked, and a false alert: docs/measured/hop81.md, hop86.md). Piles
                            # after one access point's stay counted (in the rate): the edge a
                            # 40 MHz channel's halves leave, or another access point
PILE_HOLD_US = WINDOWS_US[-1]  # a pile is left out once one access point's has been piled
                            # over the longest window counted, and only from LEARN_DELAY_US
                            # after the first look learnt: by then the learnt sweeps weigh as
                            # much as the prior's PRIOR_SWEEPS left, so the rest of the site is
                            # in the rate too (a pile of the first looks learnt, the other
                            # residents not yet, was a false alert at 10.4 s: hop81's
                            # flysky_on_mixed_24ghz)
NO_CELLS = np.empty(0, np.int64)


class Hopper(NamedTuple):
    """A reported hopper: hits (of the window, or since it was reported) and their extent."""
    n_hits: int
    n_channels: int
    lo_khz: float
    hi_khz: float
    t_last_us: int
    peak_mw: float
    expected: float        # hits the baseline expects in the window
    n_held: int            # hits held across the revisit (a link dwelling several packets)
    reads: int = 1         # single reads a sweep: 2 when the second reads are sent (PAIRS)


class MainsGate:
    """Hits locked to the mains (a microwave oven's half-cycles), per read of a sweep (the
    second reads come a revisit later: their own histograms): each mains period's histogram of
    the hits' phase (EWMA over PHASE_LOOKS looks), recognised when its ON_BINS hottest
    consecutive bins hold SYNC_SHARE of its hits, the hits come faster than one link's
    (MAX_LINK_PER_SWEEP a look) and, bin by bin, at one frequency give or take
    OVEN_MAX_SPREAD_KHZ (a magnetron's frequency follows the mains; a hopper's channel does
    not): a hopper is never locked to the mains, and an oven lights its band's cells by the
    look. A hit read in a recognised on-window is the oven's (gated)."""

    def __init__(self, reads: int = 2):
        self.hist = np.zeros((len(MAINS_PERIODS_US), reads, PHASE_BINS))
        # each bin's hits' frequencies (kHz from the plan's first channel), summed and squared
        # with the histogram's weights
        self.f_sum = np.zeros(self.hist.shape)
        self.f_squares = np.zeros(self.hist.shape)
        self.on = np.zeros(self.hist.shape, bool)

    @staticmethod
    def bins(t_us: np.ndarray) -> list[np.ndarray]:
        """Each mains period's phase bin of the read times (int64 us)."""
        out = []
        for period in MAINS_PERIODS_US:
            phase = np.fmod(t_us.astype(np.float64), period)
            phase[phase < 0] += period
            out.append(np.minimum((phase * PHASE_BINS / period).astype(np.int64),
                                  PHASE_BINS - 1))
        return out

    def gated(self, bins: list[np.ndarray], read: int) -> np.ndarray:
        """Whether each hit (its bins) was read in a recognised on-window."""
        out = np.zeros(bins[0].size, bool)
        for p, b in enumerate(bins):
            out |= self.on[p, read, b]
        return out

    def feed(self, bins: list[np.ndarray], read: int, f_khz: np.ndarray) -> None:
        """One look of `read`, its hits' bins and frequencies (kHz from the plan's first
        channel) into the histograms (each period's without the hits another period's window
        gates: an oven on the other mains), and what is recognised."""
        gated = [self.on[p, read, b] for p, b in enumerate(bins)]
        decay = 1.0 - 1.0 / PHASE_LOOKS
        for p, b in enumerate(bins):
            hist = self.hist[p, read]
            f_sum, f_squares = self.f_sum[p, read], self.f_squares[p, read]
            for a in (hist, f_sum, f_squares):
                a *= decay
            others = np.zeros(b.size, bool)
            for q in range(len(bins)):
                if q != p:
                    others |= gated[q]
            for i in np.flatnonzero(~others):  # (added in order, as the compiled gate does)
                hist[b[i]] += 1.0
                f_sum[b[i]] += f_khz[i]
                f_squares[b[i]] += f_khz[i] * f_khz[i]
            h = hist.tolist()  # (summed in order, as the compiled gate does)
            total = sum(h)
            sums = [sum(h[(j + i) % PHASE_BINS] for i in range(ON_BINS[p]))
                    for j in range(PHASE_BINS)]
            best = int(np.argmax(sums))
            window = (best + np.arange(ON_BINS[p])) % PHASE_BINS
            self.on[p, read] = False
            if total >= PHASE_LOOKS * MAX_LINK_PER_SWEEP and sums[best] >= SYNC_SHARE * total \
                    and self.spread_khz(p, read, window) <= OVEN_MAX_SPREAD_KHZ:
                self.on[p, read, window] = True

    def spread_khz(self, period: int, read: int, window: np.ndarray) -> float:
        """The window's hits' SD of frequency within their phase bins (pooled over the
        window's bins): what one bin's hits scatter about their own mean."""
        squares = weight = 0.0
        for b in window.tolist():
            n = float(self.hist[period, read, b])
            if n > 0.0:
                f_sum = float(self.f_sum[period, read, b])
                squares += float(self.f_squares[period, read, b]) - f_sum * f_sum / n
                weight += n
        return math.sqrt(max(squares, 0.0) / weight) if weight > 0.0 else 0.0


class ReferenceBandHoppers:
    """The hopper stage of one front end's plan (n_bins channels from start_khz, step_khz apart).
    A single read is hot above alpha x the noise mean (the floor detector's alpha). In NumPy:
    the oracle of BandHoppers, whose looks are compiled (straja._detect_hoppers).

    The baseline starts as PRIOR_SWEEPS of noise alone and learns a sweep's hits
    LEARN_DELAY_US after it: every hit into the busy cells' map, and into the site's rate
    only the hits of sweeps in which no hopper was reported (a hopper's are not the site's)."""

    def __init__(self, n_bins: int, start_khz: float, step_khz: float, alpha: float,
                 pfa_cell: float, read_pos: np.ndarray | None = None, capacity: int = 4096,
                 read_slots: np.ndarray | None = None):
        self.n_bins, self.alpha, self.pfa_cell = n_bins, alpha, pfa_cell
        # each cell's read position in a sweep (protocol.read_positions): channel order unless
        # the node interleaves its sweep; the mains gate's read times are estimated from it
        self.read_pos = np.arange(n_bins, dtype=np.int64) if read_pos is None else read_pos
        # each cell's first and second read's slot of the sweep's 2 n_bins (protocol.read_slots:
        # exact with the plan's revisit block), the counted hits' times; else the estimate
        self.read_slots = np.stack([2 * self.read_pos] * 2) if read_slots is None else read_slots
        self.freq_khz = start_khz + step_khz * np.arange(n_bins)
        self.max_width = max(1, int(HIT_WIDTH_KHZ // step_khz)) if step_khz > 0 else 1
        # the advertising channels carry every BLE device's advertising, on air at any site:
        # never a hopper's hits (a hopper loses ~3 of its ~60 cells to this)
        adv_khz = 1000.0 * np.array(list(rf.BLE_ADV_MHZ.values()))
        self.ble_adv = (np.abs(self.freq_khz[:, None] - adv_khz).min(axis=1)
                        <= abs(step_khz) / 2 + BLE_ADV_HALF_KHZ)
        self.counts = np.zeros(n_bins)        # EWMA-weighted hits per cell, learnt sweeps
        self.power = np.zeros(n_bins)         # the same of their mW (a cell's hits' mean level)
        # the cells of each 2.4 GHz Wi-Fi channel (none outside the band)
        self.wifi_centres_khz = 1000.0 * np.array(WIFI_CHANNELS_MHZ)
        self.wifi_cells = np.abs(self.freq_khz[None, :] - self.wifi_centres_khz[:, None]) \
            <= WIFI_HALF_KHZ
        self.skirt_mw = np.zeros(n_bins)      # a hit under this is a piled channel's skirts
        self.weight = float(PRIOR_SWEEPS)     # EWMA-weighted learnt sweeps, the prior's first
        self.site = np.zeros(n_bins)          # the same, of the sweeps with no hopper reported
        self.site_weight = float(PRIOR_SWEEPS)
        self._pending: deque = deque()        # (start, hit cells, their read times, gated,
                                              # the read, a hopper reported) not learnt
        self.sweeps = 0
        self.reads = 1                        # single reads a sweep (process() sets it)
        self._window_starts: deque = deque()  # starts of the sweeps in the longest window
        self._hot = np.zeros(n_bins + 2, np.int8)
        # ring of the counted hits (in quiet cells): read time, cell, power, power over the
        # threshold, held
        self._t = np.full(capacity, np.iinfo(np.int64).min, np.int64)
        self._cell = np.zeros(capacity, np.int32)
        self._mw = np.zeros(capacity, np.float32)
        self._over = np.zeros(capacity, np.float32)
        self._held = np.zeros(capacity, bool)
        self._head = 0
        self.active: Hopper | None = None
        self._since_us = 0                    # start of the window that reported it
        self.new_hits = False
        self.mains = MainsGate()
        self._learning_since: int | None = None  # the first look learnt's time
        self._pile: tuple[int, ...] = ()      # the Wi-Fi channels piled, as capped...
        self._pile_since = 0                  # ...one access point's since this time
        # while a hopper is reported: the cells of the window's pile it was reported beside
        # (hits there not its own) and the level under which a hit is that pile's skirts
        self._report_piled, self._report_skirt_mw = np.zeros(n_bins, bool), np.zeros(n_bins)
        self._learnt(0)

    def _learnt(self, now: int) -> None:
        """What follows from the baseline alone, made again only when it learns (most looks
        learn nothing new): the cells not counted (busy(), BLE advertising, or in one access
        point's Wi-Fi channel piled with the site's hits, held for PILE_HOLD_US), the level
        under which a hit near a piled channel is its skirts, and the site's rate, the hits the
        others (quiet cells) give per learnt sweep."""
        pile = self.one_access_point(self.piled_channels(self.site, PILE_MIN_HITS))
        if self._learning_since is None or now - self._learning_since < LEARN_DELAY_US:
            pile = ()
        if bool(pile) != bool(self._pile):
            self._pile_since = now
        self._pile = pile
        piled = np.zeros(self.n_bins, bool)
        self.skirt_mw = np.zeros(self.n_bins)
        for j in self._pile if now - self._pile_since >= PILE_HOLD_US else ():
            block = self.wifi_cells[j]
            piled |= block
            level = float(self.power[block].sum()) / max(float(self.counts[block].sum()), 1.0)
            near = np.abs(self.freq_khz - self.wifi_centres_khz[j]) <= SKIRT_KHZ
            self.skirt_mw[near] = np.maximum(self.skirt_mw[near], level * SKIRT_RATIO)
        skip = self.busy() | self.ble_adv | piled
        self._skip = skip
        self.min_span_khz = self.span_outside(piled)
        quiet = ~skip
        self._rate = max(float(self.site[quiet].sum()) / self.site_weight,
                         self.pfa_cell * int(np.count_nonzero(quiet)))

    def span_outside(self, piled: np.ndarray) -> float:
        """The span asked of a hopper with the piled cells left out: the share of its span its
        hop set keeps outside them (FlySky above channel 1: 45 of its ~65 MHz), never less than
        a 22 MHz channel's frames."""
        return max(2 * WIFI_HALF_KHZ, MIN_SPAN_KHZ * (
            1.0 - int(np.count_nonzero(piled & ~self.ble_adv)) / self.n_bins))

    def piled_channels(self, hits: np.ndarray, min_hits: float) -> list[int]:
        """The Wi-Fi channels (indices of WIFI_CHANNELS_MHZ) whose cells hold `hits` (a cell's:
        the site's learnt hits, or a window's counted hits) PILE_RATIO times denser than the
        rest of the band (BLE advertising cells out), the fullest first, each against the cells
        no channel before it took, with min_hits at least (PILE_MIN_HITS learnt,
        WINDOW_PILE_MIN_HITS in a window): an access point's frames, read a cell at a time,
        each a narrow hit (docs/measured/hop80.md)."""
        free = ~self.ble_adv
        out: list[int] = []
        while True:
            best, most = -1, 0.0
            for j, cells in enumerate(self.wifi_cells):
                total = float(hits[cells & free].sum())
                if total > most:
                    best, most = j, total
            if best < 0 or most < min_hits:
                return out
            inside, rest = self.wifi_cells[best] & free, free & ~self.wifi_cells[best]
            if most * np.count_nonzero(rest) <= \
                    PILE_RATIO * float(hits[rest].sum()) * np.count_nonzero(inside):
                return out
            out.append(best)
            free = rest

    def one_access_point(self, piles: list[int]) -> tuple[int, ...]:
        """The piled channels (piled_channels, the fullest first) left out: the first alone,
        or with the second if both lie within one 40 MHz channel (HT40_SECONDARY_KHZ apart at
        most), in channel order; none if the second is farther (two access points)."""
        if len(piles) == 1:
            return (piles[0],)
        if len(piles) >= 2 and abs(self.wifi_centres_khz[piles[0]]
                                   - self.wifi_centres_khz[piles[1]]) <= HT40_SECONDARY_KHZ:
            return tuple(sorted(piles[:2]))
        return ()

    def busy(self) -> np.ndarray:
        """Cells the site keeps busy: hit more than QUIET_RATE per learnt sweep, by at least
        BUSY_MIN_HITS hits (one hit in a young baseline is no rate)."""
        return (self.counts >= BUSY_MIN_HITS) & (self.counts > QUIET_RATE * self.weight)

    def process(self, reads_mw: np.ndarray, held_mw: np.ndarray, noise_mw: np.ndarray,
                t_us: np.ndarray, duration_us: np.ndarray) -> Hopper | None:
        """Take sweeps: their single reads (float32 mW, (n_reads, n_sweeps, n_bins): the first
        reads, then the second reads if the node sends them), held reads (float32 mW), noise
        means, each sweep's start and duration. Returns the hopper reported after them (its
        hits since it was reported) or None; new_hits tells whether it took hits in these
        sweeps."""
        self.new_hits = False
        self.reads = reads_mw.shape[0]
        for k in range(reads_mw.shape[1]):
            for r in range(self.reads):
                self._look(reads_mw[r, k], held_mw[k], noise_mw[k], int(t_us[k]),
                           int(duration_us[k]), r > 0)
            self.sweeps += 1  # the boot is counted in sweeps: the noise floor settles per sweep
        return self.active

    def _look(self, single, held, noise, t0: int, duration: int, again: bool) -> None:
        """One read of the band; `again`: the second read of a sweep whose first was looked at
        (its held hits were counted there)."""
        threshold = self.alpha * noise
        busy = self._skip
        hit_cells = narrow_hits(single, threshold, self.max_width, self._hot)
        # the read of channel i is at about t0 + position(i) duration / n (docs/protocol.md,
        # SWEEP; its second read within the revisit's few dwells of that): the mains gate's
        # estimate (the counted hits' times are their reads' slots', below)
        t_hit = t0 + self.read_pos[hit_cells].astype(np.int64) * duration // self.n_bins
        # hits read in a mains-locked emitter's on-window are its own: neither counted nor the
        # site's, when read or as the gate stands when they are learnt (an oven's hits before
        # it was recognised); the busy map learns them all (its band stays busy, whatever
        # leaks out of the window)
        bins = self.mains.bins(t_hit)
        gated = self.mains.gated(bins, int(again))
        adv = self.ble_adv[hit_cells]
        self.mains.feed([b[~adv] for b in bins], int(again),
                        self.freq_khz[hit_cells[~adv]] - self.freq_khz[0])
        keep = ~busy[hit_cells] & ~gated & ~(single[hit_cells] < self.skirt_mw[hit_cells])
        counted = hit_cells[keep]
        # read r of channel i at t0 + slot(r, i) duration / 2n (protocol.read_slots)
        t_counted = t0 + self.read_slots[int(again), counted].astype(np.int64) * duration \
            // (2 * self.n_bins)
        if counted.size:
            held_hit = held[counted] > self.alpha * noise[counted]
            if again:  # (its held hits were counted at the first read)
                counted, t_counted = counted[~held_hit], t_counted[~held_hit]
                held_hit = held_hit[~held_hit]
            ring = (self._head + np.arange(counted.size)) % self._t.size
            self._t[ring] = t_counted
            self._cell[ring], self._mw[ring], self._held[ring] = counted, single[counted], held_hit
            self._over[ring] = single[counted] / threshold[counted]
            self._head += counted.size
        now = t0 + duration
        self._window_starts.append(t0)
        while self._window_starts[0] < now - WINDOWS_US[-1]:
            self._window_starts.popleft()
        # a hit of the window's pile a hopper was reported beside is not the hopper's
        self._decide(now, busy, counted.size > 0, bool(np.any(~self._report_piled[counted] & ~(
            single[counted] < self._report_skirt_mw[counted]))))
        self._pending.append((t0, hit_cells, single[hit_cells], t_hit, gated, int(again),
                              self.active is not None))
        learnt = False
        while self._pending and self._pending[0][0] < now - LEARN_DELAY_US:
            _, cells, mw, times, was_gated, read, reported = self._pending.popleft()
            self.power *= 1.0 - 1.0 / BASELINE_SWEEPS
            self.power[cells] += mw
            self.weight = _learn(self.counts, self.weight, cells)
            if not reported:  # (a piled channel's skirts are not the site's, as they are learnt)
                site_cells = cells[~(was_gated | self.mains.gated(self.mains.bins(times), read)
                                     | (mw < self.skirt_mw[cells]))]
                self.site_weight = _learn(self.site, self.site_weight, site_cells)
            learnt = True
        if learnt:
            if self._learning_since is None:
                self._learning_since = now
            self._learnt(now)

    def _window(self, since_us: int):
        """(times, cells, mW, mW over the threshold) of the counted hits from since_us."""
        keep = self._t >= since_us
        return self._t[keep], self._cell[keep], self._mw[keep], self._over[keep]

    def _decide(self, now: int, busy: np.ndarray, hit: bool, own_hit: bool) -> None:
        """hit: a hit counted in this look; own_hit: one not of the pile the reported hopper
        was reported beside."""
        if self.active is not None:
            if now - self.active.t_last_us > LOST_US:
                self.active = None
                self._report_piled = np.zeros(self.n_bins, bool)
                self._report_skirt_mw = np.zeros(self.n_bins)
            elif own_hit:
                self.active = self._summary(self._since_us, self.active.expected)
                self.new_hits = True
            if self.active is not None:
                return
        if self.sweeps < BOOT_SWEEPS or not hit:
            return
        rate = self._rate
        starts = self._starts()
        # the longest window's hits in cells still quiet (cells that turned busy since their
        # hits were counted are not); the shorter windows' are among these
        t, cell, mw, over = self._window(now - WINDOWS_US[-1])
        quiet = ~busy[cell]
        t, cell, mw, over = t[quiet], cell[quiet], mw[quiet], over[quiet]
        piled, skirt_mw = self._window_pile(cell, mw)
        min_span_khz = self.min_span_khz
        skirt = np.zeros(cell.size, bool)
        if piled.any():  # its hits left out, its skirts' only counted against one link's (a
            # site busy outside the pile is busy), the rate and span asked outside it
            own = ~piled[cell]
            if np.count_nonzero(own) > PILE_LINK_PER_LOOK * len(self._window_starts):
                return  # more than one link's beside it: a busy site, not yet learnt
            t, cell, mw, over = t[own], cell[own], mw[own], over[own]
            skirt = mw < skirt_mw[cell]
            quiet_cells = ~busy & ~piled
            rate = max(float(self.site[quiet_cells].sum()) / self.site_weight,
                       self.pfa_cell * int(np.count_nonzero(quiet_cells)))
            min_span_khz = self.span_outside(piled)
        hits = t, cell, mw, over, skirt
        for window in WINDOWS_US:
            expected = self._test(now - window, window, rate, starts, hits, min_span_khz)
            if expected is not None:
                self._report_piled, self._report_skirt_mw = piled, skirt_mw
                self._since_us = now - window
                self.active = self._summary(self._since_us, expected)
                self.new_hits = True
                return

    def _window_pile(self, cell: np.ndarray, mw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cells, skirts' level a cell) of one access point's channel piled with the longest
        window's counted hits (cells, mW), as the learnt pile (piled_channels over the window's
        hits a cell, one_access_point; its level their mean mW), whose flanks (the
        HT40_SECONDARY_KHZ beyond each edge: where a 40 MHz channel's other half, or the rest
        of an oven's 30 MHz sweep, would be) each hold the hits not under its skirts' level no
        denser than PILE_RATIO times the rest of the band: an access point's frames from the
        first looks, before anything is learnt (a drone on from switch-on beside it: its hits
        and the access point's were one report, or too many for one link). None once a
        look is learnt: the site's rate then, and the learnt pile's rule (a busy site's 40 MHz
        access point piled so at 12 s was a false alert, hop89)."""
        piled, skirt_mw = np.zeros(self.n_bins, bool), np.zeros(self.n_bins)
        none = np.zeros(self.n_bins, bool), np.zeros(self.n_bins)
        if self._learning_since is not None or cell.size < WINDOW_PILE_MIN_HITS:
            return none
        per_cell = np.bincount(cell, minlength=self.n_bins).astype(np.float64)
        pile = self.one_access_point(self.piled_channels(per_cell, WINDOW_PILE_MIN_HITS))
        if not pile:
            return none
        for j in pile:
            block = self.wifi_cells[j]
            piled |= block
            inside = block[cell]
            level = float(mw[inside].astype(np.float64).sum()) / int(np.count_nonzero(inside))
            near = np.abs(self.freq_khz - self.wifi_centres_khz[j]) <= SKIRT_KHZ
            skirt_mw[near] = np.maximum(skirt_mw[near], level * SKIRT_RATIO)
        # each flank no denser than PILE_RATIO times the rest (skirts out; the rest's hits
        # counted with MIN_HITS more: a few hits' scatter is no spill): an access point's frames
        # stop at its channel's edges, a wider emitter's (or another access point's) spill
        lo, hi = self.freq_khz[piled].min(), self.freq_khz[piled].max()
        free = ~piled & ~self.ble_adv
        below = free & (self.freq_khz >= lo - HT40_SECONDARY_KHZ) & (self.freq_khz < lo)
        above = free & (self.freq_khz > hi) & (self.freq_khz <= hi + HT40_SECONDARY_KHZ)
        rest = free & ~below & ~above
        own = ~(mw < skirt_mw[cell])
        rest_hits = int(np.count_nonzero(own & rest[cell])) + MIN_HITS
        for flank in (below, above):
            if int(np.count_nonzero(own & flank[cell])) * int(np.count_nonzero(rest)) \
                    > PILE_RATIO * rest_hits * int(np.count_nonzero(flank)):
                return none
        return piled, skirt_mw

    def _starts(self) -> np.ndarray:
        """The starts of the looks in the longest window (int64)."""
        return np.fromiter(self._window_starts, np.int64, len(self._window_starts))

    def _test(self, since_us: int, window: int, rate: float, starts: np.ndarray,
              hits, min_span_khz: float) -> float | None:
        """The hits the site's rate expects in the window (from since_us, window us long) if
        the hits counted there are a hopper's: too many for the site, not too many for one
        link, spread over more than one Wi-Fi channel; else None. The windows share PFA_WINDOW.
        hits: (times, cells, mW, over the threshold, a window's pile's skirts: counted only
        against one link's) in quiet cells of a window at least as long."""
        t, cell, mw, over, skirt = hits
        if t.size and t.min() < since_us:
            keep = t >= since_us
            cell, mw, over, skirt = cell[keep], mw[keep], over[keep], skirt[keep]
        n_all = cell.size
        cell, mw, over = cell[~skirt], mw[~skirt], over[~skirt]
        if cell.size < MIN_HITS:
            return None
        n_sweeps = int(np.count_nonzero(starts >= since_us))
        if n_all > MAX_LINK_PER_SWEEP * n_sweeps:
            return None  # (tested first: a busy site's many hits make the span's work long)
        # the span of the hits near the strongest: one link's hits are at one level (give or
        # take fading), while a strong access point's frames light its skirts 20-30 dB down,
        # tens of MHz from its channel, before the site has learnt that channel as busy
        near = (mw >= mw.max() * SPAN_LEVEL_RATIO) & (over > NOISE_REACH)
        freqs = self.freq_khz[cell[near]]
        if freqs.size < MIN_HITS or freqs.max() - freqs.min() <= min_span_khz:
            return None
        expected = n_sweeps * rate
        if expected > MAX_EXPECTED * window / WINDOWS_US[0] \
                or poisson_tail(cell.size, expected) > PFA_WINDOW / len(WINDOWS_US):
            return None
        return expected

    def report_hits(self, since_us: int) -> np.ndarray:
        """Which slots of the ring of counted hits (bool) a hopper reported from since_us is
        made of: not of the window's pile it was reported beside, nor under that pile's skirts'
        level (the summary's hits; what the evaluation's evidence takes for the report)."""
        return (self._t >= since_us) & ~self._report_piled[self._cell] & ~(
            self._mw < self._report_skirt_mw[self._cell])

    def _summary(self, since_us: int, expected: float) -> Hopper:
        keep = self.report_hits(since_us)
        t, cell, mw, held = self._t[keep], self._cell[keep], self._mw[keep], self._held[keep]
        freqs = self.freq_khz[cell]
        return Hopper(int(t.size), int(np.unique(cell).size), float(freqs.min()),
                      float(freqs.max()), int(t.max()), float(mw.max()),
                      expected, int(np.count_nonzero(held)), self.reads)


class BandHoppers(ReferenceBandHoppers):
    """ReferenceBandHoppers compiled (straja._detect_hoppers.HopperLooks: hits, the ring of
    counted hits, the windows' starts, the baseline's learning, in place in these arrays, and
    the decision: no Python a look); the Hopper is made here only when the report changes."""

    def __init__(self, n_bins: int, start_khz: float, step_khz: float, alpha: float,
                 pfa_cell: float, read_pos: np.ndarray | None = None, capacity: int = 4096,
                 read_slots: np.ndarray | None = None):
        super().__init__(n_bins, start_khz, step_khz, alpha, pfa_cell, read_pos, capacity,
                         read_slots)
        self.read_pos = np.ascontiguousarray(self.read_pos, np.int64)
        self.read_slots = np.ascontiguousarray(self.read_slots, np.int64)
        self.freq_khz = self.freq_khz.astype(np.float64)  # (int64 from an int start and step)
        self._skip = np.zeros(n_bins, bool)
        self._looks = HopperLooks(
            alpha, pfa_cell, self.max_width, self.counts, self.site, self._skip, self.ble_adv,
            self.read_pos, self.read_slots, self._t, self._cell, self._mw, self._over, self._held,
            self.freq_khz, self.power, self.skirt_mw, self.wifi_cells, self.wifi_centres_khz,
            self.weight, self.site_weight, BASELINE_SWEEPS, BUSY_MIN_HITS,
            QUIET_RATE, LEARN_DELAY_US, windows_us=WINDOWS_US, lost_us=LOST_US,
            boot_sweeps=BOOT_SWEEPS, min_hits=MIN_HITS, max_link_per_sweep=MAX_LINK_PER_SWEEP,
            span_level_ratio=SPAN_LEVEL_RATIO, noise_reach=NOISE_REACH,
            min_span_khz=MIN_SPAN_KHZ, max_expected=MAX_EXPECTED,
            pfa_window=PFA_WINDOW / len(WINDOWS_US), mains_periods_us=MAINS_PERIODS_US,
            phase_bins=PHASE_BINS, on_bins=ON_BINS, sync_share=SYNC_SHARE,
            phase_looks=PHASE_LOOKS, oven_max_spread_khz=OVEN_MAX_SPREAD_KHZ,
            pile_min_hits=PILE_MIN_HITS, window_pile_min_hits=WINDOW_PILE_MIN_HITS,
            pile_link_per_look=PILE_LINK_PER_LOOK,
            pile_ratio=PILE_RATIO, skirt_khz=SKIRT_KHZ,
            skirt_ratio=SKIRT_RATIO,
            min_pile_span_khz=2 * WIFI_HALF_KHZ, ht40_secondary_khz=HT40_SECONDARY_KHZ,
            pile_hold_us=PILE_HOLD_US)

    def _learnt(self, now: int) -> None:
        """Made by the kernel (its __init__, and whenever it learns)."""

    @property
    def _rate(self) -> float:
        return self._looks.rate

    @property
    def min_span_khz(self) -> float:
        return self._looks.min_span_khz

    def process(self, reads_mw: np.ndarray, held_mw: np.ndarray, noise_mw: np.ndarray,
                t_us: np.ndarray, duration_us: np.ndarray) -> Hopper | None:
        self.reads = reads_mw.shape[0]
        looks = self._looks
        active = looks.process(reads_mw, held_mw, noise_mw, t_us, duration_us)
        self.new_hits = looks.new_hits
        if not active:
            self.active = None
        elif self.new_hits:  # summed up again (a hopper without new hits is the one it was)
            self.active = Hopper(*looks.report())
            self._since_us = looks.since_us
        self.sweeps, self._head = looks.sweeps, looks.head
        self.weight, self.site_weight = looks.weight, looks.site_weight
        return self.active

    def _starts(self) -> np.ndarray:
        return self._looks.window_starts()

    def report_hits(self, since_us: int) -> np.ndarray:
        return self._looks.report_hits(since_us)


def narrow_hits(single: np.ndarray, threshold: np.ndarray, max_width: int,
                hot: np.ndarray | None = None) -> np.ndarray:
    """The hits of one read (int64 cells): runs of cells over the threshold at most max_width
    wide, each at its peak. hot: an int8 work buffer of n_bins + 2 cells (zero at both ends)."""
    hot = np.zeros(single.size + 2, np.int8) if hot is None else hot
    np.greater(single, threshold, out=hot[1:-1], casting="unsafe")
    if not hot.any():  # a read with nothing above the floor (most, away from Wi-Fi and Bluetooth)
        return NO_CELLS
    edges = np.flatnonzero(np.diff(hot))
    starts, ends = edges[0::2], edges[1::2]
    narrow = (ends - starts) <= max_width
    return np.array([s + int(np.argmax(single[s:e])) for s, e in
                     zip(starts[narrow].tolist(), ends[narrow].tolist())], np.int64)


def _learn(counts: np.ndarray, weight: float, cells: np.ndarray) -> float:
    """One sweep's hits into an EWMA of hits per cell (in place); returns the new weight."""
    counts *= 1.0 - 1.0 / BASELINE_SWEEPS
    counts[cells] += 1.0
    return weight * (1.0 - 1.0 / BASELINE_SWEEPS) + 1.0
