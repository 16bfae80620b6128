"""Tests of diffrisk.evaluation.headline: PIT KS, crash exceptions, headline table, goal."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.evaluation.headline import (
    GOAL_COLUMNS,
    HEADLINE_COLUMNS,
    crash_exceptions_table,
    goal_table,
    headline_metrics,
    headline_table,
    pit_ks_table,
)
from diffrisk.evaluation.tables import backtest_table, diebold_mariano_table, traffic_light_table
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios, var_column
from diffrisk.risk.scoring import pit_values

SERIES = ["portfolio", "sp500"]
N_DAYS, N_SCEN = 400, 300


@pytest.fixture(scope="module")
def study():
    """Normal returns (sd 1 %); scenarios: 'good' N(0, 1 %), 'narrow' N(0, 0.5 %)."""
    dates = pd.bdate_range("2019-11-01", periods=N_DAYS)
    realized = np.random.default_rng(5).standard_normal((2, N_DAYS)) * 0.01
    frames, sets = {}, {}
    for i, (name, scale) in enumerate([("good", 0.01), ("narrow", 0.005), ("fhs", 0.0105)]):
        rng = np.random.default_rng(10 + i)
        scen = (rng.standard_normal((2, N_DAYS, N_SCEN)) * scale).astype(np.float32)
        frames[name] = risk_frame_from_scenarios(scen, dates, SERIES, realized)
        sets[name] = ScenarioSet(scen, dates, SERIES)
    return dates, realized, frames, sets


def test_pit_ks_is_scipy_kstest_of_the_pit(study):
    dates, realized, frames, sets = study
    table = pit_ks_table(frames, sets)
    assert list(table.columns) == ["series", "method", "n_obs", "pit_ks_stat", "pit_ks_p"]
    assert len(table) == 6 and (table["n_obs"] == N_DAYS).all()
    row = table[(table.series == "sp500") & (table.method == "narrow")].iloc[0]
    u = pit_values(sets["narrow"].for_series("sp500"), realized[1])
    expected = stats.kstest(u, "uniform")
    assert row.pit_ks_stat == pytest.approx(expected.statistic)
    assert row.pit_ks_p == pytest.approx(expected.pvalue)
    # too narrow scenarios: PIT piles up at 0 and 1, uniformity rejected; calibrated: not
    assert (table.loc[table.method == "narrow", "pit_ks_p"] < 1e-6).all()
    assert (table.loc[table.method == "good", "pit_ks_p"] > 0.01).all()
    # a method without scenarios gets NaN; a series filter keeps the order asked for
    partial = pit_ks_table(frames, {"good": sets["good"]}, series=["sp500"])
    assert partial["series"].tolist() == ["sp500"] * 3
    assert partial.set_index("method")["pit_ks_p"].isna().tolist() == [False, True, True]


def test_crash_exceptions_counts_by_hand(study):
    dates, realized, frames, _ = study
    table = crash_exceptions_table(frames, "2020-02-01", "2020-04-30", alphas=[0.05, 0.01])
    inside = (dates >= "2020-02-01") & (dates <= "2020-04-30")
    frame = frames["narrow"].set_index(["series", "date"]).loc["portfolio"]
    for alpha in (0.05, 0.01):
        expected = int((realized[0][inside] < frame[var_column(alpha)].to_numpy()[inside]).sum())
        row = table[
            (table.series == "portfolio") & (table.method == "narrow") & (table.alpha == alpha)
        ].iloc[0]
        assert row.crash_days == inside.sum() == 64
        assert row.crash_exceptions == expected
    assert expected > 3  # the narrow method fails the goal's "<= 3" in the window
    outside = crash_exceptions_table(frames, "2030-01-01", "2030-03-31")
    assert (outside["crash_days"] == 0).all() and outside["crash_exceptions"].isna().all()
    with pytest.raises(ValueError, match="crash window end 2020-01-01 is before its start"):
        crash_exceptions_table(frames, "2020-02-01", "2020-01-01")


@pytest.fixture(scope="module")
def headline(study):
    _, _, frames, sets = study
    bt = backtest_table(frames, sets, n_sim=50, seed=3)
    traffic = pd.concat([traffic_light_table(frames, alpha=a) for a in (0.05, 0.01)])
    dm = pd.concat(
        [diebold_mariano_table(frames, benchmark="fhs", loss=loss) for loss in ("fz0", "pinball")]
    )
    pit = pit_ks_table(frames, sets)
    crash = crash_exceptions_table(frames, "2020-02-01", "2020-04-30")
    table = headline_table(
        bt, traffic, dm, pit, crash, primary="narrow", benchmark="fhs", series=SERIES
    )
    return table, bt, traffic, dm, pit, crash


def test_headline_table_reads_every_source_table(headline):
    table, bt, traffic, dm, pit, crash = headline
    assert tuple(table.columns) == HEADLINE_COLUMNS
    assert len(table) == 2 * 2 * 3
    # blocks by series then alpha; the primary method first, then the backtest order
    assert table["method"].tolist()[:3] == ["narrow", "good", "fhs"]
    assert table["primary"].tolist() == [m == "narrow" for m in table["method"]]
    assert table["alpha"].tolist()[:6] == [0.05] * 3 + [0.01] * 3
    row = table[(table.series == "sp500") & (table.method == "good") & (table.alpha == 0.01)]
    row = row.iloc[0]
    src = bt[(bt.series == "sp500") & (bt.method == "good") & np.isclose(bt.alpha, 0.01)].iloc[0]
    for col in ("n_obs", "n_exceptions", "kupiec_p", "christoffersen_cc_p", "as_z2_p", "fz0_mean"):
        assert row[col] == src[col]
    assert row.expected_exceptions == pytest.approx(0.01 * N_DAYS)
    tl = traffic[(traffic.series == "sp500") & (traffic.method == "good") & (traffic.alpha == 0.01)]
    assert row.tl_red == tl["red"].iloc[0]
    d = dm[(dm.series == "sp500") & (dm.method == "good") & (dm.loss == "fz0")]
    d = d[np.isclose(d.alpha, 0.01)].iloc[0]
    assert row.fz0_diff == d.mean_loss_diff and row.dm_p == d.dm_p
    assert row.pit_ks_p == pit.set_index(["series", "method"]).loc[("sp500", "good"), "pit_ks_p"]
    c = crash[(crash.series == "sp500") & (crash.method == "good") & (crash.alpha == 0.01)]
    assert row.crash_exceptions == c["crash_exceptions"].iloc[0]
    # the benchmark has no DM comparison with itself
    bench = table[table.method == "fhs"]
    assert bench["fz0_diff"].isna().all() and bench["dm_p"].isna().all()
    # the too-narrow primary method has far more exceptions than expected
    narrow = table[(table.method == "narrow") & (table.alpha == 0.01)]
    assert (narrow["n_exceptions"] > 3 * narrow["expected_exceptions"]).all()


def test_headline_table_errors(headline):
    table, bt, traffic, dm, pit, crash = headline
    with pytest.raises(ValueError, match="the primary method 'ddpm' has no backtests"):
        headline_table(bt, traffic, dm, pit, crash, primary="ddpm", benchmark="fhs", series=SERIES)
    with pytest.raises(ValueError, match="no rows for the headline series 'x'"):
        headline_table(bt, None, None, None, None, primary="good", benchmark="fhs", series=["x"])
    # missing optional tables give NaN columns, not errors
    bare = headline_table(
        bt, None, None, None, None, primary="good", benchmark="fhs", series=["portfolio"]
    )
    assert bare[["tl_red", "pit_ks_p", "dm_p", "crash_exceptions"]].isna().all().all()


def _designed(overrides: dict | None = None) -> pd.DataFrame:
    """A one-series headline table of method 'm' that meets every goal criterion."""
    base = {
        "series": "portfolio",
        "method": "m",
        "primary": True,
        "n_obs": 1000,
        "n_exceptions": 10,
        "expected_exceptions": 10.0,
        "kupiec_p": 0.5,
        "christoffersen_cc_p": 0.5,
        "as_z2_p": 0.5,
        "tl_red": 0,
        "pit_ks_p": 0.5,
        "fz0_mean": -3.3,
        "fz0_diff": -0.01,
        "dm_p": 0.4,
        "crash_days": 61,
        "crash_exceptions": 3.0,
    }
    rows = [{**base, "alpha": a} for a in (0.05, 0.01)]
    for (alpha, col), value in (overrides or {}).items():
        next(r for r in rows if r["alpha"] == alpha)[col] = value
    return pd.DataFrame(rows)


def test_goal_table_checks_every_criterion_at_its_bound():
    met = goal_table(_designed(), "m")
    assert tuple(met.columns) == GOAL_COLUMNS
    # five criteria at 5 %, six at 1 % (the crash window counts 1 %-exceptions only)
    assert met.groupby("alpha").size().to_dict() == {0.01: 6, 0.05: 5}
    assert met["met"].tolist() == [True] * 11
    # the bounds: p = 0.05 passes, FZ0 equal to the benchmark's does not beat it,
    # 3 crash exceptions pass and 4 fail, one red window fails
    edge = goal_table(
        _designed(
            {
                (0.05, "kupiec_p"): 0.05,
                (0.05, "as_z2_p"): 0.0499,
                (0.05, "fz0_diff"): 0.0,
                (0.01, "crash_exceptions"): 4.0,
                (0.01, "tl_red"): 1,
                (0.01, "christoffersen_cc_p"): math.nan,
            }
        ),
        "m",
    ).set_index(["alpha", "criterion"])["met"]
    assert edge[(0.05, "kupiec")] is True
    assert edge[(0.05, "acerbi_szekely")] is False
    assert edge[(0.05, "fz0_below_benchmark")] is False
    assert edge[(0.01, "crash_exceptions")] is False
    assert edge[(0.01, "traffic_light")] is False
    assert edge[(0.01, "christoffersen_cc")] is None
    assert edge[(0.05, "christoffersen_cc")] is True
    with pytest.raises(ValueError, match="headline has no rows for method 'x'"):
        goal_table(_designed(), "x")


def test_headline_metrics_are_compact_and_name_the_primary(headline):
    table = headline[0]
    out = headline_metrics(table, primary="narrow", benchmark="fhs")
    assert out["primary_method"] == "narrow" and out["benchmark"] == "fhs"
    assert list(out["portfolio"]) == ["alpha_0.05", "alpha_0.01"]
    cell = out["sp500"]["alpha_0.01"]
    row = table[(table.series == "sp500") & (table.method == "narrow") & (table.alpha == 0.01)]
    row = row.iloc[0]
    assert set(cell) == {
        "best_method",
        "fhs_fz0",
        "primary_fz0",
        "primary_dm_p",
        "primary_n_exceptions",
        "primary_kupiec_p",
        "primary_cc_p",
        "primary_as_z2_p",
        "primary_tl_red",
        "primary_pit_ks_p",
        "primary_crash_exceptions",
    }
    assert cell["primary_kupiec_p"] == row.kupiec_p and cell["primary_fz0"] == row.fz0_mean
    assert isinstance(cell["primary_n_exceptions"], int)
    assert cell["primary_n_exceptions"] == row.n_exceptions
    block = table[(table.series == "sp500") & (table.alpha == 0.01)]
    assert cell["best_method"] == block.loc[block.fz0_mean.idxmin(), "method"]
    assert cell["fhs_fz0"] == block.set_index("method").loc["fhs", "fz0_mean"]
    # the primary's battery: 3 tests per series and alpha plus one PIT test per series
    family = out["family_wise"]
    assert family["n_tests"] == 2 * 2 * 3 + 2
    assert family["expected_by_chance"] == pytest.approx(0.05 * family["n_tests"])
    mine = table[table.method == "narrow"]
    raw = (mine[["kupiec_p", "christoffersen_cc_p", "as_z2_p"]] < 0.05).to_numpy().sum()
    raw += int((mine.drop_duplicates("series")["pit_ks_p"] < 0.05).sum())
    assert family["n_rejected_raw"] == raw
    assert family["n_rejected_holm"] <= family["n_rejected_raw"]
    # NaN values are left out (JSON has none)
    nan_table = table.assign(crash_exceptions=math.nan)
    cell = headline_metrics(nan_table, primary="narrow", benchmark="fhs")["sp500"]["alpha_0.01"]
    assert "primary_crash_exceptions" not in cell
