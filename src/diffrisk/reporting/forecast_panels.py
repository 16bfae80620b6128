"""Figures 2 and 3 of the paper drawn: one panel per method of its forecasts over the period.

Both figures plot the realised returns of one series against each method's forecasts, a
panel per method in report order (:func:`~diffrisk.reporting.style.sort_methods`) on a
shared return axis: Figure 2 the VaR of every level and its exceptions, Figure 3 the
VaR-to-CVaR band and the returns beyond it. The functions return matplotlib figures;
:mod:`diffrisk.reporting.paper_figures` saves them under the paper style.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.reporting.formatting import window_label
from diffrisk.reporting.paper_tables import require_frame
from diffrisk.reporting.style import (
    FIG_WIDTH,
    REALISED_COLOR,
    method_color,
    method_label,
    pct_text,
    series_label,
    sort_methods,
)

__all__ = ["draw_fig2", "draw_fig3"]


def _series_frames(
    forecasts: Mapping[str, pd.DataFrame], series: str, columns: Sequence[str]
) -> dict[str, pd.DataFrame]:
    if not forecasts:
        raise ValueError("forecasts is empty; expected at least one method")
    frames = {}
    for m in sort_methods(forecasts):
        frame = require_frame(
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
    fig = Figure(figsize=(FIG_WIDTH, 0.9 + 1.45 * n_panels), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax in axes:
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_ylabel("Return (%)")
    return fig, list(axes)


def draw_fig2(
    forecasts: Mapping[str, pd.DataFrame], series: str, alphas: Sequence[float] = (0.05, 0.01)
) -> Figure:
    """Figure 2 as a matplotlib ``Figure``.

    :func:`~diffrisk.reporting.paper_figures.fig2_var_vs_returns` saves it.

    One panel per method (report order): the realised returns, the VaR of every alpha and
    the exceptions, counted in each panel's title.

    Parameters
    ----------
    forecasts, series, alphas
        As for :func:`~diffrisk.reporting.paper_figures.fig2_var_vs_returns`.

    Returns
    -------
    Figure
    """
    frames = _series_frames(forecasts, series, [var_column(a) for a in alphas])
    fig, axes = _panel_figure(len(frames))
    levels = sorted(alphas, reverse=True)
    styles = ("-", "--", ":")
    for ax, (m, f) in zip(axes, frames.items(), strict=True):
        dates = f["date"].to_numpy()
        r = f["realized"].to_numpy(dtype=float)
        color = method_color(m)
        ax.plot(dates, r * 100, color=REALISED_COLOR, linewidth=0.5, label="Realised return")
        hits = {a: r < f[var_column(a)].to_numpy(dtype=float) for a in levels}
        for i, a in enumerate(levels):
            ax.plot(
                dates,
                f[var_column(a)].to_numpy(dtype=float) * 100,
                color=color,
                linewidth=0.9,
                linestyle=styles[i % len(styles)],
                label=f"VaR {pct_text(a)}",
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
                    f"Exception at {pct_text(a)}" if last else f"Exception at {pct_text(a)} only"
                ),
            )
        n = len(r)
        counts = ", ".join(
            f"{pct_text(a)}: {int(hits[a].sum())} ({100 * hits[a].mean():.1f}%)" for a in levels
        )
        ax.set_title(f"{method_label(m)} — exceptions {counts} of {n} days")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=7)
    fig.suptitle(f"{series_label(series)}: predicted VaR against realised returns", fontsize=9)
    return fig


def draw_fig3(
    forecasts: Mapping[str, pd.DataFrame],
    series: str,
    alpha: float = 0.01,
    window: tuple[Any, Any] | None = None,
) -> Figure:
    """Figure 3 as a matplotlib ``Figure``.

    :func:`~diffrisk.reporting.paper_figures.fig3_cvar_exceedances` saves it.

    One panel per method (report order); each panel's title counts the exceedances, the
    returns beyond the CVaR and, when ``window`` falls in the plotted period, the
    exceedances inside it.

    Parameters
    ----------
    forecasts, series, alpha, window
        As for :func:`~diffrisk.reporting.paper_figures.fig3_cvar_exceedances`.

    Returns
    -------
    Figure
    """
    if window is not None:
        window = (pd.Timestamp(window[0]), pd.Timestamp(window[1]))
        if window[1] < window[0]:
            raise ValueError(
                f"fig3 window: end {window[1].date()} is before start {window[0].date()}"
            )
    frames = _series_frames(forecasts, series, [var_column(alpha), cvar_column(alpha)])
    fig, axes = _panel_figure(len(frames))
    start, end = window if window is not None else (pd.Timestamp.max, pd.Timestamp.min)
    window_name = f"Crash window ({window_label(start, end)})" if window is not None else ""
    v_col, c_col = var_column(alpha), cvar_column(alpha)
    for ax, (m, f) in zip(axes, frames.items(), strict=True):
        dates = f["date"].to_numpy()
        r = f["realized"].to_numpy(dtype=float)
        v = f[v_col].to_numpy(dtype=float)
        c = f[c_col].to_numpy(dtype=float)
        in_window = (f["date"] >= start).to_numpy() & (f["date"] <= end).to_numpy()
        if in_window.any():
            ax.axvspan(start, end, color="0.9", linewidth=0, zorder=0, label=window_name)
        ax.plot(dates, r * 100, color=REALISED_COLOR, linewidth=0.5, label="Realised return")
        ax.fill_between(
            dates,
            v * 100,
            c * 100,
            color=method_color(m),
            alpha=0.45,
            linewidth=0,
            label=f"VaR–CVaR band ({pct_text(alpha)})",
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
        window_text = (
            f"; {int((exceed & in_window).sum())} in the crash window" if in_window.any() else ""
        )
        ax.set_title(
            f"{method_label(m)} — {int(exceed.sum())} exceedances ({100 * exceed.mean():.1f}%),"
            f" {int(beyond.sum())} beyond CVaR{window_text}"
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
        f"{series_label(series)}: VaR-to-CVaR band at {pct_text(alpha)} and exceedances",
        fontsize=9,
    )
    return fig
