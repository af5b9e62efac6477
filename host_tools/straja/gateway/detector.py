"""The one adapter between the gateway and the detection core (`straja.detect.pipeline`).

Everything the gateway knows of detection goes through `NodeDetector.sweep()`, which returns
`Observation`s: a classified emitter one node saw, with its frequency extent and received power.
A change in the core's API touches only this module. The core is per front end and per channel
set (its noise floor and tracks belong to those channels), so a node has one core pipeline per
(front end, plan); a focus plan and the normal plan each keep theirs.

Each core is designed for the readings its front end makes: an RSSI reading averages about
bw x window independent samples ("looks"), so its noise is Gamma(looks), and the CFAR and floor
detector thresholds follow from that (docs/detection.md, "Multi-look readings"). The looks per
front-end kind (the `kind` of the node's `info` reply) are the catalogue's (straja.frontends).
"""
from __future__ import annotations

import collections
import math
from dataclasses import fields, replace
from typing import NamedTuple

import numpy as np
from straja_node.limits import CHANNELS_MAX

from ..detect import cfar
from ..detect._arrays import take_records
from ..detect.bursts import BURST
from ..detect.classify import DRONE_FAMILIES
from ..detect.pipeline import Pipeline as CorePipeline, PipelineConfig
from ..detect.tracks import STATES, TRACK
from ..frontends import LOOKS as FRONTEND_LOOKS, UNKNOWN_LOOKS, looks as kind_looks, looks_at
from .._detect_sweep import SEGMENT_DETECTED, SEGMENT_OTHER_PLAN, SEGMENT_REFUSED
from .._gateway_lane import made_latest
from ..protocol import FLAG_INTERLEAVED, FLAG_PAIRS, FLAG_REVISIT, Sweep
from .config import FusionConfig

LABELS = {
    "analog_fm_video": "analog FPV video",
    "ofdm_video": "digital FPV video (OFDM)",
    "lora_fhss": "LoRa frequency-hopping control link (ExpressLRS class)",
    "gfsk_fhss": "GFSK frequency-hopping control link (FrSky/FlySky/Crossfire class)",
}
# [detect] keys the config may set: the core's own settings (straja.detect.pipeline), and
# looks_by_band: take a front end's kind from its frequency when the node's info reply is not
# known (the evaluation's fast path sends none; the gateway's synthetic test nodes, whose noise
# is not a chip's, must not get it)
ADAPTER_KEYS = ("looks_by_band",)
# revisit is not a setting: it follows each sweep's REVISIT flag (and its block, the plan's)
DETECT_KEYS = tuple(f.name for f in fields(PipelineConfig)
                    if f.name not in ("tracker", "revisit", "interleaved", "revisit_block")) \
    + ADAPTER_KEYS
# A continuous emitter closes a burst every sweep: the tracker confirms it on its third sweep
# and the classifier sees its steadiness sweep by sweep (a node's default plan comes back to a
# front end every 0.05-0.41 s; docs/firmware.md).
GATEWAY_DEFAULTS = {"max_burst_sweeps": 1}


CONFIRMED = STATES.index("confirmed")
# why a sweep is refused (NodeDetector.refused, the pipeline's input counts)
REFUSED_SEGMENT = "sweeps_bad_segment"      # past its sweep's channels, uneven, odd REVISIT
REFUSED_FRONT_END = "sweeps_no_front_end"   # a front end the node's info does not list
REFUSED_BAND = "sweeps_outside_band"        # channels outside its front end's band
# fields of a tracker record (TRACK) as tuple positions (its tolist())
T_ID, T_STATE, T_FIRST, T_START, T_END, T_F_MIN, T_F_MAX, T_F_LAST, T_PEAK = (
    TRACK.names.index(name) for name in ("track_id", "state", "t_first_us", "t_last_start_us",
                                         "t_last_end_us", "f_min_khz", "f_max_khz",
                                         "f_last_khz", "peak_mw"))
# fields of a burst record (BURST) as tuple positions (its tolist())
B_CENTRE, B_WIDTH, B_PEAK = (BURST.names.index(name)
                             for name in ("centre_khz", "bandwidth_khz", "peak_mw"))
# A core track named a drone family in this many sweeps in a row keeps its name while the
# classifier calls it something else (_Naming): a track named once by chance is never held; the
# classifier's steadiness rule of video (classify.STEADY_MIN_BURSTS, 4) tells a bursty access
# point that looks steady for k sweeps at p = q^(k-1)
HOLD_STREAK = 4
# Core pipelines kept per node: a node runs at most 8 plan entries (the firmware's PLAN_MAX), each
# with its focus variant; a node sending ever-changing sweeps (broken or hostile) must not grow
# the gateway without bound, so the least recently swept is dropped beyond this.
MAX_PLANS_PER_NODE = 16
# the SWEEP flags that make a plan's core another one (with its front end and channels)
PLAN_FLAGS = FLAG_REVISIT | FLAG_PAIRS | FLAG_INTERLEAVED


class Observation(NamedTuple):
    node_id: int
    family: str
    t_ns: int           # gateway time of the track's latest burst
    lo_khz: int
    hi_khz: int
    dbm: float          # received power of the latest bursts
    # gateway time of the core track's first burst: when this node saw the emitter (again);
    # None: t_ns
    since_ns: int | None = None
    # the core did not name it a drone in this sweep but held its earlier name (_Naming): it is
    # still there, but its reading, of a sweep the classifier did not vouch for, may be another
    # emitter's beside it
    held: bool = False
    # a band report (detect.site_rate): the band's rate of new hits over its site's, not a core
    # track; since_ns: when the band was as its site was learnt (site_rate.BandReport). Fusion
    # joins it to a track of its own kind, or to one begun since (the link's own, told by the
    # track rules), never to the site's older track merely by overlapping it
    band_rate: bool = False
    # gateway time of the earliest reading it stands for, when before t_ns (a band report: its
    # window's first event; its alert's evidence is that window, not the report's instant)
    first_ns: int | None = None


_DEFAULTS = {f.name: f.default for f in fields(PipelineConfig)}
# every looks a front end's readings may have (frontends.LOOKS; UNKNOWN_LOOKS: a kind not known)
ALL_LOOKS = sorted({UNKNOWN_LOOKS, *FRONTEND_LOOKS.values()})
# a count of cells or sweeps past a sweep's most channels means nothing (and a CFAR design's
# time grows with its window: 256 cells a side take 1.6 s)
MAX_COUNT = CHANNELS_MAX


def core_config(detect: dict) -> PipelineConfig:
    """The core's settings from [detect], each checked, and the CFAR designs they make for
    every front end's looks (ValueError naming the setting): one a core cannot run with was
    met only at each node's first sweep, quarantining its port for as long as the gateway ran
    (pfa = "x"; cfar_kind = "os" with a front end's averaged readings)."""
    unknown = set(detect) - set(DETECT_KEYS)
    if unknown:
        raise ValueError(f"[detect]: unknown keys {sorted(unknown)} (known: {', '.join(DETECT_KEYS)})")
    for key, value in detect.items():
        _check_setting(key, value, _DEFAULTS.get(key, False))
    core = {k: v for k, v in {**GATEWAY_DEFAULTS, **detect}.items() if k not in ADAPTER_KEYS}
    config = PipelineConfig(**core)
    try:
        for looks in [config.looks] if "looks" in detect else ALL_LOOKS:
            cfar.design(config.cfar_kind, config.pfa, config.n_train, config.n_guard,
                        looks=looks, code_db=config.code_db)
            if config.time_cfar:
                cfar.design(config.cfar_kind, config.pfa, config.time_train, config.time_guard,
                            axis="time", looks=looks, code_db=config.code_db)
    except ValueError as e:
        of_looks = "looks" in str(e) and "looks" not in detect
        raise ValueError(f"[detect]: {e}" + (" (the front ends' readings have looks "
                         f"{', '.join(map(str, ALL_LOOKS))})" if of_looks else "")) from None
    return config


def _check_setting(key: str, value, default) -> None:
    """A [detect] value of its default's type and in its range (the core's own checks, of
    pfa, looks and the windows' sizes, come with the designs)."""
    if isinstance(default, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok = type(value) is int and 0 <= value <= MAX_COUNT
        want = f"a whole number 0..{MAX_COUNT}"
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
            math.isfinite(value)
        want = "a finite number"
    else:  # (cfar_kind)
        ok, want = isinstance(value, str) and value in cfar.KINDS, f"one of {', '.join(cfar.KINDS)}"
    if not ok:
        raise ValueError(f"[detect]: {key} must be {want}, not {value!r}")


class _Naming:
    """The drone family a core track was last named, and where: while the classifier calls it
    something else (its name flickers: a weak channel's edge bins come and go, a busy access
    point beside it scatters its readings), the track is still observed under that family, for
    at most the detector's hold after its last such sweep and only while its latest burst stays
    on the channels it was named on. (`tr`: a tracker record as its tuple, TRACK's fields.)"""

    __slots__ = ("family", "streak", "t_us", "f_lo_khz", "f_hi_khz", "lo_khz", "hi_khz")

    def __init__(self):
        self.family, self.streak, self.t_us = "", 0, 0
        self.f_lo_khz = self.f_hi_khz = self.lo_khz = self.hi_khz = 0.0

    def named(self, family: str, tr, lo_khz: float, hi_khz: float) -> None:
        """Named the drone family `family` in this sweep: the streak counts drone names, of
        whichever family (the core may rename video analog or OFDM as evidence grows)."""
        self.streak += 1
        self.family, self.t_us = family, tr[T_START]
        self.f_lo_khz, self.f_hi_khz = float(tr[T_F_MIN]), float(tr[T_F_MAX])
        self.lo_khz, self.hi_khz = lo_khz, hi_khz

    def holds(self, tr, hold_us: int, half_step_khz: float) -> bool:
        """Whether a sweep that did not name the track keeps it observed under self.family."""
        return (self.streak >= HOLD_STREAK
                and tr[T_START] - self.t_us <= hold_us
                and self.f_lo_khz - half_step_khz <= tr[T_F_LAST] <= self.f_hi_khz + half_step_khz)


def plan_key(sweep: Sweep) -> tuple:
    """What makes a sweep's plan (its core): front end, channels, the flags of PLAN_FLAGS."""
    return (sweep.front_end, sweep.start_khz, sweep.step_khz, sweep.total,
            sweep.flags & PLAN_FLAGS)


# the longest time away a plan's core is paused for: a track held unseen as long as fusion holds
# one (an emitter back within it is the same emitter), a continuous carrier taken as still on
PAUSE_MAX_US = int(FusionConfig.track_timeout_s * 1e6)


class _PlanState:
    """One core pipeline, whose compiled stages assemble its plan's sweeps from segments."""

    # (slots: the gateway's lane reads stages, paused_us and left_us in place at every quiet
    # sweep, straja._gateway_lane, where a look-up in a __dict__ from C cost ~100 instructions)
    __slots__ = ("core", "stages", "key", "reported", "naming", "paused_us", "left_us")

    def __init__(self, sweep: Sweep, cfg: PipelineConfig):
        self.core = CorePipeline(sweep.total, sweep.start_khz, sweep.step_khz, cfg)
        self.stages = self.core.stages
        self.key = plan_key(sweep)
        self.stages.assemble(sweep.front_end, sweep.start_khz, sweep.step_khz, sweep.total,
                             sweep.flags, PLAN_FLAGS)
        self.reported: dict[int, int] = {}  # track id -> t_last_end_us already reported
        self.naming: dict[int, _Naming] = {}  # track id -> its drone name, once it had one
        # The core's clock stops while its front end reads something else (another plan's
        # sweeps, a video profile's): time not scanned is not silence. A continuous emitter's
        # track otherwise counts those seconds as missed sweeps and is renamed bursty until they
        # are outweighed (analog_f4_on_5ghz_wifi: a 1.3 s profile, F4 named Wi-Fi for 19 s;
        # docs/measured/det36.md). paused_us: node time away, taken off
        # the times the core is given and put back on its observations'; left_us: when its
        # front end left it (None while it is the front end's plan, read)
        self.paused_us = 0
        self.left_us: int | None = None

    def resume(self, t_us: int) -> None:
        """Its front end is back at t_us (node time): the time away paused, up to PAUSE_MAX_US
        (away longer, the rest is silence: what the core held may have gone meanwhile)."""
        self.paused_us += min(max(t_us - self.left_us, 0), PAUSE_MAX_US)
        self.left_us = None


class NodeDetector:
    """Streaming detection for one node: SWEEP frames (segments assembled) in, observations out."""

    # (slots: the gateway's quiet-sweep lane reads _latest and _last, and sets _last, in place)
    __slots__ = ("node_id", "hold_us", "cfg", "_detect_keys", "_by_band", "_plans", "_last",
                 "_latest", "_kinds", "_bands", "_revisits", "refused")

    def __init__(self, node_id: int, detect: dict, info: dict | None = None,
                 hold_s: float = FusionConfig.track_timeout_s,
                 refused: collections.Counter | None = None):
        """hold_s: how long after its last drone name a core track is still observed under it
        (_Naming); the gateway gives its track timeout, the silence fusion already forgives.
        refused: where the sweeps no node could send are counted, by reason (REFUSED_*; the
        pipeline's one counter for all its nodes)."""
        if not 0 <= hold_s < math.inf:
            raise ValueError(f"hold_s must be a finite number >= 0 (got {hold_s})")
        self.node_id = node_id
        self.hold_us = round(hold_s * 1e6)
        self.cfg = core_config(detect)
        self._detect_keys = set(detect)
        self._by_band = bool(detect.get("looks_by_band", False))
        self._plans: dict[tuple, _PlanState] = {}
        # the plan of the latest sweep, already the dict's most recent; and each front end's
        # latest (a node's plan reads its front ends in turn: most sweeps are of that plan)
        self._last: _PlanState | None = None
        self._latest: dict[int, _PlanState] = {}
        self._kinds: list[str] = []
        self._bands: list[tuple[int, int] | None] | None = None  # by front end; None: no info
        self._revisits: list[int] = []  # by front end: its plan entry's revisit (0: not known)
        self.refused = collections.Counter() if refused is None else refused
        self.set_info(info)

    def set_info(self, info: dict | None) -> None:
        """Take the node's `info` reply: the kinds and bands of its front ends, by index (SWEEP
        front_end), and the revisit block of each one's entry in the plan it runs (`plan`; a
        focus plan keeps its front end's, gateway/scanplan.py). Cores made before with other
        looks, bands or blocks are dropped (made again at the next sweep, if the bands hold it)."""
        front_ends = (info or {}).get("front_ends")
        kinds = [fe.get("kind", "") for fe in front_ends or ()]
        bands = None if front_ends is None else [
            tuple(fe["band_khz"]) if "band_khz" in fe else None for fe in front_ends]
        blocks = {e.get("front_end"): e.get("revisit", 0) for e in (info or {}).get("plan") or ()}
        revisits = [blocks.get(fe.get("name"), 0) for fe in front_ends or ()]
        if kinds != self._kinds or bands != self._bands or revisits != self._revisits:
            self._kinds = kinds
            self._bands = bands
            self._revisits = revisits
            self._plans.clear()
            self._latest.clear()
            self._last = None

    def looks(self, front_end: int, start_khz: int) -> float:
        """Looks per reading of this front end (its kind from info, else from the frequency)."""
        if 0 <= front_end < len(self._kinds):
            return kind_looks(self._kinds[front_end])
        return looks_at(start_khz) if self._by_band else UNKNOWN_LOOKS

    def _config(self, sweep: Sweep) -> PipelineConfig:
        """The core settings for this front end: looks from its kind unless [detect] sets them;
        revisit from the sweep's flag. A lower-of-two reading's noise is less spread than one
        reading's, so the one-reading thresholds keep (at most) the design false-alarm rate.
        The revisit block from the node's plan (set_info), when it is known."""
        revisit = bool(sweep.flags & FLAG_REVISIT)
        block = (self._revisits[sweep.front_end]
                 if revisit and sweep.front_end < len(self._revisits) else 0)
        cfg = replace(self.cfg, revisit=revisit, interleaved=bool(sweep.flags & FLAG_INTERLEAVED),
                      revisit_block=block)
        if "looks" in self._detect_keys:
            return cfg
        return replace(cfg, looks=self.looks(sweep.front_end, sweep.start_khz))

    def sweep(self, sweep: Sweep, t_us: int, offset_ns: int) -> list[Observation]:
        """Take one SWEEP frame (t_us: its header time; offset_ns: gateway minus node time).
        The compiled stages of the latest plan take it (most sweeps: that plan's) and settle
        a quiet sweep; only one with something in it comes back to Python. (The gateway's
        quiet-sweep lane, straja._gateway_lane, takes a sweep of the latest plan as this does,
        then detected().)"""
        st = self._latest.get(sweep.front_end)
        if st is not None and st.left_us is not None:
            st.resume(t_us)
        taken = (SEGMENT_OTHER_PLAN if st is None else
                 st.stages.segment(sweep, t_us - st.paused_us))
        if taken == SEGMENT_OTHER_PLAN:
            left = st
            st = self._plan(sweep)
            if st is None:
                return []
            if left is not None and left is not st:
                left.left_us = t_us
            if st.left_us is not None:
                st.resume(t_us)
            taken = st.stages.segment(sweep, t_us - st.paused_us)
        elif taken == SEGMENT_REFUSED:
            self.refused[REFUSED_SEGMENT] += 1
        elif st is not self._last:
            made_latest(self, st)
        if taken != SEGMENT_DETECTED:
            return []
        return self.detected(st, offset_ns)

    def away(self, front_end: int, t_us: int) -> None:
        """The front end read a sweep at t_us (node time) that no core takes (a video profile's,
        gateway/profiling.py): its plan's clock stops from then until its next sweep."""
        st = self._latest.get(front_end)
        if st is not None and st.left_us is None:
            st.left_us = t_us

    def detected(self, st: _PlanState, offset_ns: int) -> list[Observation]:
        """The observations of a sweep whose stages detected something (SEGMENT_DETECTED): the
        core's later stages, the hopper and the confirmed drone tracks it fed."""
        result = st.core.process_assembled()
        offset_ns += st.paused_us * 1000  # (the core's times are less its time away)
        out = [] if result.hopper is None else [self._hopper(st, result.hopper, offset_ns)]
        if result.band_report is not None:
            out.append(self._band_report(result.band_report, offset_ns))
        if result.bursts.size:
            out += self._observations(st, result.bursts, offset_ns, result.classed)
        return out

    def _plan(self, sweep: Sweep) -> _PlanState | None:
        """The plan of a sweep not of the latest plan, made the latest (made if new); None,
        counted in `refused` by its reason, for a bad segment (nothing kept of it: an uneven
        channel list, its frequencies not in the frame; one running past its sweep; an odd
        REVISIT one), or, once the node's info is known, a sweep of a front end it does not
        have or outside that front end's band (the firmware runs neither)."""
        reason = self._refusal(sweep)
        if reason is not None:
            self.refused[reason] += 1
            return None
        key = plan_key(sweep)
        st = self._plans.pop(key, None)  # re-inserted below: the dict's order is recency
        if st is None:
            st = _PlanState(sweep, self._config(sweep))
            if len(self._plans) >= MAX_PLANS_PER_NODE:
                dropped = self._plans.pop(next(iter(self._plans)))
                if self._latest.get(dropped.key[0]) is dropped:
                    del self._latest[dropped.key[0]]
        self._plans[key] = st
        self._last = self._latest[sweep.front_end] = st
        return st

    def _refusal(self, sweep: Sweep) -> str | None:
        """Why no node could have sent `sweep` (a REFUSED_* reason), or None."""
        flags, total = sweep.flags, sweep.total
        size = len(sweep.rssi)
        end = sweep.first + (size // 2 if flags & FLAG_REVISIT else size)
        if (sweep.step_khz == 0 or total == 0 or end > total or sweep.first < 0
                or (flags & FLAG_REVISIT and size % 2)):
            return REFUSED_SEGMENT
        if self._bands is None:
            return None
        if sweep.front_end >= len(self._bands):
            return REFUSED_FRONT_END
        band = self._bands[sweep.front_end]
        top = sweep.start_khz + (total - 1) * sweep.step_khz
        if band is not None and not band[0] <= sweep.start_khz <= top <= band[1]:
            return REFUSED_BAND
        return None

    def _hopper(self, st: _PlanState, hopper, offset_ns: int) -> Observation:
        """The core's band hopper (a per-packet hopper seen in the band's statistics) that took
        hits in this sweep: its class's band (its hop set's channels) and its strongest hit."""
        _, family, _, _, _, lo, hi = st.core.hopper_class(hopper).tolist()[0]
        return Observation(self.node_id, family, hopper.t_last_us * 1000 + offset_ns,
                           int(lo), int(hi), round(10 * math.log10(max(hopper.peak_mw, 1e-20)), 1))

    def _band_report(self, report, offset_ns: int) -> Observation:
        """The core's band report (a link's rate of new hits over the site's): its events' span
        and median level, from its window's first event."""
        return Observation(self.node_id, report.family, report.t_us * 1000 + offset_ns,
                           int(report.lo_khz), int(report.hi_khz),
                           round(10 * math.log10(max(report.peak_mw, 1e-20)), 1),
                           report.since_us * 1000 + offset_ns, band_rate=True,
                           first_ns=report.first_us * 1000 + offset_ns)

    def _observations(self, st: _PlanState, bursts: np.ndarray, offset_ns: int,
                      classed: dict | None = None) -> list[Observation]:
        """Confirmed drone-classified tracks that took a burst in this sweep, with those bursts'
        power. The core confirms a track on its confirm_bursts-th burst (a stray alarm never
        gets there), so one observation is evidence enough for an alert. classed: the class
        rows the core made of tracks in this sweep (Result.classed), not made again."""
        tracks = st.core.tracker.snapshot()
        # the tracks as plain tuples, read once (a field of a record array is a view a read)
        live = tracks.tolist()
        reported = st.reported
        fresh = [i for i, tr in enumerate(live) if reported.get(tr[T_ID]) != tr[T_END]]
        if not fresh:
            return []
        reported.update((live[i][T_ID], live[i][T_END]) for i in fresh)
        # every live track is in `reported` now: more entries than live tracks are ended ones
        if len(reported) > len(live):
            ids = {tr[T_ID] for tr in live}
            for tid in [t for t in reported if t not in ids]:
                del reported[tid]
                st.naming.pop(tid, None)
        rows = [i for i in fresh if live[i][T_STATE] == CONFIRMED]
        if not rows:
            return []
        # only these can be observed, so only these are classified (classify is the cost here),
        # unless the core just did; the sweep's bursts as plain numbers
        if classed and all(live[i][T_ID] in classed for i in rows):
            classes = [classed[live[i][T_ID]] for i in rows]
        else:
            classes = st.core.class_rows(take_records(tracks, rows))
        heard = [(b[B_CENTRE], b[B_WIDTH], b[B_PEAK]) for b in bursts.tolist()]
        half = max(w for _, w, _ in heard) / 2
        half_step = st.core.step_khz / 2
        naming = st.naming
        out = []
        for tr, (_, family, _, drone, _, band_lo, band_hi) in zip((live[i] for i in rows),
                                                                  classes):
            tid = tr[T_ID]
            named = naming.get(tid)
            held = False
            if drone and family in DRONE_FAMILIES:
                # the class's band where the core named a part of the track (a video block
                # standing inside an access point's run: classify.CLASSES), else (NaN, which
                # equals nothing) the track's extent
                lo, hi = ((tr[T_F_MIN] - half, tr[T_F_MAX] + half) if band_lo != band_lo
                          else (band_lo, band_hi))
                if named is None:
                    named = naming[tid] = _Naming()
                named.named(family, tr, lo, hi)
            elif named is not None and named.holds(tr, self.hold_us, half_step):
                family, lo, hi, held = named.family, named.lo_khz, named.hi_khz, True
            else:
                naming.pop(tid, None)  # moved, held long enough, or never named steadily
                continue
            mine = [p for c, w, p in heard if c + w / 2 >= lo and c - w / 2 <= hi]
            peak = max(mine) if mine else tr[T_PEAK]
            out.append(Observation(self.node_id, family, tr[T_START] * 1000 + offset_ns,
                                   int(lo), int(hi), round(10 * math.log10(max(peak, 1e-20)), 1),
                                   tr[T_FIRST] * 1000 + offset_ns, held))
        return out


def is_drone(family: str) -> bool:
    return family in DRONE_FAMILIES


def label(family: str) -> str:
    return LABELS.get(family, family)
