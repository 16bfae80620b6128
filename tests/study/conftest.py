"""Shared helpers of the tests of diffrisk.study."""

from __future__ import annotations

import pandas as pd


def _dates(n: int, start: str = "1920-01-01") -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n, name="date")
