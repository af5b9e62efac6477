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


def mains_multiple(gap_us, window_us):
    """Whether a gap is a whole number of mains periods (50 or 60 Hz) within window_us."""
    return any(min(gap_us % p, p - gap_us % p) < window_us for p in (20_000.0, 1e6 / 60))


def test_hits_at_one_place_of_the_cycle_coincide_and_scattered_ones_seldom():
    """Four cells hit at one place of FlySky's 61.6 ms cycle each (whole cycles apart, a few
    hundred us of read jitter) coincide in every pair but those a whole number of mains periods
    apart (left out); the same count of hits at random times on those cells coincide about as
    the chance says."""
    flysky = hopper_cycle.CYCLES[0]
    rng = np.random.default_rng(1)
    freq_khz = FREQ_KHZ
    cells = np.repeat([3, 20, 40, 60], 4)
    cycles = rng.integers(0, 100, cells.size)
    t_us = cells * 3850.0 + cycles * flysky.cycle_us + rng.uniform(-300, 300, cells.size)
    found, expected, span = hopper_cycle.coincidences(t_us, cells, freq_khz, flysky)
    usable = sum(not mains_multiple(abs(t_us[i] - t_us[j]), flysky.window_us)
                 for c in range(4) for i in range(4 * c, 4 * c + 4) for j in range(i + 1, 4 * c + 4))
    assert 12 <= found == usable < 4 * 6 and span == 57 * 1325.0
    assert expected < 2
    scattered = rng.uniform(0, 8e6, cells.size)
    found, expected, _ = hopper_cycle.coincidences(scattered, cells, freq_khz, flysky)
    assert found <= 3


def test_an_ovens_mains_comb_is_left_out_where_it_beats_with_a_cycle():
    """Hits on one cell at one phase of a 50 Hz mains, 38 periods apart (760 ms: 3 DSMX 11 ms
    cycles and 1 ms, docs/measured/bt74.md), would all coincide with DSMX's cycle: a whole number
    of mains periods apart, they are left out, pairs and coincidences alike."""
    dsmx = hopper_cycle.CYCLES[1]
    cells = np.repeat([42, 45, 48], 5)
    t_us = np.tile(np.arange(5) * 760_000.0, 3) + cells * 100.0
    assert hopper_cycle.coincidences(t_us, cells, FREQ_KHZ, dsmx)[:2] == (0, 0.0)


def test_flysky_alone_is_found_after_it_is_on_and_nothing_before():
    """flysky_alone (on at 5 s): its cycle found at every node within 8 s, nothing before."""
    scene = hopper_cycle.load_scene(SCENES / "flysky_alone.toml")
    stages = hopper_cycle.record(scene, 14.0)
    assert stages
    for st in stages:
        res = hopper_cycle.replay(st, 5.0, 6.0, [2e6, 4e6, 8e6])
        assert res["flysky"]["before"] == 0.0
        assert res["flysky"]["first"] is not None and res["flysky"]["first"][0] < 8.0
        assert res["dsmx11"]["after"] < 6.0
