"""Tests of the adaptive-calibration wrapper (diffrisk.baselines.calibration)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.baselines.calibration import aci_multipliers, aci_wrap, gamma_scores, select_gamma
from diffrisk.forecasts.contract import ALPHAS, cvar_column, risk_frame, var_column
from diffrisk.risk.scoring import fz0_loss

ALPHA = 0.05


def vol_break(n: int, seed: int, sigma0: float = 0.01, factor: float = 2.0) -> np.ndarray:
    """Normal returns whose volatility is multiplied by ``factor`` halfway."""
    sigma = np.where(np.arange(n) < n // 2, sigma0, factor * sigma0)
    return np.random.default_rng(seed).standard_normal(n) * sigma


def stale_forecasts(realized: np.ndarray, series: list[str], sigma: float = 0.01) -> pd.DataFrame:
    """Normal VaR/ES with a fixed volatility: right before the break, wrong after it."""
    n_s, n_d = realized.shape
    dates = pd.bdate_range("2000-01-03", periods=n_d)
    var_by = {a: np.full((n_s, n_d), sigma * stats.norm.ppf(a)) for a in ALPHAS}
    es_by = {a: np.full((n_s, n_d), -sigma * stats.norm.pdf(stats.norm.ppf(a)) / a) for a in ALPHAS}
    return risk_frame(dates, series, var_by, es_by, realized)


def test_exception_rate_identity_and_convergence_after_a_volatility_break():
    n, gamma = 6000, 0.1
    r = vol_break(n, seed=1)
    var = np.full(n, 0.01 * stats.norm.ppf(ALPHA))
    theta, hits = aci_multipliers(r, var, ALPHA, gamma)
    # closed form: mean(h) - alpha = (log theta_{T+1} - log theta_1) / (gamma T)
    log_next = np.log(theta[-1]) + gamma * (hits[-1] - ALPHA)
    assert hits.mean() - ALPHA == pytest.approx(log_next / (gamma * n), abs=1e-12)
    # after the break: the wrapped rate is within binomial tolerance of alpha, the raw is not
    late = slice(n // 2 + 500, n)
    m = late.stop - late.start
    tol = 3 * np.sqrt(ALPHA * (1 - ALPHA) / m)
    raw = (r[late] < var[late]).mean()
    assert abs(hits[late].mean() - ALPHA) < tol
    assert raw - ALPHA > 10 * tol  # raw rate is Phi(-1.645 / 2) = 0.206
    assert raw == pytest.approx(stats.norm.cdf(stats.norm.ppf(ALPHA) / 2), abs=0.02)
    # the multiplier tracks the doubled volatility
    assert np.median(theta[late]) == pytest.approx(2.0, rel=0.15)


def test_gamma_zero_is_the_identity():
    r = vol_break(500, seed=2)
    theta, hits = aci_multipliers(r, np.full(500, -0.02), 0.01, 0.0)
    assert np.all(theta == 1.0)
    assert np.array_equal(hits, r < -0.02)


def test_perturbing_the_future_changes_no_past_level():
    frame = stale_forecasts(np.vstack([vol_break(800, 3), vol_break(800, 4)]), ["a", "b"])
    gammas = dict.fromkeys(ALPHAS, 0.2)
    base, base_theta = aci_wrap(frame, gammas)
    cut = np.sort(frame["date"].unique())[400]
    future = frame.copy()
    later = future["date"] >= cut
    future.loc[later, "realized"] = np.random.default_rng(9).standard_normal(later.sum()) * 0.1
    future.loc[later, var_column(0.05)] *= 3.0
    pert, pert_theta = aci_wrap(future, gammas)
    cols = [c for a in ALPHAS for c in (var_column(a), cvar_column(a))]
    past = base["date"] < cut
    pd.testing.assert_frame_equal(base.loc[past, cols], pert.loc[past, cols])
    # the multiplier of day `cut` itself depends on days < cut only
    upto = base_theta["date"] <= cut
    pd.testing.assert_frame_equal(base_theta.loc[upto], pert_theta.loc[upto])
    assert not base_theta.loc[~upto].equals(pert_theta.loc[~upto])


def test_wrap_scales_var_and_es_by_the_same_positive_multiplier_per_series():
    frame = stale_forecasts(
        np.vstack([vol_break(300, 5), vol_break(300, 6, factor=0.5)]), ["a", "b"]
    )
    wrapped, theta = aci_wrap(frame, dict.fromkeys(ALPHAS, 0.3))
    for a in ALPHAS:
        ratio_v = wrapped[var_column(a)] / frame[var_column(a)]
        ratio_e = wrapped[cvar_column(a)] / frame[cvar_column(a)]
        np.testing.assert_allclose(ratio_v, theta["theta" + var_column(a)[3:]], rtol=1e-12)
        np.testing.assert_allclose(ratio_e, ratio_v, rtol=1e-12)
        assert (wrapped[cvar_column(a)] <= wrapped[var_column(a)]).all()
    # each series has its own path: series "a" alone gives the same multipliers
    alone, _ = aci_wrap(frame.loc[frame["series"] == "a"], dict.fromkeys(ALPHAS, 0.3))
    pd.testing.assert_frame_equal(alone, wrapped.loc[wrapped["series"] == "a"])


def test_gamma_scores_at_zero_equal_the_raw_fz0_and_selection_prefers_adaptation():
    frame = stale_forecasts(vol_break(2000, 7)[None, :], ["a"])
    scores = gamma_scores([frame], ALPHA, [0.0, 0.05, 0.2])
    raw = fz0_loss(frame["realized"], frame[var_column(ALPHA)], frame[cvar_column(ALPHA)], ALPHA)
    assert scores.loc[0, "fz0"] == pytest.approx(raw.mean(), rel=1e-12)
    gamma, table = select_gamma([frame], ALPHA, [0.2, 0.0, 0.05], fallback=0.01)
    assert gamma > 0
    assert table.loc[table["chosen"], "fz0"].item() == table["fz0"].min()


def test_select_gamma_falls_back_without_validation_forecasts():
    gamma, table = select_gamma([], ALPHA, [0.0, 0.1], fallback=0.3)
    assert gamma == 0.3 and table.empty
    with pytest.raises(ValueError, match="fallback_gamma"):
        select_gamma([], ALPHA, [0.1], fallback=-1.0)


def test_bad_inputs_raise_named_errors():
    with pytest.raises(ValueError, match="gamma"):
        aci_multipliers(np.zeros(3), np.full(3, -0.01), 0.05, -0.1)
    with pytest.raises(ValueError, match="equal length"):
        aci_multipliers(np.zeros(3), np.full(4, -0.01), 0.05, 0.1)
    frame = stale_forecasts(np.zeros((1, 5)), ["a"])
    with pytest.raises(ValueError, match="no step size"):
        aci_wrap(frame, {0.05: 0.1})
