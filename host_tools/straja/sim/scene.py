"""Scene files: load, validate (errors name the file, line and field), and serve per-node RF.

A scene (docs/scenes.md) is a TOML file (or the same structure in JSON) with the tables
[scene], [propagation], [[node]] (each with optional [[node.front_end]]) and [[emitter]].
"""
import json
import os
import re
import tomllib
from pathlib import Path

import numpy as np

from .. import term
from ..argtypes import MAX_FLOAT, read_text
from ..boards import load_profile
from ..errors import StrajaError
from ..paths import SCENES
from .emitters import KINDS as RF_KINDS, MHZ
from .remoteid import RemoteIdBroadcaster, to_geodetic
from .params import Param, ParamError, resolve
from .propagation import Propagation
from .receiver import FrontEnd, NodeRF
from .trajectory import ALWAYS, Schedule, Trajectory

KINDS = {**RF_KINDS, RemoteIdBroadcaster.KIND: RemoteIdBroadcaster}


class SceneError(StrajaError, ValueError):
    """A bad scene file; the message starts with 'file:line:' where the line is known."""

    CODE = term.EXIT_USAGE
    FIX = "correct the scene file (docs/scenes.md describes every table and field)"


SCENE = {
    "name": Param(str, "", doc="short name"),
    "description": Param(str, "", doc="what the scene is for"),
    "seed": Param(int, 0, lo=0, hi=2**63 - 1, doc="seed of every random draw"),
    "duration_s": Param(float, lo=0.001, hi=MAX_FLOAT, doc="length of the scene"),
    "include": Param(list, [], doc="scene files (relative paths) whose emitters join this scene"),
    "origin": Param("floats", [45.0, 25.0, 0.0], doc="[latitude, longitude, height m] of the "
                    "scene's (0, 0, 0): where positions in metres are on the Earth"),
}
PROPAGATION = {
    "exponent": Param(float, 2.0, lo=1.0, hi=6.0, doc="path-loss exponent n"),
    "ref_distance_m": Param(float, 1.0, lo=0.01, hi=1000.0, doc="reference distance d0"),
    "shadowing_sigma_db": Param(float, 0.0, lo=0.0, hi=20.0, doc="log-normal shadowing sigma"),
    "shadowing_tau_s": Param(float, 0.0, lo=0.0, doc="shadowing correlation time (0: constant)"),
    "fading": Param(str, "rician", choices=("none", "rayleigh", "rician")),
    "rician_k_db": Param(float, 6.0, lo=-30.0, hi=40.0, doc="Rician K factor"),
    "coherence_bw_mhz": Param(float, 1.0, lo=0.01, hi=1000.0,
                              doc="coherence bandwidth: a continuous wide channel (video) read "
                                  "whole averages the fades of its bandwidth / this many bands"),
}
ANTENNA = {
    "noise_figure_db": Param(float, 6.0, lo=0.0, hi=40.0),
    "antenna_gain_dbi": Param(float, 0.0, lo=-30.0, hi=30.0),
    "antenna_band_mhz": Param("floats", [], lo=1.0, doc="[low, high] band of the antenna"),
    "antenna_oob_loss_db": Param(float, 20.0, lo=0.0, hi=80.0, doc="gain lost outside the band"),
}
NODE = {"name": Param(str), "board": Param(str, "virtual", doc="board profile name"),
        "position_m": Param("floats", doc="[x, y, z] in metres (x east, y north, z up)"), **ANTENNA}
FRONT_END = {"name": Param(str), **{k: Param(p.type, None, p.lo, p.hi, p.choices, p.doc)
                                    for k, p in ANTENNA.items()}}
EMITTER_COMMON = {
    "name": Param(str), "kind": Param(str, choices=tuple(KINDS)),
    "eirp_dbm": Param(float, None, lo=-50.0, hi=70.0, doc="EIRP (default: the model's)"),
    "position_m": Param("floats", None, doc="[x, y, z] for a fixed emitter"),
    "trajectory": Param(list, None, doc="[[t, x, y, z], ...] waypoints"),
    "on": Param(list, None, doc="[[t_on, t_off], ...] (default: always on)"),
    "remote_eirp_dbm": Param(float, None, lo=-50.0, hi=70.0,
                             doc="EIRP of the link's other end (default: eirp_dbm)"),
    "remote_position_m": Param("floats", None, doc="[x, y, z] of the link's other end"),
    "remote_trajectory": Param(list, None, doc="waypoints of the link's other end"),
}


class Node:
    def __init__(self, index, name, board, position, front_ends):
        self.index = index
        self.name = name
        self.board = board
        self.position = position
        self.front_ends = front_ends


class Scene:
    """A loaded scene. `node(name)` gives the RF input of a node (or one of its front ends)."""

    def __init__(self, meta, propagation, nodes, emitters, source="<scene>"):
        self.name = meta["name"]
        self.description = meta["description"]
        self.seed = meta["seed"]
        self.duration_s = meta["duration_s"]
        self.origin = tuple(meta["origin"])
        self.propagation = propagation
        self.nodes = nodes
        self.emitters = emitters
        self.source = source
        self._rf = {}

    def node(self, name, front_end=None):
        """The RF input (`NodeRF`) of node `name`; front_end: its name or index (default first)."""
        if name not in self.nodes:
            raise KeyError(f"no node {name!r} in scene {self.name!r} (nodes: {', '.join(self.nodes)})")
        node = self.nodes[name]
        if front_end is None:
            i = 0
        elif isinstance(front_end, int):
            i = front_end
        else:
            names = [fe.name for fe in node.front_ends]
            if front_end not in names:
                raise KeyError(f"node {name!r} has no front end {front_end!r} (has: {', '.join(names)})")
            i = names.index(front_end)
        key = (name, i)
        if key not in self._rf:
            self._rf[key] = NodeRF(self, node, node.front_ends[i], i)
        return self._rf[key]

    def geodetic(self, position_m) -> tuple[float, float, float]:
        """(latitude, longitude, height m above the ellipsoid) of a scene position [x, y, z]."""
        lat, lon = to_geodetic(self.origin[0], self.origin[1], position_m[0], position_m[1])
        return float(lat), float(lon), float(self.origin[2] + position_m[2])

    def gateway_nodes(self) -> dict:
        """The gateway config's [nodes.<id>] tables for the scene's nodes, ids numbered from 1 in
        scene order (as `straja sim node` and `straja eval --scene` number them)."""
        out = {}
        for i, node in enumerate(self.nodes.values()):
            lat, lon, hae = self.geodetic(node.position)
            out[str(i + 1)] = {"latitude": lat, "longitude": lon, "height_m": hae}
        return out

    def emitter(self, name):
        for em in self.emitters:
            if em.name == name:
                return em
        raise KeyError(f"no emitter {name!r} in scene {self.name!r}")

    def summary(self):
        """Plain-text summary for `straja sim check`."""
        lines = [f"scene {self.name!r}: {self.duration_s:g} s, seed {self.seed}",
                 f"  propagation: n={self.propagation.exponent:g}, d0={self.propagation.d0:g} m, "
                 f"shadowing {self.propagation.sigma:g} dB, fading {self.propagation.fading}"]
        for n in self.nodes.values():
            fes = ", ".join(f"{fe.name} (NF {fe.nf_db:g} dB, {fe.gain_dbi:g} dBi)" for fe in n.front_ends)
            lines.append(f"  node {n.name} [{n.board}] at {n.position.tolist()}: {fes}")
        for em in self.emitters:
            bands = ", ".join(f"{st.name} {st.f_lo / MHZ:.1f}-{st.f_hi / MHZ:.1f} MHz" for st in em.streams)
            on = em.schedule.intervals(0.0, self.duration_s)
            duty = sum(b - a for a, b in on) / self.duration_s
            lines.append(f"  emitter {em.name} [{em.KIND}] {em.eirp_dbm:g} dBm EIRP, "
                         f"on {duty:.0%} of the scene: {bands}")
        return "\n".join(lines)


def load_scene(path, within: tuple = (), seed: int | None = None):
    """Load and validate a scene file (.toml or .json), or a catalogue scene by name (e.g.
    "two_drones" for scenes/two_drones.toml); SceneError names file, line and field. `within`:
    the files whose includes led here (a file that includes itself, however far down, is an
    error, not an endless load). `seed`: the scene drawn anew from it (`scene_from_dict`)."""
    path = Path(path)
    # (os.path.exists: False, not an OSError, for a name too long for the file system)
    if not os.path.exists(path) and path.parent == Path(".") and not path.suffix:
        catalogue = SCENES / f"{path}.toml"
        if not os.path.exists(catalogue):
            known = ", ".join(sorted(p.stem for p in SCENES.glob("*.toml")))
            raise SceneError(f"{path}: no such scene file or catalogue scene (catalogue: {known})")
        path = catalogue
    try:
        text = read_text(path)
    except OSError as e:
        raise SceneError(f"{path}: cannot read scene: {e.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        where = f"{path}:{m.group(1)}" if m else str(path)
        raise SceneError(f"{where}: TOML syntax error: {e}") from None
    except json.JSONDecodeError as e:
        raise SceneError(f"{path}:{e.lineno}: JSON syntax error: {e.msg}") from None
    return scene_from_dict(data, source=str(path), text=text if path.suffix != ".json" else None,
                           base=path.parent, within=(*within, path.resolve()), seed=seed)


def scene_from_dict(data, source="<scene>", text=None, base=Path("."), within: tuple = (),
                    seed: int | None = None):
    """Build a Scene from parsed data; `text` (the TOML source) lets errors carry line numbers.

    Included scenes (relative to `base`) contribute their emitters first; when this scene has no
    [[node]] or no [propagation], those of the first included scene are used.
    `seed`, when given, replaces the scene's: the same scene with other random draws, its
    included scenes' too (each with a seed drawn from it, `included_seed`: a file's seed only
    reseeds its own emitters, so the residents of an included site would keep their draws).
    """
    def fail(keys, msg):
        line = _toml_line(text, keys) if text else None
        where = f"{source}:{line}" if line else source
        raise SceneError(f"{where}: {_dotted(keys)}: {msg}")

    def section(keys, spec, given):
        if not isinstance(given, dict):
            fail(keys, "must be a table")
        try:
            return resolve(spec, given)
        except ParamError as e:
            fail(keys + (e.field,), str(e))

    if not isinstance(data, dict):
        raise SceneError(f"{source}: a scene is a table of [scene], [[node]] and [[emitter]], "
                         f"not {data!r}"[:300])
    known = {"scene", "propagation", "node", "emitter"}
    for key in data:
        if key not in known:
            fail((key,), f"unknown table (known: {', '.join(sorted(known))})")
    head = data.get("scene", {})
    if not isinstance(head, dict):
        fail(("scene",), "must be a table")
    meta = section(("scene",), {k: p for k, p in SCENE.items() if p.type is not list},
                   {k: v for k, v in head.items() if k != "include"})
    if seed is not None:
        meta["seed"] = seed
    included = _includes(fail, head.get("include", []), base, within, seed)
    prop = Propagation(**section(("propagation",), PROPAGATION, data.get("propagation", {})))
    if "propagation" not in data and included:
        prop = included[0].propagation
    nodes = {}
    node_list = _tables(fail, ("node",), data.get("node", []))
    emitter_list = _tables(fail, ("emitter",), data.get("emitter", []))
    if not node_list and included:
        nodes = included[0].nodes
    elif not node_list:
        fail(("node",), "a scene needs at least one [[node]]")
    for i, raw in enumerate(node_list):
        keys = ("node", i)
        fes_raw = _tables(fail, keys + ("front_end",),
                          raw.pop("front_end", []) if isinstance(raw, dict) else [])
        p = section(keys, NODE, raw)
        try:  # (its virtual node runs on it: a bad one would fail only as the node starts)
            load_profile(p["board"])
        except (ValueError, FileNotFoundError) as e:
            fail(keys + ("board",), str(e))
        if p["name"] in nodes:
            fail(keys + ("name",), f"duplicate node name {p['name']!r}")
        pos = _point(fail, keys + ("position_m",), p["position_m"])
        default = _front_end(fail, keys, p["name"], p, p)
        fes = [_front_end(fail, keys + ("front_end", j), None, section(keys + ("front_end", j),
                          FRONT_END, fe), p) for j, fe in enumerate(fes_raw)]
        nodes[p["name"]] = Node(i, p["name"], p["board"], pos, fes or [default])
    emitters = []
    for inc in included:
        for em in inc.emitters:
            if em.name in {x.name for x in emitters}:
                fail(("scene", "include"), f"emitter name {em.name!r} appears twice")
            emitters.append(em)
    if len(meta["origin"]) != 3 or not (-89 <= meta["origin"][0] <= 89
                                        and -180 <= meta["origin"][1] <= 180):
        fail(("scene", "origin"), f"must be [latitude, longitude, height m] (got {meta['origin']})")
    for i, raw in enumerate(emitter_list):
        emitters.append(_emitter(fail, section, ("emitter", i), raw, meta["seed"], i,
                                 {em.name for em in emitters}))
        if isinstance(emitters[-1], RemoteIdBroadcaster):
            emitters[-1].place(meta["origin"])
    return Scene(meta, prop, nodes, emitters, source)


def _tables(fail, keys: tuple, value) -> list:
    """`value`, an array of tables [[...]] at `keys` (each is checked to be a table where it is
    read)."""
    if not isinstance(value, list):
        fail(keys, f"must be a list of tables, not {value!r}"[:200])
    return value


def _includes(fail, names, base, within, seed):
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        fail(("scene", "include"), f"must be a list of file names (got {names!r})")
    out = []
    for j, n in enumerate(names):
        try:
            there = (base / n).is_file()
        except OSError as e:  # (a name too long for the file system)
            fail(("scene", "include"), f"{n[:60]!r}: {e.strerror}")
        if not there:
            fail(("scene", "include"), f"no scene file {n!r} next to this one")
        if (base / n).resolve() in within:
            fail(("scene", "include"), f"{n!r} includes this scene again (a loop of includes)")
        out.append(load_scene(base / n, within, None if seed is None else included_seed(seed, j)))
    return out


def included_seed(seed: int, j: int) -> int:
    """The seed of a scene's j-th included scene when the scene is reseeded `seed`: apart from
    the scene's own emitters' (theirs are drawn from [seed, emitter index])."""
    return int(np.random.SeedSequence([seed, 0x1C1, j]).generate_state(1, np.uint64)[0] >> 1)


def _front_end(fail, keys, name, p, node):
    get = lambda k: node[k] if p.get(k) is None else p[k]
    band = get("antenna_band_mhz")
    if band and (len(band) != 2 or band[0] >= band[1]):
        fail(keys + ("antenna_band_mhz",), f"must be [low, high] with low < high (got {band})")
    return FrontEnd(name or p["name"], get("noise_figure_db"), get("antenna_gain_dbi"),
                    (band[0] * MHZ, band[1] * MHZ) if band else None, get("antenna_oob_loss_db"))


def _emitter(fail, section, keys, raw, seed, index, taken):
    if not isinstance(raw, dict):
        fail(keys, "must be a table")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        fail(keys + ("kind",), f"must be one of {', '.join(KINDS)} (got {kind!r})")
    cls = KINDS[kind]
    # trajectory, remote_trajectory and on are lists of rows, checked by _rows below.
    rows = ("trajectory", "remote_trajectory", "on")
    c = section(keys, {k: p for k, p in EMITTER_COMMON.items() if p.type is not list},
                {k: v for k, v in raw.items() if k in EMITTER_COMMON and k not in rows})
    if c["name"] in taken:
        fail(keys + ("name",), f"duplicate emitter name {c['name']!r}")
    params = section(keys, cls.PARAMS, {k: v for k, v in raw.items() if k not in EMITTER_COMMON})
    if (c["position_m"] is None) == (raw.get("trajectory") is None):
        fail(keys + ("position_m",), "give exactly one of position_m and trajectory")
    traj = _trajectory(fail, keys, c["position_m"], raw.get("trajectory"), "")
    if c["remote_position_m"] is not None and raw.get("remote_trajectory") is not None:
        fail(keys + ("remote_position_m",),
             "give at most one of remote_position_m and remote_trajectory")
    remote_traj = _trajectory(fail, keys, c["remote_position_m"], raw.get("remote_trajectory"),
                              "remote_") or traj
    on = ALWAYS
    if raw.get("on") is not None:
        on = _rows(fail, keys + ("on",), raw["on"], 2, "[t_on, t_off]")
        if any(b <= a for a, b in on) or any(b[0] < a[1] for a, b in zip(on, on[1:])):
            fail(keys + ("on",), "intervals must have t_on < t_off, sorted and not overlapping")
    eirp = cls.EIRP_DBM if c["eirp_dbm"] is None else c["eirp_dbm"]
    remote_eirp = eirp if c["remote_eirp_dbm"] is None else c["remote_eirp_dbm"]
    em_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
    try:
        return cls(c["name"], params, em_seed, eirp, traj, Schedule(on), (remote_traj, remote_eirp))
    except ParamError as e:
        fail(keys + (e.field,), str(e))


def _trajectory(fail, keys, position, waypoints, prefix):
    """The Trajectory of a fixed position or of waypoints (None when neither is given)."""
    if position is not None:
        return Trajectory.fixed(_point(fail, keys + (prefix + "position_m",), position))
    if waypoints is None:
        return None
    field = keys + (prefix + "trajectory",)
    wp = _rows(fail, field, waypoints, 4, "[t, x, y, z]")
    if any(b[0] <= a[0] for a, b in zip(wp, wp[1:])):
        fail(field, "waypoint times must increase")
    return Trajectory(wp)


def _rows(fail, keys, value, width, form):
    ok = isinstance(value, list) and value and all(
        isinstance(r, list) and len(r) == width and
        all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in r) for r in value)
    if not ok:
        fail(keys, f"must be a non-empty list of {form} (got {value!r})")
    return [[float(x) for x in r] for r in value]


def _point(fail, keys, value):
    if len(value) != 3:
        fail(keys, f"must be [x, y, z] in metres (got {value})")
    return np.array(value, dtype=float)


def _dotted(keys):
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else k)
    return out


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-]+)\s*\]\]?")


def _toml_line(text, keys):
    """Best-effort 1-based line of the field `keys` (e.g. ('emitter', 2, 'rate')) in TOML text."""
    lines = text.splitlines()
    counts = {}
    headers = []  # (line index, table path tuple)
    current_parent = {}
    for n, line in enumerate(lines):
        m = _HEADER.match(line)
        if not m:
            continue
        parts = m.group(2).split(".")
        path = []
        for depth, part in enumerate(parts[:-1]):
            path += [part, current_parent.get(tuple(parts[:depth + 1]), 0)]
        if m.group(1) == "[[":
            ckey = tuple(path) + (parts[-1],)
            counts[ckey] = counts.get(ckey, -1) + 1
            current_parent[tuple(parts)] = counts[ckey]
            path += [parts[-1], counts[ckey]]
        else:
            path.append(parts[-1])
        headers.append((n, tuple(path)))
    best, table_line, end = 0, None, len(lines)
    for h, (n, path) in enumerate(headers):
        if len(path) > best and tuple(keys[:len(path)]) == path:
            best, table_line = len(path), n
            end = headers[h + 1][0] if h + 1 < len(headers) else len(lines)
    if table_line is None:
        start, end, best = 0, (headers[0][0] if headers else len(lines)), 0
    else:
        start = table_line + 1
    rest = keys[best:]
    if rest and isinstance(rest[0], str):
        pattern = re.compile(rf"^\s*{re.escape(rest[0])}\s*=")
        for n in range(start, end):
            if pattern.match(lines[n]):
                return n + 1
    return table_line + 1 if table_line is not None else None
