"""bench/level_envelope.py: a channel's lower envelope judged per level band, replayed
(docs/measured/late76.md)."""
import importlib.util

import numpy as np
import pytest

from straja.paths import REPO

spec = importlib.util.spec_from_file_location("level_envelope",
                                              REPO / "bench" / "level_envelope.py")
level_envelope = importlib.util.module_from_spec(spec)
spec.loader.exec_module(level_envelope)

PERIOD_S = 0.408
N_BINS = 4


def _sweeps(readings_db: np.ndarray) -> list[tuple]:
    """record()'s tuples for one node: sweep k at k periods, bins 20 MHz apart from 5745 MHz,
    a bin detected where it reads 3 dB or more over the floor."""
    return [(k * PERIOD_S, 5_745_000.0, 20_000.0, row, row >= 3.0)
            for k, row in enumerate(readings_db)]


def _access_point(rng, n: int, lo_db: float, hi_db: float) -> np.ndarray:
    """An access point on bin 1: its frames fill half the looks (lo_db to hi_db), the floor the
    rest; the other bins at the floor."""
    readings = np.zeros((n, N_BINS))
    framed = rng.random(n) < 0.5
    readings[framed, 1] = rng.uniform(lo_db, hi_db, framed.sum())
    return readings


def test_a_steady_emitter_over_an_access_points_level_passes_within_its_band_run():
    """A video come on at +10 dB over an access point read at +3-6 dB: its channel stands at 6 dB
    (the lowest band over the access point's readings) every sweep, where the access point never
    reached, so the run passes after STAND_MIN_SWEEPS, steady; det55's 3 dB run would need
    log(4e-11) / log(0.5) = 34 sweeps."""
    rng = np.random.default_rng(7)
    readings = _access_point(rng, 200, 3.0, 6.0)
    readings[120:, 1] = 10.0 + rng.uniform(-0.5, 0.5, 80)
    passes = level_envelope.first_passes(_sweeps(readings))
    assert [(freq, kind) for freq, kind, *_ in passes] == [(5765.0, "any"), (5765.0, "steady")]
    _, _, t_s, level, run, before = passes[1]
    assert run == level_envelope.pipeline.STAND_MIN_SWEEPS and before == 0.0 and level == 6.0
    assert t_s == pytest.approx((120 + run - 1) * PERIOD_S)


def test_an_access_point_lifted_over_its_past_level_is_not_steady():
    """An access point lifted 10 dB (shadowing) and saturated: it stands over its past level in
    every sweep, but its readings swing with its frames, so no steady pass."""
    rng = np.random.default_rng(8)
    readings = _access_point(rng, 200, 3.0, 6.0)
    readings[120:, 1] = rng.uniform(8.0, 18.0, 80)
    kinds = {kind for _, kind, *_ in level_envelope.first_passes(_sweeps(readings))}
    assert kinds == {"any"}


def test_quiet_sweeps_left_out_of_the_record_stood_nowhere():
    """Sweeps that never reached the later stages (none recorded between two a period apart)
    end the run: a steady emitter missed in one sweep starts its run again after it."""
    rng = np.random.default_rng(9)
    readings = _access_point(rng, 200, 3.0, 6.0)
    readings[120:, 1] = 10.0
    sweeps = [s for k, s in enumerate(_sweeps(readings)) if k != 124]
    steady = [row for row in level_envelope.first_passes(sweeps) if row[1] == "steady"]
    _, _, t_s, _, run, before = steady[0]
    # (judged against a past that now holds its own first 4 sweeps: a longer run)
    chance = level_envelope.pipeline.STAND_CHANCE
    assert before > 0 and before ** run <= chance < before ** (run - 1)
    assert t_s == pytest.approx((125 + run - 1) * PERIOD_S)
