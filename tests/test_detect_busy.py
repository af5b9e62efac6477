"""The bursty-cell mask of held readings (straja._detect_busy) against its NumPy reference, its
window's alignment, its argument checks, and its place in the pipeline."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from straja._detect_busy import BusyCells
from straja.detect import pipeline as core
from straja.detect import reference as ref
from straja.detect.noise import codes_to_mw, floor_alpha

CODES = st.integers(74, 86)  # around the noise codes: hot and cold single reads, exact ties


@st.composite
def streams(draw):
    """(single codes, held power, noise_mw, det, kernel arguments after n_bins, call
    boundaries)."""
    n_sweeps, n_bins = draw(st.integers(0, 48)), draw(st.integers(1, 24))
    shape = (n_sweeps, n_bins)
    single = draw(hnp.arrays(np.uint8, shape, elements=CODES))
    noise = codes_to_mw(draw(hnp.arrays(np.uint8, shape, elements=CODES)))
    noise[draw(hnp.arrays(bool, shape))] = np.nan  # before the floor is known
    det = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 1)))
    # held levels from under the noise to the top band (codes 2 dB apart: band edges met exactly)
    power = codes_to_mw(draw(hnp.arrays(np.uint8, shape, elements=st.integers(70, 180))))
    args = (draw(st.integers(1, 30)),                     # width: odd, even, wider than the band
            draw(st.sampled_from([1.0, 1.4, 10.0])),      # alpha (1.0: ties with equal codes)
            draw(st.sampled_from([core.BUSY_SINGLE, 0.3, 0.5])),  # 0.5: ties (memory 1)
            draw(st.sampled_from([core.BUSY_HELD_RATIO, 1.0])),
            draw(st.sampled_from([1, 4, core.BUSY_MEMORY_SWEEPS])),
            draw(st.sampled_from([0, 3, core.BUSY_WARM_SWEEPS])),
            draw(st.sampled_from([1.0, core.BUSY_BAND_DB])),  # 1 dB: edges on the codes
            draw(st.sampled_from([1, 3, core.BUSY_BANDS])),
            draw(st.sampled_from([0, 1, 2])),
            draw(st.sampled_from([core.BUSY_LEVEL_RATIO, 0.5, 1.0])))
    per_call = draw(st.sampled_from(["one", "cuts"]))
    if per_call == "one":
        cuts = list(range(n_sweeps + 1))
    else:
        cuts = sorted({0, n_sweeps, *draw(st.lists(st.integers(0, n_sweeps), max_size=4))})
    return single, power, noise, det, args, cuts


@settings(max_examples=300, deadline=None)
@given(streams())
def test_kernel_matches_reference_across_calls(stream):
    single, power, noise, det, args, cuts = stream
    kernel = BusyCells(det.shape[1], *args)
    assert kernel.settings == args
    out, mask = det.copy(), np.zeros(det.shape, np.uint8)
    for a, b in zip(cuts, cuts[1:]):
        left = kernel.process(single[a:b], power[a:b], noise[a:b], out[a:b], mask[a:b])
        assert left == np.count_nonzero(out[a:b])
    expected, expected_mask = ref.busy_mask(single, power, noise, det, *args)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(out, expected)
    assert kernel.sweeps == det.shape[0]


@pytest.mark.parametrize("width, n_bins, masked", [
    (5, 20, range(8, 13)),   # odd: cells 2 either side
    (4, 20, range(9, 13)),   # even: 2 below, 1 above (numpy.convolve "same")
    (1, 20, range(10, 11)),
    (30, 20, range(20)),     # wider than the band: every cell sees all of it
])
def test_window_is_numpy_same_alignment(width, n_bins, masked):
    """Cell 10 hot in every single read, never held: the cells whose window holds it are bursty."""
    kernel = BusyCells(n_bins, width, 1.0, 1e-6, 0.5, 1, 1, 5.0, 1, 0, 0.5)
    single = np.zeros((1, n_bins), np.uint8)
    single[0, 10] = 200
    noise = codes_to_mw(np.zeros((1, n_bins), np.uint8))
    det = np.zeros((1, n_bins), np.uint8)
    mask = np.zeros_like(det)
    kernel.process(single, noise, noise, det, mask)
    assert np.flatnonzero(mask[0]).tolist() == list(masked)


def test_warm_up_masks_everything_then_occupancy_decides():
    n = 16
    kernel = core.busy_cells(n, 1_000.0, alpha=1.4)
    quiet = np.full((core.BUSY_WARM_SWEEPS, n), 80, np.uint8)
    noise = codes_to_mw(quiet)
    det = np.ones(quiet.shape, np.uint8)
    assert kernel.process(quiet, noise, noise, det) == n  # last sweep: warm, continuous, kept
    assert not det[:-1].any() and det[-1].all()


def _bluetooth_site(n_sweeps=400, n=64, seed=3):
    """Single reads of a Bluetooth-like resident (unheld packets, 10-15 dB over the noise, on
    10 % of the cells of every read: every neighbourhood bursty) over -100 dBm."""
    rng = np.random.default_rng(seed)
    quiet = 80  # code: -100 dBm
    single = np.full((n_sweeps, n), quiet, np.uint8)
    packets = rng.random(single.shape) < 0.1
    single[packets] = quiet + rng.integers(20, 30, np.count_nonzero(packets))
    return single, codes_to_mw(np.full(single.shape, quiet, np.uint8))


@pytest.mark.parametrize("over_db, held_share, kept", [(40, 0.8, True), (12, 0.8, False),
                                                       (40, 0.45, False)])
def test_a_hopper_far_above_bursty_residents_is_kept_one_at_their_level_is_not(over_db,
                                                                                held_share, kept):
    """A hopper (a hit a sweep, as the demo's handset gives) over_db over the noise, held_share
    of its hits held:
    40 dB, far over the residents' 10-15 dB, dwelling as ELRS 2.4 does (0.8 held), its level's
    reads hold and its held hits are kept; at the residents' level they are among theirs (which
    never hold) and masked as before; and so are those of a BLE connection's short events far
    above them (0.45 held: its dwell under 3 revisits)."""
    single, noise = _bluetooth_site()
    power = noise.copy()
    det = np.zeros(single.shape, np.uint8)
    hops = np.arange(len(det))
    channel = (hops * 7) % single.shape[1]
    single[hops, channel] = 80 + 2 * over_db
    power[hops, channel] = codes_to_mw(np.full((1, len(hops)), 80 + 2 * over_db, np.uint8))[0]
    held = np.random.default_rng(2).random(len(hops)) < held_share
    det[hops[held], channel[held]] = 1
    kernel = core.busy_cells(single.shape[1], 1_325.0, alpha=1.4)
    mask = np.zeros_like(det)
    kernel.process(single, power, noise, det, mask)
    assert mask[core.BUSY_WARM_SWEEPS:].mean() > 0.9  # the site is bursty everywhere
    late = held & (hops >= 4 * core.BUSY_WARM_SWEEPS)  # its level's occupancy known
    left = det[hops[late], channel[late]]
    assert left.mean() > 0.8 if kept else left.mean() < 0.1  # (a window holds ~15 reads)


def test_a_residents_held_reads_stay_masked_within_the_margin():
    """The residents' own held hits (a packet caught twice, 1 in 10), up to BUSY_MARGIN_DB over
    their level (a fading peak), are masked: their level's reads do not hold."""
    single, noise = _bluetooth_site()
    rng = np.random.default_rng(4)
    twice = (single > 80) & (rng.random(single.shape) < 0.1)
    det = twice.astype(np.uint8)
    power = codes_to_mw(single)
    peak = twice & (rng.random(single.shape) < 0.5)  # half of them at a fading peak
    power[peak] *= np.float32(10 ** ((core.BUSY_MARGIN_DB - 0.5) / 10))
    kernel = core.busy_cells(single.shape[1], 1_325.0, alpha=1.4)
    assert kernel.process(single, power, noise, det) == 0


def test_argument_checks():
    kernel = BusyCells(8, 3, 1.4, 0.01, 0.5, 64, 16, 5.0, 10, 2, 0.6)
    codes = np.zeros((2, 8), np.uint8)
    noise = np.ones((2, 8), np.float32)
    det = np.zeros((2, 8), np.uint8)
    with pytest.raises(TypeError, match="single must be a numpy array of uint8"):
        kernel.process(codes.astype(np.int16), noise, noise, det)
    with pytest.raises(TypeError, match="single"):
        kernel.process(None, noise, noise, det)
    with pytest.raises(TypeError, match="power must be a numpy array of float32"):
        kernel.process(codes, noise.astype(np.float64), noise, det)
    with pytest.raises(TypeError, match="noise_mw must be a numpy array of float32"):
        kernel.process(codes, noise, noise.astype(np.float64), det)
    with pytest.raises(TypeError, match="det must be a numpy array of uint8"):
        kernel.process(codes, noise, noise, det.astype(bool))
    with pytest.raises(ValueError, match="single must have 8 entries"):
        kernel.process(np.zeros((2, 9), np.uint8), noise, noise, det)
    with pytest.raises(ValueError, match="same shape"):
        kernel.process(codes[:1], noise, noise, det)
    with pytest.raises(ValueError, match="same shape"):
        kernel.process(codes, noise[:1], noise, det)
    with pytest.raises(ValueError, match="C-contiguous"):
        kernel.process(codes, noise, noise, np.zeros((8, 2), np.uint8).T)
    with pytest.raises(ValueError, match="mask must have the shape"):
        kernel.process(codes, noise, noise, det, np.zeros((3, 8), np.uint8))
    with pytest.raises(ValueError, match="power of two"):
        BusyCells(8, 3, 1.4, 0.01, 0.5, 48, 16, 5.0, 10, 2, 0.6)
    with pytest.raises(ValueError, match="up to 2048"):  # (its occupancies are 32-bit)
        BusyCells(8, 3, 1.4, 0.01, 0.5, 4096, 16, 5.0, 10, 2, 0.6)
    with pytest.raises(ValueError, match="width"):
        BusyCells(8, 0, 1.4, 0.01, 0.5, 64, 16, 5.0, 10, 2, 0.6)
    with pytest.raises(ValueError, match="n_bands"):
        BusyCells(8, 3, 1.4, 0.01, 0.5, 64, 16, 0.0, 10, 2, 0.6)
    assert kernel.sweeps == 0  # nothing taken from refused calls


def test_occupancies_at_the_longest_memory_saturate_without_wrapping():
    """Every read hot for 12 000 sweeps at memory 2048 (the longest: its 32-bit occupancies
    approach HOT x 2048 = 2^31), half of them held in the top band: the kernel agrees with the
    reference's 64-bit integers to the end."""
    n_sweeps, n = 12_000, 3
    single = np.full((n_sweeps, n), 200, np.uint8)
    noise = codes_to_mw(np.full((n_sweeps, n), 80, np.uint8))
    power = codes_to_mw(single)
    det = np.zeros(single.shape, np.uint8)
    det[::2] = 1
    args = (3, 1.4, 0.5, 0.9, 2048, 16, core.BUSY_BAND_DB, core.BUSY_BANDS, 2, 0.4)
    out, mask = det.copy(), np.zeros(det.shape, np.uint8)
    BusyCells(n, *args).process(single, power, noise, out, mask)
    expected, expected_mask = ref.busy_mask(single, power, noise, det, *args)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(out, expected)
    assert mask[-1].all() and not mask[16:-1:2].any()  # bursty; a held sweep's level holds


def test_level_bands_idle_for_long_then_read_agree_with_the_reference():
    """A neighbourhood busy, then 1 500 sweeps quiet (one cell hot twice in them), then busy
    again: the level bands, decayed only when their cell is hit or read, catch up over hundreds
    of sweeps (and stop once no value moves) to what the reference's every-sweep decay gives."""
    rng = np.random.default_rng(7)
    n_sweeps, n = 1800, 12
    busy = np.zeros(n_sweeps, bool)
    busy[:200] = busy[1700:] = True
    single = np.where(busy[:, None] & (rng.random((n_sweeps, n)) < 0.6),
                      rng.integers(90, 200, (n_sweeps, n)), 60).astype(np.uint8)
    single[[900, 1300], 5] = 150
    det = (busy[:, None] & (rng.random((n_sweeps, n)) < 0.2)).astype(np.uint8)
    power = codes_to_mw(rng.integers(90, 200, (n_sweeps, n)).astype(np.uint8))
    noise = codes_to_mw(np.full((n_sweeps, n), 80, np.uint8))
    args = (5, 1.4, core.BUSY_SINGLE, core.BUSY_HELD_RATIO, core.BUSY_MEMORY_SWEEPS,
            core.BUSY_WARM_SWEEPS, core.BUSY_BAND_DB, core.BUSY_BANDS, 2, core.BUSY_LEVEL_RATIO)
    out, mask = det.copy(), np.zeros(det.shape, np.uint8)
    kernel = BusyCells(n, *args)
    for a in range(0, n_sweeps, 100):
        kernel.process(single[a:a + 100], power[a:a + 100], noise[a:a + 100], out[a:a + 100],
                       mask[a:a + 100])
    expected, expected_mask = ref.busy_mask(single, power, noise, det, *args)
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(out, expected)
    assert det[1700:].sum() > 200 and mask[1700:][det[1700:] == 1].any()  # the bands were read


def test_pipeline_masks_held_hits_one_sweep_per_call():
    """Pipeline(revisit) = the plain pipeline's detections through the reference mask."""
    rng = np.random.default_rng(5)
    n_sweeps, n_bins, step = 120, 64, 1_325.0
    held = rng.integers(76, 84, (n_sweeps, n_bins)).astype(np.uint8)
    single = held.copy()
    wifi = rng.random((n_sweeps, 16)) < 0.3  # frames on 20..35: single hot, held rarely
    single[:, 20:36][wifi] = 110
    held[:, 20:36][wifi & (rng.random(wifi.shape) < 0.2)] = 110
    held[::7, 50] = 110  # a hopper's held hits on a quiet channel
    single[::7, 50] = 110
    t = np.arange(n_sweeps, dtype=np.int64) * 100_000
    dur = np.full(n_sweeps, 90_000, np.int64)
    plain = core.Pipeline(n_bins, 2_400_000, step).process(held, t, dur)
    c = core.PipelineConfig()
    kernel = core.busy_cells(n_bins, step, floor_alpha(c.pfa, c.looks, c.code_db))
    expected, mask = ref.busy_mask(single, codes_to_mw(held), plain.noise_mw, plain.det,
                                   *kernel.settings)
    p = core.Pipeline(n_bins, 2_400_000, step, core.PipelineConfig(revisit=True))
    for s in range(n_sweeps):
        r = slice(s, s + 1)
        np.testing.assert_array_equal(p.process(held[r], t[r], dur[r], single[r]).det,
                                      expected[r])
    assert mask[-20:, 24:32].all() and expected[core.BUSY_WARM_SWEEPS:, 50].any()


def test_wide_runs_bridge_one_cell_nulls():
    hot = np.array([[1, 1, 0, 1, 1, 0, 0, 1, 0, 1],
                    [1, 0, 1, 0, 0, 1, 1, 1, 1, 0]], bool)
    # row 0: 0-4 bridged over the null at 2 (5 wide), 7-9 over 8 (3: narrow); row 1: 0-2 (3),
    # 5-8 (4)
    np.testing.assert_array_equal(core.wide_runs(hot, 4)[0], [1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(core.wide_runs(hot, 3)[1], [0, 0, 0, 0, 0, 1, 1, 1, 1, 0])
    assert not core.wide_runs(hot, 5).any()


def test_wide_frame_pieces_are_narrow_held_runs_inside_wide_reads():
    held = np.array([[0, 1, 0, 0, 1, 1, 0, 0, 1, 0],
                     [0, 1, 1, 1, 0, 0, 0, 0, 0, 0]], bool)
    wide = np.array([[1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
                     [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]], bool)
    np.testing.assert_array_equal(core.wide_frame_pieces(held, wide, 2), [
        [0, 1, 0, 0, 1, 1, 0, 0, 0, 0],   # the hit at 8 lies outside the wide read: a hop
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])  # 3 held cells wide: not a hop's width, left alone


def test_pipeline_clears_held_pieces_of_a_wide_frame_keeps_a_hop():
    """A 40 MHz frame lit in both reads of every sweep, its held read cut into narrow pieces by
    fading, gives no held detection past the warm-up; a hop held on a quiet channel does."""
    rng = np.random.default_rng(7)
    assert 2 / 3 >= core.BUSY_HELD_RATIO
    n_sweeps, n_bins, step = 60, 64, 1_325.0
    noise = rng.integers(76, 84, (n_sweeps, n_bins)).astype(np.uint8)
    held, first, second = noise.copy(), noise.copy(), noise.copy()
    first[:, 2:32] = second[:, 2:32] = 120
    # pieces two cells wide in every sweep: the held read holds 2/3 of the frame's cells, over
    # BUSY_HELD_RATIO, so the bursty-cell mask keeps them (an access point at load 0.9)
    held[:, 2:32] = 120
    held[:, 4:32:3] = noise[:, 4:32:3]
    held[::3, 50] = first[::3, 50] = second[::3, 50] = 120
    t = np.arange(n_sweeps, dtype=np.int64) * 180_000
    dur = np.full(n_sweeps, 179_000, np.int64)
    p = core.Pipeline(n_bins, 2_400_000, step, core.PipelineConfig(revisit=True))
    det = np.concatenate([p.process(held[r], t[r], dur[r], first[r], second[r]).det.copy()
                          for r in (slice(s, s + 1) for s in range(n_sweeps))])
    late = det[core.BUSY_WARM_SWEEPS:]
    assert not late[:, 2:32].any()
    assert late[:, 50].any()
