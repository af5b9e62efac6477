"""A drone's position over time: a constant-velocity Kalman filter fed with fixes.

State (east, north, v_east, v_north). The process noise is white acceleration of spread
`accel_mps2` (small quadcopters manoeuvre at a few m/s^2). The speed is capped at `max_speed_mps`
(30 m/s: fast for a small drone, racing quads excepted) by scaling the velocity back after each
update.

Fixes of one drone a second apart see nearly the same shadowing (it changes over tens of metres),
so their errors are correlated; averaging them as independent would shrink the covariance while the
error stays. Each fix's covariance is therefore inflated by the number of fixes that share its
shadowing, 1 + correlation_s / dt, which keeps the tracker's ellipse as honest as a single fix's.
"""
from __future__ import annotations

import numpy as np

from .rss import Fix, ellipse


class Tracker:
    def __init__(self, accel_mps2: float = 3.0, max_speed_mps: float = 30.0,
                 correlation_s: float = 5.0):
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
        r = fix.cov * (1 + self.correlation_s / max(dt, 1e-3))
        h = np.zeros((2, 4))
        h[0, 0] = h[1, 1] = 1
        s = h @ self.cov @ h.T + r
        gain = self.cov @ h.T @ np.linalg.inv(s)
        self.state = self.state + gain @ (fix.east_north - self.state[:2])
        self.cov = (np.eye(4) - gain @ h) @ self.cov
        self.cov = (self.cov + self.cov.T) / 2
        self.scale2 = fix.scale2
        speed = np.hypot(*self.state[2:])
        if speed > self.max_speed:
            self.state[2:] *= self.max_speed / speed

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
