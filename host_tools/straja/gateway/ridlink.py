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
A link once made is held while the drone is heard (time, trust, reception) and no other node
sees the track.
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


def fits(track: Track, drone: RidDrone, rid: RemoteIdTracker) -> bool:
    """The whole rule: heard, and band and power."""
    if not heard(track, drone, rid):
        return False
    cfg = rid.cfg
    hz = (track.lo_khz + track.hi_khz) * 500.0  # the band's centre
    claim = transmitter(track, drone)
    if claim is None:
        return False
    # the EIRP at which free space from the claim gives what each node measured (its mean over
    # the trend window: one reading's fading is several dB)
    implied = [(seen.mean_dbm() if seen.history else seen.dbm)
               - free_space_dbm(0.0, rid.slant_m(n, claim), hz)
               for n, seen in track.nodes.items() if n in rid.nodes]
    return len(implied) >= cfg.link_min_nodes and (
        max(implied) - min(implied) <= cfg.link_spread_db
        and cfg.rf_min_eirp_dbm - cfg.rssi_margin_db <= min(implied)
        and max(implied) <= cfg.rf_max_eirp_dbm + cfg.rssi_margin_db)


class Linker:
    """The links of RF tracks to Remote ID drones. A link is made by the whole rule and then held
    while the drone is heard (the first three parts) and no other node sees the track: a fading
    reading that widens the spread for a moment does not make an identified drone unidentified
    and back, but a node that sees the track anew is new evidence, checked by the whole rule."""

    def __init__(self, rid: RemoteIdTracker):
        self.rid = rid
        self.linked: dict[str, tuple] = {}  # track id -> (drone key, the track's nodes then)

    def link(self, track: Track) -> RidDrone | None:
        """The Remote ID drone the RF track is, if any."""
        rid = self.rid
        key, nodes = self.linked.get(track.track_id, ("", ()))
        held = rid.drones.get(key)
        if held is not None and heard(track, held, rid) and set(track.nodes) <= set(nodes):
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
