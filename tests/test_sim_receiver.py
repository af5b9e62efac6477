"""Received power against the path-loss formula, the thermal floor, timing of reads, sweep."""
import math

import numpy as np
import pytest

from straja.sim import scene_from_dict
from straja.rf import fspl_db, path_loss_db
from straja.sim.propagation import KT_DBM_HZ


def scene(emitters, prop=None, nf=6.0, seed=5):
    return scene_from_dict({"scene": {"duration_s": 100.0, "seed": seed},
                            "propagation": prop or {"fading": "none"},
                            "node": [{"name": "n", "position_m": [0.0, 0.0, 0.0],
                                      "noise_figure_db": nf}],
                            "emitter": emitters})


def test_thermal_floor_with_nothing_on_air():
    rf = scene([], nf=7.5).node("n")
    for bw in (1e3, 1e6, 20e6):
        expect = -174 + 10 * math.log10(bw) + 7.5
        assert rf.band_power_dbm(2.4e9, bw, 1.0, 1.01) == pytest.approx(expect, abs=0.05)
    assert np.allclose(rf.sweep([5.8e9, 915e6], 1e6, 0.0, 0.001), -174 + 60 + 7.5, atol=0.05)


def test_fspl_and_log_distance():
    # Friis at 2.4 GHz, 1 km: 100.05 dB
    assert fspl_db(1000.0, 2.4e9) == pytest.approx(100.05, abs=0.01)
    assert path_loss_db(100.0, 2.4e9, 3.0, 1.0) == pytest.approx(fspl_db(1.0, 2.4e9) + 60.0)


@pytest.mark.parametrize("exponent,d", [(2.0, 300.0), (3.2, 1500.0)])
def test_received_power_matches_formula(exponent, d):
    """Continuous emitter fully inside the band, no fading: power = EIRP - PL(d) exactly."""
    sc = scene([{"name": "v", "kind": "analog_video", "channel": "F4", "eirp_dbm": 30.0,
                 "bw_mhz": 1.0, "position_m": [d, 0.0, 0.0]}],
               {"exponent": exponent, "fading": "none"})
    rf = sc.node("n")
    expect = 30.0 - path_loss_db(d, 5800e6, exponent)
    got = rf.band_power_dbm(5800e6, 40e6, 2.0, 2.1)
    noise = KT_DBM_HZ + 10 * math.log10(40e6) + 6
    assert 10 ** (got / 10) - 10 ** (noise / 10) == pytest.approx(10 ** (expect / 10), rel=0.01)


@pytest.mark.parametrize("coherence_mhz,sd_db", [(20.0, (2.0, 4.0)), (1.0, (0.3, 1.0))])
def test_mean_over_rician_fading_is_the_formula(coherence_mhz, sd_db):
    """Per-packet fading has mean 1: the mean received power over many packets is the formula.
    A 20 MHz video channel within one coherence band fades flat (K = 3 dB: ~3 dB of scatter);
    over 20 bands its power averages their fades (about 1/sqrt(20) of that)."""
    sc = scene([{"name": "v", "kind": "analog_video", "channel": "A1", "eirp_dbm": 20.0,
                 "chunk_s": 0.001, "position_m": [200.0, 0.0, 0.0]}],
               {"exponent": 2.5, "fading": "rician", "rician_k_db": 3.0,
                "coherence_bw_mhz": coherence_mhz})
    rf = sc.node("n")
    t = np.arange(0.0, 20.0, 0.001) + 0.0002
    p = rf.sweep(5865e6, 40e6, t, t + 1e-5)
    noise = 10 ** ((KT_DBM_HZ + 10 * math.log10(40e6) + 6) / 10)
    mean_db = 10 * np.log10(np.mean(10 ** (p / 10)) - noise)
    expect = 20.0 - path_loss_db(200.0, 5865e6, 2.5)
    assert mean_db == pytest.approx(expect, abs=0.15)
    assert sd_db[0] < np.std(p) < sd_db[1]                  # and it does fade, this much


def test_shadowing_is_per_link_lognormal():
    sigmas = []
    for seed in range(40):
        sc = scene([{"name": "v", "kind": "analog_video", "channel": "A1", "eirp_dbm": 20.0,
                     "position_m": [100.0, 0.0, 0.0]}],
                   {"exponent": 2.0, "fading": "none", "shadowing_sigma_db": 6.0}, seed=seed)
        sigmas.append(float(sc.node("n").mean_rx_dbm(0, 1.0, 5865e6)
                            - (20.0 - path_loss_db(100.0, 5865e6, 2.0))))
    assert 3.5 < np.std(sigmas) < 8.5 and abs(np.mean(sigmas)) < 3.0


def test_read_timing_hop_and_silence():
    """A read between ELRS packets sees noise; a read half over a packet sees half its power
    (a packet-long read starting mid-packet: the rest of the read falls in the silent gap)."""
    sc = scene([{"name": "e", "kind": "elrs", "rate": "50", "eirp_dbm": 20.0,
                 "position_m": [50.0, 0.0, 0.0]}])
    rf, em = sc.node("n"), sc.emitters[0]
    pk = em.window(0, 1.0, 1.1)
    f, a, b = pk.f[0], pk.t0[0], pk.t1[0]
    noise = KT_DBM_HZ + 60 + 6
    assert rf.band_power_dbm(f, 1e6, b + 1e-4, b + 5e-4) == pytest.approx(noise, abs=1e-9)
    full = rf.band_power_dbm(f, 1e6, a, b)
    half = rf.band_power_dbm(f, 1e6, (a + b) / 2, (a + b) / 2 + (b - a))
    lin = lambda x: 10 ** (x / 10) - 10 ** (noise / 10)
    assert lin(half) == pytest.approx(lin(full) / 2, rel=1e-6)
    assert rf.band_power_dbm(f, 1e6, (a + b) / 2, (a + b) / 2) == pytest.approx(full, abs=1e-6)
    # the wrong channel (5 MHz off) sees only the transmitter's sidelobes
    assert rf.band_power_dbm(f + 5e6, 1e6, a, b) < full - 40


def test_occupied_bandwidth_shapes():
    """Rect: power spreads evenly; gauss: 99 % inside the occupied bandwidth."""
    sc = scene([{"name": "d", "kind": "ofdm_video", "centre_mhz": 5800.0, "bw_mhz": 20.0,
                 "droneid": False, "position_m": [10.0, 0.0, 0.0]},
                {"name": "v", "kind": "analog_video", "channel": "A8", "position_m": [10.0, 0.0, 0.0]}])
    rf = sc.node("n")
    full = rf.band_power_dbm(5800e6, 20e6, 1.0, 1.1)
    quarter = rf.band_power_dbm(5795e6 - 2.5e6, 5e6, 1.0, 1.1)
    assert full - quarter == pytest.approx(10 * math.log10(4), abs=0.1)
    wide = rf.band_power_dbm(5725e6, 20e6, 1.0, 1.1)
    centre = rf.band_power_dbm(5725e6, 2e6, 1.0, 1.1)
    assert 10 * math.log10(10 ** (centre / 10) / 10 ** (wide / 10)) > 10 * math.log10(0.1) + 1


def test_sweep_matches_scalar_reads():
    sc = scene([{"name": "w", "kind": "wifi", "channel": 6, "position_m": [30.0, 0.0, 0.0]},
                {"name": "e", "kind": "elrs", "rate": "500", "position_m": [300.0, 0.0, 0.0]},
                {"name": "b", "kind": "ble_adv", "interval_s": 0.02, "position_m": [5.0, 0.0, 0.0]}],
               {"fading": "rayleigh"})
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 5, 3000)
    f = rng.uniform(2400e6, 2480e6, 3000)
    dwell = rng.choice([0.0, 1e-4, 3e-3], 3000)
    vec = sc.node("n").sweep(f, 1e6, t, t + dwell)
    one = [sc.node("n").band_power_dbm(a, 1e6, b, b + c) for a, b, c in zip(f, t, dwell)]
    assert np.allclose(vec, one, atol=0.01)
    assert vec.max() > -60                                   # it saw transmissions


def test_antenna_band():
    sc = scene_from_dict({"scene": {"duration_s": 10.0},
                          "propagation": {"fading": "none"},
                          "node": [{"name": "n", "position_m": [0, 0, 0],
                                    "front_end": [{"name": "rx5808", "antenna_gain_dbi": 5.0,
                                                   "antenna_band_mhz": [5600.0, 6000.0]},
                                                  {"name": "cc2500", "antenna_gain_dbi": 2.0}]}],
                          "emitter": [{"name": "v", "kind": "analog_video", "channel": "R1",
                                       "position_m": [100.0, 0, 0]}]})
    five = sc.node("n", front_end="rx5808").mean_rx_dbm(0, 1.0, 5658e6)
    two = sc.node("n", front_end=1).mean_rx_dbm(0, 1.0, 5658e6)
    assert five - two == pytest.approx(3.0)
    assert sc.node("n", "rx5808").mean_rx_dbm(0, 1.0, 2400e6) == pytest.approx(
        sc.node("n", "cc2500").mean_rx_dbm(0, 1.0, 2400e6) - 20 + 3)


def test_per_call_cost(benchmark_reads=3000):
    """band_power_dbm stays cheap in a busy scene (an interval index, not a scan)."""
    import time
    from straja.sim import load_scene
    from straja.paths import SCENES
    rf = load_scene(SCENES / "two_drones.toml").node("n1", "cc2500")
    t = 50.0 + np.arange(benchmark_reads) * 3e-4
    start = time.process_time()  # the CPU it costs: wall time on a loaded machine is the load's
    for i, tt in enumerate(t):
        rf.band_power_dbm(2400e6 + (i % 80) * 1e6, 1e6, tt, tt + 2.5e-4)
    per_call = (time.process_time() - start) / benchmark_reads
    assert per_call < 1e-3                                  # > 1000 reads a CPU-second


def test_signal_power_by_modulation():
    """What a LoRa receiver's channel activity detection hears: the LoRa emitters' power only,
    without noise; band_power_dbm is the same energy plus the noise."""
    sc = scene([{"name": "lora", "kind": "elrs", "domain": "FCC915", "rate": "25",
                 "eirp_dbm": 20.0, "position_m": [200.0, 0.0, 0.0]},
                {"name": "gfsk", "kind": "crossfire", "mode": "150", "eirp_dbm": 20.0,
                 "position_m": [200.0, 0.0, 0.0]}])
    rf = sc.node("n")
    assert [e.modulation for e in sc.emitters] == ["lora", "gfsk"]
    for em, mod in zip(sc.emitters, ("lora", "gfsk")):
        other = "gfsk" if mod == "lora" else "lora"
        pk = em.window(0, 1.0, 1.2)
        f, a, b = pk.f[0], pk.t0[0], pk.t1[0]
        own = rf.signal_power_dbm(f, 600e3, a, b, mod)
        assert own > rf.noise_dbm(600e3) + 20
        total = 10 * np.log10(10 ** (own / 10) + 10 ** (rf.noise_dbm(600e3) / 10))
        assert rf.band_power_dbm(f, 600e3, a, b) >= total - 1e-6  # plus the other, if it overlaps
        assert rf.signal_power_dbm(f, 600e3, a, b, other) < own - 20 or \
            rf.signal_power_dbm(f, 600e3, a, b, other) == -np.inf


def plain_energy(rf, freq_hz, bw_hz, t0_s, t1_s, modulation):
    """The oracle of NodeRF._energy: every stream, every block that may overlap the window,
    every packet in it, with no memo."""
    from bisect import bisect_left, bisect_right
    from straja.sim.emitters import BLOCK_S
    from straja.sim.receiver import _spectral_fraction_1
    lo, hi = freq_hz - bw_hz / 2, freq_hz + bw_hz / 2
    energy = 0.0
    for e, s, em, st in rf._sources:
        if st.f_hi <= lo or st.f_lo >= hi or (modulation and em.modulation != modulation):
            continue
        k0 = max(math.floor((t0_s - st.lookback_s) / BLOCK_S), 0)
        for k in range(k0, max(math.floor(t1_s / BLOCK_S), 0) + 1):
            rb = rf._block(e, s, k)
            for m in range(bisect_right(rb.t1, t0_s), bisect_left(rb.t0, t1_s)):
                overlap = min(t1_s, rb.t1[m]) - max(t0_s, rb.t0[m])
                energy += rb.p[m] * overlap * _spectral_fraction_1(
                    st.shape, rb.f[m], rb.bw[m], lo, hi, st.sidelobe)
    return energy


@pytest.mark.parametrize("name,front_end,band_mhz,modulation", [
    ("urban_24ghz_background", "cc2500", (2400, 2484), None),
    ("subghz_lora_background", "sx1262", (860, 930), None),
    ("subghz_lora_background", "sx1262", (860, 930), "lora"),
    ("ocusync_40_straddling_and_analog_r2", "rx5808", (5640, 5950), None),
])
def test_energy_equals_the_plain_loop(name, front_end, band_mhz, modulation):
    """The memoised per-band sums are the plain loop's, read for read: a node's channels read
    over and over (the memo's hits), off-grid ones (its misses), instantaneous and long windows,
    times in any order."""
    from straja.sim import load_scene
    from straja.paths import SCENES
    sc = load_scene(SCENES / f"{name}.toml")
    rf = sc.node(next(iter(sc.nodes)), front_end)
    rng = np.random.default_rng(7)
    n = 3000
    grid = np.linspace(band_mhz[0], band_mhz[1], 32) * 1e6
    f = np.where(rng.random(n) < 0.7, rng.choice(grid, n), rng.uniform(*band_mhz, n) * 1e6)
    bw = rng.choice([250e3, 1e6, 20e6], n)
    t = np.sort(rng.uniform(0.0, min(sc.duration_s, 20.0), n))
    t[::5] = rng.uniform(0.0, min(sc.duration_s, 20.0), len(t[::5]))  # some reads back in time
    dwell = rng.choice([1e-9, 1e-4, 2.5e-4, 5e-3, 1.3], n)
    seen = 0
    for args in zip(f.tolist(), bw.tolist(), t.tolist(), (t + dwell).tolist()):
        got = rf._energy(*args, modulation)
        assert got == plain_energy(rf, *args, modulation)  # the same terms in the same order
        seen += got > 0
    assert seen >= 10  # the reads did see transmissions


def test_a_band_handle_reads_what_band_power_dbm_does():
    """NodeRF.band(f, bw) (a tuned chip's handle: the band's streams and noise found once) gives
    band_power_dbm's value exactly, for instantaneous and long windows, times in any order."""
    from straja.sim import load_scene
    from straja.paths import SCENES
    sc = load_scene(SCENES / "urban_24ghz_background.toml")
    rf = sc.node(next(iter(sc.nodes)), "cc2500")
    rng = np.random.default_rng(11)
    bands = [(f, bw) for f in (2405e6, 2437e6, 2462.25e6) for bw in (812.5e3, 20e6)]
    handles = {band: rf.band(*band) for band in bands}
    t = rng.uniform(0.0, min(sc.duration_s, 10.0), 600)
    dwell = rng.choice([0.0, 1e-4, 2.5e-4, 0.3], 600)
    seen = 0
    for i, (a, d) in enumerate(zip(t.tolist(), dwell.tolist())):
        band = bands[i % len(bands)]
        got = handles[band](a, a + d)
        assert got == rf.band_power_dbm(*band, a, a + d)
        seen += got > rf.noise_dbm(band[1]) + 3
    assert seen >= 10  # the reads did see transmissions


def test_prepare_makes_the_next_blocks_of_the_streams_read_as_a_read_would():
    """A virtual board makes the scene's next blocks ahead (NodeRF.prepare, in an envelope
    block's wait): those of the streams read so far, one a call, the reads after them the same
    as a node whose reads made them."""
    emitters = [{"name": "lora", "kind": "elrs", "domain": "FCC915", "rate": "25",
                 "eirp_dbm": 20.0, "position_m": [200.0, 0.0, 0.0]},
                {"name": "v", "kind": "analog_video", "channel": "F4", "eirp_dbm": 30.0,
                 "position_m": [300.0, 0.0, 0.0]}]
    ahead, plain = scene(emitters).node("n"), scene(emitters).node("n")
    for rf in (ahead, plain):
        rf.band_power_dbm(915e6, 2e6, 0.4, 0.5)  # the LoRa link's streams only
    read = {(e, s) for e, s, _ in ahead._cache}
    made = 0
    while ahead.prepare(0.5):
        made += 1
    assert made == len(read) and not ahead.prepare(0.7)
    assert {(e, s) for e, s, k in ahead._cache if k == 1} == read  # the video is not read
    t = np.arange(1.0, 1.9, 0.01)
    assert np.array_equal(ahead.sweep(915e6, 2e6, t, t + 1e-3), plain.sweep(915e6, 2e6, t, t + 1e-3))
