"""Figure of a reverse stress test: loss attribution and P(loss >= L) per method."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from diffrisk.reporting.style import style_rc

_METHOD_COLORS = {
    "diffusion": "#c0392b",
    "normal": "#7f8c8d",
    "student_t": "#8e44ad",
    "historical": "#2980b9",
}


def figure_reverse_stress(contributions: pd.DataFrame, summary: pd.DataFrame) -> Any:
    """Mean loss contribution per segment and the estimated ``P(loss >= L)`` per method.

    Parameters
    ----------
    contributions : DataFrame
        Rows = methods, columns = segments: the mean loss contribution (fraction of the
        exposure) over each method's reverse-stress set.
    summary : DataFrame
        :func:`diffrisk.stress.reverse_study.reverse_stress_methods`' summary (``method``,
        ``p``, ``p_lower``, ``p_upper``, ``loss_level``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.figure import Figure

    if contributions.empty or summary.empty:
        raise ValueError("nothing to draw: no method returned scenarios")
    methods = list(contributions.index)
    segments = list(contributions.columns)
    with matplotlib.rc_context(style_rc()):
        fig = Figure(figsize=(7.5, 3.0))
        ax, bx = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
        width = 0.8 / len(methods)
        x = np.arange(len(segments))
        for i, m in enumerate(methods):
            color = _METHOD_COLORS.get(m, f"C{i}")
            ax.bar(x + i * width, contributions.loc[m], width=width, color=color, label=m)
        ax.set_xticks(x + width * (len(methods) - 1) / 2)
        ax.set_xticklabels(segments, rotation=45, ha="right", fontsize=6)
        ax.set_ylabel("mean loss contribution")
        ax.legend(fontsize=6)
        rows = summary.set_index("method").reindex(methods)
        p = rows["p"].to_numpy(float)
        err = np.vstack([p - rows["p_lower"].to_numpy(float), rows["p_upper"].to_numpy(float) - p])
        y = np.arange(len(methods))
        for i, m in enumerate(methods):
            bx.errorbar(
                max(p[i], 1e-300),
                i,
                xerr=err[:, i : i + 1],
                fmt="o",
                color=_METHOD_COLORS.get(m, f"C{i}"),
            )
        positive = p[p > 0]
        if positive.size:
            bx.set_xscale("log")
        bx.set_yticks(y)
        bx.set_yticklabels(methods, fontsize=6)
        level = float(summary["loss_level"].iloc[0])
        bx.set_xlabel(f"P(loss ≥ {level:.1%}) with 95 % interval")
        fig.tight_layout()
    return fig
