"""Thresholds, flags and rates of the adversarial-request audit.

The defences' scores are in :mod:`diffrisk.evaluation.stress_audit`; here the rule that
turns untouched validation scores into thresholds, the flags, the out-of-sample false-flag
estimate and the tables of detection and relief.

Threshold rule (written before any test item is scored)
-------------------------------------------------------
Untouched requests conditioned on *validation* dates give the null scores; a defence
that depends on the date's history only (plausibility) can take its null sample from
every validation date instead
(:func:`~diffrisk.evaluation.stress_audit.plausibility_scores_at`). With m defences and
target false-flag rate α, each defence's threshold is the ``(n − ⌊α n / m⌋)``-th smallest
of its n validation null scores, so at most ``⌊α n / m⌋`` of them exceed it
(:func:`fit_thresholds`). An item is flagged by a defence when its score is strictly
above the threshold and by the combined audit when any defence flags it. Each defence
flags at most α / m of its own null sample; when every sample is the same set of items,
the union bound caps the combined in-sample rate at α. The thresholds are then frozen and
applied to test items. An in-sample bound says nothing about new requests:
:func:`cross_validated_false_flags` estimates the rule's false-flag rate out of sample
(thresholds fitted on some validation dates, applied to the others).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from diffrisk.evaluation.stress_audit import DEFENCES


def fit_thresholds(
    null_scores: Mapping[str, ArrayLike],
    alpha: float = 0.05,
    defences: Sequence[str] = DEFENCES,
) -> dict[str, float]:
    """Per-defence thresholds from untouched validation scores (the module's rule).

    Parameters
    ----------
    null_scores : DataFrame or mapping defence -> array_like
        Each defence's null sample: a DataFrame with one row per untouched validation
        item, or one sample per defence (they may differ in size: the plausibility
        defence can use every validation date,
        :func:`~diffrisk.evaluation.stress_audit.plausibility_scores_at`).
    alpha : float
        Target combined false-flag rate, in (0, 1).
    defences : sequence of str
        The m defences of the combination.

    Returns
    -------
    dict defence -> threshold
        With ``n`` the size of the defence's sample, its ``(n − ⌊α n / m⌋)``-th smallest
        score: at most ``⌊α n / m⌋`` of its n null scores lie strictly above it.
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"false-flag target alpha must be in (0, 1), got {alpha!r}")
    missing = [d for d in defences if d not in null_scores]
    if missing:
        raise ValueError(f"null_scores lacks the defence columns {missing}")
    out = {}
    for d in defences:
        values = np.sort(np.asarray(null_scores[d], dtype=float).ravel())
        n = len(values)
        if n == 0:
            raise ValueError(f"null_scores[{d!r}] is empty: need untouched validation scores")
        allowed = math.floor(float(alpha) * n / len(defences) + 1e-9)
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
    dense: Mapping[str, pd.Series] | None = None,
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
    dense : mapping defence -> Series, optional
        A defence's own null sample (e.g. the plausibility score of every validation
        date), indexed by the item group each value belongs to (e.g. the nearest item
        date): that defence's thresholds are fitted on the values of the other folds'
        groups, and the out-of-fold rate of the sample itself is reported too.

    Returns
    -------
    dict
        ``n`` (items), ``n_folds``, the pooled out-of-fold flag rate of every defence and
        of ``combined`` on the items, and for each ``dense`` defence d ``d_dense`` (the
        out-of-fold flag rate of its own sample) and ``n_d_dense``.
    """
    values = np.asarray(groups)
    if len(values) != len(null_scores):
        raise ValueError(f"groups has {len(values)} entries, null_scores {len(null_scores)} rows")
    keys = pd.Series(values, index=null_scores.index)
    unique = sorted(keys.unique())
    if int(n_folds) != n_folds or not 2 <= n_folds <= len(unique):
        raise ValueError(f"n_folds must be an integer in [2, {len(unique)}], got {n_folds!r}")
    fold_of = {g: i % int(n_folds) for i, g in enumerate(unique)}
    dense = dict(dense or {})
    for d, sample in dense.items():
        stray = sorted(set(sample.index) - set(fold_of), key=str)
        if stray:
            raise ValueError(f"dense[{d!r}] has values of groups not among the items': {stray[:3]}")
    fold = keys.map(fold_of)
    parts, dense_flags = [], {d: [] for d in dense}
    for k in range(int(n_folds)):
        held = (fold == k).to_numpy()
        sample: dict[str, Any] = {d: null_scores.loc[~held, d] for d in defences}
        dense_held = {}
        for d, s in dense.items():
            in_fold = s.index.map(fold_of).to_numpy() == k
            sample[d], dense_held[d] = s[~in_fold], s[in_fold]
        thresholds = fit_thresholds(sample, alpha, defences)
        parts.append(apply_thresholds(null_scores[held], thresholds))
        for d, s in dense_held.items():
            dense_flags[d].append(s.to_numpy(dtype=float) > thresholds[d])
    flags = pd.concat(parts)
    out: dict[str, float] = {"n": len(flags), "n_folds": int(n_folds)}
    out |= {c: float(flags[c].mean()) for c in flags.columns}
    for d, f in dense_flags.items():
        pooled = np.concatenate(f)
        out |= {f"{d}_dense": float(pooled.mean()), f"n_{d}_dense": len(pooled)}
    return out


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
