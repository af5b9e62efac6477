"""Distribution tails for multi-look (averaged) power readings, without SciPy.

A reading averaged over L independent square-law samples of noise of mean 1 is Gamma(L, 1/L)
(L = 1: exponential). The tails needed by the detectors:

- Gamma(L, 1/L) survival at x: Q(L, L x), the regularized upper incomplete gamma function;
- X / mean(N such readings) follows F(2L, 2NL): P(F > a) = I_{N/(N+a)}(NL, L), the regularized
  incomplete beta function (Abramowitz & Stegun 26.6.2 with the roles of x and 1-x swapped).

Both by Numerical Recipes (Press et al., 3rd ed.): 6.2 (series below a+1, Lentz continued
fraction above) and 6.4 (continued fraction, evaluated on the side where it converges fast).
"""
from __future__ import annotations

from math import exp, lgamma, log, log1p, sqrt
from statistics import NormalDist

EPS = 1e-15
TINY = 1e-300
MAX_ITER = 100_000
DB_PER_NEPER = 10.0 / log(10.0)


def _lentz(coef) -> float:
    """Value of 1 / (1 + d1 / (1 + d2 / (1 + ...))) for d_m = coef(m), modified Lentz (NR 6.4)."""
    d = 1.0 + coef(1)
    d = 1.0 / (d if abs(d) > TINY else TINY)
    c, h = 1.0, d
    for m in range(2, MAX_ITER):
        d = 1.0 + coef(m) * d
        d = 1.0 / (d if abs(d) > TINY else TINY)
        c = 1.0 + coef(m) / c
        c = c if abs(c) > TINY else TINY
        h *= d * c
        if m % 2 and abs(d * c - 1.0) < EPS:
            return h
    raise ArithmeticError("continued fraction did not converge")


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (NR 6.4.5: continued fraction)."""
    if not (a > 0 and b > 0 and 0.0 <= x <= 1.0):
        raise ValueError(f"betainc needs a, b > 0 and 0 <= x <= 1, not {a}, {b}, {x}")
    if x in (0.0, 1.0):
        return x
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast only below this
        return 1.0 - betainc(b, a, 1.0 - x)
    front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x)) / a

    def coef(m):
        k = m // 2  # d_2k = k (b-k) x / ..., d_2k+1 = -(a+k)(a+b+k) x / ...
        if m % 2 == 0:
            return k * (b - k) * x / ((a + 2 * k - 1) * (a + 2 * k))
        return -(a + k) * (a + b + k) * x / ((a + 2 * k) * (a + 2 * k + 1))

    return front * _lentz(coef)


def gammaincc(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) = P(Gamma(a, 1) > x) (NR 6.2)."""
    if not (a > 0 and x >= 0):
        raise ValueError(f"gammaincc needs a > 0 and x >= 0, not {a}, {x}")
    if x == 0.0:
        return 1.0
    if x < a + 1.0:
        return 1.0 - _gamma_series(a, x)
    log_front = a * log(x) - x - lgamma(a)
    # Q(a, x) = e^-x x^a / Gamma(a) * 1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - ...)) (NR 6.2.7)
    b = x + 1.0 - a
    c, d = 1.0 / TINY, 1.0 / b
    h = d
    for i in range(1, MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > TINY else TINY)
        c = b + an / c
        c = c if abs(c) > TINY else TINY
        h *= d * c
        if abs(d * c - 1.0) < EPS:
            return exp(log_front) * h
    raise ArithmeticError("continued fraction did not converge")


def _gamma_series(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x) by its series (NR 6.2.5), for 0 < x < a + 1."""
    term = total = 1.0 / a
    n = a
    while abs(term) > EPS * abs(total):
        n += 1.0
        term *= x / n
        total += term
    return total * exp(a * log(x) - x - lgamma(a))


def poisson_tail(n: int, mean: float) -> float:
    """P(N >= n) for N Poisson of `mean`: P(n, mean), the lower incomplete gamma, by its series
    where it is small (no 1 - Q cancellation)."""
    if n <= 0:
        return 1.0
    if mean <= 0.0:
        return 0.0
    return _gamma_series(n, mean) if mean < n + 1.0 else 1.0 - gammaincc(n, mean)


def f_survival(x: float, d1: float, d2: float) -> float:
    """P(F(d1, d2) > x) for the F distribution with d1, d2 degrees of freedom."""
    if x <= 0.0:
        return 1.0
    return betainc(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * x))


def effective_looks(looks: float, code_db: float) -> float:
    """Looks of a Gamma law with the variance in dB of L-look readings quantised to code_db.

    A reading's scatter in dB has variance (10/ln 10)^2 psi'(L) ~ (10/ln 10)^2 / L; rounding to
    code_db steps adds code_db^2 / 12 (uniform rounding error, valid while the scatter is not far
    below a step). The sum is read back as the variance of an equivalent number of looks.
    """
    if code_db <= 0.0:
        return looks
    return 1.0 / (1.0 / looks + code_db ** 2 / 12.0 / DB_PER_NEPER ** 2)


def bisect_decreasing(fn, target: float, what: str) -> float:
    """x > 0 with fn(x) = target for fn falling monotonically from fn(0) > target."""
    lo, hi = 0.0, 1.0
    while fn(hi) > target:
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            raise ValueError(f"{what}: {target} is out of reach")
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if fn(mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return hi


def chi2_quantile(dof: int, q: float) -> float:
    """The chi-square distribution's q quantile: exact for one and two degrees of freedom,
    Wilson-Hilferty's (within 1 %) beyond."""
    if dof == 1:
        return NormalDist().inv_cdf((1 + q) / 2) ** 2
    if dof == 2:
        return -2 * log(1 - q)
    z = NormalDist().inv_cdf(q)
    return dof * (1 - 2 / (9 * dof) + z * sqrt(2 / (9 * dof))) ** 3
