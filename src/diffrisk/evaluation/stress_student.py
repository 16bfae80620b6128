"""Does a distilled stress student hold its teacher's quality? The figures of the rule.

A few-step student of the stress model (:mod:`diffrisk.stress.distill`) may replace its
guided teacher only if, on validation, every quality figure of its scenario sets lies
within the teacher's Monte-Carlo noise (the stage ``stress_distill`` applies the rule,
``benchmarks/bench_stress_distill.py`` measures candidates and speed):

* :func:`stress_set_figures`: of one set of H-day paths (``n`` per conditioning date), the
  1 % and 5 % VaR and ES of the equal-weighted portfolio's H-day log return (returns,
  negative in the loss tail; :func:`~diffrisk.risk.measures.var_cvar`), the mean volatility
  ratio, and with the realised paths the mean energy and variogram scores over the dates
  (:mod:`diffrisk.evaluation.paths.scores`);
* :func:`bootstrap_set_figures`: the same figures with Monte-Carlo standard errors from
  resampling the paths within each date (the dates held fixed). The stress samplers draw
  every path's starting noise i.i.d., so this is the sampler's own error (unlike the
  one-day model's stratified sets, :mod:`diffrisk.evaluation.sampler_choice`);
* :func:`student_within_noise`: ``|student - teacher| <= k sqrt(SE_s^2 + SE_t^2)`` for every
  figure of every set (:func:`~diffrisk.evaluation.sampler_choice.figures_within_noise`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.evaluation.paths.scores import energy_score, path_vectors, variogram_score
from diffrisk.evaluation.sampler_choice import figures_within_noise
from diffrisk.risk.measures import var_cvar
from diffrisk.stress.signatures import stress_signature

#: Tail probabilities of the VaR and ES figures.
STUDENT_ALPHAS: tuple[float, ...] = (0.01, 0.05)

SetFigures = dict[str, tuple[float, float]]
"""Figure name (``var_0.01``, ``es_0.05``, ``mean_vol_ratio``, ``energy``, ...) -> (value, SE)."""


def stress_set_figures(
    paths: NDArray[np.floating],
    portfolio_vol: NDArray[np.floating],
    n_per_date: int,
    realised: NDArray[np.floating] | None = None,
) -> dict[str, float]:
    """Quality figures of one scenario set.

    Parameters
    ----------
    paths : ndarray (n_dates * n_per_date, H, n_assets)
        Daily log returns, date-major (the first ``n_per_date`` rows share a date).
    portfolio_vol : ndarray (n_dates,)
        Each date's volatility forecast of the equal-weighted portfolio (the ``dates``
        frame of :func:`~diffrisk.stress.sampling.generate_paths`).
    n_per_date : int
    realised : ndarray (n_dates, H, n_assets), optional
        The realised path from each date: adds ``energy`` and ``variogram`` (p = 0.5), the
        means over the dates of the set's scores against them (lower is better).

    Returns
    -------
    dict
        ``var_<a>``, ``es_<a>`` for a in :data:`STUDENT_ALPHAS` (of the pooled H-day
        portfolio log returns, returns space), ``mean_vol_ratio`` and optionally
        ``energy``, ``variogram``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> paths = rng.normal(0.0, 0.01, (400, 5, 3))
    >>> fig = stress_set_figures(paths, np.array([0.01, 0.01]), 200)
    >>> fig["es_0.01"] < fig["var_0.01"] < fig["var_0.05"] < 0
    True
    """
    n = int(n_per_date)
    vols = np.asarray(portfolio_vol, dtype=float)
    signature = stress_signature(paths, np.repeat(vols, n))
    out: dict[str, float] = {}
    for a in STUDENT_ALPHAS:
        v, es = var_cvar(signature["cum_return"].to_numpy(), a)
        out[f"var_{a:g}"], out[f"es_{a:g}"] = float(v), float(es)
    out["mean_vol_ratio"] = float(signature["vol_ratio"].mean())
    if realised is not None:
        vectors = path_vectors(paths).reshape(len(vols), n, -1)
        observed = path_vectors(realised)
        pairs = list(zip(vectors, observed, strict=True))
        out["energy"] = float(np.mean([energy_score(e, o) for e, o in pairs]))
        out["variogram"] = float(np.mean([variogram_score(e, o) for e, o in pairs]))
    return out


def bootstrap_set_figures(
    paths: NDArray[np.floating],
    portfolio_vol: NDArray[np.floating],
    n_per_date: int,
    realised: NDArray[np.floating] | None = None,
    *,
    n_boot: int = 200,
    n_boot_scores: int = 10,
    seed: int = 0,
) -> SetFigures:
    """:func:`stress_set_figures` with Monte-Carlo standard errors.

    Each resample draws ``n_per_date`` paths with replacement within every date (the
    dates fixed); the standard error is the resamples' standard deviation (ddof 1). The
    energy and variogram scores cost far more than the quantiles, so they use the first
    ``n_boot_scores`` resamples only.

    Parameters
    ----------
    paths, portfolio_vol, n_per_date, realised
        As in :func:`stress_set_figures`.
    n_boot, n_boot_scores : int
        Resamples of the VaR/ES/volatility-ratio figures and of the two scores (>= 2).
    seed : int

    Returns
    -------
    dict
        Figure -> (value on the set, standard error).
    """
    n, n_dates = int(n_per_date), len(np.asarray(portfolio_vol))
    if int(n_boot) < 2 or (realised is not None and int(n_boot_scores) < 2):
        raise ValueError(f"n_boot and n_boot_scores must be >= 2, got {n_boot}, {n_boot_scores}")
    rng = np.random.default_rng(seed)
    draws: list[dict[str, float]] = []
    for i in range(max(int(n_boot), int(n_boot_scores))):
        idx = (np.arange(n_dates)[:, None] * n + rng.integers(0, n, (n_dates, n))).ravel()
        scored = realised if i < int(n_boot_scores) else None
        draws.append(stress_set_figures(paths[idx], portfolio_vol, n, scored))
    values = stress_set_figures(paths, portfolio_vol, n, realised)
    return {
        k: (v, float(np.std([d[k] for d in draws if k in d], ddof=1))) for k, v in values.items()
    }


def student_within_noise(
    student: Mapping[str, SetFigures],
    teacher: Mapping[str, SetFigures],
    teacher_b: Mapping[str, SetFigures] | None = None,
    k: float = 2.0,
) -> tuple[pd.DataFrame, bool]:
    """Every figure of every set of the student within ``k`` combined SEs of the teacher's.

    Parameters
    ----------
    student, teacher : mapping
        Set name -> :func:`bootstrap_set_figures` (the same sets and figures).
    teacher_b : mapping, optional
        The teacher with another seed (reported next to each bound, not tested).
    k : float

    Returns
    -------
    table : DataFrame
        One row per (set, figure): ``set, alpha, figure, teacher, candidate, diff, bound,
        within`` (+ ``teacher_b_minus_teacher``); ``alpha`` is missing (NaN) for the figures
        that are not tail measures.
    ok : bool
    """

    def keyed(runs: Mapping[str, SetFigures]) -> dict[tuple, tuple[float, float]]:
        out = {}
        for set_name, figures in runs.items():
            for name, value in figures.items():
                kind, _, alpha = name.partition("_")
                if kind in ("var", "es") and alpha:
                    out[(set_name, float(alpha), kind)] = value
                else:
                    out[(set_name, None, name)] = value
        return out

    table, ok = figures_within_noise(
        keyed(student), keyed(teacher), None if teacher_b is None else keyed(teacher_b), k
    )
    return table.rename(columns={"series": "set"}), ok
