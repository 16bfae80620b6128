"""Forecast combination: quantile/ES averaging of two methods' VaR and ES.

``VaR_c = w VaR_a + (1 − w) VaR_b`` and ``ES_c = w ES_a + (1 − w) ES_b`` on the days and
series both methods forecast. A convex combination keeps ``ES_c ≤ VaR_c < 0`` and uses
no information the two inputs did not (each forecast of day t is made with data ≤ t − 1),
so the combination is as leakage-free as its members; it is the "hybrid" route of
combining a learned generator with a filtered-historical or score-driven model.

Weight rule (fixed before anything is scored)
---------------------------------------------
For each α, ``w`` is the grid value with the lowest mean FZ0 loss
(:func:`diffrisk.risk.scoring.fz0_loss`) of the combined forecasts on the VALIDATION
period, where validation forecasts of both members exist; ties go to the weight
closest to 1/2. Without validation forecasts of both members the equal weight
``w = 1/2`` (the configured fallback) is used: equal weights are the standard,
hard-to-beat default of the forecast-combination literature (Timmermann 2006, the
"forecast combination puzzle"; Taylor 2020 for VaR/ES combination).

References
----------
.. [1] Timmermann, A. (2006). Forecast combinations. *Handbook of Economic Forecasting*
   1, 135–196.
.. [2] Taylor, J. W. (2020). Forecast combinations for value at risk and expected
   shortfall. *International Journal of Forecasting* 36(2), 428–441.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from diffrisk.core.params import parse_list
from diffrisk.forecasts.contract import ALPHAS, RISK_COLUMNS, cvar_column, var_column
from diffrisk.risk.scoring import fz0_loss

__all__ = [
    "combination_name",
    "combine_forecasts",
    "parse_pairs",
    "select_weight",
    "weight_scores",
]


def combination_name(first: str, second: str) -> str:
    """The method name of a combination, e.g. ``ddpm_mix_fhs`` (a valid file stem)."""
    return f"{first}_mix_{second}"


def parse_pairs(text: str | Sequence[str]) -> list[tuple[str, str]]:
    """Parse ``"ddpm:fhs,ddpm:gas"`` into ``[("ddpm", "fhs"), ("ddpm", "gas")]``.

    Raises
    ------
    ValueError
        Naming ``calibrate.combine`` if an item is not two different method names
        joined by ``:``.
    """
    pairs = []
    for item in parse_list(text):
        parts = [p.strip() for p in item.split(":")]
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise ValueError(
                f"calibrate.combine: {item!r} is not 'first:second' with two different methods"
            )
        pairs.append((parts[0], parts[1]))
    return pairs


def _check_weight(w: float, name: str) -> float:
    w = float(w)
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {w!r}")
    return w


def combine_forecasts(
    first: pd.DataFrame,
    second: pd.DataFrame,
    weights: float | dict[float, float],
    alphas: Sequence[float] = ALPHAS,
    names: tuple[str, str] = ("first", "second"),
) -> pd.DataFrame:
    """Average two forecast tables' VaR and ES with weight ``w`` on ``first``.

    Parameters
    ----------
    first, second : DataFrame
        Forecast tables; only the (date, series) rows both have are combined.
    weights : float or mapping alpha → float
        Weight of ``first`` (in [0, 1]), one for every level or one per level.
    alphas : sequence of float, default :data:`ALPHAS`
    names : (str, str)
        The members' method names, for error messages.

    Returns
    -------
    DataFrame
        ``date, series``, the risk columns of ``alphas`` and ``realized``, sorted by
        series and date. With ``w = 1`` (``0``) the columns equal ``first`` (``second``).

    Raises
    ------
    ValueError
        If the tables share no row or disagree on a realised return.
    """
    per_alpha = weights if isinstance(weights, dict) else dict.fromkeys(alphas, weights)
    keys = ["date", "series"]
    merged = first.merge(second, on=keys, suffixes=("_a", "_b"), how="inner")
    if merged.empty:
        raise ValueError(f"{names[0]} and {names[1]} share no (date, series) forecast row")
    ra, rb = merged["realized_a"].to_numpy(float), merged["realized_b"].to_numpy(float)
    bad = ~np.isclose(ra, rb, rtol=0, atol=1e-12)
    if bad.any():
        row = merged.loc[bad].iloc[0]
        raise ValueError(
            f"{names[0]} and {names[1]} disagree on the realised return of series "
            f"{row['series']!r} on {pd.Timestamp(row['date']).date()}"
        )
    out = merged[keys].copy()
    for alpha in alphas:
        w = _check_weight(per_alpha[alpha], f"combination weight at alpha={alpha}")
        for col in (var_column(alpha), cvar_column(alpha)):
            a, b = merged[f"{col}_a"].to_numpy(float), merged[f"{col}_b"].to_numpy(float)
            out[col] = a if w == 1.0 else b if w == 0.0 else w * a + (1.0 - w) * b
    out["realized"] = ra
    cols = keys + [c for c in RISK_COLUMNS if c in out.columns] + ["realized"]
    return out[cols].sort_values(["series", "date"]).reset_index(drop=True)


def weight_scores(
    first: pd.DataFrame, second: pd.DataFrame, alpha: float, grid: Sequence[float]
) -> pd.DataFrame:
    """Mean FZ0 loss of the combination at level ``alpha`` for each weight of ``grid``.

    Returns
    -------
    DataFrame
        ``weight, fz0, exception_rate, n`` per grid value.
    """
    rows = []
    for w in grid:
        comb = combine_forecasts(first, second, float(w), alphas=(alpha,))
        r = comb["realized"].to_numpy(float)
        v, e = comb[var_column(alpha)].to_numpy(float), comb[cvar_column(alpha)].to_numpy(float)
        loss = fz0_loss(r, v, e, alpha)
        rows.append(
            {
                "weight": _check_weight(w, "calibrate.weight_grid value"),
                "fz0": float(loss.mean()),
                "exception_rate": float((r < v).mean()),
                "n": int(len(r)),
            }
        )
    return pd.DataFrame(rows)


def select_weight(
    first: pd.DataFrame | None,
    second: pd.DataFrame | None,
    alpha: float,
    grid: Sequence[float],
    fallback: float = 0.5,
) -> tuple[float, pd.DataFrame]:
    """The module's weight rule: lowest mean validation FZ0, ties to the weight nearest 1/2.

    Parameters
    ----------
    first, second : DataFrame or None
        VALIDATION forecast tables of the two members; ``None`` → ``fallback``.
    alpha : float
    grid : sequence of float
        Candidate weights in [0, 1].
    fallback : float, default 0.5
        The weight fixed in advance, used without validation forecasts of both.

    Returns
    -------
    weight : float
    scores : DataFrame
        :func:`weight_scores` with a ``chosen`` column (empty without validation data).
    """
    fallback = _check_weight(fallback, "calibrate.fallback_weight")
    if first is None or second is None:
        return fallback, pd.DataFrame(columns=["weight", "fz0", "exception_rate", "n", "chosen"])
    if len(grid) == 0:
        raise ValueError("calibrate.weight_grid is empty")
    scores = weight_scores(first, second, alpha, sorted(float(w) for w in grid))
    best = scores.loc[scores["fz0"] <= float(scores["fz0"].min()) + 1e-12, "weight"]
    weight = float(best.iloc[int(np.argmin(np.abs(best.to_numpy() - 0.5)))])
    return weight, scores.assign(chosen=scores["weight"] == weight)
