"""Causal volatility scaling and conditioning windows for the diffusion model.

Every quantity here obeys the no-leakage rule: the volatility forecast ``sigma_t`` for day
t and the conditioning window of day t use returns of days ``< t`` only, and every fitted
statistic (means, variances, GARCH parameters) comes from returns up to ``train_end``.

Scalings (``Scaler.kind``):

* ``"global"`` — ``z_t = (r_t - m) / s`` with the training mean and standard deviation.
* ``"ewma"`` — ``z_t = (r_t - m) / sigma_t``, ``sigma_t^2 = lam sigma_{t-1}^2 +
  (1 - lam) (r_{t-1} - m)^2`` (RiskMetrics, lam = 0.94), started at the training variance.
* ``"garch"`` — ``z_t = (r_t - mu) / sigma_t`` with a GARCH(1,1) or GJR-GARCH(1,1,1)
  filter whose parameters are fitted by :mod:`arch` on training data only:
  ``sigma_t^2 = omega + (alpha + gamma 1{e_{t-1} < 0}) e_{t-1}^2 + beta sigma_{t-1}^2``,
  ``e_t = r_t - mu``. The diffusion model then learns the conditional law of the
  standardised residuals (a learned Filtered Historical Simulation).

Sign convention: returns are log returns as fractions; scenarios map back as
``r = m_t + sigma_t z``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core.checks import as_2d
from diffrisk.volatility.ewma import ewma_variance
from diffrisk.volatility.garch import GarchParams, fit_garch, garch_variance

#: Key order of one series' GARCH filter in :meth:`Scaler.to_dict` (checkpoint format).
GARCH_KEYS: tuple[str, ...] = ("mu", "omega", "alpha", "gamma", "beta", "nu", "init_var")

logger = logging.getLogger(__name__)


SCALINGS: tuple[str, ...] = ("global", "ewma", "garch")


WINDOW_CHANNELS: tuple[str, ...] = ("z", "negative")


FEATURE_NAMES: tuple[str, ...] = (
    "log_vol",
    "last_negative",
    "frac_negative_5",
    "log_realized_scale_20",
)


@dataclass(frozen=True)
class Scaler:
    """Fitted causal scaling of a set of series (training statistics only).

    Attributes
    ----------
    kind : {"global", "ewma", "garch"}
    series : tuple of str
    mean : tuple of float
        Location m per series (training mean, or the GARCH ``mu``).
    std : tuple of float
        Training standard deviation per series (the ``global`` scale and the reference
        for the log-volatility feature).
    ewma_lambda : float
    garch : tuple of GarchParams
        Only for ``kind == "garch"``.
    garch_init_var : tuple of float
        Starting variance of each GARCH filter (the training variance around ``mu``);
        only for ``kind == "garch"``.
    train_end : str
        Last training date (ISO).
    vol_floor : float
        ``sigma_t`` is floored at ``vol_floor * std``: stale prices (runs of zero returns,
        e.g. RRC in 1990) drive a fitted GARCH/EWMA variance towards zero and the next
        move would otherwise be standardised to thousands of sigmas.
    """

    kind: str
    series: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    ewma_lambda: float = 0.94
    garch: tuple[GarchParams, ...] = field(default_factory=tuple)
    train_end: str = ""
    vol_floor: float = 0.2
    garch_init_var: tuple[float, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.garch_init_var) != len(self.garch):
            raise ValueError(
                f"garch_init_var must have one value per GARCH filter ({len(self.garch)}), "
                f"got {len(self.garch_init_var)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON representation (for checkpoints).

        Returns
        -------
        dict
            The fields; ``garch`` is a list of dicts with keys :data:`GARCH_KEYS` (the
            filter's parameters and its starting variance ``init_var``).
        """
        d = asdict(self)
        del d["garch_init_var"]
        d["garch"] = [
            {k: (v if k == "init_var" else getattr(g, k)) for k in GARCH_KEYS}
            for g, v in zip(self.garch, self.garch_init_var, strict=True)
        ]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            Output of :meth:`to_dict`.

        Returns
        -------
        Scaler
        """
        garch = [dict(g) for g in d.get("garch", [])]
        init_var = tuple(float(g.pop("init_var")) for g in garch)
        return cls(
            kind=str(d["kind"]),
            series=tuple(d["series"]),
            mean=tuple(float(x) for x in d["mean"]),
            std=tuple(float(x) for x in d["std"]),
            ewma_lambda=float(d["ewma_lambda"]),
            garch=tuple(GarchParams(**g) for g in garch),
            train_end=str(d.get("train_end", "")),
            vol_floor=float(d.get("vol_floor", 0.2)),
            garch_init_var=init_var,
        )


def _training_block(returns: pd.DataFrame, train_end: Any, series: Sequence[str]) -> pd.DataFrame:
    missing = [s for s in series if s not in returns.columns]
    if missing:
        raise ValueError(f"returns lacks the series columns {missing}")
    block = returns.loc[: pd.Timestamp(train_end), list(series)]
    if len(block) < 250:
        raise ValueError(
            f"need at least 250 training days up to train_end={train_end}, got {len(block)}"
        )
    if block.isna().any().any():
        bad = block.columns[block.isna().any()].tolist()
        raise ValueError(f"training returns contain NaN in columns {bad}")
    return block


def fit_scaler(
    returns: pd.DataFrame,
    train_end: Any,
    kind: str = "garch",
    series: Sequence[str] | None = None,
    ewma_lambda: float = 0.94,
    garch_o: int = 0,
    garch_dist: str = "t",
    vol_floor: float = 0.2,
) -> Scaler:
    """Fit the scaling of each series on returns up to ``train_end`` (inclusive).

    Parameters
    ----------
    returns : DataFrame (dates × series)
        Log returns; rows after ``train_end`` are ignored.
    train_end : date-like
    kind : {"global", "ewma", "garch"}
    series : sequence of str, optional
        Columns to fit (default: all).
    ewma_lambda : float
        EWMA decay for ``"ewma"`` (and the volatility feature of ``"global"``).
    garch_o, garch_dist
        GJR order and innovation law for ``"garch"`` (see :func:`fit_garch`).
    vol_floor : float
        Floor of ``sigma_t`` as a fraction of the training standard deviation.

    Returns
    -------
    Scaler
    """
    if kind not in SCALINGS:
        raise ValueError(f"scaling kind must be one of {SCALINGS}, got {kind!r}")
    if not (0.0 <= vol_floor < 1.0):
        raise ValueError(f"vol_floor must be in [0, 1), got {vol_floor}")
    names = list(series) if series is not None else list(returns.columns)
    block = _training_block(returns, train_end, names)
    values = block.to_numpy(dtype=np.float64)
    garch: tuple[GarchParams, ...] = ()
    init_var: tuple[float, ...] = ()
    mean = values.mean(axis=0)
    if kind == "garch":
        garch = tuple(
            fit_garch(values[:, j], o=garch_o, dist=garch_dist) for j in range(values.shape[1])
        )
        init_var = tuple(float(np.var(values[:, j] - g.mu)) for j, g in enumerate(garch))
        mean = np.array([g.mu for g in garch])
        logger.info("fitted %d GARCH filters on data up to %s", len(garch), train_end)
    return Scaler(
        kind=kind,
        series=tuple(names),
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in values.std(axis=0, ddof=1)),
        ewma_lambda=float(ewma_lambda),
        garch=garch,
        train_end=str(pd.Timestamp(train_end).date()),
        vol_floor=float(vol_floor),
        garch_init_var=init_var,
    )


def scale_returns(
    returns: pd.DataFrame, scaler: Scaler
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Causal location, volatility forecast and scaled returns for every day.

    Parameters
    ----------
    returns : DataFrame (D × ≥S)
        Full history, oldest first, with the scaler's series as columns (no NaN).
    scaler : Scaler

    Returns
    -------
    loc : ndarray (D, S)
        m_t (constant per series).
    sigma : ndarray (D, S)
        Volatility forecast for day t from returns of days ``< t``, floored at
        ``scaler.vol_floor * std``.
    z : ndarray (D, S)
        ``(r_t - m_t) / sigma_t``.
    """
    missing = [s for s in scaler.series if s not in returns.columns]
    if missing:
        raise ValueError(f"returns lacks the series columns {missing} required by the scaler")
    r = returns[list(scaler.series)].to_numpy(dtype=np.float64)
    if not np.isfinite(r).all():
        raise ValueError("returns contain NaN or Inf in the scaled series")
    mean = np.asarray(scaler.mean)
    std = np.asarray(scaler.std)
    loc = np.broadcast_to(mean, r.shape).copy()
    if scaler.kind == "global":
        sigma = np.broadcast_to(std, r.shape).copy()
    elif scaler.kind == "ewma":
        sigma = np.sqrt(ewma_variance(r - mean, scaler.ewma_lambda, std**2)[:-1])
    elif scaler.kind == "garch":
        sigma = np.column_stack(
            [
                np.sqrt(garch_variance(r[:, j], g, v)[:-1])
                for j, (g, v) in enumerate(zip(scaler.garch, scaler.garch_init_var, strict=True))
            ]
        )
    else:  # pragma: no cover - guarded by fit_scaler
        raise ValueError(f"unknown scaling kind {scaler.kind!r}")
    sigma = np.maximum(sigma, scaler.vol_floor * std)
    return loc, sigma, (r - loc) / sigma


def log_volatility_feature(
    returns: pd.DataFrame, scaler: Scaler, sigma: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Log of the volatility forecast relative to the training standard deviation, (D, S).

    For ``"global"`` scaling (constant ``sigma``) the EWMA forecast is used instead so that
    the model still sees the current volatility level. Causal like ``sigma``.
    """
    std = np.asarray(scaler.std)
    if scaler.kind == "global":
        r = returns[list(scaler.series)].to_numpy(dtype=np.float64) - np.asarray(scaler.mean)
        sigma = np.maximum(
            np.sqrt(ewma_variance(r, scaler.ewma_lambda, std**2)[:-1]), scaler.vol_floor * std
        )
    return np.log(sigma / std)


def stale_rows(
    returns: NDArray[np.floating], rows: NDArray[np.integer], window: int, max_zero_frac: float
) -> NDArray[np.bool_]:
    """Mask (S, R) of (series, row) pairs whose window has too many exact-zero returns.

    A share of zero returns above ``max_zero_frac`` in the ``window`` days before t marks
    stale prices (illiquid early history); such pairs are dropped from *training* only.
    """
    r = as_2d(returns, "returns")
    rows = np.asarray(rows, dtype=np.int64)
    zero = np.concatenate([np.zeros((1, r.shape[1])), np.cumsum(r == 0.0, axis=0)])
    frac = (zero[rows] - zero[rows - window]) / window
    return (frac > max_zero_frac).T


def conditioning_windows(
    z: NDArray[np.floating],
    log_vol: NDArray[np.floating],
    rows: NDArray[np.integer],
    window: int,
    clip: float = 10.0,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64], NDArray[np.float32]]:
    """Conditioning inputs for every (row, series) pair, from days strictly before each row.

    Parameters
    ----------
    z : array (D, S)
        Scaled returns.
    log_vol : array (D, S)
        Log volatility forecast for each day (from data before that day).
    rows : array of int
        Day indices t to condition on (need ``t >= window``).
    window : int
        k, number of past days.
    clip : float
        The window's scaled returns are clipped to ``[-clip, clip]`` (inputs only; the
        targets are never clipped).

    Returns
    -------
    windows : float32 (n, 2, k)
        Channels :data:`WINDOW_CHANNELS`: ``z_{t-k..t-1}`` and ``1{z < 0}``; ``n = len(rows)
        * S`` ordered series-major (all rows of series 0, then series 1, …).
    features : float32 (n, 4)
        :data:`FEATURE_NAMES`: ``log_vol_t``, ``min(z_{t-1}, 0)``, the fraction of negative
        days among the last 5, and ``log sqrt(mean z^2)`` over the last 20 days.
    series_index : int64 (n,)
    targets : float32 (n,)
        ``z_t``, the scaled return of day t (the training target; forecasts ignore it).
    """
    zz = as_2d(z, "z")
    lv = as_2d(log_vol, "log_vol")
    rows = np.asarray(rows, dtype=np.int64)
    if window < 20:
        raise ValueError(f"window must be >= 20 days, got {window}")
    if rows.size and (rows.min() < window or rows.max() > zz.shape[0] - 1):
        raise ValueError(
            f"rows must lie in [{window}, {zz.shape[0] - 1}] so that a full window "
            f"of {window} past days exists; got [{rows.min()}, {rows.max()}]"
        )
    n_series = zz.shape[1]
    zc = np.clip(zz, -clip, clip)
    idx = rows[:, None] + np.arange(-window, 0)[None, :]  # (R, k)
    win = np.transpose(zc[idx], (2, 0, 1)).reshape(n_series * rows.size, window)  # (S*R, k)
    neg = (win < 0).astype(np.float64)
    lv_rows = lv[rows]
    feats = np.column_stack(
        [
            np.clip(lv_rows.T.reshape(-1), -5, 5),
            np.minimum(win[:, -1], 0.0),
            neg[:, -5:].mean(axis=1),
            np.clip(0.5 * np.log(np.mean(win[:, -20:] ** 2, axis=1) + 1e-6), -5, 5),
        ]
    )
    windows = np.stack([win, neg], axis=1).astype(np.float32)
    series_index = np.repeat(np.arange(n_series), rows.size)
    targets = zz[rows].T.reshape(-1).astype(np.float32)
    return windows, feats.astype(np.float32), series_index, targets
