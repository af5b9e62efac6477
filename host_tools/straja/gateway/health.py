"""Per-node health: online/offline from heartbeats, frame loss from sequence gaps, clock offset."""
from __future__ import annotations

from .._gateway_lane import ClockOffset, Heard
from ..protocol import RESET_CAUSES, SeqTracker, Status
from .events import NodeEvent, NodeOffline, NodeOnline, NodeRestarted, NodeStats

NO_EVENTS: tuple = ()  # what a frame that changes nothing gives


class NodeHealth(Heard):
    """What the gateway knows of one node, and the events its changes make. Its clock offset,
    frame count, time last heard, online and port are its compiled base's (Heard: the
    gateway's quiet-sweep path updates them in C, straja._gateway_lane)."""

    def __init__(self, node_id: int, timeout_ns: int):
        super().__init__()
        self.node_id = node_id
        self.timeout_ns = timeout_ns
        self.status: Status | None = None
        self.info: dict = {}
        self.restarts = 0

    def to_gateway_ns(self, t_us: int) -> int:
        return t_us * 1000 + (self.clock.offset_ns or 0)

    def frame(self, frame, source: str, arrival_ns: int) -> list[NodeEvent] | tuple:
        """Account one frame; events: node_online, node_restarted (most frames: none, and
        no list made)."""
        events = NO_EVENTS
        body = frame.body
        if isinstance(body, Status):
            if self.status and (body.boot_count != self.status.boot_count
                                or body.uptime_s < self.status.uptime_s):
                self.restarts += 1
                self.clock = ClockOffset()  # a new boot: node time starts again
                events = [NodeRestarted(arrival_ns, self.node_id, body.boot_count,
                                        RESET_CAUSES.get(body.reset_cause, "unknown"))]
            self.status = body
        self.heard(frame.t_us * 1000, arrival_ns)
        if not self.online or source != self.source:
            self.online = True
            self.source = source
            events = [NodeOnline(arrival_ns, self.node_id, source), *events]
        return events

    def check(self, now_ns: int) -> list[NodeOffline]:
        """node_offline once the heartbeat is late; stamped with the deadline, not `now`, so a
        replay that checks at other moments gives the same event."""
        deadline = self.last_seen_ns + self.timeout_ns
        if self.online and now_ns >= deadline:
            self.online = False
            return [NodeOffline(deadline, self.node_id, self.source, self.last_seen_ns)]
        return []

    def stats(self, now_ns: int, tracker: SeqTracker) -> NodeStats:
        s = self.status
        return NodeStats(now_ns, self.node_id, online=self.online, frames=self.frames,
                         lost=tracker.lost_by_node.get(self.node_id, 0), restarts=self.restarts,
                         clock_offset_ns=self.clock.offset_ns,
                         uptime_s=s.uptime_s if s else None, mem_free=s.mem_free if s else None,
                         overruns=s.overruns if s else None,
                         frames_dropped=s.frames_dropped if s else None,
                         firmware=s.version if s else None)
