"""Any scene scored end to end (`straja eval --scene`): every node of the scene scanned by the
fast path (straja.eval.readings) with its default plan, all of them feeding one gateway pipeline
at its defaults (adaptive scanning on: the gateway's plan commands change what a node scans),
and every emitter of the scene scored against the scene's ground truth.

A node answers the gateway's commands as the firmware does (docs/firmware.md): `info` with its
front ends and running plan (built by the firmware's own straja_node.plan.scanning), `get plan` with
its stored plan ([]: the default), `plan` by running the new plan (a temporary one until it
lapses, unless refreshed). A command arrives COMMAND_DELAY_S after the gateway sent it; the node
starts the new plan then, or at the end of the sweep its reader is in if that is later (the fast
path yields whole sweeps: at most one sweep of the node's shortest plan entry, ~50 ms with the
sub-GHz entry, late).

Matching (ground truth, straja.sim.truth: the emitters' transmissions and on intervals): an
alert event (raised or updated) matches an emitter when one of the emitter's transmissions
overlaps the alert's band (widened by half the scan step there: a reading stands for that much
on either side) during the track's last MATCH_WINDOW_S of observations, give or take a reading's
time (READ_TIME_S, evidence_window). A transmission exists
only while its emitter is switched on, so a match is a match while it is on. Of a drone's
streams only those of the alert's link count (STREAM_LINK): a video alert over an OcuSync's
hopping uplink span, where a Wi-Fi access point's own false alert lies, is not the drone's; and
only a transmission mostly within the alert's band (matches). And a drone emitter only where its
transmissions explain the alert's evidence (Evidence): at one of the alert's nodes, at least
EXPLAINED_SHARE of the hits the alert's track was made of there in its evidence window are
readings of the drone's: one of its transmissions over the hit's extent within a reading's time,
heard at that node (its received power, the simulator's own path loss and shadowing, fading
averaged, in one reading's filter at least HEARD_MARGIN_DB under that front end's noise floor:
Hearing) and no more than FADE_UP_DB under the hit's reading. Without it a site's own alert was
the drone's wherever the drone was on in its band: a GFSK FHSS alert of a site's Bluetooth car
kit at n2, where the OcuSync's uplink is 16 dB under the noise, was the OcuSync's
(ocusync10_2432_urban_west); an office node's alert made of its residents' hits was the FrSky's,
FlySky's or ELRS's, heard there 17 dB over the noise but on none of its hits (office24_*,
docs/measured/det62.md, det64.md): the score hid both the missed drone and the false alert.

An alert is an emitter's only if the emitter was on when the alert was raised: a site's alert
raised on its residents and joined later by a drone's hits (one track gathering a busy sub-GHz
band, docs/measured/sub75.md) told the operator nothing new, and was scored as the drone's alert
0.2-3 s after its switch-on and as no false alert.

An emitter's row: time to alert is its first matched alert event's; its family is that alert's
family as last told by an event matched to the emitter (a video profile names a track after
its alert, in an update: the name an operator is left with while the emitter is on).
"""
from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import json
import math
import multiprocessing
import signal
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from straja_node.plan import default_plan, scanning

from ..detect.bursts import BURST
from ..frontends import FRONT_ENDS
from ..gateway.config import from_dict, track_end_s
from ..gateway.detector import B_CENTRE, B_PEAK, B_WIDTH, NodeDetector
from ..gateway.events import AlertCleared, AlertEvent, NodeCommand, SourceQuarantined
from ..gateway.fusion import LINK
from ..gateway.pipeline import Pipeline
from ..protocol import REMOTEID, Frame, RemoteId, Reply, encode_frame
from ..sim.emitters import DRONE_FAMILY, drone_family
from ..sim.receiver import spectral_fraction
from ..sim.remoteid import NodeBluetooth
from ..signals import deferred_stops
from ..sim.scene import load_scene
from ..vboard.vtime import VirtualTimeBoard
from ..vnode.fleet import scene_rf
from .readings import NodeReader, channels_khz, eval_plan, load_profile, wire_chunks

COMMAND_DELAY_S = 0.002   # a command line to the node, parsed, and its reply back
MATCH_WINDOW_S = 5.0      # the track's recent evidence an alert event stands for
READ_TIME_S = 0.005       # a reading's time is known to within this either side: a REVISIT
                          # sweep's two reads of a channel are within `revisit` dwells of its
                          # stated instant (docs/protocol.md, SWEEP; the CC2500's 3 x 1.4 ms)
HEARD_STEP_S = 0.5        # the grid of a drone's level at each node (Hearing): a drone at
                          # 20 m/s moves 10 m, its level at 500 m changes by < 0.6 dB
# A drone stream is heard at a node from this far under the noise floor (SNR in one reading's
# filter, fading averaged). The detector shows nothing under its thresholds over the floor
# (cfar.design and noise.floor_alpha at pfa 1e-6 for each front end's looks: SNR -5.3 dB on the
# RX5808, -3.8 dB on the CC2500, -0.6 dB on the SX126x); a Rayleigh-faded packet rises over
# its mean by 7.7 dB or more in only e^-5.9 = 0.3 % of packets (by 9.2 dB, the CC2500's share
# of this margin, in 0.02 %): a track's bursts are not made of those
HEARD_MARGIN_DB = 13.0
# A reading is of a stream only if the stream's mean level there (in the filter, with the noise)
# is at most this far under it: a Rayleigh-faded packet rises 10 dB over its mean in e^-10 of
# packets (a Rician channel's tail is thinner), so a reading that much stronger is another's
FADE_UP_DB = 10.0
# An alert stands for a drone when the drone's transmissions explain at least this share of its
# hits at one of its nodes (Evidence): a site's hits a drone explains by chance (a hopper's
# packet in the same bin within a reading's time) are a few in a hundred, the drone's own all
EXPLAINED_SHARE = 0.5
REMOTEID_SEQ = 0xC000    # REMOTEID frames' sequence numbers, apart from sweeps' and replies'
TEMP = " temp="           # a temporary plan's suffix (straja.gateway.replies.plan_args)
# The link (straja.gateway.fusion.LINK) each stream of a drone emitter (straja.sim.emitters,
# DRONE_FAMILY) is: a video alert matches only a drone's video, a control-link alert only its
# control link (the pilot's uplink, ELRS telemetry from the drone). DroneID bursts are neither
# (no classifier family names them): an alert over them alone is not the drone's.
B_T0, B_T1 = BURST.names.index("t_start_us"), BURST.names.index("t_end_us")  # a burst's times
STREAM_LINK = {"video": "video", "packets": "control link", "telemetry": "control link",
               "uplink": "control link", "droneid": None}


def node_plan(board: str) -> list[dict]:
    """The plan a node of `board` runs out of the box, less what the gateway does not detect
    on: the evaluation's plan (straja.eval.readings) for the virtual board, the firmware's
    default plan without envelope front ends for another board."""
    plan = eval_plan(board)
    if plan:
        return plan
    drivers = VirtualTimeBoard(load_profile(board), None).front_ends
    return [e for e in default_plan(drivers)
            if not FRONT_ENDS[next(d.kind for d in drivers if d.name == e["front_end"])].envelope]


class SceneNode:
    """One node of a scene: the fast path's reader, the plan it runs (the stored one, or the
    gateway's temporary one until it lapses) and its frames in the order it sends them."""

    def __init__(self, scene, name: str, node_id: int, t_end_s: float, plan: list | None = None,
                 seed: int | None = None, cost=None, remote_id: bool = True):
        """seed: the board's (default the node id, as a Fleet seeds); cost: the node's timing
        (readings.NODE_COST by default); remote_id: send the Remote ID frames it hears."""
        board = scene.nodes[name].board
        self.name, self.node_id, self.t_end = name, node_id, t_end_s
        self.reader = NodeReader(scene, name, board, seed=node_id if seed is None else seed,
                                 cost=cost)
        self.default = plan or node_plan(board)
        self.stored: list = []          # the config's plan: [] is the default plan
        self.temp: list | None = None   # a temporary plan as sent, while it runs
        self.temp_end_s = 0.0
        self.end_s = 0.0                # end of the last sweep read
        self.replies = 0
        self.plans: list[tuple[float, list]] = []   # (from s, plan): what it ran when
        self._run(self.stored)
        self.taps: list = []            # callables given each sweep read
        self._chunks = heapq.merge(wire_chunks(node_id, self._readings()),
                                   remote_id_chunks(scene, name, node_id, t_end_s)
                                   if remote_id else (), key=lambda chunk: chunk[0])
        self.next = next(self._chunks, None)

    def _readings(self):
        while True:
            if self.temp is not None and self.end_s >= self.temp_end_s:
                self.temp = None  # lapsed: back to the stored plan
                self._run(self.stored, self.temp_end_s)
            r = next(self._sweeps, None)
            if r is None:
                return
            self.end_s = (r.t_us + r.duration_us) / 1e6
            for tap in self.taps:
                tap(r)
            yield r

    def advance(self) -> None:
        self.next = next(self._chunks, None)

    def _run(self, entries: list, t_s: float = 0.0) -> None:
        self.running = entries or self.default
        t_start = max(t_s, self.end_s)
        self.plans.append((t_start, self.running))
        self._sweeps = self.reader.sweeps(self.running, t_start, self.t_end)

    def command(self, verb: str, args: str | None, t_s: float) -> bytes | None:
        """Carry out a gateway command arriving at t_s; the wire bytes of the reply the gateway
        reads (info, get plan), or None."""
        if verb == "info":  # what the gateway reads of the firmware's `info`, as it builds it
            value = scanning(self.reader.board.front_ends, self.running, self._temp_left(t_s))
        elif verb == "get" and args == "plan":
            value = {"plan": self.stored, "temp_plan_s": self._temp_left(t_s)}
        elif verb == "plan":
            text, _, temp = args.partition(TEMP)
            entries = json.loads(text)
            if temp:
                if entries != self.temp:  # the same plan again only moves its end
                    self.temp = entries
                    self._run(entries, t_s)
                self.temp_end_s = t_s + int(temp)
            elif entries != self.stored or self.temp is not None:
                self.stored, self.temp = entries, None
                self._run(entries, t_s)
            return None
        else:
            return None  # start: it streams already
        self.replies += 1
        # sequence numbers just below the sweeps' (wire_chunks counts from 0): the replies come
        # before the first sweep, so the gateway counts no frame lost
        seq = (-3 + self.replies) & 0xFFFF
        frame = Frame(0, self.node_id, seq, round(t_s * 1e6),
                      Reply(self.replies, 0, json.dumps(value, separators=(",", ":"))))
        return encode_frame(frame)

    def _temp_left(self, t_s: float) -> int:
        return math.ceil(self.temp_end_s - t_s) if self.temp is not None else 0


def remote_id_chunks(scene, name: str, node_id: int, t_end_s: float):
    """The REMOTEID frames node `name` sends for the Remote ID advertisements it hears (what the
    virtual board's Bluetooth radio, straja.sim.remoteid.NodeBluetooth, gives the firmware), as
    (arrival ns, wire bytes) at the time it hears them."""
    heard = NodeBluetooth(scene, name).advertisements(0.0, t_end_s)
    for k, (t, addr_type, rssi, address, advertising) in enumerate(heard):
        body = RemoteId(addr_type, rssi, address, advertising[2:])  # without length and AD type
        yield round(t * 1e9), encode_frame(Frame(REMOTEID, node_id, (REMOTEID_SEQ + k) & 0xFFFF,
                                                 round(t * 1e6), body))


class RecordingDetector(NodeDetector):
    """A node's detection that puts the hits of each observation it makes in `made` (id of the
    observation -> its hits: Evidence's, until the observation is fused)."""

    __slots__ = ("made",)

    def __init__(self, made: dict, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.made = made

    def detected(self, st, offset_ns):
        self.made.clear()  # observations of an earlier sweep left unfused are not these
        return super().detected(st, offset_ns)

    def _hopper(self, st, found, offset_ns):
        obs = super()._hopper(st, found, offset_ns)
        ring = st.core._hoppers
        taken = ring.report_hits(ring._since_us)  # (a window's pile beside it is not its)
        half = st.core.step_khz / 2
        t_s = (ring._t[taken] * 1000 + offset_ns) / 1e9
        f = ring.freq_khz[ring._cell[taken]]
        dbm = 10 * np.log10(np.maximum(ring._mw[taken], 1e-20))
        self.made[id(obs)] = [(self.node_id, float(t), float(t), float(c - half),
                               float(c + half), float(p)) for t, c, p in zip(t_s, f, dbm)]
        return obs

    def _band_report(self, report, offset_ns):
        obs = super()._band_report(report, offset_ns)
        half = report.step_khz / 2
        self.made[id(obs)] = [(self.node_id, (t0 * 1000 + offset_ns) / 1e9,
                               (t1 * 1000 + offset_ns) / 1e9, c - half, c + half,
                               10 * math.log10(max(p, 1e-20)))
                              for t0, c, p, t1 in report.hits.tolist()]
        return obs

    def _observations(self, st, bursts, offset_ns, classed=None):
        out = super()._observations(st, bursts, offset_ns, classed)
        heard = bursts.tolist()
        for obs in out:
            self.made[id(obs)] = [
                (self.node_id, (b[B_T0] * 1000 + offset_ns) / 1e9,
                 (b[B_T1] * 1000 + offset_ns) / 1e9,
                 b[B_CENTRE] - b[B_WIDTH] / 2, b[B_CENTRE] + b[B_WIDTH] / 2,
                 10 * math.log10(max(b[B_PEAK], 1e-20)))
                for b in heard if obs.lo_khz <= b[B_CENTRE] <= obs.hi_khz]
        return out


class Evidence:
    """The hits each track of a gateway pipeline was made of, recorded while it runs (the
    gateway keeps none of them): an observation of a core track is made of its sweep's bursts
    centred on the observation's extent (their start and end, extent and peak; a neighbour's
    burst whose skirt reaches into it is the neighbour's track's), a band hopper's of the
    counted hits of the window it was reported on that the report is made of (the hopper's
    ring, report_hits: one reading of one cell each), a band report's of its window's events (detect.site_rate: one channel each, its
    burst's start to end); an observation with neither is its own reading (its time, extent and
    power). Each hit is kept with when the gateway first had it (a hopper's window reaches
    back: its hits at a node that joins later were not the evidence of an alert event before).
    They are read off the pipeline's node detectors (RecordingDetector, made so by attach) and
    its fusion (its observe wrapped), so whose transmissions made an alert can be told
    (alert_emitters)."""

    def __init__(self):
        # track id -> {(node id, t0 s, t1 s, lo kHz, hi kHz, dBm): gateway time s first had}
        self.hits: dict[str, dict] = {}
        self._made: dict = {}           # id(observation) -> its hits, until it is fused
        self._arrays: dict = {}         # track id -> its hits as columns, sorted by time
        # (the truth's Hearing, track id, emitter, stream) -> a bool per hit
        self._explained: dict = {}

    def attach(self, pipe) -> None:
        """Record the hits of `pipe`'s observations from now on (before its first node: its
        detectors are made so)."""
        if pipe.detectors:
            raise ValueError("a pipeline's evidence is recorded from its first node on")
        pipe.new_detector = functools.partial(RecordingDetector, self._made)
        observe = pipe.fusion.observe

        def fused(obs):
            track, new = observe(obs)
            made = self._made.pop(id(obs), None) or [
                (obs.node_id, obs.t_ns / 1e9, obs.t_ns / 1e9, obs.lo_khz, obs.hi_khz, obs.dbm)]
            hits, now = self.hits.setdefault(track.track_id, {}), pipe.now_ns / 1e9
            for hit in made:
                hits.setdefault(hit, now)
            return track, new
        pipe.fusion.observe = fused

    def _columns(self, track_id: str) -> np.ndarray:
        cols = self._arrays.get(track_id)
        if cols is None:
            rows = sorted((*hit, known) for hit, known in self.hits.get(track_id, {}).items())
            cols = self._arrays[track_id] = np.array(rows, float).reshape(-1, 7).T
        return cols

    def _explained_by(self, hearing: "Hearing", names: dict, track_id: str, e: int, s: int,
                      bw_hz: float, margin_khz: float) -> np.ndarray:
        """Per hit of the track: whether a transmission of stream s of emitter e (bw_hz wide)
        overlaps it (its extent widened by margin_khz, its time by READ_TIME_S either side)
        and could make its reading at its node (Hearing.could_read)."""
        key = (hearing, track_id, e, s)
        out = self._explained.get(key)
        if out is not None:
            return out
        node, t0, t1, lo, hi, dbm, _ = self._columns(track_id)
        out = np.zeros(len(node), bool)
        if len(node):
            pk = hearing.scene.emitters[e].window(s, t0.min() - READ_TIME_S,
                                                  t1.max() + READ_TIME_S)
            longest = float((pk.t1 - pk.t0).max()) if len(pk.t0) else 0.0
            first = np.searchsorted(pk.t0, t0 - READ_TIME_S - longest)
            last = np.searchsorted(pk.t0, t1 + READ_TIME_S, side="right")
            f_lo, f_hi = (lo - margin_khz) * 1e3, (hi + margin_khz) * 1e3
            for k in range(len(node)):
                j = slice(first[k], last[k])
                out[k] = bool(np.any((pk.t1[j] > t0[k] - READ_TIME_S)
                                     & (pk.f[j] + pk.bw[j] / 2 > f_lo[k])
                                     & (pk.f[j] - pk.bw[j] / 2 < f_hi[k])))
            for n in np.unique(node[out]):
                at = out & (node == n)
                if int(n) in names:
                    out[at] = hearing.could_read(e, s, bw_hz, names[int(n)], t0[at], dbm[at])
                else:
                    out[at] = False
        self._explained[key] = out
        return out

    def explains(self, hearing: "Hearing", names: dict, alert, e: int, widths: dict,
                 margin_khz: float) -> bool:
        """Whether emitter e's streams `widths` (stream -> width Hz, matched_widths) explain
        the alert event's evidence: at one of its nodes (the event's `nodes`), at least
        EXPLAINED_SHARE of that node's hits in its evidence window (of those the gateway had
        by the event) are readings of theirs (_explained_by). `names`: node id -> node name."""
        node, t0, t1, known = (self._columns(alert.track_id)[i] for i in (0, 1, 2, 6))
        w0, w1 = evidence_window(alert)
        inside = ((t1 >= w0) & (t0 <= w1) & (known <= alert.t_ns / 1e9)
                  & np.isin(node, [n.node_id for n in alert.nodes]))
        if not inside.any():
            return False
        explained = np.zeros(len(node), bool)
        for s, bw in widths.items():
            explained |= self._explained_by(hearing, names, alert.track_id, e, s, bw, margin_khz)
        return any(explained[inside & (node == n)].mean() >= EXPLAINED_SHARE
                   for n in np.unique(node[inside]))


class SceneRun(NamedTuple):
    alerts: list          # the gateway's alert events (raised, updated, cleared), in time order
    events: list          # all its events
    node_ids: dict        # node name -> node id
    plans: dict           # node name -> [(from s, plan)]: what it scanned when
    steps: dict           # node name -> [(start kHz, stop kHz, step kHz)] of its default plan
    evidence: Evidence    # the hits each track was made of


def run_scene(scene, detect: dict | None = None, progress=None, *, pipeline=None,
              t_end_s: float | None = None, plan: list | None = None) -> SceneRun:
    """Every node of `scene` from switch-on (t = 0) to t_end_s (default: the scene's end)
    through one gateway pipeline: `pipeline`, else one at the config defaults ([detect]
    overrides: `detect`) with the scene's node positions ([nodes], `Scene.gateway_nodes`); the
    nodes' default plan is `plan` if given (a node's own otherwise).
    A last tick, a track's whole life after t_end_s, ends every track still open.
    `progress(t_s)` now and then."""
    pipe = pipeline or Pipeline(from_dict({"detect": dict(detect or {}),
                                           "nodes": scene.gateway_nodes()}))
    t_end_s = scene.duration_s if t_end_s is None else t_end_s
    nodes = {name: SceneNode(scene, name, i + 1, t_end_s, plan)
             for i, name in enumerate(scene.nodes)}
    evidence = Evidence()
    evidence.attach(pipe)
    events = drive(pipe, nodes, progress)
    t_last = round((t_end_s + track_end_s(pipe.cfg, rarely_seen=True)) * 1e9)
    events += pipe.tick(t_last).events
    return SceneRun([e for e in events if isinstance(e, AlertEvent)], events,
                    {n.name: n.node_id for n in nodes.values()},
                    {n.name: n.plans for n in nodes.values()},
                    {n.name: [(min(channels_khz(e)), max(channels_khz(e)), e.get("step_khz", 0))
                              for e in n.default] for n in nodes.values()}, evidence)


def drive(pipe, nodes: dict, progress=None, until=None) -> list:
    """Nodes (port name -> SceneNode) through `pipe` until none sends more (or `until(events,
    t_s)`, asked after each frame fed at t_s, says the rest is not wanted), the gateway's
    commands carried out as they arrive (COMMAND_DELAY_S after they are sent); the events.
    `progress(t_s)` now and then."""
    pending: list = []  # (arrival t_ns, order, port, verb, args) of commands on their way
    order = itertools.count()
    events = []
    delay_ns = round(COMMAND_DELAY_S * 1e9)

    def take(out, t_ns):
        events.extend(out.events)
        for c in out.commands:
            if isinstance(c, NodeCommand) and c.port in nodes:
                heapq.heappush(pending, (t_ns + delay_ns, next(order), c.port, c.verb, c.args))

    for name in nodes:
        take(pipe.open_source(name, 0), 0)
    next_progress = 0.0
    while True:
        port, node = min(((p, n) for p, n in nodes.items() if n.next is not None),
                         key=lambda pn: pn[1].next[0], default=(None, None))
        if pending and (node is None or pending[0][0] <= node.next[0]):
            t_ns, _, name, verb, args = heapq.heappop(pending)
            reply = nodes[name].command(verb, args, t_ns / 1e9)
            if reply is not None:
                take(pipe.feed(name, t_ns, reply), t_ns)
            continue
        if node is None:
            break
        t_ns, wire = node.next
        take(pipe.feed(port, t_ns, wire), t_ns)
        node.advance()
        if until is not None and until(events, t_ns / 1e9):
            break
        if progress and t_ns / 1e9 >= next_progress:
            progress(t_ns / 1e9)
            next_progress = t_ns / 1e9 + 1.0
    return events


def _margin_khz(steps: dict, lo: int, hi: int) -> float:
    """Half the coarsest scan step among the nodes' plan entries covering [lo, hi]."""
    return max((step / 2 for plan in steps.values() for a, b, step in plan
                if a <= hi and lo <= b), default=0.0)


def link_streams(em, family: str | None) -> list[int]:
    """The streams of emitter `em` an alert named `family` can stand for: a drone's streams of
    the family's link; every stream of clutter (whatever it is named, it is that emitter's
    false alert) or for a family of no link (None: any)."""
    link = LINK.get(family)
    if link is None or em.KIND not in DRONE_FAMILY:
        return list(range(len(em.streams)))
    return [s for s, st in enumerate(em.streams) if STREAM_LINK[st.name] == link]


def matches(em, lo_khz: float, hi_khz: float, t0: float, t1: float,
            family: str | None = None) -> bool:
    """Whether one of emitter `em`'s transmissions in [t0, t1] overlaps [lo_khz, hi_khz]; with
    `family`, one of a stream of that family's link (link_streams), and for a drone more than
    half of that transmission within the band: an alert stands for what it covers, not for a
    drone's video whose edge its last bin reads (an 80 MHz access point's alert reaching the
    edge of the OcuSync beside it, ocusync_40_beside_80mhz_ap)."""
    return bool(matched_widths(em, lo_khz, hi_khz, t0, t1, family))


def matched_widths(em, lo_khz: float, hi_khz: float, t0: float, t1: float,
                   family: str | None = None) -> dict[int, float]:
    """The streams of emitter `em` that match the band and window (`matches`), each with the
    width (Hz) of its narrowest transmission that does."""
    most = family is not None and em.KIND in DRONE_FAMILY
    out = {}
    for s in link_streams(em, family):
        pk = em.window(s, t0, t1)
        inside = (np.minimum(pk.f + pk.bw / 2, hi_khz * 1e3)
                  - np.maximum(pk.f - pk.bw / 2, lo_khz * 1e3))
        hit = inside > (pk.bw / 2 if most else 0.0)
        if hit.any():
            out[s] = float(pk.bw[hit].min())
    return out


class Hearing:
    """What each node of a scene could read of each drone stream: the stream's received power
    (the simulator's own: path loss at the stream's centre, the link's shadowing, the antenna's
    gain; fading averaged, its mean is 1) that falls in one reading's filter (the front end's
    `filter_khz`, a reading centred on the transmission), over that front end's noise floor
    (kTB + NF over the filter), in dB, every HEARD_STEP_S, worked out once per emitter, stream
    and node when first asked. A node's front ends are the board's sweep front ends whose band
    reaches the stream's extent (its level at the stream's centre, or the band's nearest edge),
    each on the scene front end the virtual board gives it (straja.vnode.fleet.scene_rf)."""

    def __init__(self, scene):
        self.scene = scene
        self.t = np.arange(0.0, scene.duration_s + HEARD_STEP_S, HEARD_STEP_S)
        self._snr: dict = {}    # (emitter, stream, node) -> [(filter Hz, SNR dB before the
                                # filter's share, on the grid)]
        self._floors_on_grid: dict = {}  # (emitter, stream, node) -> _floors on the grid
        self._fronts: dict = {}  # node -> [(profile entry, RF input)]

    def _front_ends(self, node: str) -> list:
        fronts = self._fronts.get(node)
        if fronts is None:
            profile = load_profile(self.scene.nodes[node].board)
            rf = scene_rf(self.scene, node, profile)
            fronts = self._fronts[node] = [
                (e, rf[e["name"]]) for e in profile.get("front_ends", [])
                if e["kind"] in FRONT_ENDS and not FRONT_ENDS[e["kind"]].envelope]
        return fronts

    def _levels(self, e: int, s: int, node: str) -> list:
        key = (e, s, node)
        levels = self._snr.get(key)
        if levels is None:
            levels = self._snr[key] = self.levels(e, s, node, self.t)
        return levels

    def levels(self, e: int, s: int, node: str, t, front_end: str | None = None) -> list:
        """[(filter Hz, SNR dB at times t before the filter's share)] of stream s of emitter e,
        one for each of `node`'s front ends whose band reaches it (only the one named
        `front_end`, if given)."""
        return [(filter_hz, snr) for filter_hz, _, snr in self._floors(e, s, node, t, front_end)]

    def _floors(self, e: int, s: int, node: str, t, front_end: str | None = None) -> list:
        """levels() with each front end's noise floor: [(filter Hz, floor dBm, SNR dB)]."""
        st = self.scene.emitters[e].streams[s]
        f_hz = (st.f_lo + st.f_hi) / 2
        out = []
        for entry, rf in self._front_ends(node):
            lo, hi = (f * 1e3 for f in entry["band_khz"])
            if lo < st.f_hi and st.f_lo < hi and front_end in (None, entry["name"]):
                filter_hz = FRONT_ENDS[entry["kind"]].filter_khz * 1e3
                floor = rf.noise_dbm(filter_hz)
                out.append((filter_hz, floor,
                            rf.mean_rx_dbm(e, t, min(max(f_hz, lo), hi), s) - floor))
        return out

    def could_read(self, e: int, s: int, bw_hz: float, node: str, t, dbm) -> np.ndarray:
        """Whether readings at `node` at times t (s, an array) of dbm (dBm, an array) could be
        of stream s of emitter e (its transmissions bw_hz wide): a front end of the node hears
        the stream then (SNR in one reading's filter at least -HEARD_MARGIN_DB, fading averaged,
        at one of the two grid points around the time) at a level a faded packet lifts to the
        reading (the stream's power in the filter plus the filter's noise, at least the
        reading's less FADE_UP_DB): an emitter's transmission does not make a reading far
        stronger than it arrives with."""
        floors = self._floors_on_grid.get((e, s, node))
        if floors is None:
            floors = self._floors_on_grid[e, s, node] = self._floors(e, s, node, self.t)
        st = self.scene.emitters[e].streams[s]
        i = np.clip(np.floor(np.asarray(t) / HEARD_STEP_S).astype(int), 0, len(self.t) - 2)
        ok = np.zeros(i.shape, bool)
        for filter_hz, floor, snr in floors:
            share = 10 * math.log10(spectral_fraction(st.shape, 0.0, bw_hz, -filter_hz / 2,
                                                      filter_hz / 2, st.sidelobe))
            heard = np.maximum(snr[i], snr[i + 1]) + share
            level = floor + 10 * np.log10(1 + 10 ** (heard / 10))
            ok |= (heard >= -HEARD_MARGIN_DB) & (np.asarray(dbm) <= level + FADE_UP_DB)
        return ok

    def _best_db(self, e: int, s: int, bw_hz: float, levels) -> float:
        """The best of `levels` ([(filter Hz, SNR dB before the filter's share)] of stream s of
        emitter e) with the share of a transmission bw_hz wide that the filter, centred on it,
        takes in; -inf if none."""
        st = self.scene.emitters[e].streams[s]
        return max((snr + 10 * math.log10(spectral_fraction(st.shape, 0.0, bw_hz, -filter_hz / 2,
                                                            filter_hz / 2, st.sidelobe))
                    for filter_hz, snr in levels), default=-math.inf)

    def snr_db(self, e: int, s: int, bw_hz: float, node: str, t0: float, t1: float) -> float:
        """The best SNR (dB) a reading at `node` could show of stream s of emitter e (its
        transmissions bw_hz wide) at a grid time within a step of [t0, t1]; -inf if none of
        the node's front ends reaches it."""
        i0 = max(int(math.floor(t0 / HEARD_STEP_S)), 0)
        i1 = int(math.ceil(t1 / HEARD_STEP_S)) + 1
        return self._best_db(e, s, bw_hz, [(filter_hz, float(snr[i0:i1].max()))
                                           for filter_hz, snr in self._levels(e, s, node)
                                           if len(snr[i0:i1])])

    def snr_at(self, e: int, s: int, bw_hz: float, node: str, t: float,
               front_end: str | None = None) -> float:
        """snr_db at time t itself (off the grid), of the front end named `front_end` if given:
        a trial's wanted power at the front end watching its band (straja.eval.trials)."""
        return self._best_db(e, s, bw_hz, [(filter_hz, float(snr)) for filter_hz, snr
                                           in self.levels(e, s, node, t, front_end)])


def evidence_window(alert) -> tuple[float, float]:
    """The times (s) an alert event stands for: its track's last MATCH_WINDOW_S of
    observations, widened by READ_TIME_S either side. An observation's time is a reading's
    stated time, up to READ_TIME_S from when it was read: a per-packet hopper's alert, raised
    on one hit (its first_ns and last_ns that hit's), would otherwise match its emitter only
    when that stated time fell within one of its ~1.3 ms packets (dsmx_alone: raised 2.2 s
    after switch-on, first matched by an update 15 s later)."""
    t1 = alert.last_ns / 1e9
    return max(alert.first_ns / 1e9, t1 - MATCH_WINDOW_S) - READ_TIME_S, t1 + READ_TIME_S


def alert_emitters(scene, run: SceneRun, hearing: Hearing, alert) -> list[int]:
    """The emitters of `scene` (indexes) that an alert event of `run` stands for (the module
    docstring's matching): a transmission overlapping its band, widened by half the scan step
    there, in its evidence window, of a stream its family can stand for (matched_widths); a
    drone's only where those streams explain the alert's hits (Evidence.explains; `hearing`:
    the scene's truth at its nodes)."""
    t0, t1 = evidence_window(alert)
    m = _margin_khz(run.steps, alert.lo_khz, alert.hi_khz)
    names = {node_id: node for node, node_id in run.node_ids.items()}
    out = []
    for i, em in enumerate(scene.emitters):
        widths = matched_widths(em, alert.lo_khz - m, alert.hi_khz + m, t0, t1, alert.family)
        if widths and (em.KIND not in DRONE_FAMILY
                       or run.evidence.explains(hearing, names, alert, i, widths, m)):
            out.append(i)
    return out


def score_scene(scene, run: SceneRun, name: str) -> tuple[list[dict], float, float]:
    """Per emitter of `scene` its row of `straja eval --scene --json`, the scene's false alerts
    (alerts that matched no drone emitter) per node-hour, and all its alerts per node-hour."""
    matched: dict[int, list] = {}   # emitter index -> [(t_s, alert_id, family)]
    drone_alerts = set()
    all_alerts = set()
    hearing = Hearing(scene)
    raised_s: dict[str, float] = {}
    for a in run.alerts:
        all_alerts.add(a.alert_id)
        raised_s.setdefault(a.alert_id, a.t_ns / 1e9)
        if isinstance(a, AlertCleared):
            continue  # said nothing new: where the track was is in its last update
        t_raise = raised_s[a.alert_id]
        for i in alert_emitters(scene, run, hearing, a):
            if not scene.emitters[i].schedule.any_on(t_raise - READ_TIME_S, t_raise + READ_TIME_S):
                continue  # raised on something else before this emitter was on: not its alert
            matched.setdefault(i, []).append((a.t_ns / 1e9, a.alert_id, a.family))
            if scene.emitters[i].KIND in DRONE_FAMILY:
                drone_alerts.add(a.alert_id)
    rows = []
    for i, em in enumerate(scene.emitters):
        on = em.schedule.intervals(0.0, scene.duration_s)
        hits = matched.get(i, [])
        expect = drone_family(em.KIND, em.p)
        first = hits[0] if hits else None
        # the first alert's family as last told while it matched the emitter (a video profile
        # names it in an update); its time is the raise's
        family = next(h[2] for h in reversed(hits) if h[1] == first[1]) if first else None
        rows.append({
            "scene": name, "name": em.name, "kind": em.KIND, "drone": expect is not None,
            "alerted": first is not None,
            "time_to_alert_s": round(first[0] - on[0][0], 3) if first and on else None,
            "family": family,
            "family_ok": bool(first and expect and family == expect),
            "alerts_per_presence": len({h[1] for h in hits}) / len(on) if on else 0.0})
    node_hours = len(run.node_ids) * scene.duration_s / 3600
    return rows, len(all_alerts - drone_alerts) / node_hours, len(all_alerts) / node_hours


WORKER_START_S = 10.0  # a worker not ready by then (a machine swapping) is waited for no more


def _worker_signals(ready) -> None:
    """Workers leave Ctrl-C to the parent, which ends them (no traceback from each), and end at
    its SIGTERM (`Pool.terminate`): said to the parent through `ready`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    ready.release()


def _start_pool(jobs: int):
    """A Pool of `jobs` workers made whole, a Ctrl-C meanwhile raised only once it is (lost in
    a fork otherwise: straja.signals), its workers then ended: stopping Pool() half made left
    workers that outlived us."""
    ready = multiprocessing.Semaphore(0)
    pool = None
    try:
        with deferred_stops():
            pool = multiprocessing.Pool(jobs, _worker_signals, (ready,))
            # Each worker's SIGTERM ends it from here on. Before, terminate's SIGTERM could reach
            # a worker whose fork had not returned, where CPython clears it, and terminate waited
            # for that worker forever (one run in ~75 under load).
            for _ in range(jobs):
                ready.acquire(timeout=WORKER_START_S)
    except BaseException:
        if pool:
            pool.terminate()
        raise
    return pool


@contextlib.contextmanager
def worker_pool(jobs: int):
    """`jobs` worker processes (None for one job: the work runs here) that leave Ctrl-C to this
    process, which ends them at once when anything interrupts the work."""
    pool = _start_pool(jobs) if jobs > 1 else None
    try:
        yield pool
    except BaseException:
        if pool:
            pool.terminate()
        raise
    finally:
        if pool:
            pool.close()
            pool.join()


def _scene_job(args) -> tuple[list[dict], float, float, float]:
    path, label, detect, report_every_s, seed = args
    scene = load_scene(path, seed=seed)
    t_wall = time.monotonic()
    last = [t_wall]

    def progress(t_s):
        now = time.monotonic()
        if report_every_s and now - last[0] >= report_every_s and t_s > 0:
            last[0] = now
            eta = (now - t_wall) * (scene.duration_s - t_s) / t_s
            print(f"  {label}: {t_s:.0f}/{scene.duration_s:.0f} s of scene, "
                  f"ETA {eta:.0f} s", file=sys.stderr, flush=True)

    run = run_scene(scene, detect, progress)
    warn_quarantines(run, label)
    return (*score_scene(scene, run, label), time.monotonic() - t_wall)


def warn_quarantines(run: SceneRun, label: str) -> None:
    """A line on stderr for each time the gateway set a node's data aside: a scene's nodes are
    honest, so it is a fault of the gateway, and the scores miss that node's data meanwhile
    (the live gateway logs it; a score must not hide it)."""
    for e in run.events:
        if isinstance(e, SourceQuarantined):
            print(f"warning: {label}: the gateway set node {e.port}'s data aside at "
                  f"{e.t_ns / 1e9:.2f} s for {(e.until_ns - e.t_ns) / 1e9:.0f} s ({e.reason}): "
                  "a fault of the gateway; this scene's scores miss that node's data meanwhile",
                  file=sys.stderr, flush=True)


def score_scenes(paths: list, jobs: int = 2, detect: dict | None = None, log=None,
                 report_every_s: float = 30.0, seed: int | None = None) -> dict:
    """Every scene file of `paths` (checked before any is run: a bad one raises SceneError)
    scored, `jobs` scenes at a time, each with its own seed or, given, `seed` (the same scene,
    other random draws: `load_scene`): {"emitters": [rows], "false_alerts_per_node_hour":
    {scene: rate}, "seeds": {scene: the seed it ran with}} (`straja eval --scene --json`) and
    "alerts_per_node_hour" (all alerts, drones'
    too: {scene: rate}). `log(message)`: progress, with an ETA."""
    scenes = [load_scene(p, seed=seed) for p in paths]
    work = [s.duration_s * len(s.nodes) for s in scenes]   # node-seconds of scene
    labels = []
    for s in scenes:  # the scene's name; its file where that is not unique
        label = s.name or Path(s.source).stem
        labels.append(label if label not in labels else s.source)
    items = [(Path(s.source), label, detect, report_every_s, seed)
             for s, label in zip(scenes, labels)]
    out = {"emitters": [], "false_alerts_per_node_hour": {}, "alerts_per_node_hour": {},
           "seeds": {label: s.seed for s, label in zip(scenes, labels)}}
    results = {}
    t0 = time.monotonic()
    done = 0.0
    # the longest first: the workers then finish together, not one with a long scene left
    order = sorted(range(len(items)), key=lambda i: -work[i])
    with worker_pool(min(jobs, len(items))) as pool:
        runs = [items[i] for i in order]
        for n, (i, result) in enumerate(zip(order, pool.imap(_scene_job, runs) if pool
                                            else map(_scene_job, runs))):
            results[i] = result
            done += work[i]
            if log:
                elapsed = time.monotonic() - t0
                eta = elapsed * (sum(work) - done) / done
                log(f"{labels[i]}: scored in {result[3]:.0f} s ({n + 1}/{len(items)} scenes, "
                    f"ETA {eta:.0f} s)")
    for i in range(len(items)):
        rows, false_rate, rate, _ = results[i]
        out["emitters"] += rows
        out["false_alerts_per_node_hour"][labels[i]] = false_rate
        out["alerts_per_node_hour"][labels[i]] = rate
    return out
