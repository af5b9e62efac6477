"""The site's path-loss exponent learnt from its fixes (`SiteExponent`, docs/localisation.md,
"The site's exponent")."""
import numpy as np
import pytest

from straja.eval import localisation as evaluate
from straja.locate import Localiser, PathLossModel, SiteExponent
from straja.locate.rss import EXPONENT_SIGMA_FLOOR, Fix

SQUARE = np.array([[-500, -500, 6], [500, -500, 6], [500, 500, 6], [-500, 500, 6]], float)
FREQ = 5.8e9


def _flights(loc, exponent, flights, fixes, rng):
    """Drones at 30-120 m over the masts, each with its own transmit power, inside the square or
    500 m outside it, a few fixes a flight with new 4 dB shadowing each: the site learns."""
    for flight in range(flights):
        xy = evaluate._drone_position(rng, ("inside", "outside")[flight % 2])
        height, eirp = 6 + rng.uniform(30, 120), rng.uniform(0, 30)
        for _ in range(fixes):
            xy = xy + rng.normal(0, 50, 2)
            dbm = evaluate._received(SQUARE, xy, height, exponent, eirp,
                                     4.0 * rng.standard_normal(4), np.full(4, FREQ), np.arange(4))
            fix = loc.locate(np.arange(4), dbm, FREQ)
            loc.exponent.add(fix, flight)
        loc.exponent.end(flight)


@pytest.mark.parametrize("exponent", [1.8, 2.6])
def test_the_site_learns_a_known_exponent_within_its_stated_spread(exponent):
    loc = Localiser(SQUARE, exponent=SiteExponent(PathLossModel()))
    _flights(loc, exponent, 16, 4, np.random.default_rng(3))
    learnt = loc.exponent
    assert learnt.sigma < 0.5 * PathLossModel().exponent_sigma
    assert abs(learnt.mean - exponent) <= 2 * learnt.sigma
    # the solver's quadrature is about the learnt exponent now, over its spread with the
    # drones' scatter (each flight's own exponent about the site's), never wider than a new site's
    assert learnt.sigma <= learnt.spread <= PathLossModel().exponent_sigma
    dbm = evaluate._received(SQUARE, np.zeros(2), 60.0, exponent, 20.0, np.zeros(4),
                             np.full(4, FREQ), np.arange(4))
    found = {c.exponent for c in loc.locate(np.arange(4), dbm, FREQ).candidates}
    assert all(abs(n - learnt.mean) <= 1.74 * learnt.spread for n in found)


def test_without_fixes_the_exponent_is_the_configured_prior():
    model = PathLossModel(exponent=2.4, exponent_sigma=0.3)
    loc = Localiser(SQUARE, model, exponent=SiteExponent(model))
    dbm = evaluate._received(SQUARE, np.array([100.0, 50.0]), 60.0, 2.4, 20.0, np.zeros(4),
                             np.full(4, FREQ), np.arange(4))
    fix = loc.locate(np.arange(4), dbm, FREQ)
    loc.locate(np.arange(2), dbm[:2], FREQ)                      # a locus
    loc.locate(np.arange(1), dbm[:1], FREQ)                      # a ring
    # fixes alone teach nothing
    assert (loc.exponent.mean, loc.exponent.sigma, loc.exponent.spread) == (2.4, 0.3, 0.3)
    assert sorted(c.exponent for c in fix.candidates)[0] >= 2.4 - 1.74 * 0.3
    loc.exponent.end("never seen")
    loc.exponent.add(Fix(np.zeros(2), 56.0, np.eye(2), 6.0, np.zeros(1), 4.0, np.zeros(4), True))
    assert (loc.exponent.mean, loc.exponent.sigma) == (2.4, 0.3)  # a fix without evidence


def test_a_flight_counts_as_one_fix_however_many_it_has():
    """A drone's height and transmitter bias all its fixes alike: its evidence is their mean."""
    rng = np.random.default_rng(5)
    dbm = evaluate._received(SQUARE, np.array([200.0, -100.0]), 80.0, 2.6, 20.0,
                             4.0 * rng.standard_normal(4), np.full(4, FREQ), np.arange(4))
    once, often = (Localiser(SQUARE, exponent=SiteExponent(PathLossModel())) for _ in range(2))
    fix = once.locate(np.arange(4), dbm, FREQ)
    once.exponent.add(fix)
    for _ in range(30):
        often.exponent.add(fix, "T1")
    assert often.exponent.mean == pytest.approx(once.exponent.mean)
    often.exponent.end("T1")
    assert often.exponent.sigma == pytest.approx(once.exponent.sigma)
    assert max(once.exponent.sigma, EXPONENT_SIGMA_FLOOR) == once.exponent.sigma
    # a localiser not given a site's exponent keeps the configured prior and makes no evidence
    assert Localiser(SQUARE).locate(np.arange(4), dbm, FREQ).exponent_evidence is None
