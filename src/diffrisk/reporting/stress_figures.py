"""Figures of the stress scenario sets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.dependence import correlation_matrix, lower_tail_dependence
from diffrisk.evaluation.paths.temporal import path_autocorrelation
from diffrisk.reporting.style import save_figure, style_rc
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stress.archetypes import Archetype, CrisisWindow
from diffrisk.stress.config import GENERATORS, UNCONDITIONAL

# --------------------------------------------------------------------------- figures
_GEN_COLORS = {
    "diffusion": "#c0392b",
    "normal": "#7f8c8d",
    "bootstrap": "#2980b9",
    "historical": "#000000",
}


def _figure(n_rows: int, n_cols: int, height: float = 2.4) -> tuple[Any, NDArray[Any]]:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(style_rc()):
        fig = Figure(figsize=(7.0, height * n_rows), layout="constrained")
        axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    return fig, axes


def figure_corr_heatmaps(
    panels: Sequence[tuple[str, NDArray[np.floating]]], assets: Sequence[str], n_cols: int = 4
) -> Any:
    """Correlation heat maps, one panel per (title, paths or days) in ``panels``."""
    n_rows = math.ceil(len(panels) / n_cols)
    fig, axes = _figure(n_rows, n_cols, height=2.0)
    image = None
    for ax, (title, data_) in zip(axes.ravel(), panels, strict=False):
        image = ax.imshow(correlation_matrix(data_), vmin=-0.2, vmax=1.0, cmap="viridis")
        ax.set_title(title, fontsize=7)
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks(range(len(assets)), labels=list(assets), fontsize=4)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.7, label="correlation")
    return fig


def figure_tail_dependence(
    panels: Sequence[tuple[str, NDArray[np.floating], NDArray[np.floating]]], q: float = 0.05
) -> Any:
    """Pairwise lower-tail dependence λ(q): generated (y) against historical (x)."""
    fig, axes = _figure(1, len(panels), height=2.5)
    for ax, (title, gen, ref) in zip(axes.ravel(), panels, strict=True):
        i, j = np.triu_indices(gen.shape[-1], k=1)
        x, y = lower_tail_dependence(ref, q)[i, j], lower_tail_dependence(gen, q)[i, j]
        ax.scatter(x, y, s=4, alpha=0.6, color=_GEN_COLORS.get(title.split()[0], "C0"))
        ax.plot([0, 1], [0, 1], color="k", lw=0.6)
        ax.set_title(f"{title}\nmean |Δλ| = {np.mean(np.abs(x - y)):.3f}", fontsize=7)
        ax.set_xlabel(f"historical λ({q:g})")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes.ravel()[0].set_ylabel(f"generated λ({q:g})")
    return fig


def figure_fan_charts(
    panels: Sequence[tuple[str, NDArray[np.floating], NDArray[np.floating] | None]],
) -> Any:
    """Fan charts of the equal-weighted portfolio's cumulative return per archetype.

    Each panel: 5–95 % and 25–75 % bands and the median of the diffusion paths, with the
    realised crisis path (black) when the archetype comes from a historical window.
    """
    n_cols = min(3, len(panels))
    fig, axes = _figure(math.ceil(len(panels) / n_cols), n_cols, height=2.2)
    for ax, (title, paths_, realised) in zip(axes.ravel(), panels, strict=False):
        cum = np.cumsum(portfolio_log_returns(paths_), axis=1) * 100
        days = np.arange(1, cum.shape[1] + 1)
        q = np.percentile(cum, [5, 25, 50, 75, 95], axis=0)
        ax.fill_between(days, q[0], q[4], color=_GEN_COLORS["diffusion"], alpha=0.2, lw=0)
        ax.fill_between(days, q[1], q[3], color=_GEN_COLORS["diffusion"], alpha=0.35, lw=0)
        ax.plot(days, q[2], color=_GEN_COLORS["diffusion"], lw=1)
        if realised is not None:
            ax.plot(
                days,
                np.cumsum(portfolio_log_returns(realised)) * 100,
                color="k",
                lw=1,
                label="realised",
            )
            ax.legend(fontsize=6)
        ax.set_title(title, fontsize=7)
        ax.set_xlabel("day")
    axes.ravel()[0].set_ylabel("cumulative log return (%)")
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    return fig


def figure_acf(series: Sequence[tuple[str, NDArray[np.floating]]], max_lag: int) -> Any:
    """ACF of returns and of |returns| (mean over assets), lags 1..L, pairs within paths."""
    fig, axes = _figure(1, 2, height=2.6)
    lags = np.arange(1, max_lag + 1)
    for name, paths_ in series:
        color = _GEN_COLORS.get(name.split()[0], None)
        style = "-" if not name.startswith("historical") else "--"
        for ax, absolute in zip(axes.ravel(), (False, True), strict=True):
            acf = np.nanmean(path_autocorrelation(paths_, max_lag, absolute=absolute), axis=0)
            ax.plot(lags, acf, style, marker="o", ms=3, color=color, label=name)
    axes[0, 0].set_title("ACF of returns (mean over assets)")
    axes[0, 1].set_title("ACF of |returns| (volatility clustering)")
    for ax in axes.ravel():
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("lag (days)")
    axes[0, 1].legend(fontsize=6)
    return fig


def write_stress_figures(
    sets: Mapping[tuple[str, str], tuple[NDArray, dict]],
    archetypes: Sequence[Archetype],
    references: Mapping[str, tuple],
    windows: Sequence[CrisisWindow],
    returns: pd.DataFrame,
    h: int,
    out_dir: Path | None = None,
) -> dict[str, tuple[Path, Path]]:
    """Write the stress study's figures (png + pdf) and return their paths by stem.

    ``stress_corr_heatmaps`` (the historical test period and every generator's
    unconditional set, then each crisis window beside the sets of the archetype whose
    window contains it), ``stress_tail_dependence`` and ``stress_acf`` (unconditional sets
    against the test period ``references["test"]``), ``stress_fan_charts`` (the diffusion
    set of every archetype, with the realised path after its ``as_of`` where the returns
    hold one). ``sets`` maps (generator, archetype) to (paths, metadata); ``references``
    maps a name to (returns window, label); ``h`` is the horizon in days; ``out_dir`` the
    folder (default :func:`diffrisk.core.paths.figures_dir`).
    """
    assets = list(returns.columns)
    test = references["test"][0].to_numpy()
    has_unc = ("diffusion", UNCONDITIONAL) in sets
    panels: list[tuple[str, NDArray]] = []
    if has_unc:
        panels += [("historical test", test)] + [
            (f"{g} unconditional", sets[(g, UNCONDITIONAL)][0]) for g in GENERATORS
        ]
    for w in windows:
        match = [a for a in archetypes if a.window and a.window[0] <= w.first <= a.window[1]]
        if match:
            panels += [(f"historical {w.name}", references[w.name][0].to_numpy())] + [
                (f"{g} {match[0].name}", sets[(g, match[0].name)][0]) for g in GENERATORS
            ]
    figures = {}
    if panels:
        figures["stress_corr_heatmaps"] = figure_corr_heatmaps(panels, assets)
    if has_unc:
        figures["stress_tail_dependence"] = figure_tail_dependence(
            [(f"{g} unconditional", sets[(g, UNCONDITIONAL)][0], test) for g in GENERATORS]
        )
        lag = min(5, h - 1)
        figures["stress_acf"] = figure_acf(
            [("historical test", historical_paths(test, h))]
            + [(f"{g} unconditional", sets[(g, UNCONDITIONAL)][0]) for g in GENERATORS],
            lag,
        )
    fans = []
    for arch in archetypes:
        realised = None
        if arch.window and arch.as_of:
            start = returns.index.searchsorted(pd.Timestamp(arch.as_of))
            block = returns.iloc[start : start + h]
            realised = block.to_numpy()[None] if len(block) == h else None
        fans.append((arch.name, sets[("diffusion", arch.name)][0], realised))
    figures["stress_fan_charts"] = figure_fan_charts(fans)
    return {stem: save_figure(fig, stem, out_dir) for stem, fig in figures.items()}
