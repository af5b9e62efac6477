"""The gateway's events and node commands: one frozen dataclass per event kind.

The pipeline makes these and everything inside the gateway dispatches on their types. JSON is
made only at the outputs (SQLite, JSON lines, MQTT) by `to_json` / `dumps`, which give each event
as docs/gateway.md lists it: `kind`, `t_ns` and the kind's fields, plus `id` once stored.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import ClassVar, NamedTuple


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str]
    t_ns: int           # gateway time, ns since the Unix epoch


@dataclass(frozen=True)
class PortOpened(Event):
    kind: ClassVar[str] = "port_opened"
    port: str


@dataclass(frozen=True)
class PortClosed(Event):
    kind: ClassVar[str] = "port_closed"
    port: str
    node_id: int | None  # the node last read on it, if any


@dataclass(frozen=True)
class NodeEvent(Event):
    node_id: int


@dataclass(frozen=True)
class NodeStatusChange(NodeEvent):
    """Online, offline or restarted: a node's status history (and its retained MQTT topic)."""
    status: ClassVar[str]


@dataclass(frozen=True)
class NodeOnline(NodeStatusChange):
    kind: ClassVar[str] = "node_online"
    status: ClassVar[str] = "online"
    port: str


@dataclass(frozen=True)
class NodeOffline(NodeStatusChange):
    kind: ClassVar[str] = "node_offline"
    status: ClassVar[str] = "offline"
    port: str
    last_seen_ns: int


@dataclass(frozen=True)
class NodeRestarted(NodeStatusChange):
    kind: ClassVar[str] = "node_restarted"
    status: ClassVar[str] = "restarted"
    boot_count: int
    reset_cause: str


@dataclass(frozen=True)
class NodeStats(NodeEvent):
    kind: ClassVar[str] = "node_stats"
    online: bool
    frames: int
    lost: int
    restarts: int
    clock_offset_ns: int | None
    # from the node's latest STATUS; None before the first
    uptime_s: int | None
    mem_free: int | None
    overruns: int | None
    frames_dropped: int | None
    firmware: str | None
    # the node's surveyed position from the gateway config ([nodes.<id>]); None when not set
    latitude: float | None = None
    longitude: float | None = None
    height_m: float | None = None


@dataclass(frozen=True)
class TrackNode:
    """One node's part in a fused track."""
    node_id: int
    dbm: float
    first_ns: int
    last_ns: int


@dataclass(frozen=True)
class TrackEvent(Event):
    track_id: str
    family: str
    lo_khz: int
    hi_khz: int
    first_ns: int
    last_ns: int
    hits: int
    nodes: tuple[TrackNode, ...]


@dataclass(frozen=True)
class TrackStarted(TrackEvent):
    kind: ClassVar[str] = "track_started"


@dataclass(frozen=True)
class TrackEnded(TrackEvent):
    kind: ClassVar[str] = "track_ended"


@dataclass(frozen=True)
class AlertEvent(TrackEvent):
    alert_id: str
    severity: str
    trend: str
    since_ns: int
    label: str
    text: str
    # the Remote ID drone the track is linked to (gateway/ridlink.py); unidentified: RF only
    identified: bool = False
    uas_id: str = ""
    operator_id: str = ""
    claimed_latitude: float | None = None     # where the drone says it is
    claimed_longitude: float | None = None
    operator_latitude: float | None = None
    operator_longitude: float | None = None
    # where the RF says the emitter is (docs/localisation.md): "fix" (3+ nodes: a point and its
    # 95 % ellipse), "locus" (2 nodes) or "ring" (1 node): a band of distances around a centre;
    # "" when no position (nodes without surveyed positions)
    position_kind: str = ""
    latitude: float | None = None     # fix: the estimate; locus, ring: the centre of the band
    longitude: float | None = None
    ellipse_m: tuple[float, float, float] | None = None   # fix, 95 %: semi-major m, semi-minor m,
                                                          # major axis azimuth, deg clockwise from north
    ring_m: tuple[float, float] | None = None   # locus, ring, 95 %: inner and outer radius, m
    # fix: the track of the same drone's other link (video, control) whose powers the fix used
    # too (one fix from both bands, on both alerts); "" for a fix from this track's band alone
    position_with: str = ""
    # this event reopens the alert, cleared when its track ended: its emitter came back on its
    # carrier within reacquire_s (gateway/alerts.py), one alert for one presence
    reopened: bool = False


@dataclass(frozen=True)
class AlertRaised(AlertEvent):
    kind: ClassVar[str] = "alert_raised"


@dataclass(frozen=True)
class AlertUpdated(AlertEvent):
    kind: ClassVar[str] = "alert_updated"


@dataclass(frozen=True)
class AlertCleared(AlertEvent):
    kind: ClassVar[str] = "alert_cleared"


@dataclass(frozen=True)
class ScanChange(NodeEvent):
    """A plan sent to a node: a focus for an alert, or its normal plan back."""
    alert_id: str
    plan: tuple[dict, ...]


@dataclass(frozen=True)
class ScanFocus(ScanChange):
    kind: ClassVar[str] = "scan_focus"


@dataclass(frozen=True)
class ScanRestore(ScanChange):
    kind: ClassVar[str] = "scan_restore"


@dataclass(frozen=True)
class CommandFailed(NodeEvent):
    kind: ClassVar[str] = "command_failed"
    request_id: int
    status: int
    reply: str


@dataclass(frozen=True)
class ReplyRejected(NodeEvent):
    """A reply the gateway cannot use (too deep, or not the shape its command answers with)."""
    kind: ClassVar[str] = "reply_rejected"
    request_id: int
    reason: str


@dataclass(frozen=True)
class SourceQuarantined(Event):
    """Handling a port's data failed: the port is not read until `until_ns`, then asked again."""
    kind: ClassVar[str] = "source_quarantined"
    port: str
    node_id: int | None
    reason: str
    until_ns: int


@dataclass(frozen=True)
class NodeRecovery(Event):
    """The port shows the REPL or console text instead of frames: the node is soft-reset."""
    kind: ClassVar[str] = "node_recovery"
    port: str
    node_id: int | None
    text: str           # the end of what the port showed


@dataclass(frozen=True)
class NodeIdConflict(NodeEvent):
    """A port presents a node id bound to another open port: its frames are ignored."""
    kind: ClassVar[str] = "node_id_conflict"
    port: str
    bound_port: str     # the port that first presented the id (until the node goes offline)


@dataclass(frozen=True)
class NodeRefused(NodeEvent):
    """A new node id over the limits (per port, in all): its frames are ignored."""
    kind: ClassVar[str] = "node_refused"
    port: str
    reason: str


@dataclass(frozen=True)
class NodeEvicted(NodeEvent):
    """An offline node forgotten to make room for a new one (max_nodes)."""
    kind: ClassVar[str] = "node_evicted"
    last_seen_ns: int


@dataclass(frozen=True)
class EventsCoalesced(Event):
    """Events of one kind and source over event_burst in event_window_s: not sent one by one,
    counted here at the window's end."""
    kind: ClassVar[str] = "events_coalesced"
    event_kind: str
    node_id: int | None
    port: str | None
    count: int
    first_ns: int
    last_ns: int


@dataclass(frozen=True)
class Overload(Event):
    """The gateway fell behind a port: its oldest pending sweeps were dropped unprocessed."""
    kind: ClassVar[str] = "overload"
    port: str
    node_id: int | None
    dropped: int        # sweeps dropped since the port's previous overload event


@dataclass(frozen=True)
class NodePlan(NodeEvent):
    """The node's normal plan (its stored plan while no focus plan runs), kept in the store so
    that a later gateway restores it."""
    kind: ClassVar[str] = "node_plan"
    plan: tuple[dict, ...]


@dataclass(frozen=True)
class RidEvent(Event):
    """A Remote ID drone (gateway/remoteid.py): what it claims, who heard it, whether it holds."""
    uas_id: str
    address: str                    # the advertiser's address; "" for a payload without one
    latitude: float | None
    longitude: float | None
    altitude_geo: float | None
    speed: float | None
    operator_latitude: float | None
    operator_longitude: float | None
    operator_id: str
    first_ns: int
    last_seen_ns: int
    receivers: dict                 # node id (a string) -> latest RSSI dBm
    plausible: bool
    reasons: tuple[str, ...]        # why it is not plausible


@dataclass(frozen=True)
class RidSeen(RidEvent):
    kind: ClassVar[str] = "rid_seen"


@dataclass(frozen=True)
class RidUpdated(RidEvent):
    kind: ClassVar[str] = "rid_updated"


@dataclass(frozen=True)
class RidLost(RidEvent):
    kind: ClassVar[str] = "rid_lost"


@dataclass(frozen=True)
class RidAreaEntered(RidEvent):
    """A Remote ID drone claims a position inside a protected area: an alert of its own."""
    kind: ClassVar[str] = "rid_area_entered"
    area: str


@dataclass(frozen=True)
class AlertAcknowledged(Event):
    """An operator acknowledged an alert on the dashboard (docs/dashboard.md)."""
    kind: ClassVar[str] = "alert_acknowledged"
    alert_id: str
    by: str             # the dashboard user
    known: bool = False  # and marked its emitter as known (a known_added event follows)


@dataclass(frozen=True)
class KnownNode:
    """The range of a node's received power of a known emitter."""
    node_id: int
    lo_dbm: float
    hi_dbm: float


@dataclass(frozen=True)
class KnownAdded(Event):
    """A known emitter learned (gateway/known.py): it alerts no more while it stays as it is.
    Its id (`known_id` in the store and `straja known`) is this event's id."""
    kind: ClassVar[str] = "known_added"
    families: tuple[str, ...]  # the classes it was given
    lo_khz: int
    hi_khz: int
    nodes: tuple[KnownNode, ...]
    source: str         # "survey" or "alert <alert id>"
    by: str             # "survey", or the operator


@dataclass(frozen=True)
class KnownRemoved(Event):
    kind: ClassVar[str] = "known_removed"
    known_id: int
    by: str


KINDS = {cls.kind: cls for cls in (
    PortOpened, PortClosed, NodeOnline, NodeOffline, NodeRestarted, NodeStats, TrackStarted,
    TrackEnded, AlertRaised, AlertUpdated, AlertCleared, ScanFocus, ScanRestore, CommandFailed,
    ReplyRejected, SourceQuarantined, NodeRecovery, NodeIdConflict, NodeRefused, NodeEvicted,
    EventsCoalesced, Overload, NodePlan, RidSeen, RidUpdated, RidLost, RidAreaEntered,
    AlertAcknowledged, KnownAdded, KnownRemoved)}


@dataclass(frozen=True)
class NodeCommand:
    """A command line for the node on `port` (`straja.protocol.format_command`'s verb and args)."""
    port: str
    verb: str
    args: str | None = None


# Keys that bring a node at the REPL back to its app: Ctrl-B leaves the raw REPL (a raw-REPL soft
# reset would stay there, without main.py), Ctrl-D at the friendly REPL soft-resets.
LEAVE_RAW_REPL, SOFT_RESET = b"\x02", b"\x04"


@dataclass(frozen=True)
class ConsoleKeys:
    """Control keys for the node on `port`, written as they are (not a command line)."""
    port: str
    keys: bytes


@dataclass(init=False, slots=True)
class Output:
    """What the pipeline makes of an input: events, and commands for the I/O side to send."""
    events: list[Event]
    commands: list[NodeCommand | ConsoleKeys]

    def __init__(self, events: list | None = None, commands: list | None = None):
        # (made for every chunk a gateway reads: the dataclass's default_factory __init__
        # cost twice this)
        self.events = [] if events is None else events
        self.commands = [] if commands is None else commands

    def __iadd__(self, other: "Output") -> "Output":
        self.events += other.events
        self.commands += other.commands
        return self


def _plain(value):
    """A field's value as JSON has it: dataclasses as objects, tuples as arrays."""
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_json(event: Event, event_id: int | None = None) -> dict:
    """The event as the outputs show it (docs/gateway.md, "Events")."""
    out = {"id": event_id} if event_id is not None else {}
    out["kind"] = event.kind
    out.update(_plain(event))
    return out


def dumps(event: Event, event_id: int | None = None) -> str:
    return json.dumps(to_json(event, event_id), sort_keys=True, separators=(",", ":"))


class Stored(NamedTuple):
    """An event as the outputs got it: with its event-log id once the store has written it."""
    event: Event
    id: int | None = None

    def json(self) -> dict:
        return to_json(self.event, self.id)
