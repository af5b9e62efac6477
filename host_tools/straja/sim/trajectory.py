"""Where an emitter is and when it is switched on.

A trajectory is a list of waypoints (t, x, y, z) in seconds and metres, linearly interpolated;
before the first waypoint and after the last the emitter stays put (two waypoints at the same
place make a hover). A schedule is a list of [on, off) intervals in seconds.
"""
import numpy as np

ALWAYS = ((0.0, float("inf")),)


class Trajectory:
    """Piecewise-linear motion through waypoints (t_s, x_m, y_m, z_m)."""

    def __init__(self, waypoints):
        wp = np.asarray(waypoints, dtype=float).reshape(-1, 4)
        self.t = wp[:, 0]
        self.xyz = wp[:, 1:]
        self.static = len(wp) == 1 or bool(np.all(self.xyz == self.xyz[0]))

    @classmethod
    def fixed(cls, xyz):
        return cls([(0.0, *xyz)])

    def position(self, t):
        """Position(s) at time(s) t: shape (3,) for a scalar, (n, 3) for an array."""
        if self.static:
            pos = self.xyz[0]
            return pos if np.ndim(t) == 0 else np.broadcast_to(pos, (np.size(t), 3))
        ts = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.stack([np.interp(ts, self.t, self.xyz[:, i]) for i in range(3)], axis=-1)
        return out[0] if np.ndim(t) == 0 else out

    def distance(self, t, xyz):
        """Distance in metres from point xyz to the emitter at time(s) t."""
        d = self.position(t) - np.asarray(xyz, dtype=float)
        return np.sqrt(np.sum(d * d, axis=-1))


class Schedule:
    """Sorted, non-overlapping [on, off) intervals."""

    def __init__(self, intervals=ALWAYS):
        iv = np.asarray(sorted(tuple(map(float, p)) for p in intervals), dtype=float).reshape(-1, 2)
        self.on = iv[:, 0]
        self.off = iv[:, 1]

    def intervals(self, t0, t1):
        """The on intervals clipped to [t0, t1]."""
        keep = (self.off > t0) & (self.on < t1)
        return [(max(a, t0), min(b, t1)) for a, b in zip(self.on[keep], self.off[keep])]

    def is_on(self, t):
        i = np.searchsorted(self.on, t, side="right") - 1
        ok = i >= 0
        return ok & (t < self.off[np.maximum(i, 0)])

    def any_on(self, t0, t1):
        i = int(np.searchsorted(self.off, t0, side="right"))
        return i < len(self.on) and self.on[i] < t1

    def clip(self, t0, t1):
        """Clip transmissions [t0, t1) to the schedule: returns (keep mask, new t0, new t1).

        A transmission is cut where the emitter is switched off mid-way (a radio powered down
        stops at once); each transmission is shorter than any gap between on intervals.
        """
        i = np.searchsorted(self.off, t0, side="right")
        valid = i < len(self.on)
        i = np.minimum(i, len(self.on) - 1)
        a = np.maximum(t0, self.on[i])
        b = np.minimum(t1, self.off[i])
        keep = valid & (a < b)
        return keep, a[keep], b[keep]
