"""Drift table of the stress model's walk-forward versions: headline distances by period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.evaluation.paths.bootstrap import HEADLINE_METRICS, headline_bootstrap
from diffrisk.stress.walk_forward import PeriodSet

DRIFT_COLUMNS: tuple[str, ...] = (
    "period",
    "version",
    "model_version",
    "fit_end",
    "served",
    "n_paths",
    "n_reference_days",
    *HEADLINE_METRICS,
)


def drift_table(sets: Sequence[PeriodSet], *, q: float = 0.05, max_lag: int = 5) -> pd.DataFrame:
    """Headline distances of every (period, version) set against the period's realised days.

    Parameters
    ----------
    sets : sequence of PeriodSet
        From :func:`diffrisk.stress.walk_forward.version_period_sets`.
    q : float, default 0.05
        Tail level of the tail-dependence distance.
    max_lag : int, default 5
        Lags of the |r| ACF distance (at most ``H - 1``).

    Returns
    -------
    DataFrame
        One row per set, columns :data:`DRIFT_COLUMNS`: ``corr_frobenius``,
        ``tail_dep_q05`` and ``acf_abs_distance`` exactly as
        :func:`~diffrisk.evaluation.paths.suite.summary_scores` (the ``distance`` of
        :func:`~diffrisk.evaluation.paths.suite.headline_bootstrap`), lower is better.
        A reference period shorter than ``H + 1`` days is left out.
    """
    rows: list[dict[str, Any]] = []
    periods = list(dict.fromkeys(s.period for s in sets))
    for period in periods:
        group = [s for s in sets if s.period == period]
        reference = group[0].reference
        horizon = group[0].paths.shape[1]
        if len(reference) <= horizon:
            continue
        scores = headline_bootstrap(
            {s.version.name: s.paths for s in group},
            reference,
            q=q,
            max_lag=min(int(max_lag), horizon - 1),
            n_boot=1,
        )
        wide = scores.pivot(index="generator", columns="metric", values="distance")
        wide = wide[list(dict.fromkeys(scores["metric"]))]  # HEADLINE_METRICS order
        for s in group:
            rows.append(
                {
                    "period": period,
                    "version": s.version.version,
                    "model_version": s.version.name,
                    "fit_end": s.version.fit_end,
                    "served": bool(s.served),
                    "n_paths": int(s.paths.shape[0]),
                    "n_reference_days": int(len(reference)),
                    **{m: float(wide.loc[s.version.name, m]) for m in wide.columns},
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(DRIFT_COLUMNS))
    metrics = [c for c in frame.columns if c not in DRIFT_COLUMNS[:7]]
    return frame[list(DRIFT_COLUMNS[:7]) + metrics]


def drift_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Served version versus the frozen model, period by period, and their means.

    Parameters
    ----------
    table : DataFrame
        :func:`drift_table`.

    Returns
    -------
    dict
        ``per_period``: for each period the served version's and version 0's distances;
        ``mean_served``, ``mean_frozen``: means over periods; ``served_better``: how many
        (period, metric) pairs the served version wins, out of ``comparisons``.
    """
    metrics = [c for c in table.columns if c not in DRIFT_COLUMNS[:7]]
    per_period: dict[str, dict[str, Any]] = {}
    wins = total = 0
    served_rows, frozen_rows = [], []
    for period, group in table.groupby("period", sort=False):
        served = group[group["served"]]
        frozen = group[group["version"] == 0]
        if served.empty or frozen.empty:
            continue
        s, f = served.iloc[0], frozen.iloc[0]
        per_period[str(period)] = {
            "served": s["model_version"],
            **{f"{m}_served": float(s[m]) for m in metrics},
            **{f"{m}_frozen": float(f[m]) for m in metrics},
        }
        served_rows.append(s[metrics].astype(float))
        frozen_rows.append(f[metrics].astype(float))
        wins += int(sum(float(s[m]) < float(f[m]) for m in metrics))
        total += len(metrics)
    mean = lambda rows: (  # noqa: E731
        {m: float(np.mean([r[m] for r in rows])) for m in metrics} if rows else {}
    )
    return {
        "per_period": per_period,
        "mean_served": mean(served_rows),
        "mean_frozen": mean(frozen_rows),
        "served_better": wins,
        "comparisons": total,
    }
