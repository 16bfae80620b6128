"""Tables, figures and the study report (DESIGN §5).

Everything here reads outputs of earlier stages (forecast tables, scenario sets, the
backtest tables) and writes presentation files: the paper's Table 1 (average CVaR),
Table 2 (VaR coverage with Kupiec p-values), an extended backtest table, Figures 1–3,
``reports/STUDY.md`` and HTML renderings of the executed notebooks.

Sign convention
---------------
Returns are log returns as fractions (0.01 = 1 %); VaR and CVaR are returns, so they are
negative numbers for a loss; ``alpha`` is the tail probability (0.01 for 99 % VaR); an
exception on day t is ``r_t < VaR_t`` (strict). Tables show VaR, CVaR and exception rates
in percent (so a CVaR of -0.0245 is shown as -2.45).

Determinism
-----------
Files are written atomically through :mod:`diffrisk.io`. Figures are drawn on
``matplotlib.figure.Figure`` objects rendered by the Agg (PNG) and PDF backends without
touching ``pyplot``, so importing this module never changes a notebook's backend and no
figure stays registered after saving. PNG and PDF files carry no timestamp or software
metadata and the only font used is matplotlib's bundled DejaVu Sans, so the same inputs
give byte-identical files (DVC reruns do not churn).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import textwrap
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from . import io, paths
from .backtest import BACKTEST_COLUMNS
from .forecasts import ScenarioSet, cvar_column, var_column

__all__ = [
    "BACKTEST_COLUMNS",
    "METHOD_ORDER",
    "BENCHMARK",
    "TABLE_STEMS",
    "FIGURE_STEMS",
    "COVID_WINDOW",
    "method_label",
    "series_label",
    "method_color",
    "sort_methods",
    "is_ddpm",
    "table1_cvar",
    "table2_coverage",
    "extended_table",
    "write_table",
    "write_paper_tables",
    "style_rc",
    "set_style",
    "save_figure",
    "pit_values",
    "fig1_distribution",
    "fig2_var_vs_returns",
    "fig3_cvar_exceedances",
    "write_paper_figures",
    "study_discussion",
    "write_study_report",
    "render_notebooks_html",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------
# Names, order and colours of methods and series
# --------------------------------------------------------------------------------------


#: Display order of the known methods; DDPM configurations (``ddpm_*``) follow ``ddpm``,
#: any other method comes last, alphabetically.
METHOD_ORDER: tuple[str, ...] = ("hs", "mc_normal", "garch_t", "fhs", "ddpm")

#: The benchmark of the Diebold–Mariano comparisons.
BENCHMARK = "fhs"

_METHOD_LABELS = {
    "hs": "Historical Simulation",
    "mc_normal": "Monte Carlo (normal)",
    "garch_t": "GARCH(1,1)-t",
    "fhs": "Filtered HS",
    "ddpm": "Diffusion model (DDPM)",
}

SERIES_ORDER: tuple[str, ...] = ("portfolio", "sp500")

_SERIES_LABELS = {"portfolio": "Portfolio (equal-weighted)", "sp500": "S&P 500 index"}

# Colour-blind friendly (seaborn "colorblind", after Okabe & Ito), fixed per method so a
# method has the same colour in every figure.
_METHOD_COLORS = {
    "ddpm": "#0173b2",
    "hs": "#de8f05",
    "mc_normal": "#029e73",
    "garch_t": "#cc78bc",
    "fhs": "#d55e00",
}
_EXTRA_COLORS = ("#56b4e9", "#ca9161", "#fbafe4", "#ece133")
_REALISED_COLOR = "0.45"
_REALISED_FILL = "0.78"

#: The COVID-19 crash window highlighted in Figure 3 (S&P 500 peak to end of April 2020).
COVID_WINDOW: tuple[pd.Timestamp, pd.Timestamp] = (
    pd.Timestamp("2020-02-19"),
    pd.Timestamp("2020-04-30"),
)

#: File stems of the tables and figures (DESIGN §5), in report order.
TABLE_STEMS: tuple[str, ...] = ("table1_cvar", "table2_coverage", "table3_extended")
FIGURE_STEMS: tuple[str, ...] = (
    "fig1_distribution",
    "fig2_var_vs_returns",
    "fig3_cvar_exceedances",
)

_TABLE_CAPTIONS = {
    "table1_cvar": (
        "Table 1. Average daily CVaR forecast over the test period, in percent of log "
        "return (negative = loss), at tail probabilities α = 5% and 1%."
    ),
    "table2_coverage": (
        "Table 2. VaR exceptions (days with r_t < VaR_t) at α = 5% and 1%: count, rate in "
        "percent (nominal 5% and 1%) and Kupiec proportion-of-failures p-value."
    ),
    "table3_extended": (
        "Table 3. Extended backtests per series and α: Christoffersen independence and "
        "conditional-coverage p-values; Acerbi–Szekely Z2 and its p-value; mean FZ0 loss "
        "(lower is better); Diebold–Mariano statistic and p-value of the FZ0 loss "
        "difference against Filtered HS; number of rolling 250-day windows in the Basel "
        "green, yellow and red zones; Monte-Carlo standard error of the DDPM VaR and CVaR "
        "(average over days, percent). A dash marks a value that does not apply or was "
        "not computed."
    ),
}

_FIGURE_CAPTIONS = {
    "fig1_distribution": (
        "Figure 1. Simulated versus realised returns: density of the scenarios pooled "
        "over all test days against the realised returns (log scale), QQ plot of the "
        "pooled scenarios against the realised returns, and PIT histograms of the daily "
        "forecasts (uniform if the daily forecasts are calibrated)."
    ),
    "fig2_var_vs_returns": (
        "Figure 2. Predicted VaR at 5% and 1% against the realised returns over the test "
        "period, one panel per method; exceptions marked."
    ),
    "fig3_cvar_exceedances": (
        "Figure 3. VaR-to-CVaR band per method, VaR exceedances and returns beyond the "
        "CVaR; the COVID-19 crash window (19 Feb – 30 Apr 2020) shaded."
    ),
}


def is_ddpm(method: str) -> bool:
    """Return True for the diffusion model and its configurations (``ddpm``, ``ddpm_*``)."""
    return method == "ddpm" or method.startswith("ddpm_")


def method_label(method: str) -> str:
    """Return the display name of a method key.

    Examples
    --------
    >>> method_label("garch_t")
    'GARCH(1,1)-t'
    >>> method_label("ddpm_ddim")
    'Diffusion model (DDPM, ddim)'
    """
    if method in _METHOD_LABELS:
        return _METHOD_LABELS[method]
    if method.startswith("ddpm_"):
        return f"Diffusion model (DDPM, {method[5:].replace('_', ' ')})"
    return method


def series_label(series: str) -> str:
    """Return the display name of a series (``portfolio``, ``sp500``, or the ticker)."""
    return _SERIES_LABELS.get(series, series)


def method_color(method: str) -> str:
    """Return the fixed colour of a method (a pure function of its name).

    Known methods have fixed colours; other names (e.g. DDPM configurations) get one of a
    few extra colour-blind friendly colours chosen from a CRC-32 of the name.
    """
    if method in _METHOD_COLORS:
        return _METHOD_COLORS[method]
    return _EXTRA_COLORS[zlib.crc32(method.encode("utf-8")) % len(_EXTRA_COLORS)]


def _method_rank(method: str) -> tuple[int, str]:
    if method in METHOD_ORDER:
        return METHOD_ORDER.index(method), method
    if is_ddpm(method):
        return len(METHOD_ORDER), method
    return len(METHOD_ORDER) + 1, method


def sort_methods(methods: Iterable[str]) -> list[str]:
    """Return the distinct methods in display order (see :data:`METHOD_ORDER`)."""
    return sorted(set(methods), key=_method_rank)


def _series_rank(series: str) -> tuple[int, str]:
    if series in SERIES_ORDER:
        return SERIES_ORDER.index(series), series
    return len(SERIES_ORDER), series


def _alpha_key(alpha: float) -> float:
    return round(float(alpha), 6)


def _pct_text(alpha: float) -> str:
    return f"{100 * float(alpha):g}%"


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------


def _require_frame(frame: Any, columns: Sequence[str], name: str) -> pd.DataFrame:
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
    work["alpha"] = work["alpha"].astype(float).map(_alpha_key)
    dup = work.duplicated(list(keys))
    if dup.any():
        first = work.loc[dup, list(keys)].iloc[0].to_dict()
        raise ValueError(f"{name} has duplicate rows for {first}")
    return {tuple(rec[k] for k in keys): rec for rec in work.to_dict("records")}


def _select_series(frame: pd.DataFrame, series: Sequence[str] | None, name: str) -> list[str]:
    present = set(frame["series"])
    if series is None:
        chosen = [s for s in SERIES_ORDER if s in present]
        if not chosen:
            chosen = sorted(present, key=_series_rank)
        if not chosen:
            raise ValueError(f"{name} is empty")
        return chosen
    chosen = list(series)
    unknown = [s for s in chosen if s not in present]
    if unknown:
        raise ValueError(f"{name} has no rows for series {unknown}; it has {sorted(present)}")
    return chosen


def _methods_of(frame: pd.DataFrame, series: str) -> list[str]:
    return sort_methods(frame.loc[frame["series"] == series, "method"])


def _prepare_backtests(
    backtests: pd.DataFrame, columns: Sequence[str], series: Sequence[str] | None
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], list[str]]:
    _require_frame(backtests, ("series", "method", "alpha", *columns), "backtests")
    rows = _keyed_rows(backtests, ("series", "method", "alpha"), "backtests")
    return rows, _select_series(backtests, series, "backtests")


def _value(rows: Mapping[tuple[Any, ...], Mapping[str, Any]], key: tuple[Any, ...], col: str):
    rec = rows.get(key)
    if rec is None:
        return math.nan
    value = rec.get(col)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


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
    rows, chosen = _prepare_backtests(backtests, ("avg_cvar",), series)
    records = []
    for s in chosen:
        for m in _methods_of(backtests, s):
            rec: dict[str, Any] = {"Series": series_label(s), "Method": method_label(m)}
            for a in alphas:
                rec[f"CVaR {_pct_text(a)} (%)"] = 100 * _value(
                    rows, (s, m, _alpha_key(a)), "avg_cvar"
                )
            records.append(rec)
    return pd.DataFrame.from_records(records)


def table2_coverage(
    backtests: pd.DataFrame,
    *,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
) -> pd.DataFrame:
    """Table 2: VaR exceptions (count, rate in percent) and Kupiec p-values.

    Parameters
    ----------
    backtests : DataFrame
        Uses columns ``series, method, alpha, n_obs, n_exceptions, exception_rate,
        kupiec_p``. An exception on day t is ``r_t < VaR_t``.
    series, alphas
        As in :func:`table1_cvar`.

    Returns
    -------
    DataFrame
        Columns ``Series, Method, Days`` then, per alpha, ``Exc. 5% (n)``,
        ``Exc. 5% (%)`` (``100 * exception_rate``) and ``Kupiec p (5%)``.
    """
    cols = ("n_obs", "n_exceptions", "exception_rate", "kupiec_p")
    rows, chosen = _prepare_backtests(backtests, cols, series)
    records = []
    for s in chosen:
        for m in _methods_of(backtests, s):
            keys = [(s, m, _alpha_key(a)) for a in alphas]
            days = next(
                (v for v in (_value(rows, k, "n_obs") for k in keys) if np.isfinite(v)),
                math.nan,
            )
            rec: dict[str, Any] = {
                "Series": series_label(s),
                "Method": method_label(m),
                "Days": days,
            }
            for a, key in zip(alphas, keys, strict=True):
                tag = _pct_text(a)
                rec[f"Exc. {tag} (n)"] = _value(rows, key, "n_exceptions")
                rec[f"Exc. {tag} (%)"] = 100 * _value(rows, key, "exception_rate")
                rec[f"Kupiec p ({tag})"] = _value(rows, key, "kupiec_p")
            records.append(rec)
    return pd.DataFrame.from_records(records)


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
    frame = _require_frame(traffic_windows, ("series", "method"), "traffic_windows")
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
        wide["alpha"] = wide["alpha"].astype(float).map(_alpha_key)
    if wide.duplicated(keys).any():
        raise ValueError(f"traffic_windows has duplicate rows for keys {keys}")
    return wide


def _normalise_dm_table(dm_table: pd.DataFrame) -> dict[tuple[Any, ...], dict[str, Any]]:
    frame = _require_frame(
        dm_table, ("series", "method", "alpha", "benchmark", "dm_stat", "dm_p"), "dm_table"
    )
    if "loss" in frame.columns:
        losses = frame["loss"].astype(str).str.lower()
        frame = frame.loc[losses == "fz0"]
        if frame.empty:
            raise ValueError("dm_table has a 'loss' column but no rows with loss 'fz0'")
    return _keyed_rows(frame, ("series", "method", "alpha", "benchmark"), "dm_table")


def _normalise_mc_errors(mc_errors: pd.DataFrame) -> dict[tuple[Any, ...], dict[str, Any]]:
    frame = _require_frame(
        mc_errors, ("series", "method", "alpha", "var_se", "cvar_se"), "mc_errors"
    )
    frame = frame.assign(alpha=frame["alpha"].astype(float).map(_alpha_key))
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
    benchmark: str = BENCHMARK,
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
    rows, chosen = _prepare_backtests(backtests, cols, series)
    dm = _normalise_dm_table(dm_table) if dm_table is not None else {}
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
            ak = _alpha_key(a)
            for m in _methods_of(backtests, s):
                key = (s, m, ak)
                rec: dict[str, Any] = {
                    "Series": series_label(s),
                    "Alpha": float(a),
                    "Method": method_label(m),
                    "Christoffersen ind p": _value(rows, key, "christoffersen_ind_p"),
                    "Christoffersen cc p": _value(rows, key, "christoffersen_cc_p"),
                    "Z2": _value(rows, key, "as_z2"),
                    "Z2 p": _value(rows, key, "as_z2_p"),
                    "FZ0": _value(rows, key, "fz0_mean"),
                }
                dm_key = (s, m, ak, benchmark)
                rec["DM vs FHS"] = _value(dm, dm_key, "dm_stat") if m != benchmark else math.nan
                rec["DM p"] = _value(dm, dm_key, "dm_p") if m != benchmark else math.nan
                if tl_has_alpha:
                    tl_key: tuple[Any, ...] | None = (s, m, ak)
                else:
                    tl_key = (s, m) if ak == _alpha_key(0.01) else None
                for zone in _ZONES:
                    rec[f"TL {zone}"] = _value(tl, tl_key, zone) if tl_key is not None else math.nan
                rec["MC s.e. VaR (%)"] = 100 * _value(mc, key, "var_se")
                rec["MC s.e. CVaR (%)"] = 100 * _value(mc, key, "cvar_se")
                records.append(rec)
    return pd.DataFrame.from_records(records)


# ---- formatting ----------------------------------------------------------------------

_KIND_RULES: tuple[tuple[str, str], ...] = (
    (r"^(Series|Method)$", "text"),
    (r"^Alpha$", "alpha"),
    (r"^MC s\.e\.", "pct3"),
    (r"\(%\)$", "pct2"),
    (r"(^|\s)p(\s|$)|p-value", "pvalue"),
    (r"\(n\)$|^Days$|^TL ", "int"),
    (r"^FZ0", "loss"),
)

_FORMATTERS: dict[str, Callable[[float], str]] = {
    "pct2": lambda x: f"{x:.2f}",
    "pct3": lambda x: f"{x:.3f}",
    "pvalue": lambda x: "<0.001" if x < 0.001 else f"{x:.3f}",
    "int": lambda x: f"{round(x):d}",
    "loss": lambda x: f"{x:.4f}",
    "stat": lambda x: f"{x:.2f}",
    "alpha": lambda x: f"{100 * x:g}%",
}


def _column_kind(frame: pd.DataFrame, column: str, formats: Mapping[str, str]) -> str:
    if column in formats:
        kind = formats[column]
        if kind not in _FORMATTERS and kind != "text":
            raise ValueError(
                f"formats[{column!r}] must be one of {sorted([*_FORMATTERS, 'text'])}, got {kind!r}"
            )
        return kind
    for pattern, kind in _KIND_RULES:
        if re.search(pattern, str(column)):
            return kind
    return "stat" if pd.api.types.is_numeric_dtype(frame[column]) else "text"


def _format_cell(value: Any, kind: str) -> str | None:
    """Return the cell text, or None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "text":
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return None if math.isnan(number) else ("inf" if number > 0 else "-inf")
    return _FORMATTERS[kind](number)


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "α": r"$\alpha$",
    "–": "--",
    "—": "---",
}


def _latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def _latex_number(text: str) -> str:
    if text.startswith("<"):
        return "$<$" + text[1:]
    if text.startswith("-"):
        return "$-$" + _latex_escape(text[1:])
    return _latex_escape(text)


def _block_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in ("Series", "Alpha") if c in frame.columns]


def _markdown_table(frame: pd.DataFrame, kinds: Mapping[str, str]) -> str:
    """GitHub table; block columns (Series, Alpha) shown only where their value changes."""
    columns = list(frame.columns)
    blocks = _block_columns(frame)
    header = "| " + " | ".join(str(c).replace("|", r"\|") for c in columns) + " |"
    align = "| " + " | ".join("---" if kinds[c] == "text" else "---:" for c in columns) + " |"
    lines = [header, align]
    previous: tuple[Any, ...] | None = None
    for rec in frame.to_dict("records"):
        block_values = tuple(rec[c] for c in blocks)
        cells = []
        for c in columns:
            text = _format_cell(rec[c], kinds[c])
            if c in blocks and previous is not None:
                depth = blocks.index(c) + 1
                if block_values[:depth] == previous[:depth]:
                    text = ""
            cells.append("–" if text is None else text.replace("|", r"\|"))
        previous = block_values
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _latex_table(frame: pd.DataFrame, kinds: Mapping[str, str], caption: str, label: str) -> str:
    """Booktabs table; each (Series, Alpha) block gets a header row and a rule."""
    blocks = _block_columns(frame)
    columns = [c for c in frame.columns if c not in blocks]
    spec = "".join("l" if kinds[c] == "text" else "r" for c in columns)
    # Wide tables (the extended one) get a smaller font and tighter columns.
    size = [r"\small"] if len(columns) <= 8 else [r"\scriptsize", r"\setlength{\tabcolsep}{3pt}"]
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        *size,
        rf"\caption{{{_latex_escape(caption)}}}",
        rf"\label{{tab:{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_latex_escape(str(c)) for c in columns) + r" \\",
        r"\midrule",
    ]
    previous: tuple[Any, ...] | None = None
    for rec in frame.to_dict("records"):
        block_values = tuple(rec[c] for c in blocks)
        if blocks and block_values != previous:
            if previous is not None:
                lines.append(r"\midrule")
            parts = []
            for c, v in zip(blocks, block_values, strict=True):
                if kinds[c] == "alpha":
                    parts.append(rf"$\alpha = {100 * float(v):g}\%$")
                else:
                    parts.append(_latex_escape(str(v)))
            lines.append(
                rf"\multicolumn{{{len(columns)}}}{{l}}{{\textit{{{', '.join(parts)}}}}} \\"
            )
        previous = block_values
        cells = []
        for c in columns:
            text = _format_cell(rec[c], kinds[c])
            if text is None:
                cells.append("--")
            elif kinds[c] == "text":
                cells.append(_latex_escape(text))
            else:
                cells.append(_latex_number(text))
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_table(
    frame: pd.DataFrame,
    stem: str,
    caption: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    formats: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write a table as ``<stem>.csv``, ``<stem>.md`` (GitHub) and ``<stem>.tex`` (booktabs).

    Parameters
    ----------
    frame : DataFrame
        The table, e.g. from :func:`table1_cvar`. Columns ``Series`` and ``Alpha`` (when
        present) define row blocks: the Markdown shows them only where they change, the
        LaTeX turns them into a block header row.
    stem : str
        File name without extension (``table1_cvar``).
    caption : str
        Caption: the first paragraph of the Markdown file and the LaTeX caption.
    out_dir : path-like, optional
        Folder; default :func:`diffrisk.paths.tables_dir`.
    formats : mapping column → kind, optional
        Override the number format of a column; kinds are ``text, pct2, pct3, pvalue,
        int, loss, stat, alpha``. By default the kind follows the column name: ``(%)`` →
        two decimals, a ``p`` word → p-value (three decimals, ``<0.001``), ``(n)``,
        ``Days`` and ``TL`` → integer, ``FZ0`` → four decimals, ``MC s.e.`` → three
        decimals, other numbers → two decimals.

    Returns
    -------
    dict
        ``{"csv": path, "md": path, "tex": path}``.

    Notes
    -----
    The CSV keeps full precision (``%.10g``) and every cell (no blanking); missing
    values are empty in the CSV, ``–`` in Markdown and ``--`` in LaTeX. Each file is
    written atomically.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if not stem or Path(stem).name != stem or "." in stem:
        raise ValueError(f"stem must be a bare file name without extension, got {stem!r}")
    formats = dict(formats or {})
    unknown = sorted(set(formats) - set(frame.columns))
    if unknown:
        raise ValueError(f"formats names columns {unknown} that the frame does not have")
    kinds = {c: _column_kind(frame, c, formats) for c in frame.columns}
    folder = Path(out_dir) if out_dir is not None else paths.tables_dir()
    written = {
        "csv": io.write_csv(folder / f"{stem}.csv", frame, index=False, float_format="%.10g"),
        "md": io.write_text(
            folder / f"{stem}.md", f"{caption}\n\n{_markdown_table(frame, kinds)}\n"
        ),
        "tex": io.write_text(folder / f"{stem}.tex", _latex_table(frame, kinds, caption, stem)),
    }
    logger.info("wrote table %s (%d rows) to %s", stem, len(frame), folder)
    return written


def write_paper_tables(
    backtests: pd.DataFrame,
    dm_table: pd.DataFrame | None = None,
    traffic_windows: pd.DataFrame | None = None,
    mc_errors: pd.DataFrame | None = None,
    *,
    series: Sequence[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
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
            backtests, dm_table, traffic_windows, mc_errors, series=series
        ),
    }
    return {
        stem: write_table(frame, stem, _TABLE_CAPTIONS[stem], out_dir=out_dir)
        for stem, frame in frames.items()
    }


# --------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------

_FIG_WIDTH = 7.0  # inches: a two-column paper page
_DPI = 150


def style_rc() -> dict[str, Any]:
    """Return the rc parameters of the figure style (seaborn ``whitegrid``, ``paper``).

    Fonts are pinned to matplotlib's bundled DejaVu Sans so that output does not depend
    on the fonts installed on the machine; PDF fonts are embedded as TrueType (42).
    """
    import seaborn as sns

    rc: dict[str, Any] = {}
    rc.update(sns.axes_style("whitegrid"))
    rc.update(sns.plotting_context("paper", font_scale=0.9))
    rc.update(
        {
            "font.family": ["sans-serif"],
            "font.sans-serif": ["DejaVu Sans"],
            "axes.prop_cycle": matplotlib.cycler(
                color=[method_color(m) for m in METHOD_ORDER] + list(_EXTRA_COLORS)
            ),
            "axes.titlesize": 8.5,
            "axes.titlelocation": "left",
            "legend.frameon": False,
            "patch.force_edgecolor": False,
            "figure.dpi": _DPI,
            "savefig.dpi": _DPI,
            "pdf.fonttype": 42,
            "svg.hashsalt": "diffrisk",
            "date.converter": "concise",
        }
    )
    return rc


def set_style() -> None:
    """Apply the figure style globally (for notebooks); the figure functions apply it anyway."""
    matplotlib.rcParams.update(style_rc())


def save_figure(
    fig: Figure,
    stem: str,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    dpi: int = _DPI,
) -> tuple[Path, Path]:
    """Write ``<stem>.png`` (``dpi``) and ``<stem>.pdf`` atomically, without timestamps.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    stem : str
        File name without extension.
    out_dir : path-like, optional
        Folder; default :func:`diffrisk.paths.figures_dir`.
    dpi : int, default 150

    Returns
    -------
    tuple of Path
        The PNG and the PDF.

    Notes
    -----
    PNG metadata ``Software`` and PDF metadata ``CreationDate`` are removed so that the
    bytes depend only on the drawing.
    """
    folder = Path(out_dir) if out_dir is not None else paths.figures_dir()
    png, pdf = folder / f"{stem}.png", folder / f"{stem}.pdf"
    with io.atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    with io.atomic_path(pdf) as tmp:
        fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
    logger.info("wrote figure %s (png + pdf) to %s", stem, folder)
    return png, pdf


def pit_values(scenarios: ArrayLike, realized: ArrayLike) -> NDArray[np.float64]:
    """Probability integral transform of each realised return within its day's scenarios.

    ``u_t = (#{x_ti < r_t} + 0.5 #{x_ti = r_t}) / N``: the empirical predictive CDF of day t
    at the realised return (ties counted half). For calibrated daily forecasts the
    ``u_t`` are uniform on [0, 1]; ``u_t < alpha`` is (up to ties) a VaR exception.

    Parameters
    ----------
    scenarios : array_like (D, N)
        Predictive scenarios per day (returns).
    realized : array_like (D,)
        Realised returns.

    Returns
    -------
    ndarray (D,)

    Examples
    --------
    >>> pit_values([[1.0, 2.0, 3.0, 4.0]], [2.0])
    array([0.375])
    """
    sc = np.asarray(scenarios, dtype=float)
    r = np.asarray(realized, dtype=float)
    if sc.ndim != 2 or sc.shape[1] == 0:
        raise ValueError(f"scenarios must have shape (days, N) with N >= 1, got {sc.shape}")
    if r.shape != (sc.shape[0],):
        raise ValueError(f"realized must have shape ({sc.shape[0]},), got {r.shape}")
    if np.isnan(sc).any() or np.isnan(r).any():
        raise ValueError("scenarios and realized must not contain NaN")
    less = np.sum(sc < r[:, None], axis=1)
    ties = np.sum(sc == r[:, None], axis=1)
    return (less + 0.5 * ties) / sc.shape[1]


def _realized_series(realized: pd.Series | pd.DataFrame, series: str) -> pd.Series:
    """Realised returns of ``series`` indexed by date, from any of the accepted layouts."""
    if isinstance(realized, pd.Series):
        out = realized
    elif isinstance(realized, pd.DataFrame) and {"date", "series", "realized"} <= set(
        realized.columns
    ):
        sub = realized.loc[realized["series"] == series, ["date", "realized"]]
        sub = sub.drop_duplicates()
        if sub["date"].duplicated().any():
            raise ValueError(f"realized has conflicting returns for series {series!r}")
        out = sub.set_index("date")["realized"]
    elif isinstance(realized, pd.DataFrame) and series in realized.columns:
        out = realized[series]
    else:
        raise ValueError(
            "realized must be a Series indexed by date, a wide DataFrame with a column "
            f"{series!r}, or a long table with columns date, series, realized"
        )
    out = out.copy()
    out.index = pd.DatetimeIndex(pd.to_datetime(out.index))
    return out.astype(float)


def _realized_on(returns: pd.Series, dates: pd.DatetimeIndex, what: str) -> NDArray[np.float64]:
    values = returns.reindex(pd.DatetimeIndex(dates))
    missing = values.isna().to_numpy()
    if missing.any():
        first = pd.Timestamp(values.index[missing][0]).date()
        raise ValueError(
            f"realized has no return on {int(missing.sum())} of the {len(values)} dates of "
            f"{what} (first: {first})"
        )
    return values.to_numpy(dtype=float)


def _density(x: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.float64]:
    """Histogram density normalised by all points (values outside the edges count)."""
    counts, _ = np.histogram(x, bins=edges)
    dens = counts / (x.size * np.diff(edges))
    return np.where(dens > 0, dens, np.nan)


def _draw_fig1(
    data: Mapping[str, tuple[NDArray[np.float64], NDArray[np.float64]]],
    realized_all: NDArray[np.float64],
    series: str,
    bins: int,
    pit_bins: int,
) -> Figure:
    methods = list(data)
    fig = Figure(figsize=(_FIG_WIDTH, 5.4), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.25, 1.0])
    ax_den, ax_qq = top.subplots(1, 2)
    pooled = {m: data[m][0].reshape(-1) for m in methods}

    lo = min([realized_all.min()] + [float(np.quantile(p, 1e-4)) for p in pooled.values()])
    hi = max([realized_all.max()] + [float(np.quantile(p, 1 - 1e-4)) for p in pooled.values()])
    pad = 0.05 * (hi - lo)
    edges = np.linspace(lo - pad, hi + pad, bins + 1) * 100
    realised_density = _density(realized_all * 100, edges)
    method_density = {m: _density(pooled[m] * 100, edges) for m in methods}
    ax_den.bar(
        edges[:-1],
        np.nan_to_num(realised_density),
        width=np.diff(edges),
        align="edge",
        color=_REALISED_FILL,
        linewidth=0,
        label=f"Realised (T = {realized_all.size})",
    )
    for m in methods:
        ax_den.stairs(
            method_density[m], edges, color=method_color(m), linewidth=1.1, label=method_label(m)
        )
    positive = np.concatenate([realised_density, *method_density.values()])
    positive = positive[np.isfinite(positive)]
    ax_den.set_yscale("log", nonpositive="clip")
    # Headroom above the peak keeps the legend off the curves.
    ax_den.set_ylim(0.5 * positive.min(), 60 * positive.max())
    ax_den.set_xlim(edges[0], edges[-1])
    ax_den.set_xlabel("Daily log return (%)")
    ax_den.set_ylabel("Density (log scale)")
    ax_den.set_title("(a) Pooled scenarios vs realised returns")
    ax_den.legend(loc="upper left", fontsize=6, ncols=2)

    realized_sorted = np.sort(realized_all) * 100
    probs = (np.arange(1, realized_sorted.size + 1) - 0.5) / realized_sorted.size
    for m in methods:
        q = np.quantile(pooled[m], probs) * 100
        ax_qq.plot(
            realized_sorted, q, marker=".", markersize=2.5, linewidth=0.7, color=method_color(m)
        )
    lim = (float(edges[0]), float(edges[-1]))
    ax_qq.plot(lim, lim, color="black", linewidth=0.8, linestyle="--", label="45° line")
    ax_qq.set_xlim(lim)
    ax_qq.set_ylim(lim)
    ax_qq.set_xlabel("Realised quantile (%)")
    ax_qq.set_ylabel("Pooled scenario quantile (%)")
    ax_qq.set_title("(b) QQ plot")
    ax_qq.legend(loc="upper left", fontsize=6.5)

    axes_pit = np.atleast_1d(bottom.subplots(1, len(methods), sharey=True))
    bottom.suptitle(
        "(c) PIT of the daily forecasts, u_t = F_t(r_t)", x=0.01, ha="left", fontsize=8.5
    )
    pit_edges = np.linspace(0.0, 1.0, pit_bins + 1)
    for ax, m in zip(axes_pit, methods, strict=True):
        scen, real = data[m]
        u = pit_values(scen, real)
        n = u.size
        band = stats.binom.ppf([0.025, 0.975], n, 1.0 / pit_bins) * pit_bins / n
        counts, _ = np.histogram(u, bins=pit_edges)
        ax.axhspan(band[0], band[1], color="0.88", linewidth=0, label="95% band")
        ax.stairs(counts * pit_bins / n, pit_edges, fill=True, color=method_color(m), alpha=0.8)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ks_p = float(stats.kstest(u, "uniform").pvalue)
        ks_text = "<0.001" if ks_p < 0.001 else f"{ks_p:.3f}"
        title = textwrap.fill(method_label(m), width=22)
        ax.set_title(f"{title}\nKS p = {ks_text}", fontsize=7)
        ax.set_xlabel("u")
        ax.set_xlim(0, 1)
    axes_pit[0].set_ylabel("Density")
    fig.suptitle(f"{series_label(series)}: simulated versus realised returns", fontsize=9)
    return fig


def fig1_distribution(
    realized: pd.Series | pd.DataFrame,
    scenarios_by_method: Mapping[str, ScenarioSet],
    series: str,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    stem: str = "fig1_distribution",
    bins: int = 80,
    pit_bins: int = 10,
) -> tuple[Path, Path]:
    """Figure 1: distribution of simulated versus realised returns, and PIT histograms.

    Parameters
    ----------
    realized : Series or DataFrame
        Realised log returns: a Series indexed by date (of ``series``), a wide frame
        with a column ``series`` (as ``diffrisk.data.load_returns``), or a long forecast
        table with columns ``date, series, realized``. Must cover every scenario date.
    scenarios_by_method : mapping method → ScenarioSet
        Predictive scenarios (S × D × N) per method (the paper: ``ddpm``, ``mc_normal``,
        ``hs``); panels follow :data:`METHOD_ORDER`.
    series : str
        The series to plot.
    out_dir, stem
        Output folder (default ``reports/figures``) and file stem.
    bins : int, default 80
        Histogram bins of panel (a).
    pit_bins : int, default 10
        Bins of the PIT histograms.

    Returns
    -------
    tuple of Path
        PNG and PDF.

    Notes
    -----
    Panels (a) and (b) *pool* all scenarios of all test days of a method into one
    sample: that is the method's unconditional (mixture) predictive distribution over the
    test period, compared with the unconditional distribution of the realised returns
    on the same days (the union of the methods' dates). Pooling is done with the raw
    returns, no standardisation. It shows whether the tails are heavy enough *on
    average*; it does not show whether any single day's forecast is right — a method
    can match the pooled distribution while being too wide in calm days and too narrow
    in crashes. Panel (c) is the daily check: the PIT ``u_t = F_t(r_t)`` of each realised
    return within that day's scenarios (:func:`pit_values`) is uniform for calibrated
    forecasts; the grey band is the 95 % binomial range of a bin's height under
    uniformity and the title gives the Kolmogorov–Smirnov p-value (approximate, since
    the empirical CDF of N scenarios is discrete). Density bins are normalised by the
    full sample (points beyond the plotted range still count) and empty bins are not
    drawn on the log axis.
    """
    if not scenarios_by_method:
        raise ValueError("scenarios_by_method is empty; expected at least one method")
    if bins < 2 or pit_bins < 2:
        raise ValueError(f"bins and pit_bins must be >= 2, got {bins} and {pit_bins}")
    returns = _realized_series(realized, series)
    data: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    all_dates: list[pd.DatetimeIndex] = []
    for m in sort_methods(scenarios_by_method):
        sset = scenarios_by_method[m]
        if series not in sset.series:
            raise ValueError(
                f"scenarios_by_method[{m!r}] has no series {series!r}; it has {sset.series}"
            )
        scen = np.asarray(sset.for_series(series), dtype=float)
        dates = pd.DatetimeIndex(sset.dates)
        if scen.ndim != 2 or scen.shape[0] != len(dates):
            raise ValueError(
                f"scenarios_by_method[{m!r}] must have (days={len(dates)}, N) scenarios "
                f"for {series!r}, got {scen.shape}"
            )
        data[m] = (scen, _realized_on(returns, dates, f"the {m!r} scenarios"))
        all_dates.append(dates)
    union = all_dates[0]
    for d in all_dates[1:]:
        union = union.union(d)
    realized_all = _realized_on(returns, union, "the scenario sets")
    with matplotlib.rc_context(style_rc()):
        fig = _draw_fig1(data, realized_all, series, bins, pit_bins)
        return save_figure(fig, stem, out_dir)


def _series_frames(
    forecasts: Mapping[str, pd.DataFrame], series: str, columns: Sequence[str]
) -> dict[str, pd.DataFrame]:
    if not forecasts:
        raise ValueError("forecasts is empty; expected at least one method")
    frames = {}
    for m in sort_methods(forecasts):
        frame = _require_frame(
            forecasts[m], ("date", "series", "realized", *columns), f"forecasts[{m!r}]"
        )
        sub = frame.loc[frame["series"] == series, ["date", "realized", *columns]].copy()
        if sub.empty:
            raise ValueError(f"forecasts[{m!r}] has no rows for series {series!r}")
        sub["date"] = pd.to_datetime(sub["date"])
        if sub["date"].duplicated().any():
            raise ValueError(f"forecasts[{m!r}] has duplicate dates for series {series!r}")
        frames[m] = sub.sort_values("date").reset_index(drop=True)
    return frames


def _panel_figure(n_panels: int) -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=(_FIG_WIDTH, 0.9 + 1.45 * n_panels), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax in axes:
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_ylabel("Return (%)")
    return fig, list(axes)


def _draw_fig2(frames: Mapping[str, pd.DataFrame], series: str, alphas: Sequence[float]):
    fig, axes = _panel_figure(len(frames))
    levels = sorted(alphas, reverse=True)
    styles = ("-", "--", ":")
    for ax, (m, f) in zip(axes, frames.items(), strict=True):
        dates = f["date"].to_numpy()
        r = f["realized"].to_numpy(dtype=float)
        color = method_color(m)
        ax.plot(dates, r * 100, color=_REALISED_COLOR, linewidth=0.5, label="Realised return")
        hits = {a: r < f[var_column(a)].to_numpy(dtype=float) for a in levels}
        for i, a in enumerate(levels):
            ax.plot(
                dates,
                f[var_column(a)].to_numpy(dtype=float) * 100,
                color=color,
                linewidth=0.9,
                linestyle=styles[i % len(styles)],
                label=f"VaR {_pct_text(a)}",
            )
        for i, a in enumerate(levels):
            deeper = hits[levels[i + 1]] if i + 1 < len(levels) else np.zeros_like(hits[a])
            mask = hits[a] & ~deeper
            last = i == len(levels) - 1
            ax.scatter(
                dates[mask],
                r[mask] * 100,
                marker="v",
                s=14,
                linewidths=0.6,
                facecolors="black" if last else "none",
                edgecolors="black",
                zorder=3,
                label=(
                    f"Exception at {_pct_text(a)}" if last else f"Exception at {_pct_text(a)} only"
                ),
            )
        n = len(r)
        counts = ", ".join(
            f"{_pct_text(a)}: {int(hits[a].sum())} ({100 * hits[a].mean():.1f}%)" for a in levels
        )
        ax.set_title(f"{method_label(m)} — exceptions {counts} of {n} days")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=7)
    fig.suptitle(f"{series_label(series)}: predicted VaR against realised returns", fontsize=9)
    return fig


def fig2_var_vs_returns(
    forecasts: Mapping[str, pd.DataFrame],
    series: str,
    *,
    alphas: Sequence[float] = (0.05, 0.01),
    out_dir: str | os.PathLike[str] | None = None,
    stem: str = "fig2_var_vs_returns",
) -> tuple[Path, Path]:
    """Figure 2: predicted VaR against realised returns, one panel per method.

    Parameters
    ----------
    forecasts : mapping method → DataFrame
        Forecast tables (``diffrisk.forecasts`` format); uses ``date, series, realized``
        and ``var_05``/``var_01`` (one VaR column per alpha).
    series : str
        The series to plot.
    alphas : sequence of float, default (0.05, 0.01)
        VaR levels drawn (solid, dashed, dotted from the largest alpha down).
    out_dir, stem
        Output folder (default ``reports/figures``) and file stem.

    Returns
    -------
    tuple of Path
        PNG and PDF.

    Notes
    -----
    An exception is ``r_t < VaR_t`` (strict). Hollow triangles mark exceptions of the
    largest alpha only, filled triangles exceptions of the smallest alpha (which are also
    exceptions of the larger ones). The y axis (percent) is shared by all panels.
    """
    frames = _series_frames(forecasts, series, [var_column(a) for a in alphas])
    with matplotlib.rc_context(style_rc()):
        fig = _draw_fig2(frames, series, alphas)
        return save_figure(fig, stem, out_dir)


def _draw_fig3(frames: Mapping[str, pd.DataFrame], series: str, alpha: float) -> Figure:
    fig, axes = _panel_figure(len(frames))
    start, end = COVID_WINDOW
    v_col, c_col = var_column(alpha), cvar_column(alpha)
    for ax, (m, f) in zip(axes, frames.items(), strict=True):
        dates = f["date"].to_numpy()
        r = f["realized"].to_numpy(dtype=float)
        v = f[v_col].to_numpy(dtype=float)
        c = f[c_col].to_numpy(dtype=float)
        in_covid = (f["date"] >= start).to_numpy() & (f["date"] <= end).to_numpy()
        if in_covid.any():
            ax.axvspan(start, end, color="0.9", linewidth=0, zorder=0, label="COVID-19 window")
        ax.plot(dates, r * 100, color=_REALISED_COLOR, linewidth=0.5, label="Realised return")
        ax.fill_between(
            dates,
            v * 100,
            c * 100,
            color=method_color(m),
            alpha=0.45,
            linewidth=0,
            label=f"VaR–CVaR band ({_pct_text(alpha)})",
        )
        exceed = r < v
        beyond = r < c
        ax.scatter(
            dates[exceed & ~beyond],
            r[exceed & ~beyond] * 100,
            marker="o",
            s=12,
            facecolors="none",
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
            label="Exceedance (r < VaR)",
        )
        ax.scatter(
            dates[beyond],
            r[beyond] * 100,
            marker="D",
            s=16,
            color="black",
            zorder=4,
            label="Beyond CVaR (r < CVaR)",
        )
        covid_text = (
            f"; {int((exceed & in_covid).sum())} in the COVID-19 window" if in_covid.any() else ""
        )
        ax.set_title(
            f"{method_label(m)} — {int(exceed.sum())} exceedances ({100 * exceed.mean():.1f}%),"
            f" {int(beyond.sum())} beyond CVaR{covid_text}"
        )
    handles: dict[str, Any] = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if not lab.startswith("VaR–CVaR"):
                handles.setdefault(lab, h)
    fig.legend(
        list(handles.values()), list(handles), loc="outside lower center", ncols=4, fontsize=7
    )
    fig.suptitle(
        f"{series_label(series)}: VaR-to-CVaR band at {_pct_text(alpha)} and exceedances",
        fontsize=9,
    )
    return fig


def fig3_cvar_exceedances(
    forecasts: Mapping[str, pd.DataFrame],
    series: str,
    *,
    alpha: float = 0.01,
    out_dir: str | os.PathLike[str] | None = None,
    stem: str = "fig3_cvar_exceedances",
) -> tuple[Path, Path]:
    """Figure 3: VaR-to-CVaR band per method, exceedances, the COVID-19 window shaded.

    Parameters
    ----------
    forecasts : mapping method → DataFrame
        Forecast tables; uses ``date, series, realized`` and the VaR/CVaR columns of
        ``alpha`` (e.g. ``var_01, cvar_01``).
    series : str
        The series to plot.
    alpha : float, default 0.01
        Tail probability of the band.
    out_dir, stem
        Output folder (default ``reports/figures``) and file stem.

    Returns
    -------
    tuple of Path
        PNG and PDF.

    Notes
    -----
    The band runs from VaR down to CVaR (both returns, CVaR <= VaR). Hollow circles are
    exceedances ``CVaR_t <= r_t < VaR_t``; filled diamonds are returns beyond the CVaR
    (``r_t < CVaR_t``), the losses the CVaR forecast did not cover even on average. The
    window :data:`COVID_WINDOW` is shaded when it falls in the plotted period.
    """
    frames = _series_frames(forecasts, series, [var_column(alpha), cvar_column(alpha)])
    with matplotlib.rc_context(style_rc()):
        fig = _draw_fig3(frames, series, alpha)
        return save_figure(fig, stem, out_dir)


def _realized_from_forecasts(forecasts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    parts = [
        _require_frame(f, ("date", "series", "realized"), f"forecasts[{m!r}]")[
            ["date", "series", "realized"]
        ]
        for m, f in forecasts.items()
    ]
    long = pd.concat(parts, ignore_index=True)
    long["date"] = pd.to_datetime(long["date"])
    long = long.drop_duplicates()
    if long.duplicated(["date", "series"]).any():
        row = long.loc[long.duplicated(["date", "series"])].iloc[0]
        raise ValueError(
            f"forecast tables disagree on the realised return of {row['series']!r} on "
            f"{pd.Timestamp(row['date']).date()}"
        )
    return long


def write_paper_figures(
    forecasts: Mapping[str, pd.DataFrame],
    scenarios_by_method: Mapping[str, ScenarioSet],
    *,
    series: Sequence[str] = ("portfolio",),
    fig3_alpha: float = 0.01,
    out_dir: str | os.PathLike[str] | None = None,
) -> dict[str, tuple[Path, Path]]:
    """Write Figures 1–3 for each series (the ``figures`` stage's single call).

    Parameters
    ----------
    forecasts : mapping method → DataFrame
        Forecast tables of every method for Figures 2 and 3; their ``realized`` column
        (which must agree across methods) is the realised series of Figure 1.
    scenarios_by_method : mapping method → ScenarioSet
        Scenario sets for Figure 1 (the paper: ``ddpm``, ``mc_normal``, ``hs``).
    series : sequence of str, default ("portfolio",)
        The first series gets the canonical file names (``fig1_distribution`` …); each
        further series gets ``<stem>_<series>``.
    fig3_alpha : float, default 0.01
        Tail probability of Figure 3's band.
    out_dir : path-like, optional
        Default ``reports/figures``.

    Returns
    -------
    dict
        File stem → (PNG, PDF).
    """
    if not series:
        raise ValueError("series must name at least one series")
    realized = _realized_from_forecasts(forecasts)
    written: dict[str, tuple[Path, Path]] = {}
    for i, s in enumerate(series):
        suffix = "" if i == 0 else f"_{s}"
        stems = [f"{stem}{suffix}" for stem in FIGURE_STEMS]
        written[stems[0]] = fig1_distribution(
            realized, scenarios_by_method, s, out_dir=out_dir, stem=stems[0]
        )
        written[stems[1]] = fig2_var_vs_returns(forecasts, s, out_dir=out_dir, stem=stems[1])
        written[stems[2]] = fig3_cvar_exceedances(
            forecasts, s, alpha=fig3_alpha, out_dir=out_dir, stem=stems[2]
        )
    return written


# --------------------------------------------------------------------------------------
# The study report
# --------------------------------------------------------------------------------------


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _level_text(level: float) -> str:
    return f"{100 * level:g}%"


def _fz0_paragraph(
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    dm: Mapping[tuple[Any, ...], Mapping[str, Any]],
    s: str,
    a: float,
    methods: Sequence[str],
    level: float,
) -> tuple[str, str | None, bool]:
    """Sentence on the lowest mean FZ0; returns (text, winner, significant vs FHS)."""
    ak = _alpha_key(a)
    fz = {m: _value(rows, (s, m, ak), "fz0_mean") for m in methods}
    fz = {m: v for m, v in fz.items() if np.isfinite(v)}
    if not fz:
        return "No FZ0 results.", None, False
    ranked = sorted(fz, key=lambda m: (fz[m], _method_rank(m)))
    best = ranked[0]
    text = f"Lowest mean FZ0 loss: {method_label(best)} ({fz[best]:.4f})"
    if len(ranked) > 1:
        text += f"; next {method_label(ranked[1])} ({fz[ranked[1]]:.4f})"
    text += "."
    significant = False
    bench = method_label(BENCHMARK)
    if best == BENCHMARK:
        text += (
            f" {bench} is the Diebold–Mariano benchmark itself: no method has a lower mean "
            "FZ0 loss here."
        )
    elif BENCHMARK not in fz:
        text += f" There are no {bench} results, so no Diebold–Mariano comparison."
    else:
        rec = dm.get((s, best, ak, BENCHMARK))
        p = _value(dm, (s, best, ak, BENCHMARK), "dm_p") if rec else math.nan
        if not np.isfinite(p):
            text += f" No Diebold–Mariano result against {bench} is available for it."
        else:
            significant = p < level
            stat = _value(dm, (s, best, ak, BENCHMARK), "dm_stat")
            text += (
                f" Its advantage over {bench} (FZ0 {fz[BENCHMARK]:.4f}) is "
                f"{'' if significant else 'not '}significant at the {_level_text(level)} "
                f"level by the Diebold–Mariano test (DM = {stat:.2f}, {_p_text(p)})."
            )
    return text, best, significant


def _pass_fail(
    name: str,
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    key: Callable[[str], tuple[Any, ...]],
    column: str,
    methods: Sequence[str],
    level: float,
) -> str:
    pvals = {m: _value(rows, key(m), column) for m in methods}
    passed = [method_label(m) for m in methods if np.isfinite(pvals[m]) and pvals[m] >= level]
    failed = [method_label(m) for m in methods if np.isfinite(pvals[m]) and pvals[m] < level]
    absent = [method_label(m) for m in methods if not np.isfinite(pvals[m])]
    lv = f"{level:g}"
    if passed and failed:
        text = (
            f"{name}: passed (p ≥ {lv}) by {_join(passed)}; rejected (p < {lv}) for "
            f"{_join(failed)}."
        )
    elif passed:
        text = f"{name}: passed (p ≥ {lv}) by every method tested."
    elif failed:
        text = f"{name}: rejected (p < {lv}) for every method tested."
    else:
        text = f"{name}: no results."
    if absent and (passed or failed):
        text += f" Not available for {_join(absent)}."
    return text


def _coverage_paragraph(
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    s: str,
    a: float,
    methods: Sequence[str],
    level: float,
) -> str:
    ak = _alpha_key(a)
    rates = {m: _value(rows, (s, m, ak), "exception_rate") for m in methods}
    rates = {m: v for m, v in rates.items() if np.isfinite(v)}
    parts = []
    if rates:
        listing = "; ".join(f"{method_label(m)} {100 * v:.2f}%" for m, v in rates.items())
        closest = min(rates, key=lambda m: (abs(rates[m] - a), _method_rank(m)))
        parts.append(
            f"Exception rates against the nominal {_pct_text(a)}: {listing}. Closest to "
            f"nominal: {method_label(closest)} ({100 * rates[closest]:.2f}%)."
        )

    def key(m: str) -> tuple[Any, ...]:
        return (s, m, ak)

    parts.append(_pass_fail("Kupiec test", rows, key, "kupiec_p", methods, level))
    parts.append(
        _pass_fail("Christoffersen independence", rows, key, "christoffersen_ind_p", methods, level)
    )
    parts.append(
        _pass_fail(
            "Christoffersen conditional coverage",
            rows,
            key,
            "christoffersen_cc_p",
            methods,
            level,
        )
    )
    parts.append(
        _pass_fail("Acerbi–Szekely Z2 test of the CVaR", rows, key, "as_z2_p", methods, level)
    )
    return " ".join(parts)


def _cvar_claim_paragraph(
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
    s: str,
    a: float,
    methods: Sequence[str],
) -> str | None:
    ak = _alpha_key(a)
    refs = [m for m in ("hs", "mc_normal") if m in methods]
    ddpms = [m for m in methods if is_ddpm(m)]
    if not ddpms or not refs:
        return None
    sentences = []
    for d in ddpms:
        c_d = _value(rows, (s, d, ak), "avg_cvar")
        c_ref = {m: _value(rows, (s, m, ak), "avg_cvar") for m in refs}
        if not np.isfinite(c_d) or not all(np.isfinite(v) for v in c_ref.values()):
            continue
        deeper = [method_label(m) for m in refs if c_d < c_ref[m]]
        shallower = [method_label(m) for m in refs if c_d >= c_ref[m]]
        listing = " and ".join(f"{method_label(m)} {100 * c_ref[m]:.2f}%" for m in refs)
        relation = []
        if deeper:
            relation.append(f"deeper than {_join(deeper)}")
        if shallower:
            relation.append(f"not deeper than {_join(shallower)}")
        verdict = (
            "holds" if not shallower else ("does not hold" if not deeper else "holds only in part")
        )
        text = (
            f"{method_label(d)}: average CVaR {100 * c_d:.2f}% against {listing}, "
            f"{' but '.join(relation)}; the paper's claim of a deeper CVaR than Historical "
            f"Simulation and Monte Carlo {verdict} here."
        )
        z2, z2_p = _value(rows, (s, d, ak), "as_z2"), _value(rows, (s, d, ak), "as_z2_p")
        rate = _value(rows, (s, d, ak), "exception_rate")
        if np.isfinite(rate):
            text += f" Its VaR exception rate is {100 * rate:.2f}% (nominal {_pct_text(a)})"
            if np.isfinite(z2) and np.isfinite(z2_p):
                text += f" and its Acerbi–Szekely Z2 = {z2:.2f} ({_p_text(z2_p)})"
            text += "."
        sentences.append(text)
    return " ".join(sentences) if sentences else None


def study_discussion(
    backtests: pd.DataFrame,
    dm_table: pd.DataFrame | None = None,
    *,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
    level: float = 0.05,
) -> str:
    """The discussion section of ``STUDY.md``, every sentence computed from the tables.

    For each series and alpha: the method with the lowest mean FZ0 loss and whether its
    advantage over Filtered HS is significant by the Diebold–Mariano test at ``level``
    (the comparison uses the ``fz0_mean`` ordering of ``backtests`` and the two-sided
    ``dm_p`` of ``dm_table``); exception rates against the nominal rate; which methods
    pass the Kupiec, Christoffersen (independence, conditional coverage) and
    Acerbi–Szekely tests at ``level``; and how each DDPM configuration's average CVaR
    compares with Historical Simulation and Monte Carlo (the source paper's claim).

    Parameters
    ----------
    backtests : DataFrame
        Uses ``series, method, alpha, exception_rate, avg_cvar, kupiec_p,
        christoffersen_ind_p, christoffersen_cc_p, as_z2, as_z2_p, fz0_mean``.
    dm_table : DataFrame, optional
        As in :func:`extended_table`.
    series, alphas
        As in :func:`table1_cvar`.
    level : float, default 0.05
        Significance level of every test.

    Returns
    -------
    str
        Markdown, one ``###`` section per (series, alpha) after a summary paragraph.
    """
    cols = (
        "exception_rate",
        "avg_cvar",
        "kupiec_p",
        "christoffersen_ind_p",
        "christoffersen_cc_p",
        "as_z2",
        "as_z2_p",
        "fz0_mean",
    )
    rows, chosen = _prepare_backtests(backtests, cols, series)
    dm = _normalise_dm_table(dm_table) if dm_table is not None else {}
    sections = []
    n_cells = n_ddpm_best = n_ddpm_sig = 0
    for s in chosen:
        methods = _methods_of(backtests, s)
        for a in alphas:
            fz_text, best, significant = _fz0_paragraph(rows, dm, s, a, methods, level)
            n_cells += 1
            if best is not None and is_ddpm(best):
                n_ddpm_best += 1
                n_ddpm_sig += int(significant)
            body = [fz_text, _coverage_paragraph(rows, s, a, methods, level)]
            claim = _cvar_claim_paragraph(rows, s, a, methods)
            if claim:
                body.append(claim)
            sections.append(f"### {series_label(s)}, α = {_pct_text(a)}\n\n" + "\n\n".join(body))
    summary = (
        f"A diffusion-model configuration has the lowest mean FZ0 loss in {n_ddpm_best} of "
        f"the {n_cells} (series, α) cases; in {n_ddpm_sig} of them its advantage over "
        f"{method_label(BENCHMARK)} is significant at the {_level_text(level)} level by "
        "the Diebold–Mariano test. FZ0 is the Fissler–Ziegel joint VaR/CVaR loss (lower "
        "is better); a deeper average CVaR is only better if the tests of the CVaR and "
        "the FZ0 loss agree."
    )
    return summary + "\n\n" + "\n\n".join(sections) + "\n"


_PROVENANCE_ITEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Raw data SHA-256", ("data_hash", "data_sha256", "raw_sha256", "prices_sha256", "sha256")),
    ("Git revision", ("git_revision", "git_rev", "git_commit", "git")),
    ("Package version", ("package_version", "diffrisk_version", "version")),
    ("Generated (UTC)", ("timestamp_utc", "utc_timestamp", "created_utc", "timestamp")),
    ("Seed", ("seed",)),
)


def _provenance_block(provenance: Mapping[str, Any]) -> str:
    used: set[str] = set()
    lines = ["| Item | Value |", "| --- | --- |"]
    for label, aliases in _PROVENANCE_ITEMS:
        key = next((k for k in aliases if k in provenance), None)
        if key is None:
            value = "not recorded"
        else:
            used.add(key)
            value = f"`{provenance[key]}`"
        lines.append(f"| {label} | {value} |")
    nested = {}
    for key in sorted(provenance):
        if key in used:
            continue
        value = provenance[key]
        if isinstance(value, Mapping | list | tuple):
            nested[key] = value
        else:
            lines.append(f"| {key} | `{value}` |")
    text = "\n".join(lines)
    for key, value in nested.items():
        dumped = json.dumps(value, indent=2, sort_keys=True, default=str)
        text += f"\n\n`{key}`:\n\n```json\n{dumped}\n```"
    return text


def _relative_link(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def write_study_report(
    backtests: pd.DataFrame,
    provenance: Mapping[str, Any],
    dm_table: pd.DataFrame | None = None,
    *,
    out_path: str | os.PathLike[str] | None = None,
    tables_dir: str | os.PathLike[str] | None = None,
    figures_dir: str | os.PathLike[str] | None = None,
    tables: Sequence[str] = TABLE_STEMS,
    figures: Sequence[str] = FIGURE_STEMS,
    notebooks_html: Sequence[str | os.PathLike[str]] = (),
    test_period: tuple[Any, Any] | None = None,
    series: Sequence[str] | None = None,
    alphas: Sequence[float] = (0.05, 0.01),
    level: float = 0.05,
) -> Path:
    """Write ``reports/STUDY.md`` from the pipeline's outputs.

    Parameters
    ----------
    backtests : DataFrame
        ``reports/tables/backtests.csv`` (see :func:`study_discussion` for the columns).
    provenance : mapping
        The provenance record (e.g. from ``diffrisk.audit``): raw-data hash
        (``data_hash``/``data_sha256``/``raw_sha256``…), ``git_revision``,
        ``package_version``, ``timestamp_utc``, ``seed``; nested values such as
        ``params`` are shown as JSON. Missing items show as "not recorded".
    dm_table : DataFrame, optional
        Diebold–Mariano results (see :func:`extended_table`).
    out_path : path-like, optional
        Default ``reports/STUDY.md``.
    tables_dir, figures_dir : path-like, optional
        Where the ``<stem>.md`` tables and ``<stem>.png``/``.pdf`` figures are; default
        ``reports/tables`` and ``reports/figures``.
    tables, figures : sequence of str
        Stems to inline / link, in order; each must exist.
    notebooks_html : sequence of path-like
        HTML renderings (from :func:`render_notebooks_html`) to link.
    test_period : (start, end), optional
        Shown in the text.
    series, alphas, level
        As in :func:`study_discussion`.

    Returns
    -------
    Path
        The report.

    Raises
    ------
    FileNotFoundError
        If a listed table, figure or notebook file does not exist.
    """
    out = Path(out_path) if out_path is not None else paths.reports_dir() / "STUDY.md"
    tdir = Path(tables_dir) if tables_dir is not None else paths.tables_dir()
    fdir = Path(figures_dir) if figures_dir is not None else paths.figures_dir()
    table_texts = []
    for stem in tables:
        path = tdir / f"{stem}.md"
        if not path.is_file():
            raise FileNotFoundError(f"table {stem!r}: {path} does not exist (write it first)")
        table_texts.append(path.read_text(encoding="utf-8").strip())
    figure_links = []
    for stem in figures:
        png, pdf = fdir / f"{stem}.png", fdir / f"{stem}.pdf"
        for p in (png, pdf):
            if not p.is_file():
                raise FileNotFoundError(f"figure {stem!r}: {p} does not exist (write it first)")
        caption = _FIGURE_CAPTIONS.get(stem, stem)
        figure_links.append(
            f"![{caption}]({_relative_link(png, out.parent)})\n\n"
            f"{caption} ([PDF]({_relative_link(pdf, out.parent)}))"
        )
    notebook_links = []
    for nb in notebooks_html:
        nb_path = Path(nb)
        if not nb_path.is_file():
            raise FileNotFoundError(f"notebook rendering {nb_path} does not exist")
        notebook_links.append(f"- [{nb_path.stem}]({_relative_link(nb_path, out.parent)})")

    discussion = study_discussion(backtests, dm_table, series=series, alphas=alphas, level=level)
    chosen = _select_series(backtests, series, "backtests")
    methods = sort_methods(backtests.loc[backtests["series"].isin(chosen), "method"])
    n_obs = pd.to_numeric(backtests.loc[backtests["series"].isin(chosen), "n_obs"], errors="coerce")
    period = (
        f"the test period {pd.Timestamp(test_period[0]).date()} – "
        f"{pd.Timestamp(test_period[1]).date()}"
        if test_period is not None
        else "the test period"
    )
    days = (
        f"{int(n_obs.min())} trading days"
        if n_obs.notna().any() and n_obs.min() == n_obs.max()
        else f"{int(n_obs.min())}–{int(n_obs.max())} trading days"
        if n_obs.notna().any()
        else "every trading day"
    )
    levels = " and ".join(_pct_text(a) for a in alphas)
    what = (
        f"For each of the {days} of {period}, every method forecast the one-day-ahead "
        f"distribution of the daily log return of {_join([series_label(s) for s in chosen])} "
        "using data up to the previous day only, and from it the Value-at-Risk (the "
        f"α-quantile) and the CVaR (the mean return at or below the VaR) at α = {levels}. "
        f"Methods: {_join([method_label(m) for m in methods])}. The realised returns then "
        "scored every method: VaR exceptions (r_t < VaR_t) with the Kupiec and "
        "Christoffersen tests and the Basel traffic light, the CVaR with the "
        "Acerbi–Szekely Z2 test, both jointly with the Fissler–Ziegel FZ0 loss, compared "
        f"against {method_label(BENCHMARK)} with the Diebold–Mariano test.\n\n"
        "Conventions: returns are log returns; VaR and CVaR are returns, so negative "
        "numbers are losses; α is the tail probability; tables are in percent."
    )
    parts = [
        "# Diffusion-model VaR and CVaR: study report",
        "_Generated by `diffrisk.reports.write_study_report` from the pipeline outputs: every "
        "number and every sentence of the discussion is computed from the tables. Do not "
        "edit by hand._",
        "## What was done",
        what,
        "## Results",
        "\n\n".join(table_texts) if table_texts else "No tables.",
        "## Figures",
        "\n\n".join(figure_links) if figure_links else "No figures.",
        "## Discussion",
        discussion.strip(),
    ]
    if notebook_links:
        parts += ["## Executed notebooks", "\n".join(notebook_links)]
    parts += ["## Provenance", _provenance_block(provenance)]
    path = io.write_text(out, "\n\n".join(parts) + "\n")
    logger.info("wrote study report %s", path)
    return path


_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
"""


def render_notebooks_html(
    executed_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Render every executed notebook (``*.ipynb``) of a folder to self-contained HTML.

    Parameters
    ----------
    executed_dir : path-like
        Folder of executed notebooks (``reports/notebooks``).
    out_dir : path-like
        Folder for ``<name>.html``.

    Returns
    -------
    list of Path
        The HTML files, in name order.

    Notes
    -----
    Uses nbconvert's ``HTMLExporter`` with the ``lab`` template minus the blocks that load
    require.js, MathJax, Mermaid and the widget renderer from a CDN: the pages load
    nothing remote (equations show as TeX source), images are embedded as data URIs, and
    the conversion needs no network.
    """
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    src = Path(executed_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"executed_dir {src} is not a folder")
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no executed notebooks (*.ipynb) in {src}")
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"diffrisk_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="diffrisk_offline.html.j2",
        embed_images=True,
    )
    written = []
    for nb_path in notebooks:
        try:
            node = nbformat.read(nb_path, as_version=4)
        except Exception as exc:  # nbformat raises several unrelated types
            raise ValueError(f"cannot read notebook {nb_path}: {exc}") from exc
        body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": nb_path.stem}})
        written.append(io.write_text(Path(out_dir) / f"{nb_path.stem}.html", body))
    logger.info("rendered %d notebooks to %s", len(written), out_dir)
    return written
