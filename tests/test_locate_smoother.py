"""The transmit-power smoother (locate/track.py, PowerSmoother) and the localiser's use of earlier
power estimates (`Localiser.locate(earlier=...)`, `Fix.band_powers`)."""
from __future__ import annotations

import numpy as np
import pytest

from straja.eval.localisation import Condition, run_tracked
from straja.locate.rss import EXPONENT_QUADRATURE, Localiser, PathLossModel
from straja.locate.track import PowerSmoother
from straja.rf import fspl_db, path_loss_db

FREQ_HZ = 5.8e9
SQUARE = np.array([(-500, -500, 6), (500, -500, 6), (500, 500, 6), (-500, 500, 6)], float)
HEIGHT_M = 56.0  # the model's emitter height above the masts


def powers(xy, eirp_dbm=20.0, shadowing=np.zeros(4), exponent=2.2):
    d = np.sqrt(((SQUARE[:, :2] - xy) ** 2).sum(1) + HEIGHT_M**2)
    return eirp_dbm - path_loss_db(d, FREQ_HZ, exponent) + shadowing


def test_a_fix_measures_the_transmit_power_at_each_exponent():
    # near the centre, without the power prior: the mirror (R^2 / r out) is beyond the search
    # region, so the noiseless powers have one place and one A at each exponent
    fix = Localiser(SQUARE).locate(range(4), powers((-60.0, 80.0)))
    estimate = fix.band_powers[0]
    assert estimate.shape == (len(EXPONENT_QUADRATURE), 2) and list(fix.band_powers) == [0]
    truth = 20.0 - fspl_db(1.0, FREQ_HZ)  # A at the assumed exponent: the model's own powers
    assert estimate[1, 0] == pytest.approx(truth, abs=0.1)
    assert np.all(estimate[:, 1] > 0) and estimate[0, 0] < estimate[1, 0] < estimate[2, 0]


def test_a_mirror_widens_the_fixs_transmit_power_variance():
    """Off the centre the powers fit the drone and its mirror (inversion in the nodes' circle):
    two places, two A; the fix's A at the assumed exponent spans both."""
    loc = Localiser(SQUARE)
    fix = loc.locate(range(4), powers((250.0, -200.0)), FREQ_HZ)
    mirrors = [c for c in fix.candidates if c.exponent == loc.model.exponent]
    assert len(mirrors) >= 2
    mean, variance = fix.band_powers[0][1]
    assert variance > 4 * float(np.linalg.inv(  # wider than the likeliest place's alone
        loc._information(mirrors[0].east_north, np.arange(4), np.ones((4, 1)), fix.sigma_db,
                         None, loc.model.exponent)[0])[2, 2])
    truth = 20.0 - fspl_db(1.0, FREQ_HZ)
    assert abs(mean - truth) < 2 * np.sqrt(variance)


def test_the_smoother_pools_fixes_sharing_shadowing_as_fewer_samples():
    smoother = PowerSmoother(correlation_s=20.0, floor_db=1.0)
    assert smoother.estimate is None
    smoother.add(0.0, [[-30.0, 16.0]] * 3)
    assert smoother.estimate[:, 0] == pytest.approx([-30.0] * 3)
    assert smoother.estimate[:, 1] == pytest.approx([17.0] * 3)  # 16 + the 1 dB floor squared
    smoother.add(20.0, [[-26.0, 16.0]] * 3)  # 20 s on: worth half a fix (1 + 20 / 20 sharing)
    mean, variance = smoother.estimate[0]
    assert mean == pytest.approx((-30.0 + 0.5 * -26.0) / 1.5)
    assert variance == pytest.approx(16.0 / 1.5 + 1.0)
    smoother.add(20.001, [[-10.0, 16.0]] * 3)  # the same instant again: next to nothing
    assert smoother.estimate[0, 0] == pytest.approx(mean, abs=0.01)


def test_the_smoother_skips_what_a_fix_could_not_say_and_refuses_bad_settings():
    smoother = PowerSmoother()
    smoother.add(0.0, [[-30.0, np.inf], [-28.0, 9.0], [-25.0, 9.0]])
    assert smoother.estimate is None  # one exponent without any estimate yet
    smoother.add(5.0, [[-31.0, 4.0], [-28.0, 9.0], [-25.0, 9.0]])
    assert smoother.estimate[0, 0] == pytest.approx(-31.0)
    for bad in (dict(correlation_s=-1.0), dict(floor_db=0.0)):
        with pytest.raises(ValueError):
            PowerSmoother(**bad)


def test_an_earlier_estimate_tightens_fixes_outside_and_bad_ones_are_refused():
    """Earlier fixes that knew the transmitter's A well (1 dB): at each exponent the A the
    truth implies there. Drones 500 m outside the square, where range is what one fix lacks
    (inside, A hardly couples with the position): smaller errors and regions."""
    rng = np.random.default_rng(8)
    model = PathLossModel()
    radius, error = {False: [], True: []}, {False: [], True: []}
    sites = {False: Localiser(SQUARE, model), True: Localiser(SQUARE, model)}
    for _ in range(12):
        direction = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
        xy = direction * (500.0 / np.abs(direction).max() + 500.0)
        dbm = powers(xy, shadowing=4.0 * rng.standard_normal(4))
        log_d = 10 * np.log10(np.sqrt(((SQUARE[:, :2] - xy) ** 2).sum(1) + HEIGHT_M**2))
        implied = [float(np.mean(dbm + (model.exponent + off * model.exponent_sigma) * log_d))
                   for off, _ in EXPONENT_QUADRATURE]
        earlier = {0: np.column_stack([implied, [1.0] * len(implied)])}
        for known, loc in sites.items():
            fix = loc.locate(range(4), dbm, FREQ_HZ, earlier=earlier if known else None)
            radius[known].append(fix.radius)
            error[known].append(float(np.hypot(*(fix.east_north - xy))))
    assert np.median(error[True]) < 0.8 * np.median(error[False])
    assert np.median(radius[True]) < 0.9 * np.median(radius[False])
    for bad in (np.zeros((2, 2)), np.array([[-30.0, 0.0]] * 3), np.array([[np.nan, 1.0]] * 3)):
        with pytest.raises(ValueError):
            sites[True].locate(range(4), dbm, FREQ_HZ, earlier={0: bad})


def test_smoothed_flights_keep_their_regions_honest():
    """Drones in flight (the evaluation's orbits, 4 dB): the fixes that take the track's pooled
    transmit power hold the truth in their 95 % region at least as often as the target's low
    end, and are no worse than fixes alone."""
    model = PathLossModel()
    cond = Condition("square", "inside", 4.0, 0.0)
    smoothed = run_tracked(cond, 3, model, seed=3, smooth=True)
    alone = run_tracked(cond, 3, model, seed=3, smooth=False)
    assert smoothed["fix_coverage"] >= 0.9 and smoothed["track_coverage"] >= 0.9
    assert smoothed["fix_median_error_m"] <= 1.1 * alone["fix_median_error_m"]
