"""Seed-ensemble statistics: member FZ0 spread, daily disagreement, and whether it matters.

The seed ensemble (method ``ddpm_ens``) pools K DDPM members that differ only in their
training seed. Its member frame holds each member's own forecast table (columns ``date,
series, member, realized`` and the ``var_*`` / ``cvar_*`` of
:mod:`diffrisk.forecasts.contract`). Three questions:

1. How much does the loss depend on the seed? :func:`member_fz0_table`: the mean FZ0 of
   every member, summarised as mean ± sd over the members, next to the pooled
   ensemble's.
2. How much do the members disagree, day by day? :func:`member_disagreement`: the
   standard deviation over members of the VaR, per (date, series, alpha).
3. Does disagreement predict exceptions of the pooled ensemble?
   :func:`disagreement_tests`: a logistic regression of the exception indicator on the
   standardised disagreement and a Mann–Whitney rank test.

:func:`ensemble_table` joins 1 and 3, one row per (series, alpha).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from diffrisk.evaluation.blocks import all_blocks, check_alphas
from diffrisk.evaluation.headline import HEADLINE_ALPHAS
from diffrisk.forecasts.contract import var_column
from diffrisk.risk.scoring import fz0_loss

#: Columns of :func:`member_disagreement` (``reports/tables/ensemble_disagreement.csv``).
DISAGREEMENT_COLUMNS: tuple[str, ...] = (
    "date",
    "series",
    "alpha",
    "n_members",
    "var_mean",
    "var_sd",
)


#: Columns of :func:`member_fz0_table`.
MEMBER_FZ0_COLUMNS: tuple[str, ...] = (
    "series",
    "alpha",
    "n_members",
    "n_obs",
    "fz0_member_mean",
    "fz0_member_sd",
    "fz0_member_min",
    "fz0_member_max",
    "fz0_pooled",
)


#: Columns of :func:`ensemble_table` (``reports/tables/ensemble.csv``).
ENSEMBLE_COLUMNS: tuple[str, ...] = (
    *MEMBER_FZ0_COLUMNS,
    "n_exceptions",
    "disagreement_mean",
    "logit_slope",
    "logit_slope_se",
    "logit_p",
    "mw_auc",
    "mw_p",
)


def _member_frames(members: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``{"member_<k>": frame}`` of a member frame (``ValueError`` without members)."""
    if not isinstance(members, pd.DataFrame) or "member" not in members.columns:
        raise ValueError("members must be a DataFrame with a 'member' column")
    if members.empty:
        raise ValueError("members is empty")
    ids = sorted(int(k) for k in members["member"].unique())
    return {f"member_{k}": members.loc[members["member"] == k] for k in ids}


def member_fz0_table(
    members: pd.DataFrame, pooled: pd.DataFrame, alphas: Sequence[float] = HEADLINE_ALPHAS
) -> pd.DataFrame:
    """Mean FZ0 of every member, summarised over members, next to the pooled ensemble's.

    Parameters
    ----------
    members : DataFrame
        The member frame (a forecast table per member, stacked, with a ``member`` column).
    pooled : DataFrame
        The pooled ensemble's forecast table (method ``ddpm_ens``).
    alphas : sequence of float, default (0.05, 0.01)

    Returns
    -------
    DataFrame
        ``series, alpha, n_members, n_obs, fz0_member_mean, fz0_member_sd,
        fz0_member_min, fz0_member_max, fz0_pooled``: the mean, sample standard deviation
        (``ddof=1``; NaN for one member), minimum and maximum over members of each
        member's mean daily FZ0 loss, and the pooled ensemble's mean FZ0, all on the
        pooled ensemble's days (every member must forecast them).
    """
    alphas = check_alphas(alphas)
    frames = _member_frames(members)
    blocks, _ = all_blocks(frames, alphas)
    pooled_blocks, order = all_blocks({"pooled": pooled}, alphas)
    rows = []
    for name in order:
        base = pooled_blocks["pooled"][name]
        for a, alpha in enumerate(alphas):
            means = []
            for member, per_series in blocks.items():
                block = per_series.get(name)
                if block is None or not base.dates.isin(block.dates).all():
                    raise ValueError(f"{member} does not forecast every day of series {name!r}")
                days = block.dates.get_indexer(base.dates)
                loss = fz0_loss(block.realized[days], block.var[a][days], block.es[a][days], alpha)
                means.append(float(loss.mean()))
            values = np.asarray(means)
            rows.append(
                {
                    "series": name,
                    "alpha": alpha,
                    "n_members": values.size,
                    "n_obs": int(base.dates.size),
                    "fz0_member_mean": float(values.mean()),
                    "fz0_member_sd": float(values.std(ddof=1)) if values.size > 1 else math.nan,
                    "fz0_member_min": float(values.min()),
                    "fz0_member_max": float(values.max()),
                    "fz0_pooled": float(
                        fz0_loss(base.realized, base.var[a], base.es[a], alpha).mean()
                    ),
                }
            )
    return pd.DataFrame(rows, columns=list(MEMBER_FZ0_COLUMNS))


def member_disagreement(
    members: pd.DataFrame, alphas: Sequence[float] = HEADLINE_ALPHAS
) -> pd.DataFrame:
    """Daily member disagreement: the standard deviation over members of the VaR.

    Parameters
    ----------
    members : DataFrame
        The member frame.
    alphas : sequence of float, default (0.05, 0.01)

    Returns
    -------
    DataFrame
        Long format, columns :data:`DISAGREEMENT_COLUMNS`: per (date, series, alpha) the
        number of members, the mean and the sample standard deviation (``ddof=1``; NaN
        for a single member) of their VaR forecasts (returns). Sorted by series (order
        of first row), alpha (as given) and date.
    """
    alphas = check_alphas(alphas)
    _member_frames(members)
    work = members.assign(date=pd.to_datetime(members["date"]))
    if work.duplicated(["member", "date", "series"]).any():
        raise ValueError("members has duplicate (member, date, series) rows")
    parts = []
    for alpha in alphas:
        col = var_column(alpha)
        if col not in work.columns:
            raise ValueError(f"members lacks column {col!r}")
        grouped = work.groupby(["series", "date"], sort=False)[col]
        part = grouped.agg(n_members="count", var_mean="mean", var_sd="std").reset_index()
        parts.append(part.assign(alpha=alpha))
    out = pd.concat(parts, ignore_index=True)
    order = {s: i for i, s in enumerate(dict.fromkeys(work["series"]))}
    out = out.assign(_s=out["series"].map(order), _a=out["alpha"].map(alphas.index))
    out = out.sort_values(["_s", "_a", "date"], kind="stable").drop(columns=["_s", "_a"])
    return out.loc[:, list(DISAGREEMENT_COLUMNS)].reset_index(drop=True)


def _logit_slope(hits: NDArray[np.bool_], z: NDArray[np.float64]) -> tuple[float, float, float]:
    """Slope, standard error and two-sided Wald p-value of ``logit P(hit) = b0 + b1 z``."""
    import statsmodels.api as sm

    if hits.all() or not hits.any() or np.ptp(z) == 0:
        return math.nan, math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (quasi-)separation and convergence warnings
        try:
            res = sm.Logit(hits.astype(float), sm.add_constant(z)).fit(disp=0, maxiter=100)
        except (np.linalg.LinAlgError, ValueError):
            return math.nan, math.nan, math.nan
    if not res.mle_retvals.get("converged", False):
        return math.nan, math.nan, math.nan
    return float(res.params[1]), float(res.bse[1]), float(res.pvalues[1])


def disagreement_tests(
    disagreement: pd.DataFrame, pooled: pd.DataFrame, alphas: Sequence[float] = HEADLINE_ALPHAS
) -> pd.DataFrame:
    """Test whether member disagreement predicts exceptions of the pooled ensemble.

    Parameters
    ----------
    disagreement : DataFrame
        :func:`member_disagreement` output.
    pooled : DataFrame
        The pooled ensemble's forecast table; its exceptions are ``r_t < VaR_t``.
    alphas : sequence of float, default (0.05, 0.01)

    Returns
    -------
    DataFrame
        Per (series, alpha) on the pooled ensemble's days: ``series, alpha, n_obs,
        n_exceptions, disagreement_mean`` (mean VaR sd over members), ``logit_slope``,
        ``logit_slope_se``, ``logit_p`` and ``mw_auc``, ``mw_p``.

    Notes
    -----
    Null hypothesis of both tests: the exception indicator is independent of the
    disagreement of the day. It holds for a calibrated pooled forecast, whose exceptions
    are i.i.d. Bernoulli(alpha) whatever was known the day before, disagreement
    included. Alternative: two-sided, the exception probability changes with the
    disagreement (a positive slope: the pooled VaR is too shallow when the members
    disagree).

    * Logistic regression ``logit P(hit_t) = b0 + b1 z_t`` with ``z_t`` the disagreement
      standardised over the (series, alpha) sample (mean 0, sd 1), fitted by maximum
      likelihood (statsmodels ``Logit``); ``logit_slope`` is ``b1`` (per one standard
      deviation of disagreement), ``logit_p`` its two-sided Wald p-value. NaN when there
      are no exceptions, only exceptions, constant disagreement or the fit does not
      converge.
    * Mann–Whitney U test of the disagreement on exception days against non-exception
      days (:func:`scipy.stats.mannwhitneyu`, two-sided); ``mw_auc = U / (n_1 n_0)`` is
      the probability that an exception day has the higher disagreement (0.5 under the
      null).
    """
    alphas = check_alphas(alphas)
    blocks, order = all_blocks({"pooled": pooled}, alphas)
    spread = disagreement.assign(
        date=pd.to_datetime(disagreement["date"]), alpha=disagreement["alpha"].astype(float)
    )
    rows = []
    for name in order:
        block = blocks["pooled"][name]
        for a, alpha in enumerate(alphas):
            part = spread.loc[(spread["series"] == name) & np.isclose(spread["alpha"], alpha)]
            d = part.set_index("date")["var_sd"].reindex(block.dates).to_numpy(dtype=float)
            if np.isnan(d).any():
                raise ValueError(
                    f"disagreement lacks (or has NaN on) pooled forecast days of series "
                    f"{name!r} at alpha={alpha:g}"
                )
            hits = block.realized < block.var[a]
            sd = d.std()
            z = (d - d.mean()) / sd if sd > 0 else np.zeros_like(d)
            slope, se, p = _logit_slope(hits, z)
            auc = mw_p = math.nan
            if hits.any() and not hits.all():
                res = stats.mannwhitneyu(d[hits], d[~hits], alternative="two-sided")
                auc = float(res.statistic) / (hits.sum() * (~hits).sum())
                mw_p = float(res.pvalue)
            rows.append(
                {
                    "series": name,
                    "alpha": alpha,
                    "n_obs": int(d.size),
                    "n_exceptions": int(hits.sum()),
                    "disagreement_mean": float(d.mean()),
                    "logit_slope": slope,
                    "logit_slope_se": se,
                    "logit_p": p,
                    "mw_auc": auc,
                    "mw_p": mw_p,
                }
            )
    return pd.DataFrame(rows)


def ensemble_table(
    members: pd.DataFrame,
    pooled: pd.DataFrame,
    alphas: Sequence[float] = HEADLINE_ALPHAS,
    disagreement: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The ensemble table (``reports/tables/ensemble.csv``): one row per (series, alpha).

    Parameters
    ----------
    members : DataFrame
        The member frame.
    pooled : DataFrame
        The pooled ensemble's forecast table.
    alphas : sequence of float, default (0.05, 0.01)
    disagreement : DataFrame, optional
        :func:`member_disagreement` of ``members`` (computed when not given).

    Returns
    -------
    DataFrame
        Columns :data:`ENSEMBLE_COLUMNS`: :func:`member_fz0_table` joined with
        :func:`disagreement_tests`.
    """
    alphas = check_alphas(alphas)
    if disagreement is None:
        disagreement = member_disagreement(members, alphas)
    fz0 = member_fz0_table(members, pooled, alphas)
    tests = disagreement_tests(disagreement, pooled, alphas).drop(columns="n_obs")
    out = fz0.merge(tests, on=["series", "alpha"], how="left", validate="one_to_one")
    return out.loc[:, list(ENSEMBLE_COLUMNS)]
