"""Event floods: a broken or hostile node can restart, fail commands or claim node ids many
times a second, or report a new scan plan with every reply. Per kind and source (the port for a
port's claims, else the node), the first `event_burst` events of each `event_window_s` pass; the
rest are counted and, when the window ends, given as one `events_coalesced` event with their
count, so nothing is dropped unseen and the store and MQTT are not flooded. A kind that carries
state the store keeps (a node's normal plan) also gives its last event held back after the
count, so the store ends the window with what the node said last."""
from __future__ import annotations

from .events import (CommandFailed, Event, EventsCoalesced, NodeEvicted, NodeIdConflict,
                     NodePlan, NodeRefused, NodeRestarted, ReplyRejected, ScanRestore)

# The kinds a node can make at will (frames it sends); the others follow from time or the gateway
# (a node's plan reports make node_plan and scan_restore events)
LIMITED = (NodeRestarted, CommandFailed, ReplyRejected, NodeIdConflict, NodeRefused, NodeEvicted,
           NodePlan, ScanRestore)
# the kinds whose last event held back is given at the window's end (the store keeps its state)
LAST_KEPT = (NodePlan,)


class _Window:
    __slots__ = ("end_ns", "passed", "count", "first_ns", "last_ns", "last")

    def __init__(self, end_ns: int):
        self.end_ns = end_ns
        self.passed = 1
        self.count = 0
        self.first_ns = self.last_ns = 0
        self.last: Event | None = None  # of a LAST_KEPT kind: the last event held back


class EventLimiter:
    def __init__(self, window_s: float, burst: int):
        self.window_ns = int(window_s * 1e9)
        self.burst = burst
        self._windows: dict[tuple, _Window] = {}
        # the earliest window end: nothing to expire before (the pipeline asks only then)
        self.next_end_ns: int | None = None

    def filter(self, events: list[Event]) -> list[Event]:
        """The events to emit now, in order."""
        out = []
        for event in events:
            if not isinstance(event, LIMITED):
                out.append(event)
                continue
            # per port for what a port claims (so spoofed ids count as one source), else per node
            port = getattr(event, "port", None)
            key = (event.kind, None, port) if port else (event.kind, event.node_id, None)
            window = self._windows.get(key)
            if window is None or event.t_ns >= window.end_ns:
                out += self._close(key, window)
                self._windows[key] = _Window(event.t_ns + self.window_ns)
                if self.next_end_ns is None:
                    self.next_end_ns = event.t_ns + self.window_ns
                out.append(event)
            elif window.passed < self.burst:
                window.passed += 1
                out.append(event)
            else:
                if not window.count:
                    window.first_ns = event.t_ns
                window.count += 1
                window.last_ns = event.t_ns
                if isinstance(event, LAST_KEPT):
                    window.last = event
        return out

    def expire(self, now_ns: int) -> list[Event]:
        """The counts of windows that ended by now (and their kept last events)."""
        if self.next_end_ns is None or now_ns < self.next_end_ns:
            return []
        out = []
        for key in [k for k, w in self._windows.items() if now_ns >= w.end_ns]:
            out += self._close(key, self._windows.pop(key))
        self.next_end_ns = min((w.end_ns for w in self._windows.values()), default=None)
        return out

    @staticmethod
    def _close(key: tuple, window: _Window | None) -> list[Event]:
        if window is None or not window.count:
            return []
        kind, node_id, port = key
        closed: list[Event] = [EventsCoalesced(window.end_ns, kind, node_id, port, window.count,
                                               window.first_ns, window.last_ns)]
        if window.last is not None:
            closed.append(window.last)
        return closed
