"""The compiled test of a node's sweeps for a busy wide emitter (straja._gateway_lane.wide_bursty,
which VideoProfiler.wide_bursty_node runs) against its NumPy definition
(profiling.wide_bursty_reference): the same answer on random sweeps with wide and narrow hot
runs, steady and swinging, of odd and even lengths, as bytes and as arrays."""
from __future__ import annotations

import random

import numpy as np
import pytest

from straja._gateway_lane import wide_bursty
from straja.gateway.profiling import HOT_DB, SWING_DB, wide_bursty_reference


def sweeps(rng: random.Random) -> tuple[list, int]:
    n = rng.choice((5, 8, 31, 64, 65))
    floor = rng.randrange(20, 60)
    centre, width = rng.randrange(n), rng.randrange(1, n + 1)
    level = rng.randrange(0, 20)
    held = []
    for _ in range(rng.choice((1, 4))):
        codes = np.array([floor + rng.randrange(-3, 4) for _ in range(n)])
        if rng.random() < 0.8:  # a hot run, its level steady or swinging sweep to sweep
            lo = max(0, centre - width // 2 - rng.randrange(2))
            codes[lo:lo + width] += level + rng.randrange(0, 1 + rng.choice((1, 4, 12)))
            if rng.random() < 0.3:
                codes[rng.randrange(n)] = floor  # a null in it
        codes = np.clip(codes, 0, 255).astype(np.uint8)
        held.append(codes.tobytes() if rng.random() < 0.5 else codes)
    return held, rng.randrange(n) if rng.random() < 0.3 else centre


def test_wide_bursty_is_its_numpy_reference_on_random_sweeps():
    rng = random.Random(22)
    answers = set()
    for case in range(3000):
        held, at = sweeps(rng)
        max_bins = rng.choice((1.0, 2.5, 3.0, 6.0, 17.5))
        want = wide_bursty_reference([np.frombuffer(h, np.uint8) for h in held], at, max_bins)
        assert wide_bursty(held, at, max_bins, 2 * HOT_DB, 2 * SWING_DB) == want, case
        answers.add(want)
    assert answers == {True, False}


def test_wide_bursty_refuses_a_channel_outside_the_sweep():
    with pytest.raises(IndexError):
        wide_bursty([bytes(8)], 8, 2.0, 6.0, 6.0)
