"""Conditioning inputs and training windows of joint paths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stress.config import StressConfig
from diffrisk.stress.signatures import stress_signature
from diffrisk.volatility.ewma import ewma_volatility


def conditioning_position(index: pd.DatetimeIndex, as_of: str | pd.Timestamp | None) -> int:
    """Row position of the conditioning date: rows strictly before it form the history.

    ``None`` or ``""`` means the day after the last row (history = all rows).
    """
    if as_of is None or (isinstance(as_of, str) and not as_of.strip()):
        return len(index)
    try:
        stamp = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of={as_of!r} is not a date") from exc
    return int(index.searchsorted(stamp, side="left"))


@dataclass(frozen=True)
class ConditioningInputs:
    """What the model sees of the past at one conditioning date (rows ``< s`` only).

    Attributes
    ----------
    history : ndarray (n_assets, k)
        The last k returns of each asset divided by ``sigma`` (clipped).
    sigma : ndarray (n_assets,)
        EWMA volatility forecast of each asset for the first day of the path.
    portfolio_vol : float
        EWMA volatility forecast of the equal-weighted portfolio for that day.
    """

    history: NDArray[np.float64]
    sigma: NDArray[np.float64]
    portfolio_vol: float


def conditioning_inputs(
    past: ArrayLike, k: int, *, lam: float = 0.94, warmup: int = 30, clip: float = 10.0
) -> ConditioningInputs:
    """Conditioning inputs from the returns strictly before the conditioning date.

    Parameters
    ----------
    past : array_like, shape (s, n_assets)
        Daily log returns of the constituents up to the day before the path starts.
    k : int
        History length.
    lam, warmup : float, int
        EWMA decay and warm-up (:func:`diffrisk.volatility.ewma.ewma_volatility`).
    clip : float
        Bound on the scaled history.

    Returns
    -------
    ConditioningInputs
    """
    arr = np.asarray(past, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"past must be 2-D (days, n_assets), got ndim={arr.ndim}")
    if arr.shape[0] < max(k, warmup):
        raise ValueError(
            f"need at least max(history={k}, warmup={warmup}) days before the "
            f"conditioning date, got {arr.shape[0]}"
        )
    sigma = ewma_volatility(arr, lam=lam, warmup=warmup)[-1]
    if not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
        raise ValueError(
            "an asset has a zero EWMA volatility at the conditioning date "
            "(its price has not moved): cannot scale it"
        )
    port = float(ewma_volatility(portfolio_log_returns(arr), lam=lam, warmup=warmup)[-1])
    history = np.clip(arr[-k:] / sigma, -clip, clip).T
    return ConditioningInputs(history=history, sigma=sigma, portfolio_vol=port)


@dataclass
class WindowSet:
    """Training windows as arrays (n windows).

    Attributes
    ----------
    targets : ndarray (n, n_assets, H)
        Scaled paths ``r / sigma`` (not clipped).
    history : ndarray (n, n_assets, k)
    sigma : ndarray (n, n_assets)
    portfolio_vol : ndarray (n,)
    signature : DataFrame (n rows)
        :data:`SIGNATURE_COLUMNS` of the raw paths.
    starts : DatetimeIndex
        First day of each path.
    """

    targets: NDArray[np.float32]
    history: NDArray[np.float32]
    sigma: NDArray[np.float64]
    portfolio_vol: NDArray[np.float64]
    signature: pd.DataFrame
    starts: pd.DatetimeIndex

    def __len__(self) -> int:
        return int(self.targets.shape[0])


def training_windows(
    returns: pd.DataFrame,
    first_start: str | pd.Timestamp | None,
    last_end: str | pd.Timestamp,
    config: StressConfig,
) -> WindowSet:
    """Every overlapping H-day window with ``first_start <= start`` and ``end <= last_end``.

    Parameters
    ----------
    returns : DataFrame (T, n_assets)
        Constituent returns; rows after ``last_end`` are dropped before anything is
        computed, so nothing after ``last_end`` can reach a window.
    first_start : date or None
        Earliest first day of a window (None: as early as the history allows).
    last_end : date
        Latest last day of a window (``train_end`` for training windows).
    config : StressConfig

    Returns
    -------
    WindowSet
        Windows whose assets all have a positive EWMA volatility at the start.
    """
    frame = returns.loc[returns.index <= pd.Timestamp(last_end)]
    arr = frame.to_numpy(dtype=float)
    k, h = config.history, config.horizon
    lo = max(k, config.ewma_warmup)
    if first_start is not None:
        lo = max(lo, int(frame.index.searchsorted(pd.Timestamp(first_start), side="left")))
    starts = np.arange(lo, arr.shape[0] - h + 1)
    if starts.size == 0:
        raise ValueError(
            f"no {h}-day window with {k} days of history fits between {first_start} and {last_end}"
        )
    sigma_all = ewma_volatility(arr, lam=config.ewma_lambda, warmup=config.ewma_warmup)
    port_all = ewma_volatility(
        portfolio_log_returns(arr), lam=config.ewma_lambda, warmup=config.ewma_warmup
    )
    sigma = sigma_all[starts]
    ok = np.all(np.isfinite(sigma) & (sigma > 0), axis=1) & (port_all[starts] > 0)
    starts, sigma = starts[ok], sigma[ok]
    paths = np.lib.stride_tricks.sliding_window_view(arr, h, axis=0)[starts]  # (n, A, H)
    hist = np.lib.stride_tricks.sliding_window_view(arr, k, axis=0)[starts - k]  # (n, A, k)
    scale = sigma[:, :, None]
    signature = stress_signature(np.swapaxes(paths, 1, 2), port_all[starts])
    return WindowSet(
        targets=(paths / scale).astype(np.float32),
        history=np.clip(hist / scale, -config.history_clip, config.history_clip).astype(np.float32),
        sigma=sigma,
        portfolio_vol=port_all[starts],
        signature=signature,
        starts=pd.DatetimeIndex(frame.index[starts]),
    )
