"""The headline table: every method's failures and successes on the headline series.

One row per (series, alpha, method), the study's primary method first, with the numbers a
validator reads first: exceptions against the expected count, the Kupiec, Christoffersen
conditional-coverage and Acerbi–Szekely Z2 p-values, red 250-day traffic-light windows,
the Kolmogorov–Smirnov p-value of the PIT, the mean FZ0 loss and its Diebold–Mariano
p-value against the benchmark, and the exceptions in a crash window. Most columns are
read from the coverage stage's tables (:func:`diffrisk.evaluation.tables.backtest_table`,
:func:`~diffrisk.evaluation.tables.traffic_light_table`,
:func:`~diffrisk.evaluation.tables.diebold_mariano_table`); :func:`pit_ks_table` and
:func:`crash_exceptions_table` add what they lack.

:func:`goal_table` checks a method against the study's stated goal, criterion by
criterion; :func:`headline_metrics` is the compact summary of ``backtests.json``, with
the family-wise count of :mod:`diffrisk.evaluation.multiplicity` (how many of the
battery's tests a correct model fails by chance, and the Holm-adjusted verdict).

Sign convention: returns, VaR and CVaR are returns (negative for a loss); an exception is
``r_t < VaR_t`` (strict).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from diffrisk.evaluation.blocks import aligned_scenarios, all_blocks, check_alphas, pair_blocks
from diffrisk.evaluation.multiplicity import FAMILY_COLUMNS, family_summary
from diffrisk.forecasts.contract import ScenarioSet
from diffrisk.risk.scoring import pit_values

#: Tail probabilities of the headline.
HEADLINE_ALPHAS: tuple[float, ...] = (0.05, 0.01)


#: Columns of the headline table, in order.
HEADLINE_COLUMNS: tuple[str, ...] = (
    "series",
    "alpha",
    "method",
    "primary",
    "n_obs",
    "n_exceptions",
    "expected_exceptions",
    "kupiec_p",
    "christoffersen_cc_p",
    "as_z2_p",
    "tl_red",
    "pit_ks_p",
    "fz0_mean",
    "fz0_diff",
    "dm_p",
    "crash_days",
    "crash_exceptions",
)


#: The study's goal, fixed before the test period was scored: per headline series and
#: alpha in :data:`HEADLINE_ALPHAS`, a mean FZ0 below the benchmark's, Kupiec,
#: Christoffersen conditional-coverage and Acerbi–Szekely p-values of at least ``level``,
#: at most ``max_red`` red traffic-light windows and, at ``crash_alpha``, at most
#: ``max_crash_exceptions`` exceptions in the crash window.
GOAL: dict[str, float] = {
    "level": 0.05,
    "max_red": 0,
    "max_crash_exceptions": 3,
    "crash_alpha": 0.01,
}


#: Columns of :func:`goal_table`.
GOAL_COLUMNS: tuple[str, ...] = ("series", "alpha", "criterion", "column", "value", "bound", "met")


def pit_ks_table(
    forecasts: Mapping[str, pd.DataFrame],
    scenarios: Mapping[str, ScenarioSet],
    series: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Kolmogorov–Smirnov test of the PIT of each (series, method) against U(0, 1).

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables (:mod:`diffrisk.forecasts` format): the realised returns and days.
    scenarios : mapping method -> ScenarioSet
        Each method's predictive scenarios; a method without a set gets NaN.
    series : sequence of str, optional
        Series to test (default: every series).

    Returns
    -------
    DataFrame
        ``series, method, n_obs, pit_ks_stat, pit_ks_p``: ``u_t`` is the PIT of the
        realised return within day t's scenarios (:func:`diffrisk.risk.scoring.pit_values`,
        ties counted half) and the test is :func:`scipy.stats.kstest` of the ``u_t``
        against the uniform law, two-sided. H0: the daily predictive distributions are
        calibrated (``u_t`` uniform); a small p-value rejects it.

    Notes
    -----
    The KS test takes the ``u_t`` as independent; under a correct one-day forecast they
    are (Diebold, Gunther and Tay, 1998), so the test is exact in that case. With N
    scenarios the ``u_t`` live on a grid of step ``1 / (2N)``, a discreteness far below
    the KS statistic's sampling error for N in the hundreds.
    """
    blocks, order = all_blocks(forecasts, check_alphas([0.05]))
    wanted = order if series is None else [s for s in series if s in order]
    rows = []
    for name, method, block in pair_blocks(blocks, wanted):
        scen = aligned_scenarios(scenarios, method, name, block.dates)
        stat = pvalue = math.nan
        if scen is not None:
            res = stats.kstest(pit_values(scen, block.realized), "uniform")
            stat, pvalue = float(res.statistic), float(res.pvalue)
        rows.append(
            {
                "series": name,
                "method": method,
                "n_obs": int(block.dates.size),
                "pit_ks_stat": stat,
                "pit_ks_p": pvalue,
            }
        )
    return pd.DataFrame(rows, columns=["series", "method", "n_obs", "pit_ks_stat", "pit_ks_p"])


def crash_exceptions_table(
    forecasts: Mapping[str, pd.DataFrame],
    start: Any,
    end: Any,
    alphas: Sequence[float] = HEADLINE_ALPHAS,
) -> pd.DataFrame:
    """VaR exceptions of each (series, method, alpha) in a crash window.

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
    start, end : date-like
        First and last day of the window (inclusive), e.g. 2020-02-01 and 2020-04-30.
    alphas : sequence of float, default (0.05, 0.01)

    Returns
    -------
    DataFrame
        ``series, method, alpha, crash_days, crash_exceptions``: the forecast days in the
        window and the days among them with ``r_t < VaR_t``; ``crash_exceptions`` is NaN
        when no forecast day falls in the window.
    """
    first, last = pd.Timestamp(start), pd.Timestamp(end)
    if last < first:
        raise ValueError(f"crash window end {last.date()} is before its start {first.date()}")
    alphas = check_alphas(alphas)
    blocks, order = all_blocks(forecasts, alphas)
    rows = []
    for name, method, block in pair_blocks(blocks, order):
        inside = np.asarray((block.dates >= first) & (block.dates <= last))
        days = int(inside.sum())
        for a, alpha in enumerate(alphas):
            hits = block.realized[inside] < block.var[a][inside]
            rows.append(
                {
                    "series": name,
                    "method": method,
                    "alpha": alpha,
                    "crash_days": days,
                    "crash_exceptions": float(hits.sum()) if days else math.nan,
                }
            )
    return pd.DataFrame(
        rows, columns=["series", "method", "alpha", "crash_days", "crash_exceptions"]
    )


def _lookup(frame: pd.DataFrame | None, keys: Sequence[str]) -> dict[tuple[Any, ...], dict]:
    """Rows of ``frame`` keyed by ``keys`` (alpha rounded so float noise does not matter)."""
    if frame is None or frame.empty:
        return {}
    work = frame.copy()
    if "alpha" in keys:
        work["alpha"] = work["alpha"].astype(float).round(6)
    return {tuple(rec[k] for k in keys): rec for rec in work.to_dict("records")}


def _dm_rows(dm: pd.DataFrame | None, benchmark: str) -> dict[tuple[Any, ...], dict]:
    if dm is None or dm.empty:
        return {}
    rows = dm.loc[dm["benchmark"] == benchmark]
    if "loss" in rows.columns:
        rows = rows.loc[rows["loss"] == "fz0"]
    return _lookup(rows, ("series", "method", "alpha"))


def _ordered_methods(backtests: pd.DataFrame, series: str, primary: str) -> list[str]:
    methods = list(dict.fromkeys(backtests.loc[backtests["series"] == series, "method"]))
    if primary not in methods:
        raise ValueError(
            f"the primary method {primary!r} has no backtests for series {series!r}; "
            f"methods: {methods}"
        )
    return [primary, *(m for m in methods if m != primary)]


def headline_table(
    backtests: pd.DataFrame,
    traffic: pd.DataFrame | None,
    dm: pd.DataFrame | None,
    pit: pd.DataFrame | None,
    crash: pd.DataFrame | None,
    *,
    primary: str,
    benchmark: str,
    series: Sequence[str],
    alphas: Sequence[float] = HEADLINE_ALPHAS,
) -> pd.DataFrame:
    """The headline table: one row per (series, alpha, method), the primary method first.

    Parameters
    ----------
    backtests : DataFrame
        :func:`diffrisk.evaluation.tables.backtest_table` output.
    traffic : DataFrame or None
        :func:`~diffrisk.evaluation.tables.traffic_light_table` rows (with ``alpha``) of
        the headline alphas; ``tl_red`` is NaN where a row is missing.
    dm : DataFrame or None
        :func:`~diffrisk.evaluation.tables.diebold_mariano_table` output; rows with
        ``loss == "fz0"`` and this ``benchmark`` are used.
    pit : DataFrame or None
        :func:`pit_ks_table` output (one p-value per series and method, shown in every
        alpha's row).
    crash : DataFrame or None
        :func:`crash_exceptions_table` output.
    primary : str
        The study's primary method (first in each block).
    benchmark : str
        The Diebold–Mariano reference method.
    series : sequence of str
        Headline series, in order.
    alphas : sequence of float, default (0.05, 0.01)

    Returns
    -------
    DataFrame
        Columns :data:`HEADLINE_COLUMNS`. ``expected_exceptions`` is ``alpha * n_obs``;
        ``fz0_diff`` is the method's mean FZ0 minus the benchmark's on their common days
        (negative: lower loss than the benchmark) and ``dm_p`` its two-sided
        Diebold–Mariano p-value (both NaN for the benchmark itself); ``tl_red`` counts the
        rolling 250-day windows in the red zone at that alpha; ``primary`` marks the
        primary method's rows. Other methods follow in the order of ``backtests``.

    Raises
    ------
    ValueError
        If a series has no backtests or the primary method has none for a series.
    """
    alphas = check_alphas(alphas)
    bt = _lookup(backtests, ("series", "method", "alpha"))
    tl = _lookup(traffic, ("series", "method", "alpha"))
    dms = _dm_rows(dm, benchmark)
    pits = _lookup(pit, ("series", "method"))
    crashes = _lookup(crash, ("series", "method", "alpha"))
    rows = []
    for name in series:
        if not (backtests["series"] == name).any():
            raise ValueError(f"backtests has no rows for the headline series {name!r}")
        for alpha in alphas:
            ak = round(float(alpha), 6)
            for method in _ordered_methods(backtests, name, primary):
                key = (name, method, ak)
                row = bt.get(key, {})
                n_obs = row.get("n_obs", math.nan)
                rows.append(
                    {
                        "series": name,
                        "alpha": float(alpha),
                        "method": method,
                        "primary": method == primary,
                        "n_obs": n_obs,
                        "n_exceptions": row.get("n_exceptions", math.nan),
                        "expected_exceptions": float(alpha) * float(n_obs),
                        "kupiec_p": row.get("kupiec_p", math.nan),
                        "christoffersen_cc_p": row.get("christoffersen_cc_p", math.nan),
                        "as_z2_p": row.get("as_z2_p", math.nan),
                        "tl_red": tl.get(key, {}).get("red", math.nan),
                        "pit_ks_p": pits.get((name, method), {}).get("pit_ks_p", math.nan),
                        "fz0_mean": row.get("fz0_mean", math.nan),
                        "fz0_diff": dms.get(key, {}).get("mean_loss_diff", math.nan),
                        "dm_p": dms.get(key, {}).get("dm_p", math.nan),
                        "crash_days": crashes.get(key, {}).get("crash_days", math.nan),
                        "crash_exceptions": crashes.get(key, {}).get("crash_exceptions", math.nan),
                    }
                )
    return pd.DataFrame(rows, columns=list(HEADLINE_COLUMNS))


def goal_table(
    headline: pd.DataFrame,
    method: str,
    *,
    level: float = GOAL["level"],
    max_red: float = GOAL["max_red"],
    max_crash_exceptions: float = GOAL["max_crash_exceptions"],
    crash_alpha: float = GOAL["crash_alpha"],
) -> pd.DataFrame:
    """Check one method against the study's goal (:data:`GOAL`), criterion by criterion.

    Parameters
    ----------
    headline : DataFrame
        :func:`headline_table` output.
    method : str
        The method checked (usually the primary one).
    level, max_red, max_crash_exceptions, crash_alpha
        The goal's thresholds (defaults: :data:`GOAL`).

    Returns
    -------
    DataFrame
        ``series, alpha, criterion, column, value, bound, met``, one row per (series,
        alpha) and criterion: ``fz0_below_benchmark`` (``fz0_diff < 0``), ``kupiec``,
        ``christoffersen_cc`` and ``acerbi_szekely`` (p-value ``>= level``),
        ``traffic_light`` (``tl_red <= max_red``) and, at ``crash_alpha`` only,
        ``crash_exceptions`` (``<= max_crash_exceptions``). ``met`` is True / False, or
        None when the value is NaN (cannot be checked: e.g. no forecast day in the crash
        window). The goal is met when every ``met`` is True.
    """
    rows = headline.loc[headline["method"] == method]
    if rows.empty:
        raise ValueError(f"headline has no rows for method {method!r}")
    checks: list[tuple[str, str, str, float]] = [
        ("fz0_below_benchmark", "fz0_diff", "<", 0.0),
        ("kupiec", "kupiec_p", ">=", level),
        ("christoffersen_cc", "christoffersen_cc_p", ">=", level),
        ("acerbi_szekely", "as_z2_p", ">=", level),
        ("traffic_light", "tl_red", "<=", max_red),
    ]
    out = []
    for rec in rows.to_dict("records"):
        here = list(checks)
        if math.isclose(float(rec["alpha"]), crash_alpha):
            here.append(("crash_exceptions", "crash_exceptions", "<=", max_crash_exceptions))
        for criterion, column, op, bound in here:
            value = float(rec[column])
            met: bool | None
            if math.isnan(value):
                met = None
            elif op == "<":
                met = value < bound
            elif op == ">=":
                met = value >= bound
            else:
                met = value <= bound
            out.append(
                {
                    "series": rec["series"],
                    "alpha": float(rec["alpha"]),
                    "criterion": criterion,
                    "column": column,
                    "value": value,
                    "bound": f"{op} {bound:g}",
                    "met": met,
                }
            )
    return pd.DataFrame(out, columns=list(GOAL_COLUMNS))


#: Columns of the primary method copied to ``backtests.json`` (key suffix -> column).
_METRIC_COLUMNS: dict[str, str] = {
    "fz0": "fz0_mean",
    "dm_p": "dm_p",
    "n_exceptions": "n_exceptions",
    "kupiec_p": "kupiec_p",
    "cc_p": "christoffersen_cc_p",
    "as_z2_p": "as_z2_p",
    "tl_red": "tl_red",
    "pit_ks_p": "pit_ks_p",
    "crash_exceptions": "crash_exceptions",
}


#: Keys of ``backtests.json`` that are counts (written as integers).
_COUNT_KEYS = frozenset({"n_exceptions", "tl_red", "crash_exceptions"})


def headline_metrics(headline: pd.DataFrame, *, primary: str, benchmark: str) -> dict[str, Any]:
    """The few numbers ``dvc metrics show`` prints for the coverage stage.

    Parameters
    ----------
    headline : DataFrame
        :func:`headline_table` output.
    primary : str
        The study's primary method.
    benchmark : str
        The Diebold–Mariano reference method.

    Returns
    -------
    dict
        ``{"primary_method": primary, "benchmark": benchmark, <series>: {"alpha_0.05":
        {best_method, <benchmark>_fz0, primary_fz0, primary_dm_p, primary_n_exceptions,
        primary_kupiec_p, primary_cc_p, primary_as_z2_p, primary_tl_red,
        primary_pit_ks_p, primary_crash_exceptions}}, "family_wise": {n_tests,
        n_rejected_raw, expected_by_chance, chance_low, chance_high, n_rejected_holm}}``
        (the primary method's battery,
        :func:`~diffrisk.evaluation.multiplicity.family_summary`); ``best_method`` has the
        lowest mean FZ0 of the series and alpha. NaN values are dropped (JSON has none).
        The full grid is ``reports/tables/headline.csv``.
    """
    out: dict[str, Any] = {"primary_method": primary, "benchmark": benchmark}
    for (name, alpha), rows in headline.groupby(["series", "alpha"], sort=False):
        by_method = rows.set_index("method")
        fz0 = by_method["fz0_mean"].astype(float).dropna()
        cell: dict[str, Any] = {"best_method": str(fz0.idxmin()) if len(fz0) else None}
        if benchmark in by_method.index:
            cell[f"{benchmark}_fz0"] = float(by_method.loc[benchmark, "fz0_mean"])
        if primary in by_method.index:
            for key, column in _METRIC_COLUMNS.items():
                value = float(by_method.loc[primary, column])
                if not math.isnan(value):
                    cell[f"primary_{key}"] = int(value) if key in _COUNT_KEYS else value
        out.setdefault(str(name), {})[f"alpha_{float(alpha):g}"] = cell
    family = family_summary(headline.loc[headline["method"] == primary])
    if not family.empty:
        rec = family.iloc[0]
        out["family_wise"] = {
            key: (int(rec[key]) if key.startswith("n_") else float(rec[key]))
            for key in FAMILY_COLUMNS[1:-1]  # the numbers (not method, rejected_holm)
        }
    return out
