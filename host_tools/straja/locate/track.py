"""A drone's position over time: a constant-velocity Kalman filter fed with fixes.

State (east, north, v_east, v_north). The process noise is white acceleration of spread
`accel_mps2` (small quadcopters manoeuvre at a few m/s^2). The speed is capped at `max_speed_mps`
(30 m/s: fast for a small drone, racing quads excepted) by scaling the velocity back after each
update.

Fixes of one drone a second apart see nearly the same shadowing (it changes over tens of metres),
so their errors are correlated; averaging them as independent would shrink the covariance while the
error stays. Each fix's covariance is therefore inflated by the number of fixes that share its
shadowing, 1 + correlation_s / dt, which keeps the tracker's ellipse as honest as a single fix's.
For shadowing with correlation exp(-dt / tau) the mean of fixes dt apart has the variance of
independent ones times (1 + rho) / (1 - rho) ~ 2 tau / dt, so correlation_s is 2 tau: 20 s for a
drone at 10 m/s through shadowing that decorrelates over 100 m (Gudmundson's exponential model;
docs/localisation.md measures 5 s against 20 s).

A fix can have several candidate points (`Fix.candidates`: the mirror of a point in the circle
through four nodes on a square fits the powers as well; the fixes at the other exponents of the
quadrature); a single fix reports the best one, its region an ellipse about each. The tracker weighs each candidate again by how well it fits the
track's prediction (the mirror of a drone flying at 10 m/s inside the circle moves R^2/r^2 as fast,
beyond the speed limit, and lands far from the prediction), takes the likeliest and spreads the
covariance over the others by their new weights: a mirror the track rules out no longer widens
the ellipse, one it does not rule out still does.
"""
from __future__ import annotations

import math

import numpy as np

from .rss import Fix, ellipse


class Tracker:
    def __init__(self, accel_mps2: float = 3.0, max_speed_mps: float = 30.0,
                 correlation_s: float = 20.0):
        if min(accel_mps2, max_speed_mps) <= 0 or correlation_s < 0:
            raise ValueError("tracker: acceleration and speed limit must be positive")
        self.accel = accel_mps2
        self.max_speed = max_speed_mps
        self.correlation_s = correlation_s
        self.state: np.ndarray | None = None
        self.cov = np.zeros((4, 4))
        self.scale2 = 0.0
        self.t_s = 0.0

    def predict(self, t_s: float) -> None:
        dt = t_s - self.t_s
        if self.state is None or dt <= 0:
            return
        f = np.eye(4)
        f[0, 2] = f[1, 3] = dt
        g = np.array([[dt * dt / 2, 0], [0, dt * dt / 2], [dt, 0], [0, dt]])
        self.state = f @ self.state
        self.cov = f @ self.cov @ f.T + self.accel**2 * g @ g.T
        self.t_s = t_s

    def update(self, t_s: float, fix: Fix) -> None:
        """Take a fix made at t_s (seconds, increasing)."""
        if self.state is None:
            speed_var = (self.max_speed / 2) ** 2  # a drone at rest or at full speed: unknown
            self.state = np.array([*fix.east_north, 0.0, 0.0])
            self.cov = np.zeros((4, 4))
            self.cov[:2, :2] = fix.cov
            self.cov[2, 2] = self.cov[3, 3] = speed_var
            self.scale2, self.t_s = fix.scale2, t_s
            return
        dt = t_s - self.t_s
        self.predict(t_s)
        shared = 1 + self.correlation_s / max(dt, 1e-3)  # fixes sharing this one's shadowing
        point, cov = self._measurement(fix, shared)
        r = cov * shared
        s = self.cov[:2, :2] + r
        gain = self.cov[:, :2] @ np.linalg.inv(s)
        self.state = self.state + gain @ (point - self.state[:2])
        self.cov = self.cov - gain @ self.cov[:2, :]
        self.cov = (self.cov + self.cov.T) / 2
        self.scale2 = fix.scale2
        speed = np.hypot(*self.state[2:])
        if speed > self.max_speed:
            self.state[2:] *= self.max_speed / speed

    def _measurement(self, fix: Fix, shared: float):
        """(point, covariance) of a fix given the track's prediction: its candidates weighted by
        their likelihood times their fit to the prediction (its evidence shared with the
        `shared` fixes of the same shadowing), the likeliest taken, the covariance spread over
        the rest as a single fix's is."""
        if len(fix.candidates) < 2:
            return fix.east_north, fix.cov
        log_weights = []
        for xy, cov, weight, _ in fix.candidates:
            s = self.cov[:2, :2] + cov * shared
            nu = xy - self.state[:2]
            fit = -0.5 * (nu @ np.linalg.solve(s, nu) + math.log(np.linalg.det(s)))
            log_weights.append(math.log(weight) + fit / shared)
        weights = np.exp(np.array(log_weights) - max(log_weights))
        best = fix.candidates[int(np.argmax(weights))][0]
        cov = sum(w * (c + np.outer(xy - best, xy - best))
                  for (xy, c, _, _), w in zip(fix.candidates, weights)) / weights.sum()
        return best, cov

    @property
    def east_north(self) -> np.ndarray:
        return self.state[:2].copy()

    @property
    def velocity(self) -> np.ndarray:
        return self.state[2:].copy()

    @property
    def ellipse(self) -> tuple[float, float, float]:
        return ellipse(self.cov[:2, :2], self.scale2)

    def covers(self, east_north) -> bool:
        d = np.asarray(east_north, float)[:2] - self.state[:2]
        return float(d @ np.linalg.solve(self.cov[:2, :2], d)) <= self.scale2

