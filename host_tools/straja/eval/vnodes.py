"""Evaluation sessions on real virtual nodes (straja.vnode: the firmware under MicroPython, its
drivers on the virtual board's chip models over a socket), in real time, through the same
gateway pipeline as the fast path: the check that the fast path's figures are a node's.

A virtual node shares the machine's CPUs: when it waits for one, its steps take longer, its
sweeps stretch and its readings overrun (a board has its CPU to itself). `NodeRun.slowdown`
says by how much: (time on a CPU + time runnable but waiting for one) / time on a CPU, of the
interpreter and of the board's server process together, from the kernel's schedstat.
"""
from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np
import serial

from ..framing import Decoder
from ..gateway.events import TrackEvent
from ..gateway.pipeline import Pipeline
from ..protocol import FLAG_OVERRUN, STATUS, SWEEP
from ..vnode import schedstat
from ..vnode.fleet import Fleet, NodeSpec, scene_rf
from . import score
from .readings import EVAL_PLAN, NODE_COST
from .run import SOURCE, gateway_config, run_session
from .trials import FAMILIES, NODE, TARGET_SNR_DB, build

NODE_ID = 1  # a Fleet seeds the board's generator with it


class NodeRun(NamedTuple):
    events: list        # the gateway's track and alert events
    sweeps: list        # (stamp us, protocol.Sweep) of every SWEEP frame, in order
    overruns: int       # the node's late readings (its last STATUS)
    seconds: float      # scene time covered
    cpu_s: float        # seconds the node and its board's server ran on a CPU
    slowdown: float     # CPU contention of the node and its board (module docstring; nan: unknown)


def _cpu(fleet) -> tuple[int, int]:
    node = fleet.nodes[0]
    a = schedstat.task(f"/proc/{node.node.pid}/schedstat")
    b = schedstat.task(f"{node.board.task_path}/schedstat")
    return a[0] + b[0], a[1] + b[1]


def run_vnode(scene, node_name: str, t_end: float, plan=EVAL_PLAN,
              detect: dict | None = None, enough=None) -> NodeRun:
    """Run `node_name` of `scene` as a virtual node streaming `plan` from switch-on (scene time
    0 is when the fleet starts; the node boots a few hundred ms later) until t_end, or until
    `enough(sweeps)` says so, feeding its frames to the gateway pipeline as they arrive."""
    spec = NodeSpec(node_name, NODE_ID, config={"stream_on_boot": True, "plan": plan})
    pipe = Pipeline(gateway_config(detect))
    events = pipe.open_source(SOURCE, 0).events
    sweeps, overruns = [], 0
    decoder = Decoder()
    # the board at the normal policy, as when the fast path's contended costs were fitted
    # (NODE_COST.contended): with its board at real-time priority a contended node overruns
    # 11-14 times less than they make (docs/virtual-node.md "Timing", tenth round)
    with Fleet([spec], lambda name, profile: scene_rf(scene, node_name, profile),
               real_time_boards=False) as fleet:
        cpu0 = _cpu(fleet)
        with serial.Serial(fleet.nodes[0].port, 115200, timeout=0.05) as port:
            while time.monotonic() - fleet.t_origin < t_end:
                if enough is not None and enough(sweeps):
                    t_end = time.monotonic() - fleet.t_origin
                    break
                data = port.read(4096)
                if not data:
                    continue
                t = time.monotonic() - fleet.t_origin  # arrival, in scene time
                for f in decoder.feed(data):
                    if getattr(f, "type", None) == SWEEP:
                        sweeps.append((f.t_us, f.body))
                    elif getattr(f, "type", None) == STATUS:
                        overruns = f.body.overruns
                events += pipe.feed(SOURCE, int(t * 1e9), data).events
        cpu1 = _cpu(fleet)
    events += pipe.tick(int(t_end * 1e9)).events
    run, wait = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
    return NodeRun([e for e in events if isinstance(e, TrackEvent)], sweeps, overruns, t_end,
                   run / 1e9, (run + wait) / run if run else math.nan)


class SweepTiming(NamedTuple):
    sweeps: int
    mean_ms: float      # mean sweep duration
    overrun_share: float  # share of sweeps with a late reading (OVERRUN)


def sweep_timing(rows) -> dict[int, SweepTiming]:
    """Per front end (profile index): the timing of sweeps given as (front end, duration us,
    flags), the first of each front end left out (it starts at boot, with the others)."""
    per_fe: dict[int, list] = {}
    for fe, duration_us, flags in rows:
        per_fe.setdefault(fe, []).append((duration_us, bool(flags & FLAG_OVERRUN)))
    out = {}
    for fe, v in sorted(per_fe.items()):
        a = np.array(v[1:] or v, float)
        out[fe] = SweepTiming(len(a), float(a[:, 0].mean() / 1e3), float(a[:, 1].mean()))
    return out


def sweep_period_s(ends) -> float:
    """Mean time between the ends of a front end's successive sweeps (nan: fewer than two)."""
    return float(np.diff(ends).mean()) if len(ends) > 1 else math.nan


def run_vnode_trial(trial, horizon_s: float, detect: dict | None = None):
    """(Outcome, NodeRun, the fast path's Session at the node's CPU contention) of a detection
    trial on a virtual node."""
    scene, t_on, snr = build(trial, horizon_s)
    run = run_vnode(scene, NODE, t_on + horizon_s, detect=detect)
    t_alert, family = score.first_alert(run.events, t_on)
    contended = run_session(scene, NODE, t_on + horizon_s, seed=trial.seed, detect=detect,
                            cost=NODE_COST.contended(run.slowdown))
    return score.Outcome(trial.family.name, snr, t_alert, family), run, contended


def compare(trials, results, per_family: int, detect: dict | None, log=print) -> list[dict]:
    """The first `per_family` +10 dB trials of each family run again on virtual nodes, each
    until its target time after switch-on (a later alert is a miss either way), against their
    fast path results (`trials`, `results`: evaluate's jobs and _trial_job's answers)."""
    rows = []
    for fam in FAMILIES:
        mine = [(t, r) for t, r in zip(trials, results)
                if t[0].family.name == fam.name and t[0].snr_db == TARGET_SNR_DB][:per_family]
        if not mine:
            continue
        log(f"virtual nodes: {len(mine)} {fam.name} trials")
        fast, node, slowdown, overruns = [], [], [], []
        fast_period, node_period, contended_period = [], [], []
        for (trial, *_), (outcome, t_on, ends, tops, fe) in mine:
            fast.append(outcome)
            fast_period.append(sweep_period_s(ends))
            out, run, contended = run_vnode_trial(trial, fam.target_s, detect)
            contended_period.append(sweep_period_s(contended.peaks[fe][0]))
            node.append(out)
            slowdown.append(run.slowdown)
            overruns.append(run.overruns / run.seconds)
            node_period.append(sweep_period_s(
                [(t + b.duration_us) / 1e6 for t, b in run.sweeps if b.front_end == fe]))
        row = {"family": fam.label, "front_end": fam.front_end, "n": len(mine),
               "slowdown": float(np.nanmean(slowdown)),
               "contended_sweep_period_s": float(np.nanmean(contended_period)),
               "node_overruns_per_s": float(np.mean(overruns))}
        for name, outcomes, periods in (("fast", fast, fast_period), ("node", node, node_period)):
            hit = score.detected(outcomes, fam.target_s)
            times = [t if t <= fam.target_s else math.inf for t in (o.t_alert_s for o in outcomes)]
            row[name] = {"alerted": int(hit.sum()), "median_s": score.percentile(times, 50),
                         "sweep_period_s": float(np.nanmean(periods))}
        rows.append(row)
    return rows
