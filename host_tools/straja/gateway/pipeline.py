"""The gateway's pure processing: raw byte chunks with arrival times in, events and node commands
out.

No clocks, threads or files here: the same chunks at the same arrival times give the same
events, which is what makes `straja replay` give the alerts a live run gave. Time advances only
through the arrival times given to `feed()` and `tick()`.

Each input gives an `Output`: typed events (`gateway.events`; their kinds and fields are listed in
docs/gateway.md) and the `NodeCommand`s the I/O side sends to nodes' ports (the plans of
adaptive scanning).
"""
from __future__ import annotations

import json

from ..framing import Decoder
from ..protocol import CONSOLE_BYTES, MODES, REPLY, STATUS, SWEEP, Console, SeqTracker
from . import replies
from .alerts import Alerts
from .config import GatewayConfig
from .detector import NodeDetector, is_drone
from .events import (LEAVE_RAW_REPL, SOFT_RESET, AlertRaised, CommandFailed, ConsoleKeys,
                     NodeCommand, NodeRecovery, NodeRestarted, Output, PortClosed, PortOpened,
                     ReplyRejected, ScanChange, SourceQuarantined, TrackEnded, TrackStarted)
from .fusion import Fusion
from .health import NodeHealth
from .scanplan import ScanPlanner

# Commands that make a node known and streaming: what it is (front ends, for focus plans), its
# normal scan plan (to restore after a focus), and streaming on. Sent when its port opens, and
# again when it restarted or says it is idle (a node reset on the same port comes back idle).
HELLO = (("info", None), ("get", "plan"), ("start", None))
IDLE = next(code for code, name in MODES.items() if name == "idle")  # STATUS mode
# What a port shows when the node's app has stopped at the REPL (a stray Ctrl-C, a crash)
FRIENDLY_PROMPT, RAW_REPL = b">>> ", b"raw REPL; CTRL-B to exit\r\n>"


class Pipeline:
    def __init__(self, cfg: GatewayConfig):
        self.cfg = cfg
        self.timeout_ns = int(cfg.heartbeat_timeout_s * 1e9)
        self.stats_ns = int(cfg.stats_interval_s * 1e9)
        self.decoders: dict[str, Decoder] = {}
        self.source_node: dict[str, int] = {}
        self.nodes: dict[int, NodeHealth] = {}
        self.detectors: dict[int, NodeDetector] = {}
        self.seq = SeqTracker()  # across sources: a node replugged elsewhere keeps its count
        self.fusion = Fusion(cfg.fusion)
        self.alerts = Alerts(cfg.alerts, cfg.fusion.trend_db)
        self.planner = ScanPlanner(cfg)
        self.now_ns = 0
        self._next_stats = None
        self.counts = {"frames": 0, "console_chunks": 0, "ignored_nodes": 0}
        self.quarantine_ns = int(cfg.quarantine_s * 1e9)
        self.quarantined: dict[str, int] = {}   # source -> until (ns)
        self.recovering: dict[str, int] = {}    # source -> no new soft reset before (ns)
        self.sweep_taps: list = []  # callables (node_id, t_ns, Sweep): the dashboard's spectra

    # -- inputs ------------------------------------------------------------------------------
    def open_source(self, source: str, t_ns: int) -> Output:
        self.decoders[source] = Decoder()
        out = Output([PortOpened(t_ns, source)])
        self._hello(source, out)
        self._advance(t_ns, out)
        return out

    def close_source(self, source: str, t_ns: int) -> Output:
        self.decoders.pop(source, None)
        out = Output([PortClosed(t_ns, source, self.source_node.pop(source, None))])
        self._advance(t_ns, out)
        return out

    def feed(self, source: str, t_ns: int, data: bytes) -> Output:
        """One chunk of a port. Whatever goes wrong handling it is that port's fault, never the
        gateway's: the port is quarantined (not read for quarantine_s, then asked again)."""
        out = self.tick(t_ns)
        until = self.quarantined.get(source)
        if until is not None:
            if t_ns < until:
                return out
            del self.quarantined[source]
            self.decoders[source] = Decoder()
            self._hello(source, out)
        decoder = self.decoders.get(source)
        if decoder is None:
            decoder = self.decoders[source] = Decoder()
        try:
            for item in decoder.feed(data):
                if isinstance(item, Console):
                    self.counts["console_chunks"] += 1
                else:
                    self._frame(item, source, t_ns, out)
            self._prompt(data, source, t_ns, out)
        except Exception as e:  # noqa: BLE001 (any fault of one node's data is contained)
            self.quarantined[source] = t_ns + self.quarantine_ns
            out.events.append(SourceQuarantined(t_ns, source, self.source_node.get(source),
                                                f"{type(e).__name__}: {e}"[:200],
                                                t_ns + self.quarantine_ns))
        return out

    def tick(self, t_ns: int) -> Output:
        """Advance time: heartbeat timeouts, track ends, periodic statistics."""
        out = Output()
        self._advance(t_ns, out)
        return out

    def _advance(self, t_ns: int, out: Output) -> None:
        self.now_ns = max(self.now_ns, t_ns)
        events = out.events
        for health in self.nodes.values():
            events += health.check(self.now_ns)
        for track in self.fusion.expire(self.now_ns):
            cleared = self.alerts.track_ended(track, self.now_ns)
            if is_drone(track.family):
                events.append(TrackEnded(self.now_ns, **track.summary()))
            events += cleared
            for alert in cleared:
                self._scan_changes(self.planner.restore(alert, self.now_ns), out)
        if self._next_stats is None:
            self._next_stats = self.now_ns + self.stats_ns
        elif self.now_ns >= self._next_stats:
            self._next_stats += self.stats_ns * (1 + (self.now_ns - self._next_stats) // self.stats_ns)
            events += [h.stats(self.now_ns, self.seq) for _, h in sorted(self.nodes.items())]

    # -- frames -----------------------------------------------------------------------------
    def _frame(self, frame, source: str, t_ns: int, out: Output) -> None:
        node_id = frame.node_id
        if self.cfg.node_ids and node_id not in self.cfg.node_ids:
            self.counts["ignored_nodes"] += 1
            return
        self.counts["frames"] += 1
        boot = frame.body.boot_count if frame.type == STATUS else -1
        self.seq.accept(node_id, frame.seq, frame.t_us, boot)
        health = self.nodes.get(node_id)
        if health is None:
            health = self.nodes[node_id] = NodeHealth(node_id, self.timeout_ns)
            self.detectors[node_id] = NodeDetector(node_id, self.cfg.detect, info=health.info)
        self.source_node[source] = node_id
        changes = health.frame(frame, source, t_ns)
        out.events += changes
        restarted = any(isinstance(e, NodeRestarted) for e in changes)
        if restarted:  # node time starts again
            self.detectors[node_id] = NodeDetector(node_id, self.cfg.detect, info=health.info)
        if restarted or (frame.type == STATUS and frame.body.mode == IDLE):
            self._hello(source, out)
        if frame.type == SWEEP:
            for tap in self.sweep_taps:
                tap(node_id, t_ns, frame.body)
            offset = health.clock.offset_ns or 0
            for obs in self.detectors[node_id].sweep(frame.body, frame.t_us, offset):
                self._observe(obs, t_ns, out)
        elif frame.type == REPLY:
            self._reply(health, frame.body, t_ns, out)
        # ENVELOPE blocks are not detected on yet: the core's pipeline takes sweeps only

    def _observe(self, obs, t_ns: int, out: Output) -> None:
        track, new = self.fusion.observe(obs)
        if new and is_drone(track.family):
            out.events.append(TrackStarted(t_ns, **track.summary()))
        for alert in self.alerts.track_updated(track, t_ns):
            out.events.append(alert)
            if isinstance(alert, AlertRaised):
                self._scan_changes(self.planner.focus(alert, self.nodes, t_ns), out)

    def _scan_changes(self, changes: list[ScanChange], out: Output) -> None:
        """Focus or restore events, and each one's plan as a command to its node (if online)."""
        for change in changes:
            out.events.append(change)
            port = self.port_of(change.node_id)
            if port is not None:
                out.commands.append(NodeCommand(port, "plan",
                                                json.dumps(change.plan, separators=(",", ":"))))

    def _reply(self, health: NodeHealth, reply, t_ns: int, out: Output) -> None:
        """Replies to the commands of HELLO (info, get plan) and to scan plans; a failed one is
        an event, since a person may need to look at the node, and so is one unfit to use."""
        if reply.status != 0:
            out.events.append(CommandFailed(t_ns, health.node_id, reply.request_id, reply.status,
                                            reply.text))
            return
        try:
            value = replies.parse(reply.text)
            if isinstance(value, dict) and "front_ends" in value:
                replies.check_info(value)
                health.info = value  # with the plan it runs: a focus keeps its dwell and revisit
                # the front ends' kinds give the detector each one's looks (averaging) for its CFAR
                self.detectors[health.node_id].set_info(value)
            elif isinstance(value, dict) and set(value) == {"plan"}:
                replies.check_plan(value["plan"])
                if health.node_id not in self.planner.focused:
                    # (a node reopened while focused answers with the focus plan: not its normal)
                    self.planner.normal_plan[health.node_id] = value["plan"]
        except replies.ReplyError as e:
            out.events.append(ReplyRejected(t_ns, health.node_id, reply.request_id, str(e)))

    def _prompt(self, data: bytes, source: str, t_ns: int, out: Output) -> None:
        """A chunk ending in a REPL prompt (console text after the last frame delimiter; the
        decoder reports console text only at the next 0x00, which a waiting REPL never sends):
        the node's app has stopped, so it is soft-reset, with an event (once per quarantine_s:
        it needs time to boot)."""
        tail = data[data.rfind(0) + 1:]
        at_raw = tail.endswith(RAW_REPL)
        if not (at_raw or tail.endswith(FRIENDLY_PROMPT)) or tail.translate(None, CONSOLE_BYTES) \
                or t_ns < self.recovering.get(source, 0):
            return
        self.recovering[source] = t_ns + self.quarantine_ns
        out.events.append(NodeRecovery(t_ns, source, self.source_node.get(source),
                                       tail[-80:].decode()))
        out.commands.append(ConsoleKeys(source, (LEAVE_RAW_REPL if at_raw else b"") + SOFT_RESET))

    def _hello(self, source: str, out: Output) -> None:
        out.commands += [NodeCommand(source, verb, args) for verb, args in HELLO]

    def port_of(self, node_id: int) -> str | None:
        health = self.nodes.get(node_id)
        return health.source if health and health.online else None
