"""bench/subghz_site_rate.py: a sub-GHz band's site rate learnt and a link's rate over it,
replayed (docs/measured/sub85.md)."""
import importlib.util

import numpy as np

from straja.paths import REPO

spec = importlib.util.spec_from_file_location("subghz_site_rate",
                                              REPO / "bench" / "subghz_site_rate.py")
site_rate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(site_rate)

PERIOD_S = 0.05125   # the default plan's 64-channel sweep
STEP_KHZ = 1031.0


def _poisson_hits(rng, rate_per_sweep: float, t0: float, t1: float) -> list[tuple[float, float]]:
    """Hits at rate_per_sweep over [t0, t1), each on a scan channel drawn from 25."""
    n = rng.poisson(rate_per_sweep * (t1 - t0) / PERIOD_S)
    return [(t, STEP_KHZ * c) for t, c in zip(rng.uniform(t0, t1, n), rng.integers(0, 25, n))]


def test_a_long_packet_read_in_consecutive_sweeps_is_one_event():
    packet = [(k * PERIOD_S, 5 * STEP_KHZ) for k in range(6)]       # 0.3 s on one channel
    again = [(2.0, 5 * STEP_KHZ), (2.0 + PERIOD_S, 6 * STEP_KHZ)]   # later; and another channel
    starts = site_rate.events(packet + again, PERIOD_S, STEP_KHZ)
    assert starts.tolist() == [0.0, 2.0, 2.0 + PERIOD_S]


def test_a_steady_site_makes_no_excursion_and_a_link_switched_on_later_stands_out():
    """A site at 0.12 events a sweep (a busy US915 harbour's) for 300 s: no step over 3 ln 19;
    a link adding 0.3 a sweep from 100 s: over it within a few seconds."""
    rng = np.random.default_rng(85)
    site = _poisson_hits(rng, 0.12, 0.0, 300.0)
    rows = site_rate.tested(site_rate.events(site, PERIOD_S, STEP_KHZ), PERIOD_S, 0.12)
    assert rows[0, 0] >= site_rate.START_S and rows[:, 0].max() > 290.0
    assert site_rate.excursions(rows, site_rate.THRESHOLDS[1]) == 0
    assert abs(np.median(rows[:, 1]) - 0.12) < 0.02   # the learnt rate is the site's
    link = _poisson_hits(rng, 0.3, 100.0, 300.0)
    rows = site_rate.tested(site_rate.events(site + link, PERIOD_S, STEP_KHZ), PERIOD_S, 0.12)
    over = rows[(rows[:, 0] >= 100.0) & (rows[:, 3] >= site_rate.THRESHOLDS[1])]
    assert over.size and over[0, 0] - 100.0 < 5.0
    assert "first at 8.8: +" in site_rate.summary(rows, 100.0)


def test_a_link_on_from_switch_on_is_learnt_as_the_site():
    """The trade-off (det42's): a link on from switch-on is in the rate learnt, never over it."""
    rng = np.random.default_rng(86)
    hits = _poisson_hits(rng, 0.12, 0.0, 200.0) + _poisson_hits(rng, 0.3, 0.0, 200.0)
    rows = site_rate.tested(site_rate.events(hits, PERIOD_S, STEP_KHZ), PERIOD_S, 0.12)
    assert site_rate.excursions(rows, site_rate.THRESHOLDS[1]) == 0
