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


def test_read_slots_follow_the_revisit_blocks():
    """7 channels in blocks of 3 read twice: 0 1 2 0 1 2 3 4 5 3 4 5 6 6 (docs/firmware.md)."""
    slots = hopper_cycle.read_slots(7, 3, False)
    assert slots[0].tolist() == [0, 1, 2, 6, 7, 8, 12]
    assert slots[1].tolist() == [3, 4, 5, 9, 10, 11, 13]


def test_hits_at_one_place_of_the_cycle_coincide_and_scattered_ones_seldom():
    """Four cells hit at one place of FlySky's 61.6 ms cycle each (whole cycles apart, a few
    hundred us of read jitter) coincide in every pair; the same count of hits at random times
    on those cells coincide about as the chance says."""
    flysky = hopper_cycle.CYCLES[0]
    rng = np.random.default_rng(1)
    freq_khz = 2400_000.0 + 1325.0 * np.arange(64)
    cells = np.repeat([3, 20, 40, 60], 4)
    cycles = rng.integers(0, 100, cells.size)
    t_us = cells * 3850.0 + cycles * flysky.cycle_us + rng.uniform(-300, 300, cells.size)
    found, expected, span = hopper_cycle.coincidences(t_us, cells, freq_khz, flysky)
    assert found == 4 * 6 and span == 57 * 1325.0
    assert expected < 2
    scattered = rng.uniform(0, 8e6, cells.size)
    found, expected, _ = hopper_cycle.coincidences(scattered, cells, freq_khz, flysky)
    assert found <= 3


def test_flysky_alone_is_found_after_it_is_on_and_nothing_before():
    """flysky_alone (on at 5 s): its cycle found at every node within 8 s, nothing before."""
    scene = hopper_cycle.load_scene(SCENES / "flysky_alone.toml")
    stages = hopper_cycle.record(scene, 14.0)
    assert stages
    for st in stages:
        res = hopper_cycle.replay(st, 5.0, 6.0, [2e6, 4e6, 8e6], 3)
        assert res["flysky"]["before"] == 0.0
        assert res["flysky"]["first"] is not None and res["flysky"]["first"][0] < 8.0
        assert res["dsmx11"]["after"] < 6.0
