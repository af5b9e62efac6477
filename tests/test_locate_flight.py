"""The flight filter (straja.locate.flight): its Kalman part against oracles computed another
way, its region against the particles it summarises, and its row in the evaluation."""
import numpy as np
import pytest

from straja.eval import localisation as evaluate
from straja.locate.flight import FlightFilter, within_hull
from straja.locate.rss import Localiser, PathLossModel

NODES = np.array([[0, 0, 5], [400, 0, 5], [0, 400, 5]], float)
FREQS = {0: 5.8e9, 1: 2.44e9}


def _pinned(bands: int, rho: float):
    """A filter whose particles fly one known straight path (no acceleration to speak of)."""
    loc = Localiser(NODES, PathLossModel(shadowing_db=4.0, band_correlation=rho))
    f = FlightFilter(loc, particles=2, accel_mps2=1e-9, seed=1)
    f.xy, f.v = np.array([[100.0, 150.0]] * 2), np.array([[8.0, -3.0]] * 2)
    f.exponent, f.up = np.full(2, 2.3), np.full(2, 60.0)
    idx = np.tile(np.arange(3), bands)
    labels = np.repeat(np.arange(bands), 3)
    return f, loc, idx, labels, np.array([FREQS[b] for b in labels])


def _joint(f, loc, idx, labels, freqs, times, rho):
    """The readings' joint Gaussian over the whole path: each band's A with its power prior, each
    link's shadowing AR(1) in distance flown (correlation exp(-flown / d_c) between instants),
    correlated rho between one node's bands, plus the reading noise."""
    speed = np.hypot(*f.v[0])
    points = f.xy[0] + np.outer(times, f.v[0])
    d = np.sqrt(((points[:, None, :] - NODES[idx, :2]) ** 2).sum(-1) + (60.0 - NODES[idx, 2]) ** 2)
    bands = np.eye(labels.max() + 1)[labels]
    prior = [loc.power_prior(FREQS[b], exponent_known=True) for b in range(bands.shape[1])]
    a0, sa = np.array([p[0][0] for p in prior]), np.array([p[1][0] for p in prior])
    mean = (a0 @ bands.T - 23.0 * np.log10(d)).ravel()
    same = (idx[:, None] == idx[None, :]).astype(float)
    links = 16.0 * (rho * same + (1 - rho) * np.eye(idx.size))
    in_time = np.exp(-speed * np.abs(times[:, None] - times[None, :]) / f.decorrelation_m)
    a_part = np.kron(np.ones((times.size, times.size)), bands @ np.diag(sa**2) @ bands.T)
    cov = a_part + np.kron(in_time, links) + f.noise_db**2 * np.eye(times.size * idx.size)
    return mean, cov, bands, a0, sa


@pytest.mark.parametrize("bands, rho", [(1, 0.0), (2, 0.6)])
def test_the_kalman_part_is_the_joint_gaussian_of_the_readings(bands, rho):
    """Summed over a path, the Kalman predictive log-likelihoods are the log density of all the
    readings together (up to the 2 pi constant), and each band's A ends where a brute-force
    grid posterior over A puts it."""
    f, loc, idx, labels, freqs = _pinned(bands, rho)
    times = np.array([0.0, 2.0, 5.0, 6.0, 9.0, 15.0])
    mean, cov, one_hot, a0, sa = _joint(f, loc, idx, labels, freqs, times, rho)
    y = np.random.default_rng(7).multivariate_normal(mean + 3.0, cov)  # A off its prior's mean
    total = 0.0
    for k, t in enumerate(times):
        if k:
            f._predict(t)
        f.t_s = t
        columns = f._columns(idx, list(labels), freqs)
        total += f._kalman_update(idx, y[k * idx.size:(k + 1) * idx.size], columns)[0]
    r = y - mean
    oracle = -0.5 * (r @ np.linalg.solve(cov, r) + np.linalg.slogdet(cov)[1])
    assert total == pytest.approx(oracle, abs=1e-6)

    # A of band 0 on a grid: its prior times the readings' density given it (the other band's
    # A, when there is one, integrated in closed form: it stays in the covariance)
    grid = a0[0] + sa[0] * np.linspace(-8, 8, 8001)
    column = np.tile(one_hot[:, 0], times.size)
    given = cov - sa[0] ** 2 * np.outer(column, column)
    base = y - mean + a0[0] * column
    solve_base, solve_col = np.linalg.solve(given, base), np.linalg.solve(given, column)
    quad = (base @ solve_base - 2 * grid * (column @ solve_base) + grid**2 * (column @ solve_col))
    log_post = -0.5 * quad - 0.5 * ((grid - a0[0]) / sa[0]) ** 2
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    grid_mean = post @ grid
    grid_var = post @ (grid - grid_mean) ** 2
    band = f.bands[0]
    assert f.mean[0, band] == pytest.approx(grid_mean, abs=1e-4)
    assert f.cov[0, band, band] == pytest.approx(grid_var, rel=1e-4)


def test_a_hovering_drone_keeps_its_shadowing():
    """No distance flown, no renewal: the shadowing's variance only falls with the readings."""
    f, loc, idx, labels, freqs = _pinned(1, 0.0)
    f.v[:] = 0.0
    before = None
    for t in (0.0, 10.0, 20.0):
        if t:
            f._predict(t)
        f.t_s = t
        columns = f._columns(idx, list(labels), freqs)
        links = [s for _, s in columns]
        if before is not None:
            assert np.all(np.diag(f.cov[0])[links] <= before + 1e-6)
        f._kalman_update(idx, np.full(3, -80.0), columns)
        before = np.diag(f.cov[0])[links]


def test_the_first_particles_weigh_as_the_position_prior():
    """Drawn half about the first fix's candidates and half uniform over the search region, the
    first particles weighted by prior / proposal stand for the prior (uniform in log range
    beyond the nodes' radius, flat within it, nothing beyond the search region): the weight
    within the nodes' radius and in the region's south-west quarter is the prior's there, summed
    on a fine grid (the oracle); the readings' likelihood then multiplies that, and a particle
    beyond the region has no weight."""
    loc = Localiser(NODES, PathLossModel(shadowing_db=4.0))
    d = np.hypot(*(NODES[:, :2] - [150.0, 120.0]).T)
    dbm = -40.0 - 22.0 * np.log10(d) + np.array([2.0, -3.0, 1.0])
    fix = loc.locate(np.arange(3), dbm, 5.8e9)
    f = FlightFilter(loc, particles=40000, seed=4)
    w = np.exp(-f._start(fix))
    assert f._outside().any()   # the candidates' Gaussians reach beyond the region
    w[f._outside()] = 0.0
    w /= w.sum()

    lo, hi = loc.region
    centre = NODES[:, :2].mean(0)
    r0 = np.hypot(*(NODES[:, :2] - centre).T).max()
    axes = [np.linspace(lo[k], hi[k], 1001) for k in range(2)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    prior = np.maximum(np.hypot(*(grid - centre).T), r0) ** -2.0
    prior /= prior.sum()
    for part in (lambda xy: np.hypot(*(xy - centre).T) < r0,
                 lambda xy: np.all(xy < (lo + hi) / 2, axis=1)):
        assert w[part(f.xy)].sum() == pytest.approx(prior[part(grid)].sum(), abs=0.02)

    f = FlightFilter(loc, particles=2000, seed=4)
    f.update(0.0, fix, np.arange(3), dbm, 5.8e9)
    assert not f._outside()[f._weights() > 0].any()


def _cloud(centres, spread_m: float, count: int = 4000):
    loc = Localiser(NODES, PathLossModel())
    f = FlightFilter(loc, particles=count, seed=3)
    rng = np.random.default_rng(5)
    pick = rng.integers(len(centres), size=count)
    f.xy = np.asarray(centres, float)[pick] + rng.normal(0, spread_m, (count, 2))
    f.log_w = np.zeros(count)
    return f


def test_the_region_holds_95_percent_of_the_particles_and_splits_a_mirror_only():
    """One Gaussian cloud: one part, its mode near the centre, 95 % of the particles inside; two
    clouds 1.5 km apart (a drone and its mirror): two parts, 95 % inside."""
    one = _cloud([[200.0, -100.0]], 150.0)
    assert one.parts == 1
    assert np.linalg.norm(one.east_north - [200.0, -100.0]) < 40
    two = _cloud([[200.0, -100.0], [-1300.0, 0.0]], 150.0)
    assert two.parts == 2
    for f in (one, two):
        inside = np.mean([f.covers(p) for p in f.xy[::10]])
        assert 0.92 <= inside <= 0.98


def test_the_share_within_the_nodes_is_the_weight_inside_their_hull():
    """The hybrid's choice: a cloud well inside the nodes' triangle has all its weight within
    their hull, one beyond none, one split by the hypotenuse half (the hull of a square with a
    centre node is the square)."""
    assert _cloud([[100.0, 100.0]], 20.0).share_within_nodes() == pytest.approx(1.0)
    assert _cloud([[-1300.0, 0.0]], 150.0).share_within_nodes() == 0.0
    assert _cloud([[200.0, 200.0]], 60.0).share_within_nodes() == pytest.approx(0.5, abs=0.03)
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [0, 0]], float)
    points = np.array([[0.0, 0.0], [0.99, -0.99], [1.01, 0.0], [0.0, -1.2]])
    assert within_hull(square, points).tolist() == [True, True, False, False]


def test_the_tracked_evaluation_scores_the_flight_filter_beside_the_tracker(monkeypatch):
    """run_tracked feeds the flight filter and the tracker the same draws: each has its median
    error and coverage, and the filter its CPU; a hovering drone's row is named so (shorter
    flights, to keep it short)."""
    monkeypatch.setattr(evaluate, "TRACK_S", 30.0)
    cond = evaluate.Condition("square", "inside", 4.0, 0.0)
    moving = evaluate.run_tracked(cond, 1, PathLossModel(), 2)
    hovering = evaluate.run_tracked(cond, 1, PathLossModel(), 2, speed_mps=0.0)
    assert hovering["condition"].endswith("/hover") and not moving["condition"].endswith("/hover")
    for row in (moving, hovering):
        for name in evaluate.ESTIMATORS:
            assert 0 < row[f"{name}_median_error_m"] < np.inf
            assert 0 <= row[f"{name}_coverage"] <= 1
        assert row["flight_cpu_ms_per_update"] > 0
        assert 0 < row["fix_flight_offset_m"] < np.inf and np.isfinite(row["fix_radial_offset_m"])
    assert moving["fix_median_error_m"] != hovering["fix_median_error_m"]
