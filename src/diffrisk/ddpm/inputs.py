"""Inputs of the one-day model: scaled returns, condition tensors, rows and columns.

:class:`ConditionTensors` holds the (window, features, series index, target) of n
(day, series) pairs; the helpers build them from a returns frame and a fitted
:class:`~diffrisk.ddpm.features.Scaler`, causally (a window holds days before its target).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.features import (
    Scaler,
    conditioning_windows,
    fit_scaler,
    log_volatility_feature,
    scale_returns,
)
from diffrisk.ddpm.market_state import MarketState, fit_market_state, market_features


@dataclass(frozen=True)
class ConditionTensors:
    """Conditioning inputs and targets of n (day, series) pairs.

    Attributes
    ----------
    windows : Tensor (n, C, k)
    features : Tensor (n, F)
    series_index : LongTensor (n,)
    targets : Tensor (n,)
        Scaled returns to be modelled (NaN only when unknown, e.g. at forecast time).
    """

    windows: torch.Tensor
    features: torch.Tensor
    series_index: torch.Tensor
    targets: torch.Tensor

    def __post_init__(self) -> None:
        n = self.windows.shape[0]
        for name in ("features", "series_index", "targets"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} rows, windows has {n}")

    def __len__(self) -> int:
        return int(self.windows.shape[0])

    def take(self, index: torch.Tensor) -> ConditionTensors:
        """Rows ``index``."""
        return ConditionTensors(
            self.windows[index], self.features[index], self.series_index[index], self.targets[index]
        )

    def encode(self, model: torch.nn.Module, batch_size: int = 8192) -> torch.Tensor:
        """Encoded conditions (n, cond_dim) in eval mode, in batches."""
        model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(self), batch_size):
                sl = slice(s, s + batch_size)
                out.append(model.encode(self.windows[sl], self.features[sl], self.series_index[sl]))
        return torch.cat(out) if out else torch.empty(0, model.spec.cond_dim)


def split_dates(splits: Any) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(train_end, val_start, val_end) from a :class:`diffrisk.data.splits.Splits` or a mapping."""
    get = splits.get if isinstance(splits, Mapping) else lambda k: getattr(splits, k, None)
    values = {k: get(k) for k in ("train_end", "val_start", "val_end")}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ValueError(
            f"splits lacks {missing}: pass a diffrisk.data.splits.Splits or a mapping "
            "with train_end, val_start and val_end"
        )
    te, vs, ve = (pd.Timestamp(values[k]) for k in ("train_end", "val_start", "val_end"))
    if not (te < vs <= ve):
        raise ValueError(
            f"need train_end < val_start <= val_end, got {te.date()}, {vs.date()}, {ve.date()}"
        )
    return te, vs, ve


@dataclass(frozen=True)
class PreparedReturns:
    """Returns scaled by a :class:`~diffrisk.ddpm.features.Scaler`, (T, n_series) each.

    Attributes
    ----------
    loc, sigma : ndarray
        Location and volatility forecast of each day (known the day before).
    z : ndarray
        Scaled returns ``(r - loc) / sigma``.
    log_vol : ndarray
        The log-volatility conditioning feature.
    market : ndarray (T, F) or None
        Scaled market-state features of each day (None when off).
    """

    loc: NDArray[np.float64]
    sigma: NDArray[np.float64]
    z: NDArray[np.float64]
    log_vol: NDArray[np.float64]
    market: NDArray[np.float64] | None = None


def prepare_returns(
    returns: pd.DataFrame, scaler: Scaler, market: MarketState | None = None
) -> PreparedReturns:
    """Scale ``returns`` with ``scaler``; compute the volatility and market-state features."""
    loc, sigma, z = scale_returns(returns, scaler)
    log_vol = log_volatility_feature(returns, scaler, sigma)
    states = None if market is None else market_features(returns, market)
    return PreparedReturns(loc, sigma, z, log_vol, states)


def fit_inputs(
    returns: pd.DataFrame, config: DDPMConfig, train_end: Any
) -> tuple[Scaler, MarketState | None, PreparedReturns]:
    """Fit the scaler and the market state on days up to ``train_end``; prepare ``returns``.

    Returns
    -------
    scaler : Scaler
    market : MarketState or None
        None unless ``config.market_features`` is set.
    prep : PreparedReturns
        Every day of ``returns``, scaled causally.
    """
    scaler = fit_scaler(
        returns,
        train_end,
        kind=config.scaling,
        ewma_lambda=config.ewma_lambda,
        garch_o=config.garch_o,
        garch_dist=config.garch_dist,
        vol_floor=config.vol_floor,
    )
    market = fit_market_state(
        returns,
        train_end,
        config.market_features,
        columns=config.market_columns,
        index=config.market_index,
        window=config.market_window,
        ewma_lambda=config.ewma_lambda,
    )
    return scaler, market, prepare_returns(returns, scaler, market)


def condition_tensors(
    prep: PreparedReturns, rows: NDArray[np.int64], columns: Sequence[int], config: DDPMConfig
) -> ConditionTensors:
    """Conditions of the (row, column) pairs, column-major (all rows of a column together).

    Parameters
    ----------
    prep : PreparedReturns
    rows : ndarray of int
        Target rows (each needs ``config.window`` earlier rows).
    columns : sequence of int
        Series positions in the scaler's order.
    config : DDPMConfig
        Window length and input clip.
    """
    cols = list(columns)
    win, feats, sidx, targets = conditioning_windows(
        prep.z[:, cols], prep.log_vol[:, cols], rows, config.window, config.clip_window
    )
    sidx = np.asarray(cols, dtype=np.int64)[sidx]
    if prep.market is not None:  # common to every series of a day; series-major like feats
        common = np.tile(prep.market[rows].astype(np.float32), (len(cols), 1))
        feats = np.concatenate([feats, common], axis=1)
    return ConditionTensors(
        torch.from_numpy(win),
        torch.from_numpy(feats),
        torch.from_numpy(sidx),
        torch.from_numpy(targets),
    )


def rows_between(
    index: pd.DatetimeIndex, start: pd.Timestamp | None, end: pd.Timestamp, window: int
) -> NDArray[np.int64]:
    """Positions of the dates in ``[start, end]`` that have ``window`` earlier rows."""
    mask = index <= end
    if start is not None:
        mask &= index >= start
    rows = np.flatnonzero(mask)
    return rows[rows >= window].astype(np.int64)


def series_columns(scaler: Scaler, names: Sequence[str] | None, what: str) -> list[int]:
    """Positions of the series ``names`` in ``scaler.series`` (None: all of them).

    ``what`` names the setting in the error raised for an unknown series.
    """
    if names is None:
        return list(range(len(scaler.series)))
    unknown = [s for s in names if s not in scaler.series]
    if unknown:
        raise ValueError(f"{what} {unknown} not among the model's series {list(scaler.series)}")
    return [scaler.series.index(s) for s in names]
