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
  implies. One transmitter's implied EIRPs differ only by each path's shadowing, so their
  squared deviations from their mean, over one path's spread squared, are chi-square with one
  degree of freedom fewer than nodes: they must lie within its LINK_CONFIDENCE quantile. The
  spread is the one at which two nodes' EIRPs differ by at most `link_spread_db` with that
  confidence, so two nodes are held to exactly `link_spread_db`, and each node more tightens
  the test against a wrong claim without rejecting a true one more often (a bound on the range,
  max - min, rejected a true claim one time in seventeen at two nodes and one in seven at three:
  more evidence made a link rarer and later). The EIRPs also lie within `rf_min_eirp_dbm` ..
  `rf_max_eirp_dbm` widened by `rssi_margin_db` (what drones' video and control transmitters
  send). A video strong at node 2 and weak at node 1 is not the drone claiming to stand next to
  node 1. At least `link_min_nodes` such nodes must see the track: one node's power alone fits
  any claim within a factor of a hundred or so in distance, since the transmitter's power is not
  known.
- a control link's transmitter is mostly the pilot's handset, on the ground, at the operator's
  claimed position: nothing ties it to the drone's own broadcast, and other people stand near
  the operator (another pilot, a spectator with a handset). So its powers must also resolve the
  claim: no place `link_operator_m` or more from the claimed operator explains them as well
  (the same test at rings of places around it). Two nodes' powers fix a curve, not a point, so
  they almost never do: the handset of a pilot 250 m from another drone's operator fits the same
  two powers.
Of several drones that fit, the one whose claimed transmitter is nearest the track's strongest
node.
A link once made is held while the drone is heard (time, trust, reception); a node that sees
the track anew must agree with it: the EIRP the claim implies there within `link_spread_db` of
the mean of those at the nodes the link was made on, and within the EIRP bounds.
"""
from __future__ import annotations

import math
import numpy as np

from .fusion import LINK, Track
from ..detect.stats import chi2_quantile
from ..locate.geo import GeoPoint, LocalFrame, ground_distance_m
from .remoteid import SPEED_OF_LIGHT_MPS, RemoteIdTracker, RidDrone, free_space_dbm

LINK_CONFIDENCE = 0.95  # a true claim's powers pass the test this often, at any number of nodes
# the places a control link's powers must rule out: rings from link_operator_m out, each
# RING_RATIO times the last, to RINGS_TO_M (beyond it no plausible handset reaches the nodes),
# RING_PLACES a ring (a fifth of the radius apart: the region a set of powers allows widens as
# its distance, so a ring never steps over it)
RING_RATIO = 1.25
RINGS_TO_M = 10_000.0
RING_PLACES = 32


def one_transmitter(eirps, rid: RemoteIdTracker) -> np.ndarray:
    """Whether each row of implied EIRPs (dBm, one column a node) is one plausible transmitter's:
    their squared deviations from their mean within the chi-square bound, and every one within
    the EIRP bounds."""
    eirps = np.atleast_2d(np.asarray(eirps, float))
    cfg = rid.cfg
    nodes = eirps.shape[1]
    if nodes < 2:
        return np.zeros(len(eirps), bool)
    # one path's spread: two nodes' difference (sqrt 2 spreads) is within link_spread_db at
    # LINK_CONFIDENCE
    path_db2 = cfg.link_spread_db ** 2 / (2 * chi2_quantile(1, LINK_CONFIDENCE))
    squares = ((eirps - eirps.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    return ((squares <= path_db2 * chi2_quantile(nodes - 1, LINK_CONFIDENCE))
            & plausible_eirp(eirps, rid).all(axis=1))


def plausible_eirp(dbm, rid: RemoteIdTracker):
    """Whether an implied EIRP (or each of an array's) is one a drone's video or control
    transmitter sends, widened by the margin for antennas and fading."""
    cfg = rid.cfg
    return ((cfg.rf_min_eirp_dbm - cfg.rssi_margin_db <= dbm)
            & (dbm <= cfg.rf_max_eirp_dbm + cfg.rssi_margin_db))


def heard(track: Track, drone: RidDrone, rid: RemoteIdTracker) -> bool:
    """Time, trust and reception (the rule's first three parts)."""
    return (not drone.reasons and drone.latitude is not None
            and abs(track.last_ns - drone.last_seen_ns) <= rid.cfg.link_window_s * 1e9
            and (not drone.receivers
                 or max(drone.receivers, key=drone.receivers.get) in track.nodes))


def is_control(track: Track) -> bool:
    return LINK.get(track.family) == "control link"


def transmitter(track: Track, drone: RidDrone) -> tuple | None:
    """Where the track's transmitter is if it is this drone's, (latitude, longitude, altitude or
    None): a control link is heard mostly from the pilot's handset, at the operator's position;
    anything else from the drone."""
    if is_control(track):
        if drone.operator_latitude is None:
            return None
        return drone.operator_latitude, drone.operator_longitude, drone.operator_altitude_geo
    return drone.latitude, drone.longitude, drone.altitude_geo


def measured_dbm(track: Track, rid: RemoteIdTracker) -> dict[int, float]:
    """By node that sees the track and has a position: its power, the mean over the trend
    window (one reading's fading is several dB)."""
    return {n: seen.mean_dbm() if seen.history else seen.dbm
            for n, seen in track.nodes.items() if n in rid.nodes}


def centre_hz(track: Track) -> float:
    return (track.lo_khz + track.hi_khz) * 500.0


def implied_eirps(track: Track, drone: RidDrone, rid: RemoteIdTracker) -> dict[int, float]:
    """By node that sees the track and has a position: the EIRP at which free space from the
    claim gives what it measured; {} when the drone claims no position for the track's
    transmitter."""
    claim = transmitter(track, drone)
    if claim is None:
        return {}
    hz = centre_hz(track)
    return {n: dbm - free_space_dbm(0.0, rid.slant_m(n, claim), hz)
            for n, dbm in measured_dbm(track, rid).items()}




def resolved(track: Track, claim: tuple, rid: RemoteIdTracker) -> bool:
    """Whether the track's powers rule out every place `link_operator_m` or more from the claim
    (latitude, longitude, altitude or None): none of the rings of places about it passes the
    test the claim passes, so the transmitter is within `link_operator_m` of it."""
    dbm = measured_dbm(track, rid)
    frame = LocalFrame(GeoPoint(claim[0], claim[1]))
    nodes = frame.to_enu(*np.array([rid.nodes[n] for n in dbm]).T)[:, :2]
    heights = np.array([rid.heights_m[n] for n in dbm])
    rings = int(math.log(RINGS_TO_M / rid.cfg.link_operator_m) / math.log(RING_RATIO)) + 1
    radii = rid.cfg.link_operator_m * RING_RATIO ** np.arange(rings)
    angles = np.arange(RING_PLACES) * 2 * math.pi / RING_PLACES
    places = (radii[:, None, None] * np.stack([np.sin(angles), np.cos(angles)], -1)).reshape(-1, 2)
    ground = np.linalg.norm(places[:, None, :] - nodes[None, :, :], axis=-1)
    slant = ground if claim[2] is None else np.hypot(ground, claim[2] - heights)
    loss = 20 * np.log10(4 * math.pi * np.maximum(slant, 1.0) * centre_hz(track) / SPEED_OF_LIGHT_MPS)
    return not one_transmitter(np.array(list(dbm.values())) + loss, rid).any()


def fits(track: Track, drone: RidDrone, rid: RemoteIdTracker) -> bool:
    """The whole rule: heard, band and power, and for a control link a resolved claim."""
    if not heard(track, drone, rid):
        return False
    implied = list(implied_eirps(track, drone, rid).values())
    return (len(implied) >= rid.cfg.link_min_nodes and bool(one_transmitter(implied, rid)[0])
            and (not is_control(track) or resolved(track, transmitter(track, drone), rid)))


def joined_agree(track: Track, drone: RidDrone, rid: RemoteIdTracker, linked_nodes) -> bool:
    """Whether the nodes that see the track since the link was made on `linked_nodes` agree with
    it: each one's implied EIRP within link_spread_db of the mean of the linked nodes', and
    plausible. (The whole rule again would drop a true link one time in twenty at each node
    that joins, whenever one more path's shadowing pushes the deviations over the bound; one node
    against the mean of two, within link_spread_db, far less often.)"""
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
