"""One evaluation session: a node of a scene scanned by the fast path, its frames through the
gateway's pure pipeline, in virtual time, the gateway's commands carried out by the node as the
firmware does (straja.eval.scenes.SceneNode: `info`, `get plan`, and `plan`, such as the
temporary plan of a video profile, gateway/profiling.py). Also the per-sweep strongest
reading per front end, which the fixed-threshold baseline works on."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..gateway.config import from_dict
from ..gateway.events import TrackEvent
from ..gateway.pipeline import Pipeline
from .readings import EVAL_PLAN
from .scenes import SceneNode, drive

SOURCE = "eval"
NODE_ID = 1
# Gateway settings for the evaluation: the defaults (docs/gateway.md) but no adaptive scanning
# (a session has one node: no neighbour to focus).
GATEWAY = {"alerts": {"adaptive_scan": False}}


class Session(NamedTuple):
    events: list          # the gateway's track and alert events
    peaks: dict           # front-end index -> (sweep end times s, strongest code) arrays
    seconds: float        # scene time covered
    codes: dict           # front-end index -> (n_sweeps, n_channels) uint8, if asked for


def gateway_config(detect: dict | None = None, alerts: dict | None = None):
    return from_dict({**GATEWAY, "alerts": {**GATEWAY["alerts"], **(alerts or {})},
                      "detect": dict(detect or {})})


def run_session(scene, node_name: str, t_end: float, seed: int, plan=EVAL_PLAN,
                detect: dict | None = None, keep_codes: bool = False, cost=None,
                alerts: dict | None = None, until=None) -> Session:
    """Scan `node_name` of `scene` from switch-on (t = 0) to t_end with the fast path (board
    generator seeded `seed`, the node's timing `cost`: readings.NODE_COST by default) and run
    its frames through the gateway pipeline ([alerts] overrides: `alerts`). `plan`'s sweeps
    only are in peaks and codes (not a temporary plan's). until(events, t_s): the session ends
    early at scene time t_s if it says so and no video profile is pending (scenes.drive);
    `seconds` is then t_s."""
    node = SceneNode(scene, node_name, NODE_ID, t_end, plan, seed=seed, cost=cost,
                     remote_id=False)
    pipe = Pipeline(gateway_config(detect, alerts))
    peaks: dict[int, tuple[list, list]] = {}
    codes: dict[int, list] = {}

    def tap(r):
        if r.entry not in plan:
            return
        ends, tops = peaks.setdefault(r.front_end, ([], []))
        ends.append((r.t_us + r.duration_us) / 1e6)
        tops.append(max(r.single()))  # the baseline is a plain scanner: one read per channel
        if keep_codes:
            codes.setdefault(r.front_end, []).append(np.frombuffer(r.held(), np.uint8))

    node.taps.append(tap)
    stopped = []

    def stop(events, t_s):
        # a profile asked at an alert (gateway/profiling.py) may still rename it: wait for it
        if until(events, t_s) and not pipe.profiler.pending:
            stopped.append(t_s)
        return bool(stopped)

    events = drive(pipe, {SOURCE: node}, until=stop if until else None)
    t_end = stopped[0] if stopped else t_end
    events += pipe.tick(int(t_end * 1e9)).events
    return Session([e for e in events if isinstance(e, TrackEvent)],
                   {k: (np.array(a), np.array(b, np.int16)) for k, (a, b) in peaks.items()},
                   t_end, {k: np.array(v) for k, v in codes.items()})
