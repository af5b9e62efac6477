"""Fusion: observations from several nodes that are one emitter become one track.

Two observations are the same emitter when they are of the same link (video, or a hopping control
link: the core may rename an emitter's family within one as the evidence grows, e.g. Crossfire
among US915 devices first named LoRa then GFSK; a control link's track is named by the family told
in the largest share of each node's sweeps, Track.told), overlap in frequency (more than an edge:
adjacent video channels meet at one, but a one-channel video run meeting a one-channel track there
is one carrier between two scan channels, _straddled; a hopper's extent is the span of channels it
was seen on; one that overlaps several tracks, a run merging two emitters' channels, joins the one
it shares most with and widens none; a video run its node read beside another in one sweep does not
join the other's track: _side_by_side), and the emitter was seen (again) within the track's hold of
its last observation: a drone that pauses for less than the hold stays one track, and so one alert.
"Seen again" is the first burst of the node core's track (`Observation.since_ns`), not the
observation, which comes only when the core has confirmed it a few sweeps later: so a track ends
`confirm_wait_s` after its hold, and a pause of up to the hold never splits a presence. The hold is
`track_timeout_s`, or for a track observed rarely (a far control link whose hits the scanners catch
every few seconds) HOLD_GAPS of its own median gap between observations, up to
`track_timeout_max_s`. For observations at random times a median gap is ln 2 of the mean, so 10 of
them are 6.9 mean gaps, a silence that comes once in e^6.9 ~ 1 000 gaps of a link still there,
where the fixed timeout split such a link's presence every minute or two; the median, not the mean,
so that one long silence (a drone that paused) does not lengthen the hold of a track observed often
(docs/gateway.md). A track keeps each node's received power over time, which gives the signal
trend; a held observation (a drone name the node's core no longer gives, held for a flicker:
detector._Naming) keeps its node seeing the track, no power.
"""
from __future__ import annotations

import bisect
import collections
import math
import operator
import statistics
from dataclasses import dataclass, field

from .config import FusionConfig
from .detector import Observation
from .events import TrackNode

APPROACHING, LEAVING, STEADY = "approaching", "leaving", "steady"
_DBM = operator.itemgetter(1)  # a history entry's power (summed in C, in the same order)
LINK = {"analog_fm_video": "video", "ofdm_video": "video", "lora_fhss": "control link",
        "gfsk_fhss": "control link"}
HOLD_GAPS = 10.0          # a track's hold in its median gaps between observations (above)
GAPS_KEPT = 8             # the median over its last this many gaps
GAPS_BEFORE_HOLD = 3      # the fixed timeout until it has this many
MOMENT_NS = 500_000_000   # observations this close are one moment (several nodes, one sweep)
VIDEO_CHANNEL_KHZ = 20_000  # a video channel's width, and the RX5808's filter and step (_straddled)


def told_share(track: Track, family: str) -> float:
    """The nodes' shares of their sweeps that told a control link `family`, summed."""
    return sum(told[family] / sum(told.values()) for told in track.told.values())


def _first_ns(obs) -> int:
    """The earliest reading an observation stands for (a band report: its window's first event)."""
    return obs.t_ns if obs.first_ns is None else min(obs.first_ns, obs.t_ns)


def _overlap(lo: int, hi: int, lo2: int, hi2: int) -> bool:
    """Whether two extents share more than an edge (or a point lies in the other): video on
    adjacent channels read at a channel-wide step (R1 and R2, 20 MHz bins) meet at a bin edge
    and are two emitters."""
    if lo == hi or lo2 == hi2:
        return lo <= hi2 and lo2 <= hi
    return lo < hi2 and lo2 < hi


@dataclass
class NodeSeen:
    first_ns: int
    last_ns: int
    dbm: float
    history: collections.deque = field(default_factory=collections.deque)  # (t_ns, dbm)
    # the range of its mean power over the trend window (once it has 4 readings), which a
    # known emitter keeps (gateway/known.py)
    lo_dbm: float = math.inf
    hi_dbm: float = -math.inf
    # trend_db() as of the last observation, kept by Fusion._add (which alone changes the
    # history): a track's trend reads every node's at each observation
    last_trend_db: float = 0.0
    # the extent of its latest observation (_side_by_side)
    lo_khz: int = 0
    hi_khz: int = 0

    def saw(self, obs: Observation) -> None:
        """An observation of its node: when it was last seen, and where (_side_by_side)."""
        self.last_ns = max(self.last_ns, obs.t_ns)
        self.lo_khz, self.hi_khz = obs.lo_khz, obs.hi_khz

    def mean_dbm(self) -> float:
        return sum(map(_DBM, self.history)) / len(self.history)

    def trend_db(self) -> float:
        """Mean power of the newer half of the window minus that of the older half."""
        return _trend_db(list(map(_DBM, self.history)))


def _trend_db(powers: list[float]) -> float:
    """NodeSeen.trend_db() of a history's powers, oldest first."""
    if len(powers) < 4:
        return 0.0
    half = len(powers) // 2
    return sum(powers[half:]) / (len(powers) - half) - sum(powers[:half]) / half


@dataclass
class Kept:
    """A track's aggregates over its nodes, kept by Fusion._add as each observation changes one
    node, so that an observation's alert update reads them instead of walking every node
    hearing it."""
    trend_db: float        # the fusion's threshold of a node's rise (fall)
    node_ids: tuple = ()   # sorted
    rising: int = 0        # nodes whose last_trend_db >= trend_db
    falling: int = 0       # nodes whose last_trend_db <= -trend_db
    strongest: int = 0     # the node of the highest dbm (the lowest id of equals)


@dataclass
class Track:
    track_id: str
    family: str
    lo_khz: int
    hi_khz: int
    first_ns: int
    last_ns: int
    hits: int = 0
    nodes: dict[int, NodeSeen] = field(default_factory=dict)
    families: set[str] = field(default_factory=set)  # every name the core (or named) gave it
    # a control link's observations per node and family (held ones not: the classifier did
    # not vouch for them); its family is the one told in the largest share of a node's
    # sweeps, summed over its nodes, kept on a tie (Fusion._add, told_share)
    told: dict[int, collections.Counter] = field(default_factory=dict)
    # a family told by a finer test than the core's (a video profile, gateway/profiling.py):
    # kept whatever later observations are named
    named: str = ""
    # kept by the Fusion that made the track; a track made otherwise (by hand) has none, and
    # its aggregates are worked out from its nodes when asked
    kept: Kept | None = field(default=None, repr=False, compare=False)
    # how long a silence it is held through (Fusion: its timeout, longer if observed rarely),
    # the start of its latest moment of observations and the gaps between its last moments
    hold_ns: int = 0
    moment_ns: int = 0
    gaps: collections.deque = field(default_factory=lambda: collections.deque(maxlen=GAPS_KEPT),
                                    repr=False, compare=False)
    # made or joined by a band report (Observation.band_rate): its band's later reports join it
    band_rate: bool = False

    @property
    def node_ids(self) -> tuple:
        """The ids of the nodes that saw it, sorted."""
        return self.kept.node_ids if self.kept else tuple(sorted(self.nodes))

    def strongest(self) -> tuple[int, float]:
        node = (self.kept.strongest if self.kept else
                max(self.nodes, key=lambda n: (self.nodes[n].dbm, -n)))
        return node, self.nodes[node].dbm

    def trend(self, threshold_db: float) -> str:
        """approaching if the nodes' power rises by threshold_db (more rise than fall), etc."""
        if self.kept and threshold_db == self.kept.trend_db:
            rise, fall = self.kept.rising, self.kept.falling
        else:
            rise = sum(seen.last_trend_db >= threshold_db for seen in self.nodes.values())
            fall = sum(seen.last_trend_db <= -threshold_db for seen in self.nodes.values())
        return APPROACHING if rise > fall else LEAVING if fall > rise else STEADY

    def summary(self) -> dict:
        """The track's fields of a `TrackEvent` (and so of an `AlertEvent`)."""
        return {"track_id": self.track_id, "family": self.family, "lo_khz": self.lo_khz,
                "hi_khz": self.hi_khz, "first_ns": self.first_ns, "last_ns": self.last_ns,
                "hits": self.hits,
                "nodes": tuple(TrackNode(n, self.nodes[n].dbm, self.nodes[n].first_ns,
                                         self.nodes[n].last_ns) for n in self.node_ids)}


def _side_by_side(track: Track, obs: Observation) -> bool:
    """Whether `obs` is another emitter beside `track` at its node: that node gave the track a
    run in this moment (one sweep), centred outside `obs`, and `obs` is centred outside the
    track's extent. A node's core that reads two runs in one sweep has told two emitters
    apart, each with its own centre and level at that node (two video channels whose skirts
    share a bin: 20 MHz OFDM at 5865 MHz and R8 at 5917 MHz read 5845-5885 and 5875-5935 by
    each node, joined in one alert that named the OFDM analog); a piece of one channel (a run
    split at a dip, an edge bin) is centred on the track's channel and joins it."""
    seen = track.nodes.get(obs.node_id)
    if seen is None or abs(obs.t_ns - seen.last_ns) >= MOMENT_NS:
        return False
    centre, seen_centre = (obs.lo_khz + obs.hi_khz) / 2, (seen.lo_khz + seen.hi_khz) / 2
    return (not track.lo_khz <= centre <= track.hi_khz
            and not obs.lo_khz <= seen_centre <= obs.hi_khz)


def _straddled(track: Track, obs: Observation) -> bool:
    """Whether `obs` and `track` are one video carrier read on two adjacent scan channels: each
    extent is one channel of the 5.8 GHz plan (a run of one bin, at most VIDEO_CHANNEL_KHZ
    wide, the two alike) and they meet at an edge. A video channel is at most 20 MHz wide (FM
    by Carson's rule, 20 MHz OFDM) and the RX5808's filter is 20 MHz stepped 20 MHz, so a
    carrier centred between two scan channels puts its power in those two filters and no
    third (F4 at 5800 MHz: 5805 -0.5 dB, 5785 -10 dB), and a node that reads one of them
    alone (the other under its threshold, or inside an access point's run there) names that
    one: F4 named 5805 by one node and 5785 by another was two alerts. Two carriers on
    adjacent channels read by one node in one sweep are _side_by_side; a wider run on either
    side (R2 at 5695 MHz read 5675-5715) is not one channel."""
    width, track_width = obs.hi_khz - obs.lo_khz, track.hi_khz - track.lo_khz
    return (width == track_width and 0 < width <= VIDEO_CHANNEL_KHZ
            and (obs.lo_khz == track.hi_khz or obs.hi_khz == track.lo_khz))


def _shared(lo: int, hi: int, lo2: int, hi2: int) -> int:
    """The width two extents share (0 for a point in the other)."""
    return min(hi, hi2) - max(lo, lo2)


class Fusion:
    def __init__(self, cfg: FusionConfig):
        self.cfg = cfg
        self.timeout_ns = int(cfg.track_timeout_s * 1e9)
        self.max_hold_ns = int(cfg.longest_hold_s * 1e9)
        self.confirm_ns = int(cfg.confirm_wait_s * 1e9)
        self.trend_ns = int(cfg.trend_window_s * 1e9)
        self.tracks: list[Track] = []
        self._count = 0
        # no track ends before this (a track's last_ns only grows): expire() looks at the
        # tracks only once it has passed, not at every chunk (nor the pipeline calls it)
        self.next_end_ns = 0

    def observe(self, obs: Observation) -> tuple[Track, bool]:
        """(the track this observation joins, whether it is new)."""
        lo, hi = obs.lo_khz, obs.hi_khz
        back_ns = obs.t_ns if obs.since_ns is None else min(obs.since_ns, obs.t_ns)
        link = LINK.get(obs.family, obs.family)
        overlaps = [track for track in self.tracks
                    if LINK.get(track.family, track.family) == link
                    and (_overlap(lo, hi, track.lo_khz, track.hi_khz)
                         or link == "video" and _straddled(track, obs))
                    and track.first_ns - self.timeout_ns < obs.t_ns
                    and back_ns < track.last_ns + track.hold_ns
                    and (not obs.band_rate or track.band_rate or track.first_ns >= back_ns)]
        # not the track of another video its node read beside it in this sweep (a hopper's
        # hits are split over several core tracks, each a part of its hop set: one emitter)
        joins = [track for track in overlaps if link != "video"
                 or not _side_by_side(track, obs)]
        if joins:
            # a node's run that merges two emitters' channels (a camera's skirt with its
            # neighbour's, two carriers 37 MHz apart read as one lit stretch) overlaps both
            # tracks: it joins the one it shares most of its extent with (the oldest on a tie)
            # and widens neither. Widened, that track took the other's channel, the other's
            # observations all joined it and the other's track ended: two alerts for one
            # presence of each (docs/gateway.md)
            track = max(joins, key=lambda t: _shared(lo, hi, t.lo_khz, t.hi_khz))
            if len(overlaps) == 1:
                track.lo_khz, track.hi_khz = min(track.lo_khz, lo), max(track.hi_khz, hi)
            # a band report's track takes the link's later reports (a link learnt only in part
            # as the site after its first excursion crosses again, its own track still live)
            track.band_rate |= obs.band_rate
            self._add(track, obs)
            return track, False
        self._count += 1
        track = Track(f"T{obs.t_ns // 1_000_000}-{self._count}", obs.family, lo, hi,
                      _first_ns(obs), obs.t_ns, kept=Kept(self.cfg.trend_db),
                      hold_ns=self.timeout_ns, moment_ns=obs.t_ns, band_rate=obs.band_rate)
        end_ns = obs.t_ns + self.timeout_ns + self.confirm_ns
        self.next_end_ns = min(self.next_end_ns, end_ns) if self.tracks else end_ns
        self.tracks.append(track)
        self._add(track, obs)
        return track, True

    def _add(self, track: Track, obs: Observation) -> None:
        track.hits += 1
        track.families.add(obs.family)
        if LINK.get(obs.family) != "control link":
            if obs.t_ns >= track.last_ns:
                track.family = track.named or obs.family
        elif not obs.held:
            # a control link is named by its evidence, not its latest observation: each is a
            # sweep in which a node's core named a confirmed track, and a link's hits are split
            # over several core tracks (each a part of its hop set, among other devices'
            # channels), so one track named otherwise now and then does not rename it, while an
            # early name told on a link's first hits (Crossfire among US915 devices first named
            # LoRa, then GFSK) is outvoted as the other name is told in more sweeps. Each node
            # is one witness: its core track's features are cumulative, re-read every sweep,
            # and a node whose track also gathers residents' hits near it is observed more
            # often (between a link's flights too), so its sweeps are shared out, not summed
            # (docs/gateway.md)
            told = track.told.setdefault(obs.node_id, collections.Counter())
            told[obs.family] += 1
            if (not track.named and obs.family != track.family
                    and told_share(track, obs.family) > told_share(track, track.family)):
                track.family = obs.family
        track.first_ns = min(track.first_ns, _first_ns(obs))
        track.last_ns = max(track.last_ns, obs.t_ns)
        if obs.t_ns - track.moment_ns >= MOMENT_NS:
            self._held_longer(track, obs.t_ns)
        node, kept = obs.node_id, track.kept
        seen = track.nodes.get(node)
        if obs.held and seen is not None:
            # a held name (detector._Naming) keeps the node seeing the track, but its reading
            # goes into no power (trend, position, a known emitter's range): it may be another
            # emitter's, an access point's beside the drone
            seen.saw(obs)
            return
        counted = seen is not None  # in rising / falling by its last_trend_db
        if not counted:
            seen = track.nodes[node] = NodeSeen(obs.t_ns, obs.t_ns, obs.dbm)
            ids = list(kept.node_ids)
            bisect.insort(ids, node)
            kept.node_ids = tuple(ids)
            if len(ids) == 1:
                kept.strongest = node
        seen.saw(obs)
        was_dbm, seen.dbm = seen.dbm, obs.dbm
        best = kept.strongest
        if node == best:
            if obs.dbm < was_dbm:  # the strongest weakened: another may be stronger now
                kept.strongest = max(track.nodes, key=lambda n: (track.nodes[n].dbm, -n))
        elif (obs.dbm, -node) > (track.nodes[best].dbm, -best):
            kept.strongest = node
        seen.history.append((obs.t_ns, obs.dbm))
        while seen.history and seen.history[0][0] < obs.t_ns - self.trend_ns:
            seen.history.popleft()
        threshold = kept.trend_db
        if counted:
            kept.rising -= seen.last_trend_db >= threshold
            kept.falling -= seen.last_trend_db <= -threshold
        powers = list(map(_DBM, seen.history))  # (the trend's and the mean's, walked once)
        seen.last_trend_db = _trend_db(powers)
        kept.rising += seen.last_trend_db >= threshold
        kept.falling += seen.last_trend_db <= -threshold
        if len(powers) >= 4:
            mean = sum(powers) / len(powers)
            seen.lo_dbm, seen.hi_dbm = min(seen.lo_dbm, mean), max(seen.hi_dbm, mean)

    def _held_longer(self, track: Track, t_ns: int) -> None:
        """A new moment of observations: the track's hold from its median gap (module docstring)."""
        gaps = track.gaps
        gaps.append(t_ns - track.moment_ns)
        track.moment_ns = t_ns
        if len(gaps) >= GAPS_BEFORE_HOLD:
            hold = int(HOLD_GAPS * statistics.median(gaps))
            track.hold_ns = min(max(hold, self.timeout_ns), self.max_hold_ns)
            # a shorter hold may end the track before the earliest end kept so far
            self.next_end_ns = min(self.next_end_ns,
                                   track.last_ns + track.hold_ns + self.confirm_ns)

    def name(self, track_id: str, family: str) -> Track | None:
        """Name a track `family` for the rest of its life (Track.named, a link's family: it
        stays one track); the track, or None if it has ended."""
        track = self.get(track_id)
        if track is not None:
            track.named = track.family = family
            track.families.add(family)
        return track

    def get(self, track_id: str) -> Track | None:
        """The track of this id, or None if it has ended."""
        return next((t for t in self.tracks if t.track_id == track_id), None)

    def expire(self, now_ns: int) -> list[Track]:
        """Tracks without an observation for their hold + confirm_wait_s, removed (in the
        order they were made)."""
        if now_ns < self.next_end_ns:
            return []
        wait = self.confirm_ns
        ended = [t for t in self.tracks if now_ns - t.last_ns >= t.hold_ns + wait]
        if ended:
            self.tracks = [t for t in self.tracks if now_ns - t.last_ns < t.hold_ns + wait]
        if self.tracks:
            self.next_end_ns = min(t.last_ns + t.hold_ns for t in self.tracks) + wait
        return ended
