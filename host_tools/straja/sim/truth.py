"""Ground truth: what was on air, where and when, as JSON lines (format in docs/scenes.md).

Records, one JSON object per line, each with a "type":
  header  scene name, seed, window, nodes (positions, front ends), emitters (kind, parameters)
  on      an emitter's switched-on interval [t0, t1)
  tx      a run of transmissions of one emitter stream on one channel: first start t0, last end
          t1, centre f_hz, bw_hz, channel number, count n and total airtime_s (consecutive
          transmissions on the same frequency less than merge_gap_s apart form one run: a hop)
  rx      every sample_s, per node: each emitter's mean received power in dBm at the node's first
          front end (path loss, shadowing and antenna gain at the stream's nominal frequency;
          no fading), its distance in metres and whether it is switched on
"""
import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from .emitters import BLOCK_S

FORMAT = "straja-truth/1"


def _round(x, nd=7):
    return round(float(x), nd)


def _runs(em, s, t0, t1, merge_gap_s):
    """tx records of one stream over [t0, t1): runs on the same channel, in time order."""
    run = None
    for k in range(int(t0 // BLOCK_S), int(np.ceil(t1 / BLOCK_S))):
        pk = em.block(s, k)
        keep = (pk.t0 >= t0) & (pk.t0 < t1)
        for a, b, f, bw, ch in zip(*(x[keep].tolist() for x in pk)):
            if run and run["f_hz"] == f and run["bw_hz"] == bw and a - run["t1"] <= merge_gap_s:
                run["t1"] = b
                run["n"] += 1
                run["airtime_s"] += b - a
                continue
            if run:
                yield run
            run = {"type": "tx", "emitter": em.name, "stream": em.streams[s].name, "t0": a,
                   "t1": b, "f_hz": f, "bw_hz": bw, "chan": ch, "n": 1, "airtime_s": b - a}
    if run:
        yield run


def records(scene, t0=0.0, t1=None, sample_s=0.1, merge_gap_s=0.05):
    """The ground-truth records of `scene` over [t0, t1) (default: the whole scene)."""
    t1 = scene.duration_s if t1 is None else t1
    yield {"type": "header", "format": FORMAT, "scene": scene.name, "source": scene.source,
           "seed": scene.seed, "t0": t0, "t1": t1, "sample_s": sample_s,
           "nodes": [{"name": n.name, "board": n.board, "position_m": n.position.tolist(),
                      "front_ends": [fe.name for fe in n.front_ends]} for n in scene.nodes.values()],
           "emitters": [em.describe() for em in scene.emitters]}
    for em in scene.emitters:
        for a, b in em.schedule.intervals(t0, t1):
            yield {"type": "on", "emitter": em.name, "t0": a, "t1": b}
    for em in scene.emitters:
        for s in range(len(em.streams)):
            for r in _runs(em, s, t0, t1, merge_gap_s):
                r.update(t0=_round(r["t0"]), t1=_round(r["t1"]), airtime_s=_round(r["airtime_s"]))
                yield r
    ts = np.arange(t0, t1, sample_s)
    for node in scene.nodes.values():
        rf = scene.node(node.name)
        per_em = []
        for e, em in enumerate(scene.emitters):
            f = (em.streams[0].f_lo + em.streams[0].f_hi) / 2
            per_em.append((em.name, rf.mean_rx_dbm(e, ts, f), em.trajectory.distance(ts, node.position),
                           em.schedule.is_on(ts)))
        for i, t in enumerate(ts.tolist()):
            yield {"type": "rx", "t": _round(t, 4), "node": node.name,
                   "p_dbm": {n: round(float(p[i]), 2) for n, p, d, on in per_em},
                   "d_m": {n: round(float(d[i]), 2) for n, p, d, on in per_em},
                   "on": [n for n, p, d, on in per_em if on[i]]}


def write_truth(scene, path, t0=0.0, t1=None, sample_s=0.1, merge_gap_s=0.05):
    """Write the ground truth of `scene` over [t0, t1) to `path` ("-": stdout) as JSON lines;
    returns counts."""
    counts = {}
    with contextlib.nullcontext(sys.stdout) if str(path) == "-" else open(path, "w") as out:
        for r in records(scene, t0, t1, sample_s, merge_gap_s):
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
            counts[r["type"]] = counts.get(r["type"], 0) + 1
    return counts


class Truth:
    """A ground-truth file read back: header dict and lists of on, tx and rx records."""

    def __init__(self, header, on, tx, rx):
        self.header = header
        self.on = on
        self.tx = tx
        self.rx = rx

    def is_on(self, emitter, t):
        """Whether `emitter` was switched on at time t."""
        return any(r["t0"] <= t < r["t1"] for r in self.on if r["emitter"] == emitter)

    def on_air(self, t0, t1, f_lo_hz=0.0, f_hi_hz=float("inf")):
        """tx runs overlapping [t0, t1) whose occupied band overlaps [f_lo_hz, f_hi_hz]."""
        return [r for r in self.tx if r["t0"] < t1 and r["t1"] > t0 and
                r["f_hz"] + r["bw_hz"] / 2 > f_lo_hz and r["f_hz"] - r["bw_hz"] / 2 < f_hi_hz]


def read_truth(path):
    """Read a ground-truth file written by write_truth."""
    header, lists = None, {"on": [], "tx": [], "rx": []}
    with open(Path(path)) as f:
        for n, line in enumerate(f, 1):
            r = json.loads(line)
            if r["type"] == "header":
                if r.get("format") != FORMAT:
                    raise ValueError(f"{path}:{n}: not a {FORMAT} file")
                header = r
            else:
                lists[r["type"]].append(r)
    if header is None:
        raise ValueError(f"{path}: no header record")
    return Truth(header, lists["on"], lists["tx"], lists["rx"])
