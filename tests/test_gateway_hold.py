"""A core track's drone name held through a flicker (gateway/detector.py, _Naming): a track the
classifier named a drone family in HOLD_STREAK sweeps in a row, then calls something else, is
still observed under that family while it stays on its channels, for at most the hold."""
from __future__ import annotations

import numpy as np
import pytest

from straja.detect.pipeline import Pipeline as CorePipeline
from straja.detect.tracks import TRACK
from straja.gateway import config, detector
from straja.gateway.detector import HOLD_STREAK, NodeDetector, Observation, _Naming
from straja.gateway.fusion import Fusion
from straja.gateway.health import NodeHealth
from straja.gateway.pipeline import Pipeline
from straja.protocol import Sweep, dbm_to_rssi_code

START_KHZ, STEP_KHZ, N = 5_645_000, 2_000, 151   # synth.VIDEO_BAND
SWEEP_US = 100_000


def sweeps(seconds: float, centre_khz=5_800_000, seed=1):
    """(t_us, Sweep) of a node reading steady 20 MHz video at centre_khz over noise."""
    rng = np.random.default_rng(seed)
    freqs = START_KHZ + STEP_KHZ * np.arange(N)
    for k in range(int(seconds * 1e6 / SWEEP_US)):
        dbm = -95.0 + 10 * np.log10(rng.gamma(10, 1 / 10, N))
        on = np.abs(freqs - centre_khz) <= 10_000
        dbm[on] = np.maximum(dbm[on], -70.0 + rng.normal(0, 0.5, on.sum()))
        yield k * SWEEP_US, Sweep(0, 0, k, START_KHZ, STEP_KHZ, 500, SWEEP_US // 2, 0, N,
                                  dbm_to_rssi_code(dbm).tobytes())


@pytest.fixture
def renamed_from(monkeypatch):
    """Makes the core's classifier call every track `unknown` from a given time (µs) on, as it
    does when a weak channel's edge bins come and go; returns the setter."""
    at = {"us": None}
    class_rows = CorePipeline.class_rows  # what the detector asks (classes() as tuples)

    def flickering(self, snap):
        out = class_rows(self, snap)
        if at["us"] is None:
            return out
        late = (snap["t_last_start_us"] >= at["us"]).tolist()
        return [(tid, "unknown", conf, False, why, *band) if renamed else
                (tid, family, conf, drone, why, *band)
                for (tid, family, conf, drone, why, *band), renamed in zip(out, late)]

    monkeypatch.setattr(CorePipeline, "class_rows", flickering)
    return lambda us: at.__setitem__("us", us)


def observed(det, seconds, **kw):
    """(sweep time s, family, lo kHz, hi kHz, held) of every observation of `det` over the sweeps."""
    return [(t_us / 1e6, o.family, o.lo_khz, o.hi_khz, o.held)
            for t_us, sw in sweeps(seconds, **kw) for o in det.sweep(sw, t_us, 0)]


def test_a_named_track_renamed_unknown_is_observed_under_its_name_up_to_the_hold(renamed_from):
    renamed_from(4_000_000)
    obs = observed(NodeDetector(1, {}, hold_s=3.0), 12.0)
    named = [o for o in obs if o[0] < 4.0]
    family = named[0][1]
    assert len(named) >= HOLD_STREAK and {o[1] for o in named} == {family}
    assert not any(o[4] for o in named)
    assert detector.is_drone(family)
    held = [o for o in obs if o[0] >= 4.0]
    # every sweep of the hold (3 s after the last named sweep, 3.9 s) and none after it
    assert {o[1] for o in held} == {family} and all(o[4] for o in held)
    assert [round(o[0], 1) for o in held] == [round(4.0 + 0.1 * k, 1) for k in range(30)]
    assert {o[2:4] for o in held} == {named[-1][2:4]}  # where it was named


def test_no_hold_without_a_steady_name_nor_once_its_hold_is_over(renamed_from):
    # named in fewer sweeps in a row than HOLD_STREAK: a chance name is never held
    first = observed(NodeDetector(1, {}, hold_s=3.0), 1.0)
    renamed_from(first[HOLD_STREAK - 2][0] * 1e6 + 1)
    assert len(observed(NodeDetector(1, {}, hold_s=3.0), 6.0)) == HOLD_STREAK - 1
    # hold 0: the flicker is seen as it is (what fusion's track timeout makes of it)
    renamed_from(2_000_000)
    obs = observed(NodeDetector(1, {}, hold_s=0.0), 4.0)
    assert obs and max(o[0] for o in obs) < 2.0


def test_a_held_track_whose_centre_moves_to_another_channel_is_not_held():
    tr = np.zeros(1, TRACK)[0]
    tr["f_min_khz"], tr["f_max_khz"], tr["f_last_khz"] = 5_798_000, 5_802_000, 5_800_000
    naming = _Naming()
    for k in range(HOLD_STREAK):
        tr["t_last_start_us"] = k * SWEEP_US
        naming.named("analog_fm_video", tr, 5_788_000, 5_812_000)
    half_step = 10_000  # a 20 MHz scan step
    tr["t_last_start_us"] += SWEEP_US
    assert naming.holds(tr, 1_000_000, half_step)
    tr["f_last_khz"] = 5_812_000   # its edge bins: still on its channel
    assert naming.holds(tr, 1_000_000, half_step)
    tr["f_last_khz"] = 5_820_000   # the next 20 MHz channel
    assert not naming.holds(tr, 1_000_000, half_step)
    tr["f_last_khz"], tr["t_last_start_us"] = 5_800_000, (HOLD_STREAK - 1) * SWEEP_US + 1_000_001
    assert not naming.holds(tr, 1_000_000, half_step)  # past the hold
    naming.named("ofdm_video", tr, 5_788_000, 5_812_000)  # renamed within drones: held as that
    assert naming.streak == HOLD_STREAK + 1 and naming.family == "ofdm_video"
    assert naming.holds(tr, 1_000_000, half_step)


@pytest.mark.parametrize("hold_s", [-1.0, float("nan"), float("inf")])
def test_a_hold_not_a_finite_time_is_refused(hold_s):
    with pytest.raises(ValueError, match="hold_s must be a finite number >= 0"):
        NodeDetector(1, {}, hold_s=hold_s)


def test_the_gateway_holds_for_its_track_timeout():
    assert NodeDetector(1, {}).hold_us == round(detector.FusionConfig.track_timeout_s * 1e6)
    cfg = config.from_dict({"fusion": {"track_timeout_s": 5.0}})
    assert Pipeline(cfg)._detector(1, NodeHealth(1, 0)).hold_us == 5_000_000


def test_a_held_observation_keeps_its_track_but_adds_no_reading():
    """Held, the node still sees the track (it lasts), but the reading, of a sweep the classifier
    did not call a drone, is no power of it (trend, position, a known emitter's range)."""
    cfg = config.FusionConfig()
    fusion, s = Fusion(cfg), 1_000_000_000
    end_s = cfg.track_timeout_s + cfg.confirm_wait_s
    video = dict(family="analog_fm_video", lo_khz=5_790_000, hi_khz=5_810_000)
    for k in range(5):
        track, _ = fusion.observe(Observation(1, t_ns=k * s // 2, dbm=-70.0, **video))
    held, new = fusion.observe(Observation(1, t_ns=9 * s, dbm=-50.0, held=True, **video))
    seen = track.nodes[1]
    assert held is track and not new and track.last_ns == seen.last_ns == 9 * s
    assert seen.dbm == -70.0 and [d for _, d in seen.history] == [-70.0] * 5
    assert not fusion.expire(int((9 + end_s) * s) - 1) and fusion.expire(int((9 + end_s) * s))
    # a node first seeing the track in a held sweep brings its reading (it has no other)
    track, _ = fusion.observe(Observation(1, t_ns=30 * s, dbm=-70.0, **video))
    fusion.observe(Observation(2, t_ns=31 * s, dbm=-60.0, held=True, **video))
    assert track.nodes[2].dbm == -60.0 and track.strongest() == (2, -60.0)
