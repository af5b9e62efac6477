"""Where an alert's drone is: the per-node received powers of its fused track through the
localiser (straja.locate: a fix with its 95 % ellipse from 3+ nodes, a locus from 2, a range ring
from 1) and, for fixes, a tracker per track; the result is the alert event's position fields
(gateway/events.py, AlertEvent: `position_kind`, `latitude`, `longitude`, `ellipse_m`, `ring_m`).

The node positions are the config's `[nodes.<id>]` (surveyed latitude, longitude, height); the
site's local frame (`SiteMap`, east-north-up metres about the nodes' mean position) is the one
conversion between them and metres: the localiser works in it and the dashboard's map grid is it.

A drone's two links (its video and its control link) are two fused tracks; when the evidence says
they are one drone (`Positioner.partner`: they appeared together, are heard together, and their
per-node power differences are constant across the nodes as one place's are) their powers make
one two-band fix (one transmit power per band), tracked once and reported on both alerts
(`position_with`: the other link's track).

Cost: one solve (at each of three exponents a 48 x 48 grid and a few Levenberg-Marquardt steps,
about 12 ms in all) when an alert is raised, when other nodes see its track, and otherwise at
most once per `update_min_s` per alert while it lasts (gateway/alerts.py), never per sweep.
"""
from __future__ import annotations

import copy

import numpy as np

from ..detect.stats import chi2_quantile
from ..locate import Fix, GeoPoint, LocalFrame, Localiser, Locus, PathLossModel, Ring, Tracker
from ..locate.rss import apollonius_circle
from .detector import is_drone
from .fusion import LINK, Track
from ..locate.geo import ground_distance_m

MOVE_M = 25.0        # a position moved (an alert update) by this much plus MOVE_SHARE of its
MOVE_SHARE = 0.25    # 95 % size: smaller moves are within its uncertainty
NO_POSITION = {"position_kind": "", "latitude": None, "longitude": None, "ellipse_m": None,
               "ring_m": None, "position_with": ""}
# one drone's video and control link: they appear within TOGETHER_S of each other, and their
# per-node power differences (one place: the transmit powers' difference plus two shadowings)
# spread no more than the 99 % quantile of that shadowing allows
TOGETHER_S = 15.0
PAIR_CONFIDENCE = 0.99  # one place's powers pass the pair test this often
PAIR_NODES = 3       # common nodes needed: two leave one difference, no test of a place


class SiteMap:
    """The nodes with surveyed positions in one local frame (east, north, up metres about their
    mean position)."""

    def __init__(self, nodes: dict):
        self.nodes = dict(sorted(nodes.items()))  # node id -> NodeConfig
        points = [GeoPoint(n.latitude, n.longitude, n.height_m) for n in self.nodes.values()]
        self.frame = LocalFrame.about(points) if points else None
        self.enu = {node_id: self.frame.point_to_enu(p) for node_id, p in zip(self.nodes, points)}

    def to_grid(self, latitude: float, longitude: float) -> list[float]:
        """[east, north] metres on the site's grid (the dashboard's map)."""
        east, north, _ = self.frame.to_enu(latitude, longitude, self.frame.origin.hae_m)
        return [round(float(east), 1), round(float(north), 1)]

    def node_grid(self) -> dict[str, list[float]]:
        """Node id (a string) -> [east, north] metres: where the map draws each node."""
        return {str(k): [round(float(v[0]), 1), round(float(v[1]), 1)] for k, v in self.enu.items()}

    def geodetic(self, east_north, up_m: float) -> tuple[float, float]:
        lat, lon, _ = self.frame.to_geodetic([*np.asarray(east_north, float)[:2], up_m])
        return float(lat), float(lon)


class Positioner:
    """The position fields of alert events, from a site's nodes and the solver's model.
    `front_end(node_id, khz)`: the name of the node's front end receiving khz (for its gain
    offset, `[nodes.<id>] gain_db`), or None."""

    def __init__(self, site: SiteMap, model: PathLossModel | None = None,
                 recent_s: float = 6.0, front_end=lambda node_id, khz: None,
                 tracks=lambda: ()):
        self.site = site
        self.ids = list(site.enu)
        self.localiser = (Localiser(np.array([site.enu[i] for i in self.ids]), model)
                          if self.ids else None)
        self.recent_ns = int(recent_s * 1e9)
        self.front_end = front_end
        self.tracks = tracks  # the fused tracks now (a drone's other link is among them)
        # by track id, or by the two track ids "T1+T2" of a drone's two-band fixes
        self.trackers: dict[str, Tracker] = {}
        # pairs of tracks whose powers once did not fit one place: never joined after (one
        # drone's links keep fitting; two drones that once looked alike drift apart)
        self.refused: set[frozenset] = set()

    def powers(self, track: Track) -> tuple[list[int], list[float]]:
        """(localiser node indices, dBm) of the nodes with positions that saw the track within
        `recent_s` of its last observation: their mean power over the trend window (fading
        averaged), plus each front end's gain offset."""
        centre_khz = (track.lo_khz + track.hi_khz) // 2
        index, dbm = [], []
        for node_id, seen in sorted(track.nodes.items()):
            cfg = self.site.nodes.get(node_id)
            if cfg is None or seen.last_ns < track.last_ns - self.recent_ns:
                continue
            offset = cfg.gain_db.get(self.front_end(node_id, centre_khz), 0.0)
            index.append(self.ids.index(node_id))
            dbm.append((seen.mean_dbm() if seen.history else seen.dbm) - offset)
        return index, dbm

    def power_mismatch(self, powers, other_powers) -> float | None:
        """How far two tracks' per-node powers are from one place, as a share of what one
        place allows: 1 at its 99 % quantile. At one place the difference of the two
        links' powers at node i is the difference of their transmit powers plus the two bands'
        shadowings, the same at every node within sqrt(2) s_w (s_w the part of a node's
        shadowing its bands do not share: the site's estimate); two places add 10 n log10 of
        the ratio of their distances, which differs from node to node. None with fewer than
        PAIR_NODES nodes in common."""
        mine, theirs = dict(zip(*powers)), dict(zip(*other_powers))
        common = sorted(set(mine) & set(theirs))
        if len(common) < PAIR_NODES:
            return None
        diff = np.array([mine[i] - theirs[i] for i in common])
        spread2 = 2 * self.localiser.spread.within_sigma_db ** 2
        statistic = float(((diff - diff.mean()) ** 2).sum()) / spread2  # chi2, len - 1 dof
        return statistic / chi2_quantile(len(common) - 1, PAIR_CONFIDENCE)

    def _best_partner(self, track: Track, powers) -> tuple[float, Track] | None:
        """(mismatch, track) of the likeliest other link of the same drone, or None: a drone
        track of the other link (video or control) that appeared within TOGETHER_S of it, is
        heard with it (seen within `recent_s` of each other) and whose powers fit one place, now
        and at every check before (a pair that failed one is refused for good)."""
        link = LINK.get(track.family)
        if link is None:
            return None
        best = None
        for other in self.tracks():
            pair = frozenset((track.track_id, other.track_id))
            if (other is track or not is_drone(other.family) or pair in self.refused
                    or LINK.get(other.family, link) == link
                    or abs(other.first_ns - track.first_ns) > TOGETHER_S * 1e9
                    or abs(other.last_ns - track.last_ns) > self.recent_ns):
                continue
            mismatch = self.power_mismatch(powers, self.powers(other))
            if mismatch is not None and mismatch > 1:
                self.refused.add(pair)
            elif mismatch is not None and (best is None or mismatch < best[0]):
                best = (mismatch, other)
        return best

    def partner(self, track: Track, powers=None) -> Track | None:
        """The fused track of the same drone's other link, or None: each the other's likeliest
        (a link never joins two drones' tracks, nor one drone's with a second's)."""
        powers = self.powers(track) if powers is None else powers
        found = self._best_partner(track, powers)
        if found is None:
            return None
        back = self._best_partner(found[1], self.powers(found[1]))
        return found[1] if back is not None and back[1] is track else None

    def _tracker(self, track: Track, other: Track | None) -> tuple[Tracker, str]:
        """(the tracker of the track's fixes, the other link's track id or ""): a two-band fix
        has the pair's, which starts from the track's own track so far."""
        if other is None:
            return self.trackers.setdefault(track.track_id, Tracker()), ""
        key = "+".join(sorted((track.track_id, other.track_id)))
        if key not in self.trackers:
            own = self.trackers.get(track.track_id)
            self.trackers[key] = copy.deepcopy(own) if own is not None else Tracker()
        return self.trackers[key], other.track_id

    def locate(self, track: Track, t_ns: int) -> dict:
        """The alert event's position fields now ("" kind when no node with a position saw it);
        a two-band fix with the drone's other link when `partner` finds it."""
        index, dbm = self.powers(track)
        if not index:
            return dict(NO_POSITION)
        freq_hz = (track.lo_khz + track.hi_khz) * 500.0
        other = self.partner(track, (index, dbm)) if len(index) >= PAIR_NODES else None
        bands, freqs = [track.track_id] * len(index), [freq_hz] * len(index)
        if other is not None:  # each link its own band: its own transmitter
            other_index, other_dbm = self.powers(other)
            index, dbm = index + other_index, dbm + other_dbm
            bands += [other.track_id] * len(other_index)
            freqs += [(other.lo_khz + other.hi_khz) * 500.0] * len(other_index)
        found = self.localiser.locate(index, dbm, freqs, bands)
        if isinstance(found, Fix):
            tracker, with_id = self._tracker(track, other)
            tracker.update(t_ns / 1e9, found)
            lat, lon = self.site.geodetic(tracker.east_north, found.up_m)
            return {**NO_POSITION, "position_kind": "fix", "latitude": lat, "longitude": lon,
                    "ellipse_m": tuple(round(v, 1) for v in tracker.ellipse),
                    "position_with": with_id}
        if isinstance(found, Locus):
            band = locus_band(found)
            if band is not None:
                centre, ring = band
                lat, lon = self.site.geodetic(centre, found.up_m)
                return {**NO_POSITION, "position_kind": "locus", "latitude": lat,
                        "longitude": lon, "ring_m": ring}
            # near-equal powers: the locus is almost a straight line, no useful circle; the
            # stronger node's range ring says what is known
            strongest = int(np.argmax(dbm))
            found = self.localiser.locate([index[strongest]], [dbm[strongest]], freqs[strongest])
        return self._ring(found)

    def _ring(self, ring: Ring) -> dict:
        """A ring's fields; its outer radius at most the model's `max_range_m`, the distance the
        solver searches too (a weak signal at the steepest exponent allowed would put it tens of
        kilometres out, beyond what the bands are heard at)."""
        lat, lon = self.site.geodetic(ring.node, ring.up_m)
        far = self.localiser.model.max_range_m
        inner, outer = (min(r, far) for r in ring.range_m)
        return {**NO_POSITION, "position_kind": "ring", "latitude": lat, "longitude": lon,
                "ring_m": (round(inner, 1), round(outer, 1))}

    def track_ended(self, track: Track) -> None:
        """Forget its tracker and those of its two-band fixes."""
        for key in [k for k in self.trackers if track.track_id in k.split("+")]:
            del self.trackers[key]
        self.refused = {pair for pair in self.refused if track.track_id not in pair}

    def claim_check(self, position: dict, identity: dict) -> str:
        """For an identified alert with an RF fix: how far the fix is from where the drone says
        it is, and whether the claim lies in the fix's 95 % ellipse (a check of both: the claim
        is unauthenticated, the fix coarse); "" otherwise. Part of the alert's text."""
        if position.get("position_kind") != "fix" or identity.get("claimed_latitude") is None:
            return ""
        claim = (identity["claimed_latitude"], identity["claimed_longitude"])
        fix = self.site.frame.to_enu(position["latitude"], position["longitude"])
        said = self.site.frame.to_enu(*claim)
        inside = covers(position, (said - fix)[:2])
        return (f"RF fix {ground_distance_m((position['latitude'], position['longitude']), claim):.0f} m "
                f"from its Remote ID position ({'inside' if inside else 'OUTSIDE'} the fix's 95 % "
                "ellipse)")


def locus_band(locus: Locus, max_radius_m: float = 20_000.0):
    """(centre east-north, (inner, outer) m): an annulus about the measured ratio's Apollonius
    circle's centre holding the circles of the ratio band's ends (so the 95 % band of the locus);
    None when a circle of the band is a line or wider than max_radius_m (equal powers)."""
    circles = [apollonius_circle(locus.nodes, locus.up_m, r)
               for r in (locus.ratio, *locus.ratio_band)]
    if any(c is None or c[1] > max_radius_m for c in circles):
        return None
    centre = circles[0][0]
    offsets = [float(np.linalg.norm(c - centre)) for c, _ in circles[1:]]
    inner = max(0.0, min(r - off for (_, r), off in zip(circles[1:], offsets)))
    outer = max(r + off for (_, r), off in zip(circles[1:], offsets))
    return centre, (round(inner, 1), round(outer, 1))


def size_m(position: dict) -> float:
    """The 95 % extent of a position: the ellipse's semi-major axis, or the band's width."""
    if position["ellipse_m"] is not None:
        return position["ellipse_m"][0]
    if position["ring_m"] is not None:
        return position["ring_m"][1] - position["ring_m"][0]
    return 0.0


def moved(old: dict, new: dict) -> bool:
    """Whether a new position is worth an alert update: another kind, joined with another link
    or no longer, or a move or change of size beyond MOVE_M + MOVE_SHARE of its size."""
    if old.get("position_kind", "") != new["position_kind"] or \
            old.get("position_with", "") != new.get("position_with", ""):
        return True
    if not new["position_kind"]:
        return False
    shift = ground_distance_m((old["latitude"], old["longitude"]), (new["latitude"], new["longitude"]))
    limit = MOVE_M + MOVE_SHARE * size_m(old)
    return shift > limit or abs(size_m(new) - size_m(old)) > limit


def position_text(event: dict) -> str:
    """An event's position in words (an alert's RF position, a node's surveyed one), or ""."""
    kind = event.get("position_kind")
    if kind == "fix":
        major, minor, azimuth = event["ellipse_m"]
        bands = (f", two bands with track {event['position_with']}"
                 if event.get("position_with") else "")
        return (f"RF fix {event['latitude']:.6f}, {event['longitude']:.6f} (95 %: {major:.0f} x "
                f"{minor:.0f} m ellipse, major axis {azimuth:.0f} deg from north{bands})")
    if kind in ("locus", "ring"):
        centre = "a node" if kind == "ring" else "a point"
        return (f"RF {kind}: {event['ring_m'][0]:.0f}-{event['ring_m'][1]:.0f} m from {centre} "
                f"at {event['latitude']:.6f}, {event['longitude']:.6f} (95 %)")
    if event.get("kind") == "node_stats" and event.get("latitude") is not None:
        return (f"at {event['latitude']:.6f}, {event['longitude']:.6f}, "
                f"{event['height_m']:.1f} m")
    return ""


def covers(position: dict, offset_en) -> bool:
    """Whether a point `offset_en` (east, north metres from the position's point) is inside its
    95 % region: the fix's ellipse, or the locus's or ring's band of distances."""
    east, north = float(offset_en[0]), float(offset_en[1])
    if position["position_kind"] == "fix":
        major, minor, azimuth = position["ellipse_m"]
        az = np.radians(azimuth)
        along = east * np.sin(az) + north * np.cos(az)
        across = east * np.cos(az) - north * np.sin(az)
        return (along / max(major, 1e-9)) ** 2 + (across / max(minor, 1e-9)) ** 2 <= 1.0
    if position["position_kind"] in ("locus", "ring"):
        inner, outer = position["ring_m"]
        return inner <= float(np.hypot(east, north)) <= outer
    return False
