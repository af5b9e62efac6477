"""The detection pipeline of one node's front end: sweeps in, detections, bursts, track events
and drone alerts out (features and classes of all tracks on demand: Pipeline.tracks()).
Streaming: state carries over between calls; work buffers are kept and reused, so a steady
stream of equal batches allocates only its results.

    codes or mW --> CFAR across frequency --+--> (revisit: bursty-cell mask) --> bursts
                --> noise floor (detector) --+                 --> tracks --> classes
                --> CFAR across time (optional) -+
    single reads (2.4 GHz) --> narrow hits over time vs the site's baseline --> band hopper

The frequency CFAR finds narrow emitters against their neighbours; the floor detector
(power > alpha x noise mean, alpha from pfa and the readings' looks) finds wide ones that fill a CFAR window (video, Wi-Fi) and
emitters on air since start-up; the time CFAR finds what switches on. A cell is detected when
any of them fires, so the cell false-alarm rate is at most the sum of their pfa.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from straja import _track_features, rf
from straja._detect_busy import BusyCells
from straja._detect_hoppers import clear_speckled_pieces
from straja._detect_split import SteadinessSplit
from straja._detect_sweep import SweepStages
from straja.detect import cfar
from straja.detect._arrays import check_array
from straja.detect.bursts import BURST, BurstExtractor
from straja.detect.classify import (CLASSES, DRONE_FAMILIES, NO_STRADDLE, RESOLVED_PERIOD_US,
                                    STEADY_MAX_SD_DB, STEADY_MIN_BURSTS, STRADDLE, STREAK_CHANCE,
                                    STREAK_SD_SHARE, VIDEO_MAX_KHZ,
                                    WIDE_KHZ, Scan, band, band_hopper, classify_rows,
                                    hopper_told, ieee_div, standing_video)
from straja.detect.hoppers import HIT_WIDTH_KHZ, BandHoppers, Hopper
from straja.detect.site_rate import BandReport, SiteRate
from straja.detect.noise import NoiseFloor, floor_alpha
from straja.detect.tracks import EVENT, FEATURES, STATES, Tracker, TrackerConfig, channel_span
from straja.protocol import FLAG_INTERLEAVED, read_positions, read_slots


UINT8 = np.dtype(np.uint8)
# Revisit sweeps (docs/detection.md, "Hoppers seen by a scanner"): a neighbourhood of one Wi-Fi channel
# (20 MHz) is "bursty" when its single reads are often hot (an emitter is there a fair share of
# the time) but its held reads rarely (it does not stay: frames, not a link dwelling on a
# channel). Held hits there are frames caught twice, not a hopper: they are masked. A hopper is
# rarely on any one channel (single-read occupancy ~2 %); a continuous emitter holds every read.
BUSY_WIDTH_KHZ = 20_000.0
BUSY_SINGLE = 0.01            # single-read occupancy of the neighbourhood at least this...
BUSY_HELD_RATIO = 0.5         # ...and held occupancy under this share of it: bursty (Wi-Fi holds
                              # its load's share, 0.05-0.3; ELRS 2.4 0.7-0.8, measured)
BUSY_MEMORY_SWEEPS = 64       # occupancy averaged over about this many sweeps (EWMA, ~11 s)
BUSY_WARM_SWEEPS = 16         # until then every held hit is masked (occupancy not yet known)
# ...but a held hit in a bursty neighbourhood is kept when the neighbourhood's reads at its level
# hold (held at least BUSY_LEVEL_RATIO of the single, counted over the reads from BUSY_MARGIN_DB
# below its level up): a resident's level at a node is steady, spread by fading (Rayleigh: a read
# 10 dB over its mean 1 time in 20 000), so a held hit that far above the bursty activity is not
# that activity's, and what reaches its level dwells: a read is held with probability about
# 1 - revisit / dwell, so 2/3 needs a dwell of 3 revisits (12.6 ms at the evaluation plan's
# 4.2 ms): ELRS 2.4 at 150 Hz (27 ms, 0.7-0.8 held), not a BLE connection's 7.5 ms events (0.44,
# measured) nor frames (docs/measured/det27.md). Levels in BUSY_BAND_DB
# bands over the noise mean, BUSY_BANDS of them (the last open).
BUSY_BAND_DB = 5.0
BUSY_BANDS = 10
BUSY_MARGIN_DB = 10.0
BUSY_LEVEL_RATIO = 2 / 3
# Speckled frame pieces (revisit plans, band hopper's bands): a held narrow piece with at least
# FRAME_MIN_HOT other hot cells within FRAME_REACH_KHZ either side in one of its single reads
# lies inside a wide frame read under frequency-selective fading (a 20/40 MHz channel lit in
# scattered cells, nulls wider than the one cell wide_frame_pieces bridges); a hop lights one
# or two cells of a read, the rest of its neighbourhood quiet
FRAME_REACH_KHZ = 10_000.0
FRAME_MIN_HOT = 3
# Steadiness split (docs/detection.md, "Steadiness split"; kernel straja._detect_split): with
# channel-wide bins (a video scanner's step), a run of detected bins is cut between neighbours
# that behave differently over sweeps, so that a continuous carrier (video: hot in every sweep,
# its reading steady) beside a bursty emitter (an access point: hot in a share of sweeps, each
# reading holding a share of a frame) is not absorbed into it:
# - hot streaks (sweeps detected running) SPLIT_RATIO or more apart, the longer at least
#   SPLIT_MIN_SWEEPS, where the newer bin is at least as strong when hot (its mean hot reading,
#   an EWMA at SPLIT_RATE): a carrier's own weaker skirt, lit later, stays with it; and with
#   SPLIT_RATIO 2, SPLIT_MIN_SWEEPS 3 makes the streaks differ by 2 sweeps or more: a sweep reads
#   its channels one after the other, so one emitter switched on (or rising over the threshold)
#   part-way through a sweep lights the channels read after that instant a sweep before the
#   others (a 40 MHz OcuSync straddling two channels: its halves 1:2 and cut apart at 2,
#   ocusync_40_straddling_and_analog_r2); a newcomer beside a carrier on for 3 sweeps or more
#   is still cut (R2 beside R1);
# - or jitter (mean change of a bin's reading between consecutive hot sweeps, EWMA at
#   SPLIT_RATE) SPLIT_RATIO or more apart, the larger at least SPLIT_JITTER_DB, where the
#   jittery bin is at least as strong when hot: an access point hot sweep after sweep swings by
#   4-6 dB, video by ~1 dB (docs/scenes.md), its skirts alike; the weaker edges of a wide
#   steady emitter (an 80 MHz access point at load 0.9) stay with it;
# - or a dip between them: a bin (cold between them, or hot between two hot bins) whose signal
#   (mean hot reading less the band's floor) is SPLIT_DIP_DB or more under both its hot
#   neighbours', both steady carriers (hot SPLIT_MIN_SWEEPS sweeps running, jitter under
#   SPLIT_JITTER_DB). One channel read through the filter has one peak, so a dip between two
#   steady peaks is two carriers (a flat top straddling two bins reads them within classify's
#   BALANCED_DB, under this; a steady carrier's mean hot reading scatters ~0.2 dB):
#   two_drones' F2 and DJI 45 MHz apart, hot either side of a cold bin, were one run.
# Finer steps see one wide emitter as many bins whose behaviour differs (frames lit in parts of
# a channel): no split.
SPLIT_MIN_STEP_KHZ = WIDE_KHZ
SPLIT_RATIO = 2
SPLIT_MIN_SWEEPS = 3
SPLIT_JITTER_DB = 3.0
SPLIT_DIP_DB = 3.0
SPLIT_RATE = 0.25
SPLIT_STREAK_CAP = 1 << 20    # streaks stop counting here (an int32 never wraps)
# A bin's history before its streak (the classifier's `busy_before`): the share of sweeps it was
# hot in (EWMA at 1 / HISTORY_SWEEPS, ~26 s at the RX5808's 0.41 s sweep) when its streak began;
# unknown (NaN) for a streak begun in the first HISTORY_MIN_SWEEPS sweeps. A newly arrived
# continuous emitter starts from a quiet channel (a share near the cell pfa); a bursty one
# (an access point) lights its channel again and again. And the share of sweeps a bin was
# beside a cut (`cut_share`, same EWMA): a piece of a wider emitter, not one on its own.
HISTORY_SWEEPS = 64
HISTORY_MIN_SWEEPS = 16
# Video under an access point's frames (docs/measured/det55.md; the split's `standing` and
# `up_before`, Pipeline._standing_named): a channel's lower envelope over sweeps. Video is on in
# every look; an access point only while it sends, so its channel reads the floor in the looks
# that fall in its gaps (measured: 15-53 % of sweeps under STAND_DB at loads 0.5-0.6), while a
# video under it never reads under its own level. A channel read STAND_DB (the floor's own
# scatter is ~0.5 dB at 470 looks) over the band's floor in each of n sweeps running, from a
# past that stood in a share up_before of the sweeps, is a run of chance up_before ** n;
# at STAND_CHANCE (det40's bar for a bursty past: 2 x STEADY_MIN_BURSTS sweeps on a quiet
# channel), after at least STAND_MIN_SWEEPS, inside a wider track whose other channels read
# the access point's gaps meanwhile (a channel of it, standing in STAND_SIBLING_UP of the sweeps
# or more, that read under STAND_DB in the latter half of the block's run: its own run at most
# STAND_SIBLING_SHARE of the block's; and so often over the run (the split's `stood`, its last
# STOOD_SWEEPS) that at its share the block's run is a chance of STAND_CHANCE too: the block's
# past is no measure of an access point whose level walks with slow shadowing, lifted 6-7 dB
# for ~10 s it stands more often on all its channels alike, one of them in every sweep by
# chance (suburban4_apartments_5ghz_bg, n3: 14 sweeps running from a past of 0.17, its
# siblings in 7-9 of those 14; det66). An access point reads alike across its channel, so one
# whose load rose to saturation stands over all of it from one sweep, a sweep apart at most
# (its channels are read one after the other); the skirt beside its channel, ~20 dB under by the
# 802.11 mask, stands only in its strongest frames: 5-13 % of sweeps, measured), and no wider
# than a video channel, the block is a continuous emitter. A stationary saturated access point
# (up_before near 1) never reaches STAND_CHANCE. With no such channel beside it (video alone at
# its node, its track made while it flickered at the threshold and widened by pieces lit beside
# it), the block's readings over its streak must be a video's: steady within STREAK_SD_SHARE of
# STEADY_MAX_SD_DB, as classify's streak rule holds a clean streak (a 20 MHz access point whose
# load rose to saturation reads its frames' share of each look and their fading: 1.5-2.5 dB).
STAND_DB = 3.0
STAND_CHANCE = STREAK_CHANCE ** 2
STAND_MIN_SWEEPS = 2 * STEADY_MIN_BURSTS
STAND_SIBLING_UP = 0.25
STAND_SIBLING_SHARE = 0.5
STOOD_SWEEPS = 64  # the sweeps the split's `stood` keeps (one bit each in a uint64 a bin)
LOOK_GAP_MAX = 256  # calls with bursts between two looks at confirmed tracks not yet alerted
# ...but they are looked at (all of them) in the sweep a channel's streak of hot sweeps reaches
# the steady rules' evidence (classify._steady: STEADY_MIN_BURSTS sweeps, twice that for a weak
# one): video that came on over an access point's old track is named then, not once that
# track's bursts have grown by a quarter (minutes of them, for an access point seen since boot)
STREAK_LOOKS = (STEADY_MIN_BURSTS, 2 * STEADY_MIN_BURSTS)
CONTROL_FAMILIES = ("lora_fhss", "gfsk_fhss")  # the hopping control links
# The band hopper (straja.detect.hoppers) is reported as a track of this id (the tracker's are
# >= 0), in the bands where control links hop per packet over tens of MHz
HOPPER_TRACK_ID = -1
# A track whose last burst's centre lies within this many steps of the midpoint of two adjacent
# channels straddles them (Pipeline.straddle): a two-bin run's centre is their midpoint
STRADDLE_OFFSET = 0.25
# ...and the channels' signals (mean hot reading less the band's floor, the median noise mean of
# the sweep: a channel's own noise estimate creeps up under an emitter on air for long) are
# compared where both are at least this share of that floor (1 dB over it): a far emitter reads
# 1.5-4 dB over the floor (ocusync_40_straddling_and_analog_r2, measured), and an FM carrier's
# far channel, ~10 dB under its near one, is then under it
STRADDLE_MIN_SIGNAL = 0.25
# ...and only where the two channels share one past (`busy_before`, the HISTORY_* EWMA, within
# this of each other; unknown: compared): a flat top lights both halves from the sweep it comes
# on, and both were quiet (or both lit as often, a weak one flickering over the floor) before.
# Two equal halves' shares, EWMAs at 1/64 of one chance p, differ by sqrt(p (1 - p) / 64) at most
# 0.06 (p = 0.5), a quarter 4 times that; a channel hot in a quarter more of the sweeps before is
# another emitter's, an access point on its channel whose frames, read as strong as the video
# when hot, balance a peaked FM carrier's near channel (analog R4 at 5769 MHz read at 5765 MHz,
# channel 157's access point at 5785: pasts 0.00 and 0.70, "lit equally": OFDM; det38)
STRADDLE_PAST_GAP = 0.25
HOPPER_BANDS = ("2g4",)
# A wide emitter's skirt (docs/detection.md, "Skirts of a wide emitter"): a transmitter's
# out-of-channel emission (OFDM's spectral regrowth, an FM carrier's sidebands) lies on either
# side of its channel at a level its spectral mask bounds: 802.11's OFDM mask is -20 dBr at the
# channel's edge, -28 dBr a width from its centre, -40 dBr at 1.5 widths, and OFDM video
# transmitters meet the same class of mask (ETSI EN 300 328's out-of-band domain reaches 2 widths
# beyond the channel's edge). A scanner near such an emitter reads the skirt as narrow cells
# just over the floor, steady and held (continuous), so a track of them reads as a hopper's
# held hits. A narrow track all within SKIRT_WIDTHS of a live confirmed wide track's centre and,
# at its strongest, at least SKIRT_BELOW_DB under that track's latest reading (both per cell, as
# the mask's dBr) is that emitter's skirt: not a control link on this node (another node, not
# this near the wide emitter, sees a real link at its own level).
SKIRT_WIDTHS = 2.5            # the mask's out-of-band domain: the channel and 2 widths beyond
SKIRT_BELOW_DB = 20.0         # the mask's highest step outside the channel
_CONFIRMED = STATES.index("confirmed")


def _stood_share(stood: int, window: int) -> float:
    """The share of the last `window` sweeps (at most STOOD_SWEEPS) a bin stood in, from the
    split's `stood` (bit k: k sweeps ago)."""
    return bin(stood & ((1 << window) - 1)).count("1") / window


@dataclass(frozen=True)
class PipelineConfig:
    pfa: float = 1e-6                 # per cell and per detector
    looks: float = 1.0                # samples averaged per reading (RSSI bandwidth x window):
                                      # noise is Gamma(looks); > 1 needs cfar_kind "ca"
    code_db: float = 0.5              # readings' quantisation step (SWEEP codes: 0.5 dB)
    cfar_kind: str = "ca"
    n_train: int = 8                  # per side, across frequency
    n_guard: int = 1
    floor_detector: bool = True
    time_cfar: bool = False
    time_train: int = 16              # earlier sweeps, across time
    time_guard: int = 2
    max_gap_bins: int = 1
    max_gap_sweeps: int = 0
    max_burst_sweeps: int = 16        # a continuous emitter yields one burst per this many sweeps
    revisit: bool = False             # readings are the lower of two reads (SWEEP flag REVISIT)
    interleaved: bool = False         # channels read in the interleaved order (flag INTERLEAVED)
    revisit_block: int = 0            # the plan's `revisit` (dwells; 0: not known): each read's
                                      # slot, so its time, is then exact (protocol.read_slots)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)


@dataclass(slots=True)
class Result:
    det: np.ndarray                # uint8 (n_sweeps, n_bins), a view of a reused buffer
    noise_mw: np.ndarray | None    # float32 noise mean per cell, a view of a reused buffer
    bursts: np.ndarray             # BURST records closed by this batch
    events: np.ndarray             # EVENT records: track life-cycle transitions
    alerts: np.ndarray             # CLASSES of tracks that became confirmed drone links now
    hopper: Hopper | None = None   # the band hopper, when it took hits in this batch (and no
                                   # drone track names the link)
    # class_rows() of the tracks this batch classified (the confirmed tracks looked at for an
    # alert), by track id: the same as any later class_rows() of them before the next batch
    # (the gateway observes them in the same sweep, without classifying them again)
    classed: dict | None = None
    # a sub-GHz band's rate of new hits over its site's, learnt (site_rate), in this batch
    band_report: BandReport | None = None


class Pipeline:
    """One node's front end, whose sweeps have n_bins channels from start_khz, step_khz apart."""

    def __init__(self, n_bins: int, start_khz: float, step_khz: float,
                 config: PipelineConfig | None = None):
        self.config = c = config or PipelineConfig()
        self.n_bins = n_bins
        self._step_khz = float(step_khz)
        self.design = cfar.design(c.cfar_kind, c.pfa, c.n_train, c.n_guard, looks=c.looks,
                                  code_db=c.code_db)
        self.noise = NoiseFloor(n_bins, looks=c.looks) if c.floor_detector else None
        self.time = (cfar.TimeCFAR(n_bins, cfar.design(c.cfar_kind, c.pfa, c.time_train,
                                                        c.time_guard, axis="time", looks=c.looks,
                                                        code_db=c.code_db))
                     if c.time_cfar else None)
        self.bursts = BurstExtractor(n_bins, start_khz, step_khz, c.max_gap_bins,
                                     c.max_gap_sweeps, c.max_burst_sweeps)
        # a hopper's channels lie in one hop plan (rf.HOP_PLANS_MHZ), a scan step either side
        plan_khz = 1000.0 * rf.widest_hop_plan_mhz(start_khz / 1000.0,
                                                   (start_khz + step_khz * (n_bins - 1)) / 1000.0)
        self.tracker = Tracker(replace(c.tracker, hop_span_khz=min(c.tracker.hop_span_khz,
                                                                    plan_khz + step_khz)))
        self._split = steadiness_split(n_bins) if step_khz >= SPLIT_MIN_STEP_KHZ else None
        self._start_khz = start_khz
        self._floor_alpha = floor_alpha(c.pfa, c.looks, c.code_db)
        self._burst_kernel = self.bursts._kernel
        self._tracker_kernel = self.tracker._kernel
        self._pending: dict[int, int] = {}  # confirmed, not alerted: bursts when last classified
        self._bursts_seen = self._next_look = 0  # calls that brought bursts; next look at pending
        self._look_gap = 1
        self._no_bursts = np.empty(0, BURST)
        self._no_events = np.empty(0, EVENT)
        self._no_alerts = np.empty(0, CLASSES)
        self._quiet: Result | None = None  # the Result of a quiet sweep (process)
        if c.revisit:
            if self.noise is None:
                raise ValueError("revisit needs the floor detector (its noise estimate)")
            self._busy = busy_cells(n_bins, step_khz, self._floor_alpha)
        else:
            self._busy = None
        centre_khz = start_khz + step_khz * (n_bins - 1) / 2
        order = FLAG_INTERLEAVED if c.interleaved else 0
        self._hoppers = (BandHoppers(n_bins, start_khz, step_khz, self._floor_alpha, c.pfa,
                                     read_positions(n_bins, order),
                                     read_slots=read_slots(n_bins, order, c.revisit_block))
                         if c.revisit and band(centre_khz) in HOPPER_BANDS else None)
        # a channel's read time in its sweep: the packet clock's hit times (tracks.Tracker)
        self.tracker.read_at = (read_positions(n_bins, order) + 0.5) / n_bins
        self._site_rate = (SiteRate(step_khz) if band(centre_khz) == "subghz" and step_khz > 0
                           else None)
        self._hit_cells = max(1, int(HIT_WIDTH_KHZ // step_khz)) if step_khz > 0 else 1
        self._frame_cells = max(1, round(FRAME_REACH_KHZ / step_khz)) if step_khz > 0 else 1
        # the stages up to the bursts, compiled as one call (straja._detect_sweep)
        self.stages = SweepStages(
            n_bins, self.design.kernel, None if self.noise is None else self.noise._state,
            self._floor_alpha, None if self.time is None else self.time._state, self._busy,
            self._hoppers,
            self._hit_cells, self._burst_kernel, self._tracker_kernel, self.tracker, self._split,
            RESOLVED_PERIOD_US, c.revisit)
        # one sweep's work buffers: the stages' own (power, det, noise, extra) and the split's
        # cuts; a batch of other sizes gets its own, kept (_buffers_for)
        self._one_sweep = (self.stages.power, self.stages.det, self.stages.noise,
                           self.stages.extra, np.zeros((1, n_bins), np.uint8))
        self._work = self._one_sweep
        self._drone_tracks: set[int] = set()  # tracks alerted as drone links, while live

    def _buffers_for(self, n_sweeps: int):
        """(power, det, noise, time, cut) work buffers for n_sweeps sweeps: the stages' own for
        one sweep, else views of kept arrays, grown when a batch needs more rows."""
        if n_sweeps == 1:  # (a live stream: one sweep a call, every call)
            return self._one_sweep
        if len(self._work[0]) < n_sweeps:
            self._work = tuple(np.empty((n_sweeps, self.n_bins), w.dtype) for w in self._work)
            return self._work
        return tuple(w[:n_sweeps] for w in self._work)

    @property
    def _noise_now(self) -> np.ndarray:
        """The last sweep's noise mean (float32, n_bins; NaN before the first or without the
        floor detector), kept by the stages."""
        return self.stages.noise_now

    @_noise_now.setter
    def _noise_now(self, values) -> None:
        self.stages.noise_now[:] = values

    def process(self, sweeps, t_us, duration_us, single=None, second=None) -> Result:
        """Take a batch of sweeps: RSSI codes (uint8) or linear mW (float32), (n_sweeps, n_bins),
        with each sweep's start t_us and duration_us (int64, SWEEP header fields). With
        config.revisit, `single` holds the first reads (codes, same shape) of the held sweeps:
        held hits in bursty neighbourhoods are masked (BUSY_*), and in the band hopper's bands
        the held pieces of frames lit wide in a read (wide_frame_pieces) or in scattered cells
        around them (speckled_frame_pieces); `second`, their
        second reads when the node sends them (SWEEP flag PAIRS): the band hopper counts the
        hits of both.

        The kernels are called directly (they check their arguments in C): on a live stream of
        one sweep per call, the Python layers would cost more than the work.
        """
        if not isinstance(sweeps, np.ndarray) or sweeps.ndim != 2:
            raise TypeError("sweeps must be a 2-D numpy array (n_sweeps, n_bins)")
        n, n_bins = sweeps.shape
        if n_bins != self.n_bins:
            raise ValueError(f"sweeps have {n_bins} bins, this pipeline {self.n_bins}")
        power, det, noise, extra, cut = self._buffers_for(n)
        if sweeps.dtype != UINT8:
            power = sweeps = check_array(sweeps, "sweeps", np.float32, 2)
        n_det = self.stages.stages(sweeps, power, det, noise, extra, t_us, duration_us, single,
                                   second)
        return self._later_stages(n, n_det, power, det, noise, cut, t_us, duration_us, single,
                                  second)

    def process_assembled(self) -> Result:
        """process() of the sweep the stages assembled from segments (SweepStages.segment()
        answered SEGMENT_DETECTED: its stages are run)."""
        st = self.stages
        power, det, noise, _, cut = self._one_sweep
        return self._later_stages(1, st.n_det, power, det, noise, cut, st.t_us, st.duration_us,
                                  st.single, st.second)

    def _later_stages(self, n, n_det, power, det, noise, cut, t_us, duration_us, single,
                      second) -> Result:
        """process() after the compiled stages: the band hopper, bursts, tracks, alerts."""
        # the band hopper (where one is kept) when it took hits in these sweeps (its look run
        # by the stages), unless a track already names the link (a hopper that holds its
        # channels is a track; one emitter, one report)
        hopper = self.stages.hopper if n and self._hoppers is not None else None
        if hopper is not None and not (self._hoppers.new_hits and not self._drone_tracks):
            hopper = None
        # quiet sweeps with nothing open skip the later stages (most calls of a live stream)
        if n_det == 0 and not self._burst_kernel.n_open_bursts:
            bursts = self._no_bursts
            if self._split is not None:
                self._split.quiet(n)
        else:
            if self._split is not None:
                cut = self._split.cuts(det, power, None if self.noise is None else noise, cut,
                                       self.config.max_gap_bins)
                streak = self._split.streak
                # a channel's streak reached STREAK_LOOKS: look at them all (kept by the stages,
                # which send a sweep on to Python while it is set)
                self.stages.streak_look |= bool(((streak == STREAK_LOOKS[0])
                                                 | (streak == STREAK_LOOKS[1])).any())
            else:
                cut = None
            if self._hoppers is not None and single is not None and n_det:
                clear_speckled_pieces(det, single, second, noise, self._floor_alpha,
                                      self._hit_cells, self._frame_cells, FRAME_MIN_HOT)
            bursts = self.bursts.process(det, power, t_us, duration_us, cut)
        if self.noise is None:
            noise = None
        alerts = self._no_alerts
        report = (None if self._site_rate is None or not n else
                  self._site_rate.feed(bursts, int(t_us[-1] + duration_us[-1]),
                                       self.stages.period_us))
        # a reported hopper is a drone link, named as its hits lean until they tell
        if hopper is not None and self.stages.hopper_reported is None:  # (reset when lost)
            self.stages.hopper_reported = hopper
            alerts = self.hopper_class(hopper)
        if not n or (not bursts.size and not self._tracker_kernel.n_live):
            if (bursts is self._no_bursts and alerts is self._no_alerts and hopper is None
                    and report is None):
                # a quiet sweep's Result holds only constants and the kept buffers: one made
                # again only when those change
                quiet = self._quiet
                if quiet is None or quiet.det is not det or quiet.noise_mw is not noise:
                    quiet = self._quiet = Result(det, noise, bursts, self._no_events, alerts)
                return quiet
            return Result(det, noise, bursts, self._no_events, alerts, hopper,
                          band_report=report)
        events = self.tracker.process(bursts, int(t_us[-1] + duration_us[-1]))
        track_alerts, classed = self._new_alerts(events, bursts.size > 0)
        if track_alerts.size:
            alerts = np.concatenate([alerts, track_alerts]) if alerts.size else track_alerts
        return Result(det, noise, bursts, events, alerts, hopper, classed, report)

    def hopper_class(self, hopper: Hopper) -> np.ndarray:
        """The band hopper as a CLASSES record (track id HOPPER_TRACK_ID), its band the channels
        of its hop set."""
        family, confidence, reason = band_hopper(hopper)
        half = self._step_khz / 2
        return np.array([(HOPPER_TRACK_ID, family, confidence, True, reason,
                          hopper.lo_khz - half, hopper.hi_khz + half)], CLASSES)

    @property
    def step_khz(self) -> float:
        """The channel step (scan.step_khz, without making the Scan)."""
        return self._step_khz

    @property
    def scan(self) -> Scan:
        """How this front end reads the spectrum (classify's Scan), as last measured; made when
        asked (classification is rare), not at every sweep."""
        return Scan(self._step_khz, self.stages.period_us, self.stages.sweep_us, self.config.revisit)

    def _new_alerts(self, events: np.ndarray, changed: bool) -> tuple[np.ndarray, dict | None]:
        """Confirmed tracks classified as a drone link for the first time (again after being
        lost), and the class rows of the tracks classified (Result.classed; None: none). A confirmed track's class can turn to drone as its bursts add evidence, so the
        confirmed tracks not alerted are looked at again: after 1 call with bursts, then after
        gaps growing by a quarter up to LOOK_GAP_MAX calls; a track is classified again when
        its burst count has grown by a quarter; all of them when a channel's streak reached
        STREAK_LOOKS."""
        if events.size:
            for tid in events["track_id"][events["to_state"] == 1].tolist():
                self._pending[tid] = 0
                self._look_gap = 1
            for tid in events["track_id"][events["to_state"] == 3].tolist():
                self._pending.pop(tid, None)
                self._drone_tracks.discard(tid)
        self._bursts_seen += changed
        streak_look, self.stages.streak_look = self.stages.streak_look, False
        if not self._pending or (self._bursts_seen < self._next_look and not events.size
                                 and not streak_look):
            return self._no_alerts, None
        self._look_gap = min(LOOK_GAP_MAX, self._look_gap + max(1, self._look_gap // 4))
        self._next_look = self._bursts_seen + self._look_gap
        snap = self.tracker.snapshot()
        # (one track or a few: plain tuples, not arrays of them)
        pending, rows = self._pending, []
        for row, (tid, n_bursts) in enumerate(zip(snap["track_id"].tolist(),
                                                  snap["n_bursts"].tolist())):
            due = pending.get(tid, -1)
            if due >= 0 and (n_bursts >= due * 1.25 or streak_look):
                rows.append(row)
                pending[tid] = n_bursts
        if not rows:
            return self._no_alerts, None
        classed = self.class_rows(snap[rows])
        classes = np.array(classed, CLASSES)
        alerts = classes[classes["drone"]]
        for tid in alerts["track_id"].tolist():
            del self._pending[tid]
            self._drone_tracks.add(tid)
        return alerts, {row[0]: row for row in classed}

    def tracks(self) -> tuple[np.ndarray, np.ndarray]:
        """(FEATURES, CLASSES) of the live tracks, in the same order."""
        snap = self.tracker.snapshot()
        return self._features(snap), self.classes(snap)

    def classes(self, snap: np.ndarray) -> np.ndarray:
        """CLASSES of the given rows of a tracker snapshot (a track's class is its own, but for
        a reported band hopper's hop set and a live wide emitter's skirt: _hop_set_named,
        _skirts_named; the caller picks the rows it needs, e.g. the confirmed tracks that took
        a burst)."""
        return np.array(self.class_rows(snap), CLASSES)

    def class_rows(self, snap: np.ndarray) -> list[tuple]:
        """classes() as tuples of Python values (classify.classify_rows), no array made."""
        per_row = None  # none straddling (most calls): classify's NO_STRADDLE for each
        for row, midpoint, balance in self._straddles(snap):
            per_row = per_row or [NO_STRADDLE] * snap.size
            per_row[row] = {"midpoint_khz": midpoint, "balance_db": balance}  # (as a record)
        feats = self._features(snap)
        rows = classify_rows(feats, self.scan, per_row)
        hopper = self.stages.hopper if self.stages.hopper_reported is not None else None
        if hopper is not None:
            rows = self._hop_set_named(rows, feats, hopper)
        if self._split is not None:
            rows = self._standing_named(rows, snap)
        return self._skirts_named(rows, feats)

    def _standing_named(self, rows: list[tuple], snap: np.ndarray) -> list[tuple]:
        """Wide 5.8 GHz tracks not named video that hold a block of channels standing over the
        floor (STAND_*) while another channel of the track read under it (video under an access
        point's frames), or reading steady over its streak: named by the block
        (classify.standing_video), whose channels are the row's band (CLASSES: what the gateway
        observes, and so what its video profile reads, is the video's channel, not the access
        point's whole run)."""
        if all(row[1] in DRONE_FAMILIES for row in rows):
            return rows  # (most calls: the gateway's, of the drone tracks that took a burst)
        wide = [row for row, (family, bw, n) in enumerate(zip(
            (r[1] for r in rows), snap["bw_sum_khz"].tolist(), snap["n_bursts"].tolist()))
            if bw >= WIDE_KHZ * n and family not in DRONE_FAMILIES]
        if not wide:
            return rows
        split, step, start = self._split, self._step_khz, self._start_khz
        # (a plan of a few tens of channels, looked at now and then: Python numbers, not arrays)
        standing, past = split.standing.tolist(), split.up_before.tolist()
        chance = [p ** n if n else 1.0 for p, n in zip(past, standing)]  # (NaN stays NaN)
        proven = [n >= STAND_MIN_SWEEPS and x <= STAND_CHANCE for n, x in zip(standing, chance)]
        if not any(proven):
            return rows
        up, streak, streak_sq = split.up.tolist(), split.streak.tolist(), split.streak_sq.tolist()
        stood = split.stood.tolist()
        names = snap.dtype.names
        spans = [channel_span(dict(zip(names, values)), start, step, self.n_bins)
                 for values in snap[wide].tolist()]
        out = list(rows)
        for row, (lo, hi) in zip(wide, spans):
            lo, hi = int(lo), int(hi)
            if band(start + step * (lo + hi) / 2) != "5g8":
                continue
            c = lo
            while c <= hi:
                if not proven[c]:
                    c += 1
                    continue
                end = c
                while end < hi and proven[end + 1]:
                    end += 1
                block = range(c, end + 1)
                shortest = min(standing[b] for b in block)
                window = min(shortest, STOOD_SWEEPS)
                gaps_beside = any(standing[b] <= STAND_SIBLING_SHARE * shortest
                                  and up[b] >= STAND_SIBLING_UP
                                  and _stood_share(stood[b], window) ** shortest <= STAND_CHANCE
                                  for b in range(lo, hi + 1) if b not in block)
                steady = all(streak[b] >= 2 and math.sqrt(streak_sq[b] / (2 * (streak[b] - 1)))
                             <= STREAK_SD_SHARE * STEADY_MAX_SD_DB for b in block)
                if len(block) * step <= VIDEO_MAX_KHZ and (gaps_beside or steady):
                    family, conf, why = standing_video(
                        start + step * (c + end) / 2, len(block), step, shortest,
                        max(chance[b] for b in block), int(snap["n_bursts"][row]))
                    out[row] = (rows[row][0], family, conf, True, why,
                                start + step * (c - 0.5), start + step * (end + 0.5))
                    break
                c = end + 1
        return out

    def _skirts_named(self, rows: list[tuple], feats: np.ndarray) -> list[tuple]:
        """Control-link tracks that are a live wide emitter's skirt (SKIRT_*) named unknown:
        ocusync_24_alone's 10 MHz OcuSync, read at -68 dBm by the node it passes, lit held
        cells at -104 dBm over 46 MHz around it, named ELRS (docs/detection.md)."""
        if not any(row[1] in CONTROL_FAMILIES for row in rows):
            return rows  # (most calls: no live tracks looked at)
        live = self.tracker.snapshot()
        wide = [(c, bw, level) for c, bw, level, state in zip(
            (0.5 * (live["f_min_khz"] + live["f_max_khz"])).tolist(),
            (live["bw_sum_khz"] / live["n_bursts"]).tolist(), live["level_db"].tolist(),
            live["state"].tolist()) if bw >= WIDE_KHZ and state == _CONFIRMED]
        if not wide:
            return rows
        out = []
        for row, centre, spread, peak in zip(rows, feats["centre_khz"].tolist(),
                                             feats["spread_khz"].tolist(),
                                             feats["peak_dbm"].tolist()):
            if row[1] in CONTROL_FAMILIES and row[0] != HOPPER_TRACK_ID:
                for c, bw, level in wide:
                    if (abs(centre - c) + spread / 2 <= SKIRT_WIDTHS * bw
                            and peak <= level - SKIRT_BELOW_DB):
                        row = (row[0], "unknown", row[2], False,
                               f"narrow, {level - peak:.0f} dB under the {bw / 1000:.0f} MHz "
                               f"emitter at {c / 1000:.0f} MHz: its skirt", *row[5:])
                        break
            out.append(row)
        return out

    def _hop_set_named(self, rows: list[tuple], feats: np.ndarray, hopper: Hopper) -> list[tuple]:
        """Control-link tracks within a reported band hopper's hop set take its family, once
        told (classify.hopper_told; a leaning name would rename ELRS's tracks GFSK): their
        held hits are among its hits, and its test of the share held over all of them
        (classify.band_hopper) tells what a track of held hits alone cannot: a link changing
        channel every packet holds ~8.5 % of its hits (FrSky), which a track gathers over tens
        of seconds into one named LoRa (frsky_alone: its alert renamed LoRa at 71 s)."""
        if not hopper_told(hopper):
            return rows
        family, _, why = band_hopper(hopper)
        lo, hi = hopper.lo_khz - self._step_khz, hopper.hi_khz + self._step_khz
        out = []
        for row, centre, spread in zip(rows, feats["centre_khz"].tolist(),
                                       feats["spread_khz"].tolist()):
            if (row[1] in CONTROL_FAMILIES and row[1] != family
                    and lo <= centre - spread / 2 and centre + spread / 2 <= hi):
                row = (row[0], family, row[2], row[3], f"held hits of the band hopper: {why}"[:120],
                       *row[5:])
            out.append(row)
        return out

    def straddle(self, snap: np.ndarray) -> np.ndarray:
        """Per track of the snapshot rows (classify's STRADDLE), where its last burst's centre
        lies within STRADDLE_OFFSET steps of the midpoint of two adjacent channels both hot now
        and of one past (STRADDLE_PAST_GAP; where the steadiness split runs: a two-bin run's
        centre is their midpoint): that
        midpoint, and the weaker channel's signal (its mean hot reading less the band's floor)
        over the stronger's in dB, which tells a flat top straddling them from a peaked FM carrier
        (classify's BALANCED_DB); NaN elsewhere, or where either signal is under
        STRADDLE_MIN_SIGNAL of that floor (too weak to compare)."""
        out = np.full(snap.size, np.nan, STRADDLE)
        for row, midpoint, balance in self._straddles(snap):
            out[row] = midpoint, balance
        return out

    def _straddles(self, snap: np.ndarray) -> list[tuple[int, float, float]]:
        """straddle()'s rows that are not NaN, as (row, midpoint_khz, balance_db): no array
        made for the many calls where none is (the gateway's, every sweep a track takes a
        burst)."""
        split = self._split
        if split is None or not snap.size:
            return []
        # one track or a few a call (the gateway's per sweep): Python numbers, not arrays
        start, step, last = self._start_khz, self._step_khz, self.n_bins - 1
        pairs = []  # (row, lower channel) of the tracks between two channels
        for row, f_last in enumerate(snap["f_last_khz"].tolist()):
            pos = (f_last - start) / step
            if math.isfinite(pos) and 0 <= (lo := math.floor(pos)) < last \
                    and abs(pos - lo - 0.5) <= STRADDLE_OFFSET:
                pairs.append((row, lo))
        if not pairs:  # no track between two channels (most calls): no floor to take
            return []
        floor = _median(self._noise_now)  # NaN before the first sweep: none compared
        hot, streak, past = split.hot_mw, split.streak, split.busy_before
        rows, midpoints, ratios = [], [], []
        for row, lo in pairs:
            sig_lo, sig_hi = hot.item(lo) - floor, hot.item(lo + 1) - floor
            if sig_lo != sig_lo or sig_hi != sig_hi:  # NaN: not compared (min() would drop it)
                continue
            weaker, stronger = min(sig_lo, sig_hi), max(sig_lo, sig_hi)
            if streak.item(lo) > 0 and streak.item(lo + 1) > 0 \
                    and weaker >= STRADDLE_MIN_SIGNAL * floor \
                    and not abs(past.item(lo) - past.item(lo + 1)) > STRADDLE_PAST_GAP:
                rows.append(row)
                midpoints.append(start + step * (lo + 0.5))
                ratios.append(ieee_div(weaker, stronger))
        if not rows:
            return []
        with np.errstate(invalid="ignore", divide="ignore"):
            balances = (10 * np.log10(np.array(ratios))).tolist()
        return list(zip(rows, midpoints, balances))

    def _features(self, snap: np.ndarray) -> np.ndarray:
        """tracks.features with tracks.with_excess, then tracks.with_history where the
        steadiness split runs: compiled (a few µs a call, not tens)."""
        feats = _track_features.features(snap, np.empty(snap.size, FEATURES), self._noise_now,
                                          self._start_khz, self._step_khz)
        split = self._split
        if split is not None:
            _track_features.history(feats, snap, split.busy_before, split.cut_share,
                                    split.streak, split.streak_sq, self._start_khz,
                                    self._step_khz)
        return feats


def _median(values: np.ndarray) -> float:
    """np.median of a float32 row, as NumPy computes it (its float32 mean of the middle two, NaN
    if any is NaN) without its wrappers: the band's floor, taken every sweep with a track."""
    if not values.size:
        return math.nan
    ordered = values.copy()
    ordered.sort()  # (np.sort without its wrapper)
    if ordered[-1] != ordered[-1]:  # NaN sorts last
        return math.nan
    half = values.size // 2
    if values.size % 2:
        return float(ordered[half])
    return float((ordered[half - 1] + ordered[half]) / 2)


def _run_labels(hot: np.ndarray) -> np.ndarray:
    """Run number (from 1) of each cell of hot (bool, (n_sweeps, n_bins)) along its row, 0
    where cold, as (n_sweeps, n_bins + 1): a cold cell ends each row (runs never span rows)."""
    flat = np.zeros((hot.shape[0], hot.shape[1] + 1), bool)
    flat[:, :-1] = hot
    starts = flat.copy()
    starts[:, 1:] &= ~flat[:, :-1]
    return (np.cumsum(starts.ravel()) * flat.ravel()).reshape(flat.shape)


def wide_runs(hot: np.ndarray, max_cells: int) -> np.ndarray:
    """The cells of hot (bool, (n_sweeps, n_bins)) in runs along a row wider than max_cells,
    a cold cell between two hot ones bridged (a wide frame's read has fading nulls one cell
    wide: measured, busy_24ghz_background's 40 MHz access points). The NumPy reference of
    straja._detect_hoppers.clear_wide_pieces, with wide_frame_pieces."""
    bridged = hot.copy()
    bridged[:, 1:-1] |= hot[:, :-2] & hot[:, 2:]
    runs = _run_labels(bridged)
    widths = np.bincount(runs.ravel())
    widths[0] = 0
    return widths[runs][:, :-1] > max_cells


def wide_frame_pieces(held: np.ndarray, wide_in_reads: np.ndarray, max_cells: int) -> np.ndarray:
    """The held hits (bool, (n_sweeps, n_bins)) that are pieces of wider frames: runs of held
    cells at most max_cells wide (a hop's width) whose every cell lies, in a single read,
    inside a hot run wider than max_cells (`wide_in_reads`). A hop is as narrow in its reads;
    a frame of a 20/40 MHz channel lights its whole channel in a read, while the held read (the
    lower of the two) is cut into narrow pieces by fading that differs frame to frame: an
    access point at load 0.9 holds so in most sweeps, and its pieces over 40 MHz were named
    ELRS at switch-on (docs/detection.md, "Hoppers seen by a scanner"). A hop held inside a
    wide frame of one of its reads is lost with it (a hopper inside a busy Wi-Fi channel is
    seen on its other channels)."""
    runs = _run_labels(held)
    size = int(runs.max()) + 1
    widths = np.bincount(runs.ravel(), minlength=size)
    outside = np.bincount(runs[:, :-1].ravel(), weights=~wide_in_reads.ravel(), minlength=size)
    piece = (outside == 0) & (widths <= max_cells)
    piece[0] = False
    return piece[runs][:, :-1]


def speckled_frame_pieces(held: np.ndarray, hot_reads: list, max_cells: int,
                          reach: int, min_hot: int = FRAME_MIN_HOT) -> np.ndarray:
    """The held pieces (runs of held cells at most max_cells wide) with at least min_hot other
    hot cells within `reach` cells either side in one of their single reads (hot_reads, bool
    like held), the piece's own run and a cell either side left out: a wide frame read under
    frequency-selective fading, lit in scattered cells (FRAME_*). The NumPy reference of
    straja._detect_hoppers.clear_speckled_pieces, which the pipeline runs."""
    out = np.zeros(held.shape, bool)
    for row, col_lo, col_hi in _narrow_runs(held, max_cells):
        lo, hi = max(0, col_lo - reach), min(held.shape[1], col_hi + 1 + reach)
        for hot in hot_reads:
            around = int(hot[row, lo:hi].sum()) - int(hot[row, max(lo, col_lo - 1):
                                                           min(hi, col_hi + 2)].sum())
            if around >= min_hot:
                out[row, col_lo:col_hi + 1] = True
                break
    return out


def _narrow_runs(cells: np.ndarray, max_cells: int) -> list[tuple[int, int, int]]:
    """(row, first, last) of the runs of cells (bool, (n_sweeps, n_bins)) at most max_cells
    wide, in row order (the runs of _run_labels)."""
    labels = _run_labels(cells)
    ids, first, widths = np.unique(labels.ravel(), return_index=True, return_counts=True)
    keep = (ids > 0) & (widths <= max_cells)
    row_len = labels.shape[1]
    return [(i // row_len, i % row_len, i % row_len + n - 1)
            for i, n in zip(first[keep].tolist(), widths[keep].tolist())]


def steadiness_split(n_bins: int) -> SteadinessSplit:
    """The steadiness split (SPLIT_*, HISTORY_*) of a plan of n_bins channel-wide bins."""
    return SteadinessSplit(n_bins, SPLIT_RATIO, SPLIT_MIN_SWEEPS, SPLIT_JITTER_DB, SPLIT_RATE,
                           SPLIT_STREAK_CAP, HISTORY_SWEEPS, HISTORY_MIN_SWEEPS,
                           10 ** (SPLIT_DIP_DB / 10), 10 ** (STAND_DB / 10))


def busy_cells(n_bins: int, step_khz: float, alpha: float) -> BusyCells:
    """The bursty-cell mask (BUSY_*) of n_bins channels step_khz apart; a single read is hot
    above alpha x the noise mean (the floor detector's alpha)."""
    width = max(1, round(BUSY_WIDTH_KHZ / step_khz)) if step_khz > 0 else 1
    return BusyCells(n_bins, width, alpha, BUSY_SINGLE, BUSY_HELD_RATIO, BUSY_MEMORY_SWEEPS,
                     BUSY_WARM_SWEEPS, BUSY_BAND_DB, BUSY_BANDS, round(BUSY_MARGIN_DB / BUSY_BAND_DB),
                     BUSY_LEVEL_RATIO)
