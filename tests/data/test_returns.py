"""Tests of diffrisk.data.returns: log returns and the return table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.prices import DataError
from diffrisk.data.returns import build_returns, constituent_returns, log_returns, returns_until
from diffrisk.data.splits import Splits
from tests.conftest import SPLITS
from tests.stress.conftest import synthetic_returns

# ------------------------------------------------------------------ maths by hand


def test_log_returns_hand_computed():
    prices = pd.DataFrame(
        {"A": [100.0, 110.0, 99.0]}, index=pd.bdate_range("2020-01-01", periods=3)
    )
    r = log_returns(prices)
    np.testing.assert_allclose(r["A"].to_numpy(), [np.log(1.1), np.log(0.9)])
    assert r.index[0] == pd.Timestamp("2020-01-02")


def test_build_returns_columns_and_order(price_frame):
    index = price_frame.mean(axis=1).rename("idx")
    out = build_returns(price_frame, index)
    assert list(out.columns) == ["portfolio", "idx", "AAA", "BBB", "CCC"]
    assert len(out) == len(price_frame) - 1
    np.testing.assert_allclose(out["idx"], np.log(index).diff().iloc[1:])


def test_returns_until_never_contains_test_rows(price_frame):
    r = build_returns(price_frame)
    s = Splits.from_params(**SPLITS)
    upto = returns_until(r, s, "validation")
    assert upto.index.max() <= pd.Timestamp(SPLITS["val_end"])
    assert not set(s.dates(r, "test")) & set(upto.index)
    with pytest.raises(DataError, match="last_split"):
        returns_until(r, s, "test")


def test_constituent_returns_needs_two_constituents():
    returns = synthetic_returns()
    with pytest.raises(ValueError, match="at least 2 constituent columns"):
        constituent_returns(returns[["A0"]].assign(portfolio=0.0), "sp500")
