"""bench/hopper_cycle.py: a per-packet hopper's hits on one cell repeat its hop table's cycle at
exact read times (docs/measured/bt74.md)."""
import importlib.util
import sys

import numpy as np

from straja.paths import REPO, SCENES

sys.path.insert(0, str(REPO / "bench"))  # (its `from band_levels import record`)
spec = importlib.util.spec_from_file_location("hopper_cycle", REPO / "bench" / "hopper_cycle.py")
hopper_cycle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(hopper_cycle)


FREQ_KHZ = 2400_000.0 + 1325.0 * np.arange(64)


def on_a_comb(gap_us, window_us):
    """Whether a gap is a whole number of mains periods (50 or 60 Hz) within window_us, or of
    the 102.4 ms beacon interval within a beacon's 1.9 ms and a read."""
    return any(min(gap_us % p, p - gap_us % p) < w for p, w in (
        (20_000.0, window_us), (1e6 / 60, window_us), (102_400.0, max(window_us, 2150.0))))


def test_hits_at_one_place_of_the_cycle_coincide_and_scattered_ones_seldom():
    """Four cells hit at one place of FlySky's 61.6 ms cycle each (whole cycles apart, a few
    hundred us of read jitter) coincide in every pair but those on a resident's comb (left
    out); the same count of hits at random times on those cells coincide about as the chance
    says."""
    flysky = hopper_cycle.CYCLES[0]
    rng = np.random.default_rng(1)
    cells = np.repeat([3, 20, 40, 60], 4)
    cycles = rng.integers(0, 100, cells.size)
    t_us = cells * 3850.0 + cycles * flysky.cycle_us + rng.uniform(-300, 300, cells.size)
    at = np.array([flysky.cycle_us])
    found, pairs, span = hopper_cycle.coincidences(t_us, cells, FREQ_KHZ, flysky, at)
    usable = sum(not on_a_comb(abs(t_us[i] - t_us[j]), flysky.window_us)
                 for c in range(4) for i in range(4 * c, 4 * c + 4) for j in range(i + 1, 4 * c + 4))
    assert 12 <= found[0] == usable == pairs < 4 * 6 and span == 57 * 1325.0
    assert pairs * hopper_cycle.uniform_chance(flysky) < 2
    scattered = rng.uniform(0, 8e6, cells.size)
    assert hopper_cycle.coincidences(scattered, cells, FREQ_KHZ, flysky, at)[0][0] <= 3


def test_an_ovens_mains_comb_is_left_out_where_it_beats_with_a_cycle():
    """Hits on one cell at one phase of a 50 Hz mains, 38 periods apart (760 ms: 3 DSMX 11 ms
    cycles and 1 ms, docs/measured/bt74.md), would all coincide with DSMX's cycle: a whole number
    of mains periods apart, they are left out, pairs and coincidences alike."""
    dsmx = hopper_cycle.CYCLES[1]
    cells = np.repeat([42, 45, 48], 5)
    t_us = np.tile(np.arange(5) * 760_000.0, 3) + cells * 100.0
    found, pairs, _ = hopper_cycle.coincidences(t_us, cells, FREQ_KHZ, dsmx,
                                                np.array([dsmx.cycle_us]))
    assert (found[0], pairs) == (0, 0)


def test_an_access_points_beacons_are_left_out_where_they_beat_with_a_cycle():
    """An access point's beacons read on one cell every 12 sweeps (2151.0 ms, 21 beacon
    intervals and 0.6 ms) would coincide with DSMX 11 ms's second place (8.5 cycles, 2150.5 ms):
    the urban site's false finding (docs/measured/cyc96.md); a whole number of beacon intervals
    apart within a beacon's airtime, they are left out. Hits 9 DSMX cycles apart (2277 ms, off
    every comb) all coincide."""
    dsmx = hopper_cycle.CYCLES[1]
    cells = np.repeat([30, 33, 36], 4)
    t_us = np.tile(np.arange(4) * 12 * hopper_cycle.SWEEP_US, 3) + cells * 1400.0
    at = np.array([dsmx.cycle_us])
    assert hopper_cycle.coincidences(t_us, cells, FREQ_KHZ, dsmx, at)[:2][1] == 0
    off_comb = np.tile(np.arange(4) * 9 * dsmx.cycle_us, 3) + cells * 1400.0
    found, pairs, _ = hopper_cycle.coincidences(off_comb, cells, FREQ_KHZ, dsmx, at)
    assert pairs == found[0] == 18


def test_decoy_cycles_keep_off_the_combs_within_their_range():
    """Decoys 2-20 % from each protocol's cycle, none a whole number of mains periods or of a
    sweep (or a half, third or quarter of one) within the cycle's window."""
    for cycle in hopper_cycle.CYCLES:
        decoys = hopper_cycle.decoy_cycles(cycle)
        assert decoys.size == hopper_cycle.DECOYS
        share = np.abs(decoys / cycle.cycle_us - 1)
        assert share.min() >= 0.02 - 1e-9 and share.max() <= 0.20 + 1e-9
        sweep = hopper_cycle.SWEEP_US
        for period in (20_000.0, 1e6 / 60, sweep, sweep / 2, sweep / 3, sweep / 4):
            off = decoys % period
            assert np.minimum(off, period - off).min() >= cycle.window_us


def test_the_lattice_chance_is_the_rate_of_a_resident_hitting_reads_at_random():
    """A resident hitting a cell's reads at random (a sweep apart, the second read of a sweep
    the revisit's 3 dwells later) coincides with each cycle at the lattice's chance, which is
    not the uniform one: within 2 s only the reads 11 sweeps apart (1971.75 ms, 32 cycles and
    0.55 ms) coincide with FlySky's cycle, a quarter of the uniform chance."""
    flysky = hopper_cycle.CYCLES[0]
    revisit_us = 3 * 179_200 / 128
    cycles_us = np.array([flysky.cycle_us, 1.1 * flysky.cycle_us])
    short = hopper_cycle.lattice_chance(flysky, cycles_us, 2e6, revisit_us)[0]
    assert 0 < short < 0.3 * hopper_cycle.uniform_chance(flysky)
    chance = hopper_cycle.lattice_chance(flysky, cycles_us, 8e6, revisit_us)
    rng = np.random.default_rng(3)
    sweeps = np.arange(int(8e6 // hopper_cycle.SWEEP_US) + 1) * hopper_cycle.SWEEP_US
    reads = np.concatenate([sweeps, sweeps + revisit_us])
    found, pairs = np.zeros(2), 0
    for cell in range(400):
        t_us = reads[rng.random(reads.size) < 0.2]
        k, p, _ = hopper_cycle.coincidences(t_us, np.zeros(t_us.size, int), FREQ_KHZ, flysky,
                                            cycles_us)
        found, pairs = found + k, pairs + p
    assert np.allclose(found / pairs, chance, rtol=0.1)
    assert abs(chance[0] - hopper_cycle.uniform_chance(flysky)) > 0.1 * chance[0]


def test_flysky_alone_is_found_after_it_is_on_and_nothing_before():
    """flysky_alone (on at 5 s): its cycle found at every node within 8 s, nothing before."""
    scene = hopper_cycle.load_scene(SCENES / "flysky_alone.toml")
    stages = hopper_cycle.record(scene, 14.0)
    assert stages
    for st in stages:
        res = hopper_cycle.replay(hopper_cycle.counted_hits(st), st["stage"].freq_khz, 5.0, 6.0,
                                  [2e6, 4e6, 8e6], "lattice", 3 * 179_200 / 128)
        assert res["flysky"]["before"] == 0.0
        assert res["flysky"]["first"] is not None and res["flysky"]["first"][0] < 8.0
        assert res["dsmx11"]["after"] < 6.0
