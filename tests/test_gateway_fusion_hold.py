"""A fused track's hold (gateway/fusion.py): the fixed timeout for a track observed often, ten
of its own median gaps for one observed rarely (a far control link), never more than
track_timeout_max_s: a link observed every few seconds stays one track through a silence the
fixed timeout ended it in, and one observed every sweep still ends at the timeout."""
import pytest

from straja.gateway.config import FusionConfig
from straja.gateway.detector import Observation
from straja.gateway.fusion import HOLD_GAPS, Fusion

S = 1_000_000_000
HOPPER = ("lora_fhss", 2_400_000, 2_480_000)


def observed(fusion, times_s, node=1):
    """Observations of one ELRS-like hopper at times_s; the tracks they joined (or made)."""
    tracks = []
    for t in times_s:
        fusion.expire(round(t * S))
        tracks.append(fusion.observe(Observation(node, HOPPER[0], round(t * S), *HOPPER[1:],
                                                 -90.0))[0])
    return tracks


def test_a_link_observed_every_two_seconds_is_held_through_fifteen_seconds_of_silence():
    fusion = Fusion(FusionConfig())
    tracks = observed(fusion, [2.0 * k for k in range(10)])
    assert tracks[-1].hold_ns == pytest.approx(HOLD_GAPS * 2 * S)
    tracks += observed(fusion, [18.0 + 15.0])
    assert len({t.track_id for t in tracks}) == 1


def test_one_long_pause_does_not_lengthen_the_hold_of_a_track_observed_often():
    fusion = Fusion(FusionConfig())
    track = observed(fusion, [0.6 * k for k in range(10)] + [5.4 + 7.5])[-1]
    assert track.hold_ns == FusionConfig().track_timeout_s * S


def test_a_link_observed_every_sweep_ends_at_the_fixed_timeout():
    cfg = FusionConfig()
    fusion = Fusion(cfg)
    times = [0.2 * k for k in range(50)]  # moments 0.6 s apart: 10 gaps is under 8 s
    tracks = observed(fusion, times)
    assert tracks[-1].hold_ns == cfg.track_timeout_s * S
    end_s = times[-1] + cfg.track_timeout_s + cfg.confirm_wait_s
    assert fusion.expire(round(end_s * S) - 1) == []
    assert fusion.expire(round(end_s * S)) == [tracks[-1]]
    # back just after the timeout: a new track (and alert)
    fusion = Fusion(cfg)
    again = observed(fusion, times + [times[-1] + cfg.track_timeout_s + 0.5])
    assert len({t.track_id for t in again}) == 2


def test_the_hold_is_capped_and_shrinks_again_when_the_link_is_heard_often():
    cfg = FusionConfig()
    fusion = Fusion(cfg)
    rare = [6.0 * k for k in range(6)]  # 10 gaps of 6 s is over the cap
    track = observed(fusion, rare)[-1]
    assert track.hold_ns == cfg.track_timeout_max_s * S
    often = [rare[-1] + 0.6 * k for k in range(1, 20)]
    observed(fusion, often)
    assert track.hold_ns == cfg.track_timeout_s * S  # the last 8 gaps are 0.6 s
    end = often[-1] + cfg.track_timeout_s + cfg.confirm_wait_s
    assert fusion.expire(round(end * S)) == [track]


def test_observations_of_one_moment_are_one_gap():
    """Three nodes reporting in one sweep are one moment, not gaps of 0 that shrink the hold."""
    fusion = Fusion(FusionConfig())
    for k in range(8):
        for node in (1, 2, 3):
            observed(fusion, [2.0 * k + 0.01 * node], node)
    assert fusion.tracks[0].hold_ns == pytest.approx(min(HOLD_GAPS * 2, 30) * S, rel=0.01)
