"""Tests of diffrisk.evaluation.ensemble: member FZ0 spread, disagreement and its tests."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from diffrisk.evaluation.ensemble import (
    DISAGREEMENT_COLUMNS,
    ENSEMBLE_COLUMNS,
    disagreement_tests,
    ensemble_table,
    member_disagreement,
    member_fz0_table,
)
from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.risk.scoring import fz0_loss

ALPHAS = (0.05, 0.01)
Z = {0.05: -1.6449, 0.01: -2.3263}  # standard normal quantiles
ES = {0.05: -2.0627, 0.01: -2.6652}  # standard normal lower-tail means


def _frame(dates, series, realized, scale) -> pd.DataFrame:
    """A normal forecast table of one series: VaR/ES of N(0, scale_t^2)."""
    data = {"date": dates, "series": series, "realized": realized}
    for a in ALPHAS:
        data[var_column(a)] = Z[a] * scale
        data[cvar_column(a)] = ES[a] * scale
    return pd.DataFrame(data)


def ensemble(n_days: int, predictive: bool, seed: int, n_members: int = 4):
    """Members whose VaR scales differ by a daily factor; the pooled VaR is their mean.

    Returns sd 1 % on calm days; when ``predictive``, the true sd is 2.5 % on the days
    where the members disagree most (top 10 % of a random disagreement level), so
    exceptions of the pooled (too narrow) VaR cluster on high-disagreement days;
    otherwise the true sd is 1 % every day and disagreement is noise.
    """
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2019-01-02", periods=n_days)
    spread = rng.uniform(0.0, 0.3, n_days)  # relative disagreement of the day
    sigma = np.full(n_days, 0.01)
    if predictive:
        sigma[spread > np.quantile(spread, 0.9)] = 0.025
    realized = rng.standard_normal(n_days) * sigma
    offsets = np.linspace(-1.0, 1.0, n_members)
    members = []
    for k, off in enumerate(offsets):
        scale = 0.01 * (1.0 + off * spread)
        members.append(_frame(dates, "portfolio", realized, scale).assign(member=k))
    members = pd.concat(members, ignore_index=True)
    pooled = _frame(dates, "portfolio", realized, np.full(n_days, 0.01))
    return members, pooled


def test_member_fz0_is_every_members_mean_loss():
    members, pooled = ensemble(300, predictive=False, seed=1)
    table = member_fz0_table(members, pooled)
    assert table["alpha"].tolist() == [0.05, 0.01]
    for a in ALPHAS:
        means = []
        for _, part in members.groupby("member"):
            loss = fz0_loss(part["realized"], part[var_column(a)], part[cvar_column(a)], a)
            means.append(loss.mean())
        row = table[table.alpha == a].iloc[0]
        assert row.n_members == 4 and row.n_obs == 300
        assert row.fz0_member_mean == pytest.approx(np.mean(means))
        assert row.fz0_member_sd == pytest.approx(np.std(means, ddof=1))
        assert row.fz0_member_min == pytest.approx(min(means))
        assert row.fz0_member_max == pytest.approx(max(means))
        pooled_loss = fz0_loss(pooled["realized"], pooled[var_column(a)], pooled[cvar_column(a)], a)
        assert row.fz0_pooled == pytest.approx(pooled_loss.mean())
    one = member_fz0_table(members[members.member == 2], pooled)
    assert one["n_members"].tolist() == [1, 1] and one["fz0_member_sd"].isna().all()
    with pytest.raises(ValueError, match="member_1 does not forecast every day"):
        member_fz0_table(members.drop(index=members.index[members.member == 1][:3]), pooled)
    with pytest.raises(ValueError, match="'member' column"):
        member_fz0_table(pooled, pooled)


def test_member_disagreement_is_the_sd_of_the_members_var():
    members, _ = ensemble(50, predictive=False, seed=2)
    d = member_disagreement(members)
    assert tuple(d.columns) == DISAGREEMENT_COLUMNS
    assert len(d) == 2 * 50 and d["alpha"].tolist() == [0.05] * 50 + [0.01] * 50
    day = members[members.date == members.date.iloc[7]]
    row = d[(d.date == day.date.iloc[0]) & (d.alpha == 0.01)].iloc[0]
    assert row.n_members == 4
    assert row.var_sd == pytest.approx(np.std(day[var_column(0.01)], ddof=1))
    assert row.var_mean == pytest.approx(np.mean(day[var_column(0.01)]))
    with pytest.raises(ValueError, match="duplicate"):
        member_disagreement(pd.concat([members, members.iloc[:1]]))


def test_disagreement_predicts_exceptions_when_built_to():
    members, pooled = ensemble(1500, predictive=True, seed=3)
    d = member_disagreement(members)
    tests = disagreement_tests(d, pooled).set_index("alpha")
    for a in ALPHAS:
        row = tests.loc[a]
        assert row.logit_slope > 0 and row.logit_p < 1e-4
        assert row.mw_auc > 0.6 and row.mw_p < 1e-4
    # the numbers are statsmodels' Logit and scipy's Mann–Whitney on the same data
    spread = d[d.alpha == 0.05]["var_sd"].to_numpy()
    hits = (pooled["realized"] < pooled[var_column(0.05)]).to_numpy()
    z = (spread - spread.mean()) / spread.std()
    fit = sm.Logit(hits.astype(float), sm.add_constant(z)).fit(disp=0)
    assert tests.loc[0.05, "logit_slope"] == pytest.approx(fit.params[1])
    assert tests.loc[0.05, "logit_slope_se"] == pytest.approx(fit.bse[1])
    assert tests.loc[0.05, "logit_p"] == pytest.approx(fit.pvalues[1])
    mw = stats.mannwhitneyu(spread[hits], spread[~hits], alternative="two-sided")
    assert tests.loc[0.05, "mw_p"] == pytest.approx(mw.pvalue)
    assert tests.loc[0.05, "mw_auc"] == pytest.approx(mw.statistic / (hits.sum() * (~hits).sum()))
    assert tests.loc[0.05, "n_exceptions"] == hits.sum()


def test_disagreement_does_not_predict_exceptions_when_independent():
    members, pooled = ensemble(1500, predictive=False, seed=4)
    tests = disagreement_tests(member_disagreement(members), pooled)
    assert (tests["logit_p"] > 0.05).all() and (tests["mw_p"] > 0.05).all()
    assert (tests["mw_auc"] - 0.5).abs().max() < 0.1


def test_tests_are_nan_without_exceptions_and_reject_missing_days():
    members, pooled = ensemble(100, predictive=False, seed=5)
    calm = pooled.assign(realized=0.0)
    tests = disagreement_tests(member_disagreement(members), calm)
    assert (tests["n_exceptions"] == 0).all()
    assert tests[["logit_slope", "logit_p", "mw_auc", "mw_p"]].isna().all().all()
    d = member_disagreement(members)
    with pytest.raises(ValueError, match="disagreement lacks"):
        disagreement_tests(d.iloc[1:], pooled)


def test_ensemble_table_joins_fz0_and_tests():
    members, pooled = ensemble(400, predictive=True, seed=6)
    table = ensemble_table(members, pooled)
    assert tuple(table.columns) == ENSEMBLE_COLUMNS
    fz0 = member_fz0_table(members, pooled)
    tests = disagreement_tests(member_disagreement(members), pooled)
    pd.testing.assert_series_equal(table["fz0_pooled"], fz0["fz0_pooled"])
    pd.testing.assert_series_equal(table["logit_p"], tests["logit_p"])
    assert not math.isnan(table["disagreement_mean"].iloc[0])
