"""Video profiles: a 5.8 GHz video channel read finer than the scan step, to tell OFDM from FM.

A node's normal plan steps the RX5808 as wide as its filter (20 MHz), where one or two readings of
a video channel fit a flat (OFDM) and a peaked (FM) spectrum alike. When a node first reports a
5.8 GHz video track, its observation is held and the node gets a temporary plan (`plan PLAN
temp=S`, docs/firmware.md): its running plan with the video front end's entry replaced by one
sweep of four channels, 1/4 and 3/4 of the filter either side of the track's centre (5 and 15 MHz
through the RX5808's 20 MHz filter: 0.1 s at the evaluation's dwell; 9 channels 5 MHz apart tell
more profiles, but their 0.23 s before the alert took the analog trials' alerts within 2 s from
30 to 26 of 30). The gateway takes that sweep itself (never the detection core: a core of its
own, started on a channel the video fills, would learn the video as its floor), with the node's
last normal sweep's readings within (filter + scan step) / 2 of the centre, against the floor of
its last normal sweeps (their median reading), sends the normal plan back at once, and
straja.detect.video_profile names the family. The held observation then goes on with that
family, as do later observations of the channel (the core's name is the coarse one), from any
node: one emitter has one family, and the alert follows its latest observation's
(gateway/fusion.py). Other nodes' observations of a channel being profiled are held with the
asking node's, so the alert is raised once, with the profile's name. A node that refuses the
plan or sends no profile within PROFILE_WAIT_SWEEPS of its duration (plus
PROFILE_WAIT_MARGIN_S) leaves the name as it was, and gets its normal plan back too; the
temporary plan also lapses by itself.

Asked once per channel: a verdict is kept while nodes keep observing the channel (the fusion's
track timeout), so a track is profiled once. Only a node whose normal plan is known
(its `get plan` reply: the plan to send back) and that no focus plan narrows (adaptive scanning)
is asked; a node under a profile is not focused meanwhile.
"""
from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np
from straja_node.limits import SWEEP_US_MAX  # the firmware refuses a longer sweep

from ..detect.classify import band
from ..detect.video_profile import CANNOT_TELL, video_profile_family
from ..protocol import FLAG_REVISIT, Sweep, revisit_reads
from .detector import Observation
from .events import NodeCommand
from .scanplan import DEFAULT_DWELL_US, plan_args

VIDEO_FAMILIES = ("analog_fm_video", "ofdm_video")
PROFILE_MIN_STEP_FILTERS = 0.5  # a plan stepping at most half its filter resolves the shape
PROFILE_STEP_FILTERS = 0.5     # the profile's step: channels 1/4 and 3/4 of the filter off the
                                # centre (5 and 15 MHz through a 20 MHz filter: 0.8 and 4 dB
                                # between 20 MHz of OFDM and of FM; docs/detection.md)
PROFILE_WAIT_SWEEPS = 2.0        # the profile sweep's duration this many times over...
PROFILE_WAIT_MARGIN_S = 0.5      # ...plus this (a command's round trip): then it is not coming
FLOOR_SWEEPS = 4                 # normal sweeps whose median reading is the floor
MAX_VERDICTS = 64                # channels remembered (hostile nodes' many tracks)


class _Pending(NamedTuple):
    lo_khz: int
    hi_khz: int
    front_end: int               # index in the node's info front ends (SWEEP front_end)
    entry: dict                  # the profile's plan entry
    deadline_ns: int
    held: dict                   # node id -> its latest observation of the channel meanwhile


class Profiled(NamedTuple):
    """A profile asked of a node ended: the family it told (CANNOT_TELL: the core's name
    stands), why, and the observations held meanwhile, named so."""
    node_id: int
    family: str
    reason: str
    held: list[Observation]


class _Verdict(NamedTuple):
    lo_khz: int
    hi_khz: int
    family: str                  # CANNOT_TELL: asked, not told (the core's name stands)
    last_ns: int


def _overlaps(a_lo, a_hi, b_lo, b_hi) -> bool:
    return a_lo <= b_hi and b_lo <= a_hi


def _held(sweep: Sweep) -> np.ndarray:
    """A sweep's codes as the detector reads them (REVISIT: the lower of the two reads)."""
    return revisit_reads(sweep.codes(), sweep.flags)[0]


def _floor(sweeps) -> float:
    """The floor of a profile: the median of the median readings of the node's last normal
    sweeps."""
    return float(np.median([float(np.median(_held(s))) for s in sweeps]))


def _centre(lo_khz: int, hi_khz: int) -> int:
    return (lo_khz + hi_khz) // 2


class VideoProfiler:
    def __init__(self, keep_ns: int):
        self.keep_ns = keep_ns       # a verdict is forgotten this long after its last use
        self.pending: dict[int, _Pending] = {}
        self.verdicts: list[_Verdict] = []
        # (node, front end) -> its last FLOOR_SWEEPS whole normal sweeps, the last one last:
        # their readings are looked at only when a profile comes (a median of every sweep of
        # every front end was the largest cost of a sweep in the gateway)
        self._floors: dict[tuple[int, int], deque[Sweep]] = {}

    # -- the node's normal sweeps: its floor ----------------------------------------------
    def normal_sweep(self, node_id: int, sweep: Sweep) -> None:
        """Remember the readings of a whole normal sweep (the floor of a profile: _floor)."""
        if sweep.first != 0 or sweep.n_channels != sweep.total or not sweep.total:
            return
        key = (node_id, sweep.front_end)
        floors = self._floors.get(key)
        if floors is None:
            floors = self._floors[key] = deque(maxlen=FLOOR_SWEEPS)
        floors.append(sweep)  # (its codes are bytes: kept as they came)

    def forget_node(self, node_id: int) -> None:
        """The node restarted or was evicted: its floors are no longer its, its profile (and
        what was held with it) is not coming."""
        self.pending.pop(node_id, None)
        for key in [k for k in self._floors if k[0] == node_id]:
            del self._floors[key]

    # -- observations ------------------------------------------------------------------------
    def observation(self, obs: Observation, info: dict, base_plan: list, port: str | None,
                    now_ns: int) -> tuple[list[Observation], list[NodeCommand]]:
        """What becomes of a node's observation: released (with the family of its channel's
        profile, if told), or held while a profile is asked (the command in the second list).
        base_plan: the plan the node runs, to send with the profile's entry in it; port None:
        the node is not to be asked (offline, no normal plan to go back to, or focused); now_ns:
        the gateway's time (the profile's wait runs from it)."""
        if obs.family not in VIDEO_FAMILIES or band((obs.lo_khz + obs.hi_khz) / 2) != "5g8":
            return [obs], []
        for pending in self.pending.values():
            if _overlaps(obs.lo_khz, obs.hi_khz, pending.lo_khz, pending.hi_khz):
                pending.held[obs.node_id] = obs  # its latest, when told
                return [], []
        verdict = self._verdict(obs)
        if verdict is not None:
            return [self._named(obs, verdict.family)], []
        if obs.node_id in self.pending or port is None:
            return [obs], []
        asked = self._ask(obs, info, base_plan, now_ns)
        if asked is None:
            return [obs], []
        self.pending[obs.node_id] = asked
        plan = [asked.entry if e.get("front_end") == asked.entry["front_end"] else e
                for e in base_plan]
        if asked.entry not in plan:
            plan.append(asked.entry)
        temp_s = max(1, math.ceil(PROFILE_WAIT_SWEEPS * self._sweep_s(asked.entry)))
        return [], [NodeCommand(port, "plan", plan_args(plan, temp_s))]

    def _verdict(self, obs: Observation) -> _Verdict | None:
        verdicts = self.verdicts
        for i, v in enumerate(verdicts):
            if _overlaps(obs.lo_khz, obs.hi_khz, v.lo_khz, v.hi_khz) \
                    and obs.t_ns - v.last_ns <= self.keep_ns:
                verdicts[i] = v._replace(last_ns=max(v.last_ns, obs.t_ns))
                return verdicts[i]
        return None

    @staticmethod
    def _named(obs: Observation, family: str) -> Observation:
        return obs if family == CANNOT_TELL else obs._replace(family=family)

    @staticmethod
    def _sweep_s(entry: dict) -> float:
        n = (entry["stop_khz"] - entry["start_khz"]) // entry["step_khz"] + 1
        return n * entry["dwell_us"] / 1e6

    def _ask(self, obs: Observation, info: dict, base_plan: list, now_ns: int) -> _Pending | None:
        """The profile of obs's channel on the front end that read it, if one is finer than the
        node's normal plan reads it and fits a sweep the node takes; None if not."""
        centre = _centre(obs.lo_khz, obs.hi_khz)
        for index, fe in enumerate(info.get("front_ends", [])):
            fe_lo, fe_hi = fe.get("band_khz", (0, -1))
            filter_khz = fe.get("filter_khz", 0)
            if not fe_lo <= centre <= fe_hi or filter_khz <= 0:
                continue  # (a log detector has no channel filter: it is not tuned)
            running = next((e for e in base_plan if e.get("front_end") == fe["name"]), {})
            if running.get("step_khz", 0) <= PROFILE_MIN_STEP_FILTERS * filter_khz:
                return None  # read finely already (or a channel list)
            # 1/4 and 3/4 of the filter either side of the centre (the scan channels hold the
            # centre and the readings a filter off it)
            step = round(PROFILE_STEP_FILTERS * filter_khz)
            start, stop = centre - 3 * step // 2, centre + 3 * step // 2
            if start < fe_lo or stop > fe_hi:
                return None  # at the band's edge
            dwell = running.get("dwell_us", DEFAULT_DWELL_US)
            entry = {"front_end": fe["name"], "start_khz": start, "stop_khz": stop,
                     "step_khz": step, "dwell_us": dwell}
            if "settle_us" in running:
                entry["settle_us"] = running["settle_us"]
            if self._sweep_s(entry) * 1e6 > SWEEP_US_MAX:
                return None  # a sweep longer than the node takes
            wait_ns = int((PROFILE_WAIT_SWEEPS * self._sweep_s(entry) + PROFILE_WAIT_MARGIN_S) * 1e9)
            return _Pending(obs.lo_khz, obs.hi_khz, index, entry, now_ns + wait_ns,
                            {obs.node_id: obs})
        return None

    # -- the profile ---------------------------------------------------------------------------
    def profile_sweep(self, node_id: int, sweep: Sweep, t_ns: int, filter_khz: float
                      ) -> Profiled | None:
        """The profile, if `sweep` is the one asked of this node (the caller then sends the
        normal plan back, and the held observation on); None otherwise (a normal sweep)."""
        pending = self.pending.get(node_id)
        e = pending.entry if pending is not None else None
        if (e is None or sweep.front_end != pending.front_end or sweep.start_khz != e["start_khz"]
                or sweep.step_khz != e["step_khz"]
                or sweep.total != (e["stop_khz"] - e["start_khz"]) // e["step_khz"] + 1):
            return None
        key = (node_id, sweep.front_end)
        floors = self._floors.get(key)
        if sweep.first != 0 or sweep.n_channels != sweep.total or not floors:
            return self._end(node_id, t_ns, CANNOT_TELL, "profile in segments or no floor read")
        # the profile's channels and the last normal sweep's within (filter + scan step) / 2
        last = floors[-1]
        start, step, normal = last.start_khz, last.step_khz, _held(last)
        freqs = np.concatenate([e["start_khz"] + e["step_khz"] * np.arange(sweep.total),
                                start + step * np.arange(len(normal))])
        codes = np.concatenate([_held(sweep), normal])
        centre, reach = (e["start_khz"] + e["stop_khz"]) // 2, (filter_khz + step) / 2
        near = np.abs(freqs - centre) <= reach
        # RSSI codes are 0.5 dB steps (protocol: dBm = code / 2 - 140)
        excess_db = (codes[near].astype(float) - _floor(floors)) / 2
        verdict = video_profile_family(freqs[near] - centre, excess_db, filter_khz)
        return self._end(node_id, t_ns, verdict.family, verdict.reason)

    def expire(self, now_ns: int) -> list[Profiled]:
        """Profiles not come by their deadline: the name stands."""
        return [self._end(node_id, now_ns, CANNOT_TELL, "no profile came")
                for node_id, p in sorted(self.pending.items()) if now_ns >= p.deadline_ns]

    def refused(self, node_id: int, t_ns: int) -> Profiled | None:
        """The node failed a command while a profile was asked: taken as the plan refused."""
        if node_id not in self.pending:
            return None
        return self._end(node_id, t_ns, CANNOT_TELL, "the node refused the profile plan")

    def _end(self, node_id: int, t_ns: int, family: str, reason: str) -> Profiled:
        pending = self.pending.pop(node_id)
        verdicts = self.verdicts
        verdicts[:] = [v for v in verdicts if t_ns - v.last_ns <= self.keep_ns]
        if len(verdicts) >= MAX_VERDICTS:
            del verdicts[0]
        verdicts.append(_Verdict(pending.lo_khz, pending.hi_khz, family, t_ns))
        return Profiled(node_id, family, reason,
                        [self._named(obs, family) for obs in pending.held.values()])
