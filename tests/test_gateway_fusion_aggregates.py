"""A fusion track's node aggregates (gateway/fusion.py: sorted node ids, strongest node, the
counts of rising and falling nodes), kept as each observation changes one node, equal what a walk
over all its nodes gives after every observation; and expire() ends the tracks a scan of all of
them ends, at every instant, though it looks at them only once the earliest end has passed."""
import collections

from hypothesis import given, settings
from hypothesis import strategies as st

from straja.gateway.config import FusionConfig
from straja.gateway.detector import Observation
from straja.gateway.fusion import APPROACHING, LEAVING, STEADY, Fusion, NodeSeen

S = 1_000_000_000
BANDS = {"video": (5_790_000, 5_810_000), "other video": (5_900_000, 5_920_000)}

observations = st.lists(st.tuples(
    st.integers(1, 6),                          # node
    st.sampled_from(sorted(BANDS)),             # which emitter
    st.integers(0, 3 * S) | st.sampled_from([13 * S, 40 * S]),  # tracks end too
    st.sampled_from([-90.0, -80.0, -75.0, -70.0, -60.0])),  # power: ties are common
    min_size=1, max_size=120)


def scanned_ends(fusion, t):
    return [tr for tr in fusion.tracks if t - tr.last_ns >= tr.hold_ns + fusion.confirm_ns]


def walked_trend(track, threshold_db):
    rise = sum(s.last_trend_db >= threshold_db for s in track.nodes.values())
    fall = sum(s.last_trend_db <= -threshold_db for s in track.nodes.values())
    return APPROACHING if rise > fall else LEAVING if fall > rise else STEADY


@settings(max_examples=200, deadline=None)
@given(observations, st.sampled_from([0.0, 1.0, 3.0]))
def test_aggregates_equal_a_walk_over_the_nodes(obs_list, trend_db):
    cfg = FusionConfig(trend_db=trend_db)
    fusion, t = Fusion(cfg), 0
    for node, band, gap, dbm in obs_list:
        t += gap
        expect_ended = scanned_ends(fusion, t)
        assert fusion.expire(t) == expect_ended
        track, _ = fusion.observe(Observation(node, "analog_fm_video", t, *BANDS[band], dbm))
        assert track.node_ids == tuple(sorted(track.nodes))
        best = max(track.nodes, key=lambda n: (track.nodes[n].dbm, -n))
        assert track.strongest() == (best, track.nodes[best].dbm)
        assert track.trend(trend_db) == walked_trend(track, trend_db)
        assert track.trend(trend_db + 0.5) == walked_trend(track, trend_db + 0.5)
    end = max(tr.last_ns + tr.hold_ns for tr in fusion.tracks) + fusion.confirm_ns
    for later in (end - 1, end):
        expect_ended = scanned_ends(fusion, later)
        assert fusion.expire(later) == expect_ended
    assert not fusion.tracks


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-120.0, 0.0) | st.sampled_from([-90.0, -60.5, float("inf")]),
                min_size=1, max_size=80))
def test_trend_and_mean_equal_the_walked_sums(dbms):
    """NodeSeen's sums (in C, over the powers) give the very floats a walk over the history
    entries gives: the trend and a known emitter's range do not move by a rounding."""
    seen = NodeSeen(0, 0, dbms[0], collections.deque((i, d) for i, d in enumerate(dbms)))
    h = list(seen.history)
    half = len(h) // 2
    walked = (sum(d for _, d in h[half:]) / (len(h) - half) - sum(d for _, d in h[:half]) / half
              if len(h) >= 4 else 0.0)
    assert repr(seen.trend_db()) == repr(walked)
    assert repr(seen.mean_dbm()) == repr(sum(d for _, d in h) / len(h))
