"""Region-level tracks: one drone seen by neighbouring sites is one track of the region.

Each site's gateway raises its own alert for what its nodes see. An alert joins a region track
when it is of the same link (video, or a hopping control link: `straja.gateway.fusion.LINK`),
overlaps the track in frequency, overlaps it in time (it began before the track's last
observation plus `handover_s`: a drone flying out of one site's coverage into the next may be
heard by neither for a moment), comes from a site neighbouring one of the track's sites, and,
where positions are known (the alert's own `latitude`/`longitude`, else its site's), lies within
`max_distance_m` of one of them, widened by how far each emitter may be from its position (a
fix's 95 % semi-major axis, a ring's or locus's outer radius: docs/localisation.md). A track is active while one of its alerts is; an ended track
can still be joined within `handover_s`, so a drone crossing from site A to site B stays one
track even when A's alert clears before B's is raised.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..gateway.fusion import LINK
from ..locate.geo import ground_distance_m

SEVERITY_ORDER = ("warning", "high", "critical")


class Position(NamedTuple):
    latitude: float
    longitude: float
    radius_m: float  # the emitter within this of it (95 %); 0: a point (a site's, or no extent)


def alert_position(alert: dict) -> Position | None:
    """Where a site's alert puts its emitter, if it says (position_kind: a fix and its ellipse,
    or the centre of a ring's or locus's band of distances)."""
    if alert.get("latitude") is None or alert.get("longitude") is None:
        return None
    extent = alert.get("ellipse_m") if alert.get("position_kind") == "fix" else \
        alert.get("ring_m") if alert.get("position_kind") in ("ring", "locus") else None
    return Position(alert["latitude"], alert["longitude"], max(extent[:2]) if extent else 0.0)


@dataclass
class RegionTrack:
    region_id: str
    family: str
    lo_khz: int
    hi_khz: int
    first_ns: int
    last_ns: int
    members: dict[str, dict] = field(default_factory=dict)  # qualified alert id -> latest alert

    @property
    def active(self) -> bool:
        return any(a["kind"] != "alert_cleared" for a in self.members.values())

    @property
    def sites(self) -> list[str]:
        return sorted({a["site"] for a in self.members.values()})

    @property
    def severity(self) -> str:
        live = [a["severity"] for a in self.members.values() if a["kind"] != "alert_cleared"] or \
            [a["severity"] for a in self.members.values()]
        return max(live, key=SEVERITY_ORDER.index)

    def position(self, site_positions: dict) -> Position | None:
        """The tightest of its alerts' own positions (the newest of equals: a fix before a
        ring), else the mean of the positions of its sites."""
        own = [(p.radius_m, -a["last_ns"], p) for a in self.members.values()
               if (p := alert_position(a)) is not None]
        if own:
            return min(own)[2]
        known = [site_positions[s] for s in self.sites if s in site_positions]
        if not known:
            return None
        return Position(sum(p[0] for p in known) / len(known),
                        sum(p[1] for p in known) / len(known), 0.0)

    def summary(self) -> dict:
        return {"region_id": self.region_id, "family": self.family, "lo_khz": self.lo_khz,
                "hi_khz": self.hi_khz, "first_ns": self.first_ns, "last_ns": self.last_ns,
                "active": self.active, "severity": self.severity, "sites": self.sites,
                "alerts": sorted(self.members)}


class RegionFusion:
    def __init__(self, handover_s: float = 10.0, neighbours: dict[str, set] | None = None,
                 site_positions: dict[str, tuple[float, float]] | None = None,
                 max_distance_m: float = 20_000.0, keep_s: float = 600.0):
        """neighbours: site -> the sites next to it (None: every site neighbours every other);
        tracks ended more than keep_s ago are forgotten."""
        self.handover_ns = int(handover_s * 1e9)
        self.neighbours = neighbours
        self.site_positions = site_positions or {}
        self.max_distance_m = max_distance_m
        self.keep_ns = int(keep_s * 1e9)
        self.tracks: dict[str, RegionTrack] = {}
        self.by_alert: dict[str, RegionTrack] = {}
        self._count = 0

    def alert(self, key: str, event: dict) -> tuple[RegionTrack, list[RegionTrack]]:
        """A site's alert event (with its `site`; key: its region-wide alert id): the region
        track it belongs to, updated, and the tracks merged into it.

        What the command post knows of an alert grows as its updates arrive (a gateway sends
        one on a change, not per observation), and sites' messages arrive in any order, so two
        tracks found apart may later prove to be one: they are merged then, into the older."""
        track = self.by_alert.get(key)
        if track is None:
            self._count += 1
            track = RegionTrack(f"R{event['first_ns'] // 1_000_000}-{self._count}",
                                event["family"], event["lo_khz"], event["hi_khz"],
                                event["first_ns"], event["last_ns"])
            self.tracks[track.region_id] = track
            self.by_alert[key] = track
        track.members[key] = event
        track.family = event["family"]  # the latest name, as the gateway's fusion does
        self._extend(track, event["lo_khz"], event["hi_khz"], event["first_ns"], event["last_ns"])
        merged = []
        while (other := next((t for t in self.tracks.values()
                              if t is not track and self._joins(track, t)), None)) is not None:
            keep, gone = (track, other) if track.first_ns <= other.first_ns else (other, track)
            for k, e in gone.members.items():
                keep.members[k] = e
                self.by_alert[k] = keep
            self._extend(keep, gone.lo_khz, gone.hi_khz, gone.first_ns, gone.last_ns)
            keep.family = event["family"]
            del self.tracks[gone.region_id]
            merged.append(gone)
            track = keep
        self._forget(track.last_ns)
        return track, merged

    def restore(self, summary: dict, members: dict[str, dict]) -> RegionTrack:
        """A region track as stored before a restart (`RegionTrack.summary`), with the latest
        events of its alerts: it keeps its id, and new tracks are numbered after it."""
        track = RegionTrack(summary["region_id"], summary["family"], summary["lo_khz"],
                            summary["hi_khz"], summary["first_ns"], summary["last_ns"],
                            dict(members))
        self.tracks[track.region_id] = track
        for key in members:
            self.by_alert[key] = track
        self._count = max(self._count, int(track.region_id.rsplit("-", 1)[1]))
        return track

    @staticmethod
    def _extend(track: RegionTrack, lo_khz: int, hi_khz: int, first_ns: int, last_ns: int) -> None:
        track.lo_khz, track.hi_khz = min(track.lo_khz, lo_khz), max(track.hi_khz, hi_khz)
        track.first_ns, track.last_ns = min(track.first_ns, first_ns), max(track.last_ns, last_ns)

    def _joins(self, a: RegionTrack, b: RegionTrack) -> bool:
        return (LINK.get(a.family, a.family) == LINK.get(b.family, b.family)
                and a.lo_khz <= b.hi_khz and b.lo_khz <= a.hi_khz
                and b.first_ns <= a.last_ns + self.handover_ns
                and a.first_ns <= b.last_ns + self.handover_ns
                and self._neighbouring(a.sites, b.sites) and self._near(a, b))

    def _neighbouring(self, ours: list[str], theirs: list[str]) -> bool:
        if self.neighbours is None:
            return True
        return any(s == r or r in self.neighbours.get(s, ()) or s in self.neighbours.get(r, ())
                   for s in ours for r in theirs)

    def _near(self, a: RegionTrack, b: RegionTrack) -> bool:
        here, there = a.position(self.site_positions), b.position(self.site_positions)
        return here is None or there is None or ground_distance_m(here[:2], there[:2]) <= \
            self.max_distance_m + here.radius_m + there.radius_m

    def _forget(self, now_ns: int) -> None:
        old = [t for t in self.tracks.values()
               if not t.active and t.last_ns + self.keep_ns < now_ns]
        for t in old:
            del self.tracks[t.region_id]
            for key in t.members:
                self.by_alert.pop(key, None)
