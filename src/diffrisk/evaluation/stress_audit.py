"""Defences against capital-relief requests: the scores of every audited item.

Three scores per audited item (a request and the portfolio whose ES it is meant to ease),
each larger = more suspicious (:data:`DEFENCES`):

* ``signature`` — achieved versus registered signature: ``max_c |mean_c − s_c| / (τ |s_c|)``
  over the archetype's components, ``mean_c`` the mean signature of the primary
  generator's paths (each path measured against the supplied history's volatility
  forecast), τ the steering tolerance (:func:`signature_gap`). 1 = at the tolerance.
* ``disagreement`` — ``(ES_primary − median_j ES_j) / |median_j ES_j|`` over the
  independent generators j on the same request: how much milder the primary's horizon ES
  is than the others' (:func:`disagreement`).
* ``plausibility`` — a data-free anomaly score of the supplied history: the Mahalanobis
  distance of its :data:`PLAUSIBILITY_FEATURES` (EWMA-standardised returns of the last k
  days: their scale early and late in the window, mean, shape, and the change of their
  average correlation) from the same features of the training windows
  (:func:`plausibility_reference`, :func:`plausibility_score`).

Separately: :func:`recorded_data_gap`, the trivial check of the supplied history against
the recorded market data when the conditioning date is a real date.

The thresholds, flags and rates of the audit are in
:mod:`diffrisk.evaluation.audit_thresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.risk.correlation import mean_pairwise_correlation
from diffrisk.stress.adversarial import horizon_es
from diffrisk.stress.signatures import stress_signature
from diffrisk.stress.windows import conditioning_inputs
from diffrisk.volatility.ewma import ewma_volatility

DEFENCES: tuple[str, ...] = ("signature", "disagreement", "plausibility")

PLAUSIBILITY_FEATURES: tuple[str, ...] = (
    "log_rms_z_early",
    "log_rms_z_late",
    "mean_z",
    "shape",
    "corr_change",
)

_ABS_FLOOR = 0.01  # |z| floor in the shape feature (exact zeros would give log 0)

EARLY_DAYS = 10
"""Days at the start of the supplied window whose scale is a feature of its own: a change
of the whole window's level shows there before the EWMA volatility catches up."""


# --------------------------------------------------------------------------- plausibility
def standardised_returns(past: ArrayLike, *, lam: float, warmup: int) -> NDArray[np.float64]:
    """``z_{t,i} = r_{t,i} / σ_{t,i}`` with the causal EWMA forecast of the series itself.

    Rows inside the EWMA warm-up are 0. Causal: ``z_t`` uses rows up to t only, so the
    values for the first s rows do not depend on later rows.
    """
    arr = np.asarray(past, dtype=float)
    vol = ewma_volatility(arr, lam=lam, warmup=warmup)[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = arr / vol
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def _features(z: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    before, window = z[-2 * k : -k], z[-k:]
    split = min(EARLY_DAYS, k - 1)
    early, late = window[:split], window[split:]
    rms = lambda x: 0.5 * math.log(float(np.mean(x**2)) + 1e-12)  # noqa: E731
    corr = lambda x: float(np.nan_to_num(mean_pairwise_correlation(x), nan=0.0))  # noqa: E731
    return np.array(
        [
            rms(early),
            rms(late),
            float(window.mean()),
            float(np.mean(np.log(np.abs(window) + _ABS_FLOOR))) - rms(window),
            corr(window) - corr(before),
        ]
    )


def _panel(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """``values`` as a float (days, assets) array; ``ValueError`` naming ``name`` otherwise."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (days, assets), got ndim={arr.ndim}")
    return arr


def _check_rows(n_rows: int, k: int, warmup: int) -> None:
    if k < 2:
        raise ValueError(f"history must be >= 2, got {k}")
    if n_rows < warmup + 2 * k:
        raise ValueError(
            f"past needs at least warmup + 2 * history = {warmup + 2 * k} rows, got {n_rows}"
        )


def plausibility_features(
    past: ArrayLike, history: int, *, lam: float, warmup: int
) -> NDArray[np.float64]:
    """Features of the last ``history`` rows of a supplied history (:data:`PLAUSIBILITY_FEATURES`).

    With ``z`` the :func:`standardised_returns` of the supplied series, over the last k
    rows: log root-mean-square of ``z`` over the first :data:`EARLY_DAYS` rows and over
    the rest; the mean of ``z``; ``mean log(|z| + 0.01) − log rms z`` (−0.59 for normal
    returns, far lower for returns pushed to zero); and the average pairwise correlation
    of ``z`` in the window minus that of the k rows before it.

    Parameters
    ----------
    past : array_like (s, n_assets)
        Returns before the conditioning date, ``s >= warmup + 2 k``.
    history : int
        k.
    lam, warmup : float, int
        EWMA settings of the model.
    """
    arr = _panel(past, "past")
    _check_rows(arr.shape[0], int(history), int(warmup))
    return _features(standardised_returns(arr, lam=lam, warmup=warmup), int(history))


@dataclass(frozen=True)
class PlausibilityReference:
    """Mean and precision matrix of :func:`plausibility_features` over training windows."""

    mean: NDArray[np.float64]
    precision: NDArray[np.float64]
    n_windows: int


def plausibility_reference(
    train: ArrayLike, history: int, *, lam: float, warmup: int, step: int = 5
) -> PlausibilityReference:
    """Fit the plausibility reference on training returns only.

    The features of every ``step``-th conditioning date whose whole feature window lies in
    ``train`` (rows after the training period must not be passed); a small ridge keeps
    the covariance invertible.
    """
    arr = np.asarray(train, dtype=float)
    k = int(history)
    _check_rows(arr.shape[0], k, int(warmup))
    z = standardised_returns(arr, lam=lam, warmup=warmup)  # causal: z[:e] is that of arr[:e]
    ends = range(int(warmup) + 2 * k, arr.shape[0] + 1, int(step))
    feats = np.array([_features(z[:e], k) for e in ends])
    if len(feats) < 2 * len(PLAUSIBILITY_FEATURES):
        raise ValueError(
            f"train has too few rows for the plausibility reference: {len(feats)} windows"
        )
    cov = np.cov(feats, rowvar=False)
    cov += 1e-6 * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    return PlausibilityReference(feats.mean(axis=0), np.linalg.inv(cov), len(feats))


def plausibility_scores_at(
    returns: ArrayLike,
    ends: ArrayLike,
    reference: PlausibilityReference,
    history: int,
    *,
    lam: float,
    warmup: int,
) -> NDArray[np.float64]:
    """:func:`plausibility_score` of the histories ``returns[:e]`` for every ``e`` in ``ends``.

    The null sample of the plausibility defence: the score of the recorded history of many
    conditioning dates. One causal pass of :func:`standardised_returns` serves them all,
    so the score for ``e`` equals ``plausibility_score(returns[:e], ...)`` and uses rows
    before ``e`` only.

    Parameters
    ----------
    returns : array_like (T, n_assets)
        Recorded returns.
    ends : array_like of int
        Conditioning positions: the history of each is the rows before it,
        ``warmup + 2 history <= e <= T``.
    reference : PlausibilityReference
    history : int
        k.
    lam, warmup : float, int
        EWMA settings of the model.
    """
    arr = _panel(returns, "returns")
    k, pos = int(history), np.asarray(ends, dtype=int).ravel()
    if pos.size == 0:
        return np.empty(0)
    low = int(warmup) + 2 * k
    bad = pos[(pos < low) | (pos > arr.shape[0])]
    if bad.size:
        raise ValueError(
            f"ends must lie in [warmup + 2 * history, rows] = [{low}, {arr.shape[0]}], "
            f"got {int(bad[0])}"
        )
    _check_rows(arr.shape[0], k, int(warmup))
    z = standardised_returns(arr[: int(pos.max())], lam=lam, warmup=warmup)
    return np.array([_distance(_features(z[:e], k), reference) for e in pos])


def plausibility_score(
    past: ArrayLike,
    reference: PlausibilityReference,
    history: int,
    *,
    lam: float,
    warmup: int,
) -> float:
    """Mahalanobis distance of the supplied history's features from the training windows'."""
    return _distance(plausibility_features(past, history, lam=lam, warmup=warmup), reference)


def _distance(features: NDArray[np.float64], reference: PlausibilityReference) -> float:
    """Mahalanobis distance of ``features`` from the reference (the one formula of both scores)."""
    d = features - reference.mean
    return float(np.sqrt(max(d @ reference.precision @ d, 0.0)))


# --------------------------------------------------------------------------- other scores
def signature_gap(
    paths: ArrayLike, portfolio_vol: float, nominal: Mapping[str, float], tolerance: float
) -> float:
    """``max_c |mean achieved_c − s_c| / (τ |s_c|)``; 0 for a request without components."""
    if not nominal:
        return 0.0
    achieved = stress_signature(paths, float(portfolio_vol)).mean()
    return max(
        abs(float(achieved[c]) - float(s)) / (float(tolerance) * max(abs(float(s)), 1e-12))
        for c, s in nominal.items()
    )


def disagreement(es_primary: float, es_others: Sequence[float]) -> float:
    """``(ES_primary − median ES_others) / |median ES_others|`` (> 0: primary milder)."""
    if len(es_others) == 0:
        raise ValueError("es_others is empty: disagreement needs at least one other generator")
    med = float(np.median(np.asarray(es_others, dtype=float)))
    return (float(es_primary) - med) / max(abs(med), 1e-12)


def recorded_data_gap(supplied: pd.DataFrame, recorded: pd.DataFrame, sigma: ArrayLike) -> float:
    """Largest ``|supplied − recorded| / σ_i`` over the supplied rows (inf if a row is unknown).

    The trivial defence when the conditioning date is a real date: any change of the
    supplied history shows; it cannot see a changed signature.
    """
    missing = supplied.index.difference(recorded.index)
    if len(missing) or list(supplied.columns) != list(recorded.columns):
        return math.inf
    diff = np.abs(supplied.to_numpy(float) - recorded.loc[supplied.index].to_numpy(float))
    return float(np.max(diff / np.asarray(sigma, dtype=float), initial=0.0))


def score_request(
    primary: ArrayLike,
    others: Sequence[ArrayLike],
    supplied: pd.DataFrame,
    nominal: Mapping[str, float],
    weights: Mapping[str, ArrayLike],
    reference: PlausibilityReference,
    *,
    alpha: float,
    tolerance: float,
    history: int,
    lam: float,
    warmup: int,
    recorded: pd.DataFrame | None = None,
    sigma: ArrayLike | None = None,
) -> pd.DataFrame:
    """Every defence's score of one request, one row per portfolio.

    Parameters
    ----------
    primary : array_like (n, H, A)
        The audited set (the primary generator's paths for the request).
    others : sequence of array_like
        The independent generators' paths for the same request.
    supplied : DataFrame
        The supplied returns (rows before the conditioning date).
    nominal : mapping
        The archetype's registered signature.
    weights : mapping name -> weights
    reference : PlausibilityReference
    alpha, tolerance : float
        ES tail probability; steering tolerance τ.
    history, lam, warmup
        The model's history length and EWMA settings.
    recorded, sigma : DataFrame and array_like, optional
        The recorded returns and the budget scale σ: adds the ``recorded`` column
        (:func:`recorded_data_gap`).

    Returns
    -------
    DataFrame
        ``portfolio, es, es_others_median`` and one column per :data:`DEFENCES` (and
        ``recorded``).
    """
    past = supplied.to_numpy(dtype=float)
    vol = conditioning_inputs(past, history, lam=lam, warmup=warmup).portfolio_vol
    sig = signature_gap(primary, vol, nominal, tolerance)
    plaus = plausibility_score(past, reference, history, lam=lam, warmup=warmup)
    es = horizon_es(primary, weights, alpha)
    es_others = [horizon_es(o, weights, alpha) for o in others]
    gap = (
        recorded_data_gap(supplied, recorded, sigma)
        if recorded is not None and sigma is not None
        else None
    )
    rows = []
    for name in weights:
        row = {
            "portfolio": name,
            "es": es[name],
            "es_others_median": float(np.median([e[name] for e in es_others])),
            "signature": sig,
            "disagreement": disagreement(es[name], [e[name] for e in es_others]),
            "plausibility": plaus,
        }
        if gap is not None:
            row["recorded"] = gap
        rows.append(row)
    return pd.DataFrame(rows)
