"""Does a fast sampler hold its teacher's quality? The figures and checks of the replacement rule.

A faster sampler of the same model (a distilled student, or the teacher's network with
fewer steps) replaces the pipeline's sampler only if, on validation, its risk figures
stay within the teacher's Monte-Carlo noise and no backtest verdict changes
(``benchmarks/bench_ddpm_distill.py`` applies the rule; the one-day study documents it):

* :func:`scenario_figures`: per (series, alpha) the mean VaR, the mean ES (return space,
  negative numbers; :func:`~diffrisk.risk.measures.var_cvar` with the scenario set's
  design) and the mean FZ0 loss over the days, each with a Monte-Carlo standard error
  from resampling the scenarios i.i.d. within every day (the days are held fixed: the
  error is the sampler's, not the sample of days'). That error is an i.i.d. sampler's: for
  a STRATIFIED set (one draw per probability stratum, the pipeline's design) it is far too
  large (at 5 % VaR about 100 times the change a new seed makes), so use
  :func:`replicate_figures` there;
* :func:`replicate_figures`: the same figures averaged over independent sampling seeds,
  with the standard error of that average from the spread over the seeds (valid for any
  sampling design);
* :func:`figures_within_noise`: ``|candidate - teacher| <= k sqrt(SE_c^2 + SE_t^2)`` for
  every figure (``k = 2``);
* :func:`backtest_verdicts` and :func:`verdicts_equal`: the reject / not-reject decisions
  of Kupiec POF, Christoffersen conditional coverage and Acerbi-Szekely Z2 at a level,
  and the Basel traffic-light zone, from :func:`~diffrisk.evaluation.tables.backtest_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.ddpm.forecast import fz0_mean
from diffrisk.forecasts.contract import ALPHAS, ScenarioSet
from diffrisk.risk.measures import var_cvar

#: The figures of :func:`scenario_figures`, in order.
FIGURES: tuple[str, ...] = ("var", "es", "fz0")

#: The verdicts compared by :func:`verdicts_equal`.
VERDICTS: tuple[str, ...] = ("kupiec", "christoffersen_cc", "as_z2", "zone")

FigureKey = tuple[str, float, str]


def _figure_values(x: np.ndarray, r: np.ndarray, alpha: float, design: str) -> tuple:
    v, e = var_cvar(x, alpha, design=design)
    return float(np.mean(v)), float(np.mean(e)), fz0_mean(r, v, e, alpha)


def scenario_figures(
    scenarios: ScenarioSet,
    forecasts: pd.DataFrame,
    series: Sequence[str],
    alphas: Sequence[float] = ALPHAS,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[FigureKey, tuple[float, float]]:
    """Mean VaR, ES and FZ0 over the days, and their Monte-Carlo standard errors.

    Parameters
    ----------
    scenarios : ScenarioSet
        The sampler's scenarios (days x scenarios per series).
    forecasts : DataFrame
        The forecast table of the same run (``date, series, realized``): the realised
        returns the FZ0 loss scores.
    series : sequence of str
        The series to score (each must be in ``scenarios``).
    alphas : sequence of float
    n_boot : int
        Resamples (with replacement) of the scenarios within every day; >= 2, or 0 for
        the figures alone (every standard error NaN).
    seed : int
        Seeds the resampling.

    Returns
    -------
    dict
        ``{(series, alpha, figure): (value, se)}`` with ``figure`` in :data:`FIGURES`;
        VaR and ES in return space (negative in the loss tail), FZ0 as
        :func:`~diffrisk.ddpm.forecast.fz0_mean` (lower is better; ``inf`` if an ES
        forecast is >= 0).

    Raises
    ------
    ValueError
        If ``n_boot < 2`` or a series has no realised return on a scenario day.
    """
    if int(n_boot) < 2 and int(n_boot) != 0:
        raise ValueError(f"n_boot must be 0 or >= 2 for a standard error, got {n_boot}")
    out: dict[FigureKey, tuple[float, float]] = {}
    rng = np.random.default_rng(seed)
    for name in series:
        x = np.asarray(scenarios.for_series(name))
        sub = forecasts[forecasts["series"] == name].set_index("date").reindex(scenarios.dates)
        r = sub["realized"].to_numpy(dtype=float)
        if np.isnan(r).any():
            raise ValueError(f"series {name!r}: no realised return on some scenario days")
        draws: dict[float, list[tuple]] = {float(a): [] for a in alphas}
        for _ in range(int(n_boot)):
            idx = rng.integers(0, x.shape[1], size=x.shape)
            xb = np.take_along_axis(x, idx, axis=1)
            for a in alphas:
                draws[float(a)].append(_figure_values(xb, r, float(a), scenarios.design))
        for a in alphas:
            value = _figure_values(x, r, float(a), scenarios.design)
            se = np.full(len(FIGURES), np.nan)
            if draws[float(a)]:
                with np.errstate(invalid="ignore"):  # an infinite FZ0 has no error (NaN)
                    se = np.std(np.asarray(draws[float(a)]), axis=0, ddof=1)
            for k, figure in enumerate(FIGURES):
                out[(name, float(a), figure)] = (value[k], float(se[k]))
    return out


def replicate_figures(
    runs: Sequence[tuple[pd.DataFrame, ScenarioSet]],
    series: Sequence[str],
    alphas: Sequence[float] = ALPHAS,
) -> dict[FigureKey, tuple[float, float]]:
    """Mean VaR, ES and FZ0 over independent sampling seeds, and their standard errors.

    Parameters
    ----------
    runs : sequence of (forecast frame, ScenarioSet)
        The same sampler and days drawn with R >= 2 different seeds.
    series : sequence of str
    alphas : sequence of float

    Returns
    -------
    dict
        ``{(series, alpha, figure): (mean over seeds, sd over seeds / sqrt(R))}``; each
        seed's figure as in :func:`scenario_figures`.

    Raises
    ------
    ValueError
        If fewer than two runs are given.
    """
    if len(runs) < 2:
        raise ValueError(f"need >= 2 seeds for a standard error, got {len(runs)} run(s)")
    values: dict[FigureKey, list[float]] = {}
    for frame, scen in runs:
        for key, (value, _) in scenario_figures(scen, frame, series, alphas, n_boot=0).items():
            values.setdefault(key, []).append(value)
    out = {}
    for key, vals in values.items():
        arr = np.asarray(vals, dtype=float)
        with np.errstate(invalid="ignore"):  # an infinite FZ0 has no error (NaN)
            out[key] = (float(arr.mean()), float(arr.std(ddof=1) / np.sqrt(arr.size)))
    return out


def figures_within_noise(
    candidate: Mapping[FigureKey, tuple[float, float]],
    teacher: Mapping[FigureKey, tuple[float, float]],
    teacher_b: Mapping[FigureKey, tuple[float, float]] | None = None,
    k: float = 2.0,
) -> tuple[pd.DataFrame, bool]:
    """Every figure of ``candidate`` within ``k`` combined standard errors of ``teacher``'s.

    Parameters
    ----------
    candidate, teacher : mapping
        :func:`scenario_figures` of the candidate and of the teacher (same keys).
    teacher_b : mapping, optional
        The teacher with another seed: its difference to ``teacher`` is reported next to
        each bound (the yardstick's sanity check), not tested.
    k : float

    Returns
    -------
    table : DataFrame
        One row per figure: ``series, alpha, figure, teacher, candidate, diff, bound,
        within`` (and ``teacher_b_minus_teacher``).
    ok : bool
        Whether every figure is within its bound.
    """
    rows = []
    for key, (value, se) in candidate.items():
        t_value, t_se = teacher[key]
        bound = float(k) * float(np.hypot(se, t_se))
        row = {"series": key[0], "alpha": key[1], "figure": key[2], "teacher": t_value,
               "candidate": value, "diff": value - t_value, "bound": bound,
               "within": bool(abs(value - t_value) <= bound)}  # fmt: skip
        if teacher_b is not None:
            row["teacher_b_minus_teacher"] = teacher_b[key][0] - t_value
        rows.append(row)
    table = pd.DataFrame(rows)
    return table, bool(table["within"].all()) if len(table) else True


def backtest_verdicts(table: pd.DataFrame, level: float = 0.05) -> dict[tuple, dict[str, Any]]:
    """Per (method, series, alpha) of a backtest table: rejections at ``level`` and the zone.

    Parameters
    ----------
    table : DataFrame
        :func:`~diffrisk.evaluation.tables.backtest_table` (``method, series, alpha,
        n_exceptions, kupiec_p, christoffersen_cc_p, as_z2_p, traffic_light``).
    level : float
        Test size: a p-value below it rejects.

    Returns
    -------
    dict
        ``{(method, series, alpha): {"n_exceptions", "kupiec", "christoffersen_cc",
        "as_z2", "zone", "p"}}``; the test entries are True when the test rejects.
    """
    out = {}
    for row in table.itertuples(index=False):
        out[(row.method, row.series, float(row.alpha))] = {
            "n_exceptions": int(row.n_exceptions),
            "kupiec": bool(row.kupiec_p < level),
            "christoffersen_cc": bool(row.christoffersen_cc_p < level),
            "as_z2": bool(row.as_z2_p < level),
            "zone": str(row.traffic_light),
            "p": (float(row.kupiec_p), float(row.christoffersen_cc_p), float(row.as_z2_p)),
        }
    return out


def verdicts_equal(
    verdicts: Mapping[tuple, Mapping[str, Any]],
    teacher: str,
    candidate: str,
    series: Sequence[str],
    alphas: Sequence[float] = ALPHAS,
) -> tuple[pd.DataFrame, bool]:
    """Whether ``candidate``'s verdicts (:data:`VERDICTS`) equal ``teacher``'s in every cell.

    Returns
    -------
    table : DataFrame
        One row per (series, alpha): both methods' exception counts and verdicts and
        ``same``.
    ok : bool
    """
    rows = []
    for name in series:
        for a in alphas:
            t, c = verdicts[(teacher, name, float(a))], verdicts[(candidate, name, float(a))]
            row: dict[str, Any] = {"series": name, "alpha": float(a)}
            for key in ("n_exceptions", *VERDICTS):
                row[f"teacher_{key}"], row[f"candidate_{key}"] = t[key], c[key]
            row["same"] = all(t[key] == c[key] for key in VERDICTS)
            rows.append(row)
    table = pd.DataFrame(rows)
    return table, bool(table["same"].all()) if len(table) else True
