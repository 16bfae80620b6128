"""Isolated one-day price spikes: detect, report, optionally fix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from diffrisk.data.prices import DataError


@dataclass(frozen=True)
class SpikeReport:
    """Isolated one-day spikes found in a price panel.

    Attributes
    ----------
    table : DataFrame
        One row per spike: ``ticker, date, return, next_return, robust_sd, z``.
    fixed : bool
        Whether the spikes were adjusted.
    """

    table: pd.DataFrame
    fixed: bool


def detect_spikes(
    prices: pd.DataFrame, threshold: float = 8.0, window: int = 250, reversal: float = 0.2
) -> pd.DataFrame:
    """Find isolated one-day price spikes that reverse the next day.

    A spike on day t of a ticker is an idiosyncratic log return ``e_t`` (the ticker's
    return minus the cross-sectional median return of all tickers that day, when there
    are at least three tickers; the raw return otherwise) with ``|e_t| > threshold * s_t``
    and ``|e_{t+1}| > threshold * s_t`` of the opposite sign, such that the price comes
    back to within ``reversal * |e_t|`` of its level on t-1
    (``|e_t + e_{t+1}| < reversal * |e_t|``). ``s_t`` is a robust standard deviation of
    the previous ``window`` idiosyncratic returns (1.4826 × their median absolute
    deviation, floored at 1.2533 × their mean absolute deviation so that tick-sized
    price series with many zero returns do not give ``s_t = 0``); it uses data before t
    only. Market-wide crash days are not idiosyncratic, and genuine one-name crashes
    are not undone the next day, so neither qualifies.

    Parameters
    ----------
    prices : DataFrame
        Validated prices (dates increasing, no NaN).
    threshold : float
        Size of a spike in robust standard deviations (``data.spike_threshold``).
    window : int
        Look-back of the robust standard deviation.
    reversal : float
        Largest net two-day move, as a fraction of the spike, for it to count as undone.

    Returns
    -------
    DataFrame
        Columns ``ticker, date, return, next_return, robust_sd, z`` (empty if none),
        where ``return`` is the raw log return on the spike day and ``z`` the
        idiosyncratic return in robust standard deviations.
    """
    if threshold <= 0:
        raise DataError(f"parameter data.spike_threshold must be > 0, got {threshold}")
    rows = []
    returns = np.log(prices).diff()
    market = returns.median(axis=1) if prices.shape[1] >= 3 else 0.0
    excess = returns.sub(market, axis=0)
    for col in prices.columns:
        e = excess[col]
        med = e.rolling(window, min_periods=20).median().shift(1)
        mad = (e - med).abs().rolling(window, min_periods=20).median().shift(1)
        mean_ad = (e - med).abs().rolling(window, min_periods=20).mean().shift(1)
        sd = np.maximum(1.4826 * mad, 1.2533 * mean_ad)
        nxt = e.shift(-1)
        big = (e.abs() > threshold * sd) & (nxt.abs() > threshold * sd)
        undone = (np.sign(e) != np.sign(nxt)) & ((e + nxt).abs() < reversal * e.abs())
        for d in e.index[(big & undone & (sd > 0)).fillna(False).to_numpy()]:
            rows.append(
                {
                    "ticker": col,
                    "date": d,
                    "return": returns.at[d, col],
                    "next_return": returns[col].shift(-1)[d],
                    "robust_sd": sd[d],
                    "z": e[d] / sd[d],
                }
            )
    columns = ["ticker", "date", "return", "next_return", "robust_sd", "z"]
    return pd.DataFrame(rows, columns=columns)


def fix_spikes(prices: pd.DataFrame, spikes: pd.DataFrame) -> pd.DataFrame:
    """Replace each spiked price by the geometric mean of its neighbours' prices."""
    out = prices.copy()
    for _, row in spikes.iterrows():
        pos = out.index.get_loc(row["date"])
        col = row["ticker"]
        out.iloc[pos, out.columns.get_loc(col)] = np.sqrt(
            out[col].iloc[pos - 1] * out[col].iloc[pos + 1]
        )
    return out
