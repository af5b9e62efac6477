"""The localisation core: frames, fixes, loci, rings, the tracker and a reduced Monte Carlo run."""
import math

import numpy as np
import pytest

from straja.locate import GeoPoint, LocalFrame, Localiser, PathLossModel, Tracker
from straja.eval import localisation as evaluate
from straja.locate.rss import ellipse_scale2
from straja.rf import path_loss_db

SQUARE = np.array([[-500, -500, 6], [500, -500, 6], [500, 500, 6], [-500, 500, 6]], float)
FREQ = 5.8e9


def _powers(nodes, xy, up, exponent=2.2, eirp=20.0):
    d = np.sqrt(((nodes[:, :2] - xy) ** 2).sum(1) + (up - nodes[:, 2]) ** 2)
    return eirp - path_loss_db(d, FREQ, exponent)


def test_local_frame_round_trip_and_distances():
    frame = LocalFrame(GeoPoint(44.43, 26.10, 80.0))
    lat, lon, hae = 44.4390, 26.1123, 140.0
    enu = frame.to_enu(lat, lon, hae)
    # 0.009 deg of latitude is ~1000 m north, 0.0123 deg of longitude ~977 m east here
    assert enu[1] == pytest.approx(1000.0, rel=2e-3) and enu[0] == pytest.approx(977.0, rel=3e-3)
    back = frame.to_geodetic(enu)
    assert back[0] == pytest.approx(lat, abs=1e-9) and back[1] == pytest.approx(lon, abs=1e-9)
    assert back[2] == pytest.approx(hae, abs=1e-3)
    assert np.allclose(frame.point_to_enu(frame.origin), 0, atol=1e-6)


@pytest.mark.parametrize("text", ["45.1", "a,b", "91,0", "10,200,3", "1,2,3,4"])
def test_bad_positions_are_clear_errors(text):
    with pytest.raises(ValueError):
        GeoPoint.parse(text)


def test_noiseless_fix_is_exact_and_ellipse_is_sane():
    loc = Localiser(SQUARE)
    truth = np.array([120.0, -230.0])
    fix = loc.locate(range(4), _powers(SQUARE, truth, loc.up_m), FREQ)
    assert fix.kind == "fix" and fix.bounded
    assert np.linalg.norm(fix.east_north - truth) < 1.0
    major, minor, azimuth = fix.ellipse
    assert major >= minor > 0 and 0 <= azimuth < 180
    assert fix.covers(truth)


def test_five_nodes_off_the_circle_fix_well_under_shadowing():
    nodes = np.vstack([SQUARE, [0, 0, 6]])
    rng = np.random.default_rng(4)
    loc = Localiser(nodes)
    errors = []
    for _ in range(30):
        truth = rng.uniform(-500, 500, 2)
        dbm = _powers(nodes, truth, loc.up_m) + 4 * rng.standard_normal(5)
        errors.append(np.linalg.norm(loc.locate(range(5), dbm, FREQ).east_north - truth))
    assert np.median(errors) < 250


def test_two_nodes_give_a_locus_not_a_point():
    loc = Localiser(SQUARE[:2])
    truth = np.array([100.0, 300.0])
    locus = loc.locate([0, 1], _powers(SQUARE[:2], truth, loc.up_m))
    assert locus.kind == "locus"
    lo, hi = locus.ratio_band
    assert lo < locus.ratio < hi
    curve = locus.curve(points=6000)  # a circle of ~9 km radius here: sample it finely
    # the true position lies on the measured curve (noiseless)
    assert np.min(np.linalg.norm(curve - truth, axis=1)) < 15.0
    equal = loc.locate([0, 1], [-70.0, -70.0])
    assert np.allclose(equal.curve(points=5)[:, 0], 0.0, atol=1e-6)  # the perpendicular bisector


def test_one_node_gives_a_range_ring_containing_the_truth():
    loc = Localiser(SQUARE[:1])
    ring = loc.locate([0], _powers(SQUARE[:1], np.array([-500.0, 300.0]), loc.up_m), FREQ)
    assert ring.kind == "ring"
    assert ring.range_m[0] < 800 < ring.range_m[1]
    with pytest.raises(ValueError, match="frequency"):
        loc.locate([0], [-60.0])


@pytest.mark.parametrize("idx,dbm", [([0, 0, 1], [-60, -61, -62]), ([0, 9, 1], [-60, -61, -62]),
                                     ([0, 1], [-60.0]), ([0, 1, 2], [-60, float("nan"), -62])])
def test_bad_measurements_are_clear_errors(idx, dbm):
    with pytest.raises(ValueError):
        Localiser(SQUARE).locate(idx, dbm, FREQ)


def test_student_ellipse_scale_approaches_chi_square():
    assert ellipse_scale2(0.95, 1e6) == pytest.approx(-2 * math.log(0.05), rel=1e-4)
    assert ellipse_scale2(0.95, 4) > ellipse_scale2(0.95, 40) > 5.99


def test_tracker_follows_a_drone_and_caps_speed():
    nodes = np.vstack([SQUARE, [0, 0, 6]])
    loc, tracker = Localiser(nodes), Tracker()
    rng = np.random.default_rng(2)
    for t in range(60):
        truth = np.array([-300.0 + 10.0 * t, 100.0])
        dbm = _powers(nodes, truth, loc.up_m) + 3 * rng.standard_normal(5)
        tracker.update(float(t), loc.locate(range(5), dbm, FREQ))
    assert np.linalg.norm(tracker.east_north - truth) < 200
    assert np.hypot(*tracker.velocity) <= 30.0 + 1e-9
    assert tracker.ellipse[0] > 0


def test_reduced_monte_carlo_runs_and_reports(tmp_path):
    report = evaluate.evaluate(fixes=4, seed=3, layouts=("square",))
    # bands x placements x spreads x exponents, and two bands with correlated shadowing
    assert len(report["results"]) == 2 * 2 * 4 * 3 + 2
    for r in report["results"]:
        assert 0 <= r["coverage"] <= 1 and r["median_error_m"] >= 0 and r["crb_median_error_m"] > 0
    assert set(report["targets"]) >= set(evaluate.TARGETS)
    text = "\n".join(evaluate.markdown(report))
    for r in report["tracked"]:  # each flight's row ends with its fixes' bias
        assert f"{r['fix_flight_offset_m']:.0f} m, {r['fix_radial_offset_m']:+.0f} m |" in text
    paths = evaluate.plot(report, tmp_path)
    assert all(p.stat().st_size > 1000 for p in paths)


def test_two_bands_each_with_its_own_power_fix_exactly():
    loc = Localiser(SQUARE)
    # near the centre: the mirror (R^2 / r out) is beyond the search region, so without the power
    # prior the noiseless fix has one exact solution, not two
    truth = np.array([-60.0, 80.0])
    video = _powers(SQUARE, truth, loc.up_m, eirp=25.0)
    d = np.sqrt(((SQUARE[:, :2] - truth) ** 2).sum(1) + (loc.up_m - SQUARE[:, 2]) ** 2)
    control = 10.0 - path_loss_db(d, 2.44e9, 2.2)
    readings = ([0, 1, 2, 3] * 2, np.concatenate([video, control]))
    bands = ["video"] * 4 + ["control"] * 4
    fix = loc.locate(*readings, [FREQ] * 4 + [2.44e9] * 4, bands)
    assert np.linalg.norm(fix.east_north - truth) < 1.0 and fix.covers(truth)
    # without the transmit-power prior each band's power 1 m out is exact: its EIRP less the
    # free-space loss of the first metre (bands in sorted order)
    free = loc.locate(*readings, band=bands)
    assert np.linalg.norm(free.east_north - truth) < 0.1
    assert free.power_db == pytest.approx([10.0 - path_loss_db(1.0, 2.44e9, 2.2),
                                           25.0 - path_loss_db(1.0, FREQ, 2.2)], abs=0.01)


def test_a_node_may_give_one_reading_per_band_not_two_in_one():
    loc = Localiser(SQUARE)
    with pytest.raises(ValueError, match="one reading per node and band"):
        loc.locate([0, 0, 1, 2], [-60, -61, -62, -63], FREQ, ["a", "a", "a", "a"])
    # two nodes on two bands: still only a locus (the band the most nodes heard)
    locus = loc.locate([0, 1, 0], [-60.0, -65.0, -70.0], FREQ, [0, 0, 1])
    assert locus.kind == "locus" and locus.ratio == pytest.approx(10 ** (-5 / 22))


def test_cramer_rao_bound_at_the_squares_centre_is_the_closed_form():
    """At the centre the common power decouples (the four gradients cancel), so each axis has
    the information of four ranges: var x = sigma^2 d^4 / (4 (10 n / ln 10 * 500)^2), halved by a
    second band with its own shadowing."""
    loc = Localiser(SQUARE)
    d2 = 2 * 500.0**2 + (loc.up_m - 6.0) ** 2
    var = 4.0**2 * d2**2 / (4 * (22 / math.log(10) * 500.0) ** 2)
    for bands in (1, 2):
        bound = loc.cramer_rao([0.0, 0.0], 4.0, bands, FREQ)
        assert bound == pytest.approx(np.diag([var, var]) / bands, rel=1e-3, abs=1e-6)
    # a second band whose shadowing is correlated rho with the first's: (1 + rho) / 2 of one's
    bound = loc.cramer_rao([0.0, 0.0], 4.0, 2, FREQ, band_correlation=0.7)
    assert bound == pytest.approx(np.diag([var, var]) * 1.7 / 2, rel=1e-3, abs=1e-6)


def test_the_tracker_drops_a_mirror_its_track_rules_out():
    """Fixes with two candidates, the mirror in the square's circle (R^2 / r out) the likelier:
    a tracker that has followed the drone inside keeps to the drone, with an ellipse no longer
    spread over the mirror; one fed only each fix's best point and covariance cannot."""
    from straja.locate.rss import Candidate, Fix

    def fix_at(points, weights, choices=True):
        covs = [np.diag([80.0**2, 80.0**2]) for _ in points]
        best = int(np.argmax(weights))
        mixture = sum(w * (c + np.outer(p - points[best], p - points[best]))
                      for p, c, w in zip(points, covs, weights)) / sum(weights)
        return Fix(points[best], 56.0, mixture, 5.99, np.zeros(1), 4.0, np.zeros(4), True,
                   [Candidate(p, c, w, 2.2) for p, c, w in zip(points, covs, weights)]
                   if choices else [], 5.99)

    # fixes with independent errors (correlation_s 0): the choice alone is under test
    choosing, blind = Tracker(correlation_s=0.0), Tracker(correlation_s=0.0)
    radius2 = 2 * 500.0**2
    for t in range(30):
        truth = np.array([-150.0 + 10.0 * t, 100.0])
        mirror = truth * radius2 / (truth @ truth)
        weights = [1.0] if t < 10 else [0.8, 1.0]  # the mirror appears, and fits a little better
        points = [truth] if t < 10 else [truth, mirror]
        choosing.update(float(t), fix_at(points, weights))
        blind.update(float(t), fix_at(points, weights, choices=False))
    assert np.linalg.norm(choosing.east_north - truth) < 60 and choosing.covers(truth)
    assert choosing.ellipse[0] < blind.ellipse[0] / 2


def test_a_mirror_is_a_second_part_of_the_region_not_one_wide_ellipse():
    """A drone inside the square and its mirror outside (R^2 / r from the centre) fit nearly as
    well: the region is an ellipse about each, not one ellipse over both."""
    from straja.locate.rss import ellipse
    loc = Localiser(SQUARE)
    truth = np.array([200.0, 150.0])
    fix = loc.locate(range(4), _powers(SQUARE, truth, loc.up_m), FREQ)
    centres = [centre for centre, _ in fix.region()]
    assert np.linalg.norm(fix.east_north - truth) < 1.0 and fix.covers(truth)
    assert fix.parts >= 2 and max(np.linalg.norm(c - truth) for c in centres) > 1000
    mirror = truth * 2 * 500.0**2 / (truth @ truth)
    assert min(np.linalg.norm(c - mirror) for c in centres) < 400
    # one ellipse over the mixture of the parts (as before) would be several times wider
    assert fix.radius < ellipse(fix.cov, fix.scale2)[0] / 4


def test_an_exponent_below_the_assumed_one_is_integrated_not_ignored():
    """A drone 500 m outside the square, the site's exponent 0.5 below the solver's: the powers
    fit a point near the centre at the assumed exponent, and the quadrature's lower exponent finds
    the drone where it is; both are in the region."""
    loc = Localiser(SQUARE)
    truth = np.array([0.0, -1000.0])
    fix = loc.locate(range(4), _powers(SQUARE, truth, loc.up_m, exponent=1.7), FREQ)
    below = [c for c in fix.candidates if c.exponent < 2.2]
    assert below and min(np.linalg.norm(c.east_north - truth) for c in below) < 150
    assert fix.covers(truth)


def test_the_region_scale_is_the_mixture_quantile():
    """One part: the Student ellipse's scale 2 F(2, nu) (to the points' quantile step); two
    parts at one place or far apart: the same (separate parts must each hold 95 %); two that
    overlap: less."""
    from straja.locate.rss import Candidate
    loc = Localiser(SQUARE)
    dof = loc.spread.total_dof
    here = Candidate(np.zeros(2), np.diag([100.0**2, 50.0**2]), 1.0, 2.2)
    there = here._replace(east_north=np.array([5000.0, 0.0]))
    one = loc._region_scale2([here], np.array([1.0]))
    assert one == pytest.approx(ellipse_scale2(0.95, dof), rel=0.01)
    assert loc._region_scale2([here, here], np.array([0.5, 0.5])) == pytest.approx(one)
    assert loc._region_scale2([here, there], np.array([0.5, 0.5])) == pytest.approx(one, rel=0.05)
    # parts that overlap in part: less than one part's scale, more than the joint ellipse would
    near = here._replace(east_north=np.array([150.0, 0.0]))
    assert loc._region_scale2([here, near], np.array([0.5, 0.5])) < one


def test_the_region_is_the_likelihood_ratios_not_the_ellipses():
    """A drone 500 m outside the square, the exponent 0.5 below the assumed one, 4 dB: the region
    is the set of points whose likelihood ratio to the fix is within the threshold (the ellipses
    about the candidates only outline it)."""
    loc = Localiser(SQUARE)
    truth = np.array([-700.0, -900.0])
    rng = np.random.default_rng(5)
    dbm = _powers(SQUARE, truth, loc.up_m, exponent=1.7) + 4 * rng.standard_normal(4)
    fix = loc.locate(range(4), dbm, FREQ)
    assert fix.likelihood.excess(fix.east_north) == pytest.approx(0.0, abs=1e-6)
    points = rng.uniform(-4000, 4000, (400, 2))
    excess = fix.likelihood.excess(points)
    assert all(fix.covers(x) == (e <= fix.scale2) for x, e in zip(points, excess))
    assert fix.covers(truth)
    # on top of the node that hears the drone the weakest, its power would be the strongest
    assert not fix.covers(SQUARE[np.argmin(dbm), :2])


def test_the_95_region_holds_the_truth_90_to_97_percent():
    """Seeded Monte Carlo of the evaluation over geometries, spreads and exponents off by +-0.5
    (40 fixes each, 200 in all): the likelihood region holds the truth in 90-97 % of fixes, to
    two binomial spreads of the sample, and in no condition far less (docs/localisation.md
    lists each condition's coverage over 100 fixes)."""
    conditions = [evaluate.Condition("square", "outside", 4.0, -0.5),
                  evaluate.Condition("square", "inside", 4.0, 0.5),
                  evaluate.Condition("square", "outside", 2.0, 0.0),
                  evaluate.Condition("square", "inside", 6.0, 0.0, bands=2),
                  evaluate.Condition("square+centre", "inside", 4.0, 0.0)]
    fixes = 40
    results = [evaluate.run_condition(c, fixes, PathLossModel(), seed=1) for c in conditions]
    coverage = np.mean([r["coverage"] for r in results])
    total = fixes * len(conditions)
    low = 0.90 - 2 * math.sqrt(0.90 * 0.10 / total)
    high = 0.97 + 2 * math.sqrt(0.97 * 0.03 / total)
    assert low <= coverage <= high, [(r["condition"], r["coverage"]) for r in results]
    one = 2 * math.sqrt(0.90 * 0.10 / fixes)
    assert all(r["coverage"] >= 0.90 - one for r in results), [r["coverage"] for r in results]
    assert all(r["median_error_m"] < 3 * r["crb_median_error_m"] for r in results)
    # the drone outside at a low exponent: the ellipses about the fix's candidates (linearised)
    # miss it where the likelihood does not
    assert results[0]["coverage"] > results[0]["outline_coverage"] + 0.1


def test_outside_with_a_low_exponent_and_inside_the_region_is_tighter_than_one_ellipse():
    """The two conditions the mixture ellipse with the linearised exponent did worst (seed 1,
    100 fixes: 62 % outside at n-0.5, a 3239 m median radius inside): the quadrature's lower
    exponent holds the drone outside in most fixes, and the region's likeliest part is much
    smaller than that ellipse was, the truth still inside it."""
    outside = evaluate.run_condition(evaluate.Condition("square", "outside", 4.0, -0.5), 100,
                                     PathLossModel(), seed=1)
    assert outside["coverage"] >= 0.75, outside["coverage"]
    inside = evaluate.run_condition(evaluate.Condition("square", "inside", 4.0, 0.0), 100,
                                    PathLossModel(), seed=1)
    assert inside["coverage"] >= 0.95 and inside["median_radius95_m"] < 2500


def _site_spread(bands: int, rho: float, fixes: int, seed: int) -> Localiser:
    """A site's pooled spread after `fixes` fixes of drones inside the square (the model exact:
    the assumed exponent and height, 4 dB shadowing correlated rho between one node's bands),
    from a prior of 6 dB and no correlation."""
    loc = Localiser(SQUARE, PathLossModel(shadowing_db=6.0))
    rng = np.random.default_rng(seed)
    idx, band = np.tile(np.arange(4), bands), np.repeat(np.arange(bands), 4)
    for _ in range(fixes):
        truth = rng.uniform(-500, 500, 2)
        common, own = rng.standard_normal(4), rng.standard_normal((bands, 4))
        shadow = 4.0 * (math.sqrt(rho) * common + math.sqrt(1 - rho) * own).ravel()
        dbm = _powers(SQUARE[idx], truth, loc.up_m, eirp=rng.uniform(0, 30)) + shadow
        loc.locate(idx, dbm, FREQ, band)
    return loc


def test_the_pooled_spread_of_one_band_is_not_biased_high():
    """Four nodes, x, y and A fitted: n - p leaves one degree of freedom, but the residual keeps
    more of the shadowing than that (its measured mean per fix here: ~1.4-1.9 variances), and
    s^2 = RSS / (n - p) came out 5.2-5.6 dB for 4 dB. The residual's degrees of freedom drawn
    at each fix, at the site's spread, give the truth within the sample's spread."""
    spread = _site_spread(1, 0.0, 80, seed=1).spread
    assert 3.5 <= spread.sigma_db <= 4.5, spread.sigma_db
    assert spread.dof > 80                           # more than one per fix
    assert 3.5 <= math.sqrt(spread.rss_db2 / 80) <= 6.5   # RSS / (n - p): biased high


def test_the_within_node_residual_is_unbiased_and_position_free():
    """A node's readings on several bands about their node's mean and the bands' offsets: an
    exact linear model (n - p degrees of freedom), whatever the path loss."""
    from straja.locate.rss import _within_node
    rng = np.random.default_rng(3)
    idx = np.array([0, 1, 2, 3, 0, 1, 2, 0])          # node 3 heard on one band, node 0 on three
    bands = np.eye(3)[[0, 0, 0, 0, 1, 1, 1, 2]]
    rss, dof = zip(*(_within_node(idx, rng.uniform(-90, -40, 4)[idx] + bands @ rng.uniform(-5, 5, 3)
                                  + 2.0 * rng.standard_normal(8), bands) for _ in range(2000)))
    assert set(dof) == {8 - 4 - 2}                    # 4 nodes and 2 band offsets
    assert np.sum(rss) / np.sum(dof) == pytest.approx(4.0, rel=0.05)
    assert _within_node(np.arange(4), np.zeros(4), np.ones((4, 1))) == (0.0, 0)


def test_the_correlation_of_a_nodes_bands_is_estimated_and_weighs_the_fix():
    """Two bands with 0.7 correlated shadowing: the site learns the correlation from its
    residuals, and a fix's readings are weighed by it (a node's two bands are worth less than
    two independent readings: a wider region than with independent bands)."""
    correlated = _site_spread(2, 0.7, 40, seed=4)
    independent = _site_spread(2, 0.0, 40, seed=4)
    assert 0.45 <= correlated.spread.band_correlation <= 0.85
    assert independent.spread.band_correlation <= 0.2
    assert 3.4 <= correlated.spread.sigma_db <= 4.6 and 3.4 <= independent.spread.sigma_db <= 4.6
    idx, band = np.tile(np.arange(4), 2), np.repeat(np.arange(2), 4)
    dbm = _powers(SQUARE[idx], np.array([100.0, 50.0]), correlated.up_m)
    wide, narrow = (loc.locate(idx, dbm, FREQ, band) for loc in (correlated, independent))
    area = [np.linalg.det(fix.candidates[0].cov) / fix.sigma_db**4 for fix in (wide, narrow)]
    assert area[0] > 1.5 * area[1]
    assert np.linalg.norm(wide.east_north - [100.0, 50.0]) < 1.0


def test_band_correlation_must_be_below_one():
    with pytest.raises(ValueError, match="band_correlation"):
        PathLossModel(band_correlation=1.0)


def test_the_localisation_monte_carlo_in_two_workers_gives_the_results_of_one(monkeypatch):
    """localisation.evaluate(jobs=2) runs the conditions two at a time, each from its own
    generator: the same results, in the same order (fewer conditions, to keep it short)."""
    import json
    monkeypatch.setattr(evaluate, "SHADOWING_DB", (4.0,))
    monkeypatch.setattr(evaluate, "EXPONENT_ERRORS", (0.0,))
    monkeypatch.setattr(evaluate, "TRACKED", evaluate.TRACKED[:1])
    one = evaluate.evaluate(2, seed=3, layouts=("square",))
    two = evaluate.evaluate(2, seed=3, layouts=("square",), jobs=2)
    for report in (one, two):  # the flight filter's CPU is the machine's, not the draws'
        assert all(r.pop("flight_cpu_ms_per_update") > 0 for r in report["tracked"])
    assert json.dumps(one, default=str) == json.dumps(two, default=str)
    assert len(one["results"]) == 6 and len(one["tracked"]) == 1


def test_radial_offsets_are_signed_along_the_truths_direction_from_the_centre():
    """A fix further from the centre than its drone is offset outwards (+), nearer inwards (-);
    an offset across the line to the centre is none."""
    truths = np.array([[300.0, 0.0], [0.0, -400.0], [300.0, 400.0], [100.0, 0.0]])
    fixes = np.array([[350.0, 0.0], [0.0, -100.0], [360.0, 480.0], [100.0, 70.0]])
    assert evaluate.radial_offsets(fixes, truths) == pytest.approx([50.0, -300.0, 100.0, 0.0])
