"""Portfolio returns and path risk: weighted log returns, drawdown, horizon VaR/ES."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from diffrisk.risk.measures import cvar, var


def portfolio_log_returns(
    returns: ArrayLike | pd.DataFrame, weights: ArrayLike | None = None, *, axis: int = -1
) -> NDArray[np.float64]:
    """Log return of a daily rebalanced portfolio: ``r_p = ln(Σ_i w_i exp(r_i))``.

    The one implementation of the portfolio log return in the package (the data stage's
    ``portfolio`` column, the stress signatures and windows, the path suite's regimes
    and the stress risk table all call it).

    Parameters
    ----------
    returns : array_like or DataFrame
        Daily log returns of the constituents (fractions); the assets lie along ``axis``.
    weights : array_like, shape (n_assets,) or (P, n_assets), optional
        Fully invested weights (sum 1; short positions allowed). Default: equal weights
        ``1 / n_assets``. A (P, n_assets) matrix gives P portfolios at once: the assets
        axis is replaced by a trailing portfolio axis of length P.
    axis : int, default -1
        The assets axis (``1`` for a (days, assets) table).

    Returns
    -------
    ndarray
        ``returns`` with ``axis`` reduced (and a trailing axis of length P for a
        weights matrix).

    Raises
    ------
    ValueError
        If the assets axis is empty, ``weights`` has the wrong shape or does not sum to 1,
        or a short portfolio loses more than its value in one day (gross return <= 0).

    Notes
    -----
    Computed stably with :func:`scipy.special.logsumexp`. With equal weights the result is
    ``logsumexp(r) - ln(n)`` (the log of the mean gross return), bit for bit the formula
    the data stage has always used for the ``portfolio`` column; given weights enter as
    the ``b`` factors of ``logsumexp``.

    Examples
    --------
    Gross returns 1.1 and 0.9 average to 1.0:

    >>> round(float(portfolio_log_returns(np.log([1.1, 0.9]))), 12)
    0.0
    >>> round(float(portfolio_log_returns(np.log([2.0, 4.0]), [0.25, 0.75])), 12)
    1.252762968495
    """
    arr = np.asarray(returns, dtype=float)
    if arr.ndim < 1:
        raise ValueError(f"returns must have an assets axis, got a scalar {arr!r}")
    n_assets = arr.shape[axis]
    if n_assets < 1:
        raise ValueError(f"returns must have an assets axis of length >= 1, got {arr.shape}")
    if weights is None:
        return np.asarray(logsumexp(arr, axis=axis) - np.log(n_assets), dtype=float)
    w = np.asarray(weights, dtype=float)
    if w.ndim == 2 and w.shape[1] == n_assets:
        return _many_portfolio_log_returns(np.moveaxis(arr, axis, -1), w)
    if w.shape != (n_assets,):
        raise ValueError(
            f"weights must have shape ({n_assets},) to match returns axis {axis} of "
            f"{arr.shape}, got {w.shape}"
        )
    if not math.isclose(float(w.sum()), 1.0, abs_tol=1e-9):
        raise ValueError(f"weights must sum to 1, got {w.sum():.6g}")
    shape = [1] * arr.ndim
    shape[axis] = n_assets
    out, sign = logsumexp(arr, axis=axis, b=w.reshape(shape), return_sign=True)
    if np.any(sign <= 0):
        raise ValueError(
            "weights: a short portfolio lost more than its value in one day; log return undefined"
        )
    return np.asarray(out, dtype=float)


def _many_portfolio_log_returns(arr: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray:
    """``ln(Σ_i w_pi exp(r_i))`` for every row p of ``w``, assets on the last axis of ``arr``.

    The same log-sum-exp as the one-portfolio case (shifted by the per-row maximum, so
    ``exp`` never overflows), with the sum over assets done as one matrix product.
    """
    sums = w.sum(axis=1)
    bad = np.flatnonzero(~np.isclose(sums, 1.0, rtol=0.0, atol=1e-9))
    if bad.size:
        raise ValueError(
            f"weights rows must sum to 1; row {int(bad[0])} sums to {sums[bad[0]]:.6g}"
        )
    shift = arr.max(axis=-1, keepdims=True)
    gross = np.exp(arr - shift) @ w.T
    if np.any(gross <= 0):
        raise ValueError(
            "weights: a short portfolio lost more than its value in one day; log return undefined"
        )
    return np.log(gross) + shift


# --------------------------------------------------------------------------- downstream risk
def parse_portfolios(
    spec: str, assets: Sequence[str], train_returns: pd.DataFrame
) -> dict[str, NDArray[np.float64]]:
    """Portfolio weights from ``name=members; ...`` (``stress.validate.portfolios``).

    ``members`` is ``all`` (equal weights on every constituent), ``minvar`` (the global
    minimum-variance weights of :func:`minimum_variance_weights` on ``train_returns``) or
    comma-separated tickers (equal weights on them).

    Examples
    --------
    >>> w = parse_portfolios("banks=B,C", ["A", "B", "C"], pd.DataFrame())
    >>> w["banks"].tolist()
    [0.0, 0.5, 0.5]
    """
    names = [str(a) for a in assets]
    out: dict[str, NDArray[np.float64]] = {}
    for chunk in (c.strip() for c in str(spec).split(";") if c.strip()):
        name, eq, members = (s.strip() for s in chunk.partition("="))
        if not eq or not name or not members:
            raise ValueError(f"portfolio {chunk!r}: expected name=members")
        if members == "all":
            w = np.full(len(names), 1.0 / len(names))
        elif members == "minvar":
            w = minimum_variance_weights(train_returns.loc[:, names])
        else:
            tickers = [m.strip() for m in members.split(",") if m.strip()]
            missing = [m for m in tickers if m not in names]
            if missing:
                raise ValueError(
                    f"portfolio {name!r}: tickers {missing} are not among the constituents {names}"
                )
            w = np.array([1.0 / len(tickers) if a in tickers else 0.0 for a in names])
        out[name] = w
    if not out:
        raise ValueError("portfolios specification is empty")
    return out


def minimum_variance_weights(train_returns: pd.DataFrame | ArrayLike) -> NDArray[np.float64]:
    """Global minimum-variance weights ``Σ⁻¹1 / (1ᵀΣ⁻¹1)`` of the training covariance.

    Fully invested, short positions allowed (the closed form of Merton 1972). Fit on
    training returns only.

    Examples
    --------
    Two uncorrelated assets with variances 1 and 4 get weights 0.8 and 0.2:

    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal((200_000, 2)) * [1.0, 2.0]
    >>> np.round(minimum_variance_weights(z), 2).tolist()
    [0.8, 0.2]
    """
    arr = np.asarray(train_returns, dtype=float)
    if arr.ndim != 2 or arr.shape[0] <= arr.shape[1]:
        raise ValueError(f"train_returns must be 2-D with more days than assets, got {arr.shape}")
    cov = np.cov(arr, rowvar=False)
    x = np.linalg.solve(cov, np.ones(arr.shape[1]))
    return x / x.sum()


def conditional_drawdown(daily: ArrayLike, axis: int = -1) -> NDArray[np.float64]:
    """Maximum drawdown of each path (a log return <= 0): ``min_h (C_h - max_{j<=h} C_j)``.

    ``C`` is the cumulative log return with ``C_0 = 0`` (the start counts as a peak). The
    days run along ``axis`` (default the last); the other axes index paths and are kept.

    Examples
    --------
    >>> conditional_drawdown([[0.1, -0.3, 0.1]]).round(3).tolist()
    [-0.3]
    """
    arr = np.atleast_2d(np.asarray(daily, dtype=float))
    if arr.shape[axis] == 1:  # one day: the drawdown is the loss, if any
        return np.minimum(np.take(arr, 0, axis=axis), 0.0)
    shape = list(arr.shape)
    shape[axis] = 1
    cum = np.concatenate([np.zeros(shape), np.cumsum(arr, axis=axis)], axis=axis)
    return np.min(cum - np.maximum.accumulate(cum, axis=axis), axis=axis)


# --------------------------------------------------------------------------- validation
def usable_tail_levels(
    n_reference_days: int, levels: Sequence[float] = (0.05, 0.01)
) -> list[float]:
    """The tail probabilities of ``levels`` with at least one reference day in the tail.

    Examples
    --------
    >>> usable_tail_levels(50)
    [0.05]
    """
    return [q for q in levels if math.floor(q * n_reference_days + 1e-9) >= 1]


def risk_summary(
    paths_: ArrayLike, weights: Mapping[str, ArrayLike], alphas: Sequence[float] = (0.05, 0.01)
) -> pd.DataFrame:
    """VaR, ES and conditional drawdown at risk over the horizon, per portfolio and alpha.

    Parameters
    ----------
    paths_ : array_like (n_paths, H, n_assets)
    weights : mapping name -> (n_assets,)
    alphas : sequence of float
        Tail probabilities.

    Returns
    -------
    DataFrame
        ``portfolio, alpha, n_paths, mean_return, var, es, cdar``: ``var`` = the α-quantile
        of the horizon log return (:func:`diffrisk.risk.measures.var`), ``es`` = the mean at or
        below it (:func:`diffrisk.risk.measures.cvar`), ``cdar`` = the mean of the α worst maximum
        drawdowns (Chekhlov, Uryasev & Zabarankin 2005). All are returns (negative = loss).
    """
    arr = np.asarray(paths_, dtype=float)
    if arr.ndim != 3:
        raise ValueError(f"paths_ must be 3-D (n_paths, H, n_assets), got {arr.shape}")
    rows = []
    for name, w in weights.items():
        daily = portfolio_log_returns(arr, w)
        total, drawdown = daily.sum(axis=1), conditional_drawdown(daily)
        for a in alphas:
            rows.append(
                {
                    "portfolio": name,
                    "alpha": float(a),
                    "n_paths": int(total.size),
                    "mean_return": float(total.mean()),
                    "var": float(var(total, a)),
                    "es": float(cvar(total, a)),
                    "cdar": float(cvar(drawdown, a)),
                }
            )
    return pd.DataFrame(rows)
