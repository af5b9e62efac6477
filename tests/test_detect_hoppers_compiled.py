"""The band hopper's compiled looks (straja._detect_hoppers, behind hoppers.BandHoppers) against
the NumPy reference (hoppers.ReferenceBandHoppers): the same reports and the same state, look
by look, on synthetic bands and on the inputs the stage took in simulated scenes; its decision's
Poisson tail against stats.poisson_tail; a node's clock gone back."""
import importlib.util

import numpy as np
import pytest

from straja import _detect_sweep, protocol
from straja._detect_hoppers import clear_speckled_pieces, clear_wide_pieces, poisson_tail
from straja.detect import hoppers as hp
from straja.detect import stats
from straja.detect import pipeline as pl
from straja.detect.tracks import TRACK
from straja.eval.evaluate import EVAL_DETECT
from straja.eval.run import run_session
from straja.paths import REPO, SCENES
from straja.sim import load_scene
from test_detect_hoppers import (ALPHA, N_BINS, START_KHZ, STEP_KHZ, Band, NOISE_MW,
                                 access_point_and_hopper_from_switch_on,
                                 access_point_and_spread_residents, access_points, cells_between, mains_locked_hopper, oven_band,
                                 pile_after_a_far_hit, quiet_access_point)

spec = importlib.util.spec_from_file_location("hopper_looks", REPO / "bench" / "hopper_looks.py")
hopper_looks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hopper_looks)

STATE = ("counts", "site", "power", "skirt_mw", "_skip", "_t", "_cell", "_mw", "_over", "_held")


def assert_same_state(compiled, reference):
    for name in STATE:
        np.testing.assert_array_equal(getattr(compiled, name), getattr(reference, name), name)
    assert (compiled.weight, compiled.site_weight, compiled._rate, compiled.min_span_khz,
            compiled.sweeps, compiled._head) == (
        reference.weight, reference.site_weight, reference._rate, reference.min_span_khz,
        reference.sweeps, reference._head)
    np.testing.assert_array_equal(compiled._starts(), reference._starts())
    assert compiled._looks.n_pending == len(reference._pending)
    np.testing.assert_array_equal(compiled._looks.mains_on(), reference.mains.on)


def side_by_side(calls, make, every=1):
    """Feeds both stages the same process() calls; asserts the same report and new_hits after
    each, the same state every `every` calls and at the end. Returns the reports."""
    compiled, reference = make(hp.BandHoppers), make(hp.ReferenceBandHoppers)
    reports = []
    for i, args in enumerate(calls):
        got, want = compiled.process(*args), reference.process(*args)
        assert (got, compiled.new_hits) == (want, reference.new_hits), f"call {i}"
        if want is not None and reference.new_hits:
            reports.append(want)
            np.testing.assert_array_equal(compiled.report_hits(compiled._since_us),
                                          reference.report_hits(reference._since_us))
        if i % every == 0:
            assert_same_state(compiled, reference)
    assert_same_state(compiled, reference)
    return reports


def band_calls(band, batch=1):
    noise = np.full((batch, N_BINS), NOISE_MW, np.float32)
    n = band.t_us.size
    return [(band.single[:, k:k + batch], band.held[k:k + batch],
             noise[:min(batch, n - k)], band.t_us[k:k + batch], band.duration_us[k:k + batch])
            for k in range(0, n, batch)]


def stage_maker(read_pos=None, capacity=4096, read_slots=None):
    return lambda cls: cls(N_BINS, START_KHZ, STEP_KHZ, ALPHA, 1e-6, read_pos, capacity,
                           read_slots)


def busy_band(reads):
    """Ten minutes' worth of sweeps of everything the stage tells apart: a hopper on and off
    (held and not, in either read), BLE advertising, a Wi-Fi channel's frames turning busy
    and learnt, wide runs, a site hitting more than one link does."""
    band = Band(1200, seed=11, reads=reads)
    both = tuple(range(reads))
    adv = [int(round((f * 1000 - START_KHZ) / STEP_KHZ)) for f in (2402.0, 2426.0, 2480.0)]
    band.hopper(range(1200), 0.4, cells=adv, reads=both)
    band.hopper(range(100, 700), 2.5, cells=range(10, 40), reads=both)
    band.hopper(range(20, 300), 0.5, reads=both)
    band.hopper(range(400, 500), 0.5, held=True)
    band.hopper(range(800, 1100), 0.3, width=6, reads=both)
    band.hopper(range(900, 1200), 0.6, cells=range(30, 64), reads=both)
    return band


@pytest.mark.parametrize("reads", [1, 2])
def test_compiled_looks_match_the_reference_sweep_by_sweep(reads):
    reports = side_by_side(band_calls(busy_band(reads)), stage_maker(), every=7)
    assert len(reports) > 20  # the hoppers were reported, kept and lost


@pytest.mark.parametrize("revisit", [0, 3])
def test_compiled_looks_match_in_batches_with_a_small_ring_and_interleaved_reads(revisit):
    """Several sweeps a call; a ring that wraps; cells read out of channel order, at their
    estimated times or their slots' (the plan's revisit block known)."""
    interleaved = protocol.read_positions(N_BINS, protocol.FLAG_INTERLEAVED)
    slots = protocol.read_slots(N_BINS, protocol.FLAG_INTERLEAVED, revisit)
    assert side_by_side(band_calls(busy_band(2), batch=5), stage_maker(interleaved, 64, slots))


@pytest.mark.parametrize("over_threshold_db", [0.1, 3.0])
def test_compiled_and_reference_agree_on_a_noise_hit_beside_a_pile(over_threshold_db):
    reports = side_by_side(band_calls(pile_after_a_far_hit(2, over_threshold_db)), stage_maker())
    assert bool(reports) == (over_threshold_db > 0.5)


@pytest.mark.parametrize("mains_hz", [50.0, 60.0])
def test_compiled_and_reference_agree_beside_an_oven(mains_hz):
    """The mains gate: an oven's half-cycles recognised and gated, a hopper beside it."""
    band = oven_band(900, seed=21, mains_hz=mains_hz, hopper_on=300)
    assert side_by_side(band_calls(band), stage_maker(), every=5)


def test_compiled_and_reference_agree_on_hits_locked_to_the_mains_across_the_band():
    """The mains gate's frequency spread: a hopper's hits locked to the mains, never an oven."""
    assert not side_by_side(band_calls(mains_locked_hopper(200, seed=31)), stage_maker(), every=5)


def test_compiled_and_reference_agree_beside_a_quiet_access_point():
    """A piled Wi-Fi channel, its skirts' level, the span outside it (hop81): a hopper beside
    a far access point, and a burst of traffic lighting a near one's skirts."""
    assert side_by_side(band_calls(quiet_access_point(500, seed=41, hopper_on=300)),
                        stage_maker(), every=5)
    side_by_side(band_calls(quiet_access_point(400, seed=42, burst=range(300, 320),
                                               snr_db=35.0)), stage_maker(), every=5)


def test_compiled_and_reference_agree_on_the_capped_and_held_pile():
    """One access point's pile left out once held (hop86): a 40 MHz channel's two halves, and
    a second access point joining, after which nothing is left out."""
    side_by_side(band_calls(access_points(300, 44, [(2427, 2447, 0.8), (2447, 2467, 0.5)])),
                 stage_maker(), every=5)
    two_aps = access_points(500, 45, [(2401, 2423, 0.8)])
    two_aps.hopper(range(180, 500), 0.8, cells=cells_between(2451, 2473), reads=(0, 1),
                   snr_db=20.0)
    side_by_side(band_calls(two_aps), stage_maker(), every=5)


def test_compiled_and_reference_agree_beside_a_window_pile():
    """The window's own pile before anything is learnt (hop89), and the hits beside it at most
    one link's (hop94): a hopper from switch-on beside an access point, and a busy site's
    spread residents beside one."""
    assert side_by_side(band_calls(access_point_and_hopper_from_switch_on(46)), stage_maker(),
                        every=5)
    side_by_side(band_calls(access_point_and_spread_residents(47)), stage_maker(), every=5)


def test_noise_alone_learns_the_same_baseline():
    side_by_side(band_calls(Band(600, seed=12, reads=2)), stage_maker(), every=50)


@pytest.mark.parametrize("scene", ["flysky_later_on_bluetooth_dense", "frsky_on_urban_24ghz"])
def test_compiled_looks_match_on_a_scenes_inputs(scene):
    """The inputs the stage took through the evaluation's fast path (the node's reads of a
    simulated scene: a hopper among Bluetooth or Wi-Fi, bench/hopper_looks.py's recording),
    replayed into both."""
    stages = hopper_looks.record(scene, 14.0)
    assert stages
    for rec in stages:
        assert len(rec.calls) > 40
        side_by_side(rec.calls, lambda cls: cls(*rec.args, **rec.kwargs), every=5)


def test_bad_arguments_are_refused_and_change_nothing():
    band = Band(40, seed=13, reads=2)
    calls = band_calls(band)
    make = stage_maker()
    compiled, reference = make(hp.BandHoppers), make(hp.ReferenceBandHoppers)
    for args in calls[:30]:
        compiled.process(*args)
        reference.process(*args)
    single, held, noise, t_us, duration_us = calls[30]
    bad = [((single.astype(np.float64), held, noise, t_us, duration_us), TypeError),
           ((single[0], held, noise, t_us, duration_us), ValueError),
           ((single, held[:, :-1].copy(), noise, t_us, duration_us), ValueError),
           ((single, held, noise[:0], t_us, duration_us), ValueError),
           ((single, held, noise, t_us.astype(np.int32), duration_us), TypeError),
           ((single, held, noise, t_us, duration_us[:0]), ValueError),
           ((single, held, noise, t_us, list(duration_us)), TypeError)]
    for args, error in bad:
        with pytest.raises(error):
            compiled.process(*args)
        assert_same_state(compiled, reference)
    side_by_side(calls[30:], lambda cls: compiled if cls is hp.BandHoppers else reference)


def reference_pieces(det, reads, noise, alpha, max_cells):
    """The NumPy reference of clear_wide_pieces: the mask of the cells it clears."""
    wide = np.zeros(det.shape, bool)
    for codes in reads:
        wide |= pl.wide_runs(CODE_MW[codes] > alpha * noise, max_cells)
    return pl.wide_frame_pieces(det != 0, wide, max_cells)


CODE_MW = (10 ** ((np.arange(256) * 0.5 - 140) / 10)).astype(np.float32)


def check_clear_wide_pieces(det, single, second, noise, alpha, max_cells):
    reads = (single,) if second is None else (single, second)
    pieces = reference_pieces(det, reads, noise, alpha, max_cells)
    want = det.copy()
    want[pieces] = 0
    got = det.copy()
    assert clear_wide_pieces(got, single, second, noise, alpha, max_cells) == pieces.sum()
    np.testing.assert_array_equal(got, want)
    return int(pieces.sum())


@pytest.mark.parametrize("n_bins", [1, 2, 3, 17, 64, 200])
def test_clear_wide_pieces_matches_the_reference(n_bins):
    """Random reads and detections: runs of every width, one-cell nulls, reads at the
    threshold; one read or two."""
    rng = np.random.default_rng(n_bins)
    cleared = 0
    for trial in range(60):
        shape = (int(rng.integers(1, 5)), n_bins)
        noise = np.full(shape, CODE_MW[100], np.float32)
        level = rng.choice([90, 100, 101, 102, 130], size=(2,) + shape, p=[.3, .2, .1, .1, .3])
        single, second = level.astype(np.uint8)
        det = (rng.random(shape) < rng.choice([0.2, 0.6])).astype(np.uint8)
        cleared += check_clear_wide_pieces(det, single, None if trial % 3 else second,
                                           noise * np.float32(rng.choice([1.0, 1.4])), 1.2,
                                           int(rng.integers(1, 6)))
    assert n_bins < 3 or cleared  # pieces were found and cleared


def test_clear_wide_pieces_matches_on_a_busy_band(monkeypatch):
    """Every call the pipeline makes in a scene of 40 MHz access points, checked against the
    reference as it runs (the gateway's pipeline would log a failed check and go on: the
    calls are counted)."""
    calls, checked_ok = [], []

    def checked(det, single, second, noise, alpha, max_cells):
        calls.append(det.shape)
        checked_ok.append(check_clear_wide_pieces(det, single, second, noise, alpha, max_cells))
        return clear_wide_pieces(det, single, second, noise, alpha, max_cells)
    monkeypatch.setattr(_detect_sweep, "clear_wide_pieces", checked)  # (the stages call it)
    run_session(load_scene(SCENES / "busy_24ghz_background.toml"), "n1", 8.0, seed=4,
                detect=EVAL_DETECT)
    assert len(calls) > 20 and len(checked_ok) == len(calls) and sum(checked_ok) > 0


@pytest.mark.parametrize("clear, rest", [(clear_wide_pieces, (1.4, 3)),
                                         (clear_speckled_pieces, (1.4, 3, 8, 3))])
def test_clear_pieces_refuse_bad_arguments(clear, rest):
    det = np.zeros((2, 8), np.uint8)
    codes = np.zeros((2, 8), np.uint8)
    noise = np.ones((2, 8), np.float32)
    for args, error in [((det.astype(bool), codes, None, noise), TypeError),
                        ((det, codes[:1], None, noise), ValueError),
                        ((det, codes, codes[:, :4].copy(), noise), ValueError),
                        ((det, codes, codes[:1].copy(), noise), ValueError),
                        ((det, codes, None, noise.astype(np.float64)), TypeError),
                        ((det, codes, None, noise[:, ::2]), ValueError)]:
        with pytest.raises(error):
            clear(*args, *rest)
    with pytest.raises(ValueError):  # max_cells 0
        clear(det, codes, None, noise, 1.4, 0, *rest[2:])
    if clear is clear_speckled_pieces:
        with pytest.raises(ValueError):  # a negative reach
            clear(det, codes, None, noise, 1.4, 3, -1, 3)


def check_clear_speckled_pieces(det, single, second, noise, alpha, max_cells, reach, min_hot):
    reads = (single,) if second is None else (single, second)
    pieces = pl.speckled_frame_pieces(det != 0, [CODE_MW[codes] > alpha * noise
                                                 for codes in reads], max_cells, reach, min_hot)
    want = det.copy()
    want[pieces] = 0
    got = det.copy()
    assert clear_speckled_pieces(got, single, second, noise, alpha, max_cells, reach,
                                 min_hot) == pieces.sum()
    np.testing.assert_array_equal(got, want)
    return int(pieces.sum())


@pytest.mark.parametrize("n_bins", [1, 2, 5, 17, 64, 200])
def test_clear_speckled_pieces_matches_the_reference(n_bins):
    """Random reads and detections: pieces of every width near the row's ends, reaches from 0
    to past the row, reads at the threshold; one read or two."""
    rng = np.random.default_rng(100 + n_bins)
    cleared = kept = 0
    for trial in range(80):
        shape = (int(rng.integers(1, 5)), n_bins)
        noise = np.full(shape, CODE_MW[100], np.float32)
        level = rng.choice([90, 100, 101, 102, 130], size=(2,) + shape, p=[.3, .2, .1, .1, .3])
        single, second = level.astype(np.uint8)
        det = (rng.random(shape) < rng.choice([0.05, 0.2, 0.6])).astype(np.uint8)
        n = check_clear_speckled_pieces(det, single, None if trial % 3 else second,
                                        noise * np.float32(rng.choice([1.0, 1.4])), 1.2,
                                        int(rng.integers(1, 6)), int(rng.integers(0, 12)),
                                        int(rng.integers(1, 5)))
        cleared += n
        kept += int((det != 0).sum()) - n
    assert n_bins < 5 or (cleared and kept)  # pieces both cleared and kept


def test_clear_speckled_pieces_matches_on_a_busy_band(monkeypatch):
    """Every call the pipeline makes in a scene of 40 MHz access points, checked against the
    reference as it runs."""
    calls = []

    def checked(det, single, second, noise, alpha, max_cells, reach, min_hot):
        calls.append(check_clear_speckled_pieces(det, single, second, noise, alpha, max_cells,
                                                 reach, min_hot))
        return clear_speckled_pieces(det, single, second, noise, alpha, max_cells, reach,
                                     min_hot)
    monkeypatch.setattr(pl, "clear_speckled_pieces", checked)
    run_session(load_scene(SCENES / "busy_24ghz_background.toml"), "n1", 8.0, seed=4,
                detect=EVAL_DETECT)
    assert len(calls) > 20 and sum(calls) > 0


def test_straddle_is_nan_for_tracks_on_a_channel_and_measured_between_two():
    """Pipeline.straddle takes the band's floor only for tracks near the midpoint of two
    channels (the others, most, return NaN at once): both paths give their documented rows."""
    step = 20_000.0
    pipe = pl.Pipeline(16, 5_700_000.0, step, pl.PipelineConfig())
    codes = np.full((1, 16), 80, np.uint8)
    codes[0, 6:8] = 160  # two adjacent channels hot: a flat top between them
    for k in range(6):
        pipe.process(codes, np.array([k * 100_000], np.int64), np.array([50_000], np.int64))
    snap = np.zeros(2, TRACK)
    snap["f_last_khz"] = [5_700_000.0 + 3 * step, 5_700_000.0 + 6.5 * step]
    out = pipe.straddle(snap)
    assert np.isnan(out["midpoint_khz"][0]) and np.isnan(out["balance_db"][0])
    assert out["midpoint_khz"][1] == 5_700_000.0 + 6.5 * step
    assert abs(out["balance_db"][1]) < 1.0
    assert np.isnan(pipe.straddle(snap[:1])["midpoint_khz"]).all()


def test_the_decisions_poisson_tail_is_the_definitions():
    """The compiled decision's tail (series and continued fraction in C, lgamma of the counts
    from CPython's) is stats.poisson_tail to the bit, on both of its branches and the edges."""
    rng = np.random.default_rng(17)
    ns = np.concatenate([[0, 1, 2, 3, 4096], rng.integers(1, 400, 300)])
    means = np.concatenate([[0.0, 1e-300, 1e-3, 2.0, 4097.0], rng.exponential(50.0, 300)])
    for n, mean in zip(ns.tolist(), means.tolist()):
        assert poisson_tail(n, mean) == stats.poisson_tail(n, mean), (n, mean)
        assert poisson_tail(n, n + 1.0 + mean) == stats.poisson_tail(n, n + 1.0 + mean)


def test_a_clock_gone_back_past_the_ring_drops_the_report():
    """A node whose clock jumps back while a hopper is reported, its hits then filling a small
    ring: none of the ring's hits is from the report's window any more. The stage drops the
    report (the reference fails there on an empty window)."""
    band = Band(400, seed=21)
    band.hopper(range(400), 0.5)
    band.t_us[200:] -= band.t_us[200] + 10**9  # sweeps 200 on: a clock 1000 s before its start
    stage = stage_maker(capacity=16)(hp.BandHoppers)
    active = [stage.process(*args) is not None for args in band_calls(band)]
    assert active[199]  # reported before the jump
    assert not all(active[200:])  # dropped after it


@pytest.mark.parametrize("capacity", [256, 4096])
def test_compiled_looks_match_across_a_clock_gone_back_within_the_window(capacity):
    """The window's hits found back from the ring's head (HopperLooks._live_slots), a node's
    clock gone back: 1.5 s (hits out of sweep order in the window), then 100 s for 100 sweeps
    and forward again to 2 s after the last sweep before that (the window's hits then both
    sides of older ones in the ring), and a sweep overlapping the one before. The compiled
    looks take the reference's hits in its order, whether the ring wraps or not."""
    band = busy_band(2)
    band.t_us[300:] -= 1_500_000
    band.t_us[500:] -= 100_000_000
    band.t_us[600:] += band.t_us[499] + 2_000_000 - band.t_us[600]
    band.t_us[900:] -= band.duration_us[900] // 2
    assert side_by_side(band_calls(band, batch=3), stage_maker(capacity=capacity), every=5)
