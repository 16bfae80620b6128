"""Tests of diffrisk.baselines: closed forms, arch equality, leakage, argument errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from arch.univariate import StudentsT
from scipy import integrate, stats

import diffrisk.baselines.garch as garch_module
from diffrisk.baselines.garch import _fit_garch_t, _garch_path, fhs, garch_t
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.baselines.registry import BASELINE_METHODS, run_baselines
from diffrisk.forecasts import ALPHAS, RISK_COLUMNS
from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.risk.measures import cvar, var
from diffrisk.risk.parametric import standardized_t_var_es
from diffrisk.volatility.garch import arch_backcast, garch_variance_path

TRUE = {"mu": 0.05, "omega": 0.02, "alpha": 0.08, "beta": 0.90, "nu": 6.0}  # percent units


def simulate_garch_t(n, mu, omega, alpha, beta, nu, seed, burn=500):
    """GARCH(1,1) with unit-variance Student-t shocks; returns (y, true sigma), percent."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, size=n + burn) * np.sqrt((nu - 2.0) / nu)
    sigma2 = np.empty(n + burn)
    y = np.empty(n + burn)
    sigma2[0] = omega / (1.0 - alpha - beta)
    for t in range(n + burn):
        if t:
            sigma2[t] = omega + alpha * (y[t - 1] - mu) ** 2 + beta * sigma2[t - 1]
        y[t] = mu + np.sqrt(sigma2[t]) * z[t]
    return y[burn:], np.sqrt(sigma2[burn:])


def frame_of(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    index = pd.DatetimeIndex(pd.bdate_range("2000-01-03", periods=n), name="date")
    return pd.DataFrame(columns, index=index)


@pytest.fixture(scope="module")
def two_series() -> pd.DataFrame:
    """1150 days of two simulated GARCH-t series (fractions)."""
    a, _ = simulate_garch_t(1150, **TRUE, seed=11)
    b, _ = simulate_garch_t(1150, 0.02, 0.05, 0.10, 0.85, 5.0, seed=12)
    return frame_of({"a": a / 100, "b": b / 100})


@pytest.fixture(scope="module")
def long_series():
    """3000 days of one GARCH-t series with its true conditional sigma (percent)."""
    y, sigma = simulate_garch_t(3000, **TRUE, seed=1)
    return frame_of({"x": y / 100}), y, sigma


def _rows(frame: pd.DataFrame, dates) -> np.ndarray:
    return frame.loc[frame["date"].isin(dates), list(RISK_COLUMNS)].to_numpy()


# ---------------------------------------------------------------------------------------
# Leakage: perturbing returns from day t on must not move any forecast for days <= t
# ---------------------------------------------------------------------------------------
LEAK_CALLS = {
    "hs": lambda r, d: hs(r, d, window=100),
    "mc_normal": lambda r, d: mc_normal(r, d, window=100, n_scenarios=200, seed=3),
    "garch_t": lambda r, d: garch_t(r, d, refit_every=5, n_scenarios=200, seed=3),
    "fhs": lambda r, d: fhs(r, d, refit_every=5, n_scenarios=200),
    "garch_t_rolling": lambda r, d: garch_t(r, d, refit_every=5, seed=3, max_obs=1050),
    "fhs_rolling": lambda r, d: fhs(r, d, refit_every=5, n_scenarios=200, max_obs=1050),
}


@pytest.mark.parametrize("method", sorted(LEAK_CALLS))
@pytest.mark.parametrize("k", [10, 12])  # first day / inside the third refit block of 5 days
def test_no_leakage_from_day_t_on(two_series, method, k):
    dates = two_series.index[-30:]
    t = dates[k]
    perturbed = two_series.copy()
    rng = np.random.default_rng(0)
    later = perturbed.index >= t
    perturbed.loc[later] = 5 * perturbed.loc[later] + rng.normal(0, 0.01, (later.sum(), 2))

    frame0, scen0 = LEAK_CALLS[method](two_series, dates)
    frame1, scen1 = LEAK_CALLS[method](perturbed, dates)

    assert np.array_equal(_rows(frame0, dates[: k + 1]), _rows(frame1, dates[: k + 1]))
    assert np.array_equal(scen0.scenarios[:, : k + 1], scen1.scenarios[:, : k + 1])
    # the perturbation does reach the forecasts after t: all of the last day's move
    assert np.all(_rows(frame0, dates[-1:]) != _rows(frame1, dates[-1:]))
    assert not np.array_equal(scen0.scenarios[:, k + 1 :], scen1.scenarios[:, k + 1 :])


def test_run_baselines_shares_fits_and_equals_separate_calls(two_series, monkeypatch):
    dates = two_series.index[-12:]
    config = {
        "hs": {"window": 100},
        "mc_normal": {"window": 100, "n_scenarios": 50},
        "garch_t": {"refit_every": 5, "n_scenarios": 50},
        "fhs": {"refit_every": 5, "n_scenarios": 120},
    }
    calls = []
    fit = _fit_garch_t
    monkeypatch.setattr(
        garch_module, "_fit_garch_t", lambda y, start: calls.append(len(y)) or fit(y, start)
    )
    out = run_baselines(two_series, dates, config=config, seed=4)
    monkeypatch.undo()
    assert len(calls) == 2 * 3  # 2 series x 3 blocks of 5 days, once for garch_t and fhs
    assert list(out) == list(BASELINE_METHODS)
    separate = {
        "hs": hs(two_series, dates, window=100),
        "mc_normal": mc_normal(two_series, dates, window=100, n_scenarios=50, seed=4),
        "garch_t": garch_t(two_series, dates, refit_every=5, n_scenarios=50, seed=4),
        "fhs": fhs(two_series, dates, refit_every=5, n_scenarios=120),
    }
    for method, (frame, scen) in separate.items():
        pd.testing.assert_frame_equal(out[method][0], frame)
        assert np.array_equal(out[method][1].scenarios, scen.scenarios)


# ---------------------------------------------------------------------------------------
# Historical Simulation and Monte-Carlo normal
# ---------------------------------------------------------------------------------------
def test_hs_is_the_ceil_alpha_n_th_smallest_of_the_window():
    # 60 distinct hand-made returns: -0.030, -0.029, ... 0.029 in a fixed shuffled order
    values = np.random.default_rng(5).permutation(np.arange(-30, 30)) / 1000
    returns = frame_of({"x": values})
    window = 40  # ceil(0.05*40) = 2nd smallest; ceil(0.025*40) = ceil(0.01*40) = smallest
    frame, scen = hs(returns, returns.index[window:], window=window)
    assert scen.scenarios.shape == (1, 20, window)
    for row, p in zip(frame.itertuples(), range(window, 60), strict=True):
        past = np.sort(values[p - window : p])
        assert row.var_05 == past[1] and row.cvar_05 == pytest.approx(past[:2].mean())
        assert row.var_025 == past[0] and row.cvar_025 == past[0]
        assert row.var_01 == past[0] and row.cvar_01 == past[0]
        assert row.realized == values[p]
        assert np.array_equal(scen.scenarios[0, p - window], values[p - window : p].astype("f4"))
    # first forecast day by hand: the window is values[0:40]
    assert frame["var_05"].iloc[0] == np.sort(values[:40])[1]


def test_mc_normal_matches_normal_closed_form_within_monte_carlo_error():
    values = np.random.default_rng(6).normal(0.0004, 0.012, 300)
    returns = frame_of({"x": values})
    n = 200_000
    frame, _ = mc_normal(returns, returns.index[[-1]], window=250, n_scenarios=n, seed=7)
    past = values[-251:-1]
    m, s = past.mean(), past.std(ddof=1)
    for alpha in ALPHAS:
        z = stats.norm.ppf(alpha)
        q, es = m + s * z, m - s * stats.norm.pdf(z) / alpha
        # asymptotic standard errors of the empirical quantile and expected shortfall
        se_q = s * np.sqrt(alpha * (1 - alpha) / n) / stats.norm.pdf(z)
        tail_mean = -stats.norm.pdf(z) / alpha
        tail_var = 1 - z * stats.norm.pdf(z) / alpha - tail_mean**2
        se_es = s * np.sqrt((tail_var + (1 - alpha) * (tail_mean - z) ** 2) / (alpha * n))
        assert abs(frame[var_column(alpha)].iloc[0] - q) < 5 * se_q
        assert abs(frame[cvar_column(alpha)].iloc[0] - es) < 5 * se_es


def test_mc_normal_is_deterministic_per_seed_and_per_series_name(two_series):
    dates = two_series.index[-5:]
    f1, s1 = mc_normal(two_series, dates, n_scenarios=100, seed=1)
    f2, s2 = mc_normal(two_series, dates, n_scenarios=100, seed=1)
    _, s3 = mc_normal(two_series, dates, n_scenarios=100, seed=2)
    _, only_b = mc_normal(two_series, dates, n_scenarios=100, seed=1, series=["b"])
    pd.testing.assert_frame_equal(f1, f2)
    assert np.array_equal(s1.scenarios, s2.scenarios)
    assert not np.array_equal(s1.scenarios, s3.scenarios)
    assert np.array_equal(only_b.scenarios[0], s1.for_series("b"))
    # VaR/CVaR are those of the scenarios (float64 before the float32 storage)
    assert np.allclose(f1["var_05"].to_numpy()[:5], var(s1.scenarios[0], 0.05), rtol=1e-6)
    assert np.allclose(f1["cvar_01"].to_numpy()[:5], cvar(s1.scenarios[0], 0.01), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# GARCH(1,1)-t
# ---------------------------------------------------------------------------------------
def test_standardized_t_quantile_and_es_match_arch_and_integration():
    for nu in (2.5, 4.0, 6.0, 30.0):
        for alpha in ALPHAS:
            q, es = standardized_t_var_es(alpha, nu)
            assert q == pytest.approx(StudentsT().ppf(alpha, [nu]), rel=1e-10)
            # ES = (1/alpha) * integral_0^alpha q(u) du (Acerbi & Tasche 2002)
            scale = np.sqrt((nu - 2) / nu)
            integral, _ = integrate.quad(lambda u, v=nu, c=scale: c * stats.t.ppf(u, v), 0, alpha)
            assert es == pytest.approx(integral / alpha, rel=1e-6)


def test_garch_filter_equals_arch_in_sample_and_fixed_parameter_forecasts(long_series):
    _, y, _ = long_series
    p0 = 2900
    model = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    res = model.fit(disp="off", last_obs=p0)  # fit on y[:p0], keep the rest for forecasting
    path = garch_variance_path(y, res.params.to_numpy(), arch_backcast(y[:p0]))
    assert arch_backcast(y[:p0]) == pytest.approx(res.model._backcast, rel=1e-14)
    cond_vol = res.conditional_volatility[:p0]
    np.testing.assert_allclose(np.sqrt(path[:p0]), cond_vol, rtol=1e-12)
    # arch's one-step forecasts made at t = p0-1 ... n-1 with the parameters held fixed
    fixed = res.forecast(horizon=1, start=p0 - 1, reindex=False).variance.to_numpy()[:, 0]
    np.testing.assert_allclose(path[p0:], fixed, rtol=1e-12)


def test_garch_fit_recovers_true_parameters_and_sigma(long_series):
    returns, y, true_sigma = long_series
    p0 = 2900
    params = _fit_garch_t(y[:p0], None)
    reference = arch_model(y[:p0], mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    truth = np.array([TRUE[k] for k in ("mu", "omega", "alpha", "beta", "nu")])
    # within 3 robust standard errors of the truth (observed: at most 1.2 SE, seed 1)
    assert np.all(np.abs(params - truth) < 3 * reference.std_err.to_numpy())
    path = _garch_path(
        returns["x"].to_numpy(),
        np.arange(p0, 3000),
        100,
        1000,
        0,
        None,
        "x",
        returns.index[p0:],
        returns.index,
    )
    rel = path.sigma / true_sigma[p0:] - 1  # forecast sigma_t vs the true conditional sigma
    assert np.mean(np.abs(rel)) < 0.06 and np.max(np.abs(rel)) < 0.15


@pytest.mark.parametrize("max_obs", [None, 1200])  # expanding / rolling fit sample
def test_garch_t_var_cvar_are_the_analytic_t_formulas(long_series, max_obs):
    returns, _, _ = long_series
    p0, n_days = 2950, 50
    first = 0 if max_obs is None else p0 - max_obs
    y = returns["x"].to_numpy()[first:] * 100  # exactly the data garch_t fits and filters
    dates = returns.index[p0:]
    frame, scen = garch_t(
        returns, dates, refit_every=n_days, n_scenarios=500, seed=0, max_obs=max_obs
    )
    res = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
        disp="off", last_obs=p0 - first
    )
    mu, nu = res.params["mu"], res.params["nu"]
    forecast = res.forecast(horizon=1, start=p0 - first - 1, reindex=False)
    sigma = np.sqrt(forecast.variance.to_numpy())
    sigma = sigma[:n_days, 0]
    for alpha in ALPHAS:
        t_a = stats.t.ppf(alpha, nu)
        q = t_a * np.sqrt((nu - 2) / nu)
        es = -np.sqrt((nu - 2) / nu) * (nu + t_a**2) / (nu - 1) * stats.t.pdf(t_a, nu) / alpha
        np.testing.assert_allclose(frame[var_column(alpha)], (mu + sigma * q) / 100, rtol=1e-9)
        np.testing.assert_allclose(frame[cvar_column(alpha)], (mu + sigma * es) / 100, rtol=1e-9)
    # the scenarios follow the same law: 5 % of them fall below the analytic 5 % VaR
    below = np.mean(scen.scenarios[0] < frame["var_05"].to_numpy()[:, None])
    assert abs(below - 0.05) < 4 * np.sqrt(0.05 * 0.95 / scen.scenarios[0].size)


# ---------------------------------------------------------------------------------------
# Filtered Historical Simulation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_obs", [None, 1050])  # expanding / rolling fit sample
def test_fhs_equals_brute_force_recomputation_with_daily_refits(two_series, max_obs):
    m = 300
    dates = two_series.index[-4:]
    frame, scen = fhs(
        two_series, dates, refit_every=1, n_scenarios=m, max_obs=max_obs, series=["a"]
    )
    y = two_series["a"].to_numpy() * 100
    previous = None
    for k, p in enumerate(two_series.index.get_indexer(dates)):
        sample = y[:p] if max_obs is None else y[p - max_obs : p]
        params = previous = _fit_garch_t(sample, previous)
        model = arch_model(sample, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
        fixed = model.fix(params)  # arch's own filter and standardised residuals
        sigma_next = np.sqrt(fixed.forecast(horizon=1).variance.to_numpy()[-1, 0])
        expected = (params[0] + sigma_next * fixed.std_resid[-m:]) / 100
        np.testing.assert_allclose(scen.scenarios[0, k], expected.astype("f4"), rtol=1e-6)
        for alpha in ALPHAS:
            assert frame[var_column(alpha)].iloc[k] == pytest.approx(var(expected, alpha))
            assert frame[cvar_column(alpha)].iloc[k] == pytest.approx(cvar(expected, alpha))


# ---------------------------------------------------------------------------------------
# Argument errors
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    return frame_of({"a": rng.normal(0, 0.01, 400), "b": rng.normal(0, 0.01, 400)})


def test_window_below_two_is_rejected(small):
    with pytest.raises(ValueError, match="window must be an integer >= 2, got 1"):
        hs(small, small.index[-3:], window=1)
    with pytest.raises(ValueError, match="window must be an integer"):
        mc_normal(small, small.index[-3:], window=2.5)


def test_unknown_series_is_rejected(small):
    with pytest.raises(ValueError, match=r"series \['zzz'\] not in returns columns"):
        hs(small, small.index[-3:], series=["a", "zzz"])
    with pytest.raises(ValueError, match=r"series \['zzz'\] not in returns columns"):
        garch_t(small, small.index[-3:], series="zzz", min_obs=100)


def test_forecast_date_not_in_index_is_rejected(small):
    dates = [small.index[-1], pd.Timestamp("2030-01-01")]
    with pytest.raises(ValueError, match="forecast_dates 2030-01-01 not in the returns index"):
        hs(small, dates)


def test_unsorted_or_empty_forecast_dates_are_rejected(small):
    with pytest.raises(ValueError, match="forecast_dates must be sorted increasing"):
        hs(small, small.index[[-1, -2]])
    with pytest.raises(ValueError, match="forecast_dates is empty"):
        fhs(small, [])


def test_not_enough_history_is_rejected(small):
    with pytest.raises(ValueError, match="has only 10 returns before it; window=250"):
        hs(small, small.index[10:12])
    with pytest.raises(ValueError, match="only 300 returns of series 'a' before it; min_obs"):
        garch_t(small, small.index[300:302], min_obs=1000)
    with pytest.raises(ValueError, match="only 300 returns of series 'a'.*at least 500"):
        fhs(small, small.index[300:302], min_obs=100, n_scenarios=500)


def test_nan_in_the_needed_history_is_rejected(small):
    holed = small.copy()
    holed.iloc[200, 1] = np.nan
    day = holed.index[200].date()
    with pytest.raises(ValueError, match=r"returns\['b'\] has NaN in the 250 returns before"):
        mc_normal(holed, holed.index[-3:])
    with pytest.raises(ValueError, match=rf"returns\['b'\] has NaN on {day}"):
        garch_t(holed, holed.index[-3:], min_obs=100)


def test_bad_garch_arguments_are_rejected(small):
    with pytest.raises(ValueError, match="refit_every must be an integer >= 1, got 0"):
        garch_t(small, small.index[-3:], refit_every=0, min_obs=100)
    with pytest.raises(ValueError, match="min_obs must be an integer >= 100, got 5"):
        fhs(small, small.index[-3:], min_obs=5)
    with pytest.raises(ValueError, match="n_scenarios must be an integer >= 1, got 0"):
        fhs(small, small.index[-3:], n_scenarios=0, min_obs=100)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        garch_t(small, small.index[-3:], seed=-1, min_obs=100)
    with pytest.raises(ValueError, match="max_obs must be an integer >= 150, got 120"):
        garch_t(small, small.index[-3:], min_obs=150, max_obs=120)
    with pytest.raises(ValueError, match="max_obs must be an integer >= 300, got 200"):
        fhs(small, small.index[-3:], min_obs=100, n_scenarios=300, max_obs=200)
    with pytest.raises(ValueError, match="nu must be > 2"):
        standardized_t_var_es(0.05, 2.0)


def test_bad_returns_frame_is_rejected(small):
    with pytest.raises(ValueError, match="returns must be a pandas DataFrame"):
        hs(small.to_numpy(), small.index[-3:])
    with pytest.raises(ValueError, match="returns must be indexed by a DatetimeIndex"):
        hs(small.reset_index(drop=True), small.index[-3:])
    with pytest.raises(ValueError, match="sorted increasing without duplicate dates"):
        hs(small.iloc[::-1], small.index[-3:])


def test_run_baselines_rejects_unknown_methods_and_config_keys(small):
    with pytest.raises(ValueError, match=r"unknown baseline method\(s\) \['ddpm'\]"):
        run_baselines(small, small.index[-3:], methods=["hs", "ddpm"])
    with pytest.raises(ValueError, match=r"config\['hs'\] has unknown keys \['refit_every'\]"):
        run_baselines(small, small.index[-3:], methods=["hs"], config={"hs": {"refit_every": 3}})
