"""The whole detection pipeline on small synthetic scenes: who is found, named and alerted."""
import numpy as np
import pytest

from straja.detect.pipeline import Pipeline, PipelineConfig

NOISE_MW = 1e-10  # -100 dBm


class Scene:
    """Sweeps of n_bins channels (start_khz, step_khz), one every period_us, with
    exponential (square-law) noise; emitters add power to cells."""

    def __init__(self, n_sweeps, n_bins, start_khz, step_khz, period_us=1000, seed=0):
        self.rng = np.random.default_rng(seed)
        self.start_khz, self.step_khz = start_khz, step_khz
        self.power = self.rng.standard_exponential((n_sweeps, n_bins)) * NOISE_MW
        self.t_us = np.arange(n_sweeps, dtype=np.int64) * period_us
        self.duration_us = np.full(n_sweeps, period_us - 50, np.int64)

    def bin_of(self, khz):
        return int(round((khz - self.start_khz) / self.step_khz))

    def add(self, sweep, khz, snr_db, width_bins=1, profile=None):
        lo = self.bin_of(khz) - width_bins // 2
        shape = np.ones(width_bins) if profile is None else profile
        fading = self.rng.standard_exponential(width_bins) * 0.3 + 0.7
        self.power[sweep, lo:lo + width_bins] += NOISE_MW * 10 ** (snr_db / 10) * shape * fading

    def run(self, config=None, batch=100):
        p = Pipeline(self.power.shape[1], self.start_khz, self.step_khz, config)
        alerts, events = [], []
        sweeps = self.power.astype(np.float32)
        for i in range(0, sweeps.shape[0], batch):
            r = p.process(sweeps[i:i + batch], self.t_us[i:i + batch],
                          self.duration_us[i:i + batch])
            alerts.extend(r.alerts["track_id"].tolist())
            events.append(r.events)
        feats, classes = p.tracks()
        return alerts, np.concatenate(events), feats, classes


def families(classes, feats, state=1):
    return sorted(set(classes["family"][feats["state"] == state].tolist()))


def band_2g4(n_sweeps, **kw):
    return Scene(n_sweeps, 80, 2_400_400, 1_000, **kw)


def test_noise_only_raises_no_alert():
    """20 s of noise at 10x the default pfa: 16 false cells a second form a 'hopper' track,
    which must never be named a control link (its intervals are Poisson, CV ~ 1)."""
    alerts, events, feats, classes = band_2g4(20000, seed=1).run(PipelineConfig(pfa=1e-5), 1000)
    assert alerts == []
    assert not np.any(classes["drone"] & (feats["state"] == 1))


def test_elrs_hopper_found_named_and_alerted():
    scene = band_2g4(3000, seed=2)
    rng = np.random.default_rng(5)
    for k, sweep in enumerate(range(100, 3000, 4)):  # 250 Hz packets, hop every 4th packet
        if k % 4 == 0:
            channel = rng.integers(0, 80)
        scene.add(sweep, 2_400_400 + channel * 1000, 20)
    alerts, events, feats, classes = scene.run()
    assert len(alerts) == 1
    track = classes["track_id"] == alerts[0]
    assert classes["family"][track][0] == "lora_fhss"
    assert feats["n_channels"][track][0] >= 40


def test_gfsk_hopper_hops_every_packet():
    scene = band_2g4(3000, seed=3)
    rng = np.random.default_rng(6)
    for sweep in range(50, 3000, 9):  # a packet every 9 ms on a new channel (FrSky D16 class)
        scene.add(sweep, 2_400_400 + rng.integers(0, 47) * 1000, 18)
    alerts, events, feats, classes = scene.run()
    assert len(alerts) == 1
    assert classes["family"][classes["track_id"] == alerts[0]][0] == "gfsk_fhss"


def test_analog_video_on_air_at_boot_is_found():
    """On air before the first sweep and all along: neither CFAR window nor floor absorbs it."""
    scene = Scene(600, 200, 5_600_000, 2_000, period_us=20_000, seed=4)
    profile = 10 ** (-np.abs(np.linspace(-1, 1, 11)) * 1.2)  # peaked at the carrier
    for sweep in range(600):
        scene.add(sweep, 5_800_000, 25, width_bins=11, profile=profile)
    alerts, events, feats, classes = scene.run()
    assert len(alerts) == 1
    assert classes["family"][classes["track_id"] == alerts[0]][0] == "analog_fm_video"


def test_ofdm_video_is_flat_topped():
    scene = Scene(600, 200, 5_600_000, 2_000, period_us=20_000, seed=5)
    for sweep in range(100, 600):
        scene.add(sweep, 5_745_000, 20, width_bins=10)
    alerts, events, feats, classes = scene.run()
    assert len(alerts) == 1
    assert classes["family"][classes["track_id"] == alerts[0]][0] == "ofdm_video"


def wide_emitter_alert(scatter_db, profile, skip_every=0):
    """(sweep of the first alert or None, family named) of an emitter at 5825 MHz (Wi-Fi ch 165,
    also A1) from sweep 20, its level scattering scatter_db from sweep to sweep, missing every
    skip_every-th sweep; one burst per sweep, as the gateway runs the core."""
    scene = Scene(300, 200, 5_600_000, 2_000, period_us=20_000, seed=9)
    rng = np.random.default_rng(10)
    for sweep in range(20, 300):
        if not (skip_every and sweep % skip_every == 0):
            scene.add(sweep, 5_825_000, 25 + scatter_db * rng.standard_normal(),
                      width_bins=profile.size, profile=profile)
    p = Pipeline(200, scene.start_khz, scene.step_khz, PipelineConfig(max_burst_sweeps=1))
    for i in range(300):
        r = p.process(scene.power[i:i + 1].astype(np.float32), scene.t_us[i:i + 1],
                      scene.duration_us[i:i + 1])
        if r.alerts.size:
            return i, r.alerts["family"][0]
    feats, classes = p.tracks()
    return None, classes["family"][np.argmax(feats["n_bursts"])]


PEAKED = 10 ** (-np.abs(np.linspace(-1, 1, 11)) * 1.2)


def test_a_swinging_level_is_not_video():
    """Video at a steady level (a video channel's fading averaged across its width; here ~2 dB
    with the scene's per-bin fading, so over 8 sweeps) is named; a level swinging like a busy
    access point's, even in every sweep, never; an access point that is missed now and then,
    never either."""
    steady_at, family = wide_emitter_alert(0.3, PEAKED)
    assert family == "analog_fm_video" and steady_at <= 20 + 8
    assert wide_emitter_alert(10.0, PEAKED) == (None, "wifi")
    assert wide_emitter_alert(10.0, np.ones(10), skip_every=6) == (None, "wifi")


def test_wifi_and_ble_are_named_but_raise_no_alert():
    scene = band_2g4(6000, seed=7)
    rng = np.random.default_rng(8)
    for sweep in range(0, 6000, 102):  # beacons every 102.4 ms, plus random traffic
        scene.add(sweep, 2_437_000, 20, width_bins=20)
    for sweep in rng.choice(6000, 200, replace=False):
        scene.add(sweep, 2_437_000, 20, width_bins=20)
    for start in range(0, 6000, 100):  # BLE advertising on 37, 38, 39
        for k, khz in enumerate((2_402_000, 2_426_000, 2_480_000)):
            scene.add(min(start + k, 5999), khz - 400, 20, width_bins=2)
    alerts, events, feats, classes = scene.run()
    assert alerts == []
    assert {"wifi", "ble"} <= set(families(classes, feats))


def test_pipeline_takes_rssi_codes_and_checks_shapes():
    p = Pipeline(16, 2_400_000, 1_000, PipelineConfig(time_cfar=True))
    codes = np.full((5, 16), 80, np.uint8)
    codes[3, 7] = 200
    t = np.arange(5, dtype=np.int64) * 1000
    r = p.process(codes, t, np.full(5, 900, np.int64))
    assert r.det[3, 7] == 1 and r.det.sum() == 1
    # code 80 = -100 dBm; a constant reading is its own median, read as mean x 1/ln 2
    assert r.noise_mw[-1, 0] * np.log(2) == pytest.approx(1e-10, rel=0.05)
    with pytest.raises(ValueError, match="bins"):
        p.process(np.zeros((2, 8), np.uint8), t[:2], t[:2])
    with pytest.raises(TypeError, match="int64"):
        p.process(codes, t.astype(float), t)
    empty = p.process(np.zeros((0, 16), np.uint8), t[:0], t[:0])
    assert empty.det.shape == (0, 16) and empty.events.size == 0


def test_quiet_sweeps_share_one_result_of_constants_until_something_is_detected():
    p = Pipeline(16, 5_645_000, 20_000, PipelineConfig(looks=470))
    codes = np.full((1, 16), 80, np.uint8)
    dur = np.full(1, 900, np.int64)
    quiet = [p.process(codes, np.array([k * 1000], np.int64), dur) for k in range(3)]
    assert quiet[0] is quiet[1] is quiet[2]
    r = quiet[0]
    assert r.det.sum() == 0 and r.bursts.size == r.events.size == r.alerts.size == 0
    assert r.hopper is None and r.noise_mw is not None
    loud = codes.copy()
    loud[0, 7] = 200
    hot = p.process(loud, np.array([3000], np.int64), dur)
    assert hot is not r and hot.det[0, 7] == 1
    assert r.det[0, 7] == 1  # (det is a view of the reused buffer, as documented)
    # a batch of another size: its own buffers, so its own result
    two = p.process(np.full((2, 16), 80, np.uint8), np.array([4000, 5000], np.int64),
                    np.full(2, 900, np.int64))
    assert two is not r and two.det.shape == (2, 16)


def test_video_beside_a_bursty_access_point_is_its_own_track():
    """A 20 MHz-step scanner (RX5808): video on R4 (5769 MHz, read at 5765) lit in every sweep
    beside an access point on Wi-Fi channel 149 (5745 MHz), 10 dB stronger and on in half the
    sweeps. Their runs touch, but the video's bin has been hot for more sweeps running: it is cut
    from the access point's, forms a track of its own and is named analog video; the access
    point stays Wi-Fi. Without the split, one merged track is named Wi-Fi (issue 15)."""
    scene = Scene(60, 16, 5_645_000, 20_000, period_us=409_000, seed=3)
    rng = np.random.default_rng(4)
    for sweep in range(60):
        scene.add(sweep, 5_765_000, 20 + 0.3 * rng.standard_normal())
        if rng.random() < 0.5:
            scene.add(sweep, 5_745_000, 30 + 3 * rng.standard_normal())
    p = Pipeline(16, scene.start_khz, scene.step_khz, PipelineConfig(max_burst_sweeps=1))
    alerted_at = None
    for i in range(60):
        r = p.process(scene.power[i:i + 1].astype(np.float32), scene.t_us[i:i + 1],
                      scene.duration_us[i:i + 1])
        if r.alerts.size and alerted_at is None:
            alerted_at, family = i, r.alerts["family"][0]
    assert family == "analog_fm_video" and alerted_at <= 8
    feats, classes = p.tracks()
    # the access point's track may hold a burst merged with the video's from the first sweeps
    # (streaks one sweep apart are not cut: SPLIT_MIN_SWEEPS), so its centre is near 5745 MHz
    named = sorted(zip(feats["centre_khz"].tolist(), classes["family"].tolist()))
    assert [family for _, family in named] == ["wifi", "analog_fm_video"]
    assert abs(named[0][0] - 5_745_000) <= 10_000 and named[1][0] == 5_765_000


def test_steadiness_cuts_follow_hot_streaks_and_jitter():
    """A bin starts a run of its own where it and the detected bin before it have been hot for
    sweeps running in a ratio of SPLIT_RATIO or more (the longer at least SPLIT_MIN_SWEEPS) and
    the newer one is at least as strong when hot (not a steady carrier's weaker skirt), or where
    one's reading swings from sweep to sweep (SPLIT_JITTER_DB and more) and the other's not."""
    from straja.detect.pipeline import steadiness_split
    det = np.array([[0, 1, 1, 0, 0], [1, 1, 1, 0, 1], [1, 1, 0, 1, 1], [1, 1, 1, 1, 1]], np.uint8)
    flat = np.ones(det.shape, np.float32)
    cut = np.zeros(det.shape, np.uint8)
    split = steadiness_split(5)
    split.cuts(det, flat, None, cut, gap=1)
    assert split.streak.tolist() == [3, 4, 1, 2, 3]
    # streaks one sweep apart (1:2, 2:3) are not cut; 3:1 is (bin 3 in sweep 2, bin 2 in sweep
    # 3), and a cut of the sweep before is held where both its bins are hot again, steady (flat
    # readings): bin 3 in sweep 3
    assert cut.tolist() == [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 1, 0]]
    skirts = flat.copy()
    skirts[:, 1] = 10.0   # bin 1 the strongest: its newer neighbours are its skirts
    steadiness_split(5).cuts(det, skirts, None, cut, gap=1)
    assert not cut.any()
    both = np.ones((4, 2), np.uint8)  # hot in every sweep: streaks alike
    swinging = np.array([[1.0, 1.0], [10.0, 1.0], [1.0, 1.0], [10.0, 1.0]], np.float32)
    cut = np.zeros(both.shape, np.uint8)
    steadiness_split(2).cuts(both, swinging, None, cut, gap=1)
    assert cut[:, 1].tolist() == [0, 1, 1, 1]   # 10 dB swings against none, from the 2nd sweep


def test_one_emitter_lit_a_sweep_later_in_part_is_not_cut():
    """A sweep reads its channels one after the other: an emitter switched on part-way through
    a sweep lights the channels read after that instant a sweep before the others (a 40 MHz
    OcuSync straddling two channels, ocusync_40_straddling_and_analog_r2: its halves' streaks
    1:2, then cut apart and held, two one-bin tracks named analog). Streaks one sweep apart are
    never cut, whichever half is the stronger; a carrier come on beside one hot for 3 sweeps
    or more still is (SPLIT_MIN_SWEEPS)."""
    from straja.detect.pipeline import SPLIT_MIN_SWEEPS, steadiness_split
    for weaker in (0, 1):
        det = np.ones((10, 2), np.uint8)
        det[0, 0] = 0                    # the lower half comes a sweep after the upper one
        power = np.ones(det.shape, np.float32)
        power[:, weaker] = 0.9
        cut = np.zeros(det.shape, np.uint8)
        steadiness_split(2).cuts(det, power, None, cut, gap=1)
        assert not cut.any()
    det = np.ones((10, 2), np.uint8)
    det[:SPLIT_MIN_SWEEPS, 0] = 0        # a newcomer beside a carrier on for SPLIT_MIN_SWEEPS
    cut = np.zeros(det.shape, np.uint8)
    steadiness_split(2).cuts(det, np.ones(det.shape, np.float32), None, cut, gap=1)
    assert cut[SPLIT_MIN_SWEEPS:, 1].all()


def test_a_40_mhz_ofdm_channel_switched_on_mid_sweep_is_one_track_named_ofdm():
    """40 MHz OFDM at 5875 MHz straddles the RX5808's scan channels 5865 and 5885 (20 MHz
    steps), lighting both equally; switched on part-way through a sweep it lights the upper one
    (read later) a sweep first, and the lower one comes a little the stronger. Before
    SPLIT_MIN_SWEEPS 3 the split cut the halves apart (streaks 1:2) and held the cut: two
    one-bin tracks named analog (ocusync_40_straddling_and_analog_r2 through the gateway)."""
    scene = Scene(12, 16, 5_645_000, 20_000, period_us=409_000, seed=5)
    rng = np.random.default_rng(6)
    scene.add(0, 5_885_000, 25 + 0.3 * rng.standard_normal())
    for sweep in range(1, 12):
        scene.add(sweep, 5_865_000, 25.2 + 0.3 * rng.standard_normal())
        scene.add(sweep, 5_885_000, 25 + 0.3 * rng.standard_normal())
    p = Pipeline(16, scene.start_khz, scene.step_khz, PipelineConfig(max_burst_sweeps=1))
    alerts = []
    for i in range(12):
        r = p.process(scene.power[i:i + 1].astype(np.float32), scene.t_us[i:i + 1],
                      scene.duration_us[i:i + 1])
        alerts.extend(r.alerts["family"].tolist())
    assert alerts == ["ofdm_video"]
    feats, classes = p.tracks()
    assert classes["family"].tolist() == ["ofdm_video"]
    assert feats["bandwidth_khz"][0] >= 35_000


def test_a_cut_between_steady_bins_is_held_until_one_goes_cold_or_jittery():
    """Two carriers side by side, the second come on later (cut by the streak rule), stay apart
    once their streaks are alike while both stay hot and steady; the hold ends when a side goes
    cold (then their streaks decide again) or its reading swings SPLIT_JITTER_DB or more."""
    from straja.detect.pipeline import SPLIT_JITTER_DB, steadiness_split
    n = 12
    det = np.ones((n, 2), np.uint8)
    det[:2, 1] = 0                       # the second carrier comes on at sweep 2
    det[8, 0] = 0                        # the first misses sweep 8
    power = np.ones(det.shape, np.float32)
    cut = np.zeros(det.shape, np.uint8)
    split = steadiness_split(2)
    split.cuts(det[:8], power[:8], None, cut[:8], gap=1)
    assert cut[:8, 1].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]   # streaks 3:1 ... 8:6: held
    assert split.held.tolist() == [0, 1]
    split.cuts(det[8:], power[8:], None, cut[8:], gap=1)
    assert cut[8:, 1].tolist() == [0, 1, 1, 1]   # released when cold; then cut by the streaks
    swinging = power.copy()
    swinging[::2, 1] = 10 ** (SPLIT_JITTER_DB / 10)          # the second swings by the limit
    cut[:] = 0
    steady_first = np.ones_like(det)
    steady_first[:2, 1] = 0
    steadiness_split(2).cuts(steady_first, swinging, None, cut, gap=1)
    # cut by the streaks (sweeps 2-3), then by the jitter, never only held
    assert cut[:, 1].tolist() == [0, 0] + [1] * (n - 2)
    calm = np.ones_like(power)
    calm[6:, 1] = np.tile([1.0, 0.1], 3)  # steady, then swinging 10 dB, the weaker when hot
    cut[:] = 0
    split = steadiness_split(2)
    split.cuts(steady_first, calm, None, cut, gap=1)
    assert cut[2:6, 1].all() and not cut[-2:, 1].any()   # held while steady, not once it swings


def test_a_dip_between_two_steady_carriers_cuts_their_run():
    """One channel read through the filter has one peak: a bin whose signal over the band's
    floor is SPLIT_DIP_DB or more under both its hot neighbours, both steady carriers (hot
    SPLIT_MIN_SWEEPS sweeps running, steady readings), is where two carriers' skirts meet.
    Cold between them: cut; hot: cut on its weaker side. A single wide emitter's peaked
    profile, a dip beside a swinging neighbour or one that comes and goes, or a cold bin that
    reads as strong as its neighbours when hot (a bursty emitter's part) are not cut; a dip cut
    is neither held nor counted as a piece cut from a wider run (cut_share)."""
    from straja.detect.pipeline import SPLIT_DIP_DB, SPLIT_MIN_SWEEPS, steadiness_split
    n, floor, on = 8, 1.0, SPLIT_MIN_SWEEPS - 1   # cut from the sweep both streaks reach it
    noise = np.full((n, 7), floor, np.float32)
    det = np.zeros((n, 7), np.uint8)
    det[:, [1, 3]] = 1                   # two carriers on from the start, a cold bin between
    power = np.full(det.shape, floor, np.float32)
    power[:, [1, 3]] = [4.0, 6.0]        # signals 3 and 5 over the floor; the cold bin 0
    cut = np.zeros(det.shape, np.uint8)
    split = steadiness_split(7)
    split.cuts(det, power, noise, cut, gap=1)
    assert not cut[:on].any() and cut[on:, 3].all() and split.held.tolist() == [0] * 7
    assert not split.cut_share.any()
    cut[:] = 0
    steadiness_split(7).cuts(det, power, None, cut, gap=1)  # no floor: 4 and 6 over 1 total
    assert cut[on:, 3].all()
    flicker = det.copy()
    flicker[::2, 3] = 0                   # the weaker comes and goes (an access point's bin)
    weaker = power.copy()
    weaker[:, [1, 3]] = [6.0, 4.0]
    cut[:] = 0
    steadiness_split(7).cuts(flicker, weaker, noise, cut, gap=1)
    assert not cut.any()
    once = det.copy()
    once[0, 2] = 1                        # the cold bin hot in the first sweep at their level
    lit = power.copy()
    lit[0, 2] = 5.0
    cut[:] = 0
    steadiness_split(7).cuts(once, lit, noise, cut, gap=1)
    assert not cut.any()
    # a hot dip: bins 1-3 hot, bin 2's signal under both by more than SPLIT_DIP_DB; it stays
    # with the stronger bin 3
    det[:, 2] = 1
    dipped = power.copy()
    dipped[:, 2] = floor + 3.0 / 10 ** (SPLIT_DIP_DB / 10) * 0.9
    cut[:] = 0
    steadiness_split(7).cuts(det, dipped, noise, cut, gap=1)
    assert cut[on:, 2].all() and not cut[:, 3].any()
    # one 40 MHz channel on bin 2 (its edges 3 dB under its centre): no dip, no cut
    peaked = power.copy()
    peaked[:, 1:4] = [3.0, 6.0, 3.0]
    cut[:] = 0
    steadiness_split(7).cuts(det, peaked, noise, cut, gap=1)
    assert not cut.any()
    # bin 3 swings 6 dB from sweep to sweep (an access point): not a steady peak
    swinging = dipped.copy()
    swinging[::2, 3] *= 4.0
    cut[:] = 0
    steadiness_split(7).cuts(det, swinging, noise, cut, gap=1)
    assert not cut[:, 2].any()


def test_a_streaks_level_scatter_is_kept_per_bin():
    """streak_sq: the sum of the squared changes (dB) of a bin's readings over its current
    streak, from its second hot sweep; a new streak starts it again."""
    from straja.detect.pipeline import steadiness_split
    det = np.array([[1], [1], [1], [0], [1], [1]], np.uint8)
    power = np.array([[1.0], [2.0], [1.0], [1.0], [5.0], [10.0]], np.float32)
    split = steadiness_split(1)
    split.cuts(det[:3], power[:3], None, np.zeros((3, 1), np.uint8), gap=1)
    step = 10 * np.log10(2.0)
    np.testing.assert_allclose(split.streak_sq, [2 * step ** 2], rtol=1e-6)
    split.cuts(det[3:], power[3:], None, np.zeros((3, 1), np.uint8), gap=1)
    np.testing.assert_allclose(split.streak_sq, [step ** 2], rtol=1e-6)
    assert split.streak.tolist() == [2]


def test_a_bins_history_before_its_streak_is_kept():
    """busy_before: the share of sweeps a bin was hot in (HISTORY_SWEEPS) when its current streak
    began, unbiased by the average's start; NaN for a streak begun before HISTORY_MIN_SWEEPS."""
    from straja.detect.pipeline import HISTORY_MIN_SWEEPS, steadiness_split
    n = HISTORY_MIN_SWEEPS + 8
    det = np.zeros((n, 3), np.uint8)
    det[:, 0] = 1                     # on from boot: history unknown
    det[: n - 4: 2, 1] = 1            # hot every other sweep, then for 4 running
    det[n - 4:, 1:] = 1               # bin 2: quiet, then for 4 running
    split = steadiness_split(3)
    split.cuts(det, np.ones(det.shape, np.float32), None, np.zeros(det.shape, np.uint8), gap=1)
    before = split.busy_before
    assert np.isnan(before[0]) and before[2] == 0.0
    assert 0.4 < before[1] < 0.6
    split.quiet(200)  # a long quiet spell: every bin's history cools
    assert split.busy.max() < 0.05 and split.sweeps == n + 200


def straddling_video_family(khz, levels_db):
    """The family of the first alert on a steady emitter lighting the two RX5808 scan channels
    (20 MHz step from 5645 MHz) around `khz` at levels_db over the noise (the lower channel's,
    the upper's) in every sweep."""
    scene = Scene(40, 16, 5_645_000, 20_000, period_us=409_000, seed=6)
    rng = np.random.default_rng(7)
    profile = 10 ** (np.array(levels_db, float) / 10)
    for sweep in range(40):
        scene.add(sweep, khz + 10_000, 0.3 * rng.standard_normal(), width_bins=2,
                  profile=profile)
    p = Pipeline(16, scene.start_khz, scene.step_khz, PipelineConfig(max_burst_sweeps=1))
    for i in range(40):
        r = p.process(scene.power[i:i + 1].astype(np.float32), scene.t_us[i:i + 1],
                      scene.duration_us[i:i + 1])
        if r.alerts.size:
            return r.alerts["family"][0]
    return None


def test_a_flat_top_straddling_two_scan_channels_off_the_analog_plan_is_ofdm():
    """A 20 MHz-step scanner sees 40 MHz OFDM centred between two scan channels (5835 MHz, read at
    5825 and 5845) as two bins lit equally, as it sees FM video whose carrier is at their
    midpoint; no analog channel is there (F6 5840 and B6 5828 are 5-7 MHz off), so it is a flat
    top: OFDM. FM on F6 lights 5845 ~10 dB over 5825: analog; FM on R2 (5695 MHz, the midpoint
    of 5685 and 5705) lights both equally: analog."""
    assert straddling_video_family(5_835_000, (20, 20.5)) == "ofdm_video"
    assert straddling_video_family(5_835_000, (11, 21)) == "analog_fm_video"
    assert straddling_video_family(5_695_000, (20, 20)) == "analog_fm_video"


def test_narrow_emitters_in_two_hop_plans_are_never_one_hopper():
    """LoRa devices on EU868 channels and on US915 ones, their packets interleaved: a hopper's
    channels lie in one hop plan (rf.HOP_PLANS_MHZ: a link's regulatory domain), so no track
    spans both plans and none is named a control link (subghz_lora_background once raised a
    "LoRa FHSS" alert over 868-908 MHz this way). An ELRS 915 link hopping over its whole
    plan (903.5-926.9 MHz) is still one track, alerted."""
    scene = Scene(4000, 64, 863_000, 1_031, period_us=51_000, seed=4)
    rng = np.random.default_rng(9)
    channels = [867_100, 867_500, 868_100, 868_500, 903_900, 904_500, 905_100, 906_900]
    for sweep in range(100, 4000, 6):  # a packet every ~0.3 s from one of the devices
        scene.add(sweep, channels[rng.integers(0, len(channels))], 20)
    alerts, events, feats, classes = scene.run()
    assert alerts == []
    assert feats["spread_khz"].max() < 902_000 - 870_000

    scene = Scene(2000, 64, 863_000, 1_031, period_us=51_000, seed=5)
    for sweep in range(100, 2000, 2):  # ELRS 915 seen by a 51 ms sweep: a hit every ~0.1 s
        scene.add(sweep, 903_500 + rng.integers(0, 23) * 1_031, 20)
    alerts, events, feats, classes = scene.run()
    assert len(alerts) == 1
    track = classes["track_id"] == alerts[0]
    assert classes["family"][track][0] in ("lora_fhss", "gfsk_fhss")
    assert feats["spread_khz"][feats["track_id"] == alerts[0]][0] > 20_000


def ap_with_video(video_db, n_sweeps=140, video_from=40, up=0.5, saturated_from=None, seed=11):
    """The alerts (sweep, family, band's lo and hi kHz), in order, on a 20 MHz-step scanner
    (RX5808, 16 channels from 5645 MHz) reading a 40 MHz access point on 5775-5815 MHz
    (channels 5785 and 5805), 40 dB over the
    noise when a look falls on its frames (each channel independently, in a share `up` of the
    sweeps; in every sweep from `saturated_from`), and analog video on A5 (5785 MHz) at video_db
    in every sweep from `video_from` (None: none)."""
    scene = Scene(n_sweeps, 16, 5_645_000, 20_000, period_us=409_000, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for sweep in range(n_sweeps):
        for khz in (5_785_000, 5_805_000):
            if rng.random() < up or saturated_from is not None and sweep >= saturated_from:
                scene.add(sweep, khz, 40 + 3 * rng.standard_normal())
        if video_db is not None and video_from is not None and sweep >= video_from:
            scene.add(sweep, 5_785_000, video_db)
    p = Pipeline(16, scene.start_khz, scene.step_khz)
    named = []
    for i in range(n_sweeps):
        r = p.process(scene.power[i:i + 1].astype(np.float32), scene.t_us[i:i + 1],
                      scene.duration_us[i:i + 1])
        named += [(i, *alert) for alert in r.alerts[["family", "lo_khz", "hi_khz"]].tolist()]
    return named


def test_video_under_a_stronger_access_points_frames_is_named_by_its_lower_envelope():
    """Analog video 15 dB under a 40 MHz access point's frames, in one of its two channels: its
    channel never reads the floor again, while the access point's other channel still does in
    its gaps. Hot in only half the sweeps before, a run of n sweeps standing is a chance of
    0.5^n: named analog video once that is under STAND_CHANCE (35 sweeps), not before; the
    access point alone, or turned saturated over its whole channel, is never named."""
    named = ap_with_video(25.0)
    assert named and named[0][1] == "analog_fm_video"
    assert 40 + 30 <= named[0][0] <= 40 + 60
    # the class is of the channel standing (A5's, 5775-5795 MHz), not of the access point's run
    assert named[0][2:] == (5_775_000.0, 5_795_000.0)
    assert ap_with_video(None) == []
    assert ap_with_video(None, saturated_from=40) == []


def test_video_whose_track_was_made_while_it_flickered_is_named_once_its_channel_stands():
    """Video alone at its node, coming in: at first it flickers at the threshold (hot in half the
    sweeps, no access point there), and pieces of a weak wide emitter beside it join its runs now
    and then, so its track's life is bursty and spread over three channels; then it stands 10 dB
    over the floor in every sweep, its reading steady. Its channel's run is a chance of 0.5^n
    from its past and reads as video reads (streak scatter under STREAK_SD_SHARE of
    STEADY_MAX_SD_DB): named analog video by its channel, with no access point's gaps beside it.
    The same channel swinging as an access point's frames do (4 dB a sweep) is not."""
    def named(swing_db):
        scene = Scene(160, 16, 5_645_000, 20_000, period_us=409_000, seed=21)
        rng = np.random.default_rng(22)
        for sweep in range(160):
            if sweep < 60:
                if rng.random() < 0.5:
                    scene.add(sweep, 5_785_000, 16)
            else:
                scene.add(sweep, 5_785_000, 20 + swing_db * rng.standard_normal())
            if rng.random() < 0.2:
                scene.add(sweep, 5_765_000 + 40_000 * rng.integers(0, 2), 16)
        p = Pipeline(16, scene.start_khz, scene.step_khz)
        out = []
        for i in range(160):
            r = p.process(scene.power[i:i + 1].astype(np.float32), scene.t_us[i:i + 1],
                          scene.duration_us[i:i + 1])
            out += [(i, f, why) for f, why in zip(r.alerts["family"].tolist(),
                                                  r.alerts["reason"].tolist())]
        return out

    steady = named(0.2)
    assert steady and steady[0][1] == "analog_fm_video" and steady[0][0] >= 60
    assert "a run of chance" in steady[0][2]
    assert named(4.0) == []


def test_an_access_point_lifted_by_shadowing_is_not_named_by_one_channels_run():
    """A 40 MHz access point (its channels 5785 and 5805 MHz standing in 0.3 of the sweeps, its
    frames' share of each look swinging the reading 3 dB) lifted by slow shadowing for 24
    sweeps: then it stands in most sweeps on both its channels, 5785 in every one, 5805 in all
    but three (one in the latter half of 5785's run). From 5785's own past (~0.25) its run is a
    chance under STAND_CHANCE after 18 sweeps, but its sibling stood in 0.85 of the run's
    sweeps meanwhile: at that share the run is the access point's, no continuous emitter's
    (Pipeline._standing_named; docs/measured/det66.md). No alert, where the sibling's one gap
    in the run's latter half once named it analog video."""
    n_sweeps, lifted = 120, range(60, 84)
    gaps = {lifted[5], lifted[14], lifted[20]}  # 5805's sweeps under the floor while lifted
    scene = Scene(n_sweeps, 16, 5_645_000, 20_000, period_us=409_000, seed=31)
    rng = np.random.default_rng(32)
    for sweep in range(n_sweeps):
        for khz in (5_785_000, 5_805_000):
            if sweep in lifted:
                stands = khz == 5_785_000 or sweep not in gaps
            else:
                stands = rng.random() < 0.3
            if stands:
                scene.add(sweep, khz, 20 + 3 * rng.standard_normal())
    p = Pipeline(16, scene.start_khz, scene.step_khz)
    named = []
    for i in range(n_sweeps):
        r = p.process(scene.power[i:i + 1].astype(np.float32), scene.t_us[i:i + 1],
                      scene.duration_us[i:i + 1])
        named += list(zip(r.alerts["family"].tolist(), r.alerts["reason"].tolist()))
    assert named == []
