"""Tests of diffrisk.evaluation.tables: backtest, traffic-light, DM and constituent tables."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.comparison import diebold_mariano
from diffrisk.evaluation.coverage import christoffersen, kupiec_pof
from diffrisk.evaluation.es_tests import acerbi_szekely_z2
from diffrisk.evaluation.tables import (
    BACKTEST_COLUMNS,
    backtest_table,
    constituent_coverage_table,
    diebold_mariano_table,
    traffic_light_table,
)
from diffrisk.evaluation.traffic_light import (
    traffic_light,
    traffic_light_windows,
)
from diffrisk.forecasts.contract import (
    ScenarioSet,
    cvar_column,
    risk_frame_from_scenarios,
    var_column,
)
from diffrisk.risk.scoring import fz0_loss

# =========================================================================== tables


def make_method(scale: float, seed: int, n_days: int = 300, n_scen: int = 200):
    """Forecast table and scenarios of one synthetic method on shared realised returns."""
    names = ["portfolio", "sp500", "AAA", "BBB"]
    dates = pd.bdate_range("2019-01-02", periods=n_days)
    realized = np.random.default_rng(100).standard_t(5, (len(names), n_days)) * 0.01
    rng = np.random.default_rng(seed)
    scen = (rng.standard_normal((len(names), n_days, n_scen)) * 0.012 * scale).astype(np.float32)
    frame = risk_frame_from_scenarios(scen, dates, names, realized)
    return frame, ScenarioSet(scen, dates, names)


@pytest.fixture(scope="module")
def methods():
    built = {
        m: make_method(s, i) for i, (m, s) in enumerate([("fhs", 1.0), ("ddpm", 0.6), ("hs", 1.3)])
    }
    return {m: f for m, (f, _) in built.items()}, {m: s for m, (_, s) in built.items()}


def test_backtest_table_rows_agree_with_the_tests(methods):
    forecasts, scenarios = methods
    # hs gets no scenarios: its Z2 p-value uses the parametric normal null
    scen = {m: s for m, s in scenarios.items() if m != "hs"}
    table = backtest_table(forecasts, scen, n_sim=300, seed=9)
    assert list(table.columns) == list(BACKTEST_COLUMNS)
    assert len(table) == 4 * 3 * 3
    assert table["series"].tolist()[:9] == ["portfolio"] * 9
    for _, row in table.sample(8, random_state=0).iterrows():
        frame = forecasts[row.method]
        part = frame[frame.series == row.series].sort_values("date")
        r = part.realized.to_numpy()
        v, e = part[var_column(row.alpha)].to_numpy(), part[cvar_column(row.alpha)].to_numpy()
        hits = r < v
        pof, cc = kupiec_pof(hits, row.alpha), christoffersen(hits, row.alpha)
        assert (row.n_obs, row.n_exceptions) == (300, hits.sum())
        assert row.kupiec_lr == pytest.approx(pof.statistic)
        assert row.kupiec_p == pytest.approx(pof.pvalue)
        assert row.christoffersen_ind_p == pytest.approx(cc.pvalue_ind)
        assert row.christoffersen_cc_p == pytest.approx(cc.pvalue_cc)
        assert row.traffic_light == traffic_light(int(hits[-250:].sum()), 250, row.alpha).zone
        assert row.fz0_mean == pytest.approx(fz0_loss(r, v, e, row.alpha).mean())
        assert row.avg_var == pytest.approx(v.mean()) and row.avg_cvar == pytest.approx(e.mean())
        # documented seed of a (series, method) pair
        seed = np.random.SeedSequence(
            [9, zlib.crc32(row.series.encode()), zlib.crc32(row.method.encode())]
        )
        s = None if row.method == "hs" else scenarios[row.method].for_series(row.series)
        z2 = acerbi_szekely_z2(r, v, e, row.alpha, scenarios=s, n_sim=300, seed=seed)
        assert row.as_z2 == pytest.approx(z2.statistic)
        assert row.as_z2_p == z2.pvalue
    # a pair's row does not depend on the other methods in the table
    alone = backtest_table({"ddpm": forecasts["ddpm"]}, scen, n_sim=300, seed=9)
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True),
        table[table.method == "ddpm"].reset_index(drop=True),
    )
    # the under-dispersed method (scale 0.6) is worse than the well-specified one
    worst = table.groupby("method").kupiec_p.median()
    assert worst["ddpm"] < worst["fhs"]


def test_backtest_table_is_byte_identical_on_one_and_two_dask_workers(methods, dask_cluster):
    """Every (series, method) is a Dask task drawing from its own seed: the number of
    workers (and the order tasks finish in) cannot change a single bit of the table."""
    forecasts, scenarios = methods
    scen = {m: s for m, s in scenarios.items() if m != "hs"}  # hs: the parametric null
    one = backtest_table(forecasts, scen, n_sim=200, seed=4, workers=1)
    two = backtest_table(forecasts, scen, n_sim=200, seed=4, workers=2, scheduler=dask_cluster)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert len(one) == 4 * 3 * 3 and one["as_z2_p"].notna().all()
    # a pair's rows do not depend on its neighbours: one method alone gives its rows
    alone = backtest_table(
        {"ddpm": forecasts["ddpm"]}, scen, n_sim=200, seed=4, workers=2, scheduler=dask_cluster
    )
    pd.testing.assert_frame_equal(
        alone, one[one.method == "ddpm"].reset_index(drop=True), check_exact=True
    )


def test_backtest_table_input_errors(methods):
    forecasts, scenarios = methods
    bad = forecasts["fhs"].copy()
    bad.loc[5, "realized"] = np.nan
    with pytest.raises(ValueError, match=r"forecasts\['fhs'\]: realized is NaN or inf for series"):
        backtest_table({"fhs": bad}, None, n_sim=0)
    with pytest.raises(ValueError, match=r"forecasts\['fhs'\] lacks columns \['var_01'\]"):
        backtest_table({"fhs": forecasts["fhs"].drop(columns="var_01")}, None, n_sim=0)
    short = ScenarioSet(
        scenarios["fhs"].scenarios[:, :100], scenarios["fhs"].dates[:100], scenarios["fhs"].series
    )
    with pytest.raises(ValueError, match=r"scenarios\['fhs'\] lacks the forecast date"):
        backtest_table({"fhs": forecasts["fhs"]}, {"fhs": short}, n_sim=10)
    with pytest.raises(ValueError, match="alphas must be in the open interval"):
        backtest_table(forecasts, None, alphas=(0.05, 1.0), n_sim=0)
    with pytest.raises(ValueError, match="forecasts is empty"):
        backtest_table({}, None)


def test_traffic_light_table(methods):
    forecasts, _ = methods
    table = traffic_light_table(forecasts)
    assert len(table) == 12 and set(table.method) == {"fhs", "ddpm", "hs"}
    row = table[(table.series == "AAA") & (table.method == "ddpm")].iloc[0]
    frame = forecasts["ddpm"]
    part = frame[frame.series == "AAA"].sort_values("date")
    res = traffic_light_windows(part.realized.to_numpy() < part.var_01.to_numpy(), 250, 0.01)
    assert (row.n_windows, row.green, row.yellow, row.red) == (51, res.green, res.yellow, res.red)
    assert row.green + row.yellow + row.red == row.n_windows


def test_diebold_mariano_table(methods):
    forecasts, _ = methods
    table = diebold_mariano_table(forecasts, benchmark="fhs", loss="fz0")
    assert len(table) == 4 * 2 * 3 and "fhs" not in set(table.method)
    row = table[(table.series == "sp500") & (table.method == "ddpm") & (table.alpha == 0.01)].iloc[
        0
    ]
    a = forecasts["ddpm"][forecasts["ddpm"].series == "sp500"].sort_values("date")
    b = forecasts["fhs"][forecasts["fhs"].series == "sp500"].sort_values("date")
    la = fz0_loss(a.realized, a.var_01, a.cvar_01, 0.01)
    lb = fz0_loss(b.realized, b.var_01, b.cvar_01, 0.01)
    dm = diebold_mariano(la, lb)
    assert row.dm_stat == pytest.approx(dm.statistic) and row.dm_p == pytest.approx(dm.pvalue)
    assert row.mean_loss_diff == pytest.approx(la.mean() - lb.mean())
    pinball = diebold_mariano_table(forecasts, benchmark="hs", loss="pinball", alphas=(0.05,))
    assert len(pinball) == 8 and set(pinball.benchmark) == {"hs"}
    with pytest.raises(ValueError, match="benchmark 'garch_t' is not in forecasts"):
        diebold_mariano_table(forecasts, benchmark="garch_t")
    with pytest.raises(ValueError, match="loss must be one of"):
        diebold_mariano_table(forecasts, loss="mse")


def test_constituent_coverage_table(methods):
    forecasts, _ = methods
    table = constituent_coverage_table(forecasts)
    assert set(table.series) == {"AAA", "BBB"} and len(table) == 2 * 3 * 3
    assert ((table.kupiec_p >= 0.05) == (table.result == "pass")).all()
    row = table.iloc[0]
    frame = forecasts[row.method]
    part = frame[frame.series == row.series].sort_values("date")
    pof = kupiec_pof(part.realized.to_numpy() < part[var_column(row.alpha)].to_numpy(), row.alpha)
    assert row.kupiec_p == pytest.approx(pof.pvalue) and row.n_exceptions == pof.n_exceptions
    # a one-column study has no constituent besides its headline series: an empty table
    # with the same columns (the coverage notebook filters on "result")
    empty = constituent_coverage_table(forecasts, exclude=["portfolio", "sp500", "AAA", "BBB"])
    assert empty.empty and list(empty.columns) == list(table.columns)


@pytest.mark.slow
def test_backtest_table_on_a_real_scheduler_equals_in_process(methods, dask_processes):
    """`dask scheduler` + two `dask worker` processes give the in-process table, bit for bit."""
    forecasts, scenarios = methods
    address, _ = dask_processes
    here = backtest_table(forecasts, scenarios, n_sim=100, seed=2)
    there = backtest_table(forecasts, scenarios, n_sim=100, seed=2, scheduler=address)
    pd.testing.assert_frame_equal(here, there, check_exact=True)
