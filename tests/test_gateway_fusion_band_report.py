"""A band report's identity at the gateway (gateway/fusion.py, Observation.band_rate; the core's
detect/site_rate.py): it joins a track of its own kind, or a control-link track begun within its
window (the same link's own alert), never the site's older track merely by overlapping it
(sub88_elrs915_100_harbour_late: the residents' alert of 4.9 s spans 901.5-928.5 MHz, and every
drone switched on later joined it and was never alerted)."""
from straja.gateway.config import FusionConfig
from straja.gateway.detector import Observation
from straja.gateway.fusion import Fusion

S = 1_000_000_000
BAND = (902_000, 928_000)


def _report(node, t_s, since_s):
    return Observation(node, "lora_fhss", round(t_s * S), *BAND, -95.0, round(since_s * S),
                       band_rate=True)


def _residents(fusion, until_s):
    """The site's track, observed every second from 5 s (a GFSK name over the band)."""
    track = None
    for k in range(5, until_s):
        track, _ = fusion.observe(Observation(1, "gfsk_fhss", k * S, 901_500, 928_500, -80.0,
                                              k * S))
    return track


def test_a_band_report_does_not_join_the_sites_older_track():
    fusion = Fusion(FusionConfig())
    site = _residents(fusion, 60)
    report, new = fusion.observe(_report(2, 63.0, 58.0))
    assert new and report is not site and report.band_rate
    # its next reports (any node) join it, not the site's track
    again, new_again = fusion.observe(_report(3, 64.0, 59.0))
    assert again is report and not new_again


def test_a_band_report_joins_a_track_the_link_began_since_and_so_do_its_later_excursions():
    """sub92_elrs915_100_harbour_at15 seed 3: the drone's own alert at 15.8 s, its first report
    at 16.25 s, later excursions at 55-93 s (its rate over a site learnt in part): one alert."""
    fusion = Fusion(FusionConfig())
    own, _ = fusion.observe(Observation(1, "lora_fhss", 61 * S, 910_000, 915_000, -90.0, 61 * S))
    report, new = fusion.observe(_report(1, 63.0, 53.0))
    assert report is own and not new and own.band_rate
    for k in range(64, 110):
        fusion.observe(Observation(1, "lora_fhss", k * S, 910_000, 915_000, -90.0, 61 * S))
    later, new_later = fusion.observe(_report(2, 110.0, 100.0))
    assert later is own and not new_later


def test_the_links_later_track_observations_meet_its_report_where_no_site_track_is():
    fusion = Fusion(FusionConfig())
    report, _ = fusion.observe(_report(1, 63.0, 58.0))
    track, new = fusion.observe(Observation(2, "lora_fhss", 64 * S, 910_000, 915_000, -90.0,
                                            64 * S))
    assert track is report and not new


def test_a_band_reports_track_stands_from_its_windows_first_event():
    """A report raised once stands for its window's events (the seconds before it), not its
    instant: its alert's evidence is that window (sub85_r9_915_harbour_late seed 2: raised at
    75.10 s, never updated, its evidence the report's 10 ms, credited to no emitter)."""
    fusion = Fusion(FusionConfig())
    report = _report(2, 80.0, 70.0)._replace(first_ns=75 * S)
    track, new = fusion.observe(report)
    assert new and (track.first_ns, track.last_ns) == (75 * S, 80 * S)
