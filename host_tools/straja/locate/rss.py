"""Where an emitter is, from the powers several nodes receive (received signal strength, RSS).

Model (log-distance path loss with log-normal shadowing, `rf.path_loss_db`, as the simulator draws):

    P_i = A - 10 n log10 d_i + X_i,      X_i ~ N(0, sigma^2) dB

with d_i the slant distance from node i to the emitter, A the unknown "power at 1 m" (transmit
power, antenna gains and the 1 m loss together) and n the path-loss exponent. A is eliminated by
estimating it jointly with the position (maximum likelihood; for fixed position A has a closed form,
so this is the same as differential RSS with the pair correlations done right). A drone heard on
several bands (video and control link) has one A per band, and a node's shadowing on its bands is
correlated (they cross the same ground): the readings are weighed by the inverse of that covariance
(generalised least squares), the correlation a site's estimate. n is not estimated but integrated
over its prior (the configured value +- `exponent_sigma`) by a 3-point Gauss-Hermite quadrature: a
fix at each of its exponents, every local minimum weighted by the quadrature weight times its
likelihood.

The emitter's height is not observable from a few masts; it is taken as `emitter_height_m` above
the nodes' mean height, and the position is horizontal (east, north).

The solver evaluates the profile cost (each band's A solved in closed form) on a grid over the
nodes and `max_range_m` around them, then runs Levenberg-Marquardt from the best few local minima
of the grid, so the banana-shaped cost surfaces of RSS (two valleys when the emitter is outside
the nodes' hull) do not trap it.

Uncertainty: each minimum (a candidate) has the inverse Fisher information at it as covariance, with
the shadowing spread `s` and its correlation between a node's bands estimated from the residuals,
pooled over the fixes of a site (`ShadowingSpread`: the residual's degrees of freedom are drawn at
each fix, since a position soaks up less shadowing than n - p says) with the configured spread as a
prior worth `shadowing_prior_dof` degrees of freedom. Residuals carry model mismatch too (a wrong
exponent, antenna patterns), so mismatch inflates `s`. The 95 % region is the likelihood ratio's
(`ProfileLikelihood`: the points whose profile cost is within the 2 F(2, nu) quantile of the fix's;
banana-shaped and open outwards where the powers allow it); the union of the candidates' ellipses (a
fix and its mirror are two parts, not one ellipse over both), scaled so that the candidates'
mixture, each a Student t for the spread's degrees of freedom, puts 95 % in it, outlines it for maps
and CoT. `docs/localisation.md` has the defaults' reasoning and the measured coverage.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from ..rf import fspl_db

DB_PER_NEPER = 10 / math.log(10)  # d(10 log10 d)/dd = DB_PER_NEPER / d
# points of a unit bivariate Student t for the confidence region's scale (`_region_scale2`),
# stratified: the k-th at the (k + 1/2)/K quantile of its Mahalanobis distance, at the golden
# angle from the previous (deterministic, and exact for one part)
REGION_QUANTILES = (np.arange(512) + 0.5) / 512
REGION_ANGLES = np.arange(512) * math.pi * (3 - math.sqrt(5))
# the exponent's prior integrated by 3-point Gauss-Hermite quadrature: (offset in spreads, weight)
EXPONENT_QUADRATURE = ((-math.sqrt(3), 1 / 6), (0.0, 2 / 3), (math.sqrt(3), 1 / 6))
# a node's shadowing on two bands is taken as at most this correlated (at 1 its readings on
# several bands would be one, and the readings' covariance singular)
MAX_BAND_CORRELATION = 0.95
# noise draws per fix of the spread's degrees of freedom (`Localiser._residual_dof`), new at
# each fix (a site's fixes average them), the same at each of the spreads SPREAD_LEVELS_DB (the
# degrees of freedom grow with the spread; the site's estimate interpolates them at itself)
DOF_DRAWS = 4
SPREAD_LEVELS_DB = np.array([1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0])
LOG_SPREAD_LEVELS = np.log(SPREAD_LEVELS_DB)
# the exponents at which a fix's evidence about its site's exponent is held (`SiteExponent`):
# the prior's 2.2 +- 0.4 to beyond 2.5 spreads each way
EXPONENT_GRID = np.round(np.arange(1.2, 3.65, 0.1), 2)
# the least spread the learnt exponent is given: the profile's bias, measured at 0.07-0.1 over
# a site's drones inside and outside the nodes (docs/localisation.md, "The site's exponent")
EXPONENT_SIGMA_FLOOR = 0.1
# the configured exponent spread counts as this many flights' scatter between drones
SCATTER_PRIOR_FLIGHTS = 4


@dataclass(frozen=True)
class PathLossModel:
    """The solver's assumptions; docs/localisation.md justifies each default."""

    exponent: float = 2.2            # air-to-ground links to drones 30-120 m up are near free space
    exponent_sigma: float = 0.4      # prior spread of the site's exponent around `exponent`
    shadowing_db: float = 5.0        # assumed shadowing spread before residuals say otherwise
    shadowing_prior_dof: float = 4.0  # weight of `shadowing_db` against a site's residuals
    emitter_height_m: float = 50.0   # assumed drone height above the nodes' mean height
    max_range_m: float = 3000.0      # search this far beyond the outermost nodes
    eirp_dbm: tuple[float, float] = (0.0, 30.0)  # range of transmit powers (one node: the ring)
    # a site's typical node-drone distance: an exponent error dn moves the power 1 m out that
    # the data imply by 10 dn log10(d) at distance d, so the transmit-power prior is widened by
    # the exponent's spread at this distance
    prior_distance_m: float = 500.0
    # correlation of one node's shadowing between bands before a site's readings say otherwise
    # (a drone's video and control link reach a mast over the same ground)
    band_correlation: float = 0.0
    confidence: float = 0.95

    def __post_init__(self):
        for name in ("exponent", "exponent_sigma", "shadowing_db", "shadowing_prior_dof",
                     "max_range_m", "prior_distance_m"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"path-loss model: {name} must be a positive number, not {value}")
        if not 0 <= self.band_correlation <= MAX_BAND_CORRELATION:
            raise ValueError(f"path-loss model: band_correlation {self.band_correlation} is not in "
                             f"0..{MAX_BAND_CORRELATION}")
        if not 0.5 <= self.confidence < 1:
            raise ValueError(f"path-loss model: confidence {self.confidence} is not in 0.5..1")
        if self.eirp_dbm[0] > self.eirp_dbm[1]:
            raise ValueError(f"path-loss model: eirp_dbm {self.eirp_dbm} is not (low, high)")


class ShadowingSpread:
    """The shadowing spread of a site and the correlation of a node's shadowing between bands,
    pooled over its fixes' residuals.

    Two variance components: the total spread s^2 of one reading, and the within-node part
    s_w^2 = (1 - rho) s^2 that a node's readings on different bands do not share. The within
    part is (nu0 prior^2 + sum RSS_w) / (nu0 + sum dof_w), exact n - p degrees of freedom; the
    configured spread (and correlation) is a prior worth nu0 degrees of freedom, and a site's own
    residuals take over as they accumulate. The total solves s^2 = (nu0 sigma0^2 + sum RSS) /
    (nu0 + sum nu(s)): a fix's degrees of freedom nu are the residual's expectation per unit
    variance at the fix (`Localiser._residual_dof`), not n - p: a position inside a few nodes
    cannot follow the shadowing as a linear model's parameters would, so the residual keeps more
    of it, the more the larger the spread (inside the 1 km square: ~1.4 of 4 readings' squared
    shadowing at 4 dB, not 1; RSS / (n - p) put 4 dB at 5.2-5.6). nu is held at the spreads
    SPREAD_LEVELS_DB and interpolated. Older fixes are forgotten once `memory_dof` degrees of
    freedom are held, so a change of weather or foliage is followed.
    """

    def __init__(self, model: PathLossModel, memory_dof: float = 400.0):
        self.model = model
        self.memory_dof = memory_dof
        self.rss_db2 = 0.0                            # total: residuals of fixes
        self.level_dof = np.zeros(SPREAD_LEVELS_DB.size)  # their nu at each spread level
        self.within_rss_db2 = self.within_dof = 0.0   # a node's readings about their mean
        self._sigma_db = model.shadowing_db

    def add(self, rss_db2: float, level_dof, within_rss_db2: float = 0.0,
            within_dof: float = 0.0) -> None:
        """A fix's total residual with its degrees of freedom at each of SPREAD_LEVELS_DB, and
        its within-node residual with its degrees of freedom."""
        self.rss_db2 += rss_db2
        self.level_dof = self.level_dof + level_dof
        self.within_rss_db2 += within_rss_db2
        self.within_dof += within_dof
        self._sigma_db = self._solve()
        keep = min(1.0, self.memory_dof / self.dof) if self.dof > 0 else 1.0
        self.rss_db2 *= keep
        self.level_dof = self.level_dof * keep
        keep = min(1.0, self.memory_dof / self.within_dof) if self.within_dof > 0 else 1.0
        self.within_rss_db2 *= keep
        self.within_dof *= keep

    def _solve(self) -> float:
        """s with s^2 (nu0 + nu(s)) = nu0 sigma0^2 + RSS (nu grows with s: one root)."""
        m = self.model
        if not self.rss_db2 and not self.level_dof.any():
            return m.shadowing_db
        lo, hi = -6.0, 6.0                              # log s, bisected
        for _ in range(60):
            mid = (lo + hi) / 2
            dof = np.interp(mid, LOG_SPREAD_LEVELS, self.level_dof)
            if math.exp(2 * mid) * (m.shadowing_prior_dof + dof) > (
                    m.shadowing_prior_dof * m.shadowing_db**2 + self.rss_db2):
                hi = mid
            else:
                lo = mid
        return math.exp((lo + hi) / 2)

    @property
    def dof(self) -> float:
        """The fixes' degrees of freedom at the current spread."""
        return float(np.interp(math.log(self._sigma_db), LOG_SPREAD_LEVELS, self.level_dof))

    @property
    def total_dof(self) -> float:
        return self.model.shadowing_prior_dof + self.dof

    @property
    def sigma_db(self) -> float:
        return self._sigma_db

    @property
    def within_sigma_db(self) -> float:
        """The spread of a node's readings on different bands about their common part."""
        m = self.model
        prior = m.shadowing_db**2 * (1 - m.band_correlation)
        return math.sqrt((m.shadowing_prior_dof * prior + self.within_rss_db2)
                         / (m.shadowing_prior_dof + self.within_dof))

    @property
    def band_correlation(self) -> float:
        """rho = 1 - s_w^2 / s^2, within 0..MAX_BAND_CORRELATION."""
        rho = 1 - (self.within_sigma_db / self.sigma_db) ** 2
        return min(max(rho, 0.0), MAX_BAND_CORRELATION)

    def weight(self, idx: np.ndarray) -> np.ndarray:
        """The inverse covariance (1/dB^2) of readings from nodes idx (one per node and band):
        spread s, correlation rho between one node's readings."""
        return shadowing_weight(idx, self.sigma_db, self.band_correlation)


class SiteExponent:
    """The path-loss exponent of a site, learnt from its fixes: an empirical-Bayes posterior on
    EXPONENT_GRID, the configured N(exponent, exponent_sigma^2) times each flight's profile
    likelihood of the exponent (`Fix.exponent_evidence`: the position and each band's A at their
    best for each exponent). A flight counts as one fix, its fixes' mean evidence: its drone's
    height and transmitter, which the solver assumes, are one draw per flight and bias all its
    fixes alike, so a long flight is one sample of them, not many (weighted by its fixes, one
    drone's height moved a site's exponent by 0.4). The exponent is the site's (its ground and
    clutter), not a drone's: every flight's fixes inform the next one's. The posterior's mean
    and `spread` (its own, at least EXPONENT_SIGMA_FLOOR, with the drones' scatter) replace the
    configured prior in the solver's quadrature; with no flight they are the configured prior's.
    Older flights are forgotten once `memory` are held. Measured, not adopted by the gateway
    (docs/localisation.md, "The site's exponent")."""

    def __init__(self, model: PathLossModel, memory: float = 200.0):
        self.model = model
        self.memory = memory
        self.ended = np.zeros(EXPONENT_GRID.size)   # summed evidence of ended flights
        self.ended_weight = 0.0
        self.flights: dict = {}                     # flight -> (summed evidence, fixes)
        # each ended flight's own exponent (mean, variance) on its evidence alone, summed:
        # their scatter beyond their own variance is the drones' (`spread`)
        self.flight_sums = np.zeros(3)              # sum of mean, mean^2, variance
        self.mean, self.sigma = model.exponent, model.exponent_sigma
        self.scatter = model.exponent_sigma

    @property
    def spread(self) -> float:
        """The spread of the exponent a fix's drone sees: the site's uncertainty and the
        scatter between drones (their heights and antennas, which the solver assumes), at most
        the configured spread (a new site's, which covers both: its fixes are unchanged)."""
        return min(math.hypot(self.sigma, self.scatter), self.model.exponent_sigma)

    def add(self, fix: "Fix", flight=None) -> None:
        """A fix's evidence, as part of `flight` (a track's key; None: a flight of one fix)."""
        if fix.exponent_evidence is None:
            return
        if flight is None:
            self._end(fix.exponent_evidence)
        else:
            total, fixes = self.flights.get(flight, (0.0, 0))
            self.flights[flight] = (total + fix.exponent_evidence, fixes + 1)
        self._update()

    def end(self, flight) -> None:
        """A flight is over: its mean evidence is kept, the flight forgotten."""
        if flight in self.flights:
            total, fixes = self.flights.pop(flight)
            self._end(total / fixes)
            self._update()

    def _end(self, evidence: np.ndarray) -> None:
        self.ended = self.ended + evidence
        own = np.exp(evidence - evidence.max())
        own /= own.sum()
        mean = float(own @ EXPONENT_GRID)
        self.flight_sums = self.flight_sums + (mean, mean * mean,
                                               float(own @ (EXPONENT_GRID - mean) ** 2))
        self.ended_weight += 1
        if self.ended_weight > self.memory:
            self.ended *= self.memory / self.ended_weight
            self.flight_sums *= self.memory / self.ended_weight
            self.ended_weight = self.memory
        # the drones' scatter by moments (the flights' means' variance less their own), the
        # configured spread worth SCATTER_PRIOR_FLIGHTS flights
        k = self.ended_weight
        total, squares, own_variance = self.flight_sums / k
        scatter2 = max(squares - total * total - own_variance, 0.0)
        prior = SCATTER_PRIOR_FLIGHTS * self.model.exponent_sigma ** 2
        self.scatter = math.sqrt((prior + k * scatter2) / (SCATTER_PRIOR_FLIGHTS + k))

    def _update(self) -> None:
        m = self.model
        log_post = (self.ended + sum(total / fixes for total, fixes in self.flights.values())
                    - 0.5 * ((EXPONENT_GRID - m.exponent) / m.exponent_sigma) ** 2)
        post = np.exp(log_post - log_post.max())
        post /= post.sum()
        self.mean = float(post @ EXPONENT_GRID)
        self.sigma = max(math.sqrt(float(post @ (EXPONENT_GRID - self.mean) ** 2)),
                         EXPONENT_SIGMA_FLOOR)


def shadowing_weight(idx: np.ndarray, sigma_db: float, band_correlation: float) -> np.ndarray:
    """Inverse covariance of readings from nodes idx: spread sigma_db, correlated
    band_correlation between the readings of one node (on different bands)."""
    same_node = (idx[:, None] == idx[None, :]).astype(float)
    cov = sigma_db**2 * (band_correlation * same_node + (1 - band_correlation) * np.eye(idx.size))
    return np.linalg.inv(cov)


def ellipse_scale2(confidence: float, dof: float) -> float:
    """k^2 such that a 2-D estimate with a spread estimated on `dof` degrees of freedom lies within
    the k-sigma ellipse with probability `confidence`: 2 F(2, dof) quantile, closed form."""
    return dof * ((1 - confidence) ** (-2 / dof) - 1)


def ellipse(cov: np.ndarray, scale2: float) -> tuple[float, float, float]:
    """(semi-major m, semi-minor m, major axis azimuth degrees clockwise from north, 0..180)."""
    vals, vecs = np.linalg.eigh(cov)
    major = vecs[:, 1]
    azimuth = math.degrees(math.atan2(major[0], major[1])) % 180.0
    return (math.sqrt(scale2 * max(vals[1], 0.0)), math.sqrt(scale2 * max(vals[0], 0.0)), azimuth)


class Candidate(NamedTuple):
    """A local minimum of a fix's cost: its point, covariance, posterior weight relative to the
    likeliest and the exponent (the quadrature's) it was found at."""

    east_north: np.ndarray
    cov: np.ndarray
    weight: float
    exponent: float


@dataclass(frozen=True)
class ProfileLikelihood:
    """A fix's likelihood over the horizontal position, as -2 log of its ratio to the best
    point's: each band's A in closed form (with its power prior), the exponent at the likeliest
    of the quadrature's nodes (its weight in the cost), the site's shadowing spread and
    correlation between bands."""

    nodes: np.ndarray            # the readings' node positions, N x 3 ENU
    up_m: float
    dbm: np.ndarray
    bands: np.ndarray            # N x B one-hot
    weight: np.ndarray           # N x N inverse covariance of the readings' shadowing, 1/dB^2
    prior: tuple | None          # the bands' power prior (`Localiser.power_prior`)
    exponents: tuple
    penalties: tuple             # -2 log of each exponent's quadrature weight
    best: float = 0.0            # the cost at the fix
    profile: "_Profile" = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "profile", _Profile(self.dbm, self.bands, self.weight, self.prior))

    def cost(self, east_north) -> np.ndarray:
        log_d = _log_distance(np.asarray(east_north, float), self.nodes, self.up_m)
        return np.min([self.profile(log_d, n)[2] + penalty
                       for n, penalty in zip(self.exponents, self.penalties)], axis=0)

    def excess(self, east_north) -> np.ndarray:
        """-2 log likelihood ratio of points (..., 2) against the fix."""
        return self.cost(east_north) - self.best


@dataclass
class Fix:
    """Three or more nodes: a position (east, north metres) with a covariance."""

    east_north: np.ndarray
    up_m: float
    cov: np.ndarray              # 2x2, m^2, with the site's estimated shadowing spread
    scale2: float                # the confidence ellipse is x' cov^-1 x <= scale2
    power_db: np.ndarray         # A of each band: the received power 1 m from the emitter, dBm
    sigma_db: float              # shadowing spread used
    residuals_db: np.ndarray
    bounded: bool                # False when the best position is at the search region's edge
    # the cost's local minima the data hardly rule out (a mirror fix, fixes at the quadrature's
    # other exponents), likeliest first, as `Candidate`s; `cov` is their mixture's
    candidates: list = field(default_factory=list)
    # the region's outline: one ellipse x' cov^-1 x <= region_scale2 about each candidate (a fix
    # and its mirror: two parts), the scale set so that the parts together hold `confidence`
    # of the candidates' linearised mixture
    region_scale2: float = 0.0
    # the confidence region proper: the points whose likelihood ratio to the fix is within
    # scale2 (2 F(2, nu): the spread is estimated); the ellipses above outline it (None: they are
    # the region)
    likelihood: ProfileLikelihood | None = None
    # log profile likelihood of the site's exponent at EXPONENT_GRID (max 0), for `SiteExponent`
    exponent_evidence: np.ndarray | None = None
    kind: str = field(default="fix", init=False)

    @property
    def ellipse(self) -> tuple[float, float, float]:
        """The confidence ellipse of the likeliest part of the region (about `east_north`)."""
        if not self.candidates:
            return ellipse(self.cov, self.scale2)
        return ellipse(self.candidates[0].cov, self.region_scale2)

    @property
    def radius(self) -> float:
        """The likeliest part's semi-major axis (CoT `ce`; `parts` says whether there are more)."""
        return self.ellipse[0]

    @property
    def parts(self) -> int:
        """Separate places in the region: the likeliest part and every other candidate outside
        its ellipse (a mirror; candidates at other exponents near it are the same place)."""
        if not self.candidates:
            return 1
        xy, cov = self.candidates[0].east_north, self.candidates[0].cov
        return 1 + sum(float((c.east_north - xy) @ np.linalg.solve(cov, c.east_north - xy))
                       > self.region_scale2 for c in self.candidates[1:])

    def region(self) -> list[tuple[np.ndarray, tuple[float, float, float]]]:
        """The confidence region's parts: (centre east-north, ellipse), likeliest first."""
        if not self.candidates:
            return [(self.east_north, self.ellipse)]
        return [(c.east_north, ellipse(c.cov, self.region_scale2)) for c in self.candidates]

    def covers(self, east_north) -> bool:
        """Whether a point lies in the confidence region: the likelihood ratio's (its outline,
        the ellipses, without one)."""
        if self.likelihood is None:
            return self.outlined(east_north)
        return bool(self.likelihood.excess(np.asarray(east_north, float)[:2]) <= self.scale2)

    def outlined(self, east_north) -> bool:
        """Whether a point lies in the ellipses about the candidates (`region`, what a map or
        CoT can draw: the linearised region)."""
        point = np.asarray(east_north, float)[:2]
        if not self.candidates:
            d = point - self.east_north
            return float(d @ np.linalg.solve(self.cov, d)) <= self.scale2
        return any(float((point - c.east_north) @ np.linalg.solve(c.cov, point - c.east_north))
                   <= self.region_scale2 for c in self.candidates)


@dataclass
class Locus:
    """Two nodes: the emitter is on a curve, the set of points whose distances to the two nodes
    have the measured ratio (an Apollonius circle; a straight line at equal powers), within a
    band. There is no point fix."""

    nodes: np.ndarray            # 2 x 3 ENU
    up_m: float
    ratio: float                 # d_first / d_second
    ratio_band: tuple[float, float]
    kind: str = field(default="locus", init=False)

    def curve(self, ratio: float | None = None, points: int = 180,
              half_length_m: float = 3000.0) -> np.ndarray:
        """Points (k x 2) of the locus for a ratio (default: the measured one); empty when no
        point at the assumed height has that ratio."""
        return apollonius(self.nodes, self.up_m, self.ratio if ratio is None else ratio,
                          points, half_length_m)


@dataclass
class Ring:
    """One node: only a band of distances, from the transmit-power range, exponent and spread."""

    node: np.ndarray
    up_m: float
    range_m: tuple[float, float]  # horizontal distance band
    kind: str = field(default="ring", init=False)


def apollonius(nodes: np.ndarray, up_m: float, ratio: float, points: int,
               half_length_m: float) -> np.ndarray:
    """The horizontal curve at height up_m where |p - a| = ratio |p - b| (slant distances)."""
    a, b = np.asarray(nodes, float)
    ha2, hb2 = (up_m - a[2]) ** 2, (up_m - b[2]) ** 2
    r2 = ratio * ratio
    if abs(r2 - 1) < 1e-9:  # the perpendicular bisector, shifted by the height difference
        mid, axis = (a[:2] + b[:2]) / 2, b[:2] - a[:2]
        norm = np.linalg.norm(axis)
        shift = (hb2 - ha2) / (2 * norm)  # |p-a|^2 - |p-b|^2 = 0 moves the line along the axis
        along = axis / norm
        t = np.linspace(-half_length_m, half_length_m, points)
        return mid - shift * along + np.outer(t, [-along[1], along[0]])
    circle = apollonius_circle(nodes, up_m, ratio)
    if circle is None:
        return np.empty((0, 2))
    theta = np.linspace(0, 2 * np.pi, points)
    return circle[0] + circle[1] * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def apollonius_circle(nodes: np.ndarray, up_m: float, ratio: float):
    """(centre east-north, radius m) of the circle at height up_m where |p - a| = ratio |p - b|;
    None when it is a line (ratio 1) or empty."""
    a, b = np.asarray(nodes, float)
    ha2, hb2 = (up_m - a[2]) ** 2, (up_m - b[2]) ** 2
    r2 = ratio * ratio
    if abs(r2 - 1) < 1e-9:
        return None
    # |p-a|^2 + ha2 = r2 (|p-b|^2 + hb2)  ->  |p - c|^2 = R^2
    centre = (a[:2] - r2 * b[:2]) / (1 - r2)
    radius2 = centre @ centre - (a[:2] @ a[:2] + ha2 - r2 * (b[:2] @ b[:2] + hb2)) / (1 - r2)
    return (centre, math.sqrt(radius2)) if radius2 > 0 else None


def _log_distance(xy: np.ndarray, nodes: np.ndarray, up_m: float) -> np.ndarray:
    """10 log10 of the slant distances (..., N) from points xy (..., 2) at height up_m to nodes."""
    d2 = ((xy[..., None, :] - nodes[:, :2]) ** 2).sum(-1) + (up_m - nodes[:, 2]) ** 2
    return 5 * np.log10(d2)


class _Profile:
    """For log distances (..., N) in dB (10 log10 d), the readings' powers, their bands (N x B,
    one-hot) and their shadowing's inverse covariance W (N x N): the best A of each band in
    closed form (..., B; generalised least squares), the residuals P - A + n L and the cost
    r' W r + sum(((A - A0)/sA)^2) (no prior term without one). The normal equations do not
    depend on the position: solved once for a fix's many calls."""

    def __init__(self, dbm: np.ndarray, bands: np.ndarray, weight: np.ndarray,
                 power_prior: tuple[np.ndarray, np.ndarray] | None):
        self.dbm, self.bands, self.weight, self.power_prior = dbm, bands, weight, power_prior
        normal = bands.T @ weight @ bands           # B x B
        self.weight_bands = weight @ bands
        self.prior_rhs = None
        if power_prior is not None:
            a0, sa = power_prior
            normal = normal + np.diag(1 / sa**2)
            self.prior_rhs = a0 / sa**2
        self.normal_inverse = np.linalg.inv(normal)  # normal is symmetric

    def __call__(self, log_d: np.ndarray, exponent):
        """(A, residuals, cost) at log distances log_d, exponent n (a number, or one per point
        broadcast against log_d)."""
        centred = self.dbm + exponent * log_d
        rhs = centred @ self.weight_bands
        if self.prior_rhs is not None:
            rhs = rhs + self.prior_rhs
        a = rhs @ self.normal_inverse
        resid = centred - a @ self.bands.T
        cost = ((resid @ self.weight) * resid).sum(-1)
        if self.power_prior is not None:
            a0, sa = self.power_prior
            cost = cost + (((a - a0) / sa) ** 2).sum(-1)
        return a, resid, cost


def _profile(log_d: np.ndarray, dbm: np.ndarray, bands: np.ndarray, exponent: float,
             weight: np.ndarray, power_prior: tuple[np.ndarray, np.ndarray] | None):
    """`_Profile`'s (A, residuals, cost) for one call."""
    return _Profile(dbm, bands, weight, power_prior)(log_d, exponent)


def _exponent_evidence(grid_log_d: np.ndarray, dbm: np.ndarray, bands: np.ndarray,
                       weight: np.ndarray, known_prior) -> np.ndarray:
    """A fix's log profile likelihood of the exponent at EXPONENT_GRID (its maximum 0): the
    least cost over the search grid's points, each band's A in closed form with its prior for a
    known exponent. A profile, not a marginal over the position: a marginal's answer is its
    position prior's (measured: a prior uniform in log range took a site at 2.2 to 2.0, one
    uniform over the square where the drones were, to 2.2), a profile's is the data's. At each
    point the residuals and A are affine in the exponent, so the cost is a quadratic in it:
    three profiles give it at every exponent of the grid."""
    profile = _Profile(dbm, bands, weight, known_prior)
    flat_log_d = grid_log_d.reshape(-1, dbm.size)
    at_zero, at_one, at_minus_one = (profile(flat_log_d, n)[2] for n in (0.0, 1.0, -1.0))
    linear, quadratic = (at_one - at_minus_one) / 2, (at_one + at_minus_one) / 2 - at_zero
    cost = (at_zero + EXPONENT_GRID[:, None] * (linear + EXPONENT_GRID[:, None] * quadratic)).min(-1)
    return (cost.min() - cost) / 2


def _least_residual_sums(log_d: np.ndarray, dbm: np.ndarray, bands: np.ndarray,
                         exponent: float) -> np.ndarray:
    """The least over the points' log distances (G x N) of `_profile`'s cost, unweighted and
    without a power prior, of each power vector (D x N): D. The residual is the projection M c
    of c = P + n L off the bands' columns, so |M P|^2 + min over the points of
    2 n (M P).(M L) + n^2 |M L|^2: one D x G product instead of D x G x N residuals (einsum's
    own loop: a BLAS product this size is split between threads that spin on busy cores, at
    several times the CPU)."""
    projector = np.eye(bands.shape[0]) - bands @ np.linalg.inv(bands.T @ bands) @ bands.T
    powers, distances = dbm @ projector, log_d @ projector
    per_point = (np.einsum("dn,gn->dg", 2 * exponent * powers, distances)
                 + exponent**2 * (distances * distances).sum(-1))
    return (powers * powers).sum(-1) + per_point.min(-1)


def _within_node(idx: np.ndarray, dbm: np.ndarray, bands: np.ndarray) -> tuple[float, int]:
    """(RSS dB^2, degrees of freedom) of the readings about their node's mean and their band's
    offset: the shadowing a node's readings on several bands do not share (its position's path
    loss and its common shadowing are the node's mean; each band's A its offset)."""
    _, node = np.unique(idx, return_inverse=True)
    design = np.column_stack([np.eye(node.max() + 1)[node], bands])
    dof = idx.size - int(np.linalg.matrix_rank(design))
    if dof <= 0:
        return 0.0, 0
    resid = dbm - design @ np.linalg.lstsq(design, dbm, rcond=None)[0]
    return float(resid @ resid), dof


class Localiser:
    """Fixes for one site: node positions (ENU metres) and a pooled shadowing spread."""

    GRID = 48        # grid cells per side of the search region
    STARTS = 3       # Levenberg-Marquardt starts from the best local minima of the grid
    ITERATIONS = 40

    def __init__(self, nodes_enu, model: PathLossModel | None = None,
                 spread: ShadowingSpread | None = None, exponent: SiteExponent | None = None):
        self.nodes = np.atleast_2d(np.asarray(nodes_enu, float))
        if self.nodes.shape[1] != 3 or not np.all(np.isfinite(self.nodes)):
            raise ValueError("node positions must be finite (east, north, up) triples")
        self.model = model or PathLossModel()
        self.spread = spread or ShadowingSpread(self.model)
        # the site's exponent: learnt from the flights a caller feeds it (`SiteExponent.add`),
        # each fix then carrying its evidence; without one the configured prior, fixed
        self.exponent = exponent or SiteExponent(self.model)
        self._learns_exponent = exponent is not None
        self.up_m = float(self.nodes[:, 2].mean() + self.model.emitter_height_m)
        lo = self.nodes[:, :2].min(0) - self.model.max_range_m
        hi = self.nodes[:, :2].max(0) + self.model.max_range_m
        self.region = (lo, hi)
        axes = [np.linspace(lo[k], hi[k], self.GRID) for k in range(2)]
        self._grid_xy = np.stack(np.meshgrid(*axes, indexing="ij"), -1)  # GRID x GRID x 2
        # every node's log distance to every grid point, once: a fix takes its nodes' columns
        self._grid_log_d = _log_distance(self._grid_xy, self.nodes, self.up_m)
        self._rng = np.random.default_rng(0)  # `_residual_dof`'s draws: a site's run repeats

    def _log_d(self, xy: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return _log_distance(xy, self.nodes[idx], self.up_m)

    def locate(self, node_index, dbm, freq_hz=None, band=None):
        """A Fix (3+ nodes), Locus (2) or Ring (1; needs freq_hz) from the nodes' powers in dBm.

        `band`: one label per reading when a drone is heard on several links or bands (video and
        control, several front ends): each band has its own transmit power A, and a node's
        shadowing on its bands is correlated as the site's estimate says, so a node may give one
        reading per band (default: one band, label 0).
        `freq_hz`: one frequency, or one per reading (a band's prior from its first reading's)."""
        idx = np.asarray(node_index, int).ravel()
        p = np.asarray(dbm, float).ravel()
        labels = np.zeros(idx.size, int) if band is None else np.asarray(band).ravel()
        if idx.size != p.size or idx.size == 0 or labels.size != idx.size:
            raise ValueError("locate needs one power (and band) per node index, and at least one")
        pairs = set(zip(idx.tolist(), labels.tolist()))
        if idx.min() < 0 or idx.max() >= len(self.nodes) or len(pairs) != idx.size:
            raise ValueError(f"node indices {idx.tolist()} are not distinct nodes of this site"
                             + ("" if band is None else " (one reading per node and band)"))
        if not np.all(np.isfinite(p)):
            raise ValueError("received powers must be finite dBm values")
        freqs = None if freq_hz is None else np.broadcast_to(np.asarray(freq_hz, float), idx.shape)
        if freqs is not None and not np.all(freqs > 0):
            raise ValueError("frequencies must be positive Hz")
        names, column = np.unique(labels, return_inverse=True)
        if len(set(idx.tolist())) < 3:
            # a locus or ring from one band: the band heard by the most nodes
            keep = column == np.bincount(column).argmax()
            idx, p = idx[keep], p[keep]
            freqs = None if freqs is None else freqs[keep]
            if idx.size == 1:
                if freqs is None:  # without the transmit-power range one power says nothing
                    raise ValueError("a one-node range ring needs the signal's frequency")
                return self._ring(idx[0], p[0], freqs[0])
            return self._locus(idx, p)
        bands = np.eye(len(names))[column]  # N x B one-hot
        first = [int(np.flatnonzero(column == b)[0]) for b in range(len(names))]
        first_freqs = None if freqs is None else freqs[first]
        return self._fix(idx, p, bands, self.power_prior(first_freqs),
                         self.power_prior(first_freqs, exponent_known=True))

    def _ring(self, i: int, dbm: float, freq_hz: float) -> Ring:
        m = self.model
        margin = 1.96 * m.shadowing_db
        loss_db = np.array([m.eirp_dbm[0] - margin, m.eirp_dbm[1] + margin]) - fspl_db(1.0, freq_hz) - dbm
        n, n_sigma = self.exponent.mean, self.exponent.spread
        exponents = np.array([n - 1.96 * n_sigma, n + 1.96 * n_sigma])
        slant = np.maximum(10 ** (np.outer(loss_db, 1 / (10 * exponents))), 1.0)  # 10 n log10 d = loss
        slant = (slant.min(), slant.max())
        dz = self.up_m - self.nodes[i, 2]
        ranges = [math.sqrt(max(s * s - dz * dz, 0.0)) for s in slant]
        return Ring(self.nodes[i].copy(), self.up_m, (ranges[0], ranges[1]))

    def _locus(self, idx: np.ndarray, p: np.ndarray) -> Locus:
        n = self.exponent.mean
        spread = 1.96 * math.sqrt(2) * self.spread.sigma_db / (10 * n)
        centre = (p[1] - p[0]) / (10 * n)   # log10(d0 / d1)
        return Locus(self.nodes[idx].copy(), self.up_m, 10**centre,
                     (10 ** (centre - spread), 10 ** (centre + spread)))

    def power_prior(self, freq_hz, exponent_known: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
        """(mean, spread) of A, one per frequency (a band's), from the transmit-power range taken
        as +-2 spreads, widened by what the exponent's uncertainty does to the power the data
        imply at 1 m from a drone `prior_distance_m` away (10 sigma_n log10 d, sigma_n the
        site's exponent's spread, `SiteExponent`: a prior
        held at 1 m would otherwise pull a fix made with a wrong exponent further off), unless
        the exponent is known (a filter that carries it: `flight.FlightFilter`). Without a
        frequency there is none and A is eliminated."""
        if freq_hz is None:
            return None
        m = self.model
        lo, hi = m.eirp_dbm
        spread = math.hypot(max((hi - lo) / 4, 1.0), 0.0 if exponent_known else
                            10 * self.exponent.spread * math.log10(m.prior_distance_m))
        mean = (lo + hi) / 2 - fspl_db(1.0, np.atleast_1d(np.asarray(freq_hz, float)))
        return mean, np.full(mean.shape, spread)

    def _fix(self, idx: np.ndarray, p: np.ndarray, bands: np.ndarray, prior, known_prior) -> Fix:
        """`prior`: the bands' power prior (`power_prior`), or None; `known_prior` the same for a
        known exponent (the exponent's evidence)."""
        m = self.model
        weight = self.spread.weight(idx)
        # the exponent integrated over the site's posterior (Gauss-Hermite): a fix at each of its
        # nodes, the cost carrying the node's weight (-2 log w), so that every minimum's
        # exp(-cost / 2) is its share of the posterior
        grid_log_d = self._grid_log_d[..., idx]
        exponents = [self.exponent.mean + offset * self.exponent.spread
                     for offset, _ in EXPONENT_QUADRATURE]
        profile = _Profile(p, bands, weight, prior)
        starts, start_exponents, penalties = [], [], []
        for (_, share), n in zip(EXPONENT_QUADRATURE, exponents):
            _, _, cost = profile(grid_log_d, n)
            for start in self._starts(cost):
                starts.append(start)
                start_exponents.append(n)
                penalties.append(-2 * math.log(share))
        found_xy, found_cost = self._levenberg_marquardt(
            np.array(starts), np.array(start_exponents), idx, bands, profile)
        minima = [(xy, cost + penalty, n) for xy, cost, penalty, n in
                  zip(found_xy, found_cost.tolist(), penalties, start_exponents)]
        minima.sort(key=lambda found: found[1])
        self._learn_spread(minima[0][0], idx, p, bands, grid_log_d)
        weight = self.spread.weight(idx)
        # Other local minima that the data hardly rule out (RSS ratios are kept by inversion in the
        # circle through the nodes: a mirror fix) are parts of the confidence region and widen the
        # mixture covariance by their weight; a tracker chooses between them (`Fix.candidates`).
        candidates = self._candidates(minima, idx, bands, weight, prior)
        xy = candidates[0].east_north
        a, resid, _ = _profile(self._log_d(xy, idx), p, bands, candidates[0].exponent, weight,
                               prior)
        weights = np.array([c.weight for c in candidates])
        cov = sum(c.weight * (c.cov + np.outer(c.east_north - xy, c.east_north - xy))
                  for c in candidates) / weights.sum()
        region_scale2 = self._region_scale2(candidates, weights / weights.sum())
        lo, hi = self.region
        step = (hi - lo) / (self.GRID - 1)
        bounded = bool(np.all(xy > lo + step) and np.all(xy < hi - step))
        # The confidence region is the likelihood ratio's: with A unknown and a few nodes the
        # likelihood is far from Gaussian (banana-shaped, flat outwards), and the inverse Fisher
        # information at the fix, where a fix pushed outwards by shadowing has several times
        # less of it than the drone's place, misjudges it both ways (docs/localisation.md).
        likelihood = ProfileLikelihood(
            self.nodes[idx], self.up_m, p, bands, weight, prior, tuple(exponents),
            tuple(-2 * math.log(weight) for _, weight in EXPONENT_QUADRATURE))
        likelihood = replace(likelihood, best=float(likelihood.cost(
            np.array([c.east_north for c in candidates])).min()))
        return Fix(xy, self.up_m, cov, ellipse_scale2(m.confidence, self.spread.total_dof),
                   a, self.spread.sigma_db, resid, bounded, candidates, region_scale2, likelihood,
                   _exponent_evidence(grid_log_d, p, bands, weight, known_prior)
                   if self._learns_exponent else None)

    def _learn_spread(self, xy, idx, p, bands, grid_log_d) -> None:
        """Add a fix's residuals to the site's spread. The within-node part: a node's readings on
        several bands about their mean and their bands' offsets (position and exponent drop out:
        a linear model, n - p exact). The total: the residual sum of squares at the grid's best
        point, each band's A free, at the assumed exponent, with as degrees of freedom that
        statistic's mean per unit variance over shadowing drawn at the fix with the site's
        spread and correlation (`_residual_dof`; unweighted, so that a wrong correlation moves
        only the draws, little, and the estimates converge). A three-node fix adds no total:
        with x, y and A fitted its residual is only the power prior's pull."""
        within_rss, within_dof = _within_node(idx, p, bands)
        total_rss, total_dof = 0.0, np.zeros(SPREAD_LEVELS_DB.size)
        if idx.size - 2 - bands.shape[1] > 0:
            flat_log_d = grid_log_d.reshape(-1, idx.size)
            unweighted = np.eye(idx.size)
            total_rss = float(_profile(flat_log_d, p, bands, self.exponent.mean, unweighted,
                                       None)[2].min())
            total_dof = self._residual_dof(xy, idx, bands, flat_log_d)
        self.spread.add(total_rss, total_dof, within_rss, within_dof)

    def _residual_dof(self, xy, idx, bands, flat_log_d) -> np.ndarray:
        """E[min over the grid of r' r] / s^2 for powers drawn about an emitter at xy with
        shadowing of spread s (each of SPREAD_LEVELS_DB) and the site's correlation between
        bands: the degrees of freedom the total residual keeps. For a linear model and
        independent readings it would be n - p; a position cannot follow the shadowing as far as
        a linear parameter would (the powers an emitter can give are bounded: a far emitter
        gives them all alike), so more stays in the residual, and a node's shadowing common to
        its bands is partly taken up by the position, so less."""
        corr = np.linalg.inv(self.spread.weight(idx)) / self.spread.sigma_db**2
        unit = self._rng.standard_normal((DOF_DRAWS, idx.size)) @ np.linalg.cholesky(corr).T
        draws = (SPREAD_LEVELS_DB[:, None, None] * unit).reshape(-1, idx.size)
        powers = -self.exponent.mean * self._log_d(xy, idx) + draws  # A drops out
        rss = _least_residual_sums(flat_log_d, powers, bands, self.exponent.mean)
        return rss.reshape(SPREAD_LEVELS_DB.size, -1).mean(-1) / SPREAD_LEVELS_DB**2

    def _candidates(self, minima, idx, bands, weight, prior) -> list:
        """The distinct local minima (sorted by cost) that the data hardly rule out, as
        (east_north, covariance, weight exp(-dcost / 2) relative to the best, exponent); those
        that ran out of the search region (beyond the bands' range) only when none is in it."""
        lo, hi = self.region
        inside = [found for found in minima if np.all(found[0] >= lo) and np.all(found[0] <= hi)]
        minima = inside or minima[:1]
        found = []
        for xy, cost, n in minima:
            share = math.exp(-(cost - minima[0][1]) / 2)
            if share > 1e-3 and not any(np.all(np.abs(xy - c.east_north)  # allclose(atol=1)
                                               <= 1.0 + 1e-5 * np.abs(c.east_north))
                                        for c in found):
                found.append(Candidate(xy, self._covariance(xy, idx, bands, weight, prior, n),
                                       share, n))
        return found

    def _region_scale2(self, candidates: list, shares: np.ndarray) -> float:
        """The scale of the confidence region, the union of the candidates' ellipses
        x' cov^-1 x <= scale2: the `confidence` quantile of the smallest Mahalanobis distance to
        any part over stratified points of the mixture (each candidate a Student t of the
        spread's degrees of freedom, weighted by its share). Parts that overlap need less than a
        single ellipse's scale, separate ones each all of it."""
        radius = np.sqrt(ellipse_scale2(REGION_QUANTILES, self.spread.total_dof))
        draws = radius[:, None] * np.column_stack([np.cos(REGION_ANGLES), np.sin(REGION_ANGLES)])
        chol = [np.linalg.cholesky(c.cov) for c in candidates]
        points = np.concatenate([c.east_north + draws @ l.T for c, l in zip(candidates, chol)])
        whitened = [np.linalg.solve(l, (points - c.east_north).T) for c, l in zip(candidates, chol)]
        nearest = np.min([(w * w).sum(0) for w in whitened], axis=0)
        weight = np.repeat(shares, draws.shape[0])
        order = np.argsort(nearest)
        cumulative = np.cumsum(weight[order])
        return float(nearest[order][np.searchsorted(cumulative, self.model.confidence * cumulative[-1])])

    def _information(self, xy, idx, bands, weight, prior, exponent: float):
        """Fisher information of (x, y, each band's A) with the power prior at xy; W the
        readings' shadowing inverse covariance."""
        jac = self._jacobian(xy, idx, bands, exponent)
        info = jac.T @ weight @ jac
        if prior is not None:
            info[2:, 2:] += np.diag(1 / prior[1] ** 2)
        return info

    def _covariance(self, xy, idx, bands, weight, prior, exponent: float) -> np.ndarray:
        """2x2 covariance of (x, y) at the given exponent: the inverse Fisher information (the
        exponent's spread is in the quadrature's candidates, not here)."""
        info = self._information(xy, idx, bands, weight, prior, exponent)
        return np.linalg.inv(info)[:2, :2]

    def cramer_rao(self, east_north, sigma_db: float, bands: int = 1,
                   freq_hz: float | None = None, band_correlation: float = 0.0) -> np.ndarray:
        """The Cramer-Rao bound (2x2, m^2) on any unbiased fix of an emitter at east_north heard
        by every node on `bands` bands, shadowing of sigma_db correlated band_correlation between
        one link's bands, the exponent known, each band's A unknown (with the power prior of
        freq_hz when given)."""
        idx = np.tile(np.arange(len(self.nodes)), bands)
        one_hot = np.repeat(np.eye(bands), len(self.nodes), axis=0)
        prior = self.power_prior(None if freq_hz is None else np.full(bands, freq_hz))
        weight = shadowing_weight(idx, sigma_db, band_correlation)
        info = self._information(np.asarray(east_north, float), idx, one_hot, weight, prior,
                                       self.model.exponent)
        return np.linalg.inv(info)[:2, :2]

    def _starts(self, cost: np.ndarray) -> list[np.ndarray]:
        """The grid's best local minima (3x3 neighbourhood), best first."""
        padded = np.pad(cost, 1, constant_values=np.inf)
        shifted = [padded[1 + di:1 + di + cost.shape[0], 1 + dj:1 + dj + cost.shape[1]]
                   for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj]
        is_min = np.all([cost <= s for s in shifted], axis=0)
        order = np.argsort(np.where(is_min, cost, np.inf), axis=None)[:self.STARTS]
        return [self._grid_xy.reshape(-1, 2)[k] for k in order if is_min.ravel()[k]]

    def _jacobian(self, xy: np.ndarray, idx: np.ndarray, bands: np.ndarray,
                  exponent: float) -> np.ndarray:
        """d(residual)/d(x, y, each band's A) for the residual P - A + n L(x, y)."""
        nodes = self.nodes[idx]
        delta = xy - nodes[:, :2]
        d2 = (delta * delta).sum(-1) + (self.up_m - nodes[:, 2]) ** 2
        return np.column_stack([exponent * DB_PER_NEPER * delta / d2[:, None], -bands])

    def _levenberg_marquardt(self, xy, exponents, idx, bands, profile: _Profile):
        """Minimise the cost over (x, y) with A profiled out, from grid starts xy (S x 2), each at
        its exponent (S): (xy S x 2, cost S). The starts run together, each with its own damping
        and stopping, as one would alone: a fix's few 2-4 parameter problems are NumPy calls on
        arrays of a few elements, whose per-call overhead batching pays once for all of them."""
        nodes = self.nodes[idx]
        height2 = (self.up_m - nodes[:, 2]) ** 2
        xy = np.array(xy, float)
        n = np.asarray(exponents, float)[:, None]
        _, r, cost = profile(_log_distance(xy, nodes, self.up_m), n)
        damping = np.full(len(xy), 1e-3)
        running = np.ones(len(xy), bool)
        unit = np.eye(2 + bands.shape[1])
        # `_jacobian` of every start, its bands' columns filled once
        jac = np.empty((len(xy), idx.size, unit.shape[0]))
        jac[:, :, 2:] = -bands
        slope = n[:, :, None] * DB_PER_NEPER
        for _ in range(self.ITERATIONS):
            if not running.any():
                break
            delta = xy[:, None, :] - nodes[:, :2]
            jac[:, :, :2] = slope * delta / ((delta * delta).sum(-1) + height2)[:, :, None]
            jac_t_w = jac.transpose(0, 2, 1) @ profile.weight
            h = jac_t_w @ jac
            g = jac_t_w @ r[:, :, None]
            damped = h + (damping[:, None] * (h.diagonal(0, 1, 2) + 1e-12))[:, :, None] * unit
            if not running.all():
                damped[~running] = unit  # a start that has stopped: a step not taken
            step = np.linalg.solve(damped, -g)[:, :2, 0]
            trial = xy + step
            _, r_trial, cost_trial = profile(_log_distance(trial, nodes, self.up_m), n)
            better = running & (cost_trial < cost)
            worse = running & ~better
            converged = better & ((np.abs(step).max(-1) < 0.1) | (cost - cost_trial < 1e-6))
            xy = np.where(better[:, None], trial, xy)
            r = np.where(better[:, None], r_trial, r)
            cost = np.where(better, cost_trial, cost)
            damping = np.where(better, np.maximum(damping / 10, 1e-9),
                               np.where(worse, damping * 10, damping))
            running &= ~converged & ~(worse & (damping > 1e6))
        return xy, cost
