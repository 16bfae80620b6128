"""The paper's Tables 1-3 from the backtest table."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.reporting.formatting import write_table
from diffrisk.reporting.style import (
    SERIES_ORDER,
    TABLE_CAPTIONS,
    alpha_sort_key,
    method_label,
    pct_text,
    series_label,
    series_rank,
    sort_methods,
)


def require_frame(frame: Any, columns: Sequence[str], name: str) -> pd.DataFrame:
    """``frame`` if it is a DataFrame with ``columns``; ``ValueError`` naming ``name`` otherwise."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; expected at least {list(columns)}")
    return frame


def _keyed_rows(
    frame: pd.DataFrame, keys: Sequence[str], name: str
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Map (series, method, alpha_key, ...) to the row as a dict; reject duplicates."""
    work = frame.copy()
    work["alpha"] = work["alpha"].astype(float).map(alpha_sort_key)
    dup = work.duplicated(list(keys))
    if dup.any():
        first = work.loc[dup, list(keys)].iloc[0].to_dict()
        raise ValueError(f"{name} has duplicate rows for {first}")
    return {tuple(rec[k] for k in keys): rec for rec in work.to_dict("records")}


def select_series(frame: pd.DataFrame, series: Sequence[str] | None, name: str) -> list[str]:
    """The series to show, in report order; ``ValueError`` names a series absent from ``frame``."""
    present = set(frame["series"])
    if series is None:
        chosen = [s for s in SERIES_ORDER if s in present]
        if not chosen:
            chosen = sorted(present, key=series_rank)
        if not chosen:
            raise ValueError(f"{name} is empty")
        return chosen
    chosen = list(series)
    unknown = [s for s in chosen if s not in present]
    if unknown:
        raise ValueError(f"{name} has no rows for series {unknown}; it has {sorted(present)}")
    return chosen


def methods_of(frame: pd.DataFrame, series: str) -> list[str]:
    """The methods with rows for ``series``, in report order."""
    return sort_methods(frame.loc[frame["series"] == series, "method"])


def prepare_backtests(
    backtests: pd.DataFrame, columns: Sequence[str], series: Sequence[str] | None
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], list[str]]:
    """Backtest rows keyed by ``(series, method, alpha)`` and the series to show."""
    require_frame(backtests, ("series", "method", "alpha", *columns), "backtests")
    rows = _keyed_rows(backtests, ("series", "method", "alpha"), "backtests")
    return rows, select_series(backtests, series, "backtests")


def table_value(rows: Mapping[tuple[Any, ...], Mapping[str, Any]], key: tuple[Any, ...], col: str):
    """The value of column ``col`` in the row ``key`` (NaN when the row is missing)."""
    rec = rows.get(key)
    if rec is None:
        return math.nan
    value = rec.get(col)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _method_table(
    backtests: pd.DataFrame,
    cols: Sequence[str],
    series: Sequence[str] | None,
    cells: Callable[[Mapping[tuple[Any, ...], Mapping[str, Any]], str, str], dict[str, Any]],
) -> pd.DataFrame:
    """One row per (series block, method): ``Series``, ``Method``, then ``cells(rows, s, m)``."""
    rows, chosen = prepare_backtests(backtests, cols, series)
    records = [
        {"Series": series_label(s), "Method": method_label(m), **cells(rows, s, m)}
        for s in chosen
        for m in methods_of(backtests, s)
    ]
    return pd.DataFrame.from_records(records)


def table1_cvar(
    backtests: pd.DataFrame,
    *,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
) -> pd.DataFrame:
    """Table 1: average CVaR forecast by method, in percent, one block per series.

    Parameters
    ----------
    backtests : DataFrame
        ``reports/tables/backtests.csv``; uses columns ``series, method, alpha,
        avg_cvar`` (``avg_cvar`` is the mean daily CVaR forecast, a return).
    series : sequence of str, optional
        Series blocks, in order. Default: ``portfolio`` and ``sp500`` where present
        (otherwise every series).
    alphas : sequence of float, default (0.05, 0.01)
        Tail probabilities, one column each.

    Returns
    -------
    DataFrame
        Columns ``Series, Method, CVaR 5% (%), CVaR 1% (%)``; rows = methods in
        :data:`METHOD_ORDER`, blocks = series. Values are ``100 * avg_cvar`` (negative
        for a loss); NaN where a (series, method, alpha) row is missing.

    Raises
    ------
    ValueError
        If columns are missing, rows are duplicated or a requested series is absent.
    """

    def cells(rows: Mapping[tuple[Any, ...], Mapping[str, Any]], s: str, m: str) -> dict[str, Any]:
        return {
            f"CVaR {pct_text(a)} (%)": 100
            * table_value(rows, (s, m, alpha_sort_key(a)), "avg_cvar")
            for a in alphas
        }

    return _method_table(backtests, ("avg_cvar",), series, cells)


def table2_coverage(
    backtests: pd.DataFrame,
    *,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
) -> pd.DataFrame:
    """Table 2: VaR exceptions (count, rate in percent) and Kupiec p-values.

    Parameters as for :func:`table1_cvar`; ``backtests`` needs the columns ``series,
    method, alpha, n_obs, n_exceptions, exception_rate, kupiec_p``. An exception on day t
    is ``r_t < VaR_t``.

    Returns
    -------
    DataFrame
        Columns ``Series, Method, Days`` then, per alpha, ``Exc. 5% (n)``,
        ``Exc. 5% (%)`` (``100 * exception_rate``) and ``Kupiec p (5%)``.
    """

    def cells(rows: Mapping[tuple[Any, ...], Mapping[str, Any]], s: str, m: str) -> dict[str, Any]:
        keys = [(s, m, alpha_sort_key(a)) for a in alphas]
        rec: dict[str, Any] = {
            "Days": next(
                (v for v in (table_value(rows, k, "n_obs") for k in keys) if np.isfinite(v)),
                math.nan,
            )
        }
        for a, key in zip(alphas, keys, strict=True):
            tag = pct_text(a)
            rec[f"Exc. {tag} (n)"] = table_value(rows, key, "n_exceptions")
            rec[f"Exc. {tag} (%)"] = 100 * table_value(rows, key, "exception_rate")
            rec[f"Kupiec p ({tag})"] = table_value(rows, key, "kupiec_p")
        return rec

    cols = ("n_obs", "n_exceptions", "exception_rate", "kupiec_p")
    return _method_table(backtests, cols, series, cells)


_ZONES = ("green", "yellow", "red")


_COUNT_COLUMNS = ("n_windows", "windows", "count", "n")


def _zone_column(frame: pd.DataFrame, zone: str, keys: Sequence[str]) -> str:
    """The column of ``frame`` counting windows in ``zone``.

    Exact names win (``green``, ``n_green``, ``green_windows``, ``n_green_windows``), so
    boundary columns such as ``yellow_from``/``red_from`` of
    ``diffrisk.backtest.traffic_light_table`` are not mistaken for counts; otherwise the
    one column whose name contains the zone.
    """
    for name in (zone, f"n_{zone}", f"{zone}_windows", f"n_{zone}_windows"):
        if name in frame.columns:
            return name
    hits = [c for c in frame.columns if zone in str(c).lower() and c not in keys]
    if len(hits) != 1:
        raise ValueError(
            "traffic_windows must have exactly one column per zone (e.g. 'green', "
            f"'n_green') or a 'zone' column; for {zone!r} found {hits}"
        )
    return hits[0]


def _normalise_traffic_windows(traffic_windows: pd.DataFrame) -> pd.DataFrame:
    """Return columns ``series, method, [alpha,] green, yellow, red`` (window counts).

    Accepts a wide table (one column per zone whose name contains ``green``/``yellow``/
    ``red``, e.g. ``n_green``) or a long one (a ``zone`` column and a count column named
    one of ``n_windows, windows, count, n``).
    """
    frame = require_frame(traffic_windows, ("series", "method"), "traffic_windows")
    keys = ["series", "method"] + (["alpha"] if "alpha" in frame.columns else [])
    if "zone" in frame.columns:
        count_col = next((c for c in _COUNT_COLUMNS if c in frame.columns), None)
        if count_col is None:
            raise ValueError(
                "traffic_windows has a 'zone' column but no count column; expected one of "
                f"{list(_COUNT_COLUMNS)}"
            )
        zones = frame["zone"].astype(str).str.lower()
        unknown = sorted(set(zones) - set(_ZONES))
        if unknown:
            raise ValueError(f"traffic_windows zone must be one of {_ZONES}, got {unknown}")
        long = frame.assign(zone=zones)
        wide = long.pivot_table(
            index=keys, columns="zone", values=count_col, aggfunc="sum", fill_value=0
        )
        wide = wide.reindex(columns=list(_ZONES), fill_value=0).reset_index()
        wide.columns.name = None
    else:
        picked = {_zone_column(frame, zone, keys): zone for zone in _ZONES}
        wide = frame[keys + list(picked)].rename(columns=picked)
    if "alpha" in wide.columns:
        wide["alpha"] = wide["alpha"].astype(float).map(alpha_sort_key)
    if wide.duplicated(keys).any():
        raise ValueError(f"traffic_windows has duplicate rows for keys {keys}")
    return wide


def normalise_dm_table(dm_table: pd.DataFrame) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Diebold–Mariano rows (FZ0 loss) keyed by ``(series, method, alpha, benchmark)``."""
    frame = require_frame(
        dm_table, ("series", "method", "alpha", "benchmark", "dm_stat", "dm_p"), "dm_table"
    )
    if "loss" in frame.columns:
        losses = frame["loss"].astype(str).str.lower()
        frame = frame.loc[losses == "fz0"]
        if frame.empty:
            raise ValueError("dm_table has a 'loss' column but no rows with loss 'fz0'")
    return _keyed_rows(frame, ("series", "method", "alpha", "benchmark"), "dm_table")


def _normalise_mc_errors(mc_errors: pd.DataFrame) -> dict[tuple[Any, ...], dict[str, Any]]:
    frame = require_frame(
        mc_errors, ("series", "method", "alpha", "var_se", "cvar_se"), "mc_errors"
    )
    frame = frame.assign(alpha=frame["alpha"].astype(float).map(alpha_sort_key))
    agg = (
        frame.groupby(["series", "method", "alpha"], sort=False)[["var_se", "cvar_se"]]
        .mean()
        .reset_index()
    )
    return _keyed_rows(agg, ("series", "method", "alpha"), "mc_errors")


def extended_table(
    backtests: pd.DataFrame,
    dm_table: pd.DataFrame | None,
    traffic_windows: pd.DataFrame | None,
    mc_errors: pd.DataFrame | None = None,
    *,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
    benchmark: str = "fhs",
) -> pd.DataFrame:
    """Table 3: the extended backtest battery, one block per (series, alpha).

    Parameters
    ----------
    backtests : DataFrame
        Uses ``series, method, alpha, christoffersen_ind_p, christoffersen_cc_p, as_z2,
        as_z2_p, fz0_mean``.
    dm_table : DataFrame or None
        Diebold–Mariano results with columns ``series, method, alpha, benchmark,
        dm_stat, dm_p`` (``mean_loss_diff`` is not needed). If it has a ``loss`` column
        only rows with ``loss == "fz0"`` are used. Rows with ``benchmark == benchmark``
        fill the ``DM vs FHS`` and ``DM p`` columns; the statistic is shown as given.
    traffic_windows : DataFrame or None
        Counts of rolling windows per Basel zone with columns ``series, method``, an
        optional ``alpha`` and either one column per zone (a name containing ``green``,
        ``yellow``, ``red``) or ``zone`` plus a count column (``n_windows``, ``windows``,
        ``count`` or ``n``). Without an ``alpha`` column the counts are taken to be the
        Basel 99 % VaR ones and fill only the alpha = 0.01 rows.
    mc_errors : DataFrame, optional
        Monte-Carlo standard errors of the VaR/CVaR estimates (returns, fractions) with
        columns ``series, method, alpha, var_se, cvar_se`` (other columns ignored), e.g.
        ``reports/tables/mc_error.csv`` of the coverage stage; if there are several rows
        per key (e.g. one per date) they are averaged. Shown in percent.
    series, alphas
        As in :func:`table1_cvar`.
    benchmark : str, default "fhs"
        Method the Diebold–Mariano columns compare against.

    Returns
    -------
    DataFrame
        Columns ``Series, Alpha, Method, Christoffersen ind p, Christoffersen cc p, Z2,
        Z2 p, FZ0, DM vs FHS, DM p, TL green, TL yellow, TL red, MC s.e. VaR (%),
        MC s.e. CVaR (%)``. ``Alpha`` is numeric (0.05). NaN marks "not applicable" (the
        benchmark's own DM cells) or "not supplied".
    """
    cols = ("christoffersen_ind_p", "christoffersen_cc_p", "as_z2", "as_z2_p", "fz0_mean")
    rows, chosen = prepare_backtests(backtests, cols, series)
    dm = normalise_dm_table(dm_table) if dm_table is not None else {}
    mc = _normalise_mc_errors(mc_errors) if mc_errors is not None else {}
    tl: dict[tuple[Any, ...], dict[str, Any]] = {}
    tl_has_alpha = False
    if traffic_windows is not None:
        tl_frame = _normalise_traffic_windows(traffic_windows)
        tl_has_alpha = "alpha" in tl_frame.columns
        keys = ("series", "method", "alpha") if tl_has_alpha else ("series", "method")
        tl = {tuple(rec[k] for k in keys): rec for rec in tl_frame.to_dict("records")}
    records = []
    for s in chosen:
        for a in alphas:
            ak = alpha_sort_key(a)
            for m in methods_of(backtests, s):
                key = (s, m, ak)
                rec: dict[str, Any] = {
                    "Series": series_label(s),
                    "Alpha": float(a),
                    "Method": method_label(m),
                    "Christoffersen ind p": table_value(rows, key, "christoffersen_ind_p"),
                    "Christoffersen cc p": table_value(rows, key, "christoffersen_cc_p"),
                    "Z2": table_value(rows, key, "as_z2"),
                    "Z2 p": table_value(rows, key, "as_z2_p"),
                    "FZ0": table_value(rows, key, "fz0_mean"),
                }
                dm_key = (s, m, ak, benchmark)
                rec[f"DM vs {benchmark.upper()}"] = (
                    table_value(dm, dm_key, "dm_stat") if m != benchmark else math.nan
                )
                rec["DM p"] = table_value(dm, dm_key, "dm_p") if m != benchmark else math.nan
                if tl_has_alpha:
                    tl_key: tuple[Any, ...] | None = (s, m, ak)
                else:
                    tl_key = (s, m) if ak == alpha_sort_key(0.01) else None
                for zone in _ZONES:
                    rec[f"TL {zone}"] = (
                        table_value(tl, tl_key, zone) if tl_key is not None else math.nan
                    )
                rec["MC s.e. VaR (%)"] = 100 * table_value(mc, key, "var_se")
                rec["MC s.e. CVaR (%)"] = 100 * table_value(mc, key, "cvar_se")
                records.append(rec)
    return pd.DataFrame.from_records(records)


def write_paper_tables(
    backtests: pd.DataFrame,
    dm_table: pd.DataFrame | None = None,
    traffic_windows: pd.DataFrame | None = None,
    mc_errors: pd.DataFrame | None = None,
    *,
    series: Sequence[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    benchmark: str = "fhs",
) -> dict[str, dict[str, Path]]:
    """Build and write Tables 1–3 (``table1_cvar``, ``table2_coverage``, ``table3_extended``).

    This is the ``cvar_tables`` stage's single call. Arguments as in
    :func:`table1_cvar`, :func:`table2_coverage` and :func:`extended_table`.

    Returns
    -------
    dict
        stem → ``{"csv", "md", "tex"}`` paths.
    """
    frames = {
        "table1_cvar": table1_cvar(backtests, series=series),
        "table2_coverage": table2_coverage(backtests, series=series),
        "table3_extended": extended_table(
            backtests, dm_table, traffic_windows, mc_errors, series=series, benchmark=benchmark
        ),
    }
    return {
        stem: write_table(frame, stem, TABLE_CAPTIONS[stem], out_dir=out_dir)
        for stem, frame in frames.items()
    }
