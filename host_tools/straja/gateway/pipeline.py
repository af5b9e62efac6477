"""The gateway's pure processing: raw byte chunks with arrival times in, events out.

No clocks, threads or files here: the same chunks at the same arrival times give the same
events, which is what makes `straja replay` give the alerts a live run gave. Time advances only
through the arrival times given to `feed()` and `tick()`.

Events are dicts with `kind` and `t_ns` (gateway time, ns since the Unix epoch); their kinds and
fields are listed in docs/gateway.md. `scan_focus` / `scan_restore` events carry a `plan` that the
I/O side sends to the node with the firmware's `plan` command.
"""
from __future__ import annotations

import json

from ..framing import Decoder
from ..protocol import REPLY, STATUS, SWEEP, Console, SeqTracker
from .alerts import Alerts
from .config import GatewayConfig
from .detector import NodeDetector, is_drone
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
    def open_source(self, source: str, t_ns: int) -> list[dict]:
        self.decoders[source] = Decoder()
        return [{"kind": "port_opened", "t_ns": t_ns, "port": source}] + self.tick(t_ns)

    def close_source(self, source: str, t_ns: int) -> list[dict]:
        self.decoders.pop(source, None)
        node = self.source_node.pop(source, None)
        return [{"kind": "port_closed", "t_ns": t_ns, "port": source, "node_id": node}] + \
            self.tick(t_ns)

    def feed(self, source: str, t_ns: int, data: bytes) -> list[dict]:
        events = self.tick(t_ns)
        decoder = self.decoders.get(source)
        if decoder is None:
            decoder = self.decoders[source] = Decoder()
        for item in decoder.feed(data):
            if isinstance(item, Console):
                self.counts["console_chunks"] += 1
                continue
            events += self._frame(item, source, t_ns)
        return events

    def tick(self, t_ns: int) -> list[dict]:
        """Advance time: heartbeat timeouts, track ends, periodic statistics."""
        self.now_ns = max(self.now_ns, t_ns)
        events = []
        for health in self.nodes.values():
            events += health.check(self.now_ns)
        for track in self.fusion.expire(self.now_ns):
            cleared = self.alerts.track_ended(track, self.now_ns)
            events += [{"kind": "track_ended", "t_ns": self.now_ns, **track.summary()}] \
                if is_drone(track.family) else []
            events += cleared
            for alert in cleared:
                events += self.planner.restore(alert, self.now_ns)
        if self._next_stats is None:
            self._next_stats = self.now_ns + self.stats_ns
        elif self.now_ns >= self._next_stats:
            self._next_stats += self.stats_ns * (1 + (self.now_ns - self._next_stats) // self.stats_ns)
            events += [h.stats(self.now_ns, self.seq) for _, h in sorted(self.nodes.items())]
        return events

    # -- frames -----------------------------------------------------------------------------
    def _frame(self, frame, source: str, t_ns: int) -> list[dict]:
        node_id = frame.node_id
        if self.cfg.node_ids and node_id not in self.cfg.node_ids:
            self.counts["ignored_nodes"] += 1
            return []
        self.counts["frames"] += 1
        boot = frame.body.boot_count if frame.type == STATUS else -1
        self.seq.accept(node_id, frame.seq, frame.t_us, boot)
        health = self.nodes.get(node_id)
        if health is None:
            health = self.nodes[node_id] = NodeHealth(node_id, self.timeout_ns)
            self.detectors[node_id] = NodeDetector(node_id, self.cfg.detect, info=health.info)
        self.source_node[source] = node_id
        events = health.frame(frame, source, t_ns)
        if any(e["kind"] == "node_restarted" for e in events):  # node time starts again
            self.detectors[node_id] = NodeDetector(node_id, self.cfg.detect, info=health.info)
        if frame.type == SWEEP:
            offset = health.clock.offset_ns or 0
            for obs in self.detectors[node_id].sweep(frame.body, frame.t_us, offset):
                events += self._observe(obs, t_ns)
        elif frame.type == REPLY:
            events += self._reply(health, frame.body, t_ns)
        # ENVELOPE blocks are not detected on yet: the core's pipeline takes sweeps only
        return events

    def _observe(self, obs, t_ns: int) -> list[dict]:
        track, new = self.fusion.observe(obs)
        events = []
        if new and is_drone(track.family):
            events.append({"kind": "track_started", "t_ns": t_ns, **track.summary()})
        raised = self.alerts.track_updated(track, t_ns)
        events += raised
        for alert in raised:
            if alert["kind"] == "alert_raised":
                events += self.planner.focus(alert, self.nodes, t_ns)
        return events

    def _reply(self, health: NodeHealth, reply, t_ns: int) -> list[dict]:
        """Replies to the commands the gateway sends when a port opens (info, get plan) and to
        scan plans; a failed one is an event, since a person may need to look at the node."""
        try:
            value = json.loads(reply.text)
        except ValueError:
            value = None
        if reply.status != 0:
            return [{"kind": "command_failed", "t_ns": t_ns, "node_id": health.node_id,
                     "request_id": reply.request_id, "status": reply.status, "reply": reply.text}]
        if isinstance(value, dict) and "front_ends" in value:
            health.info = value  # with the plan it runs: a focus plan keeps its dwell and revisit
            # the front ends' kinds give the detector each one's looks (averaging) for its CFAR
            self.detectors[health.node_id].set_info(value)
        elif isinstance(value, dict) and set(value) == {"plan"} and \
                health.node_id not in self.planner.focused:
            # (a node reopened while focused answers with the focus plan: not its normal one)
            self.planner.normal_plan[health.node_id] = value["plan"]
        return []

    def port_of(self, node_id: int) -> str | None:
        health = self.nodes.get(node_id)
        return health.source if health and health.online else None
