"""Alerts: raised once per drone track, updated when what a person would act on changes, cleared
when the track ends.

A track that matches a known emitter (gateway/known.py) raises none; an alert whose track has
matched one for `known_clear_s` (a change in a known emitter that is over), or for `downgrade_s`
when an operator marked that alert's emitter known, is cleared, and a later change raises a new
alert. While surveying, no alert is raised.

Hysteresis: an alert is raised only after `confirm_hits` observations over at least `confirm_s`
(one stray reading raises nothing), its severity rises at once but falls only after `downgrade_s`
at the lower level, and updates come at most every `update_min_s` (except a severity rise, a
change of identity, or a track renamed by its video profile: `track_updated(renamed=True)`).

Reopened: an alert cleared because its track ended is kept `reacquire_s` as lapsed; a new
track that would raise an alert and is that alert's emitter back (`known.matches` of the lapsed
track learned as a known emitter: one of its names, within its extent and 10 MHz, every node
seeing it one that saw the old one, at most 10 dB over its highest mean there; and
`known.same_place`: the level differences between its nodes within 10 dB of those the old one's
ranges allow) reopens it: an `alert_updated` event with `reopened` true and the same alert id,
where a new id was raised before. A fixed camera whose level crosses the floor with slow
shadowing, a drone that flew out of range a while, is one presence and one alert
(docs/gateway.md, docs/measured/cam83.md). A reopen is decided on the new track's first
observation (often one node's); it is checked for the trend window after, and taken back (the
alert cleared again, the track raised as a new alert) once the track, gathering nodes, is not the
old emitter.

Identity: `identify(track)` gives the fields of the Remote ID drone the track is linked to
(gateway/ridlink.py), or {} for a drone that does not say who it is; each alert event carries
them, `identified` true or false, and its text says which.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .config import AlertConfig
from .detector import is_drone, label
from .events import AlertCleared, AlertEvent, AlertRaised, AlertUpdated
from .fusion import APPROACHING, Track
from .known import KnownEmitter, KnownEmitters, as_known, matches, same_place

LEVELS = ("warning", "high", "critical")
RANK = {level: rank for rank, level in enumerate(LEVELS)}


@dataclass
class Alert:
    alert_id: str
    severity: str
    raised_ns: int
    updated_ns: int
    shown: tuple        # (severity, node ids, trend, family, UAS ID) last told to people
    lower_since: int | None = None
    known_since: int | None = None  # matching a known emitter since
    identity: dict = field(default_factory=dict)  # the linked Remote ID drone's fields, last told
    position: dict = field(default_factory=dict)  # the latest position fields (gateway/position.py)
    located: tuple = (0, ())                       # ... worked out then, from these nodes
    told_position: dict = field(default_factory=dict)  # the position last told to people
    # while a reopen is checked (the trend window after it: Alerts._still_returned), the lapse
    # it reopened
    returned: Lapsed | None = None


@dataclass
class Lapsed:
    """An alert cleared when its track ended, which its emitter's return reopens."""
    alert: Alert
    emitter: KnownEmitter   # its track's emitter as it was seen (known.as_known)
    cleared_ns: int
    reopened_ns: int = 0


def _clock(t_ns: int) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(t_ns / 1e9))


def identity_text(identity: dict) -> str:
    if not identity:
        return "UNIDENTIFIED (no Remote ID)"
    operator = ("operator position unknown" if identity["operator_latitude"] is None else
                f"operator at {identity['operator_latitude']:.5f}, "
                f"{identity['operator_longitude']:.5f}")
    return f"identified by Remote ID as {identity['uas_id']}, {operator}"


def alert_text(track: Track, severity: str, trend: str, identity: dict,
               cleared: bool = False) -> str:
    nodes = track.node_ids
    who = ("node " if len(nodes) == 1 else "nodes ") + ", ".join(map(str, nodes))
    band = f"{track.lo_khz / 1000:.0f}-{track.hi_khz / 1000:.0f} MHz"
    node, dbm = track.strongest()
    if cleared:
        return (f"CLEARED: {label(track.family)} on {band}, seen by {who} from "
                f"{_clock(track.first_ns)} to {_clock(track.last_ns)}; {identity_text(identity)}")
    return (f"{severity.upper()}: {label(track.family)} on {band}, seen by {who} since "
            f"{_clock(track.first_ns)}, signal {trend}; strongest {dbm:.0f} dBm at node {node}; "
            f"{identity_text(identity)}")


class Alerts:
    def __init__(self, cfg: AlertConfig, trend_db: float, known: KnownEmitters | None = None,
                 surveying: bool = False, identify: Callable[[Track], dict] = lambda track: {},
                 locate: Callable[[Track, int], dict] = lambda track, t_ns: {},
                 moved: Callable[[dict, dict], bool] = lambda old, new: False,
                 check: Callable[[dict, dict], str] = lambda position, identity: ""):
        self.cfg = cfg
        self.identify = identify
        self.locate = locate  # the position fields of an alert event; moved(old, new): worth
        self.moved = moved    # an update; check(position, identity): the RF position against
        self.check = check    # the Remote ID claim, for the text (gateway/position.py)
        self.trend_db = trend_db
        self.known = known or KnownEmitters()
        self.surveying = surveying
        self.active: dict[str, Alert] = {}  # by track id
        self.raised: dict[str, int] = {}    # by track id: alerts raised for it
        self.lapsed: list[Lapsed] = []      # cleared within reacquire_s, oldest first

    def severity(self, track: Track, trend: str) -> str:
        _, dbm = track.strongest()
        level = 1 if len(track.nodes) > 1 or dbm >= self.cfg.high_dbm else 0
        if level == 1 and trend == APPROACHING:
            level = 2
        return LEVELS[level]

    def _event(self, cls: type[AlertEvent], alert: Alert, track: Track, t_ns: int,
               trend: str, reopened_after_ns: int | None = None) -> AlertEvent:
        text = alert_text(track, alert.severity, trend, alert.identity, cleared=cls is AlertCleared)
        if reopened_after_ns is not None:
            text = f"REOPENED (back {reopened_after_ns / 1e9:.0f} s after it cleared): {text}"
        check = self.check(alert.position, alert.identity)
        return cls(t_ns=t_ns, alert_id=alert.alert_id, severity=alert.severity, trend=trend,
                   since_ns=track.first_ns, label=label(track.family), **track.summary(),
                   text=f"{text}; {check}" if check else text,
                   identified=bool(alert.identity), **alert.identity, **alert.position,
                   reopened=reopened_after_ns is not None)

    def track_updated(self, track: Track, now_ns: int, renamed: bool = False) -> list[AlertEvent]:
        """The alert events of a track's change; `renamed`: its family was told (Fusion.name),
        which its alert tells at once."""
        if not is_drone(track.family) or self.surveying:
            return []
        trend = track.trend(self.trend_db)
        level = self.severity(track, trend)
        alert = self.active.get(track.track_id)
        match = self.known.match(track) if self.known.emitters else None  # (most sites: none)
        known = match is not None
        lapsed_again = []
        if alert is not None and alert.returned is not None:
            alert, lapsed_again = self._still_returned(alert, track, now_ns)
        if alert is None:
            if known or track.hits < self.cfg.confirm_hits or \
                    track.last_ns - track.first_ns < self.cfg.confirm_s * 1e9:
                return lapsed_again
            return lapsed_again + self._raise(track, now_ns, level, trend)
        if not known:
            alert.known_since = None
        elif alert.known_since is None:
            alert.known_since = now_ns
        elif now_ns - alert.known_since >= self._known_clear_ns(match, alert):
            return self._clear(track, now_ns)
        return self._maybe_update(alert, track, level, trend, now_ns, renamed)

    def _raise(self, track: Track, now_ns: int, level: str, trend: str) -> list[AlertEvent]:
        """A new alert of a track, or a lapsed one it reopens (reopen_for)."""
        identity = self.identify(track)
        shown = (level, track.node_ids, trend, track.family, identity.get("uas_id"))
        position = self.locate(track, now_ns)
        lapsed = self.reopen_for(track, now_ns)
        if lapsed is not None:
            alert = lapsed.alert
            alert.returned, lapsed.reopened_ns = lapsed, now_ns
            alert.severity, alert.updated_ns, alert.shown = level, now_ns, shown
            alert.lower_since = alert.known_since = None
            alert.identity, alert.position, alert.located = identity, position, (
                now_ns, track.node_ids)
            alert.told_position = position
            self.active[track.track_id] = alert
            return [self._event(AlertUpdated, alert, track, now_ns, trend,
                                reopened_after_ns=now_ns - lapsed.cleared_ns)]
        # a track's later alerts (a known emitter's changes) get ids of their own
        count = self.raised[track.track_id] = self.raised.get(track.track_id, 0) + 1
        alert = Alert(f"A{track.track_id[1:]}" + (f".{count}" if count > 1 else ""), level,
                      now_ns, now_ns, shown, identity=identity, position=position,
                      located=(now_ns, track.node_ids))
        alert.told_position = alert.position
        self.active[track.track_id] = alert
        return [self._event(AlertRaised, alert, track, now_ns, trend)]

    def _known_clear_ns(self, known, alert: Alert) -> float:
        """How long the alert's track must match `known` before the alert clears: downgrade_s
        when an operator marked this very alert's emitter known, else known_clear_s."""
        mine = known.source == f"alert {alert.alert_id}"
        return (self.cfg.downgrade_s if mine else self.cfg.known_clear_s) * 1e9

    def _maybe_update(self, alert: Alert, track: Track, level: str, trend: str,
                      now_ns: int, renamed: bool = False) -> list[AlertEvent]:
        rank, cur = RANK[level], RANK[alert.severity]
        rose = rank > cur
        if rank < cur:
            alert.lower_since = alert.lower_since if alert.lower_since is not None else now_ns
            if now_ns - alert.lower_since < self.cfg.downgrade_s * 1e9:
                level = alert.severity  # hold the higher level a while
            else:
                alert.lower_since = None
        else:
            alert.lower_since = None
        identity = self.identify(track)
        shown = (level, track.node_ids, trend, track.family, identity.get("uas_id"))
        # a solve at most every update_min_s, or when other nodes see the track (not per sweep)
        if now_ns - alert.located[0] >= self.cfg.update_min_s * 1e9 or shown[1] != alert.located[1]:
            alert.position, alert.located = self.locate(track, now_ns), (now_ns, shown[1])
        # (a position told as it is has not moved: most observations between two solves)
        moved = (alert.position is not alert.told_position
                 and self.moved(alert.told_position, alert.position))
        if shown == alert.shown and not moved:
            return []
        if not rose and not moved and not renamed and shown[-1] == alert.shown[-1] \
                and now_ns - alert.updated_ns < self.cfg.update_min_s * 1e9:
            return []
        alert.severity, alert.shown, alert.updated_ns = level, shown, now_ns
        alert.identity, alert.told_position = identity, alert.position
        return [self._event(AlertUpdated, alert, track, now_ns, trend)]

    def reopen_for(self, track: Track, now_ns: int) -> Lapsed | None:
        """The lapsed alert (the latest cleared of several) whose emitter `track` is, back
        within reacquire_s of its clear (the module docstring), taken off the lapsed ones; None
        for another emitter (another name, another channel, a node that never saw it, one
        where it is over 10 dB stronger than it ever was: a drone at a third of its distance, or
        another place: known.same_place)."""
        since = now_ns - self.cfg.reacquire_s * 1e9
        self.lapsed = [lapsed for lapsed in self.lapsed if lapsed.cleared_ns >= since]
        for lapsed in reversed(self.lapsed):
            if self._returned(lapsed, track):
                self.lapsed.remove(lapsed)
                return lapsed
        return None

    def _returned(self, lapsed: Lapsed, track: Track) -> bool:
        """Whether `track` is the lapsed alert's emitter: as a known emitter matches (known.py),
        and heard at its nodes relative to each other as it was (known.same_place); over the
        trend window, the known emitters' (the pipeline's)."""
        window = self.known.window_ns
        return matches(lapsed.emitter, track, window) and same_place(lapsed.emitter, track, window)

    def _still_returned(self, alert: Alert, track: Track, now_ns: int) -> tuple:
        """A reopened alert checked over the trend window after its reopening, as the track
        gathers its nodes (it was reopened on its first observation): (the alert, no events)
        while the track is still the emitter it was cleared for; once it is not (a node that
        never saw it, 10 dB stronger than it ever was), the alert lapses again and the track is
        raised as a new alert: (None, the clear of the reopened alert)."""
        lapsed = alert.returned
        if now_ns - lapsed.reopened_ns > self.known.window_ns:
            alert.returned = None
        elif not self._returned(lapsed, track):
            alert.returned = None
            cleared = self._clear(track, now_ns)
            self.lapsed.append(lapsed)
            return None, cleared
        return alert, []

    def track_ended(self, track: Track, now_ns: int) -> list[AlertCleared]:
        self.raised.pop(track.track_id, None)
        alert = self.active.get(track.track_id)
        if alert is not None and self.cfg.reacquire_s > 0:
            self.lapsed.append(Lapsed(alert, as_known(track, f"alert {alert.alert_id}"), now_ns))
        return self._clear(track, now_ns)

    def _clear(self, track: Track, now_ns: int) -> list[AlertCleared]:
        alert = self.active.pop(track.track_id, None)
        if alert is None:
            return []
        return [self._event(AlertCleared, alert, track, now_ns, track.trend(self.trend_db))]
