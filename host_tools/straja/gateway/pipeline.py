"""The gateway's pure processing: raw byte chunks with arrival times in, events and node commands
out.

No clocks, threads or files here: the same chunks at the same arrival times give the same
events, which is what makes `straja replay` give the alerts a live run gave. Time advances only
through the arrival times given to `feed()` and `tick()`.

Each input gives an `Output`: typed events (`gateway.events`; their kinds and fields are listed in
docs/gateway.md) and the `NodeCommand`s the I/O side sends to nodes' ports (the plans of
adaptive scanning).

Node ids: a node id is bound to the port that presented it while the node is online and that port
open; another port presenting it is a `node_id_conflict`, not a takeover. A port presents at most
`max_nodes_per_port` node ids at once and the gateway knows at most `max_nodes` (an offline one
is evicted for a new one), so spoofed ids cannot grow it without bound. Events a node can make at
will are rate-limited (`limits.EventLimiter`).
"""
from __future__ import annotations

import collections
import dataclasses
import heapq

import numpy.ma  # noqa: F401 (NumPy imports it lazily inside np.median and np.unique of floats:
#                  40 ms of the first video profile's alert update, paid here at start instead)

from .._gateway_lane import Lane
from ..detect.video_profile import CANNOT_TELL
from ..framing import Decoder
from ..protocol import CONSOLE_BYTES, MODES, REMOTEID, REPLY, STATUS, SWEEP, Console, SeqTracker
from ..rawrepl import FRIENDLY_PROMPT, RAW_PROMPT
from . import replies
from .replies import plan_args
from .alerts import Alerts
from .config import GatewayConfig
from .detector import NodeDetector, is_drone
from .events import (LEAVE_RAW_REPL, SOFT_RESET, AlertCleared, AlertRaised, CommandFailed,
                     ConsoleKeys, KnownAdded, NodeCommand, NodeEvicted, NodeIdConflict,
                     NodeRecovery, NodeRefused, NodeRestarted, NodeStats, Output, PortClosed, PortOpened,
                     ReplyRejected, ScanChange, ScanFocus, SourceQuarantined, TrackEnded,
                     TrackEvent, TrackStarted)
from .fusion import Fusion
from .health import NodeHealth
from .known import SURVEY_MIN_FRACTION, KnownEmitters, added_event as known_added
from .limits import EventLimiter
from .position import Positioner, SiteMap, moved
from .profiling import Profiled, VideoProfiler, wants_profile
from .remoteid import RemoteIdTracker
from .ridlink import Linker, identity
from .scanplan import ScanPlanner

# Commands that make a node known and streaming: what it is (front ends, for focus plans), its
# normal scan plan (to restore after a focus), and streaming on. Sent when its port opens, and
# again when it restarted or says it is idle (a node reset on the same port comes back idle).
HELLO = (("info", None), ("get", "plan"), ("start", None))
PLAN_REPLY = {"plan", "temp_plan_s"}  # the keys of a `get plan` reply
IDLE = next(code for code, name in MODES.items() if name == "idle")  # STATUS mode
# What a port shows when the node's app has stopped at the REPL (a stray Ctrl-C, a crash)


def _decoder_counts(decoder: Decoder) -> dict[str, int]:
    return {"corrupt_frames": decoder.corrupt, "oversize_runs": decoder.oversize,
            "unknown_frames": decoder.unknown, "duplicate_frames": decoder.duplicates,
            "reordered_frames": decoder.reordered, "console_lines": decoder.console_lines}


def describe_counts(counts: dict[str, int]) -> str:
    """input_counts as one line: `corrupt_frames 3, lost_frames 12` (or `none`)."""
    return ", ".join(f"{key} {n}" for key, n in counts.items()) or "none"


class Pipeline:
    """`normal_plans` (node id -> plan), `after_crash` and `known` come from the store: the nodes'
    normal plans as an earlier gateway knew them, whether that gateway did not stop cleanly, and
    the site's known emitters (gateway/known.py). `surveying`: raise no alert, and learn the
    emitters on the air at the clean stop (`straja gateway --survey S`)."""

    # makes a node's detector, called as NodeDetector is (the evaluation's records the hits of
    # its observations: eval/scenes.py's Evidence)
    new_detector = NodeDetector

    def __init__(self, cfg: GatewayConfig, normal_plans: dict[int, list] | None = None,
                 after_crash: bool = False, known=(), surveying: bool = False):
        self.cfg = cfg
        self.timeout_ns = int(cfg.heartbeat_timeout_s * 1e9)
        self.stats_ns = int(cfg.stats_interval_s * 1e9)
        self.decoders: dict[str, Decoder] = {}
        self.source_node: dict[str, int] = {}
        self.nodes: dict[int, NodeHealth] = {}
        # (heartbeat deadline, node id), one entry per online node: a chunk checks only the nodes
        # whose deadline passed (O(1) amortised), not every node; a stale entry (the node was
        # heard since) is pushed again with its new deadline when it comes up
        self._deadlines: list[tuple[int, int]] = []
        self.detectors: dict[int, NodeDetector] = {}
        self.seq = SeqTracker()  # across sources: a node replugged elsewhere keeps its count
        self.fusion = Fusion(cfg.fusion)
        self.known = KnownEmitters(known, int(cfg.fusion.trend_window_s * 1e9))
        self.remote_id = RemoteIdTracker(cfg.remote_id, cfg.nodes)
        self.linker = Linker(self.remote_id)
        self.site = SiteMap(cfg.nodes)
        self.positioner = Positioner(self.site, recent_s=cfg.fusion.trend_window_s,
                                     front_end=self.front_end, tracks=lambda: self.fusion.tracks)
        self.alerts = Alerts(cfg.alerts, cfg.fusion.trend_db, self.known, surveying,
                             identify=lambda track: identity(self.linker.link(track)),
                             locate=self.positioner.locate, moved=moved,
                             check=self.positioner.claim_check)
        self.surveyed: list | None = [] if surveying else None  # drone tracks ended so far
        self._survey_from: int | None = None
        self.planner = ScanPlanner(cfg, normal_plans, after_crash)
        self.profiler = VideoProfiler()
        self.limiter = EventLimiter(cfg.event_window_s, cfg.event_burst)
        self.now_ns = 0
        self._next_stats = None
        self.counts = {"frames": 0, "console_chunks": 0, "ignored_nodes": 0, "refused_frames": 0}
        # what the nodes sent that was not taken as it came, by reason (input_counts): the
        # detectors' refused sweeps, rejected replies, the counts of decoders no longer in use
        self.refused: collections.Counter = collections.Counter()
        self.quarantine_ns = int(cfg.quarantine_s * 1e9)
        self.quarantined: dict[str, int] = {}   # source -> until (ns)
        self.recovering: dict[str, int] = {}    # source -> no new soft reset before (ns)
        self.sweep_taps: list = []  # callables (node_id, t_ns, Sweep): the dashboard's spectra
        # the quiet sweeps of a chunk settled in C (_frame's changes, without its dispatch)
        self._lane = Lane(self.nodes, self.detectors, self.counts, self.seq, self.source_node,
                          self.sweep_taps, self.profiler, cfg.node_ids)

    # -- inputs ------------------------------------------------------------------------------
    def open_source(self, source: str, t_ns: int) -> Output:
        self._new_decoder(source)
        out = Output([PortOpened(t_ns, source)])
        self._hello(source, out)
        self._advance(t_ns, out)
        return self._limited(out)

    def close_source(self, source: str, t_ns: int) -> Output:
        self._retire(self.decoders.pop(source, None))  # its node ids are free for another port
        out = Output([PortClosed(t_ns, source, self.source_node.pop(source, None))])
        self._advance(t_ns, out)
        return self._limited(out)

    def stop(self, t_ns: int) -> Output:
        """A clean stop: every focused node gets its normal plan back; a survey's emitters are
        learned (known_added events)."""
        out = Output()
        self._advance(t_ns, out)
        self._scan_changes(self.planner.restore(None, self.now_ns), out)
        if self.surveyed is not None:
            out.events += self._survey_result()
        return self._limited(out)

    def _new_decoder(self, source: str) -> Decoder:
        self._retire(self.decoders.get(source))
        decoder = self.decoders[source] = Decoder()
        return decoder

    def _retire(self, decoder: Decoder | None) -> None:
        """A decoder no longer used: its counts kept in `refused`."""
        if decoder is not None:
            self.refused.update(_decoder_counts(decoder))

    def input_counts(self) -> dict[str, int]:
        """What the nodes' streams held that was not taken as it came, by reason (the counts
        not zero, by name), since the start: frames no node can send (corrupt, oversize),
        of a type not known, duplicated or reordered, lost (sequence gaps), refused (a node id
        another port holds, a full port, max_nodes) or ignored (config node_ids), console text,
        sweeps no node could send (detector REFUSED_*), info and plan replies rejected."""
        counts = collections.Counter(self.refused)
        for decoder in self.decoders.values():
            counts.update(_decoder_counts(decoder))
        counts.update(lost_frames=self.seq.lost, refused_frames=self.counts["refused_frames"],
                      ignored_frames=self.counts["ignored_nodes"])
        return {key: n for key, n in sorted(counts.items()) if n}

    def _survey_result(self) -> list[KnownAdded]:
        """The drone-class tracks of the survey on the air for SURVEY_MIN_FRACTION of it."""
        span_ns = self.now_ns - (self._survey_from or self.now_ns)
        return [known_added(track, self.now_ns, "survey", "survey")
                for track in self.surveyed + self.fusion.tracks
                if is_drone(track.family)
                and track.last_ns - track.first_ns >= SURVEY_MIN_FRACTION * span_ns]

    def _detector(self, node_id: int, health: NodeHealth) -> NodeDetector:
        """A node's detection, holding a flickering drone name for the track timeout."""
        return self.new_detector(node_id, self.cfg.detect, info=health.info,
                                 hold_s=self.cfg.fusion.track_timeout_s, refused=self.refused)

    def set_known(self, emitters) -> None:
        """The site's known emitters changed (the store's, as `straja known` or an operator
        left them): alerts follow them from the next observation on."""
        self.known.emitters = list(emitters)

    def feed(self, source: str, t_ns: int, data: bytes) -> Output:
        """One chunk of a port. Whatever goes wrong handling it is that port's fault, never the
        gateway's: the port is quarantined (not read for quarantine_s, then asked again)."""
        out = Output()
        self._advance(t_ns, out)
        until = self.quarantined.get(source) if self.quarantined else None
        if until is not None:
            if t_ns < until:
                return self._limited(out)
            del self.quarantined[source]
            self._new_decoder(source)
            self._hello(source, out)
        decoder = self.decoders.get(source)
        if decoder is None:
            decoder = self._new_decoder(source)
        try:
            items, lane = decoder.feed(data), self._lane
            i, n = lane.take(items, 0, source, t_ns), len(items)
            while True:  # (most chunks: every frame a quiet sweep the lane settled)
                if lane.detected is not None:  # the sweep before items[i], taken by the lane
                    _, health, detector, plan = lane.detected
                    self._observed(detector.detected(plan, health.clock.offset_ns or 0),
                                   t_ns, out)
                if i == n:
                    break
                if isinstance(items[i], Console):
                    self.counts["console_chunks"] += 1
                else:
                    self._frame(items[i], source, t_ns, out)
                i = lane.take(items, i + 1, source, t_ns)
            # most chunks end with a frame's delimiter, 0: no prompt to look for (a byte read
            # so: a third of bytes.endswith's cost, which parses its arguments each call)
            if not data or data[-1]:
                self._prompt(data, source, t_ns, out)
        except Exception as e:  # noqa: BLE001 (any fault of one node's data is contained)
            self.quarantined[source] = t_ns + self.quarantine_ns
            out.events.append(SourceQuarantined(t_ns, source, self.source_node.get(source),
                                                f"{type(e).__name__}: {e}"[:200],
                                                t_ns + self.quarantine_ns))
        expiry = self.limiter.next_end_ns
        if out.events or (expiry is not None and self.now_ns >= expiry):
            return self._limited(out)
        return out  # (most chunks: nothing to limit or expire)

    def tick(self, t_ns: int) -> Output:
        """Advance time: heartbeat timeouts, track ends, focus refreshes, periodic statistics."""
        out = Output()
        self._advance(t_ns, out)
        return self._limited(out)

    def _limited(self, out: Output) -> Output:
        limiter = self.limiter
        if out.events:
            out.events = limiter.filter(out.events)
        if limiter.next_end_ns is not None and self.now_ns >= limiter.next_end_ns:
            out.events += limiter.expire(self.now_ns)
        return out

    def remote_id_line(self, t_ns: int, line: str) -> Output:
        """A companion source's line (JSON with the payload hex, docs/gateway.md "Remote ID")."""
        out = Output()
        self._advance(t_ns, out)
        out.events += self.remote_id.heard_line(t_ns, line)
        return out

    def _advance(self, t_ns: int, out: Output) -> None:
        if t_ns > self.now_ns:
            self.now_ns = t_ns
        now = self.now_ns
        if self._survey_from is None:
            self._survey_from = t_ns
        events = out.events
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            node_id = heapq.heappop(deadlines)[1]
            health = self.nodes[node_id]
            events += health.check(now)
            if health.online:
                heapq.heappush(deadlines, (health.last_seen_ns + self.timeout_ns, node_id))
        fusion = self.fusion
        for track in fusion.expire(now) if fusion.tracks and now >= fusion.next_end_ns else ():
            if is_drone(track.family):
                events.append(TrackEnded(now, **track.summary()))
                if self.surveyed is not None:
                    self.surveyed.append(track)
            self._alert_events(self.alerts.track_ended(track, now), out)
            self.linker.track_ended(track)
            self.positioner.track_ended(track)
        for done in self.profiler.expire(now) if self.profiler.pending else ():
            self._profiled(done, out)
        planner = self.planner
        for node_id in (planner.refresh(now) if planner.focused
                        or planner.next_refresh_ns is not None else ()):  # (most chunks: none)
            port = self.port_of(node_id)
            if port is not None:  # (a node that restarted meanwhile gets it back so)
                out.commands.append(planner.focus_command(port, node_id))
        if self.remote_id.drones:
            events += self.remote_id.expire(now)
        if self._next_stats is None:
            self._next_stats = now + self.stats_ns
        elif now >= self._next_stats:
            self._next_stats += self.stats_ns * (1 + (now - self._next_stats) // self.stats_ns)
            events += [self._surveyed(h.stats(now, self.seq))
                       for _, h in sorted(self.nodes.items())]

    # -- frames -----------------------------------------------------------------------------
    def _frame(self, frame, source: str, t_ns: int, out: Output) -> None:
        node_id = frame.node_id
        if self.cfg.node_ids and node_id not in self.cfg.node_ids:
            self.counts["ignored_nodes"] += 1
            return
        health = self.nodes.get(node_id)
        if (health is None or not health.online or health.source != source) \
                and not self._admit(node_id, health, source, t_ns, out):
            self.counts["refused_frames"] += 1
            return
        self.counts["frames"] += 1
        kind, body = frame.type, frame.body
        self.seq.accept(node_id, frame.seq, frame.t_us, body.boot_count if kind == STATUS else -1)
        if health is None:
            health = self.nodes[node_id] = NodeHealth(node_id, self.timeout_ns)
            self.detectors[node_id] = self._detector(node_id, health)
        self.source_node[source] = node_id
        was_online = health.online
        changes = health.frame(frame, source, t_ns)
        if not was_online:
            heapq.heappush(self._deadlines, (health.last_seen_ns + self.timeout_ns, node_id))
        restarted = False
        if changes:
            out.events += changes
            restarted = any(isinstance(e, NodeRestarted) for e in changes)
        if restarted:  # node time starts again
            self.detectors[node_id] = self._detector(node_id, health)
            self.profiler.forget_node(node_id)
        if restarted or (kind == STATUS and body.mode == IDLE):
            self._hello(source, out)
        if kind == SWEEP:
            for tap in self.sweep_taps:
                tap(node_id, t_ns, body)
            profiler = self.profiler
            if profiler.pending and self._profile_sweep(health, body, out):
                # the profile asked of the node: not a sweep of its plan, whose core's clock
                # stops meanwhile
                self.detectors[node_id].away(body.front_end, frame.t_us)
                return
            profiler.normal_sweep(node_id, body)
            self._observed(self.detectors[node_id].sweep(body, frame.t_us,
                                                         health.clock.offset_ns or 0), t_ns, out)
        elif kind == REPLY:
            self._reply(health, body, t_ns, out)
        elif kind == REMOTEID:
            rid = body
            out.events += self.remote_id.heard(t_ns, rid.advertising(), node_id, rid.rssi_dbm, rid.mac)
        # ENVELOPE blocks are not detected on yet: the core's pipeline takes sweeps only

    def _admit(self, node_id: int, health: NodeHealth | None, source: str, t_ns: int,
               out: Output) -> bool:
        """Whether node_id may come online on source (else an event says why not)."""
        if health is not None and health.online and health.source in self.decoders:
            out.events.append(NodeIdConflict(t_ns, node_id, source, health.source))
            return False
        on_port = sum(1 for h in self.nodes.values() if h.online and h.source == source)
        if on_port >= self.cfg.max_nodes_per_port:
            out.events.append(NodeRefused(t_ns, node_id, source,
                                          f"port already carries {on_port} nodes"))
            return False
        if health is None and len(self.nodes) >= self.cfg.max_nodes:
            offline = [h for h in self.nodes.values() if not h.online]
            if not offline:
                out.events.append(NodeRefused(t_ns, node_id, source,
                                              f"{len(self.nodes)} nodes online (max_nodes)"))
                return False
            oldest = min(offline, key=lambda h: h.last_seen_ns)
            self._forget(oldest.node_id)
            out.events.append(NodeEvicted(t_ns, oldest.node_id, oldest.last_seen_ns))
        return True

    def _forget(self, node_id: int) -> None:
        del self.nodes[node_id]
        del self.detectors[node_id]
        self.planner.normal_plan.pop(node_id, None)  # (the store keeps it)
        self.profiler.forget_node(node_id)

    def _ask_profile(self, alert: TrackEvent, out: Output) -> None:
        """A raised 5.8 GHz video alert (or its track, whose profile the nodes asked so far could
        not tell): its channel's profile asked of the strongest node seeing it that can read one
        (gateway/profiling.py): one whose normal plan is known (to go back to), that no focus
        plan narrows and that was not asked before, or asked while it read the track
        PROFILE_RISE_DB weaker (VideoProfiler.ask)."""
        if not (self.cfg.alerts.video_profile and wants_profile(alert.family, alert.lo_khz,
                                                                 alert.hi_khz)):
            return
        for seen in sorted(alert.nodes, key=lambda n: (-n.dbm, n.node_id)):
            node_id, port = seen.node_id, self.port_of(seen.node_id)
            if port is None or node_id not in self.planner.normal_plan \
                    or node_id in self.planner.focused:
                continue
            info = self.nodes[node_id].info or {}
            command = self.profiler.ask(alert.track_id, alert.lo_khz, alert.hi_khz, node_id,
                                        seen.dbm, info, self.planner.base_plan(node_id, info),
                                        port, alert.t_ns)
            if command is not None:
                out.commands.append(command)
                return

    def _profile_sweep(self, health: NodeHealth, sweep, out: Output) -> bool:
        """Whether `sweep` is the profile asked of the node (then taken, and its end handled)."""
        front_ends = (health.info or {}).get("front_ends", [])
        if not 0 <= sweep.front_end < len(front_ends):
            return False
        if not self.profiler.is_profile(health.node_id, sweep):
            return False
        done = self.profiler.profile_sweep(health.node_id, sweep,
                                           front_ends[sweep.front_end].get("filter_khz", 0))
        if done is not None:
            self._profiled(done, out)
        return True

    def _profiled(self, done: Profiled, out: Output) -> None:
        """A profile's end: the node's normal plan back; a family told names the track, whose
        alert is updated at once (never raised again: the same track)."""
        port = self.port_of(done.node_id)
        normal = self.planner.normal_plan.get(done.node_id)
        if port is not None and normal is not None:
            out.commands.append(NodeCommand(port, "plan", plan_args(normal)))
        if done.family == CANNOT_TELL:  # the next node seeing it, while its alert stands
            track = self.fusion.get(done.track_id)
            if track is not None and track.track_id in self.alerts.active:
                self._ask_profile(TrackEvent(self.now_ns, **track.summary()), out)
            return
        track = self.fusion.name(done.track_id, done.family)
        if track is not None:
            self._alert_events(self.alerts.track_updated(track, self.now_ns, renamed=True), out)

    def _observed(self, observations: list, t_ns: int, out: Output) -> None:
        for obs in observations:
            self._fuse(obs, t_ns, out)

    def _fuse(self, obs, t_ns: int, out: Output) -> None:
        track, new = self.fusion.observe(obs)
        if new and is_drone(track.family):
            out.events.append(TrackStarted(t_ns, **track.summary()))
        if (track.track_id not in self.alerts.active
                and wants_profile(track.family, track.lo_khz, track.hi_khz)
                and self.profiler.wide_bursty_node(
                    track.lo_khz, track.hi_khz,
                    {node: (seen.lo_khz, seen.hi_khz) for node, seen in track.nodes.items()})
                is not None):
            return  # not raised while a node reads it inside a busy wide access point
        self._alert_events(self.alerts.track_updated(track, t_ns), out)
        if track.track_id in self.profiler.untold and track.track_id in self.alerts.active:
            # a node come to see it, or reading it stronger now, may tell (not only at the
            # alert's updates: a track's reading rises between them)
            self._ask_profile(TrackEvent(t_ns, **track.summary()), out)

    def _alert_events(self, alerts: list, out: Output) -> None:
        """Alert events out, with the focus of a raised (or reopened) alert, the restore of a
        cleared one."""
        for alert in alerts:
            out.events.append(alert)
            if isinstance(alert, AlertRaised) or alert.reopened:
                self._ask_profile(alert, out)  # before the focus, which leaves the node alone
                self._scan_changes(self.planner.focus(alert, self.nodes, alert.t_ns,
                                                      self.profiler.pending), out)
            elif isinstance(alert, AlertCleared):
                self.profiler.alert_cleared(alert.track_id)
                self._scan_changes(self.planner.restore(alert.alert_id, alert.t_ns), out)

    def _scan_changes(self, changes: list, out: Output) -> None:
        """Focus or restore events, and each one's plan as a command to its node (if online);
        node_plan events only go out."""
        for change in changes:
            out.events.append(change)
            port = self.port_of(change.node_id)
            if port is None or not isinstance(change, ScanChange):
                continue
            if isinstance(change, ScanFocus):
                out.commands.append(self.planner.focus_command(port, change.node_id))
            else:
                out.commands.append(NodeCommand(port, "plan", plan_args(change.plan)))

    def _reply(self, health: NodeHealth, reply, t_ns: int, out: Output) -> None:
        """Replies to the commands of HELLO (info, get plan) and to scan plans; a failed one is
        an event, since a person may need to look at the node, and so is one unfit to use."""
        if reply.status != 0:
            out.events.append(CommandFailed(t_ns, health.node_id, reply.request_id, reply.status,
                                            reply.text))
            refused = self.profiler.refused(health.node_id)
            if refused is not None:
                self._profiled(refused, out)
            return
        try:
            value = replies.parse(reply.text)
            if isinstance(value, dict) and "front_ends" in value:
                replies.check_info(value)
                health.info = value  # with the plan it runs: a focus keeps its dwell and revisit
                # the front ends' kinds give the detector each one's looks (averaging) for its CFAR
                self.detectors[health.node_id].set_info(value)
            elif isinstance(value, dict) and "plan" in value and set(value) <= PLAN_REPLY:
                temp_s = replies.check_plan_reply(value, (health.info or {}).get("front_ends"))
                self._scan_changes(self.planner.plan_reported(health.node_id, value["plan"],
                                                              temp_s, t_ns), out)
        except replies.ReplyError as e:
            self.refused["replies_rejected"] += 1
            out.events.append(ReplyRejected(t_ns, health.node_id, reply.request_id, str(e)))

    def _prompt(self, data: bytes, source: str, t_ns: int, out: Output) -> None:
        """A chunk ending in a REPL prompt (console text after the last frame delimiter; the
        decoder reports console text only at the next 0x00, which a waiting REPL never sends):
        the node's app has stopped, so it is soft-reset, with an event (once per quarantine_s:
        it needs time to boot)."""
        tail = data[data.rfind(0) + 1:]
        at_raw = tail.endswith(RAW_PROMPT)
        if not (at_raw or tail.endswith(FRIENDLY_PROMPT)) or tail.translate(None, CONSOLE_BYTES) \
                or t_ns < self.recovering.get(source, 0):
            return
        self.recovering[source] = t_ns + self.quarantine_ns
        out.events.append(NodeRecovery(t_ns, source, self.source_node.get(source),
                                       tail[-80:].decode()))
        out.commands.append(ConsoleKeys(source, (LEAVE_RAW_REPL if at_raw else b"") + SOFT_RESET))

    def _hello(self, source: str, out: Output) -> None:
        out.commands += [NodeCommand(source, verb, args) for verb, args in HELLO]

    def _surveyed(self, stats: NodeStats) -> NodeStats:
        """A node's statistics with its surveyed position from the config, if it has one."""
        node = self.cfg.nodes.get(stats.node_id)
        if node is None:
            return stats
        return dataclasses.replace(stats, latitude=node.latitude, longitude=node.longitude,
                                   height_m=node.height_m)

    def front_end(self, node_id: int, khz: int) -> str | None:
        """The name of the node's front end whose band holds khz (from its `info`), or None."""
        health = self.nodes.get(node_id)
        for fe in (health.info or {}).get("front_ends", ()) if health else ():
            if fe["band_khz"][0] <= khz <= fe["band_khz"][1]:
                return fe["name"]
        return None

    def port_of(self, node_id: int) -> str | None:
        health = self.nodes.get(node_id)
        return health.source if health and health.online else None
