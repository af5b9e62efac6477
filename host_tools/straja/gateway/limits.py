"""Event floods: a broken or hostile node can restart, fail commands or claim node ids many
times a second. Per kind and source (the port for a port's claims, else the node), the first
`event_burst` events of each `event_window_s` pass; the rest are counted and, when the window
ends, given as one `events_coalesced` event with their count, so nothing is dropped unseen and
the store and MQTT are not flooded."""
from __future__ import annotations

from .events import (CommandFailed, Event, EventsCoalesced, NodeEvicted, NodeIdConflict,
                     NodeRefused, NodeRestarted, ReplyRejected)

# The kinds a node can make at will (frames it sends); the others follow from time or the gateway
LIMITED = (NodeRestarted, CommandFailed, ReplyRejected, NodeIdConflict, NodeRefused, NodeEvicted)


class _Window:
    __slots__ = ("end_ns", "passed", "count", "first_ns", "last_ns")

    def __init__(self, end_ns: int):
        self.end_ns = end_ns
        self.passed = 1
        self.count = 0
        self.first_ns = self.last_ns = 0


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
        return out

    def expire(self, now_ns: int) -> list[EventsCoalesced]:
        """The counts of windows that ended by now."""
        if self.next_end_ns is None or now_ns < self.next_end_ns:
            return []
        out = []
        for key in [k for k, w in self._windows.items() if now_ns >= w.end_ns]:
            out += self._close(key, self._windows.pop(key))
        self.next_end_ns = min((w.end_ns for w in self._windows.values()), default=None)
        return out

    @staticmethod
    def _close(key: tuple, window: _Window | None) -> list[EventsCoalesced]:
        if window is None or not window.count:
            return []
        kind, node_id, port = key
        return [EventsCoalesced(window.end_ns, kind, node_id, port, window.count,
                                window.first_ns, window.last_ns)]
