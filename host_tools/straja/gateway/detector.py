"""The one adapter between the gateway and the detection core (`straja.detect.pipeline`).

Everything the gateway knows of detection goes through `NodeDetector.sweep()`, which returns
`Observation`s: a classified emitter one node saw, with its frequency extent and received power.
A change in the core's API touches only this module. The core is per front end and per channel
set (its noise floor and tracks belong to those channels), so a node has one core pipeline per
(front end, plan); a focus plan and the normal plan each keep theirs.
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import NamedTuple

import numpy as np

from ..detect.classify import DRONE_FAMILIES
from ..detect.pipeline import Pipeline as CorePipeline, PipelineConfig
from ..protocol import Sweep

LABELS = {
    "analog_fm_video": "analog FPV video",
    "ofdm_video": "digital FPV video (OFDM)",
    "lora_fhss": "LoRa frequency-hopping control link (ExpressLRS class)",
    "gfsk_fhss": "GFSK frequency-hopping control link (FrSky/FlySky/Crossfire class)",
}
# [detect] keys the config may set: the core's own settings (straja.detect.pipeline)
DETECT_KEYS = tuple(f.name for f in fields(PipelineConfig) if f.name != "tracker")
# A continuous emitter closes a burst every 2 sweeps: a node's default plan comes back to a front
# end only every ~1.3 s, and a track the core does not hear of for lost_after_us (3 s) is lost.
GATEWAY_DEFAULTS = {"max_burst_sweeps": 2}


class Observation(NamedTuple):
    node_id: int
    family: str
    t_ns: int           # gateway time of the track's latest burst
    lo_khz: int
    hi_khz: int
    dbm: float          # received power of the latest bursts


def core_config(detect: dict) -> PipelineConfig:
    unknown = set(detect) - set(DETECT_KEYS)
    if unknown:
        raise ValueError(f"[detect]: unknown keys {sorted(unknown)} (known: {', '.join(DETECT_KEYS)})")
    return PipelineConfig(**{**GATEWAY_DEFAULTS, **detect})


class _PlanState:
    """One core pipeline and the buffers of the sweep being assembled from segments."""

    def __init__(self, sweep: Sweep, cfg: PipelineConfig):
        self.core = CorePipeline(sweep.total, sweep.start_khz, sweep.step_khz, cfg)
        self.codes = np.zeros((1, sweep.total), np.uint8)
        self.t_us = np.zeros(1, np.int64)
        self.dur_us = np.zeros(1, np.int64)
        self.filled = 0
        self.reported: dict[int, int] = {}  # track id -> t_last_end_us already reported


class NodeDetector:
    """Streaming detection for one node: SWEEP frames (segments assembled) in, observations out."""

    def __init__(self, node_id: int, detect: dict):
        self.node_id = node_id
        self.cfg = core_config(detect)
        self._plans: dict[tuple, _PlanState] = {}

    def sweep(self, sweep: Sweep, t_us: int, offset_ns: int) -> list[Observation]:
        """Take one SWEEP frame (t_us: its header time; offset_ns: gateway minus node time)."""
        if sweep.step_khz == 0 or sweep.total == 0 or sweep.first + len(sweep.rssi) > sweep.total:
            return []  # uneven channel list (frequencies not in the frame) or a bad segment
        key = (sweep.front_end, sweep.start_khz, sweep.step_khz, sweep.total)
        st = self._plans.get(key)
        if st is None:
            st = self._plans[key] = _PlanState(sweep, self.cfg)
        n = len(sweep.rssi)
        if sweep.first == 0:
            st.filled, st.t_us[0], st.dur_us[0] = 0, t_us, 0
        st.codes[0, sweep.first:sweep.first + n] = np.frombuffer(sweep.rssi, np.uint8)
        st.filled += n
        st.dur_us[0] += sweep.duration_us
        if sweep.first + n < sweep.total or st.filled != sweep.total:
            return []
        result = st.core.process(st.codes, st.t_us, st.dur_us)
        if not result.bursts.size:
            return []
        return self._observations(st, result.bursts, offset_ns)

    def _observations(self, st: _PlanState, bursts: np.ndarray, offset_ns: int) -> list[Observation]:
        """Drone-classified tracks that took a burst in this sweep, with those bursts' power."""
        tracks = st.core.tracker.snapshot()
        fresh = [i for i, (tid, end) in enumerate(zip(tracks["track_id"].tolist(),
                                                      tracks["t_last_end_us"].tolist()))
                 if st.reported.get(tid) != end]
        if not fresh:
            return []
        _, classes = st.core.tracks()
        out = []
        lo_b = bursts["centre_khz"] - bursts["bandwidth_khz"] / 2
        hi_b = bursts["centre_khz"] + bursts["bandwidth_khz"] / 2
        for i in fresh:
            tr, cls = tracks[i], classes[i]
            st.reported[int(tr["track_id"])] = int(tr["t_last_end_us"])
            if not cls["drone"] or cls["family"] not in DRONE_FAMILIES:
                continue
            half = float(bursts["bandwidth_khz"].max()) / 2
            lo, hi = float(tr["f_min_khz"]) - half, float(tr["f_max_khz"]) + half
            mine = (hi_b >= lo) & (lo_b <= hi)
            peak = float(bursts["peak_mw"][mine].max()) if mine.any() else float(tr["peak_mw"])
            out.append(Observation(self.node_id, str(cls["family"]),
                                   int(tr["t_last_start_us"]) * 1000 + offset_ns,
                                   int(lo), int(hi), round(10 * math.log10(max(peak, 1e-20)), 1)))
        live = set(tracks["track_id"].tolist())
        for tid in [t for t in st.reported if t not in live]:
            del st.reported[tid]
        return out


def is_drone(family: str) -> bool:
    return family in DRONE_FAMILIES


def label(family: str) -> str:
    return LABELS.get(family, family)
