"""Scoring logic of straja eval on hand-made events and outcomes, against textbook values."""
import math

import numpy as np
import pytest

from straja.eval import score
from straja.eval.score import Outcome
from straja.gateway.events import AlertRaised, AlertUpdated, TrackStarted


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Table I: 0/10 -> [0, 0.2775]; 5/10 -> [0.2366, 0.7634]
    assert score.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert score.wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert score.wilson(0, 0) == (0.0, 1.0)


def test_poisson_bounds_match_garwood_values():
    # one-sided 95 %: k = 0 -> 2.996, k = 1 -> 4.744 (upper); k = 1 -> 0.0513, k = 3 -> 0.8177
    assert score.poisson_upper(0, 1.0) == pytest.approx(2.9957, abs=1e-3)
    assert score.poisson_upper(1, 1.0) == pytest.approx(4.7439, abs=1e-3)
    assert score.poisson_upper(0, 10.0) == pytest.approx(0.29957, abs=1e-4)
    assert score.poisson_lower(0, 1.0) == 0.0
    assert score.poisson_lower(1, 1.0) == pytest.approx(0.05129, abs=1e-4)
    assert score.poisson_lower(3, 2.0) == pytest.approx(0.8177 / 2, abs=1e-4)


def _track_event(cls, t_ns, family, **alert):
    return cls(t_ns=t_ns, track_id="T1", family=family, lo_khz=0, hi_khz=0, first_ns=t_ns,
               last_ns=t_ns, hits=1, nodes=(), **alert)


def test_first_alert_ignores_other_events_and_alerts_before_switch_on():
    alert = {"alert_id": "A1", "severity": "warning", "trend": "steady", "since_ns": 0,
             "label": "", "text": ""}
    events = [
        _track_event(TrackStarted, 5_200_000_000, "lora_fhss"),
        _track_event(AlertRaised, 3_000_000_000, "ofdm_video", **alert),   # before on
        _track_event(AlertRaised, 6_500_000_000, "lora_fhss", **alert),
        _track_event(AlertRaised, 7_000_000_000, "gfsk_fhss", **{**alert, "alert_id": "A2"}),
    ]
    t, fam = score.first_alert(events, t_on_s=5.0)
    assert t == pytest.approx(1.5) and fam == "lora_fhss"
    assert score.first_alert(events[:2], 5.0) == (math.inf, "none")


def test_first_alert_is_scored_with_its_family_as_last_told():
    """A video profile names a track after its alert, in an update: the first alert's family is
    its latest event's, its time the raise's; another alert's updates do not count."""
    alert = {"severity": "warning", "trend": "steady", "since_ns": 0, "label": "", "text": ""}
    events = [
        _track_event(AlertRaised, 6_500_000_000, "analog_fm_video", alert_id="A1", **alert),
        _track_event(AlertRaised, 6_600_000_000, "analog_fm_video", alert_id="A2", **alert),
        _track_event(AlertUpdated, 6_800_000_000, "ofdm_video", alert_id="A1", **alert),
        _track_event(AlertUpdated, 6_900_000_000, "lora_fhss", alert_id="A2", **alert),
    ]
    t, fam = score.first_alert(events, t_on_s=5.0)
    assert t == pytest.approx(1.5) and fam == "ofdm_video"
    assert score.first_alert(events[:2], 5.0)[1] == "analog_fm_video"


def test_detection_curve_time_percentiles_and_confusion():
    outcomes = [Outcome("elrs", 0.0, math.inf, "none"), Outcome("elrs", 1.0, 3.0, "lora_fhss"),
                Outcome("elrs", 10.0, 1.0, "lora_fhss"), Outcome("elrs", 11.0, 1.5, "gfsk_fhss")]
    hits = score.detected(outcomes, within_s=2.0)
    assert hits.tolist() == [False, False, True, True]
    rows = score.pd_curve([o.snr_db for o in outcomes], hits, [-2, 6, 14])
    assert [(r["n"], r["k"]) for r in rows] == [(2, 0), (2, 2)]
    assert rows[1]["ci"] == pytest.approx(score.wilson(2, 2))
    assert score.percentile([1.0, 2.0, math.inf], 50) == 2.0
    assert score.percentile([1.0, 2.0, math.inf], 90) == math.inf
    assert score.confusion(outcomes, ["elrs"]) == {"elrs": {"none": 1, "lora_fhss": 2, "gfsk_fhss": 1}}


def test_power_at_pd_finds_the_step_and_nan_when_never_reached():
    snr = np.repeat(np.arange(0.0, 20.0, 1.0), 5) + 0.5
    edges = list(range(0, 21, 2))
    rows = score.pd_curve(snr, snr >= 8.0, edges)
    assert score.power_at_pd(rows, 0.9) == 8.0
    assert math.isnan(score.power_at_pd(score.pd_curve(snr, np.zeros(len(snr), bool), edges)))
    # a dip above the step: the power is the lowest from which it holds everywhere above
    dip = (snr >= 8.0) & ~((snr > 14) & (snr < 16))
    assert score.power_at_pd(score.pd_curve(snr, dip, edges), 0.9) == 16.0
    # bins with too few trials do not count either way
    assert score.power_at_pd(score.pd_curve(snr[:-8], (snr >= 8.0)[:-8], edges), 0.9) == 8.0
