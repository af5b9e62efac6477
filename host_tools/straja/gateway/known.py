"""Known emitters: a site's fixed transmitters (a baby monitor's or a yard camera's analog video,
a fixed link) that would otherwise alert forever.

They are learned by a survey (`straja gateway --survey S`: every drone-class track on the air
for at least SURVEY_MIN_FRACTION of the survey) or from an operator's acknowledgement of an
alert as known (`straja known add ALERT`, the dashboard's acknowledgement with `known`), and
kept in the store (the known_emitters table, from known_added and known_removed events).

A drone track that matches a known emitter raises no alert; one that stops matching does, since
a change in a fixed emitter is what a site must see. A track matches when
- its class (link family) is one the known emitter was given: a hopper, or a drone's OFDM video,
  on a known analog camera's channel is another class (a survey learns every name the core gave
  the emitter: a wide or merged video signal may be named analog and OFDM in turn);
- it lies within the known band widened by FREQ_MARGIN_KHZ each side: a known emitter that moves
  to another channel (video plans space them 20-37 MHz apart) no longer matches;
- every node that saw it lately (within the trend window) saw the known emitter, at a mean power
  over that window at most POWER_DB over the highest such mean it was learned with: a drone on a
  known camera's channel is seen by other nodes, or much stronger than the camera where it flies.
  Weaker is no change: the fixed emitter still transmits, so anything new on its channel adds
  power; a drop is the fixed emitter fading (merged cameras trading places in one track, a slow
  shadowing change) or switched off.
Limit: fusion joins what overlaps, so a drone's video on a known camera's very channel, as weak
as the camera at every node that sees the camera and unseen by the others, is not told apart.
"""
from __future__ import annotations

from dataclasses import dataclass

from .events import KnownAdded, KnownNode
from .fusion import Track

# A video channel is 20 MHz wide and a scanner's step (an RX5808's filter) 20 MHz: a fixed
# emitter's measured extent moves by up to half a step between looks; the next channel of any
# 5.8 GHz plan is at least 20 MHz away, so moving there leaves the margin.
FREQ_MARGIN_KHZ = 10_000
# A fixed emitter's mean power over the trend window stays within the range it spans while it is
# learned, give or take the fading of the window's few readings (a few dB); a drone at 1/3 of
# the camera's distance with the same EIRP is ~10 dB stronger: free space,
# 20 log10 3 = 9.5 dB. An operator's acknowledgement gives one reading: the range is that reading.
POWER_DB = 10.0
# A survey learns only what was on the air this fraction of it: not a drone passing by.
SURVEY_MIN_FRACTION = 0.5


@dataclass(frozen=True)
class KnownEmitter:
    known_id: int
    families: tuple
    lo_khz: int
    hi_khz: int
    dbm: dict           # node id -> (lowest, highest) received power
    source: str         # "survey" or "alert <id>"


def matches(known: KnownEmitter, track: Track, window_ns: int) -> bool:
    """Whether the track is the known emitter as it was learned (its nodes seen within
    window_ns of the track's last observation count)."""
    if track.family not in known.families or track.lo_khz < known.lo_khz - FREQ_MARGIN_KHZ \
            or track.hi_khz > known.hi_khz + FREQ_MARGIN_KHZ:
        return False
    recent = {n: s for n, s in track.nodes.items() if s.last_ns >= track.last_ns - window_ns}
    return bool(recent) and all(n in known.dbm and s.mean_dbm() <= known.dbm[n][1] + POWER_DB
                                for n, s in recent.items())


def same_place(known: KnownEmitter, track: Track, window_ns: int) -> bool:
    """Whether the track's nodes hear it as they heard the known emitter relative to each other:
    for every two nodes that saw both lately, the track's mean at one minus its mean at the other
    at most POWER_DB over the most the known emitter's ranges allow (the highest at the one
    minus the lowest at the other). A level difference between nodes is where an emitter is
    (its power and its distance from all of them cancel out: the localiser's power ratios); a
    drone 45 m from another node, on the channel a quad 45 m from node 1 left, is 13 dB stronger
    there than at node 1 where the quad was 22 dB weaker, though at each node alone within
    POWER_DB of the quad's range."""
    recent = [(n, s.mean_dbm()) for n, s in track.nodes.items()
              if n in known.dbm and s.last_ns >= track.last_ns - window_ns and s.history]
    return all(dbm - other <= known.dbm[n][1] - known.dbm[m][0] + POWER_DB
               for n, dbm in recent for m, other in recent if m != n)


def _ranges(track: Track) -> tuple:
    """Every node's range of mean power (its one reading's if it had too few for a mean)."""
    return tuple(KnownNode(n, round(s.lo_dbm, 1), round(s.hi_dbm, 1)) if s.lo_dbm <= s.hi_dbm
                 else KnownNode(n, s.dbm, s.dbm) for n, s in sorted(track.nodes.items()))


def added_event(track: Track, t_ns: int, source: str, by: str) -> KnownAdded:
    """The known_added event that learns a track's emitter: its names, extent, every node's
    range of mean power."""
    return KnownAdded(t_ns, tuple(sorted(track.families)), track.lo_khz, track.hi_khz,
                      _ranges(track), source, by)


def as_known(track: Track, source: str) -> KnownEmitter:
    """A track's emitter as a known emitter (not stored): what a later track must match to be
    the same emitter (gateway/alerts.py, an alert reopened)."""
    return KnownEmitter(0, tuple(sorted(track.families)), track.lo_khz, track.hi_khz,
                        {n.node_id: (n.lo_dbm, n.hi_dbm) for n in _ranges(track)}, source)


def added_from_alert(alert: dict, t_ns: int, by: str) -> KnownAdded:
    """The known_added event that learns a stored alert's emitter (its latest event's JSON),
    each node at its latest power."""
    nodes = tuple(KnownNode(n["node_id"], n["dbm"], n["dbm"]) for n in alert["nodes"])
    return KnownAdded(t_ns, (alert["family"],), alert["lo_khz"], alert["hi_khz"], nodes,
                      f"alert {alert['alert_id']}", by)


class KnownEmitters:
    """The known emitters the alerts are checked against (replaced when the store's change)."""

    def __init__(self, emitters=(), window_ns: int = 0):
        self.emitters = list(emitters)
        self.window_ns = window_ns

    def match(self, track: Track) -> KnownEmitter | None:
        return next((k for k in self.emitters if matches(k, track, self.window_ns)), None)
