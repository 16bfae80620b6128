"""Market-state conditioning features of the one-day model (optional, off by default).

Common features of each day, computed from the returns of a cross-section of series and
of one market index, and added to every (day, series) condition of the network. The value
of day t uses returns of days ``< t`` only; the statistics that scale the features (and
the index's long-run volatility) come from days up to ``train_end`` only.

Features (:data:`MARKET_FEATURES`; ``w`` = ``window``, ``X`` the cross-section's returns):

* ``"xs_vol"`` — cross-sectional volatility: ``log sqrt(mean_{s=t-w..t-1} var_i(X_s,i))``,
  the log root-mean cross-sectional variance (dispersion, ddof = 1) of the last w days.
* ``"avg_corr"`` — the mean pairwise Pearson correlation of the cross-section's returns
  over the last w days (:func:`diffrisk.risk.correlation.mean_pairwise_correlation`).
* ``"index_vol"`` — ``log(sigma_t / s)``: the index's EWMA volatility forecast
  (:func:`diffrisk.volatility.ewma.ewma_variance`, started at the training variance)
  relative to its training standard deviation ``s``, the long-run level.
* ``"drawdown"`` — the index's drawdown at the close of t-1: ``C_{t-1} - max C_j`` over
  the last :data:`DRAWDOWN_DAYS` closes (``C`` the cumulative log return, 0 before the
  first return).

The cross-section is a list of columns or ``"all"`` (every column except the derived
``portfolio`` column and the index column); the index is a column, or ``""`` for the
equal-weighted portfolio of the cross-section
(:func:`diffrisk.risk.portfolio.portfolio_log_returns`). Nothing is tied to a ticker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from diffrisk.data.returns import PORTFOLIO
from diffrisk.risk.correlation import mean_pairwise_correlation
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.volatility.ewma import ewma_variance

logger = logging.getLogger(__name__)

#: Every market-state feature, in the order they are appended to the conditions.
MARKET_FEATURES: tuple[str, ...] = ("xs_vol", "avg_corr", "index_vol", "drawdown")

#: Features computed from the cross-section (they need at least 2 columns).
CROSS_SECTIONAL: tuple[str, ...] = ("xs_vol", "avg_corr")

#: Look-back (closes) of the running peak of the drawdown feature (about a trading year).
DRAWDOWN_DAYS = 250

#: Scaled features are clipped to ``[-CLIP, CLIP]`` (numerical safety only).
CLIP = 10.0


def parse_market_features(text: str) -> tuple[str, ...]:
    """The feature names of a comma-separated list (``""``: none), checked.

    Parameters
    ----------
    text : str
        E.g. ``"xs_vol,avg_corr"``.

    Returns
    -------
    tuple of str
        In the order of :data:`MARKET_FEATURES` (the order of the conditions).

    Raises
    ------
    ValueError
        On an unknown or repeated name, naming ``DDPMConfig.market_features``.

    Examples
    --------
    >>> parse_market_features(" drawdown, xs_vol ")
    ('xs_vol', 'drawdown')
    """
    if not isinstance(text, str):
        raise ValueError(
            f"DDPMConfig.market_features must be a comma-separated string, got {text!r}"
        )
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in MARKET_FEATURES]
    if unknown or len(set(names)) != len(names):
        raise ValueError(
            f"DDPMConfig.market_features must list distinct names among {MARKET_FEATURES}, "
            f"got {text!r}"
        )
    return tuple(n for n in MARKET_FEATURES if n in names)


@dataclass(frozen=True)
class MarketState:
    """What is needed to recompute the scaled market-state features (checkpointed).

    Attributes
    ----------
    features : tuple of str
        Names among :data:`MARKET_FEATURES`, in that order.
    columns : tuple of str
        The cross-section's columns (resolved: never ``"all"``).
    index : str
        The index column, or ``""`` for the equal-weighted portfolio of ``columns``.
    window : int
        w, days of the cross-sectional features.
    ewma_lambda : float
        Decay of the index's EWMA volatility.
    index_mean, index_std : float
        Training mean and standard deviation of the index's returns.
    mean, std : tuple of float
        Training mean and standard deviation of each raw feature (the scaling).
    train_end : str
        Last training date (ISO).
    drawdown_days : int
        Look-back of the drawdown's running peak.
    """

    features: tuple[str, ...]
    columns: tuple[str, ...]
    index: str
    window: int
    ewma_lambda: float
    index_mean: float
    index_std: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train_end: str
    drawdown_days: int = DRAWDOWN_DAYS

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON representation (tuples as lists) for checkpoints."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MarketState:
        """Inverse of :meth:`to_dict`."""
        return cls(
            features=tuple(str(x) for x in d["features"]),
            columns=tuple(str(x) for x in d["columns"]),
            index=str(d["index"]),
            window=int(d["window"]),
            ewma_lambda=float(d["ewma_lambda"]),
            index_mean=float(d["index_mean"]),
            index_std=float(d["index_std"]),
            mean=tuple(float(x) for x in d["mean"]),
            std=tuple(float(x) for x in d["std"]),
            train_end=str(d["train_end"]),
            drawdown_days=int(d.get("drawdown_days", DRAWDOWN_DAYS)),
        )


def resolve_columns(returns: pd.DataFrame, columns: str, index: str) -> tuple[str, ...]:
    """The cross-section's columns: a comma-separated list, or ``"all"``.

    ``"all"`` is every column of ``returns`` except the derived ``portfolio`` column and
    ``index``. Raises ``ValueError`` naming ``DDPMConfig.market_columns`` on an unknown
    column.
    """
    if columns.strip() == "all":
        return tuple(str(c) for c in returns.columns if c not in (PORTFOLIO, index))
    names = tuple(s.strip() for s in columns.split(",") if s.strip())
    missing = [c for c in names if c not in returns.columns]
    if missing or not names:
        raise ValueError(
            f"DDPMConfig.market_columns names columns {missing or names} not in the returns "
            f"(columns: {list(returns.columns)}); use a comma-separated list or 'all'"
        )
    return names


def _panel(returns: pd.DataFrame, names: Sequence[str], parameter: str) -> NDArray[np.float64]:
    missing = [c for c in names if c not in returns.columns]
    if missing:
        raise ValueError(
            f"returns lack the columns {missing} of the market-state features "
            f"(DDPMConfig.{parameter}); pass the frame the model was fitted on"
        )
    x = returns[list(names)].to_numpy(dtype=np.float64)
    if not np.isfinite(x).all():
        bad = [c for c, ok in zip(names, np.isfinite(x).all(axis=0), strict=True) if not ok]
        raise ValueError(f"returns of the market-state columns {bad} contain NaN or Inf")
    return x


def _lagged(values: NDArray[np.float64], window: int, n_days: int) -> NDArray[np.float64]:
    """Row t = the value of the block of days ``t-window .. t-1`` (NaN for t < window).

    ``values[b]`` is the value of the block of days ``b .. b+window-1``.
    """
    out = np.full(n_days, np.nan)
    out[window:] = values[: max(n_days - window, 0)]
    return out


def index_returns(returns: pd.DataFrame, state: MarketState) -> NDArray[np.float64]:
    """The index's returns (D,): its column, or the portfolio of the cross-section."""
    if state.index:
        return _panel(returns, [state.index], "market_index")[:, 0]
    return portfolio_log_returns(_panel(returns, state.columns, "market_columns"), axis=1)


def raw_market_features(returns: pd.DataFrame, state: MarketState) -> NDArray[np.float64]:
    """Unscaled features (D, F) for every day of ``returns``, causal (row t uses < t).

    Rows whose look-back is not full yet are NaN (``xs_vol``/``avg_corr`` before day w).
    """
    cols = []
    n_days = len(returns)
    need_xs = [f for f in state.features if f in CROSS_SECTIONAL]
    if need_xs:
        x = _panel(returns, state.columns, "market_columns")
        if x.shape[1] < 2:
            raise ValueError(
                f"the market-state features {need_xs} need at least 2 columns in "
                f"DDPMConfig.market_columns, got {list(state.columns)}"
            )
        if n_days >= state.window:
            blocks = sliding_window_view(x, state.window, axis=0)  # (D-w+1, A, w)
        else:
            blocks = np.empty((0, x.shape[1], state.window, n_days))
    r_index = index_returns(returns, state) if set(state.features) - set(CROSS_SECTIONAL) else None
    for name in state.features:
        if name == "xs_vol":
            disp = np.var(blocks, axis=1, ddof=1).mean(axis=-1)
            with np.errstate(divide="ignore"):
                cols.append(_lagged(0.5 * np.log(disp), state.window, n_days))
        elif name == "avg_corr":
            corr = mean_pairwise_correlation(blocks, obs_axis=-1)
            cols.append(_lagged(corr, state.window, n_days))
        elif name == "index_vol":
            var = ewma_variance(r_index - state.index_mean, state.ewma_lambda, state.index_std**2)
            cols.append(np.log(np.sqrt(var[:-1]) / state.index_std))
        elif name == "drawdown":
            cum = pd.Series(np.concatenate([[0.0], np.cumsum(r_index)]))
            peak = cum.rolling(state.drawdown_days + 1, min_periods=1).max()
            cols.append((cum - peak).to_numpy()[:-1])
    return np.column_stack(cols) if cols else np.empty((n_days, 0))


def fit_market_state(
    returns: pd.DataFrame,
    train_end: Any,
    features: str,
    columns: str = "all",
    index: str = "",
    window: int = 20,
    ewma_lambda: float = 0.94,
) -> MarketState | None:
    """Fit the scaling of the market-state features on days up to ``train_end``.

    Parameters
    ----------
    returns : DataFrame (dates × columns)
        Daily log returns; rows after ``train_end`` are not used.
    train_end : date-like
    features : str
        Comma-separated names among :data:`MARKET_FEATURES`; ``""``: none (returns None).
    columns : str
        The cross-section: comma-separated columns or ``"all"``.
    index : str
        The index column; ``""``: the equal-weighted portfolio of the cross-section.
    window : int
        Look-back (days) of the cross-sectional features (>= 2).
    ewma_lambda : float
        Decay of the index's EWMA volatility.

    Returns
    -------
    MarketState or None
    """
    names = parse_market_features(features)
    if not names:
        return None
    if int(window) < 2:
        raise ValueError(f"DDPMConfig.market_window must be >= 2, got {window!r}")
    if index and index not in returns.columns:
        raise ValueError(
            f"DDPMConfig.market_index {index!r} is not a column of the returns "
            f"(columns: {list(returns.columns)}); '' = equal-weighted cross-section"
        )
    train = returns.loc[returns.index <= pd.Timestamp(train_end)]
    if len(train) <= int(window):
        raise ValueError(
            f"need more than market_window={window} training days up to {train_end}, "
            f"got {len(train)}"
        )
    state = MarketState(
        features=names,
        columns=resolve_columns(returns, columns, index),
        index=str(index),
        window=int(window),
        ewma_lambda=float(ewma_lambda),
        index_mean=0.0,
        index_std=1.0,
        mean=(),
        std=(),
        train_end=str(pd.Timestamp(train_end).date()),
    )
    if set(names) - set(CROSS_SECTIONAL):
        r_index = index_returns(train, state)
        state = replace(state, index_mean=float(r_index.mean()), index_std=float(r_index.std()))
    raw = raw_market_features(train, state)
    mean, std = [], []
    for j, name in enumerate(names):
        col = raw[:, j][np.isfinite(raw[:, j])]
        sd = float(col.std()) if col.size > 1 else 0.0
        if not sd > 0.0:
            raise ValueError(f"market-state feature {name!r} is constant on the training days")
        mean.append(float(col.mean()))
        std.append(sd)
    logger.info("market-state features %s fitted on data up to %s", names, state.train_end)
    return replace(state, mean=tuple(mean), std=tuple(std))


def market_features(returns: pd.DataFrame, state: MarketState) -> NDArray[np.float64]:
    """Scaled features (D, F): ``(raw - mean) / std`` clipped to ``±CLIP``; 0 where undefined.

    Row t uses returns of days ``< t`` only. An undefined raw value (before the look-back
    is full, or a window where no pair of columns moves) becomes 0, the training mean.
    """
    z = (raw_market_features(returns, state) - np.asarray(state.mean)) / np.asarray(state.std)
    z = np.where(np.isfinite(z), z, 0.0)
    return np.clip(z, -CLIP, CLIP)
