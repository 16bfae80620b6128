"""Conditioning inputs and training windows of joint paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def conditioning_batch(
    returns: pd.DataFrame,
    as_of: Sequence[str | pd.Timestamp | None],
    config: StressConfig,
) -> tuple[list[ConditioningInputs], pd.DataFrame]:
    """The conditioning inputs of several conditioning dates (rows strictly before each).

    Parameters
    ----------
    returns : DataFrame (T, n_assets)
        Constituent returns.
    as_of : sequence of date or None
        First day of the paths; None/"" = the day after the last row.
    config : StressConfig
        History length, EWMA decay and warm-up, history clip.

    Returns
    -------
    inputs : list of ConditioningInputs
        One per date, in order.
    dates : DataFrame
        Per date: ``as_of`` (first day of the paths), ``last_history`` (last row read),
        ``portfolio_vol`` (EWMA forecast of the equal-weighted portfolio).
    """
    arr = returns.to_numpy(dtype=float)
    rows, inputs = [], []
    for d in as_of:
        s = conditioning_position(returns.index, d)
        inp = conditioning_inputs(
            arr[:s],
            config.history,
            lam=config.ewma_lambda,
            warmup=config.ewma_warmup,
            clip=config.history_clip,
        )
        first = (
            returns.index[s]
            if s < len(returns.index)
            else (pd.Timestamp(d) if d not in (None, "") else pd.NaT)
        )
        last = returns.index[s - 1]
        rows.append({"as_of": first, "last_history": last, "portfolio_vol": inp.portfolio_vol})
        inputs.append(inp)
    return inputs, pd.DataFrame(rows)


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


# --------------------------------------------------------------------------- stratified sampling
def segment_labels(
    windows: WindowSet, assets: Sequence[str], segments: Mapping[str, Sequence[str]]
) -> NDArray[np.int64]:
    """Label each window by the segment that led its worst move.

    The move of an asset over a window is its cumulative volatility-scaled return
    (``targets.sum`` over the horizon: the path divided by the asset's EWMA volatility at
    the start, so a calm sector falling 3 sigma counts as much as a volatile one falling
    3 sigma); a segment's move is the mean over its assets; the label is the segment with
    the most negative move (the first one on ties).

    Parameters
    ----------
    windows : WindowSet
        Training windows (nothing after their last day is read).
    assets : sequence of str
        Column order of ``windows.targets``.
    segments : mapping of str to sequence of str
        Segment name -> tickers (:func:`~diffrisk.stress.config.parse_segments`).

    Returns
    -------
    ndarray int64 (n_windows,)
        Position of each window's label in ``list(segments)``.
    """
    names = [str(a) for a in assets]
    if windows.targets.shape[1] != len(names):
        raise ValueError(
            f"assets has {len(names)} names, the windows have {windows.targets.shape[1]} assets"
        )
    if not segments:
        raise ValueError("segments is empty")
    move = windows.targets.astype(np.float64).sum(axis=2)  # (n, A)
    columns = []
    for name, members in segments.items():
        pos = [names.index(m) for m in members if m in names]
        if len(pos) != len(members) or not pos:
            raise ValueError(f"segment {name!r} has tickers {list(members)} not among {names}")
        columns.append(move[:, pos].mean(axis=1))
    return np.argmin(np.stack(columns, axis=1), axis=1).astype(np.int64)


def balanced_index(labels: ArrayLike, seed: int) -> NDArray[np.int64]:
    """Window positions in which every label present has the same count.

    Each label gets ``M`` entries, ``M`` = the count of the most frequent label: its
    windows repeated ``M // c`` times plus ``M % c`` of them drawn without replacement
    (seeded), so within a label the windows stay (nearly) equally weighted. Drawing an
    epoch's windows uniformly from this multiset draws every label with the same
    probability.

    Parameters
    ----------
    labels : array_like of int (n_windows,)
    seed : int
        Seed of the partial repetition.

    Returns
    -------
    ndarray int64 (n_labels_present * M,)
        Positions into the windows, grouped by label (shuffle before use).

    Examples
    --------
    >>> np.bincount(np.array([0, 0, 0, 1])[balanced_index([0, 0, 0, 1], seed=0)]).tolist()
    [3, 3]
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {lab.shape}")
    rng = np.random.default_rng(int(seed))
    groups = [np.flatnonzero(lab == v) for v in np.unique(lab)]
    m = max(len(g) for g in groups)
    parts = []
    for g in groups:
        parts.append(np.tile(g, m // len(g)))
        parts.append(np.sort(rng.choice(g, size=m % len(g), replace=False)))
    return np.concatenate(parts).astype(np.int64)
