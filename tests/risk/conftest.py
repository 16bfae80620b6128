"""Shared reference values of the tests of diffrisk.risk."""

from __future__ import annotations

import math

from scipy import stats

ALPHAS = (0.05, 0.025, 0.01)


def normal_asymptotic_se(alpha: float, n: int, sigma: float = 1.0) -> tuple[float, float]:
    """Closed-form asymptotic standard errors of the empirical VaR and ES of N(mu, sigma^2).

    VaR: sqrt(a(1-a)/n) / f(q). ES: sqrt((Var(X | X <= q) + (1-a)(ES - q)^2) / (a n)), with
    Var(X | X <= q) = sigma^2 (1 - z phi(z)/a - (phi(z)/a)^2) for the normal.
    """
    z = stats.norm.ppf(alpha)
    phi = stats.norm.pdf(z)
    tail_var = 1.0 - z * phi / alpha - (phi / alpha) ** 2
    es = -phi / alpha
    var_se = math.sqrt(alpha * (1 - alpha) / n) / phi
    es_se = math.sqrt((tail_var + (1 - alpha) * (es - z) ** 2) / (alpha * n))
    return sigma * var_se, sigma * es_se
