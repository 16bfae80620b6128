"""Segment coverage: generated versus held-out tail risk per constituent and sector group.

A scenario set can match the portfolio's tail and still miss one sector's. For every
constituent and every sector group (an equal-weighted, daily rebalanced portfolio of the
sector's constituents, :func:`diffrisk.risk.portfolio.portfolio_log_returns`) the table
compares the generated VaR and ES at level α of the H-day log return (the sum of the
path's daily log returns) with those of the realised overlapping H-day windows of the
reference period, and the same for one-day returns (every generated day pooled against
the realised days). The relative ES error ``|ES_gen − ES_ref| / |ES_ref|`` of each
segment is divided by the median segment's: the goal is that no segment's error exceeds
twice the median's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.evaluation.paths.common import as_matrix, as_paths, historical_paths
from diffrisk.risk.measures import check_alpha, cvar, var
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stress.config import parse_segments

#: Default sector groups of the 20 skfolio constituents (``stress.segments.sectors``).
SKFOLIO_SECTORS = (
    "tech=AAPL,AMD,MSFT; financials=BAC,JPM; energy=CVX,RRC,XOM; "
    "health=JNJ,LLY,MRK,PFE,UNH; staples=KO,PEP,PG,WMT; discretionary=BBY,HD; industrials=GE"
)

#: Largest ratio of a segment's ES error to the median segment's that meets the goal.
GOAL_RATIO = 2.0

SEGMENT_COLUMNS: tuple[str, ...] = (
    "segment",
    "kind",
    "members",
    "horizon",
    "alpha",
    "var_generated",
    "var_reference",
    "es_generated",
    "es_reference",
    "var_rel_error",
    "es_rel_error",
    "ratio_to_median",
    "worst",
)


def segment_weights(
    assets: Sequence[str], sectors: str
) -> list[tuple[str, str, list[str], NDArray[np.float64]]]:
    """The segments: every constituent, then every sector group of two or more.

    Parameters
    ----------
    assets : sequence of str
        Constituents in column order.
    sectors : str
        Sector map ``"name=TICKER,TICKER; ..."`` (:func:`~diffrisk.stress.config.parse_segments`:
        a ticker that is not a constituent raises naming it; constituents left out form
        the sector ``other``; ``""`` = constituents only).

    Returns
    -------
    list of (name, kind, members, weights)
        ``kind`` is ``"constituent"`` or ``"sector"``; weights (n_assets,) sum to 1 (equal
        weights on the members). A one-member sector is its constituent and is not repeated.
    """
    names = [str(a) for a in assets]
    out = [(a, "constituent", [a], np.eye(len(names))[i]) for i, a in enumerate(names)]
    if not str(sectors).strip():
        return out
    for name, members in parse_segments(sectors, names).items():
        if len(members) < 2:
            continue
        if name in names:
            raise ValueError(f"sector name {name!r} is also a ticker: rename the sector")
        w = np.array([1.0 / len(members) if a in members else 0.0 for a in names])
        out.append((name, "sector", list(members), w))
    return out


def _relative_error(generated: float, reference: float) -> float:
    return abs(generated - reference) / max(abs(reference), 1e-12)


def segment_tail_table(
    scenarios: ArrayLike,
    reference: ArrayLike | pd.DataFrame,
    assets: Sequence[str],
    sectors: str,
    *,
    alpha: float = 0.05,
    daily: bool = True,
) -> pd.DataFrame:
    """Generated versus held-out VaR and ES of every segment (H-day and, optionally, 1-day).

    Parameters
    ----------
    scenarios : array_like (n_paths, H, n_assets)
        Generated daily log returns (e.g. the unconditional set over the test period).
    reference : array_like or DataFrame (T, n_assets)
        Realised daily log returns of the held-out period; cut into every overlapping
        H-day window for the H-day rows.
    assets : sequence of str
        Constituents in column order (of both arrays).
    sectors : str
        Sector map (:func:`segment_weights`).
    alpha : float, default 0.05
        Tail probability.
    daily : bool, default True
        Add the one-day rows (generated days pooled over paths).

    Returns
    -------
    DataFrame
        Columns :data:`SEGMENT_COLUMNS`; ``horizon`` in days; VaR and ES are log returns
        (negative = loss; :func:`diffrisk.risk.measures.var` and ``cvar``);
        ``var_rel_error`` and ``es_rel_error`` are relative to the reference's;
        ``ratio_to_median`` = ``es_rel_error`` / its median over the segments of the same
        horizon; ``worst`` marks the largest ES error of each horizon.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(0, 0.01, (400, 2))
    >>> t = segment_tail_table(historical_paths(ref, 5), ref, ["A", "B"], "", daily=False)
    >>> t["es_rel_error"].tolist()
    [0.0, 0.0]
    """
    gen = as_paths(scenarios, "scenarios")
    ref_days = as_matrix(reference, "reference")
    n_assets, horizon = gen.shape[2], gen.shape[1]
    if ref_days.shape[1] != n_assets or len(assets) != n_assets:
        raise ValueError(
            f"mismatched assets: scenarios have {n_assets}, reference {ref_days.shape[1]}, "
            f"assets names {len(assets)}"
        )
    a = check_alpha(alpha)
    ref_paths = historical_paths(ref_days, horizon)
    rows = []
    for name, kind, members, w in segment_weights(assets, sectors):
        gen_daily = portfolio_log_returns(gen, w)  # (n_paths, H)
        ref_daily = portfolio_log_returns(ref_paths, w)  # (n_windows, H)
        samples = [(horizon, gen_daily.sum(axis=1), ref_daily.sum(axis=1))]
        if daily:
            samples.append((1, gen_daily.ravel(), portfolio_log_returns(ref_days, w)))
        for h, g, r in samples:
            rows.append(
                {
                    "segment": name,
                    "kind": kind,
                    "members": ",".join(members),
                    "horizon": int(h),
                    "alpha": a,
                    "var_generated": float(var(g, a)),
                    "var_reference": float(var(r, a)),
                    "es_generated": float(cvar(g, a)),
                    "es_reference": float(cvar(r, a)),
                }
            )
    table = pd.DataFrame(rows)
    table["var_rel_error"] = [
        _relative_error(g, r)
        for g, r in zip(table["var_generated"], table["var_reference"], strict=True)
    ]
    table["es_rel_error"] = [
        _relative_error(g, r)
        for g, r in zip(table["es_generated"], table["es_reference"], strict=True)
    ]
    median = table.groupby("horizon")["es_rel_error"].transform("median")
    table["ratio_to_median"] = table["es_rel_error"] / median.where(median > 0, np.nan)
    largest = table.groupby("horizon")["es_rel_error"].transform("max")
    table["worst"] = table["es_rel_error"] == largest
    order = {h: i for i, h in enumerate([horizon, 1])}
    table = table.sort_values("horizon", key=lambda c: c.map(order), kind="stable")
    return table.reset_index(drop=True).loc[:, list(SEGMENT_COLUMNS)]


def segment_summary(table: pd.DataFrame, goal_ratio: float = GOAL_RATIO) -> pd.DataFrame:
    """One row per horizon: median and largest ES error, the worst segment, the goal.

    Parameters
    ----------
    table : DataFrame
        :func:`segment_tail_table` (possibly with a ``variant`` column: one row per
        variant and horizon then).
    goal_ratio : float, default 2.0
        The goal: no segment's ES error above ``goal_ratio`` times the median's.

    Returns
    -------
    DataFrame
        ``[variant,] horizon, median_es_error, max_es_error, max_over_median,
        worst_segment, worst_kind, n_segments, n_above_goal, goal_met``.
    """
    keys = ["variant", "horizon"] if "variant" in table.columns else ["horizon"]
    rows: list[dict[str, Any]] = []
    for key, group in table.groupby(keys, sort=False):
        values = key if isinstance(key, tuple) else (key,)
        err = group["es_rel_error"].astype(float)
        median, worst = float(err.median()), group.loc[err.idxmax()]
        ratio = float(err.max() / median) if median > 0 else np.inf
        rows.append(
            {
                **dict(zip(keys, values, strict=True)),
                "median_es_error": median,
                "max_es_error": float(err.max()),
                "max_over_median": ratio,
                "worst_segment": str(worst["segment"]),
                "worst_kind": str(worst["kind"]),
                "n_segments": int(len(group)),
                "n_above_goal": int((err > goal_ratio * median).sum()),
                "goal_met": bool(ratio <= goal_ratio),
            }
        )
    return pd.DataFrame(rows)


def variant_tables(
    sets: Mapping[str, ArrayLike],
    reference: ArrayLike | pd.DataFrame,
    assets: Sequence[str],
    sectors: str,
    **options: Any,
) -> pd.DataFrame:
    """:func:`segment_tail_table` of several sets, stacked with a ``variant`` column first.

    ``sets`` maps a variant name to its scenarios; the other arguments, ``options``
    (``alpha``, ``daily``) included, are those of :func:`segment_tail_table`, the same for
    every set.
    """
    if not sets:
        raise ValueError("sets is empty")
    parts = [
        segment_tail_table(paths, reference, assets, sectors, **options).assign(variant=name)
        for name, paths in sets.items()
    ]
    table = pd.concat(parts, ignore_index=True)
    return table[["variant", *SEGMENT_COLUMNS]]
