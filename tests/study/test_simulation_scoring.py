"""Tests of the scoring of the known-truth simulation (diffrisk.study.simulation_scoring)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pandas as pd
import pytest

from diffrisk.baselines.common import MAX_OBS
from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.forecasts import ALPHAS, RISK_COLUMNS
from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.risk.scoring import fz0_loss
from diffrisk.study.simulation import (
    DEFAULT_PARAMS,
    SIMULATION_COLUMNS,
    TRUE_METHOD,
    simulate_forecasts,
    simulate_garch_t,
)
from diffrisk.study.simulation_scoring import (
    PATH_COLUMNS,
    SUMMARY_COLUMNS,
    default_runners,
    path_table,
    run_simulation,
    save_simulation_table,
    simulation_summary,
    simulation_table,
)
from tests.study.conftest import _dates

SEED = 2024


def _fast_runners() -> dict:
    runners = default_runners(window=250, n_scenarios=500, seed=0)
    return {"hs": runners["hs"], "mc_normal": runners["mc_normal"]}


# ---------------------------------------------------------------------------------------
# The known-truth property on 20,000 simulated days
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_run():
    dates = _dates(20_250)
    run = simulate_forecasts(_fast_runners(), DEFAULT_PARAMS, dates, dates[250:], seed=SEED)
    return run, simulation_table(run.forecasts)


def test_simulation_table_shape_and_columns(long_run):
    _, table = long_run
    assert tuple(table.columns) == SIMULATION_COLUMNS
    assert table["method"].tolist() == [m for m in (TRUE_METHOD, "hs", "mc_normal") for _ in ALPHAS]
    assert table["alpha"].tolist() == list(ALPHAS) * 3
    assert (table["n_obs"] == 20_000).all()
    np.testing.assert_array_equal(table["excess_fz0"], table["fz0_mean"] - table["fz0_true"])
    # the true model's loss is the same reference in every block
    true_rows = table[table["method"] == TRUE_METHOD].set_index("alpha")
    for method in ("hs", "mc_normal"):
        rows = table[table["method"] == method].set_index("alpha")
        np.testing.assert_array_equal(rows["fz0_true"], true_rows["fz0_mean"])
        # DM statistic = mean difference / HAC standard error
        np.testing.assert_allclose(rows["dm_stat"], rows["excess_fz0"] / rows["excess_fz0_se"])
    assert (true_rows["excess_fz0"] == 0).all() and (true_rows["excess_fz0_se"] == 0).all()
    assert (true_rows["dm_stat"] == 0).all() and (true_rows["dm_p"] == 1).all()


def test_true_model_has_the_lowest_fz0(long_run):
    _, table = long_run
    others = table[table["method"] != TRUE_METHOD]
    # strict consistency of FZ0: HS and normal MC (no volatility dynamics) lose clearly
    assert (others["excess_fz0"] > 0).all()
    assert (others["dm_stat"] > 3).all() and (others["dm_p"] < 0.01).all()


def test_true_model_passes_kupiec(long_run):
    _, table = long_run
    truth = table[table["method"] == TRUE_METHOD]
    # under the true law the hits are i.i.d. Bernoulli(alpha): the p-value is ~U(0, 1)
    assert (truth["kupiec_p"] > 0.01).all()
    se = np.sqrt(truth["alpha"] * (1 - truth["alpha"]) / 20_000)
    assert (np.abs(truth["exception_rate"] - truth["alpha"]) < 4 * se).all()


def test_true_fz0_matches_its_expectation_log_minus_es(long_run):
    # At the true (VaR, ES), E[FZ0_t | past] = log(-ES_t) (Patton, Ziegel & Chen 2019):
    # the differences are martingale differences, so their mean is 0 within 4 i.i.d. SEs.
    run, table = long_run
    truth = run.forecasts[TRUE_METHOD]
    for a in ALPHAS:
        loss = fz0_loss(truth["realized"], truth[var_column(a)], truth[cvar_column(a)], a)
        row = table[(table["method"] == TRUE_METHOD) & (table["alpha"] == a)].iloc[0]
        assert row["fz0_mean"] == pytest.approx(loss.mean(), rel=1e-12)
        d = loss - np.log(-truth[cvar_column(a)].to_numpy())
        assert abs(d.mean()) < 4 * d.std(ddof=1) / math.sqrt(d.size)


def test_run_simulation_is_deterministic_and_equals_its_parts():
    dates = _dates(700)
    runners = _fast_runners()
    t1 = run_simulation(runners, DEFAULT_PARAMS, dates, dates[300:], seed=1, n_paths=2)
    t2 = run_simulation(runners, DEFAULT_PARAMS, dates, dates[300:], seed=1, n_paths=2)
    pd.testing.assert_frame_equal(t1, t2)
    assert tuple(t1.columns) == PATH_COLUMNS
    assert t1["path"].unique().tolist() == ["sim_0", "sim_1"]
    # the runners saw the simulated panel: path k is the single path of seed 1 + k
    run = simulate_forecasts(runners, DEFAULT_PARAMS, dates, dates[300:], seed=1, n_paths=2)
    assert list(run.returns.columns) == ["sim_0", "sim_1"] and run.returns.index.equals(dates)
    for k in range(2):
        r, _ = simulate_garch_t(DEFAULT_PARAMS, dates, seed=1 + k)
        hs_k = run.forecasts["hs"][run.forecasts["hs"]["series"] == f"sim_{k}"]
        np.testing.assert_array_equal(hs_k["realized"], r.to_numpy()[300:])
        one = simulation_table(run.forecasts, series=f"sim_{k}")
        got = t1[t1["path"] == f"sim_{k}"].drop(columns="path").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, one)
    pd.testing.assert_frame_equal(path_table(run.forecasts), t1)
    # one path: simulation_table finds the only series itself
    single = simulate_forecasts(runners, DEFAULT_PARAMS, dates, dates[300:], seed=1)
    pd.testing.assert_frame_equal(
        simulation_table(single.forecasts),
        t1[t1["path"] == "sim_0"].drop(columns="path").reset_index(drop=True),
    )
    with pytest.raises(ValueError, match="the true model forecasts 2 series"):
        simulation_table(run.forecasts)


def test_simulation_summary_spreads_over_paths():
    rows = []
    for k, (excess, dm_p, kupiec_p) in enumerate(
        [(0.01, 0.50, 0.30), (0.03, 0.01, 0.04), (-0.02, 0.90, 0.60), (0.02, 0.20, 0.05)]
    ):
        for method in (TRUE_METHOD, "ddpm"):
            rows.append(
                {
                    "path": f"sim_{k}",
                    "method": method,
                    "alpha": 0.01,
                    "n_obs": 1006,
                    "fz0_mean": -3.5 + (excess if method == "ddpm" else 0.0),
                    "fz0_true": -3.5,
                    "excess_fz0": excess if method == "ddpm" else 0.0,
                    "excess_fz0_se": 0.01,
                    "dm_stat": 0.0,
                    "dm_p": dm_p if method == "ddpm" else 1.0,
                    "exception_rate": 0.012,
                    "kupiec_p": kupiec_p,
                }
            )
    summary = simulation_summary(pd.DataFrame(rows))
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    assert summary["method"].tolist() == [TRUE_METHOD, "ddpm"]
    row = summary.set_index("method").loc["ddpm"]
    excess = np.array([0.01, 0.03, -0.02, 0.02])
    assert row.n_paths == 4 and row.n_obs == 1006
    assert row.excess_fz0_mean == pytest.approx(excess.mean())
    assert row.excess_fz0_sd == pytest.approx(excess.std(ddof=1))
    assert (row.excess_fz0_min, row.excess_fz0_max) == (-0.02, 0.03)
    # dm_p >= 0.05 on 3 paths; Kupiec p >= 0.05 on 3 paths (0.05 itself passes)
    assert row.n_within_noise == 3 and row.n_kupiec_pass == 3
    assert row.exception_rate_mean == pytest.approx(0.012)
    assert summary.set_index("method").loc[TRUE_METHOD, "n_within_noise"] == 4
    one = simulation_summary(pd.DataFrame(rows[:2]))
    assert one["excess_fz0_sd"].isna().all()
    with pytest.raises(ValueError, match=r"paths_table lacks columns \['path'\]"):
        simulation_summary(pd.DataFrame(rows).drop(columns="path"))


def test_default_runners_wire_the_baselines_explicitly():
    runners = default_runners(window=100, n_scenarios=200, refit_every=50, min_obs=500, seed=3)
    assert list(runners) == ["hs", "mc_normal", "garch_t", "fhs"]
    r, _ = simulate_garch_t(DEFAULT_PARAMS, _dates(560), seed=2)
    frame, days = r.to_frame(), r.index[520:]
    expected = {
        "hs": hs(frame, days, window=100)[0],
        "mc_normal": mc_normal(frame, days, window=100, n_scenarios=200, seed=3)[0],
        "garch_t": garch_t(frame, days, refit_every=50, n_scenarios=200, seed=3, min_obs=500)[0],
    }
    for name in ("hs", "mc_normal", "garch_t"):
        pd.testing.assert_frame_equal(runners[name](frame, days), expected[name])
    fhs_runner = default_runners(refit_every=50, min_obs=500, fhs_residuals=400)["fhs"]
    pd.testing.assert_frame_equal(
        fhs_runner(frame, days),
        fhs(frame, days, refit_every=50, n_scenarios=400, min_obs=500)[0],
    )
    # max_obs reaches both GARCH baselines (a rolling sample shorter than the history)
    rolling = default_runners(refit_every=50, min_obs=500, fhs_residuals=400, max_obs=505)
    pd.testing.assert_frame_equal(
        rolling["garch_t"](frame, days),
        garch_t(frame, days, refit_every=50, n_scenarios=500, min_obs=500, max_obs=505)[0],
    )
    pd.testing.assert_frame_equal(
        rolling["fhs"](frame, days),
        fhs(frame, days, refit_every=50, n_scenarios=400, min_obs=500, max_obs=505)[0],
    )
    assert not rolling["fhs"](frame, days).equals(fhs_runner(frame, days))
    # the default is the baselines' own default (one source)
    default = inspect.signature(default_runners).parameters["max_obs"].default
    assert default == MAX_OBS == inspect.signature(garch_t).parameters["max_obs"].default
    with pytest.raises(ValueError, match="max_obs must be an integer >= 1000"):
        default_runners(max_obs=999)
    with pytest.raises(ValueError, match="window must be an integer >= 2"):
        default_runners(window=1)


# ---------------------------------------------------------------------------------------
# Error paths of the runner loop and the table
# ---------------------------------------------------------------------------------------
def _hs(r, d):
    return hs(r, d, window=50)[0]


@pytest.mark.parametrize(
    ("runners", "match"),
    [
        ({}, "method_runners must be a non-empty mapping"),
        ({TRUE_METHOD: _hs}, "must not contain 'true'"),
        ({"hs": 3}, r"method_runners\['hs'\] must be callable"),
        ({"hs": lambda r, d: hs(r, d, window=50)}, "runner 'hs' returned a tuple"),
        ({"hs": lambda r, d: r}, "forecast table lacks columns"),
        ({"hs": lambda r, d: np.zeros(3)}, "runner 'hs' must return a DataFrame"),
        (
            {"hs": lambda r, d: hs(r, d[1:], window=50)[0]},
            r"forecasts\['hs'\] lacks 1 forecast date\(s\) of the true model",
        ),
    ],
)
def test_runner_errors(runners, match):
    dates = _dates(120)
    with pytest.raises(ValueError, match=match):
        run_simulation(runners, DEFAULT_PARAMS, dates, dates[60:], seed=0)


def test_forecast_dates_must_be_simulated_dates():
    dates = _dates(120)
    with pytest.raises(ValueError, match="forecast_dates 1930-01-01 is not a simulated date"):
        run_simulation({"hs": _hs}, DEFAULT_PARAMS, dates, ["1930-01-01"], seed=0)


def test_simulation_table_errors():
    dates = _dates(120)
    run = simulate_forecasts({"hs": _hs}, DEFAULT_PARAMS, dates, dates[60:], seed=0)
    truth, hs = run.forecasts[TRUE_METHOD], run.forecasts["hs"]
    with pytest.raises(ValueError, match="forecasts lacks the true model 'true'"):
        simulation_table({"hs": hs})
    with pytest.raises(ValueError, match=r"forecasts\['hs'\] has 1 date\(s\) the true model"):
        simulation_table({TRUE_METHOD: truth.iloc[1:], "hs": hs})
    shifted = hs.assign(realized=hs["realized"] + 1e-3)
    with pytest.raises(ValueError, match="realized values differ from the simulated returns"):
        simulation_table({TRUE_METHOD: truth, "hs": shifted})
    with pytest.raises(ValueError, match="has no rows for series 'other'"):
        simulation_table(run.forecasts, series="other")
    positive = hs.copy()
    positive[list(RISK_COLUMNS)] = 0.01
    with pytest.raises(ValueError, match=r"forecasts\['hs'\] alpha=0.05: es must be negative"):
        simulation_table({TRUE_METHOD: truth, "hs": positive})


def test_save_simulation_table(project_tmp):
    dates = _dates(120)
    table = simulation_summary(
        run_simulation({"hs": _hs}, DEFAULT_PARAMS, dates, dates[60:], seed=0, n_paths=2)
    )
    path = save_simulation_table(table)
    assert path == project_tmp / "reports" / "tables" / "simulation.csv"
    back = pd.read_csv(path)
    assert tuple(back.columns) == SUMMARY_COLUMNS
    pd.testing.assert_frame_equal(back, table, check_exact=False, rtol=5e-4)  # 4 significant digits
    with pytest.raises(ValueError, match=r"table lacks columns \['n_kupiec_pass'\]"):
        save_simulation_table(table.drop(columns="n_kupiec_pass"))
