"""bench/subghz_clock_gate.py: a sub-GHz link's packet clock as a gate on the GFSK names,
replayed (docs/measured/res101.md). Only its arithmetic: install() wraps the detector's
functions for the process, which a test must not do."""
import importlib.util

import numpy as np
import pytest

from straja.detect.bursts import BURST
from straja.paths import REPO

spec = importlib.util.spec_from_file_location("subghz_clock_gate",
                                              REPO / "bench" / "subghz_clock_gate.py")
clock_gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(clock_gate)

N_BINS, SWEEP_US, PERIOD_US = 64, 51_200.0, 51_250
START_KHZ, STEP_KHZ = 902_000.0, 400.0


class OneTrack:
    """A tracker of one track that takes every burst it is given (its last one counted)."""

    def __init__(self):
        self.row = np.zeros(1, [("track_id", "i8"), ("n_bursts", "i4"),
                                ("t_last_start_us", "i8"), ("f_last_khz", "f8")])
        self.row["track_id"] = 7

    def take(self, burst) -> None:
        self.row["n_bursts"] += 1
        self.row["t_last_start_us"] = burst["t_start_us"]
        self.row["f_last_khz"] = burst["centre_khz"]

    def snapshot(self) -> np.ndarray:
        return self.row.copy()


def _z(on_air) -> tuple[float, int]:
    """(Z, hits) of a track hit once a sweep on a random channel, where on_air(t_s) says a packet was."""
    rng = np.random.default_rng(101)
    gate, tracker = clock_gate.ClockGate(6.0), OneTrack()
    gate.geometry, gate.tracker = (N_BINS, SWEEP_US), id(tracker)
    for sweep in range(400):
        ch = int(rng.integers(0, N_BINS))
        t0 = sweep * PERIOD_US
        if not on_air((t0 + (ch + 0.5) * SWEEP_US / N_BINS) / 1e6):
            continue
        burst = np.zeros(1, BURST)
        burst["t_start_us"], burst["bin_lo"], burst["bin_hi"] = t0, ch, ch
        burst["centre_khz"] = START_KHZ + STEP_KHZ * ch
        tracker.take(burst[0])
        gate.count(tracker, burst)
    return gate.z(7), int(tracker.row["n_bursts"][0])


def test_hits_read_while_a_clocked_link_is_on_air_are_locked_to_its_period():
    """Crossfire 150 Hz: 2.2 ms on air every 6.667 ms; read only then, the hits cluster: R
    about the sinc of a third (0.83), blurred by the channel's 0.8 ms dwell."""
    z, n = _z(lambda t: (t * 150.0) % 1.0 < 2.2e-3 * 150.0)
    assert n > 100 and z / n > 0.7 ** 2


def test_hits_at_random_times_are_not():
    """Residents at random times (hit in about a third of the sweeps, as the link): Z stays
    within the exponential's range at every period."""
    rng = np.random.default_rng(7)
    z, n = _z(lambda t: rng.random() < 0.33)
    assert n > 100 and z < 6.0


def test_a_scene_that_does_not_load_is_a_message_and_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        clock_gate.main(["no_such_scene.toml"])
    assert stop.value.code == 2 and "no_such_scene.toml" in capsys.readouterr().err
