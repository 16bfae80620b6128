"""Defences against capital-relief requests: scores, validation thresholds, detection.

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

Threshold rule (written before any test item is scored)
-------------------------------------------------------
Untouched requests conditioned on *validation* dates give the null scores. With m
defences and target false-flag rate α, each defence's threshold is the
``(n − ⌊α n / m⌋)``-th smallest of its n validation null scores, so at most
``⌊α n / m⌋`` validation items exceed it (:func:`fit_thresholds`). An item is flagged by a
defence when its score is strictly above the threshold and by the combined audit when any
defence flags it; by the union bound the combined false-flag rate on validation is at most
α. The thresholds are then frozen and applied to test items. That in-sample bound says
nothing about new requests: :func:`cross_validated_false_flags` estimates the rule's
false-flag rate out of sample (thresholds fitted on some validation dates, applied to the
others).
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
    arr = np.asarray(past, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"past must be 2-D (days, assets), got ndim={arr.ndim}")
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


def plausibility_score(
    past: ArrayLike,
    reference: PlausibilityReference,
    history: int,
    *,
    lam: float,
    warmup: int,
) -> float:
    """Mahalanobis distance of the supplied history's features from the training windows'."""
    d = plausibility_features(past, history, lam=lam, warmup=warmup) - reference.mean
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


# --------------------------------------------------------------------------- thresholds
def fit_thresholds(
    null_scores: pd.DataFrame, alpha: float = 0.05, defences: Sequence[str] = DEFENCES
) -> dict[str, float]:
    """Per-defence thresholds from the untouched validation items (the module's rule).

    Parameters
    ----------
    null_scores : DataFrame
        One row per untouched validation item, one column per defence.
    alpha : float
        Target combined false-flag rate, in (0, 1).
    defences : sequence of str
        The m defences of the combination.

    Returns
    -------
    dict defence -> threshold
        The ``(n − ⌊α n / m⌋)``-th smallest score: at most ``⌊α n / m⌋`` of the n
        validation items lie strictly above it.
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"false-flag target alpha must be in (0, 1), got {alpha!r}")
    missing = [d for d in defences if d not in null_scores.columns]
    if missing:
        raise ValueError(f"null_scores lacks the defence columns {missing}")
    n = len(null_scores)
    if n == 0:
        raise ValueError("null_scores is empty: need untouched validation items")
    allowed = math.floor(float(alpha) * n / len(defences) + 1e-9)
    out = {}
    for d in defences:
        values = np.sort(null_scores[d].to_numpy(dtype=float))
        out[d] = float(values[n - 1 - allowed])
    return out


def apply_thresholds(scores: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Boolean flags per defence (score strictly above its threshold) and ``combined`` (any)."""
    flags = pd.DataFrame(
        {d: scores[d].to_numpy(dtype=float) > float(t) for d, t in thresholds.items()},
        index=scores.index,
    )
    flags["combined"] = flags.any(axis=1)
    return flags


def cross_validated_false_flags(
    null_scores: pd.DataFrame,
    groups: ArrayLike,
    alpha: float = 0.05,
    defences: Sequence[str] = DEFENCES,
    n_folds: int = 2,
) -> dict[str, float]:
    """Out-of-sample false-flag rate of the threshold rule, by K-fold over groups.

    The in-sample validation false-flag rate is at most α by construction
    (:func:`fit_thresholds`), so it says nothing about new requests. Here the untouched
    validation items are split into ``n_folds`` folds by ``groups`` (the conditioning
    dates, assigned to folds in turn in date order, so that the items of one request —
    its portfolios — never sit on both sides); each fold's items are flagged with
    thresholds fitted on the other folds, and the flags are pooled.

    Parameters
    ----------
    null_scores : DataFrame
        One row per untouched validation item, one column per defence.
    groups : array_like, length n
        Group of each item (e.g. its conditioning date).
    alpha : float
        Target combined false-flag rate of :func:`fit_thresholds`.
    defences : sequence of str
        The defences of the combination.
    n_folds : int, default 2
        Folds (2 <= n_folds <= number of groups).

    Returns
    -------
    dict
        ``n`` (items), ``n_folds``, and the pooled out-of-fold flag rate of every
        defence and of ``combined``.
    """
    values = np.asarray(groups)
    if len(values) != len(null_scores):
        raise ValueError(f"groups has {len(values)} entries, null_scores {len(null_scores)} rows")
    keys = pd.Series(values, index=null_scores.index)
    unique = sorted(keys.unique())
    if int(n_folds) != n_folds or not 2 <= n_folds <= len(unique):
        raise ValueError(f"n_folds must be an integer in [2, {len(unique)}], got {n_folds!r}")
    fold = keys.map({g: i % int(n_folds) for i, g in enumerate(unique)})
    parts = []
    for k in range(int(n_folds)):
        held = (fold == k).to_numpy()
        thresholds = fit_thresholds(null_scores[~held], alpha, defences)
        parts.append(apply_thresholds(null_scores[held], thresholds))
    flags = pd.concat(parts)
    return {"n": len(flags), "n_folds": int(n_folds)} | {
        c: float(flags[c].mean()) for c in flags.columns
    }


def detection_table(
    items: pd.DataFrame, thresholds: Mapping[str, float], min_relief: float = 0.10
) -> pd.DataFrame:
    """Flag rates per defence and item group.

    Parameters
    ----------
    items : DataFrame
        One row per scored item with columns ``split`` (validation/test), ``attacked``
        (bool), ``epsilon``, ``relief`` and one column per defence (and optionally
        ``recorded``, the :func:`recorded_data_gap`).
    thresholds : mapping
        :func:`fit_thresholds`.
    min_relief : float
        Attacked items that moved ES by more than this (relative) form the headline group.

    Returns
    -------
    DataFrame
        ``group, epsilon, n, <defence>..., combined[, recorded_data]``: the share of
        items flagged (detection rate for attacked groups, false-flag rate for untouched
        ones); ``epsilon`` is NaN for groups over all budgets.
    """
    flags = apply_thresholds(items, thresholds)
    if "recorded" in items:
        flags["recorded_data"] = items["recorded"].to_numpy(dtype=float) > 1e-9
    attacked = items["attacked"].astype(bool)
    test = items["split"] == "test"
    groups: list[tuple[str, float, pd.Series]] = [
        (
            "untouched validation (false flags)",
            math.nan,
            (items["split"] == "validation") & ~attacked,
        ),
        ("untouched test (false flags)", math.nan, test & ~attacked),
        ("attacked test", math.nan, test & attacked),
        (
            f"attacked test, relief > {min_relief:.0%}",
            math.nan,
            test & attacked & (items["relief"] > min_relief),
        ),
    ]
    for eps in sorted(items.loc[test & attacked, "epsilon"].unique()):
        at = test & attacked & (items["epsilon"] == eps)
        groups += [
            ("attacked test", float(eps), at),
            (
                f"attacked test, relief > {min_relief:.0%}",
                float(eps),
                at & (items["relief"] > min_relief),
            ),
        ]
    rows = []
    for name, eps, mask in groups:
        row = {"group": name, "epsilon": eps, "n": int(mask.sum())}
        row |= {c: float(flags.loc[mask, c].mean()) if mask.any() else math.nan for c in flags}
        rows.append(row)
    return pd.DataFrame(rows)


def relief_table(attacks: pd.DataFrame) -> pd.DataFrame:
    """Relief against ε per archetype and portfolio: mean, max and share above 10 %.

    ``attacks`` has one row per attacked test item (``archetype, portfolio, epsilon,
    relief, es_clean, es_attacked``).
    """
    grouped = attacks.groupby(["archetype", "portfolio", "epsilon"], sort=True)
    return grouped.agg(
        n=("relief", "size"),
        es_clean=("es_clean", "mean"),
        es_attacked=("es_attacked", "mean"),
        relief_mean=("relief", "mean"),
        relief_max=("relief", "max"),
        share_above_10pct=("relief", lambda r: float(np.mean(np.asarray(r) > 0.10))),
    ).reset_index()
