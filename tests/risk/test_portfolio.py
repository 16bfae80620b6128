"""Tests of diffrisk.risk.portfolio: equal-weighted portfolio returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from diffrisk.data.returns import build_returns
from diffrisk.risk.portfolio import (
    conditional_drawdown,
    minimum_variance_weights,
    parse_portfolios,
    portfolio_log_returns,
    risk_summary,
)
from tests.stress.conftest import synthetic_returns


def test_portfolio_is_log_of_mean_gross_return():
    # Two stocks: +10% and -10% simple returns -> equal-weighted simple return 0 -> log 0.
    r = pd.DataFrame({"A": [np.log(1.1)], "B": [np.log(0.9)]})
    assert portfolio_log_returns(r, axis=1)[0] == pytest.approx(0.0, abs=1e-15)
    # +2% and +4% -> portfolio +3% simple.
    r = pd.DataFrame({"A": [np.log(1.02)], "B": [np.log(1.04)]})
    assert portfolio_log_returns(r, axis=1)[0] == pytest.approx(np.log(1.03), rel=1e-14)


def test_portfolio_equals_daily_rebalanced_wealth():
    rng = np.random.default_rng(1)
    r = pd.DataFrame(rng.normal(0, 0.02, size=(50, 4)))
    wealth = 1.0
    for t in range(50):
        wealth *= np.mean(np.exp(r.iloc[t].to_numpy()))
    assert portfolio_log_returns(r, axis=1).sum() == pytest.approx(np.log(wealth), rel=1e-12)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(20240601)


def test_equal_weight_log_returns_is_the_log_of_mean_gross_returns(rng):
    r = rng.normal(0, 0.05, size=(10, 4))
    np.testing.assert_allclose(portfolio_log_returns(r), np.log(np.exp(r).mean(axis=1)), rtol=1e-12)


def test_two_assets_up_and_down_ten_percent_give_zero():
    assert portfolio_log_returns(np.log([1.1, 0.9])) == pytest.approx(0.0, abs=1e-15)


def test_weighted_closed_form():
    # 25 % in a doubling asset and 75 % in a quadrupling one: gross 0.5 + 3 = 3.5
    r = portfolio_log_returns(np.log([2.0, 4.0]), [0.25, 0.75])
    assert r == pytest.approx(np.log(3.5), rel=1e-15)
    # a short position: 150 % long a +10 % asset, 50 % short a +20 % asset -> gross 1.05
    r = portfolio_log_returns(np.log([1.1, 1.2]), [1.5, -0.5])
    assert r == pytest.approx(np.log(1.05), rel=1e-14)


def test_axis_selects_the_assets():
    r = np.log(np.array([[1.1, 1.2], [0.9, 1.0]]))  # rows: assets, columns: days
    np.testing.assert_allclose(
        portfolio_log_returns(r, axis=0), np.log([1.0, 1.1]), rtol=1e-14, atol=1e-15
    )
    paths = np.log(np.full((3, 5, 2), 1.1))
    assert portfolio_log_returns(paths).shape == (3, 5)


def test_equal_weights_are_the_data_stage_formula_bit_for_bit():
    rng = np.random.default_rng(0)
    prices = pd.DataFrame(
        np.exp(np.cumsum(rng.normal(0, 0.02, (300, 5)), axis=0)),
        index=pd.bdate_range("2020-01-01", periods=300),
        columns=list("ABCDE"),
    )
    out = build_returns(prices)
    logs = np.log(prices).diff().iloc[1:].to_numpy()
    expected = logsumexp(logs, axis=1) - np.log(5)
    assert np.array_equal(out["portfolio"].to_numpy(), expected)
    assert np.array_equal(portfolio_log_returns(logs), expected)


def test_risk_summary_of_constant_paths():
    paths = np.log(np.full((4, 3, 2), [1.1, 0.9]))  # the portfolio never moves
    table = risk_summary(paths, {"all": [0.5, 0.5]}, alphas=(0.25,))
    assert table.loc[0, ["mean_return", "var", "es", "cdar"]].tolist() == pytest.approx(
        [0.0] * 4, abs=1e-15
    )


def test_bad_weights_and_shapes_are_named():
    with pytest.raises(ValueError, match="weights must sum to 1"):
        portfolio_log_returns(np.zeros((2, 3, 2)), [0.5, 0.6])
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        portfolio_log_returns(np.zeros((2, 2)), [1.0])
    with pytest.raises(ValueError, match="weights: a short portfolio lost"):
        portfolio_log_returns(np.log([0.5, 2.0]), [2.0, -1.0])
    with pytest.raises(ValueError, match="returns must have an assets axis"):
        portfolio_log_returns(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="paths_ must be 3-D"):
        risk_summary(np.zeros((3, 2)), {"all": [0.5, 0.5]})


def test_minimum_variance_weights_closed_form():
    cov = np.array([[1.0, 0.3], [0.3, 2.0]])
    z = np.random.default_rng(0).multivariate_normal([0, 0], cov, size=400_000)
    inv = np.linalg.inv(cov) @ np.ones(2)
    np.testing.assert_allclose(minimum_variance_weights(z), inv / inv.sum(), atol=0.01)


def test_drawdown_and_risk_summary_on_known_paths():
    daily = np.array([[0.05, -0.10, -0.05, 0.20], [-0.01, -0.01, -0.01, -0.01]])
    np.testing.assert_allclose(conditional_drawdown(daily), [-0.15, -0.04])
    paths = np.repeat(daily[:, :, None], 2, axis=2)  # two identical assets
    table = risk_summary(paths, {"ew": np.array([0.5, 0.5])}, alphas=(0.5,))
    row = table.iloc[0]
    assert row["var"] == pytest.approx(-0.04) and row["es"] == pytest.approx(-0.04)
    assert row["cdar"] == pytest.approx(-0.15)  # worst half of the drawdowns
    assert row["mean_return"] == pytest.approx((0.10 - 0.04) / 2)


def test_portfolios_spec():
    train = synthetic_returns(300)
    w = parse_portfolios("ew=all; pair=A0,A2; mv=minvar", list(train.columns), train)
    np.testing.assert_allclose(w["ew"], 0.25)
    np.testing.assert_allclose(w["pair"], [0.5, 0, 0.5, 0])
    assert w["mv"].sum() == pytest.approx(1.0)


def test_portfolio_errors():
    returns = synthetic_returns()
    with pytest.raises(ValueError, match="not among the constituents"):
        parse_portfolios("x=ZZZ", ["A0"], returns)
    with pytest.raises(ValueError, match="weights must sum to 1"):
        portfolio_log_returns(np.zeros((2, 3, 2)), [0.5, 0.6])


def test_weights_matrix_equals_one_portfolio_at_a_time():
    x = np.random.default_rng(0).normal(0, 0.02, (5, 7, 4))
    w = np.random.default_rng(1).dirichlet(np.ones(4), 3)
    many = portfolio_log_returns(x, w)
    for k in range(3):
        np.testing.assert_allclose(many[..., k], portfolio_log_returns(x, w[k]), atol=1e-15)
    with pytest.raises(ValueError, match="row 1 sums to"):
        portfolio_log_returns(x, np.array([[0.5, 0.5, 0, 0], [0.5, 0.6, 0, 0]]))
