"""Tests of diffrisk.evaluation.backtest_pairs: the backtest battery's (series, method) tasks."""

from __future__ import annotations

import pickle
import zlib

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.backtest_pairs import pair_jobs, pair_rows, pair_seed
from diffrisk.evaluation.tables import BACKTEST_COLUMNS, backtest_table
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios

ALPHAS = [0.05, 0.01]
N_DAYS, N_SCEN = 120, 400


@pytest.fixture(scope="module")
def battery():
    names = ["p", "q", "r"]
    dates = pd.bdate_range("2020-01-02", periods=N_DAYS)
    realized = np.random.default_rng(1).standard_t(4, (len(names), N_DAYS)) * 0.01
    frames, scen = {}, {}
    for k, scale in enumerate((0.01, 0.013)):
        rng = np.random.default_rng(20 + k)
        draws = (rng.standard_normal((len(names), N_DAYS, N_SCEN)) * scale).astype(np.float32)
        frames[f"m{k}"] = risk_frame_from_scenarios(draws, dates, names, realized)
        scen[f"m{k}"] = ScenarioSet(draws, dates, names)
    # m2: no scenario set (parametric null); only two series
    frames["m2"] = frames["m1"][frames["m1"].series != "r"].copy()
    return frames, scen


def test_jobs_follow_the_table_order_and_carry_one_series_as_a_view(battery):
    frames, scen = battery
    jobs = pair_jobs(frames, scen, ALPHAS, 50, 3, "normal", 5.0, 250)
    assert [(j.series, j.method) for j in jobs] == [
        ("p", "m0"), ("p", "m1"), ("p", "m2"),
        ("q", "m0"), ("q", "m1"), ("q", "m2"),
        ("r", "m0"), ("r", "m1"),
    ]  # fmt: skip
    first = jobs[0]
    assert np.shares_memory(first.scenarios, scen["m0"].scenarios)
    np.testing.assert_array_equal(first.positions, np.arange(N_DAYS))
    assert jobs[2].scenarios is None and jobs[2].positions is None
    # what travels to a worker: the one series' scenarios (N_DAYS x N_SCEN float32), not the set
    series_bytes = N_DAYS * N_SCEN * 4
    assert series_bytes < len(pickle.dumps(first, protocol=5)) < series_bytes + 20_000


def test_a_task_gives_its_rows_of_the_table_with_its_own_seed(battery):
    frames, scen = battery
    table = backtest_table(frames, scen, alphas=ALPHAS, n_sim=50, seed=3)
    jobs = pair_jobs(frames, scen, ALPHAS, 50, 3, "normal", 5.0, 250)
    # in reverse order, each task alone: the same rows (no shared generator state)
    rows = {(j.series, j.method): pair_rows(j) for j in reversed(jobs)}
    again = pd.DataFrame(
        [r for j in jobs for r in rows[(j.series, j.method)]], columns=list(BACKTEST_COLUMNS)
    )
    pd.testing.assert_frame_equal(again, table, check_exact=True)
    seq = pair_seed(3, "q", "m1")
    assert seq.entropy == [3, zlib.crc32(b"q"), zlib.crc32(b"m1")]
