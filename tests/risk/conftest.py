"""Shared reference values of the tests of diffrisk.risk."""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

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


def stratified_normal(rng: np.random.Generator, shape: tuple[int, ...], n: int) -> np.ndarray:
    """N(0, 1) scenarios drawn as the DDPM's stratified noise: ``Φ^{-1}((i + U_i) / n)``."""
    return special.ndtri((np.arange(n) + rng.random((*shape, n))) / n)


def stratified_hazen_tail_probability(n: int, alpha: float, nodes: int = 200) -> float:
    """Exact ``E[Φ(VaR)]`` of the stratified (Hazen) VaR of a stratified N(0, 1) set.

    For ``alpha n = k`` an integer the VaR is the midpoint of ``X_(k) = Φ^{-1}((k-1+U)/n)``
    and ``X_(k+1) = Φ^{-1}((k+V)/n)``, U, V independent U(0, 1); the expectation is a
    2-D integral over (U, V), computed by Gauss–Legendre quadrature.
    """
    k = round(alpha * n)
    assert abs(alpha * n - k) < 1e-9, "needs alpha * n integer"
    x, w = np.polynomial.legendre.leggauss(nodes)
    u, w = (x + 1) / 2, w / 2
    low, high = special.ndtri((k - 1 + u) / n), special.ndtri((k + u) / n)
    return float(w @ special.ndtr((low[:, None] + high[None, :]) / 2) @ w)
