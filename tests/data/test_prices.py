"""Tests of diffrisk.data.prices: loading prices."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.data.prices import DataError, load_prices


def test_skfolio_default_data():
    prices, index = load_prices()
    assert prices.shape[1] == 20 and index.name == "sp500"
    assert prices.index[0] == pd.Timestamp("1990-01-02")
    assert prices.index[-1] == pd.Timestamp("2022-12-28")


def test_unknown_source():
    with pytest.raises(DataError, match=r"data.source must be 'skfolio' or 'csv'"):
        load_prices(source="bloomberg")
