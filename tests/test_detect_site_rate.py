"""The band report (detect/site_rate.py): a sub-GHz band's rate of new hits learnt as its site,
and a link's hits over it reported (docs/detection.md, "Busy sub-GHz sites: the band report")."""
import numpy as np

from straja.detect.bursts import BURST
from straja.detect.site_rate import LORA_EXCESS, SiteRate

PERIOD_US = 51_000            # the default 902-928 MHz plan's sweep
STEP_KHZ, CHANNELS = 1000.0, 27
SITE_RATE, LINK_RATE = 0.1, 0.5   # events a sweep: a busy harbour's residents, a LoRa link's
BURST_US = PERIOD_US              # a burst read in one sweep: its start and end a sweep apart


def _run(seconds, link_on_s=None, link_rate=LINK_RATE, seed=1, rate_at=None):
    """Each sweep's bursts (a new channel each) fed in turn: the times of the reports, s.
    rate_at(t_s): the band's events a sweep, if not the site's and the link's."""
    rng = np.random.default_rng(seed)
    rate = SiteRate(STEP_KHZ)
    reports = []
    for k in range(int(seconds * 1e6 / PERIOD_US)):
        t0 = k * PERIOD_US
        on = link_on_s is not None and t0 >= link_on_s * 1e6
        n = rng.poisson(SITE_RATE + (link_rate if on else 0.0) if rate_at is None
                        else rate_at(t0 / 1e6))
        bursts = np.zeros(n, BURST)
        bursts["t_start_us"] = t0 + rng.integers(0, PERIOD_US, n)
        bursts["t_end_us"] = bursts["t_start_us"] + BURST_US
        bursts["centre_khz"] = 902_000 + STEP_KHZ * rng.integers(0, CHANNELS, n)
        bursts["peak_mw"] = 1e-9
        report = rate.feed(np.sort(bursts, order="t_start_us"), t0 + PERIOD_US, PERIOD_US)
        if report is not None:
            reports.append((report.t_us / 1e6, report))
    return reports


def test_a_steady_site_is_never_reported():
    assert _run(300) == []


def test_a_link_switched_on_later_is_reported_within_seconds_and_named_by_its_excess():
    """Named by its excess once its window is the link's (the first reports' windows are
    mostly the site's, their excess a share of the link's: fusion names the alert by the name
    told in most reports)."""
    reports = _run(150, link_on_s=60)
    first, report = reports[0]
    assert 60 < first < 65
    assert report.hits.shape[1] == 4 and report.since_us < report.t_us
    named = [r.excess >= LORA_EXCESS for t, r in reports if t > 66]
    assert named and sum(named) > 0.8 * len(named)
    assert all((r.family == "lora_fhss") == (r.excess >= LORA_EXCESS) for _, r in reports)


def test_a_reports_hits_keep_each_bursts_end():
    """The scorer asks whether a drone's packets overlap a report's hits (Evidence.explains): a
    burst's stated start is up to a sweep from the packet read in it (the late R9 915 of
    sub88_r9_915_harbour_late: its events 9-17 ms from its packets' centres, credited to no
    emitter as points), so each hit is the burst's start to end, as a core track's are."""
    _, report = _run(150, link_on_s=60)[0]
    assert np.all(report.hits[:, 3] - report.hits[:, 0] == BURST_US)


def test_the_reports_own_window_is_not_learnt_so_a_link_on_for_minutes_stays_reported():
    """Learnt with its own hits, the site's rate would take the link in within ~46 s and the
    report would end while the link is still on."""
    reports = _run(200, link_on_s=60)
    assert reports[-1][0] > 195


def test_a_link_on_from_switch_on_is_the_site():
    assert _run(150, link_on_s=0) == []


def test_a_link_learnt_as_the_site_swinging_to_twice_its_rate_is_not_reported():
    """crossfire_alone at n1: the link on from switch-on, learnt as the site at 0.24 events a
    sweep, read at up to 0.56 for ~6 s as its hop cycle aliased with the sweep (ALIAS_SWING):
    here 0.6 for 8 s."""
    def swinging(t_s):
        return 0.6 if 90 <= t_s < 98 else 0.24
    assert _run(120, rate_at=swinging) == []


def test_a_link_is_named_by_its_rate_since_its_onset_from_its_first_report():
    """The first reports' windows are mostly the site's: their whole excess is a share of the
    link's (a LoRa link's first reports named GFSK, sub92_elrs915_100_harbour_at15); the excess
    since the window's likeliest onset is the link's. A GFSK link's first reports stay GFSK, and
    most of its others (an onset picked where its window reads high reads it high: fusion names
    a track by the name told in most reports)."""
    for seed in (3, 6):  # (first named GFSK by the whole window's excess)
        lora = _run(90, link_on_s=60, seed=seed)
        assert lora and all(r.family == "lora_fhss" for _, r in lora[:8])
    for seed in (1, 2, 3):
        gfsk = _run(90, seed=seed, rate_at=lambda t_s: 0.03 + (0.22 if t_s >= 60 else 0.0))
        named = [r.family == "gfsk_fhss" for _, r in gfsk]
        assert named and all(named[:8]) and sum(named) > 0.9 * len(named)
