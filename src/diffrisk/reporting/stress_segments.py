"""Figure of the segment coverage: relative ES error per segment and variant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.reporting.style import style_rc

_VARIANT_COLORS = {
    "diffusion": "#c0392b",
    "diffusion_stratified": "#e67e22",
    "normal": "#7f8c8d",
    "bootstrap": "#2980b9",
}


def figure_segment_errors(
    table: pd.DataFrame,
    horizon: int,
    variants: Sequence[str] = ("diffusion", "diffusion_stratified"),
    goal_ratio: float = 2.0,
) -> Any:
    """Horizontal bars of the relative ES error of every segment, one bar per variant.

    Parameters
    ----------
    table : DataFrame
        :func:`diffrisk.evaluation.paths.segments.variant_tables`.
    horizon : int
        The horizon (days) shown.
    variants : sequence of str
        Variants drawn (those absent from ``table`` are skipped).
    goal_ratio : float
        A dashed line per variant at ``goal_ratio`` times its median error (the goal).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.figure import Figure

    rows = table[(table["horizon"] == horizon) & table["variant"].isin(list(variants))]
    if rows.empty:
        raise ValueError(f"table has no rows for horizon={horizon} and variants {list(variants)}")
    shown = [v for v in variants if v in set(rows["variant"])]
    segments = list(dict.fromkeys(rows["segment"]))
    kinds = rows.drop_duplicates("segment").set_index("segment")["kind"]
    with matplotlib.rc_context(style_rc()):
        fig = Figure(figsize=(6.0, 0.18 * len(segments) * len(shown) + 1.2))
        ax = fig.add_subplot(1, 1, 1)
        height = 0.8 / len(shown)
        y = np.arange(len(segments))
        for i, variant in enumerate(shown):
            part = rows[rows["variant"] == variant].set_index("segment").reindex(segments)
            color = _VARIANT_COLORS.get(variant, f"C{i}")
            ax.barh(y + i * height, part["es_rel_error"], height=height, color=color, label=variant)
            median = float(part["es_rel_error"].median())
            ax.axvline(goal_ratio * median, color=color, lw=0.8, ls="--")
        ax.set_yticks(y + height * (len(shown) - 1) / 2)
        ax.set_yticklabels(
            [f"{s} (sector)" if kinds[s] == "sector" else s for s in segments], fontsize=6
        )
        ax.invert_yaxis()
        ax.set_xlabel(
            f"relative ES error, {horizon}-day log return (dashed: {goal_ratio:g}× median)"
        )
        ax.legend(fontsize=6, loc="lower right")
        fig.tight_layout()
    return fig
