"""The primary-method rule: rehearsal scores and the noise margin.

The ``select`` stage scores each candidate primary method on the rehearsal's outer
validation period by the mean FZ0 loss over the headline series and α ∈ {5 %, 1 %}
(:func:`score_cells`, :func:`daily_fz0`) and takes the primary method by the
noise-margin rule of :func:`primary_choice`, written before any score was seen: a more
complex candidate replaces the current choice only if its mean daily gain exceeds
``margin_se`` Newey–West standard errors.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.ddpm.config import SCORE_ALPHAS
from diffrisk.ddpm.forecast import fz0_mean
from diffrisk.evaluation.comparison import diebold_mariano
from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.risk.scoring import fz0_loss

__all__ = ["MARGIN_SE", "daily_fz0", "primary_choice", "score_cells"]

logger = logging.getLogger(__name__)

#: Default noise margin of the primary-method decision, in standard errors of the gain.
MARGIN_SE: float = 1.0


_Cell = tuple[
    str, float, pd.DataFrame, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]
]


def _headline_cells(frame: pd.DataFrame, headline: Sequence[str]) -> Iterator[_Cell]:
    """Per headline series and α ∈ ``SCORE_ALPHAS``: ``(series, alpha, rows, r, VaR, ES)``."""
    for series in headline:
        sub = frame[frame["series"] == series]
        if sub.empty:
            raise ValueError(f"forecast table has no rows for headline series {series!r}")
        r = sub["realized"].to_numpy(dtype=float)
        for alpha in SCORE_ALPHAS:
            v = sub[var_column(alpha)].to_numpy(dtype=float)
            e = sub[cvar_column(alpha)].to_numpy(dtype=float)
            yield series, alpha, sub, r, v, e


def score_cells(frame: pd.DataFrame, headline: Sequence[str]) -> list[dict[str, Any]]:
    """Per headline series and α ∈ ``SCORE_ALPHAS``: observations, exceptions, mean FZ0."""
    return [
        {
            "series": series,
            "alpha": alpha,
            "n_obs": int(r.size),
            "n_exceptions": int(np.sum(r < v)),
            "fz0_mean": fz0_mean(r, v, e, alpha),
        }
        for series, alpha, _, r, v, e in _headline_cells(frame, headline)
    ]


def daily_fz0(frame: pd.DataFrame, headline: Sequence[str]) -> pd.Series:
    """Per forecast day, the FZ0 loss averaged over the headline series and ``SCORE_ALPHAS``.

    Its mean over the days is the rehearsal score of :func:`score_cells` when every
    series has the same days. A day whose ES forecast is >= 0 has loss ``+inf`` (as in
    :func:`diffrisk.ddpm.forecast.fz0_mean`: such a forecast can never win).
    """
    cols = []
    for _, alpha, sub, r, v, e in _headline_cells(frame, headline):
        loss = fz0_loss(r, v, np.where(e < 0.0, e, -1.0), alpha)
        loss[e >= 0.0] = np.inf
        cols.append(pd.Series(loss, index=pd.DatetimeIndex(sub["date"])))
    return pd.concat(cols, axis=1).mean(axis=1).rename("fz0")


def primary_choice(
    losses: Mapping[str, pd.Series],
    candidates: Sequence[str],
    margin_se: float = MARGIN_SE,
    lag: int | None = None,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The primary method by the noise-margin rule (written before any score is seen).

    Starting from ``candidates[0]`` (the simplest), each later candidate replaces the
    current choice only if ``gain > margin_se * se``, where ``gain = mean(d)`` with
    ``d_t = loss_current_t - loss_candidate_t`` over their common days and ``se =
    sqrt(LRV / T)`` with LRV the Newey–West (Bartlett) long-run variance of ``d``
    (:func:`diffrisk.evaluation.comparison.diebold_mariano`, truncation ``lag``). A
    candidate with a non-finite loss on some day never replaces a finite one; a finite
    candidate always replaces a current choice with a non-finite loss.

    Parameters
    ----------
    losses : mapping method -> Series
        Daily losses (:func:`daily_fz0`) indexed by date.
    candidates : sequence of str
        Methods, simplest first.
    margin_se : float, default 1.0
    lag : int, optional
        Newey–West truncation (default :func:`~diffrisk.evaluation.comparison.newey_west_lag`).

    Returns
    -------
    choice : str
    record : dict
        Per later candidate: ``against`` (the choice it was compared with), ``gain``,
        ``se``, ``dm_p`` (two-sided Diebold–Mariano p-value) and ``switch``.
    """
    chosen = candidates[0]
    record: dict[str, dict[str, Any]] = {}
    for cand in candidates[1:]:
        current, new = losses[chosen].align(losses[cand], join="inner")
        ok_cur, ok_new = bool(np.isfinite(current).all()), bool(np.isfinite(new).all())
        gain = se = p = math.nan
        if ok_cur and ok_new:
            dm = diebold_mariano(current.to_numpy(), new.to_numpy(), lag=lag)
            gain, p = dm.mean_difference, dm.pvalue
            se = math.sqrt(dm.long_run_variance / dm.n_obs)
            switch = gain > margin_se * se
        else:
            switch = ok_new and not ok_cur
        record[cand] = {"against": chosen, "gain": gain, "se": se, "dm_p": p, "switch": switch}
        logger.info("primary: %s vs %s gain %.4f, se %.4f", cand, chosen, gain, se)
        if switch:
            chosen = cand
    return chosen, record
