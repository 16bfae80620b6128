"""Tests of diffrisk.evaluation.paths.drift: the walk-forward drift table."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.bootstrap import headline_bootstrap
from diffrisk.evaluation.paths.drift import DRIFT_COLUMNS, drift_summary, drift_table
from diffrisk.stress.walk_forward import PeriodSet

H, A = 5, 3


def _version(k: int, fit_end: str):
    return SimpleNamespace(version=k, fit_end=fit_end, name=f"stress@fit_end={fit_end}#{k}")


def _reference(seed: int, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = (
        rng.standard_normal((n, A))
        @ np.linalg.cholesky([[1, 0.5, 0.2], [0.5, 1, 0.3], [0.2, 0.3, 1]]).T
    )
    return pd.DataFrame(0.01 * z, columns=["A", "B", "C"])


@pytest.fixture(scope="module")
def sets():
    rng = np.random.default_rng(0)
    v0, v1, v2 = _version(0, "2014-12-31"), _version(1, "2018-12-31"), _version(2, "2019-12-31")
    ref19, ref20 = _reference(1), _reference(2)
    exact = ref19.to_numpy().reshape(-1, H, A)  # the period's own days, non-overlapping
    noise = lambda: 0.01 * rng.standard_normal((300, H, A))  # noqa: E731
    return [
        PeriodSet("2019", v0, False, noise(), ref19, []),
        PeriodSet("2019", v1, True, exact, ref19, []),
        PeriodSet("2020", v0, False, noise(), ref20, []),
        PeriodSet("2020", v1, False, noise(), ref20, []),
        PeriodSet("2020", v2, True, 2 * noise(), ref20, []),
    ]


def test_drift_table_shape_and_values(sets):
    table = drift_table(sets)
    assert list(table.columns) == list(DRIFT_COLUMNS)
    assert table.shape == (5, len(DRIFT_COLUMNS))
    assert table["period"].tolist() == ["2019", "2019", "2020", "2020", "2020"]
    assert table["served"].tolist() == [False, True, False, False, True]
    assert table["n_reference_days"].tolist() == [200] * 5
    # a set made of the period's own days has zero correlation and tail-dependence distance
    exact = table.iloc[1]
    assert exact["corr_frobenius"] == pytest.approx(0.0, abs=1e-12)
    assert exact["tail_dep_q05"] == pytest.approx(0.0, abs=1e-12)
    assert exact["acf_abs_distance"] >= 0
    # every value is the suite's distance of that set against that period
    direct = headline_bootstrap({"x": sets[4].paths}, sets[4].reference, max_lag=H - 1, n_boot=1)
    for metric, value in zip(direct["metric"], direct["distance"], strict=True):
        assert table.iloc[4][metric] == pytest.approx(value)


def test_drift_summary_compares_served_with_frozen(sets):
    table = drift_table(sets)
    summary = drift_summary(table)
    assert set(summary["per_period"]) == {"2019", "2020"}
    assert summary["comparisons"] == 6
    p19 = summary["per_period"]["2019"]
    assert p19["served"] == "stress@fit_end=2018-12-31#1"
    assert p19["corr_frobenius_served"] == pytest.approx(0.0, abs=1e-12)
    wins = sum(
        table.loc[(table.period == p) & table.served, m].iloc[0]
        < table.loc[(table.period == p) & (table.version == 0), m].iloc[0]
        for p in ("2019", "2020")
        for m in ("corr_frobenius", "tail_dep_q05", "acf_abs_distance")
    )
    assert summary["served_better"] == wins
    assert summary["mean_frozen"]["corr_frobenius"] == pytest.approx(
        table.loc[table.version == 0, "corr_frobenius"].mean()
    )


def test_short_periods_are_left_out_and_empty_table_has_the_columns():
    ref = _reference(3, n=H)
    one = [PeriodSet("2021", _version(0, "2014-12-31"), False, np.zeros((4, H, A)), ref, [])]
    table = drift_table(one)
    assert table.empty and list(table.columns) == list(DRIFT_COLUMNS)
