"""TODO."""

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
    log_volatility_feature,
    scale_returns,
)
from diffrisk.diffusion.training import ConditionTensors


def _split_dates(splits: Any) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(train_end, val_start, val_end) from a :class:`diffrisk.data.Splits` or a mapping."""
    get = splits.get if isinstance(splits, Mapping) else lambda k: getattr(splits, k, None)
    values = {k: get(k) for k in ("train_end", "val_start", "val_end")}
    missing = [k for k, v in values.items() if v is None]
    if missing:
        raise ValueError(
            f"splits lacks {missing}: pass a diffrisk.data.Splits or a mapping "
            "with train_end, val_start and val_end"
        )
    te, vs, ve = (pd.Timestamp(values[k]) for k in ("train_end", "val_start", "val_end"))
    if not (te < vs <= ve):
        raise ValueError(
            f"need train_end < val_start <= val_end, got {te.date()}, {vs.date()}, {ve.date()}"
        )
    return te, vs, ve


@dataclass(frozen=True)
class _Prepared:
    loc: NDArray[np.float64]
    sigma: NDArray[np.float64]
    z: NDArray[np.float64]
    log_vol: NDArray[np.float64]


def _prepare(returns: pd.DataFrame, scaler: Scaler) -> _Prepared:
    loc, sigma, z = scale_returns(returns, scaler)
    return _Prepared(loc, sigma, z, log_volatility_feature(returns, scaler, sigma))


def _tensors(
    prep: _Prepared, rows: NDArray[np.int64], columns: Sequence[int], config: DDPMConfig
) -> ConditionTensors:
    cols = list(columns)
    win, feats, sidx, targets = conditioning_windows(
        prep.z[:, cols], prep.log_vol[:, cols], rows, config.window, config.clip_window
    )
    sidx = np.asarray(cols, dtype=np.int64)[sidx]
    return ConditionTensors(
        torch.from_numpy(win),
        torch.from_numpy(feats),
        torch.from_numpy(sidx),
        torch.from_numpy(targets),
    )


def _rows_between(
    index: pd.DatetimeIndex, start: pd.Timestamp | None, end: pd.Timestamp, window: int
) -> NDArray[np.int64]:
    mask = index <= end
    if start is not None:
        mask &= index >= start
    rows = np.flatnonzero(mask)
    return rows[rows >= window].astype(np.int64)


def _columns(scaler: Scaler, names: Sequence[str] | None, what: str) -> list[int]:
    if names is None:
        return list(range(len(scaler.series)))
    unknown = [s for s in names if s not in scaler.series]
    if unknown:
        raise ValueError(f"{what} {unknown} not among the model's series {list(scaler.series)}")
    return [scaler.series.index(s) for s in names]
