"""The paper's Figures 1-3 as files (PNG and PDF, under the paper style).

Figure 1 is drawn here; Figures 2 and 3 by :mod:`diffrisk.reporting.forecast_panels`.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import NDArray
from scipy import stats

from diffrisk.core import paths
from diffrisk.forecasts.contract import ScenarioSet
from diffrisk.reporting.forecast_panels import draw_fig2, draw_fig3
from diffrisk.reporting.paper_tables import require_frame
from diffrisk.reporting.style import (
    FIG_WIDTH,
    FIGURE_STEMS,
    REALISED_FILL,
    method_color,
    method_label,
    save_figure,
    series_label,
    sort_methods,
    style_rc,
)
from diffrisk.risk.scoring import pit_values


def _folder(out_dir: str | os.PathLike[str] | None) -> Path:
    """``out_dir``, default :func:`diffrisk.core.paths.paper_figures_dir`."""
    return Path(out_dir) if out_dir is not None else paths.paper_figures_dir()


def _render(
    draw: Callable[[], Figure], stem: str, out_dir: str | os.PathLike[str] | None
) -> tuple[Path, Path]:
    """Draw a figure under the paper style and save it as ``stem`` (PNG and PDF)."""
    with matplotlib.rc_context(style_rc()):
        return save_figure(draw(), stem, _folder(out_dir))


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
    fig = Figure(figsize=(FIG_WIDTH, 5.4), layout="constrained")
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
        color=REALISED_FILL,
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
        with a column ``series`` (as ``diffrisk.data.returns.load_returns``), or a long forecast
        table with columns ``date, series, realized``. Must cover every scenario date.
    scenarios_by_method : mapping method → ScenarioSet
        Predictive scenarios (S × D × N) per method (the paper: ``ddpm``, ``mc_normal``,
        ``hs``); panels follow :data:`METHOD_ORDER`.
    series : str
        The series to plot.
    out_dir, stem
        Output folder (default :func:`diffrisk.core.paths.paper_figures_dir`) and file stem.
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
    return _render(lambda: _draw_fig1(data, realized_all, series, bins, pit_bins), stem, out_dir)


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
    series, out_dir, stem
        As for :func:`fig1_distribution` (which also documents the return value).
    alphas : sequence of float, default (0.05, 0.01)
        VaR levels drawn (solid, dashed, dotted from the largest alpha down).

    Notes
    -----
    An exception is ``r_t < VaR_t`` (strict). Hollow triangles mark exceptions of the
    largest alpha only, filled triangles exceptions of the smallest alpha (which are also
    exceptions of the larger ones). The y axis (percent) is shared by all panels.
    """
    return _render(lambda: draw_fig2(forecasts, series, alphas), stem, out_dir)


def fig3_cvar_exceedances(
    forecasts: Mapping[str, pd.DataFrame],
    series: str,
    *,
    alpha: float = 0.01,
    window: tuple[Any, Any] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    stem: str = "fig3_cvar_exceedances",
) -> tuple[Path, Path]:
    """Figure 3: VaR-to-CVaR band per method, exceedances, a crash window shaded.

    Parameters
    ----------
    forecasts : mapping method → DataFrame
        Forecast tables; uses ``date, series, realized`` and the VaR/CVaR columns of
        ``alpha`` (e.g. ``var_01, cvar_01``).
    series, out_dir, stem
        As for :func:`fig1_distribution` (which also documents the return value).
    alpha : float, default 0.01
        Tail probability of the band.
    window : (start, end), optional
        Dates (inclusive) of a crash window to shade and to count exceedances in (the
        pipeline passes the headline's ``coverage.crash_start`` / ``crash_end``); None:
        no window.

    Notes
    -----
    The band runs from VaR down to CVaR (both returns, CVaR <= VaR). Hollow circles are
    exceedances ``CVaR_t <= r_t < VaR_t``; filled diamonds are returns beyond the CVaR
    (``r_t < CVaR_t``), the losses the CVaR forecast did not cover even on average. The
    window is shaded when it falls in the plotted period.
    """
    return _render(lambda: draw_fig3(forecasts, series, alpha, window), stem, out_dir)


def _realized_from_forecasts(forecasts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    parts = [
        require_frame(f, ("date", "series", "realized"), f"forecasts[{m!r}]")[
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
    crash_window: tuple[Any, Any] | None = None,
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
    crash_window : (start, end), optional
        Figure 3's shaded window (:func:`fig3_cvar_exceedances`).
    out_dir : path-like, optional
        Default :func:`diffrisk.core.paths.paper_figures_dir` (``reports/figures/paper``,
        the ``figures`` stage's directory output).

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
            forecasts, s, alpha=fig3_alpha, window=crash_window, out_dir=out_dir, stem=stems[2]
        )
    return written
