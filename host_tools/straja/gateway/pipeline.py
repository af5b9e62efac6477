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
from ..protocol import REPLY, STATUS, SWEEP, Console, SeqTracker
from .alerts import Alerts
from .config import GatewayConfig
from .detector import NodeDetector, is_drone
from .events import (AlertRaised, CommandFailed, NodeCommand, NodeRestarted, Output, PortClosed,
                     PortOpened, ScanChange, TrackEnded, TrackStarted)
from .fusion import Fusion
from .health import NodeHealth
from .scanplan import ScanPlanner


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

    # -- inputs ------------------------------------------------------------------------------
    def open_source(self, source: str, t_ns: int) -> Output:
        self.decoders[source] = Decoder()
        out = Output([PortOpened(t_ns, source)])
        self._advance(t_ns, out)
        return out

    def close_source(self, source: str, t_ns: int) -> Output:
        self.decoders.pop(source, None)
        out = Output([PortClosed(t_ns, source, self.source_node.pop(source, None))])
        self._advance(t_ns, out)
        return out

    def feed(self, source: str, t_ns: int, data: bytes) -> Output:
        out = self.tick(t_ns)
        decoder = self.decoders.get(source)
        if decoder is None:
            decoder = self.decoders[source] = Decoder()
        for item in decoder.feed(data):
            if isinstance(item, Console):
                self.counts["console_chunks"] += 1
                continue
            self._frame(item, source, t_ns, out)
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
        if any(isinstance(e, NodeRestarted) for e in changes):  # node time starts again
            self.detectors[node_id] = NodeDetector(node_id, self.cfg.detect, info=health.info)
        if frame.type == SWEEP:
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
        """Replies to the commands the gateway sends when a port opens (info, get plan) and to
        scan plans; a failed one is an event, since a person may need to look at the node."""
        try:
            value = json.loads(reply.text)
        except ValueError:
            value = None
        if reply.status != 0:
            out.events.append(CommandFailed(t_ns, health.node_id, reply.request_id, reply.status,
                                            reply.text))
        elif isinstance(value, dict) and "front_ends" in value:
            health.info = value  # with the plan it runs: a focus plan keeps its dwell and revisit
            # the front ends' kinds give the detector each one's looks (averaging) for its CFAR
            self.detectors[health.node_id].set_info(value)
        elif isinstance(value, dict) and set(value) == {"plan"} and \
                health.node_id not in self.planner.focused:
            # (a node reopened while focused answers with the focus plan: not its normal one)
            self.planner.normal_plan[health.node_id] = value["plan"]

    def port_of(self, node_id: int) -> str | None:
        health = self.nodes.get(node_id)
        return health.source if health and health.online else None
