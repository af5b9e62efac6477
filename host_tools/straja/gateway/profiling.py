"""Video profiles: a 5.8 GHz video channel read finer than the scan step, after its alert, to tell
OFDM from FM.

A node's normal plan steps the RX5808 as wide as its filter (20 MHz), where one or two readings of
a video channel fit a flat (OFDM) and a peaked (FM) spectrum alike. When an alert is raised for a
5.8 GHz video track (with the core's name, at once: the profile delays no alert), the strongest
node seeing it gets a temporary plan (`plan PLAN temp=S`, docs/firmware.md): its running plan with
the video front end's entry replaced by one sweep of 17 channels an eighth of the filter apart,
out to a filter either side of the track's centre (+-20 MHz in 2.5 MHz steps through the RX5808's
20 MHz filter: 0.44 s at the evaluation's dwell), read PROFILE_SWEEPS times. (Steps of a quarter
filter, 5 MHz, told 10 MHz of OFDM only when its centre fell near a step: its skirt, where it and
FM differ, lies between two readings otherwise; docs/detection.md.) The gateway takes those
sweeps itself (never the detection core: a core of its own, started on a channel the video fills,
would learn the video as its floor), with the node's last normal sweep's readings within (filter +
scan step) / 2 of the centre (at most the profile's reach), against the floor of its last normal
sweeps (their median reading), sends the normal plan back at once, and
straja.detect.video_profile names the family from all of them, at their own scatter: video
reads steady from sweep to sweep, an access point beside it does not (its frames light a reading
or not), so the readings such frames lifted are dropped and the rest judged (a busy access
point's edge in a video channel, read whole, can pass for a wide flat top: OFDM;
analog_video_beside_5ghz_ap). A family told renames the track for the rest of its life
(Fusion.name: later observations, from any node, keep it) and updates its alert; CANNOT_TELL, a
node that refuses the plan or sends no profile within PROFILE_WAIT_SWEEPS of its duration (plus
PROFILE_WAIT_MARGIN_S) leave the name as it was, and the node gets its normal plan back in every
case; the temporary plan also lapses by itself.

A track is asked at its alert's raise, of one node at a time. A node that cannot tell (an access
point beside it whose frames scatter its readings: ocusync_10_beside_busy_5ghz_ap) passes the
question to the next strongest node seeing the track that can read a profile, at once or when one
comes to see it (any observation of it), each node once, while the alert stands (`untold`), but
again once it reads the track PROFILE_RISE_DB stronger than when it was asked (video flying in is
alerted a few dB over the floor, too weak to tell, at every node; det70); a weaker
node's profile is still told (10 MHz of OFDM 6 dB over the floor: a third of the trials, never the
wrong family; docs/detection.md). Only a node whose normal plan is known (its `get plan` reply:
the plan to send back), that no focus plan narrows (adaptive scanning) and that reads no other
profile is asked; a node under a profile is not focused meanwhile.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np
from straja_node.limits import SWEEP_US_MAX  # the firmware refuses a longer sweep

from .._gateway_lane import keep_floor, wide_bursty
from ..detect.classify import VIDEO_MAX_KHZ, WEAK_EXCESS_DB, band
from ..detect.video_profile import CANNOT_TELL, video_profile_family
from ..protocol import Sweep, revisit_reads
from .events import NodeCommand
from .replies import plan_args
from .scanplan import DEFAULT_DWELL_US

VIDEO_FAMILIES = ("analog_fm_video", "ofdm_video")
PROFILE_MIN_STEP_FILTERS = 0.5  # a plan stepping at most half its filter resolves the shape
PROFILE_STEP_FILTERS = 0.125   # the profile's step, and its reach either side of the centre
PROFILE_REACH_FILTERS = 1.0    # (17 channels: docs/detection.md, "Video profile")
PROFILE_SWEEPS = 2               # profile sweeps read (their scatter tells a bursty neighbour)
PROFILE_WAIT_SWEEPS = PROFILE_SWEEPS + 1.0  # the profile sweep's duration this many times over...
PROFILE_WAIT_MARGIN_S = 0.5      # ...plus this (a command's round trip): then it is not coming
PROFILE_RISE_DB = 3.0            # a node that could not tell is asked again once it reads the
                                 # track this much stronger than when it was asked: near the floor
                                 # a reading's excess in dB, and so the families' difference in a
                                 # profile (15 MHz off 20 MHz of OFDM -6 dB, of FM -10 dB), grows
                                 # with the power; video flying in is alerted 2-3 dB over the floor
                                 # at every node, where no profile tells (det70)
FLOOR_SWEEPS = 4                 # normal sweeps whose median reading is the floor
# A 5.8 GHz video track inside a busy wide access point (wide_bursty_node): at some node, in one
# of its last FLOOR_SWEEPS normal sweeps, a run of channels hot (HOT_DB over the sweep's median
# reading) wider than the widest video channel (VIDEO_MAX_KHZ, OcuSync's 40 MHz) plus a step
# covers the track's centre, and that node's reading there is not a video channel's: cold in
# one of those sweeps, or swinging by more than SWING_DB (video read whole moves 0.3-1.5 dB a
# sweep; a busy access point 4-6 dB with its traffic, measured: docs/detection.md).
HOT_DB = 3.0
SWING_DB = 3.0
# ...unless a node seeing the track reads, at its own view's centre, a video channel's reading
# (hot in each of its last FLOOR_SWEEPS sweeps, swinging at most SWING_DB), not weak (the
# core's WEAK_EXCESS_DB over the sweep's median) and HOT_DB over its own median reading of the
# rest of that access point's channel (the run the holding node reads, the view's channels and
# a step either side left out), in each sweep: an access point's OFDM spectrum is flat over its
# channel and a 20 MHz read averages its fading over ~20 coherence bands (about 1 dB), so at any
# one node its channel reads alike across its width (within its fill's swing, which the first
# test bounds); a reading standing over it there is another emitter (det46: video flying in
# inside an 80 MHz access point at load 0.9 was held for its whole flight by the node 100 m
# from the access point, which reads its traffic there).


class _Pending(NamedTuple):
    track_id: str
    front_end: int               # index in the node's info front ends (SWEEP front_end)
    entry: dict                  # the profile's plan entry
    deadline_ns: int
    reads: list                  # the profile sweeps' held codes so far
    asked: dict                  # node id -> its reading of the track (dBm) when last asked
                                 # this track's profile, this one's included


class Profiled(NamedTuple):
    """A profile asked of a node ended: the track it was asked for, the family it told
    (CANNOT_TELL: the core's name stands, and the next node may be asked) and why."""
    node_id: int
    track_id: str
    family: str
    reason: str


def wants_profile(family: str, lo_khz: int, hi_khz: int) -> bool:
    """Whether a track so named and placed is 5.8 GHz video, whose family a profile tells."""
    return family in VIDEO_FAMILIES and band((lo_khz + hi_khz) / 2) == "5g8"


def _held(sweep: Sweep) -> np.ndarray:
    """A sweep's codes as the detector reads them (REVISIT: the lower of the two reads)."""
    return revisit_reads(sweep.codes(), sweep.flags)[0]


def _floor(sweeps) -> float:
    """The floor of a profile: the median of the median readings of the node's last normal
    sweeps."""
    return float(np.median([float(np.median(_held(s))) for s in sweeps]))


def wide_bursty_reference(held: list, at: int, max_bins: float) -> bool:
    """Whether one node's last normal sweeps (their held codes, one channel grid) read channel
    `at` inside a busy emitter wider than max_bins channels (HOT_DB, SWING_DB): the definition
    of straja._gateway_lane.wide_bursty, which wide_bursty_node runs, and its test oracle."""
    codes = np.array(held, float)  # RSSI codes: 0.5 dB steps
    hot = codes >= _medians(codes)[:, None] + 2 * HOT_DB
    if not any(hi - lo + 1 > max_bins for lo, hi in _runs(hot, at)):
        return False
    return not _video_reading(codes, hot, at)


def _medians(codes: np.ndarray) -> np.ndarray:
    """Each sweep's (row's) median reading (np.median imports numpy.ma)."""
    n = codes.shape[1]
    ranked = np.sort(codes, axis=1)
    return (ranked[:, (n - 1) // 2] + ranked[:, n // 2]) / 2


def _runs(hot: np.ndarray, at: int):
    """The (first, last) channels of the run of hot channels through channel `at`, in each
    sweep (a row of `hot`) where `at` is hot."""
    for row in hot:
        if row[at]:
            cold = np.flatnonzero(~row)
            yield cold[cold < at].max(initial=-1) + 1, cold[cold > at].min(initial=row.size) - 1


def _video_reading(codes: np.ndarray, hot: np.ndarray, at: int) -> bool:
    """Whether channel `at` reads as a video channel over the sweeps (rows of RSSI codes):
    hot in each, swinging by at most SWING_DB."""
    return bool(hot[:, at].all() and np.ptp(codes[:, at]) <= 2 * SWING_DB)


def stands_out(held: list, at: int, rest: np.ndarray) -> bool:
    """Whether one node's last normal sweeps (their held codes) read channel `at` as a video
    channel's (_video_reading), not weak (WEAK_EXCESS_DB over each sweep's median) and HOT_DB
    over their median reading of the channels `rest` (another emitter's channel at that node)
    in each sweep."""
    codes = np.array(held, float)  # RSSI codes: 0.5 dB steps
    if not rest.size:
        return False
    reading, median = codes[:, at], _medians(codes)
    hot = codes >= median[:, None] + 2 * HOT_DB
    return bool(_video_reading(codes, hot, at)
                and (reading >= median + 2 * WEAK_EXCESS_DB).all()
                and (reading >= _medians(codes[:, rest]) + 2 * HOT_DB).all())


def _sweep_s(entry: dict) -> float:
    n = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
    return n * entry["dwell_us"] / 1e6


class VideoProfiler:
    def __init__(self):
        self.pending: dict[int, _Pending] = {}   # node id -> the profile asked of it
        # node id -> front end -> its last FLOOR_SWEEPS whole normal sweeps, the last one last:
        # their readings are looked at only when a profile comes (a median of every sweep of
        # every front end was the largest cost of a sweep in the gateway)
        self._floors: dict[int, dict[int, deque[Sweep]]] = {}
        # track id -> the nodes asked its profile, none of which could tell, and their readings
        # of the track then (dBm): the next node seeing it is asked, or one of those once it
        # reads the track PROFILE_RISE_DB stronger (until its alert clears, `alert_cleared`)
        self.untold: dict[str, dict[int, float]] = {}

    # -- the node's normal sweeps: its floor ----------------------------------------------
    def normal_sweep(self, node_id: int, sweep: Sweep) -> None:
        """Remember the readings of a whole normal sweep (the floor of a profile: _floor)."""
        keep_floor(self._floors, node_id, sweep, FLOOR_SWEEPS)  # (compiled: every sweep)

    def wide_bursty_node(self, lo_khz: int, hi_khz: int, views: dict | None = None) -> int | None:
        """The first node (by id) whose last normal sweeps read the centre of [lo_khz, hi_khz]
        inside a busy access point wider than any video channel (HOT_DB, SWING_DB), or None.
        A node far from a busy 40/80 MHz access point sees a few of its channel's bins, now and
        then steady over 4-8 sweeps as a weak 40 MHz video is; a node near it sees the whole
        width and its traffic (ocusync_40_beside_80mhz_ap). Video beside the access point, in
        one run with it, is hot at its own centre in every sweep at a steady level: not held.
        Nor where another node's view of the track (`views`: node id -> the extent of its
        latest view) stands out of that access point's channel at that node (stands_out)."""
        for node_id, held, at, first_khz, step in self._grids((lo_khz + hi_khz) / 2):
            # (compiled: every node's sweeps, at each observation of a video track not alerted)
            if not wide_bursty(held, at, (VIDEO_MAX_KHZ + step) / step,
                               2 * HOT_DB, 2 * SWING_DB):  # (RSSI codes: 0.5 dB steps)
                continue
            codes = np.array(held, float)
            runs = list(_runs(codes >= _medians(codes)[:, None] + 2 * HOT_DB, at))
            channel_khz = (first_khz + min(lo for lo, _ in runs) * step,
                           first_khz + max(hi for _, hi in runs) * step)
            if not any(self._stands_out(node, view, channel_khz)
                       for node, view in (views or {}).items() if node != node_id):
                return node_id
        return None

    def _grids(self, centre_khz: float, node: int | None = None):
        """(node id, its last normal sweeps' held codes, the channel of centre_khz, the first
        channel and the step, kHz) of each node (or of `node`) whose last FLOOR_SWEEPS normal
        sweeps are of one channel grid that reads centre_khz."""
        for node_id, by_front_end in sorted(self._floors.items()):
            if node is not None and node_id != node:
                continue
            for _, sweeps in sorted(by_front_end.items()):
                last = sweeps[-1]
                step, n = last.step_khz, last.total  # (whole sweeps: normal_sweep)
                at = round((centre_khz - last.start_khz) / step) if step > 0 else -1
                if len(sweeps) < FLOOR_SWEEPS or not 0 <= at < n or any(
                        (s.start_khz, s.step_khz, s.total) != (last.start_khz, step, last.total)
                        for s in sweeps):
                    continue  # (sweeps of another plan: not one channel grid)
                yield node_id, [_held(s) for s in sweeps], at, last.start_khz, step

    def _stands_out(self, node: int, view: tuple, channel_khz: tuple) -> bool:
        """Whether `node`'s last normal sweeps read the centre of its view [lo, hi] (kHz) of a
        track standing out of another emitter's channel (stands_out): its readings of the
        channels of channel_khz (lo, hi) but the view's and a step either side."""
        lo, hi = view
        for _, held, at, first_khz, step in self._grids((lo + hi) / 2, node):
            khz = first_khz + step * np.arange(len(held[0]))
            rest = np.flatnonzero((khz >= channel_khz[0]) & (khz <= channel_khz[1])
                                  & ((khz < lo - step) | (khz > hi + step)))
            return stands_out(held, at, rest)
        return False

    def forget_node(self, node_id: int) -> None:
        """The node restarted or was evicted: its floors are no longer its, its profile is not
        coming."""
        self.pending.pop(node_id, None)
        self._floors.pop(node_id, None)

    # -- asking --------------------------------------------------------------------------------
    def ask(self, track_id: str, lo_khz: int, hi_khz: int, node_id: int, dbm: float,
            info: dict, base_plan: list, port: str, now_ns: int) -> NodeCommand | None:
        """The temporary plan that reads the profile of [lo_khz, hi_khz] on node_id's front end
        covering it (dbm: the node's reading of the track; base_plan: the plan the node runs,
        sent with the profile's entry in it; now_ns: the gateway's time, from which the
        profile's wait runs); None if the node was asked this track's profile before at a
        reading within PROFILE_RISE_DB of this one, reads a profile, another node reads this
        track's, the node reads the channel finely already, or would refuse the sweep."""
        asked = self.untold.get(track_id, {})
        if node_id in self.pending or dbm < asked.get(node_id, -math.inf) + PROFILE_RISE_DB \
                or any(p.track_id == track_id for p in self.pending.values()):
            return None
        pending = self._pending(track_id, lo_khz, hi_khz, info, base_plan, now_ns,
                                {**asked, node_id: dbm})
        if pending is None:
            return None
        self.pending[node_id] = pending
        plan = [pending.entry if e.get("front_end") == pending.entry["front_end"] else e
                for e in base_plan]
        if pending.entry not in plan:
            plan.append(pending.entry)
        temp_s = max(1, math.ceil(PROFILE_WAIT_SWEEPS * _sweep_s(pending.entry)))
        return NodeCommand(port, "plan", plan_args(plan, temp_s))

    def _pending(self, track_id: str, lo_khz: int, hi_khz: int, info: dict, base_plan: list,
                 now_ns: int, asked: dict) -> _Pending | None:
        centre = (lo_khz + hi_khz) // 2
        for index, fe in enumerate(info.get("front_ends", [])):
            fe_lo, fe_hi = fe.get("band_khz", (0, -1))
            filter_khz = fe.get("filter_khz", 0)
            if not fe_lo <= centre <= fe_hi or filter_khz <= 0:
                continue  # (a log detector has no channel filter: it is not tuned)
            running = next((e for e in base_plan if e.get("front_end") == fe["name"]), {})
            if running.get("step_khz", 0) <= PROFILE_MIN_STEP_FILTERS * filter_khz:
                return None  # read finely already (or a channel list)
            step = round(PROFILE_STEP_FILTERS * filter_khz)
            reach = step * round(PROFILE_REACH_FILTERS / PROFILE_STEP_FILTERS)
            start, stop = centre - reach, centre + reach
            if start < fe_lo or stop > fe_hi:
                return None  # at the band's edge
            dwell = running.get("dwell_us", DEFAULT_DWELL_US)
            entry = {"front_end": fe["name"], "start_khz": start, "stop_khz": stop,
                     "step_khz": step, "dwell_us": dwell}
            if "settle_us" in running:
                entry["settle_us"] = running["settle_us"]
            if _sweep_s(entry) * 1e6 > SWEEP_US_MAX:
                return None  # a sweep longer than the node takes
            wait_ns = int((PROFILE_WAIT_SWEEPS * _sweep_s(entry) + PROFILE_WAIT_MARGIN_S) * 1e9)
            return _Pending(track_id, index, entry, now_ns + wait_ns, [], asked)
        return None

    # -- the profile ---------------------------------------------------------------------------
    def is_profile(self, node_id: int, sweep: Sweep) -> bool:
        """Whether `sweep` is of the profile asked of this node (not of its normal plan)."""
        pending = self.pending.get(node_id)
        if pending is None:
            return False
        e = pending.entry
        return (sweep.front_end == pending.front_end and sweep.start_khz == e["start_khz"]
                and sweep.step_khz == e["step_khz"]
                and sweep.total == (e["stop_khz"] - e["start_khz"]) // e["step_khz"] + 1)

    def profile_sweep(self, node_id: int, sweep: Sweep, filter_khz: float) -> Profiled | None:
        """A sweep of the profile asked of this node (is_profile): the profile once
        PROFILE_SWEEPS have come (the caller then sends the normal plan back, and names the
        track), None before."""
        pending = self.pending[node_id]
        floors = self._floors.get(node_id, {}).get(sweep.front_end)
        if sweep.first != 0 or sweep.n_channels != sweep.total or not floors:
            return self._end(node_id, CANNOT_TELL, "profile in segments or no floor read")
        pending.reads.append(_held(sweep))
        if len(pending.reads) < PROFILE_SWEEPS:
            return None
        # the profile's channels and the last normal sweep's within (filter + scan step) / 2
        e, last = pending.entry, floors[-1]
        start, step, normal = last.start_khz, last.step_khz, _held(last)
        profile_khz = e["start_khz"] + e["step_khz"] * np.arange(sweep.total)
        freqs = np.concatenate([np.tile(profile_khz, len(pending.reads)),
                                start + step * np.arange(len(normal))])
        codes = np.concatenate([*pending.reads, normal])
        # (never past the profile's own reach: a plan stepping wider than the filter would add
        # readings a filter or more off the profile's edge, which video_profile refuses)
        centre = (e["start_khz"] + e["stop_khz"]) // 2
        reach = min((filter_khz + step) / 2, (e["stop_khz"] - e["start_khz"]) / 2)
        near = np.abs(freqs - centre) <= reach
        # RSSI codes are 0.5 dB steps (protocol: dBm = code / 2 - 140)
        excess_db = (codes[near].astype(float) - _floor(floors)) / 2
        verdict = video_profile_family(freqs[near] - centre, excess_db, filter_khz)
        return self._end(node_id, verdict.family, verdict.reason)

    def expire(self, now_ns: int) -> list[Profiled]:
        """Profiles not come by their deadline: the name stands."""
        return [self._end(node_id, CANNOT_TELL, "no profile came")
                for node_id, p in sorted(self.pending.items()) if now_ns >= p.deadline_ns]

    def refused(self, node_id: int) -> Profiled | None:
        """The node failed a command while a profile was asked: taken as the plan refused."""
        if node_id not in self.pending:
            return None
        return self._end(node_id, CANNOT_TELL, "the node refused the profile plan")

    def alert_cleared(self, track_id: str) -> None:
        """The track's alert is over: no node is asked its profile any more."""
        self.untold.pop(track_id, None)

    def _end(self, node_id: int, family: str, reason: str) -> Profiled:
        pending = self.pending.pop(node_id)
        if family == CANNOT_TELL:
            self.untold[pending.track_id] = pending.asked
        else:
            self.untold.pop(pending.track_id, None)
        return Profiled(node_id, pending.track_id, family, reason)
