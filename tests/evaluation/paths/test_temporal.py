"""Tests of diffrisk.evaluation.paths.temporal: ACF, PACF and the leverage effect."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from diffrisk.evaluation.paths.temporal import (
    leverage_effect,
    partial_autocorrelation,
    path_autocorrelation,
)


def simulate_garch(rng, n_paths, n_days, omega=0.05, alpha=0.1, beta=0.85, burn=200):
    """GARCH(1,1) paths with normal innovations, (n_paths, n_days)."""
    eps = rng.standard_normal((n_paths, n_days + burn))
    variance = np.full(n_paths, omega / (1 - alpha - beta))
    out = np.empty_like(eps)
    for t in range(n_days + burn):
        out[:, t] = np.sqrt(variance) * eps[:, t]
        variance = omega + alpha * out[:, t] ** 2 + beta * variance
    return out[:, burn:]


# ------------------------------------------------------------------------- ACF/PACF
def test_acf_of_white_noise_is_within_three_standard_errors(rng):
    paths = rng.normal(size=(2000, 20, 2))
    for absolute in (False, True):
        acf = path_autocorrelation(paths, max_lag=5, absolute=absolute)
        n_pairs = paths.shape[0] * (paths.shape[1] - np.arange(1, 6))
        assert acf.shape == (2, 5)
        assert np.all(np.abs(acf) < 3 / np.sqrt(n_pairs))


def test_acf_of_absolute_garch_returns_is_positive(rng):
    returns = simulate_garch(rng, n_paths=500, n_days=40)[:, :, None]
    n_pairs = 500 * (40 - np.arange(1, 6))
    acf_abs = path_autocorrelation(returns, max_lag=5, absolute=True)[0]
    acf_raw = path_autocorrelation(returns, max_lag=5)[0]
    assert np.all(acf_abs > 5 / np.sqrt(n_pairs))  # volatility clustering
    assert np.all(np.abs(acf_raw) < 4 / np.sqrt(n_pairs))  # no linear predictability


def test_single_path_acf_and_pacf_match_statsmodels(rng):
    stattools = pytest.importorskip("statsmodels.tsa.stattools")
    x = lfilter([1.0], [1.0, -0.3], rng.standard_t(5, size=3000))
    acf = path_autocorrelation(x[None, :, None], max_lag=8)[0]
    np.testing.assert_allclose(acf, stattools.acf(x, nlags=8, adjusted=True)[1:], rtol=1e-10)
    np.testing.assert_allclose(
        partial_autocorrelation(acf),
        stattools.pacf(x, nlags=8, method="ldadjusted")[1:],
        rtol=1e-8,
        atol=1e-12,
    )


def test_pacf_of_ar1_is_phi_then_zero(rng):
    n_series, n_days = 400, 300
    noise = rng.normal(size=(n_series, n_days + 100))
    ar1 = lfilter([1.0], [1.0, -0.5], noise, axis=1)[:, 100:, None]
    pacf = partial_autocorrelation(path_autocorrelation(ar1, max_lag=5))[0]
    tolerance = 4 / np.sqrt(n_series * n_days)  # SE of a sample PACF ≈ 1/sqrt(n)
    np.testing.assert_allclose(pacf, [0.5, 0, 0, 0, 0], atol=tolerance)


def test_durbin_levinson_on_exact_ar2_autocorrelations():
    # AR(2): ρ1 = φ1/(1 − φ2), ρk = φ1 ρ(k−1) + φ2 ρ(k−2); PACF = (ρ1, φ2, 0, 0, ...)
    phi1, phi2 = 0.5, 0.3
    rho = [1.0, phi1 / (1 - phi2)]
    for _ in range(5):
        rho.append(phi1 * rho[-1] + phi2 * rho[-2])
    acf = np.array(rho[1:])
    pacf = partial_autocorrelation(np.stack([acf, acf]))  # vectorised over a leading axis
    np.testing.assert_allclose(pacf, [[phi1 / (1 - phi2), phi2, 0, 0, 0, 0]] * 2, atol=1e-12)


def test_leverage_effect_matches_closed_form():
    # r_t = σ_t ε_t with σ_t = 1 + 1{ε_{t−1} < 0}: corr(r_t, |r_{t+1}|) =
    # (−1.5/π) / sqrt(2.5 (2.5 − 4.5/π)) and 0 at lag 2. Derivation: σ_{t+1} depends on ε_t
    # only, so cov(r_t, |r_{t+1}|) = E[σ_t] E[ε(1 + 1{ε<0})] E|ε| = 1.5 (−1/sqrt(2π))
    # sqrt(2/π) = −1.5/π; var r = E σ² = 2.5; var|r| = 2.5 − (1.5 sqrt(2/π))² = 2.5 − 4.5/π.
    rng = np.random.default_rng(5)
    eps = rng.normal(size=(4000, 41))
    sigma = 1.0 + (eps[:, :-1] < 0)
    paths = (sigma * eps[:, 1:])[:, :, None]
    expected = (-1.5 / np.pi) / np.sqrt(2.5 * (2.5 - 4.5 / np.pi))
    lev = leverage_effect(paths, max_lag=3)[0]
    se = 1 / np.sqrt(4000 * 38)
    assert lev[0] == pytest.approx(expected, abs=6 * se)
    np.testing.assert_allclose(lev[1:], 0.0, atol=4 * se)
    assert np.all(np.abs(leverage_effect(eps[:, :, None], 3)) < 4 * se)


@pytest.mark.parametrize("max_lag", [0, 20, 2.5])
def test_lag_metrics_reject_max_lag_outside_horizon(max_lag):
    with pytest.raises(ValueError, match=r"max_lag must be an integer in \[1, horizon - 1\]"):
        path_autocorrelation(np.zeros((3, 20, 2)), max_lag)
