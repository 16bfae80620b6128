"""Tests of forecast combination (diffrisk.baselines.combination)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.baselines.combination import (
    combination_name,
    combine_forecasts,
    parse_pairs,
    select_weight,
    weight_scores,
)
from diffrisk.forecasts.contract import ALPHAS, RISK_COLUMNS, cvar_column, risk_frame, var_column
from diffrisk.risk.scoring import fz0_loss


def normal_forecasts(realized: np.ndarray, sigma: float, start: str = "2015-01-01"):
    """Normal VaR/ES of volatility ``sigma`` for a (series × days) array of returns."""
    n_s, n_d = realized.shape
    z = {a: stats.norm.ppf(a) for a in ALPHAS}
    var_by = {a: np.full((n_s, n_d), sigma * z[a]) for a in ALPHAS}
    es_by = {a: np.full((n_s, n_d), -sigma * stats.norm.pdf(z[a]) / a) for a in ALPHAS}
    dates = pd.bdate_range(start, periods=n_d)
    return risk_frame(dates, [f"s{i}" for i in range(n_s)], var_by, es_by, realized)


@pytest.fixture
def pair():
    realized = np.random.default_rng(0).standard_normal((2, 400)) * 0.01
    return normal_forecasts(realized, 0.01), normal_forecasts(realized, 0.02)


def test_weights_one_and_zero_return_each_input_exactly(pair):
    a, b = pair
    pd.testing.assert_frame_equal(
        combine_forecasts(a, b, 1.0), a[list(combine_forecasts(a, b, 1.0).columns)]
    )
    pd.testing.assert_frame_equal(combine_forecasts(a, b, 0.0), b[list(a.columns)])


def test_half_weight_averages_var_and_es_and_keeps_the_contract(pair):
    a, b = pair
    comb = combine_forecasts(a, b, 0.5)
    for col in RISK_COLUMNS:
        np.testing.assert_allclose(comb[col], 0.015 * a[col] / 0.01, rtol=1e-12)
    for alpha in ALPHAS:
        assert (comb[cvar_column(alpha)] <= comb[var_column(alpha)]).all()


def test_only_shared_rows_are_combined_and_realised_returns_must_agree(pair):
    a, b = pair
    comb = combine_forecasts(a.iloc[:300], b.iloc[100:], 0.3)
    assert len(comb) == 200
    bad = b.copy()
    bad.loc[5, "realized"] += 0.01
    with pytest.raises(ValueError, match="disagree on the realised return of series 's0'"):
        combine_forecasts(a, bad, 0.5, names=("ddpm", "fhs"))
    with pytest.raises(ValueError, match="share no"):
        combine_forecasts(a, normal_forecasts(np.zeros((2, 10)), 0.01, "1990-01-01"), 0.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        combine_forecasts(a, b, 1.5)


def test_weight_selection_finds_the_true_scale_and_scores_are_fz0(pair):
    a, b = pair  # a has the true volatility 1 %, b twice that
    scores = weight_scores(a, b, 0.05, [0.0, 1.0])
    raw = fz0_loss(b["realized"], b[var_column(0.05)], b[cvar_column(0.05)], 0.05)
    assert scores.loc[0, "fz0"] == pytest.approx(raw.mean(), rel=1e-12)
    w, table = select_weight(a, b, 0.05, [0.0, 0.25, 0.5, 0.75, 1.0])
    assert w == 1.0
    assert table.loc[table["chosen"], "fz0"].item() == table["fz0"].min()


def test_ties_go_to_the_half_weight_and_fallback_without_validation(pair):
    a, _ = pair
    w, _ = select_weight(a, a, 0.01, [0.0, 0.4, 0.5, 1.0])
    assert w == 0.5
    w, table = select_weight(None, a, 0.01, [0.0, 1.0], fallback=0.5)
    assert w == 0.5 and table.empty


def test_combination_name_is_a_plain_file_stem():
    assert combination_name("ddpm", "fhs") == "ddpm_mix_fhs"


def test_pairs_are_parsed_and_bad_pairs_are_named():
    assert parse_pairs("ddpm:fhs, ddpm:gas") == [("ddpm", "fhs"), ("ddpm", "gas")]
    assert parse_pairs("") == []
    with pytest.raises(ValueError, match="calibrate.combine"):
        parse_pairs("ddpm-fhs")
    with pytest.raises(ValueError, match="calibrate.combine"):
        parse_pairs("ddpm:ddpm")
