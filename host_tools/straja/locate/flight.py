"""A drone's position over a flight from the powers themselves: a Rao-Blackwellised particle
filter (docs/localisation.md, "The flight filter").

A fix (`rss.Fix`) treats each reading's shadowing as new noise; over a flight it is not: a link's
shadowing changes over ~100 m flown (Gudmundson's exponential model), so consecutive readings share
it, and a filter fed with fixes can only average their common error. Here the shadowing of each
link (node and band) and each band's transmit constant A are state, estimated with the position:

    y_i = A_band - 10 n log10 d_i(position, height) + s_link + e_i,   e_i ~ N(0, noise^2)
    s_link' = r s_link + sqrt(1 - r^2) w,   r = exp(-distance flown / decorrelation_m)

Given a position (and the exponent n, the height) this is linear and Gaussian in (A, s): one
Kalman filter, exact. The particles carry only what makes it non-linear: east, north, their
velocities (constant velocity, white acceleration `accel_mps2`, speed capped at `max_speed_mps`),
the exponent (drawn from the model's prior, a static parameter) and the drone's height (uniform
over `height_range_m`). A particle's weight is the Kalman predictive likelihood of the readings.

Each particle's shadowing is renewed by the distance that particle flew (a hovering drone's
shadowing stays, one in flight renews it), so each has its own Kalman covariance (a few states:
one A per band, one shadowing per link).

The position's prior: no farther than the fix's search region (the nodes +- the bands' range,
`Localiser.region`; a particle that flies out of it has no weight) and within it uniform in the
logarithm of the range from the nodes' centre beyond their own radius (a density falling as
1 / r^2), flat inside it. With the transmit power unknown over 30 dB the readings fix the range
only up to a scale, so a prior uniform in area put the posterior's mass where the area is, far
out, and made it grow with the search region's size; uniform in log range is the prior that does
not depend on that choice. The first readings' particles are drawn from a defensive mixture,
half uniform over the region and half about the first fix's candidates (a point, its mirror, the
fixes at other exponents: each a Gaussian twice as wide as its covariance), weighted by
likelihood times prior over that proposal. (Drawn about the candidates alone, with no bound, a
far candidate's wide Gaussian put particles 15-20 km out, where the readings never ruled them
out; docs/localisation.md measures each step.)

The 95 % region is the particles' own: one or two clusters (a drone and its mirror, until the
evidence separates them), an ellipse about each from its weighted covariance, scaled so that they
hold 95 % of the particles' weight (measured, not assumed); the position is the likelier
cluster's posterior mode (`east_north`).
"""
from __future__ import annotations

import math

import numpy as np

from .rss import Fix, Localiser, ellipse

PROPOSAL_WIDTH = 2.0   # the first particles: Gaussians this many times each candidate's spread
UNIFORM_SHARE = 0.5    # ... and this share uniform over the search region (a defensive mixture)
CLUSTER_SEPARATION = 4.0  # two clusters when their means are this many spreads apart (below)
EXPONENT_JITTER, HEIGHT_JITTER_M = 0.01, 1.0  # static parameters moved at resampling
MODE_POINTS = 200      # particles at which the position's density is compared (`east_north`)


class FlightFilter:
    """A drone's track from the readings of each update (node index, dBm, frequency, band label),
    the readings' covariance pooled by the site's `ShadowingSpread` (its spread and its
    correlation between a node's bands)."""

    def __init__(self, localiser: Localiser, particles: int = 2000, accel_mps2: float = 3.0,
                 max_speed_mps: float = 30.0, decorrelation_m: float = 100.0,
                 noise_db: float = 1.0, height_range_m: tuple[float, float] = (10.0, 150.0),
                 seed: int = 0):
        if min(particles, accel_mps2, max_speed_mps, decorrelation_m, noise_db) <= 0:
            raise ValueError("flight filter: particles, acceleration, speed limit, decorrelation "
                             "distance and reading noise must be positive")
        self.localiser = localiser
        self.count = particles
        self.accel, self.max_speed = accel_mps2, max_speed_mps
        self.decorrelation_m, self.noise_db = decorrelation_m, noise_db
        self.height_range = height_range_m
        self.rng = np.random.default_rng(seed)
        self.t_s = 0.0
        self.xy = self.v = self.exponent = self.up = None   # per particle
        self.log_w = np.zeros(particles)
        self.bands: dict = {}      # band label -> state column
        self.links: dict = {}      # (node index, band label) -> state column
        self.mean = np.zeros((particles, 0))     # the Kalman means, particles x state
        self.cov = np.zeros((particles, 0, 0))   # their covariances
        self._summary = self._estimate = None

    @property
    def started(self) -> bool:
        return self.xy is not None

    def update(self, t_s: float, fix: Fix, node_index, dbm, freq_hz, band=None) -> None:
        """Take the readings made at t_s (seconds, increasing) and their fix (the first fix
        places the first particles)."""
        idx = np.asarray(node_index, int).ravel()
        y = np.asarray(dbm, float).ravel()
        labels = [0] * idx.size if band is None else list(np.asarray(band).ravel())
        freqs = np.broadcast_to(np.asarray(freq_hz, float), idx.shape)
        if not self.started:
            proposal_log_q = self._start(fix)
        else:
            self._predict(t_s)
            proposal_log_q = 0.0
        self.t_s = t_s
        columns = self._columns(idx, labels, freqs)
        self.log_w += self._kalman_update(idx, y, columns) - proposal_log_q
        outside = self._outside()
        if not outside.all():   # a drone out of the bands' range would not be heard
            self.log_w[outside] = -np.inf
        self._summary = self._estimate = None
        self._resample_if_needed()

    # -- the particles' motion ------------------------------------------------------------
    def _start(self, fix: Fix) -> np.ndarray:
        """Draw the first particles; returns log q - log prior, q the proposal density of each
        position (those drawn beyond the search region lose their weight in `update`)."""
        n, rng, m = self.count, self.rng, self.localiser.model
        lo, hi = self.localiser.region
        candidates = fix.candidates or [(fix.east_north, fix.cov, 1.0, m.exponent)]
        shares = np.array([c[2] for c in candidates], float)
        shares = (1 - UNIFORM_SHARE) * shares / shares.sum()
        pick = rng.choice(len(candidates) + 1, n, p=np.r_[shares, UNIFORM_SHARE])
        xy = rng.uniform(lo, hi, (n, 2))   # the last component: uniform over the region
        covs = [PROPOSAL_WIDTH**2 * np.asarray(c[1], float) for c in candidates]
        for k, (c, cov) in enumerate(zip(candidates, covs)):
            chosen = pick == k
            xy[chosen] = rng.multivariate_normal(np.asarray(c[0], float), cov, chosen.sum())
        area = float(np.prod(hi - lo))
        density = np.full(n, UNIFORM_SHARE / area)
        for share, c, cov in zip(shares, candidates, covs):
            d = xy - np.asarray(c[0], float)
            maha = np.einsum("ki,ij,kj->k", d, np.linalg.inv(cov), d)
            density += share * np.exp(-maha / 2) / (2 * math.pi * math.sqrt(np.linalg.det(cov)))
        self.xy = xy
        self.v = self._cap(rng.normal(0, self.max_speed / 2, (n, 2)))
        site = self.localiser.exponent   # the site's learnt exponent (`SiteExponent`)
        self.exponent = rng.normal(site.mean, site.spread, n)
        self.up = (self.localiser.nodes[:, 2].mean()
                   + rng.uniform(*self.height_range, n))
        return np.log(density) - self._log_prior()

    def _log_prior(self) -> np.ndarray:
        """The position prior's log density (up to a constant): uniform in log range from the
        nodes' centre beyond their radius r0, flat within it."""
        nodes = self.localiser.nodes[:, :2]
        centre = nodes.mean(0)
        r0 = np.hypot(*(nodes - centre).T).max()
        return -2 * np.log(np.maximum(np.hypot(*(self.xy - centre).T), r0) / r0)

    def _outside(self) -> np.ndarray:
        """Whether each particle lies beyond the search region (the prior's support)."""
        lo, hi = self.localiser.region
        return np.any((self.xy < lo) | (self.xy > hi), axis=1)

    def _cap(self, v: np.ndarray) -> np.ndarray:
        speed = np.hypot(v[:, 0], v[:, 1])
        return v * np.minimum(1.0, self.max_speed / np.maximum(speed, 1e-9))[:, None]

    def _predict(self, t_s: float) -> None:
        dt = max(t_s - self.t_s, 0.0)
        a = self.rng.normal(0, self.accel, (self.count, 2))
        step = self.v * dt + a * dt * dt / 2
        self.xy = self.xy + step
        self.v = self._cap(self.v + a * dt)
        # each particle's shadowing renewed by the distance it flew
        r = np.exp(-np.hypot(step[:, 0], step[:, 1]) / self.decorrelation_m)
        shadowing = self._shadowing_columns()
        scale = np.ones(self.mean.shape)
        scale[:, shadowing] = r[:, None]
        self.mean *= scale
        self.cov = self.cov * scale[:, :, None] * scale[:, None, :]
        self.cov[:, shadowing[:, None], shadowing] += ((1 - r * r)[:, None, None]
                                                       * self._shadowing_prior())

    # -- the Kalman filter over A and the shadowing ----------------------------------------
    def _shadowing_columns(self) -> np.ndarray:
        return np.array(list(self.links.values()), int)

    def _shadowing_prior(self) -> np.ndarray:
        """The links' shadowing covariance: the site's spread, correlated between one node's
        bands as the site's estimate says."""
        spread = self.localiser.spread
        nodes = np.array([node for node, _ in self.links])
        same = (nodes[:, None] == nodes[None, :]).astype(float)
        rho = spread.band_correlation
        return spread.sigma_db**2 * (rho * same + (1 - rho) * np.eye(len(nodes)))

    def _add_state(self, variance: float, mean: float, covariance_row=None) -> int:
        """A new state, uncorrelated with what is known (a new band's A) or correlated with
        the prior parts of others as a link's shadowing is with its node's other bands."""
        k = self.mean.shape[1]
        cov = np.zeros((self.count, k + 1, k + 1))
        cov[:, :k, :k] = self.cov
        cov[:, k, k] = variance
        if covariance_row is not None:
            cov[:, k, :k] = cov[:, :k, k] = covariance_row
        self.cov = cov
        self.mean = np.column_stack([self.mean, np.full(self.count, mean)])
        return k

    def _columns(self, idx, labels, freqs) -> list[tuple[int, int]]:
        """(A column, shadowing column) of each reading; a band or link heard for the first time
        enters with its prior (the band's power prior; the link's shadowing, correlated with the
        same node's other bands' links)."""
        out = []
        for i, label, f in zip(idx.tolist(), labels, freqs.tolist()):
            if label not in self.bands:
                mean, spread = self.localiser.power_prior(f, exponent_known=True)
                self.bands[label] = self._add_state(float(spread[0]) ** 2, float(mean[0]))
            if (i, label) not in self.links:
                spread = self.localiser.spread
                row = np.zeros(self.mean.shape[1])
                rho = spread.band_correlation * spread.sigma_db**2
                for (node, _), column in self.links.items():
                    if node == i:  # as correlated with its node's other band as their prior
                        row[column] = rho
                self.links[(i, label)] = self._add_state(spread.sigma_db**2, 0.0, row)
            out.append((self.bands[label], self.links[(i, label)]))
        return out

    def _path_loss(self, idx: np.ndarray) -> np.ndarray:
        """-10 n log10 d of each particle (rows) to each reading's node (columns)."""
        nodes = self.localiser.nodes[idx]
        d2 = (((self.xy[:, None, :] - nodes[:, :2]) ** 2).sum(-1)
              + (self.up[:, None] - nodes[:, 2]) ** 2)
        return -self.exponent[:, None] * 5 * np.log10(np.maximum(d2, 1.0))

    def _kalman_update(self, idx, y, columns) -> np.ndarray:
        """The readings' log predictive likelihood per particle, and the Kalman update."""
        h = np.zeros((idx.size, self.mean.shape[1]))
        for row, (a, s) in enumerate(columns):
            h[row, a] = h[row, s] = 1.0
        innovation = y - self._path_loss(idx) - self.mean @ h.T          # particles x readings
        cov_h = self.cov @ h.T                                            # particles x D x N
        s = h @ cov_h + self.noise_db**2 * np.eye(idx.size)
        s_inv = np.linalg.inv(s)
        gain = cov_h @ s_inv
        self.mean = self.mean + np.einsum("kdn,kn->kd", gain, innovation)
        self.cov = self.cov - gain @ cov_h.transpose(0, 2, 1)
        self.cov = (self.cov + self.cov.transpose(0, 2, 1)) / 2
        return -0.5 * (np.einsum("ki,kij,kj->k", innovation, s_inv, innovation)
                       + np.linalg.slogdet(s)[1])

    def _resample_if_needed(self) -> None:
        w = self._weights()
        if 1.0 / (w @ w) >= self.count / 2:
            return
        positions = (self.rng.uniform() + np.arange(self.count)) / self.count  # systematic
        keep = np.minimum(np.searchsorted(np.cumsum(w), positions), self.count - 1)
        self.xy, self.v = self.xy[keep], self.v[keep]
        self.mean, self.cov = self.mean[keep], self.cov[keep]
        # the static parameters would collapse onto a few values: moved a little
        self.exponent = self.exponent[keep] + self.rng.normal(0, EXPONENT_JITTER, self.count)
        self.up = self.up[keep] + self.rng.normal(0, HEIGHT_JITTER_M, self.count)
        self.log_w = np.zeros(self.count)

    def _weights(self) -> np.ndarray:
        w = np.exp(self.log_w - self.log_w.max())
        return w / w.sum()

    # -- what it reports -------------------------------------------------------------------
    def _clusters(self):
        """[(share, mean, covariance)] of one or two clusters of the particles, likeliest first,
        and the scale^2 of their ellipses that holds `confidence` of the weight. Two when a
        weighted 2-means split leaves clusters whose means lie CLUSTER_SEPARATION pooled spreads
        apart along the line joining them (a Gaussian cut in two gives 2.7, a uniform 3.5: a
        drone and its mirror, 1-2 km apart with spreads of a few hundred metres, more)."""
        if self._summary is not None:
            return self._summary
        w, xy = self._weights(), self.xy
        groups = [np.ones(self.count, bool)]
        mean = w @ xy
        vals, vecs = np.linalg.eigh(_weighted_cov(xy, w, mean))
        centres = mean + np.array([-1.0, 1.0])[:, None] * math.sqrt(max(vals[1], 0)) * vecs[:, 1]
        for _ in range(8):
            near = ((xy[:, None, :] - centres) ** 2).sum(-1).argmin(1) == 0
            if near.all() or not near.any():
                break
            centres = np.array([w[near] @ xy[near] / w[near].sum(),
                                w[~near] @ xy[~near] / w[~near].sum()])
        else:
            gap = float(np.linalg.norm(centres[1] - centres[0]))
            along = xy @ (centres[1] - centres[0]) / max(gap, 1e-9)
            spreads = [_weighted_var(along[g], w[g]) for g in (near, ~near)]
            if gap > CLUSTER_SEPARATION * math.sqrt(max(sum(spreads) / 2, 1e-9)):
                groups = [near, ~near]
        parts = []
        for g in groups:
            share = float(w[g].sum())
            centre = w[g] @ xy[g] / share
            parts.append((share, centre, _weighted_cov(xy[g], w[g] / share, centre)
                          + np.eye(2)))  # a cloud collapsed onto one point: 1 m, not 0
        parts.sort(key=lambda p: -p[0])
        nearest = np.min([_mahalanobis2(xy, c, cov) for _, c, cov in parts], axis=0)
        order = np.argsort(nearest)
        held = np.cumsum(w[order])
        confidence = self.localiser.model.confidence
        scale2 = float(nearest[order][min(np.searchsorted(held, confidence), self.count - 1)])
        self._summary = (parts, scale2)
        return self._summary

    @property
    def east_north(self) -> np.ndarray:
        """The posterior's mode in the likelier cluster: a kernel density estimate of the
        particles (Silverman's bandwidth from the cluster's covariance), its highest value over
        MODE_POINTS particles drawn by weight, then a mean-shift step from there. Not the mean:
        with the transmit power and the exponent unknown the posterior is flat outwards (a far,
        strong drone at a low exponent fits nearly as well), and its long tail drags the mean
        off the likeliest place (6 drones inside, 4 dB: mean 781 m, mode 480 m)."""
        if self._estimate is None:
            (_, centre, cov), *_ = self._clusters()[0]
            w = self._weights()
            bandwidth2 = cov * (1.0 / (w @ w)) ** (-1 / 3)   # Silverman, 2-D: n^(-1/6) squared
            inverse = np.linalg.inv(bandwidth2)
            probe = self.xy[self.rng.choice(self.count, MODE_POINTS, p=w)]
            d = probe[:, None, :] - self.xy[None]
            kernel = np.exp(-0.5 * np.einsum("pki,ij,pkj->pk", d, inverse, d)) * w
            best = int(kernel.sum(1).argmax())
            self._estimate = kernel[best] @ self.xy / kernel[best].sum()
        return self._estimate.copy()

    @property
    def ellipse(self) -> tuple[float, float, float]:
        """The likelier cluster's 95 % ellipse (semi-major, semi-minor, azimuth)."""
        parts, scale2 = self._clusters()
        return ellipse(parts[0][2], scale2)

    @property
    def parts(self) -> int:
        return len(self._clusters()[0])

    def share_within_nodes(self) -> float:
        """The posterior's weight inside the convex hull of the nodes (where fixes are least
        biased: `run_tracked`'s hybrid takes the tracker of fixes there, this filter beyond)."""
        return float(self._weights() @ within_hull(self.localiser.nodes[:, :2], self.xy))

    def covers(self, east_north) -> bool:
        """Whether a point lies in the region: any cluster's ellipse."""
        parts, scale2 = self._clusters()
        point = np.asarray(east_north, float)[:2][None]
        return any(_mahalanobis2(point, c, cov)[0] <= scale2 for _, c, cov in parts)


def _weighted_cov(xy: np.ndarray, w: np.ndarray, mean: np.ndarray) -> np.ndarray:
    d = xy - mean
    return (d * w[:, None]).T @ d / w.sum()


def _weighted_var(x: np.ndarray, w: np.ndarray) -> float:
    mean = w @ x / w.sum()
    return float(w @ (x - mean) ** 2 / w.sum())


def _mahalanobis2(xy: np.ndarray, centre: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = xy - centre
    return np.einsum("ki,ij,kj->k", d, np.linalg.inv(cov), d)


def within_hull(points: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Whether each of xy lies in the convex hull of points (2-D; Andrew's monotone chain)."""
    hull = []
    for chain in (sorted(map(tuple, points)), sorted(map(tuple, points), reverse=True)):
        part = []
        for p in chain:
            while len(part) >= 2 and _cross(part[-2], part[-1], p) <= 0:
                part.pop()
            part.append(p)
        hull += part[:-1]   # counter-clockwise, each chain's last point the next's first
    corners = np.array(hull)
    return np.all(_cross(corners, np.roll(corners, -1, axis=0), xy[:, None, :]) >= 0, axis=1)


def _cross(o, a, b):
    """The z of (a - o) x (b - o): positive when o, a, b turn counter-clockwise."""
    o, a, b = (np.asarray(v, float) for v in (o, a, b))
    return ((a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1])
            - (a[..., 1] - o[..., 1]) * (b[..., 0] - o[..., 0]))
