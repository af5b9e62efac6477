"""Scoring: trials' outcomes against ground truth, interval estimates, rates.

Pure functions on plain data, so the tests can hold them to hand-made cases.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..gateway.events import AlertRaised, AlertUpdated

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (Wilson 1927; Agresti & Coull 1998):
    unlike the normal approximation it stays inside [0, 1] and is honest at k = 0 or k = n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def _poisson_cdf(k: int, mu: float) -> float:
    term = total = math.exp(-mu)
    for i in range(1, k + 1):
        term *= mu / i
        total += term
    return total


def _solve_mu(f, target: float, k: int) -> float:
    """The mean mu at which the decreasing function f(mu) equals target (bisection)."""
    lo, hi = 0.0, k + 10.0 + 10 * math.sqrt(k + 1)
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) > target else (lo, mid)
    return hi


def poisson_upper(k: int, exposure: float, conf: float = 0.95) -> float:
    """One-sided upper confidence bound on a Poisson rate from k events in `exposure` (e.g.
    node-hours): the rate whose P(X <= k) is 1 - conf (k = 0: -ln(0.05) = 3.0 / exposure)."""
    return _solve_mu(lambda mu: _poisson_cdf(k, mu), 1 - conf, k) / exposure


def poisson_lower(k: int, exposure: float, conf: float = 0.95) -> float:
    """One-sided lower bound: the rate whose P(X >= k) is 1 - conf (0 for k = 0)."""
    if k == 0:
        return 0.0
    return _solve_mu(lambda mu: _poisson_cdf(k - 1, mu), conf, k) / exposure


class Outcome(NamedTuple):
    """One trial: its received power over the front end's noise floor and what the detector did."""
    family: str            # the link family in the scene (truth)
    snr_db: float          # received power minus the node's noise floor in the reader's bandwidth
    t_alert_s: float       # switch-on to the first alert after switch-on; inf if none
    predicted: str         # the first alert's family as last told (first_alert), or "none"


def first_alert(events: list, t_on_s: float, t0_ns: int = 0) -> tuple[float, str]:
    """(seconds from switch-on to the first `alert_raised` at or after switch-on, that alert's
    family as last told in `events`); (inf, "none") without one. The family is its latest
    raised or updated event's: a video profile names the track after its alert, in an update
    (gateway/profiling.py), and the name an operator is left with is what counts."""
    first = None
    for e in events:
        if first is None:
            if isinstance(e, AlertRaised) and (e.t_ns - t0_ns) / 1e9 >= t_on_s:
                first, family = e, e.family
        elif isinstance(e, (AlertRaised, AlertUpdated)) and e.alert_id == first.alert_id:
            family = e.family
    if first is None:
        return math.inf, "none"
    return (first.t_ns - t0_ns) / 1e9 - t_on_s, family


def detected(outcomes: list[Outcome], within_s: float) -> np.ndarray:
    return np.array([o.t_alert_s <= within_s for o in outcomes], bool)


def pd_curve(snr_db, hits, edges) -> list[dict]:
    """Probability of detection per received-power bin, with Wilson 95 % intervals."""
    snr_db, hits = np.asarray(snr_db, float), np.asarray(hits, bool)
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (snr_db >= lo) & (snr_db < hi)
        n, k = int(inside.sum()), int(hits[inside].sum())
        if n:
            rows.append({"lo": lo, "hi": hi, "n": n, "k": k, "pd": k / n, "ci": wilson(k, n)})
    return rows


def power_at_pd(rows: list[dict], pd: float = 0.9, min_n: int = 5) -> float:
    """From a `pd_curve`: the lower edge of the lowest bin from which on every bin with at
    least min_n trials reaches pd; nan if the highest such bin does not."""
    found = math.nan
    for r in sorted((r for r in rows if r["n"] >= min_n), key=lambda r: -r["lo"]):
        if r["pd"] < pd:
            break
        found = float(r["lo"])
    return found


def percentile(values, q: float) -> float:
    """q-th percentile of finite and infinite values alike (inf: never alerted); nan if empty."""
    v = np.sort(np.asarray(values, float))
    if not len(v):
        return math.nan
    i = min(int(math.ceil(q / 100 * len(v))) - 1, len(v) - 1)
    return float(v[max(i, 0)])


def confusion(outcomes: list[Outcome], families: list[str]) -> dict:
    """counts[true][predicted] with predicted in families + other labels seen + "none"."""
    out = {f: {} for f in families}
    for o in outcomes:
        row = out.setdefault(o.family, {})
        row[o.predicted] = row.get(o.predicted, 0) + 1
    return out


def alerts_per_run(excess_db: np.ndarray, threshold_db: float, k: int) -> int:
    """Alerts of a fixed-threshold detector over one run: `excess_db` is, per sweep, the
    strongest channel over the front end's floor; an alert is K consecutive sweeps above the
    threshold, and it re-arms once a sweep falls below."""
    above = np.asarray(excess_db) > threshold_db
    alerts, run = 0, 0
    for a in above:
        run = run + 1 if a else 0
        alerts += run == k
    return alerts


def first_run_end(excess_db: np.ndarray, threshold_db: float, k: int) -> int:
    """Index of the sweep that completes the first K-long run above the threshold; -1 if none."""
    run = 0
    for i, a in enumerate(np.asarray(excess_db) > threshold_db):
        run = run + 1 if a else 0
        if run == k:
            return i
    return -1


def tune_threshold(runs: list[np.ndarray], k: int, max_alerts: int,
                   grid=np.arange(0.5, 60.01, 0.5)) -> float:
    """The lowest threshold (dB over floor) whose alerts over `runs` do not exceed max_alerts
    (inf if none on the grid does)."""
    for t in grid:
        if sum(alerts_per_run(r, t, k) for r in runs) <= max_alerts:
            return float(t)
    return math.inf
