"""Tests of diffrisk.baselines.common: checks of returns, series, dates and history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.baselines.common import history_start
from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.historical import hs, mc_normal


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


def test_bad_returns_frame_is_rejected(small):
    with pytest.raises(ValueError, match="returns must be a pandas DataFrame"):
        hs(small.to_numpy(), small.index[-3:])
    with pytest.raises(ValueError, match="returns must be indexed by a DatetimeIndex"):
        hs(small.reset_index(drop=True), small.index[-3:])
    with pytest.raises(ValueError, match="sorted increasing without duplicate dates"):
        hs(small.iloc[::-1], small.index[-3:])


def test_history_start_is_the_first_return_or_the_rolling_window_start():
    y = np.r_[np.full(5, np.nan), np.zeros(20)]
    idx = pd.bdate_range("2020-01-01", periods=25)
    positions = np.array([20, 22, 24], dtype=np.intp)
    args = ("x", idx[positions], idx)
    labels = {"requirement": "min_obs needs", "forecasts": "test"}
    assert history_start(y, positions, 10, None, *args, **labels) == 5  # first finite return
    assert history_start(y, positions, 10, 12, *args, **labels) == 8  # 20 - max_obs
    with pytest.raises(
        ValueError, match="only 15 returns of series 'x'.*min_obs needs at least 16"
    ):
        history_start(y, positions, 16, None, *args, **labels)
    y[21] = np.nan  # inside the history of the last forecast day
    with pytest.raises(ValueError, match=rf"has NaN on {idx[21].date()}.*by the test forecasts"):
        history_start(y, positions, 10, None, *args, **labels)
