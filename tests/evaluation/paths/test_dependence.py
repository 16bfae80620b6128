"""Tests of diffrisk.evaluation.paths.dependence: tail dependence and correlation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from diffrisk.evaluation.paths.dependence import correlation_matrix, lower_tail_dependence
from tests.evaluation.paths.conftest import NU, RHO, bivariate_sample


# ----------------------------------------------------------------- reference values
def gaussian_copula_lambda(q: float, rho: float) -> float:
    """Exact C(q, q) / q of the Gaussian copula, by one-dimensional quadrature.

    P(X <= a, Y <= a) = ∫_{-inf}^{a} φ(x) Φ((a − ρx) / sqrt(1 − ρ²)) dx, a = Φ^{-1}(q).
    """
    a = stats.norm.ppf(q)
    scale = np.sqrt(1 - rho**2)

    def integrand(x: float) -> float:
        return stats.norm.pdf(x) * stats.norm.cdf((a - rho * x) / scale)

    return integrate.quad(integrand, -np.inf, a, epsabs=0, epsrel=1e-10)[0] / q


def t_copula_lambda(q: float, rho: float, nu: float) -> float:
    """Exact C(q, q) / q of the t copula, by one-dimensional quadrature.

    Given X = x, Y is t_{ν+1} with location ρx and scale sqrt((ν + x²)(1 − ρ²)/(ν + 1))
    (Kotz & Nadarajah, Multivariate t Distributions, 2004, §1.11).
    """
    a = stats.t.ppf(q, nu)

    def integrand(x: float) -> float:
        scale = np.sqrt((nu + x * x) * (1 - rho**2) / (nu + 1))
        return stats.t.pdf(x, nu) * stats.t.cdf((a - rho * x) / scale, nu + 1)

    return integrate.quad(integrand, -np.inf, a, epsabs=0, epsrel=1e-10)[0] / q


def t_copula_limit(rho: float, nu: float) -> float:
    """λ_L = 2 t_{ν+1}(−sqrt((ν+1)(1−ρ)/(1+ρ))) (Embrechts, McNeil & Straumann 2002)."""
    return 2 * stats.t.cdf(-np.sqrt((nu + 1) * (1 - rho) / (1 + rho)), nu + 1)


# ------------------------------------------------------------------ tail dependence
def test_reference_helpers_reach_the_closed_form_limits():
    # The t copula's finite-q value decreases to the closed form (= 5/16 for ν=3, ρ=0.5);
    # the Gaussian copula has λ_L = 0, approached slowly.
    assert t_copula_limit(RHO, NU) == pytest.approx(0.3125, abs=1e-12)
    assert t_copula_lambda(1e-8, RHO, NU) == pytest.approx(t_copula_limit(RHO, NU), abs=1e-5)
    assert gaussian_copula_lambda(1e-8, RHO) < 1e-3
    assert t_copula_lambda(0.01, RHO, NU) > t_copula_lambda(1e-4, RHO, NU) > 0.3125


@pytest.mark.parametrize("q", [0.05, 0.01])
@pytest.mark.parametrize("nu", [None, NU], ids=["gaussian", "t3"])
def test_lower_tail_dependence_matches_exact_copula_value(q, nu):
    n = 200_000
    sample = bivariate_sample(np.random.default_rng(7), n, RHO, nu)
    exact = gaussian_copula_lambda(q, RHO) if nu is None else t_copula_lambda(q, RHO, NU)
    lam = lower_tail_dependence(sample, q)
    # λ̂ counts joint exceedances among the k = qn tail days of one asset, so its standard
    # error is close to the binomial sqrt(λ(1−λ)/k) (0.0105 for the t copula at q=1%, which a
    # 20-seed simulation reproduced; at q=5% the spread was below the binomial value);
    # 4 standard errors make a failure by chance negligible. The finite-q target is the exact
    # copula value, not the q→0 limit, which is why no extra bias allowance is needed.
    tolerance = 4 * np.sqrt(exact * (1 - exact) / (q * n))
    assert lam[0, 1] == pytest.approx(exact, abs=tolerance)
    assert lam[0, 1] == lam[1, 0]
    np.testing.assert_array_equal(np.diag(lam), [1.0, 1.0])


def test_t_copula_is_clearly_tail_dependent_and_gaussian_is_not():
    rng = np.random.default_rng(11)
    t_lam = lower_tail_dependence(bivariate_sample(rng, 200_000, RHO, NU), 0.01)[0, 1]
    g_lam = lower_tail_dependence(bivariate_sample(rng, 200_000, RHO, None), 0.01)[0, 1]
    # Exact values at q = 1 %: 0.330 (t) and 0.129 (Gaussian); the t limit is 0.3125.
    assert t_lam > t_copula_limit(RHO, NU) - 0.05
    assert g_lam < 0.18
    assert t_lam - g_lam > 0.15


def test_lower_tail_dependence_of_independent_and_comonotone_assets():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100_000, 1))
    data = np.hstack([x, rng.normal(size=(100_000, 1)), 2 * x + 1])
    lam = lower_tail_dependence(data, 0.05)
    # independence: C(q, q)/q = q; SE sqrt(q(1−q)/k) = 0.003
    assert lam[0, 1] == pytest.approx(0.05, abs=0.012)
    assert lam[0, 2] == 1.0  # a strictly increasing transform has the same ranks


def test_lower_tail_dependence_pools_the_days_of_paths():
    rng = np.random.default_rng(4)
    paths = rng.normal(size=(50, 20, 3))
    np.testing.assert_array_equal(
        lower_tail_dependence(paths, 0.1), lower_tail_dependence(paths.reshape(-1, 3), 0.1)
    )


@pytest.mark.parametrize("q", [0.0, -0.01, 0.51, 1.0])
def test_lower_tail_dependence_rejects_q_outside_range(q):
    with pytest.raises(ValueError, match=r"q must be in \(0, 0.5\]"):
        lower_tail_dependence(np.zeros((100, 2)), q)


def test_lower_tail_dependence_needs_a_tail_observation():
    with pytest.raises(ValueError, match="leaves no tail observation"):
        lower_tail_dependence(np.random.default_rng(0).normal(size=(50, 2)), 0.01)


# ------------------------------------------------------------------- correlation
def test_correlation_matrix_pooled_and_within(rng):
    paths = rng.normal(size=(30, 10, 3))
    pooled = correlation_matrix(paths, "pooled")
    np.testing.assert_allclose(pooled, np.corrcoef(paths.reshape(-1, 3), rowvar=False))
    within = correlation_matrix(paths, "within")
    expected = np.mean([np.corrcoef(p, rowvar=False) for p in paths], axis=0)
    np.testing.assert_allclose(within, expected)


def test_correlation_matrix_rejects_unknown_method(rng):
    with pytest.raises(ValueError, match="method must be 'pooled' or 'within'"):
        correlation_matrix(rng.normal(size=(3, 5, 2)), "spearman")
