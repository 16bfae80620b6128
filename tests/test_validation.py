"""Tests of the scenario validation suite on cases with known answers."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from scipy.signal import lfilter

from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.dependence import correlation_matrix, lower_tail_dependence
from diffrisk.evaluation.paths.marginals import marginal_distances
from diffrisk.evaluation.paths.regimes import (
    RegimeThresholds,
    fit_regime_thresholds,
    regime_labels,
    regime_shares,
    stationary_distribution,
    transition_counts,
    transition_matrix,
)
from diffrisk.evaluation.paths.suite import (
    HEADLINE_METRICS,
    SUMMARY_COLUMNS,
    TABLE_COLUMNS,
    headline_bootstrap,
    summary_scores,
    validate_scenarios,
)
from diffrisk.evaluation.paths.temporal import (
    leverage_effect,
    partial_autocorrelation,
    path_autocorrelation,
)
from diffrisk.risk.portfolio import equal_weight_log_returns

RHO = 0.5
NU = 3


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


def bivariate_sample(rng: np.random.Generator, n: int, rho: float, nu: float | None):
    """N(0, [[1, ρ], [ρ, 1]]) draws, divided by sqrt(χ²_ν/ν) for a t sample."""
    factor = np.linalg.cholesky([[1.0, rho], [rho, 1.0]])
    z = rng.standard_normal((n, 2)) @ factor.T
    return z if nu is None else z / np.sqrt(rng.chisquare(nu, n) / nu)[:, None]


def simulate_garch(rng, n_paths, n_days, omega=0.05, alpha=0.1, beta=0.85, burn=200):
    """GARCH(1,1) paths with normal innovations, (n_paths, n_days)."""
    eps = rng.standard_normal((n_paths, n_days + burn))
    variance = np.full(n_paths, omega / (1 - alpha - beta))
    out = np.empty_like(eps)
    for t in range(n_days + burn):
        out[:, t] = np.sqrt(variance) * eps[:, t]
        variance = omega + alpha * out[:, t] ** 2 + beta * variance
    return out[:, burn:]


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20240601)


@pytest.fixture(scope="module")
def thresholds():
    train = np.random.default_rng(1).normal(0.0, 0.01, size=(600, 3))
    return fit_regime_thresholds(train)


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


# --------------------------------------------------------------------- marginals
def test_marginal_distances_of_identical_samples_are_zero(rng):
    days = rng.normal(size=(500, 3))
    ks, w1 = marginal_distances(days, days.copy())
    np.testing.assert_array_equal(ks, 0.0)
    np.testing.assert_array_equal(w1, 0.0)


@pytest.mark.parametrize("decimals", [None, 1], ids=["continuous", "ties"])
def test_marginal_distances_agree_with_scipy_per_asset(rng, decimals):
    gen, ref = rng.standard_t(4, size=(700, 3)), rng.normal(size=(300, 3))
    if decimals is not None:  # many tied values within and across the samples
        gen, ref = np.round(gen, decimals), np.round(ref, decimals)
    ks, w1 = marginal_distances(gen, ref)
    for a in range(3):
        assert ks[a] == pytest.approx(stats.ks_2samp(gen[:, a], ref[:, a]).statistic)
        assert w1[a] == pytest.approx(stats.wasserstein_distance(gen[:, a], ref[:, a]))


def test_marginal_distances_of_a_location_shift_match_closed_form(rng):
    delta, n = 0.4, 100_000
    base = rng.normal(size=(n, 1))
    ks, w1 = marginal_distances(base, rng.normal(size=(n, 1)) + delta)
    # W1 between N(0,1) and N(δ,1) is δ; KS is sup|Φ(x) − Φ(x − δ)| = 2Φ(δ/2) − 1.
    assert w1[0] == pytest.approx(delta, abs=0.02)
    assert ks[0] == pytest.approx(2 * stats.norm.cdf(delta / 2) - 1, abs=0.012)


def test_marginal_distances_reject_mismatched_assets():
    with pytest.raises(ValueError, match="mismatched assets"):
        marginal_distances(np.zeros((10, 2)), np.zeros((10, 3)))


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


# ------------------------------------------------------------------------ regimes
def test_transition_counts_of_a_hand_made_sequence():
    labels = np.array([[0, 0, 1, 2, 2, 1], [2, 2, 2, 0, 0, 1]])
    # path 1: 0→0, 0→1, 1→2, 2→2, 2→1; path 2: 2→2, 2→2, 2→0, 0→0, 0→1
    expected = np.array([[2, 2, 0], [0, 0, 1], [1, 1, 3]])
    np.testing.assert_array_equal(transition_counts(labels, 3), expected)
    np.testing.assert_allclose(
        transition_matrix(expected), [[0.5, 0.5, 0], [0, 0, 1], [0.2, 0.2, 0.6]]
    )
    # regime 0 on 2 + 2 days, 1 on 2 + 1, 2 on 2 + 3, of 12
    np.testing.assert_allclose(regime_shares(labels, 3), [4 / 12, 3 / 12, 5 / 12])


def test_transition_matrix_of_an_unvisited_regime_is_nan():
    matrix = transition_matrix(transition_counts([[0, 0, 2, 2]], 3))
    assert np.isnan(matrix[1]).all()
    assert np.isnan(stationary_distribution(matrix)).all()


def test_stationary_distribution_of_a_two_state_chain():
    # π = (b, a)/(a + b) for P = [[1−a, a], [b, 1−b]]
    pi = stationary_distribution([[0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_allclose(pi, [5 / 6, 1 / 6])


def test_regime_labels_of_a_hand_made_path():
    thresholds = RegimeThresholds(
        window=2, quantiles=(0.5, 0.9), levels=(0.01, 0.02), names=("low", "normal", "high")
    )
    r = np.array([0.005, -0.005, 0.015, 0.03, -0.03, 0.0, 0.01, 0.01])
    # trailing RMS over 2 days: 0.005, 0.0112, 0.0237, 0.03, 0.0212, 0.00707, 0.01 (= level:
    # the calmer regime)
    labels = regime_labels(r[None, :, None], thresholds)
    np.testing.assert_array_equal(labels, [[0, 1, 2, 2, 2, 0, 0]])


def test_fit_regime_thresholds_uses_quantiles_of_training_rolling_volatility(rng):
    train = rng.normal(0.0, 0.01, size=(400, 4))
    fitted = fit_regime_thresholds(pd.DataFrame(train), window=5, quantiles=(0.5, 0.9))
    portfolio = pd.Series(np.log(np.exp(train).mean(axis=1)))
    rolling = np.sqrt((portfolio**2).rolling(5).mean().dropna())
    np.testing.assert_allclose(fitted.levels, rolling.quantile([0.5, 0.9]).to_numpy())
    assert fitted.names == ("low", "normal", "high")
    terciles = fit_regime_thresholds(portfolio.to_numpy(), quantiles=(1 / 3, 2 / 3))
    np.testing.assert_allclose(terciles.levels, rolling.quantile([1 / 3, 2 / 3]).to_numpy())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantiles": (0.9, 0.5)}, "quantiles must be strictly increasing"),
        ({"quantiles": (0.5, 1.0)}, "quantiles must be strictly increasing"),
        ({"window": 0}, "window must be an integer >= 1"),
        ({"names": ("a", "b")}, "names must have len"),
    ],
)
def test_fit_regime_thresholds_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_regime_thresholds(np.zeros((50, 2)) + 0.01, **kwargs)


def test_regime_labels_need_a_horizon_longer_than_the_window(thresholds):
    with pytest.raises(ValueError, match="must exceed the regime window"):
        regime_labels(np.zeros((4, 5, 3)), thresholds)


# ------------------------------------------------------------ validate_scenarios
def test_identical_sets_have_zero_distance_on_every_metric(rng, thresholds):
    history = pd.DataFrame(rng.standard_t(4, size=(400, 3)) * 0.01, columns=["A", "B", "C"])
    paths = historical_paths(history, horizon=20, step=20)
    table = validate_scenarios(paths, history, thresholds, step=20)
    assert tuple(table.columns) == TABLE_COLUMNS
    finite = table["distance"].dropna()
    assert len(finite) >= len(table) - 3  # only stationary shares may be undefined
    np.testing.assert_allclose(finite, 0.0, atol=1e-12)
    summary = summary_scores(table)
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    np.testing.assert_allclose(summary.to_numpy(dtype=float), 0.0, atol=1e-12)


def test_validate_scenarios_table_layout(rng, thresholds):
    history = pd.DataFrame(rng.normal(0, 0.01, size=(300, 3)), columns=["A", "B", "C"])
    table = validate_scenarios(
        rng.normal(0, 0.01, size=(40, 10, 3)), history, thresholds, max_lag=4
    )
    counts = table["metric"].value_counts()
    assert counts["ks"] == counts["wasserstein"] == 3
    assert (
        counts["correlation"] == counts["lower_tail_dep_q05"] == counts["lower_tail_dep_q01"] == 3
    )
    for metric in ("acf_returns", "acf_abs_returns", "leverage", "pacf_returns"):
        assert counts[metric] == 3 * 4
    assert counts["regime_transition_probability"] == counts["regime_transition_frequency"] == 9
    assert set(table.loc[table.metric == "correlation", "item"]) == {"A|B", "A|C", "B|C"}
    assert set(table.loc[table.metric == "regime_share", "item"]) == {"low", "normal", "high"}
    lags = table.loc[table.metric == "leverage", "lag"]
    assert lags.tolist() == [1, 2, 3, 4] * 3
    assert table.loc[table.metric == "ks", "lag"].isna().all()
    freq = table.loc[table.metric == "regime_transition_frequency"]
    assert freq["value_generated"].sum() == pytest.approx(1.0)
    assert freq["value_reference"].sum() == pytest.approx(1.0)


def test_summary_scores_recompute_headlines_from_the_matrices(rng, thresholds):
    history = rng.normal(0, 0.01, size=(300, 3))
    gen = rng.standard_t(3, size=(60, 20, 3)) * 0.01
    table = validate_scenarios(gen, history, thresholds)
    summary = summary_scores(table, label="t3")
    from_csv = summary_scores(pd.read_csv(io.StringIO(table.to_csv(index=False))), label="t3")
    pd.testing.assert_frame_equal(from_csv, summary)
    corr_diff = np.corrcoef(gen.reshape(-1, 3), rowvar=False) - np.corrcoef(history.T)
    assert summary.loc["t3", "corr_frobenius"] == pytest.approx(np.linalg.norm(corr_diff))
    lam_diff = lower_tail_dependence(gen, 0.05) - lower_tail_dependence(history, 0.05)
    assert summary.loc["t3", "tail_dep_q05"] == pytest.approx(
        np.abs(lam_diff[np.triu_indices(3, 1)]).mean()
    )
    ks = [stats.ks_2samp(gen[:, :, a].ravel(), history[:, a]).statistic for a in range(3)]
    assert summary.loc["t3", "ks_mean"] == pytest.approx(np.mean(ks))


def t_copula_garch_paths(seed, n_paths, horizon=20):
    """Two assets: bivariate t (ν=3, ρ=0.5) shocks times a common GARCH(1,1) volatility."""
    g = np.random.default_rng(seed)
    shocks = bivariate_sample(g, n_paths * horizon, RHO, NU).reshape(n_paths, horizon, 2)
    shocks /= np.sqrt(NU / (NU - 2))  # unit variance
    variance = np.full(n_paths, 1.0) * g.uniform(0.5, 2.0, n_paths)  # dispersed start
    out = np.empty_like(shocks)
    for t in range(horizon):
        out[:, t] = np.sqrt(variance)[:, None] * shocks[:, t]
        variance = 0.05 + 0.1 * np.mean(out[:, t] ** 2, axis=1) + 0.85 * variance
    return 0.01 * out


def test_suite_prefers_the_generator_with_the_right_tails_and_clustering(rng):
    # A generator of the reference's own process must beat an i.i.d. Gaussian with the same
    # covariance on tail dependence and on volatility clustering (ACF of |r|).
    train = t_copula_garch_paths(0, 500).reshape(-1, 2)
    thresholds = fit_regime_thresholds(train)
    reference = t_copula_garch_paths(1, 3000)
    same = summary_scores(validate_scenarios(t_copula_garch_paths(2, 3000), reference, thresholds))
    cov = np.cov(reference.reshape(-1, 2), rowvar=False)
    normal = rng.multivariate_normal([0, 0], cov, size=(3000, 20))
    gauss = summary_scores(validate_scenarios(normal, reference, thresholds))
    for column in (
        "tail_dep_q01",
        "tail_dep_q05",
        "acf_abs_distance",
        "regime_transition_distance",
    ):
        assert same[column].iloc[0] < gauss[column].iloc[0], column


@pytest.mark.parametrize(
    ("scenarios", "reference", "match"),
    [
        (np.zeros((5, 20)), np.zeros((100, 3)), r"scenarios must be 3-D"),
        (np.zeros((5, 1, 3)), np.zeros((100, 3)), r"horizon must be >= 2"),
        (np.zeros((5, 20, 3)), np.zeros((100, 2)), "mismatched assets"),
        (np.zeros((5, 20, 3)), np.zeros(100), r"reference must be 2-D .* or 3-D"),
        (np.zeros((5, 20, 3)), np.zeros((4, 10, 3)), "reference paths have horizon 10"),
        (np.zeros((5, 20, 3)), np.full((100, 3), np.nan), "reference contains NaN"),
    ],
)
def test_validate_scenarios_rejects_bad_inputs(scenarios, reference, match, thresholds):
    with pytest.raises(ValueError, match=match):
        validate_scenarios(scenarios, reference, thresholds)


def test_validate_scenarios_rejects_bad_tail_level_and_names(thresholds):
    paths, history = np.zeros((5, 20, 3)), np.zeros((100, 3))
    with pytest.raises(ValueError, match=r"q must be in \(0, 0.5\]"):
        validate_scenarios(paths, history, thresholds, tail_levels=(0.6,))
    with pytest.raises(ValueError, match="asset_names has 2 entries"):
        validate_scenarios(paths, history, thresholds, asset_names=["a", "b"])


def test_historical_paths_cuts_windows():
    returns = np.arange(24, dtype=float).reshape(12, 2)
    paths = historical_paths(returns, horizon=5, step=3)
    assert paths.shape == (3, 5, 2)
    np.testing.assert_array_equal(paths[1], returns[3:8])
    assert historical_paths(returns, horizon=5).shape == (8, 5, 2)
    with pytest.raises(ValueError, match="horizon must be an integer >= 2"):
        historical_paths(returns, horizon=1)
    with pytest.raises(ValueError, match="fewer than horizon"):
        historical_paths(returns, horizon=13)
    with pytest.raises(ValueError, match="returns must be 2-D"):
        historical_paths(returns.ravel(), horizon=5)


def test_summary_scores_rejects_a_table_without_the_columns():
    with pytest.raises(ValueError, match="table is missing columns"):
        summary_scores(pd.DataFrame({"metric": ["ks"], "distance": [0.1]}))


def test_equal_weight_log_returns_is_the_log_of_mean_gross_returns(rng):
    r = rng.normal(0, 0.05, size=(10, 4))
    np.testing.assert_allclose(
        equal_weight_log_returns(r), np.log(np.exp(r).mean(axis=1)), rtol=1e-12
    )


def test_headline_bootstrap_matches_the_suite_and_ranks_the_right_generator(rng, thresholds):
    # A one-factor reference with correlation 0.6: a generator with the right correlation
    # must be the best on correlation distance on (nearly) every bootstrap reference,
    # against an independent one; the point distances equal summary_scores'.
    factor = np.linalg.cholesky([[1.0, 0.6, 0.6], [0.6, 1.0, 0.6], [0.6, 0.6, 1.0]])
    reference = 0.01 * rng.standard_normal((1500, 3)) @ factor.T
    right = 0.01 * rng.standard_normal((300, 20, 3)) @ factor.T
    wrong = 0.01 * rng.standard_normal((300, 20, 3))
    table = headline_bootstrap(
        {"right": right, "wrong": wrong}, reference, n_boot=100, seed=0
    ).set_index(["generator", "metric"])
    for name, paths in (("right", right), ("wrong", wrong)):
        scores = summary_scores(validate_scenarios(paths, reference, thresholds)).iloc[0]
        for metric in HEADLINE_METRICS:
            assert table.loc[(name, metric), "distance"] == pytest.approx(scores[metric])
    assert table.loc[("right", "corr_frobenius"), "share_best"] == pytest.approx(1.0)
    assert table.loc[("right", "tail_dep_q05"), "share_best"] > 0.95
    # shares of each metric sum to one; standard errors are positive
    assert table.groupby(level="metric")["share_best"].sum().to_numpy() == pytest.approx(1.0)
    assert (table["boot_se"] > 0).all()
    # same seed, same table
    again = headline_bootstrap({"right": right, "wrong": wrong}, reference, n_boot=100, seed=0)
    pd.testing.assert_frame_equal(again.set_index(["generator", "metric"]), table)


def test_headline_bootstrap_rejects_bad_arguments(rng):
    paths, reference = rng.standard_normal((5, 20, 3)), rng.standard_normal((200, 3))
    with pytest.raises(ValueError, match="scenarios is empty"):
        headline_bootstrap({}, reference)
    with pytest.raises(ValueError, match="block must be an integer"):
        headline_bootstrap({"a": paths}, reference, block=0)
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        headline_bootstrap({"a": paths}, reference, n_boot=0)
    with pytest.raises(ValueError, match="reference's assets"):
        headline_bootstrap({"a": paths[..., :2]}, reference)
