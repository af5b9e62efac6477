"""Linking an RF track to a Remote ID drone: is the drone an alert is about one that says who it is?

An RF track (gateway/fusion.py) and a Remote ID drone (gateway/remoteid.py) are one drone when all
of these hold (docs/gateway.md, "Identified and unidentified alerts"):
- time: the drone was heard within `link_window_s` of the track's last observation;
- trust: its claims are plausible (a flagged drone identifies nothing: a spoofer must not make an
  unknown drone look known);
- reception: if nodes heard its broadcast, the one that heard it strongest (the nearest to it)
  also sees the RF track (one drone's Bluetooth and its video or control link are one place);
- band and power: the claimed position explains the powers the nodes measured with one
  transmitter. At each node that sees the track and has a position (`[nodes.<id>]`), the
  power measured plus the free-space loss from the claimed position (through the air, with the
  claimed altitude) at the centre of the track's band is the transmitter power (EIRP) the claim
  implies. These agree within `link_spread_db` (one transmitter: the differences between nodes
  depend only on where it is, not on its power) and lie within `rf_min_eirp_dbm` ..
  `rf_max_eirp_dbm` widened by `rssi_margin_db` (what drones' video and control transmitters
  send). A video strong at node 2 and weak at node 1 is not the drone claiming to stand next to
  node 1. A control link's transmitter is mostly the pilot's handset: for it, the claim is the
  operator's position. At least `link_min_nodes` such nodes must see the track: one node's power
  alone fits any claim within a factor of a hundred or so in distance, since the transmitter's
  power is not known.
Of several drones that fit, the one whose claimed transmitter is nearest the track's strongest
node.
A link once made is held while the drone is heard (time, trust, reception); a node that sees
the track anew must agree with it: the EIRP the claim implies there within `link_spread_db` of
the mean of those at the nodes the link was made on, and within the EIRP bounds.
"""
from __future__ import annotations

from .fusion import LINK, Track
from ..locate.geo import ground_distance_m
from .remoteid import RemoteIdTracker, RidDrone, free_space_dbm


def heard(track: Track, drone: RidDrone, rid: RemoteIdTracker) -> bool:
    """Time, trust and reception (the rule's first three parts)."""
    return (not drone.reasons and drone.latitude is not None
            and abs(track.last_ns - drone.last_seen_ns) <= rid.cfg.link_window_s * 1e9
            and (not drone.receivers
                 or max(drone.receivers, key=drone.receivers.get) in track.nodes))


def transmitter(track: Track, drone: RidDrone) -> tuple | None:
    """Where the track's transmitter is if it is this drone's, (latitude, longitude, altitude or
    None): a control link is heard mostly from the pilot's handset, at the operator's position;
    anything else from the drone."""
    if LINK.get(track.family) == "control link":
        if drone.operator_latitude is None:
            return None
        return drone.operator_latitude, drone.operator_longitude, drone.operator_altitude_geo
    return drone.latitude, drone.longitude, drone.altitude_geo


def implied_eirps(track: Track, drone: RidDrone, rid: RemoteIdTracker) -> dict[int, float]:
    """By node that sees the track and has a position: the EIRP at which free space from the
    claim gives what it measured (its mean over the trend window: one reading's fading is
    several dB); {} when the drone claims no position for the track's transmitter."""
    claim = transmitter(track, drone)
    if claim is None:
        return {}
    hz = (track.lo_khz + track.hi_khz) * 500.0  # the band's centre
    return {n: (seen.mean_dbm() if seen.history else seen.dbm)
            - free_space_dbm(0.0, rid.slant_m(n, claim), hz)
            for n, seen in track.nodes.items() if n in rid.nodes}


def plausible_eirp(dbm: float, rid: RemoteIdTracker) -> bool:
    cfg = rid.cfg
    return cfg.rf_min_eirp_dbm - cfg.rssi_margin_db <= dbm <= cfg.rf_max_eirp_dbm + cfg.rssi_margin_db


def fits(track: Track, drone: RidDrone, rid: RemoteIdTracker) -> bool:
    """The whole rule: heard, and band and power."""
    if not heard(track, drone, rid):
        return False
    implied = list(implied_eirps(track, drone, rid).values())
    return (len(implied) >= rid.cfg.link_min_nodes
            and max(implied) - min(implied) <= rid.cfg.link_spread_db
            and plausible_eirp(min(implied), rid) and plausible_eirp(max(implied), rid))


def joined_agree(track: Track, drone: RidDrone, rid: RemoteIdTracker, linked_nodes) -> bool:
    """Whether the nodes that see the track since the link was made on `linked_nodes` agree with
    it: each one's implied EIRP within link_spread_db of the mean of the linked nodes', and
    plausible. (The whole rule again, every pair within link_spread_db, would drop a true link
    whenever one more path's shadowing widens the spread: a true claim seen by three nodes fails
    it about one time in seven, docs/gateway.md; one node against the mean of two, with a third
    of the variance fewer, far less often.)"""
    implied = implied_eirps(track, drone, rid)
    linked = [implied[n] for n in linked_nodes if n in implied]
    if not linked:
        return fits(track, drone, rid)
    mean = sum(linked) / len(linked)
    return all(plausible_eirp(dbm, rid) and abs(dbm - mean) <= rid.cfg.link_spread_db
               for n, dbm in implied.items() if n not in linked_nodes)


class Linker:
    """The links of RF tracks to Remote ID drones. A link is made by the whole rule and then held
    while the drone is heard (the first three parts): a fading reading that widens the spread
    for a moment does not make an identified drone unidentified and back. A node that sees the
    track anew is new evidence, checked against the link (joined_agree): a node whose power
    the claim cannot explain breaks it."""

    def __init__(self, rid: RemoteIdTracker):
        self.rid = rid
        self.linked: dict[str, tuple] = {}  # track id -> (drone key, the track's nodes then)

    def link(self, track: Track) -> RidDrone | None:
        """The Remote ID drone the RF track is, if any."""
        rid = self.rid
        key, nodes = self.linked.get(track.track_id, ("", ()))
        held = rid.drones.get(key)
        if held is not None and heard(track, held, rid) and (
                set(track.nodes) <= set(nodes) or joined_agree(track, held, rid, nodes)):
            self.linked[track.track_id] = (key, tuple(set(nodes) | set(track.nodes)))
            return held
        candidates = [d for d in rid.drones.values() if fits(track, d, rid)]
        if not candidates:
            self.linked.pop(track.track_id, None)
            return None
        strongest = rid.nodes.get(track.strongest()[0])
        best = (max(candidates, key=lambda d: d.last_seen_ns) if strongest is None else
                min(candidates, key=lambda d: ground_distance_m(strongest, transmitter(track, d)[:2])))
        self.linked[track.track_id] = (best.key, tuple(track.nodes))
        return best

    def track_ended(self, track: Track) -> None:
        self.linked.pop(track.track_id, None)


def identity(drone: RidDrone | None) -> dict:
    """An alert event's Remote ID fields (gateway/events.py, AlertEvent) for the linked drone;
    {} when there is none (unidentified)."""
    if drone is None:
        return {}
    return {"uas_id": drone.uas_id or drone.address, "operator_id": drone.operator_id,
            "claimed_latitude": drone.latitude, "claimed_longitude": drone.longitude,
            "operator_latitude": drone.operator_latitude,
            "operator_longitude": drone.operator_longitude}
